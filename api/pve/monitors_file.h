// The monitors file `kuma sync` keeps in pmxcfs
// (<pve_dir>/priv/pbk-agent/monitors.json: replicated to every node,
// readable by root only): per backup job and node the Kuma monitor's id and
// push token, the job groups, the node monitors, and a digest of the cluster
// (jobs, members, placement) it was made from. Every node's hook and
// refresh take their push tokens from it unless the node's configuration
// names one.
//
// Reading is strict: a file that is there but broken is an error, never an
// empty map, because an empty map would silence every monitor of the cluster.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "agent/core/config.h"
#include "api/pve/backup_job.h"

namespace pbk {

inline constexpr int kMonitorsFileVersion = 1;

struct PushMonitorEntry {
  int monitor_id = 0;
  std::string push_token;
};

struct JobMonitors {
  std::string job_id;  // the job's id when the file was written (legacy ids change)
  std::string name;    // the group's name
  int group_id = 0;    // 0: no group yet
  std::map<std::string, PushMonitorEntry> nodes;  // node -> its push monitor
};

struct MonitorsFile {
  int version = kMonitorsFileVersion;
  std::string digest;  // SyncDigest of the cluster the file was made from
  std::map<std::string, JobMonitors> jobs;  // job key (JobKey) -> monitors
  int node_group_id = 0;
  std::map<std::string, PushMonitorEntry> node_monitors;  // node -> monitor

  // Every push token in the file, for the log scrubber.
  std::vector<std::string> Tokens() const;
};

// The key a job is known by in the file: its id for jobs.cfg jobs; for a
// legacy vzdump.cron job, whose id "<sha1 of the file>:<n>" changes with
// any edit of the file, "legacy-" and a digest of its schedule and options.
std::string JobKey(const BackupJob& job);

// <pve_dir>/priv/pbk-agent/monitors.json
std::string MonitorsFilePath(const std::string& pve_dir);

std::string SerializeMonitorsFile(const MonitorsFile& file);
// ORIGIN names the text in *err ("/etc/pve/priv/pbk-agent/monitors.json").
bool ParseMonitorsFile(const std::string& text, const std::string& origin, MonitorsFile* file,
                       std::string* err);
// A missing file gives an empty MonitorsFile and *exists = false.
bool LoadMonitorsFile(const std::string& path, MonitorsFile* file, bool* exists,
                      std::string* err);
// Atomic, mode 0600, in a folder readable by root only (made 0700 if missing).
bool SaveMonitorsFile(const std::string& path, const MonitorsFile& file, std::string* err);

// The push tokens of this node (config->node) from FILE put into CONFIG
// wherever the configuration names none: jobs.<id>.push_token (JOBS maps
// the file's keys to today's job ids; a job of the file not in JOBS is
// taken by its stored id) and node_monitor.push_token. The configuration's
// own tokens always win.
void AddSyncedTokens(const MonitorsFile& file, const std::vector<BackupJob>& jobs,
                     Config* config);

// Loads the monitors file under config->paths.pve_dir and adds its tokens
// (AddSyncedTokens), with the job list the guard cached in state_dir for
// legacy jobs. A missing file is fine; a broken one gives false with *err
// and changes nothing.
bool LoadSyncedTokens(Config* config, std::string* err);

}  // namespace pbk
