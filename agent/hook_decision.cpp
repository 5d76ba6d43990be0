#include "agent/hook_decision.h"

#include <algorithm>

#include "agent/core/text.h"

namespace pbk {

namespace {

bool Contains(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

bool ChainedForJob(const PlacementInputs& in, const BackupJob& job) {
  auto chain = in.job_chains.find(job.id);
  return chain != in.job_chains.end() && Contains(chain->second, job.script);
}

std::vector<std::string> Unmarked(const PlacementInputs& in, const BackupJob& job) {
  std::vector<std::string> out;
  for (const std::string& node : JobNodes(job, in.members)) {
    if (in.marked.count(node) == 0) out.push_back(node);
  }
  return out;
}

std::string ChainAdvice(const BackupJob& job) {
  return "its own script " + Quote(job.script) + " wins over ours; to keep it running under "
         "the hook, add \"jobs\": {\"" + job.id + "\": {\"chain\": [" + Quote(job.script) +
         "]}} to the configuration";
}

std::string UnmarkedText(const std::vector<std::string>& nodes) {
  return "pbk-agent is not on node(s) " + Join(nodes, ", ") +
         " where the job runs (no mark in nodes/<node>/pbk-agent.json)";
}

JobDecision DecideNodePlacement(const PlacementInputs& in, const BackupJob& job,
                                bool node_default_ours) {
  JobDecision d;
  const HookVia node_default = node_default_ours ? HookVia::kNodeDefault : HookVia::kNone;
  if (job.script.empty()) {
    d.via_after = node_default;
    d.why = "runs the node default";
    return d;
  }
  if (job.script == in.hook_script) {
    d.action = JobAction::kRemoveScript;
    d.via_after = node_default;
    d.why = "carries our hook itself; taken off, the node default runs it";
    return d;
  }
  if (!ChainedForJob(in, job)) {
    d.action = JobAction::kLeave;
    d.via_after = HookVia::kForeignScript;
    d.why = ChainAdvice(job);
    return d;
  }
  // Without its own script the job runs the node default on every node: a
  // node without pbk-agent would then run neither script.
  d.unmarked = Unmarked(in, job);
  if (!d.unmarked.empty()) {
    d.action = JobAction::kLeave;
    d.via_after = HookVia::kForeignScript;
    d.why = "its chained script " + Quote(job.script) + " is kept: " + UnmarkedText(d.unmarked);
    return d;
  }
  d.action = JobAction::kRemoveScript;
  d.via_after = node_default;
  d.why = "its own script " + Quote(job.script) +
          " is chained for it; taken off, the node default runs both";
  return d;
}

JobDecision DecideJobPlacement(const PlacementInputs& in, const BackupJob& job) {
  JobDecision d;
  d.unmarked = Unmarked(in, job);
  if (job.script == in.hook_script) {
    if (d.unmarked.empty()) {
      d.via_after = HookVia::kOwnScript;
      d.why = "carries our hook";
      return d;
    }
    // The job fails on a node without the hook file: backups come first.
    d.action = JobAction::kRemoveScript;
    d.loud = true;
    d.why = "our hook taken off: " + UnmarkedText(d.unmarked) +
            ", and the job would fail there";
    return d;
  }
  if (!job.script.empty() && !ChainedForJob(in, job)) {
    d.action = JobAction::kLeave;
    d.via_after = HookVia::kForeignScript;
    d.why = ChainAdvice(job);
    return d;
  }
  const HookVia now = job.script.empty() ? HookVia::kNone : HookVia::kForeignScript;
  if (!d.unmarked.empty()) {
    d.action = JobAction::kLeave;
    d.via_after = now;
    d.why = "not set: " + UnmarkedText(d.unmarked) + "; install pbk-agent there first";
    return d;
  }
  d.action = JobAction::kSetHook;
  d.via_after = HookVia::kOwnScript;
  d.why = job.script.empty() ? "hook set" : "hook set; " + Quote(job.script) + " runs chained";
  return d;
}

}  // namespace

std::vector<std::string> JobNodes(const BackupJob& job, const std::vector<std::string>& members) {
  if (!job.node.empty()) return {job.node};
  return members;
}

JobDecision DecideJob(const PlacementInputs& in, const BackupJob& job, bool node_default_ours) {
  if (Contains(in.exclude, job.id)) {
    JobDecision d;
    d.why = "excluded";
    return d;
  }
  return in.placement == HookPlacement::kNode ? DecideNodePlacement(in, job, node_default_ours)
                                              : DecideJobPlacement(in, job);
}

ConfDecision DecideVzdumpConf(const PlacementInputs& in, const VzdumpConfScript& current) {
  ConfDecision d;
  const bool ours = current.present && current.value == in.hook_script;
  if (in.placement == HookPlacement::kJob) {
    if (ours) {
      d.action = ConfAction::kRemoveOurs;
      d.why = "placement is \"job\": our node default is taken out";
    }
    return d;
  }
  if (ours) return d;
  if (!current.present || current.value.empty()) {
    d.action = ConfAction::kSet;
    d.why = "node default set";
  } else if (Contains(in.hook_chain, current.value)) {
    d.action = ConfAction::kSet;
    d.why = "node default " + Quote(current.value) + " replaced; it runs chained (hook.chain)";
  } else {
    d.action = ConfAction::kLeave;
    d.why = "the node default is another script, " + Quote(current.value) +
            "; to keep it running under the hook, add \"hook\": {\"chain\": [" +
            Quote(current.value) + "]} to the configuration";
  }
  return d;
}

const char* PlacementName(HookPlacement placement) {
  return placement == HookPlacement::kNode ? "node" : "job";
}

const char* HookViaName(HookVia via) {
  switch (via) {
    case HookVia::kNodeDefault:
      return "node default";
    case HookVia::kOwnScript:
      return "own script";
    case HookVia::kForeignScript:
      return "foreign script";
    case HookVia::kNone:
      break;
  }
  return "none";
}

}  // namespace pbk
