// What the guard does with each job and with vzdump.conf's `script:` line,
// per placement (DESIGN.md, "Where the hook is set"). Pure functions: the
// guard feeds them the jobs, the configuration, the members and the marks.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "agent/core/config.h"
#include "api/pve/backup_job.h"
#include "api/pve/vzdump_conf.h"

namespace pbk {

struct PlacementInputs {
  HookPlacement placement = HookPlacement::kNode;
  std::string hook_script;
  std::vector<std::string> exclude;
  std::map<std::string, std::vector<std::string>> job_chains;  // jobs.<id>.chain
  std::vector<std::string> hook_chain;                         // hook.chain
  std::vector<std::string> members;                            // every cluster member
  std::set<std::string> marked;  // members that carry a pbk-agent mark
};

enum class JobAction {
  kKeep,          // nothing to do; the hook is in effect (or the job is excluded)
  kSetHook,       // job placement: set `script` to ours
  kRemoveScript,  // delete the job's `script` (ours, or a chained foreign one)
  kLeave,         // left as it is: the hook is not in effect; `why` says what to do
};

// How the hook reaches a job's runs.
enum class HookVia {
  kNone,           // it does not
  kNodeDefault,    // vzdump.conf's `script:`
  kOwnScript,      // the job's own `script` is ours
  kForeignScript,  // the job's own `script` is another one, which wins
};

struct JobDecision {
  JobAction action = JobAction::kKeep;
  HookVia via_after = HookVia::kNone;   // once the action is done
  std::vector<std::string> unmarked;    // the job's nodes without a mark
  bool loud = false;                    // ours taken off for an unmarked node
  std::string why;                      // in words, for the log and --json
};

// The nodes JOB runs on: its node restriction, else every member.
std::vector<std::string> JobNodes(const BackupJob& job, const std::vector<std::string>& members);

// NODE_DEFAULT_OURS: vzdump.conf says `script: <our hook>` (node placement).
JobDecision DecideJob(const PlacementInputs& in, const BackupJob& job, bool node_default_ours);

enum class ConfAction {
  kKeep,        // already ours (node) or none of ours (job)
  kSet,         // write `script: <hook>`
  kRemoveOurs,  // job placement: take our line out
  kLeave,       // a foreign line not in hook.chain: left, reported
};

struct ConfDecision {
  ConfAction action = ConfAction::kKeep;
  std::string why;
};

ConfDecision DecideVzdumpConf(const PlacementInputs& in, const VzdumpConfScript& current);

// "node", "job"
const char* PlacementName(HookPlacement placement);
const char* HookViaName(HookVia via);

}  // namespace pbk
