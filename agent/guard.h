// The guard's decision logic: read the jobs, make every vzdump job (but
// the excluded ones) run the hook, check by reading back. The readers and
// the writer are given, so the logic is tested without PVE.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "api/pve/backup_job.h"
#include "api/pve/job_sources.h"

namespace pbk {

struct GuardOptions {
  std::string hook_script;
  std::vector<std::string> exclude;
  bool dry_run = false;
};

struct GuardChange {
  std::string job_id;
  std::string old_script;  // empty: the job had none
  bool legacy = false;
};

struct GuardJobState {
  std::string id;
  std::string script;
  bool excluded = false;
  bool carries_hook = false;
  std::string problem;  // why it does not, when the guard could not fix it
};

struct GuardResult {
  bool read_ok = false;
  std::string source;              // the reader the jobs came from
  std::vector<std::string> notes;  // fallbacks taken and warnings
  std::vector<GuardChange> changes;
  std::vector<GuardJobState> jobs;  // after the changes, as read back
  std::vector<std::string> errors;
  std::vector<BackupJob> final_jobs;
  std::string final_document;  // final_jobs as PVE's JSON, when read so
  int lists = 0;  // how often the job list was read

  int DriftLeft() const;
  bool Ok() const { return read_ok && errors.empty() && DriftLeft() == 0; }
};

// The scripts the guard replaced, job id -> old script, kept in state_dir
// so that verify can say which of them no longer run.
inline constexpr char kReplacedScriptsFile[] = "replaced-scripts.json";
bool RememberReplacedScripts(const std::string& state_dir,
                             const std::map<std::string, std::string>& replaced,
                             std::string* err);
std::map<std::string, std::string> ReplacedScripts(const std::string& state_dir);

// READERS are tried in order until one answers; WRITER may be null when no
// way to write exists.
GuardResult RunGuard(const GuardOptions& options, const std::vector<JobReader*>& readers,
                     JobWriter* writer);

}  // namespace pbk
