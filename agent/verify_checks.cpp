#include "agent/verify_checks.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <set>

#include "agent/core/fs.h"
#include "agent/core/log.h"
#include "agent/core/state_layout.h"
#include "agent/core/text.h"
#include "agent/guard.h"
#include "agent/kuma_sync_plan.h"
#include "api/pve/cluster.h"

namespace pbk {

const char* CheckStatusName(CheckStatus status) {
  // clang-format off
  switch (status) {
    case CheckStatus::kOk: return "OK";
    case CheckStatus::kWarn: return "WARN";
    case CheckStatus::kFail: return "FAIL";
  }
  // clang-format on
  return "?";
}

bool CheckResults::AnyFail() const { return Count(CheckStatus::kFail) > 0; }

int CheckResults::Count(CheckStatus status) const {
  return static_cast<int>(
      std::count_if(results_.begin(), results_.end(),
                    [status](const CheckResult& r) { return r.status == status; }));
}

bool OpenVerifyContext(const std::string& config_path, VerifyContext* context,
                       CheckResults* results) {
  context->config_path = config_path;
  std::vector<std::string> errors;
  if (!LoadConfig(config_path, &context->config, &errors)) {
    results->Add("configuration", CheckStatus::kFail, Join(errors, "; "),
                 "fix " + config_path + " (pbk-agent check-config tells the same)");
    return false;
  }
  Config& config = context->config;
  results->Add("configuration", CheckStatus::kOk,
               config.path + " is valid" + (config.jobs.empty() ? "" : " and private"));
  // The tokens `kuma sync` keeps for this node, where the configuration has none.
  context->configured_jobs = config.jobs;
  std::string monitors_err;
  if (!LoadMonitorsFile(MonitorsFilePath(config.paths.pve_dir), &context->monitors_file,
                        &context->has_monitors_file, &monitors_err) ||
      !LoadSyncedTokens(&config, &monitors_err)) {
    results->Add("monitors file", CheckStatus::kFail, monitors_err,
                 "move the file away and run `pbk-agent kuma sync`");
  }
  AddSecrets(config.Secrets());
  std::string err;
  if (!OpenPveAccess(config, &context->pve, &err)) {
    results->Add("API token secret", CheckStatus::kFail, err, "chmod 600 and chown root the file");
    return false;
  }
  return true;
}

namespace {

using Status = CheckStatus;

// The REST API with the read-only token; its job list, when it answers, is
// the one the other checks use.
void CheckPveApi(VerifyContext* context, CheckResults* results) {
  const Config& config = context->config;
  PveAccess& pve = context->pve;
  if (!pve.rest) {
    results->Add("PVE API", Status::kWarn, pve.rest_problem,
                 "create the read-only token (README \"API token\"); without it every guard run "
                 "calls pvesh, which is slow");
    return;
  }
  std::string err;
  if (pve.rest->List(&context->jobs, &err)) {
    context->jobs_source = "rest";
    results->Add("PVE API", Status::kOk,
                 config.pve.api_url + " answered with TLS validated and the token " +
                     config.pve.token_id + " accepted");
  } else {
    results->Add("PVE API", Status::kFail, err,
                 "see README \"API token\"; until fixed the guard reads through pvesh");
  }
}

// Without REST, the other ways to the jobs in turn (pvesh, the files).
void CheckOtherJobReaders(VerifyContext* context, CheckResults* results) {
  if (!context->jobs_source.empty()) return;
  for (JobReader* reader : context->pve.readers) {
    if (reader == context->pve.rest.get()) continue;
    std::string err;
    if (reader->List(&context->jobs, &err)) {
      context->jobs_source = reader->Name();
      return;
    }
    results->Add("backup jobs", Status::kFail, "reading through " + reader->Name() + ": " + err);
  }
}

std::string RealPath(const std::string& path) {
  char buffer[PATH_MAX];
  return realpath(path.c_str(), buffer) != nullptr ? std::string(buffer) : path;
}

// The value of a line "NAME='VALUE'" in the wrapper script.
std::string WrapperValue(const std::string& script, const std::string& name) {
  for (const auto& line : Split(script, '\n')) {
    std::string prefix = name + "='";
    if (StartsWith(line, prefix) && EndsWith(Trim(line), "'")) {
      std::string_view value = Trim(line);
      return std::string(value.substr(prefix.size(), value.size() - prefix.size() - 1));
    }
  }
  return {};
}

// The wrapper vzdump runs: there, executable, and running this program with
// this configuration.
void CheckHookScript(VerifyContext* context, CheckResults* results) {
  const Config& config = context->config;
  const std::string& path = config.paths.hook_script;
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    results->Add("hook script", Status::kFail,
                 path + " does not exist: vzdump fails every job that names it",
                 "install pbk-agent (it ships the hook) or run the Ansible role");
    return;
  }
  if (!S_ISREG(st.st_mode) || access(path.c_str(), X_OK) != 0) {
    results->Add("hook script", Status::kFail, path + " is not an executable file",
                 "chmod 755 " + path);
    return;
  }
  std::string text, err;
  if (!ReadFile(path, &text, &err)) {
    results->Add("hook script", Status::kFail, err);
    return;
  }
  const std::string bin = WrapperValue(text, "bin");
  const std::string self = RealPath("/proc/self/exe");
  if (bin.empty()) {
    results->Add("hook script", Status::kFail, path + " is not pbk-agent's hook wrapper",
                 "reinstall pbk-agent; keep other hooks in your own file");
    return;
  }
  if (RealPath(bin) != self) {
    results->Add("hook script", Status::kFail,
                 path + " runs " + bin + ", not this program (" + self + ")",
                 "reinstall pbk-agent so the wrapper is regenerated");
    return;
  }
  const std::string wrapper_config = WrapperValue(text, "config");
  if (RealPath(wrapper_config) != RealPath(config.path)) {
    results->Add("hook script", Status::kWarn,
                 path + " reads " + wrapper_config + ", this check read " + config.path,
                 "check with: pbk-agent --config " + wrapper_config + " verify");
    return;
  }
  results->Add("hook script", Status::kOk, path + " runs " + bin);
}

// Where the hook is set (guard.placement): vzdump.conf's node default, and
// which members carry pbk-agent's mark. Reads what the guard would find now.
void CheckPlacement(VerifyContext* context, CheckResults* results) {
  if (context->jobs_source.empty()) return;
  const Config& config = context->config;
  context->node = PrepareNode(config, /*dry_run=*/true);
  const NodeSetup& node = context->node;
  for (const auto& error : node.errors) results->Add("placement", Status::kFail, error);
  const std::string& conf = config.paths.vzdump_conf;
  if (config.guard.placement == HookPlacement::kNode) {
    if (node.node_default_ours) {
      results->Add("node default", Status::kOk,
                   conf + " runs the hook for every job without a script of its own");
    } else if (node.conf.action == ConfAction::kLeave) {
      results->Add("node default", Status::kFail, conf + ": " + node.conf.why);
    } else {
      results->Add("node default", Status::kFail,
                   conf + " does not name the hook: jobs without a script of their own run none",
                   "pbk-agent guard (the timer does it within minutes)");
    }
  } else if (node.node_default_ours) {
    results->Add("node default", Status::kWarn,
                 conf + " names the hook although guard.placement is \"job\"",
                 "pbk-agent guard takes it out");
  }
  if (config.guard.placement == HookPlacement::kJob) {
    results->Add("placement", Status::kWarn,
                 "guard.placement is \"job\": the jobs carry the hook themselves, so PVE refuses "
                 "\"Run now\" of them to everyone but root@pam (\"script: Only root may set this "
                 "option.\")",
                 "\"guard\": {\"placement\": \"node\"} (the default) in " + context->config_path +
                     " sets the hook in vzdump.conf instead");
  }
  std::vector<std::string> problems;
  const std::vector<std::string> missing =
      UnmarkedNodes(config.paths.pve_dir, node.members.nodes, &problems);
  for (const auto& problem : problems) results->Add("pbk-agent nodes", Status::kWarn, problem);
  std::vector<std::string> present;
  for (const auto& member : node.members.nodes) {
    if (std::find(missing.begin(), missing.end(), member) == missing.end()) {
      present.push_back(member);
    }
  }
  const std::string on = present.empty() ? "on no node" : "on " + Join(present, ", ");
  if (missing.empty()) {
    results->Add("pbk-agent nodes", Status::kOk, on);
    return;
  }
  const bool here =
      std::find(missing.begin(), missing.end(), node.members.local) != missing.end();
  results->Add("pbk-agent nodes", Status::kWarn,
               on + "; missing on " + Join(missing, ", ") +
                   (config.guard.placement == HookPlacement::kJob
                        ? ": jobs that run there do not get the hook"
                        : ": runs of backup jobs there are not monitored"),
               here ? "pbk-agent guard marks this node; install pbk-agent on the others "
                      "(the Ansible role proxmox-backup-push does every node)"
                    : "install pbk-agent there (the Ansible role proxmox-backup-push does "
                      "every node)");
}

// Whether the hook is in effect for every job: the same decision as the
// guard's (node default, marks, chained scripts), on what it would find now.
void CheckJobHooks(VerifyContext* context, CheckResults* results) {
  const Config& config = context->config;
  if (context->jobs_source.empty()) {
    results->Add("backup jobs", Status::kFail, "no way to read the backup jobs worked",
                 "check pve-cluster and pveproxy on this node");
    return;
  }
  const GuardOptions options = GuardOptionsFor(config, context->node, /*dry_run=*/true);
  int with_hook = 0;
  for (const auto& job : context->jobs) {
    bool guard_fixes = false;
    const GuardJobState state = HookStateOf(options, job, &guard_fixes);
    const std::string what_runs = job.script.empty() ? std::string("no script of its own")
                                                     : "its own script " + job.script;
    if (state.carries_hook) {
      ++with_hook;
    } else if (state.excluded) {
      results->Add("job " + job.id, Status::kWarn,
                   "excluded from the guard; runs " + what_runs + ", the hook is not in effect");
    } else if (guard_fixes) {
      results->Add("job " + job.id, Status::kFail,
                   "runs " + what_runs + ": the hook " + config.paths.hook_script +
                       " is not in effect",
                   "pbk-agent guard (the timer does it within minutes)");
    } else {
      results->Add("job " + job.id, Status::kFail,
                   "runs " + what_runs + ": the hook is not in effect: " + state.problem);
    }
  }
  results->Add("backup jobs", Status::kOk,
               std::to_string(context->jobs.size()) + " job(s) read through " +
                   context->jobs_source + ", " + std::to_string(with_hook) + " run the hook");
}

// A vzdump.cron job's id hashes the whole file: any edit of any legacy job,
// by an admin or PVE, gives it a new one and orphans its entry.
void CheckLegacyKeys(VerifyContext* context, CheckResults* results) {
  for (const auto& job : context->jobs) {
    if (!job.IsLegacy() || context->config.jobs.count(job.id) == 0) continue;
    results->Add("key of " + job.id, Status::kWarn,
                 "a vzdump.cron job: its id changes whenever PVE rewrites that file, and its "
                 "entry in the configuration then names no job",
                 "edit the job once in the web UI (Datacenter > Backup), which moves it into "
                 "jobs.cfg under a fixed id, and move its entry in " + context->config_path +
                     " to that id");
  }
}

// Where each job runs: by where its guests are now, else by its node option.
void CheckGuestPlacement(VerifyContext* context, CheckResults* results) {
  if (context->jobs_source.empty()) return;
  std::vector<Guest>& guests = context->guests;
  std::string err;
  const bool placed = ReadGuests(context->pve, &guests, &err);
  context->guests_placed = placed;
  if (!placed) {
    results->Add("guest placement", Status::kWarn,
                 "where the guests are could not be read (" + err +
                     "): jobs are judged by their node option alone");
  }
  const GuestIndex index(guests);
  const std::string& node = context->config.node;
  for (const auto& job : context->jobs) {
    Placement placement;
    if (placed) {
      placement = PlaceJob(job, index, node);
    } else {
      placement.runs_here = job.node.empty() || job.node == node;
      placement.why =
          placement.runs_here ? "no node restriction" : "the job is restricted to node " + job.node;
    }
    context->placements[job.id] = placement;
  }
}

// The settings the job's Kuma push monitor needs: the same for every job,
// since refresh pushes each job's state every few minutes (refresh.h).
void AddKumaSettings(const BackupJob& job, const Config& config, CheckResults* results) {
  const int minutes = config.kuma.heartbeat_interval_minutes;
  results->Add("Kuma settings " + job.id, Status::kOk,
               "heartbeat interval " + std::to_string(minutes * 60) + " s (" +
                   std::to_string(minutes) +
                   " min), Retries 0; refresh pushes the job's state "
                   "every " +
                   std::to_string(kTimerPeriodMinutes) + " to " +
                   std::to_string(kTimerPeriodMinutes + kTimerJitterMinutes) + " minutes");
}

// Whether the monitors file of `kuma sync` was made from the cluster as it is.
void CheckMonitorsFile(VerifyContext* context, CheckResults* results) {
  if (context->jobs_source.empty() || !context->has_monitors_file || !context->guests_placed) {
    return;
  }
  const Config& config = context->config;
  ClusterMembers members;
  std::string err;
  if (!ReadMembers(config.paths.pve_dir, config.node, &members, &err)) {
    results->Add("monitors file", Status::kWarn, "the cluster's members cannot be read: " + err);
    return;
  }
  const std::vector<std::string> drift = MonitorsFileDrift(
      MakeClusterFacts(context->jobs, context->guests, members.nodes), context->monitors_file);
  if (drift.empty()) {
    results->Add("monitors file", Status::kOk, "made from the current jobs");
  } else {
    results->Add("monitors file", Status::kWarn, Join(drift, "; "),
                 "pbk-agent kuma sync (the timer runs it when a Kuma session is stored)");
  }
}

// Monitors: every job that runs here needs one; every token a job.
void CheckMonitors(VerifyContext* context, CheckResults* results) {
  if (context->jobs_source.empty()) return;
  const Config& config = context->config;
  std::set<std::string> ids;
  for (const auto& job : context->jobs) {
    ids.insert(job.id);
    const Placement& placement = context->placements[job.id];
    // An entry with only jobs.<id>.chain maps no monitor.
    const auto entry = config.jobs.find(job.id);
    const bool mapped = entry != config.jobs.end() && !entry->second.push_token.empty();
    const auto configured = context->configured_jobs.find(job.id);
    const std::string name = "monitor " + job.id;
    if (mapped && placement.runs_here) {
      results->Add(name, Status::kOk,
                   std::string(configured != context->configured_jobs.end() &&
                                       !configured->second.push_token.empty()
                                   ? "push token configured"
                                   : "push monitor in the monitors file") +
                       "; the job runs here (" + placement.why + ")");
      AddKumaSettings(job, config, results);
    } else if (mapped) {
      results->Add(name, Status::kWarn,
                   "the job will not run on this node, so its monitor will alarm: " + placement.why,
                   "map the job on the node that runs it; drop the token here unless the "
                   "guests come back");
    } else if (placement.runs_here && job.enabled) {
      results->Add(name, Status::kFail,
                   "the job runs on this node (" + placement.why +
                       ") but has no push token: no Kuma monitor hears about its runs",
                   context->has_monitors_file
                       ? "run `pbk-agent kuma sync`: the monitors file is older than this job"
                       : "create a push monitor (Retries 0) and add \"jobs\": {\"" + job.id +
                             "\": {\"push_token\": \"…\"}} to " + config.path);
    } else if (placement.runs_here) {
      results->Add(name, Status::kWarn,
                   "disabled job without a push token (a \"Run now\" would go unreported)");
    }
  }
  for (const auto& [id, job] : config.jobs) {
    if (ids.count(id) > 0) continue;
    if (!job.push_token.empty()) {
      results->Add("monitor " + id, Status::kFail,
                   "a push token is configured for job " + id + ", which does not exist",
                   "remove it from " + config.path + " or correct the job id");
    } else {
      // Only a chain: nothing goes unmonitored, but the entry is stale.
      results->Add("chain of " + id, Status::kWarn,
                   "jobs." + id + ".chain names a job that does not exist",
                   "remove it from " + config.path + " or correct the job id");
    }
  }
}

// Hooks the guard replaced, and whether they still run through the chain.
void CheckReplacedHooks(VerifyContext* context, CheckResults* results) {
  const Config& config = context->config;
  const std::string replaced_file = StateLayout(config.paths.state_dir).ReplacedScripts();
  for (const auto& [id, script] : ReplacedScripts(replaced_file)) {
    const auto& chain = config.hook.chain;
    if (std::find(chain.begin(), chain.end(), script) != chain.end()) {
      results->Add("old hook of " + id, Status::kOk, script + " still runs, through hook.chain");
      continue;
    }
    // Every node's guard fixes every job, so the node that replaced the
    // script may not be the one that runs the job: say where to chain it.
    auto placement = context->placements.find(id);
    const bool elsewhere = placement != context->placements.end() && !placement->second.runs_here;
    results->Add(
        "old hook of " + id, Status::kWarn,
        "the job ran " + script + " before the guard set this hook; it no longer runs" +
            (elsewhere ? " (the job does not run on this node: " + placement->second.why + ")"
                       : std::string()),
        "add it to \"hook\": {\"chain\": [\"" + script + "\"]} in " +
            (elsewhere ? "the configuration of the nodes that run the job" : config.path) +
            " (or drop it if it is not needed)");
  }
}

}  // namespace

const std::vector<VerifyCheck>& VerifyChecks() {
  // clang-format off
  static const std::vector<VerifyCheck> kChecks = {
      CheckPveApi, CheckOtherJobReaders, CheckHookScript,                    // PVE's jobs
      CheckPlacement, CheckJobHooks, CheckLegacyKeys,                        // the hook
      CheckGuestPlacement, CheckMonitorsFile, CheckMonitors, CheckReplacedHooks,  // monitors
      CheckKuma, CheckKumaSessionLine, CheckMonitorsInKuma,                  // Kuma
      CheckUnits, CheckServiceRun,                                           // units
      CheckNodeMonitor, CheckHeartbeatInterval,
      CheckSpool, CheckLastPushes,  // what is owed, what was pushed
  };
  // clang-format on
  return kChecks;
}

}  // namespace pbk
