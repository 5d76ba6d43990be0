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

bool Excluded(const GuardOptions& options, const BackupJob& job) {
  return std::find(options.exclude.begin(), options.exclude.end(), job.id) !=
         options.exclude.end();
}

bool Drifts(const GuardOptions& options, const BackupJob& job) {
  return !Excluded(options, job) && job.script != options.hook_script;
}

}  // namespace

bool RememberReplacedScripts(const std::string& state_dir,
                             const std::map<std::string, std::string>& replaced,
                             std::string* err) {
  std::map<std::string, std::string> all = ReplacedScripts(state_dir);
  for (const auto& [id, script] : replaced) all[id] = script;
  return WriteFileAtomic(JoinPath(state_dir, kReplacedScriptsFile),
                         nlohmann::json(all).dump(1) + "\n", err);
}

std::map<std::string, std::string> ReplacedScripts(const std::string& state_dir) {
  std::string text, err;
  bool exists = false;
  std::map<std::string, std::string> out;
  if (!ReadFileIfExists(JoinPath(state_dir, kReplacedScriptsFile), &text, &exists, &err) ||
      !exists) {
    return out;
  }
  auto document = nlohmann::json::parse(text, nullptr, false);
  if (!document.is_object()) return out;
  for (const auto& [id, script] : document.items()) {
    if (script.is_string()) out[id] = script.get<std::string>();
  }
  return out;
}

GuardResult RunGuard(const GuardOptions& options, const std::vector<JobReader*>& readers,
                     JobWriter* writer) {
  GuardResult result;
  std::vector<BackupJob> jobs;
  JobReader* reader = nullptr;
  for (JobReader* candidate : readers) {
    std::string err;
    ++result.lists;
    if (candidate->List(&jobs, &err)) {
      reader = candidate;
      break;
    }
    result.notes.push_back("reading the jobs through " + candidate->Name() + " failed: " + err);
  }
  if (reader == nullptr) {
    result.errors.push_back("no way to read the backup jobs worked");
    return result;
  }
  result.read_ok = true;
  result.source = reader->Name();

  std::map<std::string, std::string> problems;  // job id -> why it was not fixed
  if (!options.dry_run) {
    std::set<std::string> given_up;
    // Each change of a legacy job renumbers the others, so the list is read
    // again after it; the budget ends any loop a misbehaving PVE could cause.
    int budget = 2 * static_cast<int>(jobs.size()) + 2;
    bool changed_since_read = false;
    while (budget-- > 0) {
      auto next = std::find_if(jobs.begin(), jobs.end(), [&](const BackupJob& job) {
        return Drifts(options, job) && given_up.count(job.id) == 0;
      });
      if (next == jobs.end()) break;
      BackupJob job = *next;
      std::string err;
      if (writer == nullptr) {
        err = "no way to change jobs (pvesh is not available)";
      } else if (!writer->Usable(&err) || !writer->CanWrite(job, &err)) {
      } else if (writer->SetScript(job, options.hook_script, &err)) {
        result.changes.push_back({job.id, job.script, job.IsLegacy()});
        changed_since_read = true;
        next->script = options.hook_script;
        if (job.IsLegacy()) {
          ++result.lists;
          if (!reader->List(&jobs, &err)) {
            result.errors.push_back("reading the jobs again after changing legacy job " +
                                    job.id + " failed: " + err);
            break;
          }
          changed_since_read = false;
        }
        continue;
      }
      problems[job.id] = err;
      given_up.insert(job.id);
    }
    // Read back what PVE now says; the writes are checked, not assumed.
    if (changed_since_read || !result.changes.empty()) {
      std::string err;
      ++result.lists;
      if (!reader->List(&jobs, &err)) {
        result.errors.push_back("reading the jobs back after the changes failed: " + err);
      }
    }
  }

  for (const auto& job : jobs) {
    GuardJobState state;
    state.id = job.id;
    state.script = job.script;
    state.excluded = Excluded(options, job);
    state.carries_hook = job.script == options.hook_script;
    if (!state.excluded && !state.carries_hook) {
      auto problem = problems.find(job.id);
      state.problem = problem != problems.end() ? problem->second
                      : options.dry_run         ? "not changed (--dry-run)"
                                                : "still not set after the change";
    }
    result.jobs.push_back(std::move(state));
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

}  // namespace pbk
