#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "agent/commands/commands.h"
#include "agent/core/fs.h"
#include "agent/guard.h"
#include "api/pve/job_sources.h"
#include "agent/core/log.h"
#include "agent/pve_access.h"
#include "agent/core/text.h"

namespace pbk {

using nlohmann::json;

namespace {

constexpr auto kLockWait = std::chrono::minutes(2);

// One guard at a time: the path unit and the timer may fire together. The
// second waits for the first and then runs too, so a change made while the
// first was running is not missed.
bool TakeGuardLock(const std::string& state_dir, FileLock* lock, std::string* err) {
  if (!MakeDirs(state_dir, 0700, err)) return false;
  const std::string path = JoinPath(state_dir, "guard.lock");
  const auto give_up = std::chrono::steady_clock::now() + kLockWait;
  bool waited = false;
  for (;;) {
    bool acquired = false;
    if (!lock->Acquire(path, FileLock::Mode::kTry, &acquired, err)) return false;
    if (acquired) return true;
    if (!waited) spdlog::info("another guard is running; waiting for it");
    waited = true;
    if (std::chrono::steady_clock::now() > give_up) {
      *err = "another guard has held " + path + " for over 2 minutes";
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

json ResultJson(const GuardResult& result, bool dry_run) {
  json jobs = json::array();
  for (const auto& job : result.jobs) {
    json entry = {{"id", job.id},
                  {"script", job.script},
                  {"carries_hook", job.carries_hook},
                  {"excluded", job.excluded}};
    if (!job.problem.empty()) entry["problem"] = job.problem;
    jobs.push_back(std::move(entry));
  }
  json changes = json::array();
  for (const auto& change : result.changes) {
    changes.push_back(
        {{"id", change.job_id}, {"old_script", change.old_script}, {"legacy", change.legacy}});
  }
  return {{"ok", result.Ok()},      {"dry_run", dry_run},
          {"source", result.source}, {"jobs", std::move(jobs)},
          {"changes", std::move(changes)}, {"drift_left", result.DriftLeft()},
          {"notes", result.notes},   {"errors", result.errors}};
}

}  // namespace

int CmdGuard(const Invocation& invocation) {
  InitLogging(LogStyle::kStderr, invocation.debug);
  std::set<std::string> flags;
  if (!ParseFlags(invocation, {"--dry-run", "--json"}, "pbk-agent guard [--dry-run] [--json]",
                  &flags)) {
    return kExitUsage;
  }
  const bool dry_run = flags.count("--dry-run") > 0;
  const bool as_json = flags.count("--json") > 0;
  Config config;
  if (!LoadConfigForCommand(invocation, &config)) return kExitUsage;

  std::string err;
  FileLock lock;
  if (!dry_run && !TakeGuardLock(config.paths.state_dir, &lock, &err)) {
    spdlog::error("{}", err);
    return kExitProblem;
  }

  PveAccess pve;
  if (!OpenPveAccessForCommand(config, &pve)) return kExitUsage;
  GuardOptions options{config.paths.hook_script, config.guard.exclude, dry_run};
  GuardResult result = RunGuard(options, pve.readers, pve.writer);
  result.notes.insert(result.notes.begin(), pve.notes.begin(), pve.notes.end());
  for (const auto& warning : pve.files->warnings()) result.notes.push_back(warning);

  if (result.read_ok && !dry_run) {
    JobCache cache{NowMs(), result.source, config.node, result.final_jobs,
                   result.final_document};
    if (!SaveJobCache(JoinPath(config.paths.state_dir, kJobCacheFile), cache, &err)) {
      result.errors.push_back("caching the job list: " + err);
    }
  }

  for (const auto& note : result.notes) {
    // Reading through pvesh without a token is a supported set-up, not a fault.
    if (StartsWith(note, "no API token is configured")) {
      spdlog::info("{}", note);
    } else {
      spdlog::warn("{}", note);
    }
  }
  std::map<std::string, std::string> replaced;
  for (const auto& change : result.changes) {
    spdlog::info("job {}: script set to {} (was {}){}", change.job_id, options.hook_script,
                 change.old_script.empty() ? "none" : Quote(change.old_script),
                 change.legacy ? " (a legacy vzdump.cron job)" : "");
    if (config.jobs.count(change.job_id) == 0) {
      spdlog::warn("job {}: no push monitor on node {}: where it runs here, its runs are not "
                   "reported (add \"jobs\": {{\"{}\": {{\"push_token\": \"…\"}}}} to {})",
                   change.job_id, config.node, change.job_id, config.path);
    }
    const auto& chain = config.hook.chain;
    if (!change.old_script.empty() &&
        std::find(chain.begin(), chain.end(), change.old_script) == chain.end()) {
      replaced[change.job_id] = change.old_script;
      spdlog::warn("job {}: its own hook {} no longer runs; to keep it running, add it to "
                   "\"hook\": {{\"chain\": [\"{}\"]}} in {}",
                   change.job_id, change.old_script, change.old_script, config.path);
    }
  }
  if (!replaced.empty() && !dry_run) {
    if (!RememberReplacedScripts(config.paths.state_dir, replaced, &err)) {
      result.errors.push_back(err);
    }
  }
  for (const auto& job : result.jobs) {
    if (!job.excluded && !job.carries_hook) {
      spdlog::error("job {} does not run the hook (script {}): {}", job.id,
                    job.script.empty() ? "none" : Quote(job.script), job.problem);
    }
  }
  for (const auto& error : result.errors) spdlog::error("{}", error);
  if (result.read_ok) {
    int excluded = static_cast<int>(std::count_if(result.jobs.begin(), result.jobs.end(),
                                                  [](const GuardJobState& j) { return j.excluded; }));
    spdlog::info("{} job(s) read through {}: {} changed, {} without the hook{}{}",
                 result.jobs.size(), result.source, result.changes.size(), result.DriftLeft(),
                 excluded > 0 ? ", " + std::to_string(excluded) + " excluded" : "",
                 dry_run ? " (dry run: nothing written)" : "");
  }
  if (as_json) std::printf("%s\n", Redact(ResultJson(result, dry_run).dump(2)).c_str());
  return result.Ok() ? kExitOk : kExitProblem;
}

}  // namespace pbk
