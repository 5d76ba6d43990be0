// The guard's job logic: read the jobs, make the hook effective for every
// vzdump job (but the excluded ones) per the placement (agent/hook_decision.h),
// check by reading back. The readers and the writer are given, so the logic
// is tested without PVE.
#pragma once

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "agent/core/config.h"
#include "agent/hook_decision.h"
#include "api/pve/backup_job.h"
#include "api/pve/job_sources.h"

namespace pbk {

struct GuardOptions {
  std::string hook_script;
  std::vector<std::string> exclude;
  bool dry_run = false;
  HookPlacement placement = HookPlacement::kNode;
  std::map<std::string, std::vector<std::string>> job_chains;  // jobs.<id>.chain
  std::vector<std::string> members;  // the cluster's nodes
  std::set<std::string> marked;      // those with a pbk-agent mark
  bool node_default_ours = false;    // vzdump.conf says `script: <hook>`
};

PlacementInputs ToPlacementInputs(const GuardOptions& options);

struct GuardJobState;
// Whether the hook is in effect for JOB as it stands (verify's view). When it
// is not, *guard_fixes says whether a guard run would make it so; if not,
// the state's problem says what the admin has to do.
GuardJobState HookStateOf(const GuardOptions& options, const BackupJob& job, bool* guard_fixes);

struct GuardChange {
  std::string job_id;
  std::string old_script;  // empty: the job had none
  std::string new_script;  // empty: the job's own script was taken off
  bool legacy = false;
  bool loud = false;  // our hook taken off because a node of the job lacks pbk-agent
  std::string why;
};

struct GuardJobState {
  std::string id;
  std::string script;
  bool excluded = false;
  bool carries_hook = false;  // the hook runs for the job (its own script or the node default)
  HookVia via = HookVia::kNone;
  std::vector<std::string> unmarked;  // the job's nodes without pbk-agent
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

// The scripts the guard replaced, job id -> old script, kept in PATH
// (StateLayout::ReplacedScripts) so that verify can say which of them no
// longer run.
bool RememberReplacedScripts(const std::string& path,
                             const std::map<std::string, std::string>& replaced, std::string* err);
std::map<std::string, std::string> ReplacedScripts(const std::string& path);

// READERS are tried in order until one answers; WRITER may be null when no
// way to write exists.
GuardResult RunGuard(const GuardOptions& options, const std::vector<JobReader*>& readers,
                     JobWriter* writer);

// Legacy (vzdump.cron) ids change whenever PVE rewrites that file. For each
// configured id (CONFIGURED) no longer in JOBS whose job in CACHED (the last
// list) is found in JOBS under a new id, with the same schedule and options:
// (old id, new id).
std::vector<std::pair<std::string, std::string>> MovedLegacyIds(
    const std::vector<BackupJob>& cached, const std::vector<BackupJob>& jobs,
    const std::vector<std::string>& configured);

}  // namespace pbk
