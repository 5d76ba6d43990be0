#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "agent/commands/commands.h"
#include "agent/commands/common.h"
#include "agent/core/fs.h"
#include "agent/core/state_layout.h"
#include "agent/guard.h"
#include "agent/guard_memo.h"
#include "agent/guard_node.h"
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
bool TakeGuardLock(const StateLayout& state, FileLock* lock, std::string* err) {
  if (!MakeDirs(state.StateDir(), 0700, err)) return false;
  const std::string path = state.GuardLock();
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

json ResultJson(const GuardResult& result, const NodeSetup& node, const Config& config,
               bool dry_run) {
  json jobs = json::array();
  for (const auto& job : result.jobs) {
    json entry = {{"id", job.id},
                  {"script", job.script},
                  {"carries_hook", job.carries_hook},
                  {"hook_via", HookViaName(job.via)},
                  {"excluded", job.excluded}};
    if (!job.unmarked.empty()) entry["unmarked_nodes"] = job.unmarked;
    if (!job.problem.empty()) entry["problem"] = job.problem;
    jobs.push_back(std::move(entry));
  }
  // "changes": the hook set on a job; "removed": a job's own script taken off.
  json changes = json::array();
  json removed = json::array();
  for (const auto& change : result.changes) {
    json entry = {{"id", change.job_id}, {"old_script", change.old_script},
                  {"legacy", change.legacy}};
    if (change.new_script.empty()) {
      entry["why"] = change.why;
      removed.push_back(std::move(entry));
    } else {
      changes.push_back(std::move(entry));
    }
  }
  json conf = {{"path", config.paths.vzdump_conf},
               {"script", node.conf_before.present ? json(node.conf_before.value) : json()},
               {"changed", node.conf_changed},
               {"ours", node.node_default_ours}};
  if (!node.conf.why.empty()) conf["why"] = node.conf.why;
  const bool ok = result.Ok() && node.errors.empty();
  return {{"ok", ok},
          {"dry_run", dry_run},
          {"placement", PlacementName(config.guard.placement)},
          {"source", result.source},
          {"vzdump_conf", std::move(conf)},
          {"members", node.members.nodes},
          {"marked", node.marked},
          {"jobs", std::move(jobs)},
          {"changes", std::move(changes)},
          {"removed", std::move(removed)},
          {"drift_left", result.DriftLeft()},
          {"notes", result.notes},
          {"errors", result.errors}};
}

void LogChanges(const GuardResult& result, const Config& config,
                std::map<std::string, std::string>* replaced) {
  for (const auto& change : result.changes) {
    const std::string was = change.old_script.empty() ? "none" : Quote(change.old_script);
    const char* legacy = change.legacy ? " (a legacy vzdump.cron job)" : "";
    if (change.loud) {
      spdlog::warn("WARNING: job {}: our hook taken off the job: {}", change.job_id, change.why);
    } else if (change.new_script.empty()) {
      spdlog::info("job {}: its own script {} taken off{}: {}", change.job_id, was, legacy,
                   change.why);
    } else {
      spdlog::info("job {}: script set to {} (was {}){}", change.job_id, change.new_script, was,
                   legacy);
    }
    if (change.new_script.empty()) continue;
    auto mapped = config.jobs.find(change.job_id);
    if (mapped == config.jobs.end() || mapped->second.push_token.empty()) {
      spdlog::warn("job {}: no push monitor on node {}: where it runs here, its runs are not "
                   "reported (add \"jobs\": {{\"{}\": {{\"push_token\": \"…\"}}}} to {})",
                   change.job_id, config.node, change.job_id, config.path);
    }
    if (!change.old_script.empty() && change.old_script != config.paths.hook_script) {
      (*replaced)[change.job_id] = change.old_script;
    }
  }
}

// Configured legacy ids that PVE renumbered since the last run.
void LogMovedIds(const Config& config, const std::vector<BackupJob>& jobs,
                 const JobCache& cached) {
  std::vector<std::string> configured;
  for (const auto& [id, job] : config.jobs) configured.push_back(id);
  for (const auto& [old_id, new_id] : MovedLegacyIds(cached.jobs, jobs, configured)) {
    spdlog::warn("legacy job {} → {}: PVE rewrote vzdump.cron and renumbered it; move "
                 "\"jobs\": {{\"{}\": …}} to \"jobs\": {{\"{}\": …}} in {} (edit the job once "
                 "in PVE to give it a fixed id)",
                 old_id, new_id, old_id, new_id, config.path);
  }
}

// The journal's account of the run: notes, what changed, what is left.
// *failed is set when remembering replaced scripts failed.
void LogResult(const GuardResult& result, const NodeSetup& node, const Config& config,
               bool dry_run, bool* failed) {
  for (const auto& note : result.notes) {
    // Reading through pvesh without a token is a supported set-up, not a fault.
    if (StartsWith(note, "no API token is configured")) {
      spdlog::info("{}", note);
    } else {
      spdlog::warn("{}", note);
    }
  }
  if (node.conf_changed) {
    spdlog::info("{}: {}", config.paths.vzdump_conf, node.conf.why);
  }
  if (node.mark_written) {
    spdlog::info("node {} marked in {}", node.members.local,
                 NodeMarkPath(config.paths.pve_dir, node.members.local));
  }
  std::map<std::string, std::string> replaced;
  LogChanges(result, config, &replaced);
  const std::string replaced_file = StateLayout(config.paths.state_dir).ReplacedScripts();
  std::string err;
  if (!replaced.empty() && !dry_run && !RememberReplacedScripts(replaced_file, replaced, &err)) {
    spdlog::error("{}", err);
    *failed = true;
  }
  for (const auto& job : result.jobs) {
    if (!job.excluded && !job.carries_hook) {
      spdlog::error("job {} does not run the hook (script {}): {}", job.id,
                    job.script.empty() ? "none" : Quote(job.script), job.problem);
    }
  }
  for (const auto& error : node.errors) spdlog::error("{}", error);
  for (const auto& error : result.errors) spdlog::error("{}", error);
  if (result.read_ok) {
    int excluded = static_cast<int>(std::count_if(result.jobs.begin(), result.jobs.end(),
                                                  [](const GuardJobState& j) { return j.excluded; }));
    spdlog::info("{} job(s) read through {}: {} changed, {} without the hook{}{}",
                 result.jobs.size(), result.source, result.changes.size(), result.DriftLeft(),
                 excluded > 0 ? ", " + std::to_string(excluded) + " excluded" : "",
                 dry_run ? " (dry run: nothing written)" : "");
  }
}

// The node default is checked as PVE sees it, not assumed from the write.
void CheckNodeDefaultInPve(const Config& config, const PveAccess& pve, NodeSetup* node) {
  bool ours = false;
  std::string how, err;
  if (!CheckNodeDefault(config, pve.rest.get(), &ours, &how, &err)) {
    node->errors.push_back("checking the node default: " + err);
  } else if (!ours) {
    node->errors.push_back("the node default is not our hook according to " + how);
  } else {
    spdlog::debug("node default checked through {}", how);
  }
}

// The API answered exactly what the last clean run read, and nothing the
// decisions depend on changed: nothing to do. The job cache that run wrote
// must still be there (the hook and refresh read it). *MEMO: what that run
// left, for the summary line.
bool SameAsLastCleanRun(const Config& config, const std::string& digest, const NodeSetup& node,
                        const PveAccess& pve, GuardMemo* memo) {
  const StateLayout state(config.paths.state_dir);
  if (node.conf_changed || !pve.files->warnings().empty() ||
      !LoadGuardMemo(state.GuardClean(), memo) || memo->digest != digest) {
    return false;
  }
  return access(state.JobCache().c_str(), F_OK) == 0;
}

// The end of a run that found what the last clean one found: the node
// default still checked through PVE, the same summary line (from MEMO, what
// the last clean run left).
int FinishUnchanged(const Config& config, NodeSetup* node, const PveAccess& pve,
                    const GuardMemo& memo) {
  for (const auto& note : pve.notes) spdlog::warn("{}", note);
  for (const auto& note : node->notes) spdlog::warn("{}", note);
  if (config.guard.placement == HookPlacement::kNode) CheckNodeDefaultInPve(config, pve, node);
  if (node->mark_written) {
    spdlog::info("node {} marked in {}", node->members.local,
                 NodeMarkPath(config.paths.pve_dir, node->members.local));
  }
  for (const auto& error : node->errors) spdlog::error("{}", error);
  if (!node->errors.empty()) ForgetGuardMemo(StateLayout(config.paths.state_dir).GuardClean());
  spdlog::info("{} job(s) read through rest: 0 changed, 0 without the hook{}", memo.jobs,
               memo.excluded > 0 ? ", " + std::to_string(memo.excluded) + " excluded" : "");
  spdlog::debug("the job list is the one the last clean run read: not parsed again");
  return node->errors.empty() ? kExitOk : kExitProblem;
}

// --release: the hook taken off this node for the package's removal.
int ReleaseForRemoval(const Config& config) {
  std::vector<std::string> done;
  std::string err;
  if (!ReleaseNode(config, /*remove_mark=*/false, &done, &err)) {
    spdlog::error("{}", err);
    return kExitProblem;
  }
  for (const auto& line : done) spdlog::info("{}", line);
  return kExitOk;
}

// Caches the job list the run ended with (the hook and refresh read it),
// after warning about configured legacy ids PVE renumbered since the last.
void CacheJobs(const Config& config, const StateLayout& state, GuardResult* result) {
  const std::string cache_path = state.JobCache();
  JobCache cached;
  bool cached_exists = false;
  std::string cache_err, err;
  if (LoadJobCache(cache_path, &cached, &cached_exists, &cache_err) && cached_exists) {
    LogMovedIds(config, result->final_jobs, cached);
  }
  JobCache cache{NowMs(), result->source, config.node, result->final_jobs,
                 result->final_document};
  if (!SaveJobCache(cache_path, cache, &err)) {
    result->errors.push_back("caching the job list: " + err);
  }
}

// Only a clean run through REST is remembered: it is what the next run
// compares its answer with.
void RememberIfClean(const StateLayout& state, const std::string& digest,
                     const GuardResult& result, const NodeSetup& node, bool log_failed) {
  const bool clean = !digest.empty() && result.source == "rest" && result.Ok() &&
                     result.changes.empty() && node.errors.empty() && !log_failed;
  GuardMemo memo{digest, static_cast<int>(result.jobs.size()), 0};
  for (const auto& job : result.jobs) memo.excluded += job.excluded ? 1 : 0;
  std::string err;
  if (!clean || !SaveGuardMemo(state.GuardClean(), memo, &err)) {
    ForgetGuardMemo(state.GuardClean());
  }
}

}  // namespace

