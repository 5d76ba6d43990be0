#include "agent/guard.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "agent/core/fs.h"

namespace pbk {

int GuardResult::DriftLeft() const {
  return static_cast<int>(std::count_if(jobs.begin(), jobs.end(), [](const GuardJobState& job) {
    return !job.excluded && !job.carries_hook;
  }));
}

namespace {

bool NeedsWrite(const JobDecision& decision) {
  return decision.action == JobAction::kSetHook || decision.action == JobAction::kRemoveScript;
}

bool SameJobButId(const BackupJob& a, const BackupJob& b) {
  return a.schedule == b.schedule && a.enabled == b.enabled && a.storage == b.storage &&
         a.node == b.node && a.pool == b.pool && a.all == b.all && a.vmids == b.vmids &&
         a.exclude == b.exclude && a.comment == b.comment;
}

// The job as it stands now (not after a write that was not made), and why
// the hook is not in effect for it when it is not.
GuardJobState StateOf(const GuardOptions& options, const BackupJob& job,
                      const JobDecision& decision, const std::string& write_problem) {
  GuardJobState state;
  state.id = job.id;
  state.script = job.script;
  state.excluded = std::find(options.exclude.begin(), options.exclude.end(), job.id) !=
                   options.exclude.end();
  state.unmarked = decision.unmarked;
  state.via = job.script.empty()
                  ? (options.placement == HookPlacement::kNode && options.node_default_ours
                         ? HookVia::kNodeDefault
                         : HookVia::kNone)
                  : (job.script == options.hook_script ? HookVia::kOwnScript
                                                       : HookVia::kForeignScript);
  // Our hook on a job with an unmarked node is not in effect where it matters.
  state.carries_hook = (state.via == HookVia::kNodeDefault || state.via == HookVia::kOwnScript) &&
                       !NeedsWrite(decision);
  if (state.excluded || state.carries_hook) return state;
  state.problem = !write_problem.empty()                      ? write_problem
                  : decision.action == JobAction::kLeave      ? decision.why
                  : options.dry_run                           ? "not changed (--dry-run)"
                  : decision.action == JobAction::kSetHook    ? "still not set after the change"
                  : decision.action == JobAction::kRemoveScript
                      ? "still carries its script after the change"
                  : options.placement == HookPlacement::kNode
                      ? "the node default in vzdump.conf is not our hook"
                      : decision.why;
  return state;
}

}  // namespace

PlacementInputs ToPlacementInputs(const GuardOptions& options) {
  PlacementInputs in;
  in.placement = options.placement;
  in.hook_script = options.hook_script;
  in.exclude = options.exclude;
  in.job_chains = options.job_chains;
  in.members = options.members;
  in.marked = options.marked;
  return in;
}

GuardJobState HookStateOf(const GuardOptions& options, const BackupJob& job, bool* guard_fixes) {
  const JobDecision decision = DecideJob(ToPlacementInputs(options), job, options.node_default_ours);
  *guard_fixes = decision.action != JobAction::kLeave;
  return StateOf(options, job, decision, "");
}

bool RememberReplacedScripts(const std::string& path,
                             const std::map<std::string, std::string>& replaced, std::string* err) {
  std::map<std::string, std::string> all = ReplacedScripts(path);
  for (const auto& [id, script] : replaced) all[id] = script;
  return WriteFileAtomic(path, nlohmann::json(all).dump(1) + "\n", err);
}

std::map<std::string, std::string> ReplacedScripts(const std::string& path) {
  std::string text, err;
  bool exists = false;
  std::map<std::string, std::string> out;
  if (!ReadFileIfExists(path, &text, &exists, &err) || !exists) return out;
  auto document = nlohmann::json::parse(text, nullptr, false);
  if (!document.is_object()) return out;
  for (const auto& [id, script] : document.items()) {
    if (script.is_string()) out[id] = script.get<std::string>();
  }
  return out;
}

namespace {

// The first of READERS that lists the jobs, into *JOBS; null when none does.
JobReader* ReadJobs(const std::vector<JobReader*>& readers, std::vector<BackupJob>* jobs,
                    GuardResult* result) {
  for (JobReader* candidate : readers) {
    std::string err;
    ++result->lists;
    if (candidate->List(jobs, &err)) return candidate;
    result->notes.push_back("reading the jobs through " + candidate->Name() + " failed: " + err);
  }
  return nullptr;
}

// Makes, through WRITER, the changes the decisions on *JOBS call for, and
// reads the list back; *PROBLEMS gets why a job was not changed.
void ChangeJobs(const GuardOptions& options, JobReader* reader, JobWriter* writer,
                std::vector<BackupJob>* jobs, GuardResult* result,
                std::map<std::string, std::string>* problems) {
  const PlacementInputs in = ToPlacementInputs(options);
  auto decide = [&](const BackupJob& job) {
    return DecideJob(in, job, options.node_default_ours);
  };
  std::set<std::string> given_up;
  // Each change of a legacy job renumbers the others, so the list is read
  // again after it; the budget ends any loop a misbehaving PVE could cause.
  int budget = 2 * static_cast<int>(jobs->size()) + 2;
  bool changed_since_read = false;
  while (budget-- > 0) {
    auto next = std::find_if(jobs->begin(), jobs->end(), [&](const BackupJob& job) {
      return given_up.count(job.id) == 0 && NeedsWrite(decide(job));
    });
    if (next == jobs->end()) break;
    BackupJob job = *next;
    const JobDecision decision = decide(job);
    const std::string script =
        decision.action == JobAction::kSetHook ? options.hook_script : std::string();
    std::string err;
    if (writer == nullptr) {
      err = "no way to change jobs (pvesh is not available)";
    } else if (!writer->Usable(&err) || !writer->CanWrite(job, &err)) {
    } else if (writer->SetScript(job, script, &err)) {
      result->changes.push_back(
          {job.id, job.script, script, job.IsLegacy(), decision.loud, decision.why});
      changed_since_read = true;
      next->script = script;
      if (job.IsLegacy()) {
        ++result->lists;
        if (!reader->List(jobs, &err)) {
          result->errors.push_back("reading the jobs again after changing legacy job " + job.id +
                                   " failed: " + err);
          break;
        }
        changed_since_read = false;
      }
      continue;
    }
    (*problems)[job.id] = err;
    given_up.insert(job.id);
  }
  // Read back what PVE now says; the writes are checked, not assumed.
  if (changed_since_read || !result->changes.empty()) {
    std::string err;
    ++result->lists;
    if (!reader->List(jobs, &err)) {
      result->errors.push_back("reading the jobs back after the changes failed: " + err);
    }
  }
}

}  // namespace

GuardResult RunGuard(const GuardOptions& options, const std::vector<JobReader*>& readers,
                     JobWriter* writer) {
  GuardResult result;
  std::vector<BackupJob> jobs;
  JobReader* reader = ReadJobs(readers, &jobs, &result);
  if (reader == nullptr) {
    result.errors.push_back("no way to read the backup jobs worked");
    return result;
  }
  result.read_ok = true;
  result.source = reader->Name();

  std::map<std::string, std::string> problems;  // job id -> why it was not fixed
  if (!options.dry_run) ChangeJobs(options, reader, writer, &jobs, &result, &problems);

  const PlacementInputs in = ToPlacementInputs(options);
  for (const auto& job : jobs) {
    auto problem = problems.find(job.id);
    result.jobs.push_back(StateOf(options, job, DecideJob(in, job, options.node_default_ours),
                                  problem != problems.end() ? problem->second : ""));
  }
  // A legacy job that could not be fixed may have a new id by now.
  for (const auto& [id, why] : problems) {
    bool listed = std::any_of(result.jobs.begin(), result.jobs.end(),
                              [&](const GuardJobState& state) { return state.id == id; });
    if (!listed) result.notes.push_back("job " + id + ": " + why);
  }
  result.final_jobs = std::move(jobs);
  result.final_document = reader->document();
  return result;
}

std::vector<std::pair<std::string, std::string>> MovedLegacyIds(
    const std::vector<BackupJob>& cached, const std::vector<BackupJob>& jobs,
    const std::vector<std::string>& configured) {
  std::vector<std::pair<std::string, std::string>> moved;
  auto listed = [](const std::vector<BackupJob>& list, const std::string& id) {
    return std::find_if(list.begin(), list.end(),
                        [&](const BackupJob& job) { return job.id == id; });
  };
  for (const std::string& id : configured) {
    if (listed(jobs, id) != jobs.end()) continue;
    auto old = listed(cached, id);
    if (old == cached.end() || !old->IsLegacy()) continue;
    // Only an unambiguous match: two alike jobs cannot be told apart.
    std::vector<const BackupJob*> matches;
    for (const BackupJob& job : jobs) {
      if (job.id != id && SameJobButId(*old, job)) matches.push_back(&job);
    }
    if (matches.size() == 1) moved.emplace_back(id, matches[0]->id);
  }
  return moved;
}

}  // namespace pbk