int CmdGuard(const Invocation& invocation) {
  InitLogging(LogStyle::kStderr, invocation.debug);
  std::set<std::string> flags;
  // --release: for package removal (the maintainer scripts), not for admins.
  if (!ParseFlags(invocation, {"--dry-run", "--json", "--release"},
                  "pbk-agent guard [--dry-run] [--json]", &flags)) {
    return kExitUsage;
  }
  const bool dry_run = flags.count("--dry-run") > 0;
  const bool as_json = flags.count("--json") > 0;
  Config config;
  if (!LoadConfigForCommand(invocation, &config)) return kExitUsage;

  const StateLayout state(config.paths.state_dir);
  std::string err;
  FileLock lock;
  if (!dry_run && !TakeGuardLock(state, &lock, &err)) {
    spdlog::error("{}", err);
    return kExitProblem;
  }
  if (flags.count("--release") > 0) return ReleaseForRemoval(config);

  PveAccess pve;
  if (!OpenPveAccessForCommand(config, &pve)) return kExitUsage;
  NodeSetup node = PrepareNode(config, dry_run);
  const GuardOptions options = GuardOptionsFor(config, node, dry_run);
  std::string digest;
  if (!dry_run && !as_json && pve.rest && node.errors.empty()) {
    std::string body;
    if (pve.rest->FetchJobs(&body, &err)) {
      digest = GuardDigest(body, options);
      GuardMemo memo;
      if (SameAsLastCleanRun(config, digest, node, pve, &memo)) {
        return FinishUnchanged(config, &node, pve, memo);
      }
    }
  }
  GuardResult result = RunGuard(options, pve.readers, pve.writer);
  result.notes.insert(result.notes.begin(), pve.notes.begin(), pve.notes.end());
  result.notes.insert(result.notes.end(), node.notes.begin(), node.notes.end());
  for (const auto& warning : pve.files->warnings()) result.notes.push_back(warning);

  if (config.guard.placement == HookPlacement::kNode && !dry_run && node.errors.empty()) {
    CheckNodeDefaultInPve(config, pve, &node);
  }
  if (result.read_ok && !dry_run) CacheJobs(config, state, &result);

  bool log_failed = false;
  LogResult(result, node, config, dry_run, &log_failed);
  if (!dry_run) RememberIfClean(state, digest, result, node, log_failed);
  if (as_json) {
    std::printf("%s\n", Redact(ResultJson(result, node, config, dry_run).dump(2)).c_str());
  }
  return result.Ok() && node.errors.empty() && !log_failed ? kExitOk : kExitProblem;
}

}  // namespace pbk
