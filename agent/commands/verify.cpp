// `pbk-agent verify`: one screen that says whether this node is set up
// right. Every line is OK, WARN or FAIL and says how to fix what is not OK.
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "agent/commands/commands.h"
#include "agent/commands/common.h"
#include "agent/kuma_sync_plan.h"
#include "api/pve/cluster.h"
#include "api/pve/monitors_file.h"
#include "agent/core/fs.h"
#include "agent/guard.h"
#include "agent/guard_node.h"
#include "agent/kuma_session.h"
#include "api/kuma/kuma_client.h"
#include "agent/core/log.h"
#include "agent/monitor_advice.h"
#include "api/pve/placement.h"
#include "agent/core/process.h"
#include "agent/pve_access.h"
#include "hook/run_record.h"
#include "hook/spool.h"
#include "agent/core/text.h"

namespace pbk {

using nlohmann::json;

namespace {

enum class Status { kOk, kWarn, kFail };

const char* StatusName(Status status) {
  switch (status) {
    case Status::kOk: return "OK";
    case Status::kWarn: return "WARN";
    case Status::kFail: return "FAIL";
  }
  return "?";
}

struct Check {
  std::string name;
  Status status;
  std::string message;
  std::string fix;
};

class Report {
 public:
  void Add(const std::string& name, Status status, const std::string& message,
           const std::string& fix = "") {
    checks_.push_back({name, status, message, fix});
  }
  bool AnyFail() const {
    return std::any_of(checks_.begin(), checks_.end(),
                       [](const Check& c) { return c.status == Status::kFail; });
  }
  void Print(bool as_json) const {
    if (as_json) {
      json checks = json::array();
      for (const auto& check : checks_) {
        checks.push_back({{"check", check.name},
                          {"status", StatusName(check.status)},
                          {"message", check.message},
                          {"fix", check.fix}});
      }
      json document = {{"ok", !AnyFail()}, {"checks", std::move(checks)}};
      std::printf("%s\n", Redact(document.dump(2)).c_str());
      return;
    }
    for (const auto& check : checks_) {
      std::string line = std::string(StatusName(check.status)) +
                         std::string(5 - std::string(StatusName(check.status)).size(), ' ') +
                         check.name + ": " + check.message;
      if (!check.fix.empty()) line += "\n     fix: " + check.fix;
      std::printf("%s\n", Redact(line).c_str());
    }
    int fails = static_cast<int>(std::count_if(checks_.begin(), checks_.end(), [](const Check& c) {
      return c.status == Status::kFail;
    }));
    int warns = static_cast<int>(std::count_if(checks_.begin(), checks_.end(), [](const Check& c) {
      return c.status == Status::kWarn;
    }));
    std::printf("\n%s: %d check(s) failed, %d warning(s)\n",
                fails == 0 ? "this node is set up right" : "this node is NOT set up right", fails,
                warns);
  }

 private:
  std::vector<Check> checks_;
};

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

// Where the hook is set (guard.placement): vzdump.conf's node default, and
// which members carry pbk-agent's mark.
void CheckPlacement(const Config& config, const std::string& config_path, const NodeSetup& node,
                    Report* report) {
  for (const auto& error : node.errors) report->Add("placement", Status::kFail, error);
  const std::string& conf = config.paths.vzdump_conf;
  if (config.guard.placement == HookPlacement::kNode) {
    if (node.node_default_ours) {
      report->Add("node default", Status::kOk,
                  conf + " runs the hook for every job without a script of its own");
    } else if (node.conf.action == ConfAction::kLeave) {
      report->Add("node default", Status::kFail, conf + ": " + node.conf.why);
    } else {
      report->Add("node default", Status::kFail,
                  conf + " does not name the hook: jobs without a script of their own run none",
                  "pbk-agent guard (the timer does it within minutes)");
    }
  } else if (node.node_default_ours) {
    report->Add("node default", Status::kWarn,
                conf + " names the hook although guard.placement is \"job\"",
                "pbk-agent guard takes it out");
  }
  if (config.guard.placement == HookPlacement::kJob) {
    report->Add("placement", Status::kWarn,
                "guard.placement is \"job\": the jobs carry the hook themselves, so PVE refuses "
                "\"Run now\" of them to everyone but root@pam (\"script: Only root may set this "
                "option.\")",
                "\"guard\": {\"placement\": \"node\"} (the default) in " + config_path +
                    " sets the hook in vzdump.conf instead");
  }
  std::vector<std::string> problems;
  const std::vector<std::string> missing =
      UnmarkedNodes(config.paths.pve_dir, node.members.nodes, &problems);
  for (const auto& problem : problems) report->Add("pbk-agent nodes", Status::kWarn, problem);
  std::vector<std::string> present;
  for (const auto& member : node.members.nodes) {
    if (std::find(missing.begin(), missing.end(), member) == missing.end()) {
      present.push_back(member);
    }
  }
  const std::string on = present.empty() ? "on no node" : "on " + Join(present, ", ");
  if (missing.empty()) {
    report->Add("pbk-agent nodes", Status::kOk, on);
  } else {
    const bool here = std::find(missing.begin(), missing.end(), node.members.local) !=
                      missing.end();
    report->Add("pbk-agent nodes", Status::kWarn,
                on + "; missing on " + Join(missing, ", ") +
                    (config.guard.placement == HookPlacement::kJob
                         ? ": jobs that run there do not get the hook"
                         : ": runs of backup jobs there are not monitored"),
                here ? "pbk-agent guard marks this node; install pbk-agent on the others "
                       "(the Ansible role proxmox-backup-push does every node)"
                     : "install pbk-agent there (the Ansible role proxmox-backup-push does "
                       "every node)");
  }
}

void CheckHookScript(const Config& config, Report* report) {
  const std::string& path = config.paths.hook_script;
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    report->Add("hook script", Status::kFail, path + " does not exist: vzdump fails every job "
                                                     "that names it",
                "install pbk-agent (it ships the hook) or run the Ansible role");
    return;
  }
  if (!S_ISREG(st.st_mode) || access(path.c_str(), X_OK) != 0) {
    report->Add("hook script", Status::kFail, path + " is not an executable file",
                "chmod 755 " + path);
    return;
  }
  std::string text, err;
  if (!ReadFile(path, &text, &err)) {
    report->Add("hook script", Status::kFail, err);
    return;
  }
  const std::string bin = WrapperValue(text, "bin");
  const std::string self = RealPath("/proc/self/exe");
  if (bin.empty()) {
    report->Add("hook script", Status::kFail, path + " is not pbk-agent's hook wrapper",
                "reinstall pbk-agent; keep other hooks in your own file");
    return;
  }
  if (RealPath(bin) != self) {
    report->Add("hook script", Status::kFail,
                path + " runs " + bin + ", not this program (" + self + ")",
                "reinstall pbk-agent so the wrapper is regenerated");
    return;
  }
  const std::string wrapper_config = WrapperValue(text, "config");
  if (RealPath(wrapper_config) != RealPath(config.path)) {
    report->Add("hook script", Status::kWarn,
                path + " reads " + wrapper_config + ", this check read " + config.path,
                "check with: pbk-agent --config " + wrapper_config + " verify");
    return;
  }
  report->Add("hook script", Status::kOk, path + " runs " + bin);
}

std::string LastRunWords(const RunRecord& run) {
  std::string when = FormatLocalTime(run.end_ms > 0 ? run.end_ms : run.first_ms);
  return when + ", " + (run.push.up ? "up" : "down") + ", " + PushStateName(run.push.state);
}

// The settings the job's Kuma push monitor needs: the same for every job,
// since refresh pushes each job's state every few minutes (refresh.h).
void AddKumaSettings(const BackupJob& job, const Config& config, Report* report) {
  const int minutes = config.kuma.heartbeat_interval_minutes;
  report->Add("Kuma settings " + job.id, Status::kOk,
              "heartbeat interval " + std::to_string(minutes * 60) + " s (" +
                  std::to_string(minutes) + " min), Retries 0; refresh pushes the job's state "
                  "every " + std::to_string(kTimerPeriodMinutes) + " to " +
                  std::to_string(kTimerPeriodMinutes + kTimerJitterMinutes) + " minutes");
}

}  // namespace

// Whether the monitors file of `kuma sync` was made from the cluster as it is.
void CheckMonitorsFile(const Config& config, const std::vector<BackupJob>& jobs,
                       const std::vector<Guest>& guests, const MonitorsFile& file,
                       Report* report) {
  ClusterMembers members;
  std::string err;
  if (!ReadMembers(config.paths.pve_dir, config.node, &members, &err)) {
    report->Add("monitors file", Status::kWarn, "the cluster's members cannot be read: " + err);
    return;
  }
  const std::vector<std::string> drift =
      MonitorsFileDrift(MakeClusterFacts(jobs, guests, members.nodes), file);
  if (drift.empty()) {
    report->Add("monitors file", Status::kOk, "made from the current jobs");
  } else {
    report->Add("monitors file", Status::kWarn, Join(drift, "; "),
                "pbk-agent kuma sync (the timer runs it when a Kuma session is stored)");
  }
}

int CmdVerify(const Invocation& invocation) {
  InitLogging(LogStyle::kStderr, invocation.debug);
  std::set<std::string> flags;
  if (!ParseFlags(invocation, {"--json"}, "pbk-agent verify [--json]", &flags)) return kExitUsage;
  const bool as_json = flags.count("--json") > 0;
  Report report;
  Config config;
  std::vector<std::string> errors;
  if (!LoadConfig(invocation.config_path, &config, &errors)) {
    report.Add("configuration", Status::kFail, Join(errors, "; "),
               "fix " + invocation.config_path + " (pbk-agent check-config tells the same)");
    report.Print(as_json);
    return kExitUsage;
  }
  report.Add("configuration", Status::kOk,
             config.path + " is valid" + (config.jobs.empty() ? "" : " and private"));
  // The tokens `kuma sync` keeps for this node, where the configuration has none.
  const std::map<std::string, JobConfig> configured = config.jobs;
  MonitorsFile monitors_file;
  bool has_monitors_file = false;
  std::string monitors_err;
  if (!LoadMonitorsFile(MonitorsFilePath(config.paths.pve_dir), &monitors_file,
                        &has_monitors_file, &monitors_err) ||
      !LoadSyncedTokens(&config, &monitors_err)) {
    report.Add("monitors file", Status::kFail, monitors_err,
               "move the file away and run `pbk-agent kuma sync`");
  }
  AddSecrets(config.Secrets());

  // The PVE side.
  PveAccess pve;
  std::string err;
  if (!OpenPveAccess(config, &pve, &err)) {
    report.Add("API token secret", Status::kFail, err, "chmod 600 and chown root the file");
    report.Print(as_json);
    return kExitUsage;
  }
  // The hook's run records, for the longest run and the last push per job.
  std::vector<std::string> unreadable;
  const std::vector<RunRecord> runs = LoadAllRunRecords(config.paths.state_dir, &unreadable);
  std::vector<BackupJob> jobs;
  std::map<std::string, Placement> placements;  // by job id, once the jobs are read
  std::string source;
  if (pve.rest) {
    if (pve.rest->List(&jobs, &err)) {
      source = "rest";
      report.Add("PVE API", Status::kOk,
                 config.pve.api_url + " answered with TLS validated and the token " +
                     config.pve.token_id + " accepted");
    } else {
      report.Add("PVE API", Status::kFail, err,
                 "see README \"API token\"; until fixed the guard reads through pvesh");
    }
  } else {
    report.Add("PVE API", Status::kWarn, pve.rest_problem,
               "create the read-only token (README \"API token\"); without it every guard run "
               "calls pvesh, which is slow");
  }
  if (source.empty()) {
    for (JobReader* reader : pve.readers) {
      if (reader == pve.rest.get()) continue;
      if (reader->List(&jobs, &err)) {
        source = reader->Name();
        break;
      }
      report.Add("backup jobs", Status::kFail, "reading through " + reader->Name() + ": " + err);
    }
  }

  CheckHookScript(config, &report);

  if (source.empty()) {
    report.Add("backup jobs", Status::kFail, "no way to read the backup jobs worked",
               "check pve-cluster and pveproxy on this node");
  } else {
    int with_hook = 0;
    // The same decision the guard makes, on what it would find now.
    const NodeSetup node = PrepareNode(config, /*dry_run=*/true);
    CheckPlacement(config, invocation.config_path, node, &report);
    const GuardOptions options = GuardOptionsFor(config, node, /*dry_run=*/true);
    for (const auto& job : jobs) {
      bool guard_fixes = false;
      const GuardJobState state = HookStateOf(options, job, &guard_fixes);
      const std::string what_runs = job.script.empty() ? std::string("no script of its own")
                                                  : "its own script " + job.script;
      if (state.carries_hook) {
        ++with_hook;
      } else if (state.excluded) {
        report.Add("job " + job.id, Status::kWarn,
                   "excluded from the guard; runs " + what_runs + ", the hook is not in effect");
      } else if (guard_fixes) {
        report.Add("job " + job.id, Status::kFail,
                   "runs " + what_runs + ": the hook " + config.paths.hook_script +
                       " is not in effect",
                   "pbk-agent guard (the timer does it within minutes)");
      } else {
        report.Add("job " + job.id, Status::kFail,
                   "runs " + what_runs + ": the hook is not in effect: " + state.problem);
      }
    }
    report.Add("backup jobs", Status::kOk,
               std::to_string(jobs.size()) + " job(s) read through " + source + ", " +
                   std::to_string(with_hook) + " run the hook");
    // A vzdump.cron job's id hashes the whole file: any edit of any legacy
    // job, by an admin or PVE, gives it a new one and orphans its entry.
    for (const auto& job : jobs) {
      if (!job.IsLegacy() || config.jobs.count(job.id) == 0) continue;
      report.Add("key of " + job.id, Status::kWarn,
                 "a vzdump.cron job: its id changes whenever PVE rewrites that file, and its "
                 "entry in the configuration then names no job",
                 "edit the job once in the web UI (Datacenter > Backup), which moves it into "
                 "jobs.cfg under a fixed id, and move its entry in " + invocation.config_path +
                     " to that id");
    }

    // Monitors: every job that runs here needs one; every token a job.
    // Whether a job runs here depends on where its guests are now.
    std::vector<Guest> guests;
    const bool placed = ReadGuests(pve, &guests, &err);
    if (!placed) {
      report.Add("guest placement", Status::kWarn,
                 "where the guests are could not be read (" + err +
                     "): jobs are judged by their node option alone");
    }
    if (has_monitors_file && placed) CheckMonitorsFile(config, jobs, guests, monitors_file, &report);
    const GuestIndex index(guests);
    std::set<std::string> ids;
    for (const auto& job : jobs) {
      ids.insert(job.id);
      Placement placement;
      if (placed) {
        placement = PlaceJob(job, index, config.node);
      } else {
        placement.runs_here = job.node.empty() || job.node == config.node;
        placement.why = placement.runs_here ? "no node restriction"
                                            : "the job is restricted to node " + job.node;
      }
      placements[job.id] = placement;
      // An entry with only jobs.<id>.chain maps no monitor.
      const auto entry = config.jobs.find(job.id);
      const bool mapped = entry != config.jobs.end() && !entry->second.push_token.empty();
      if (mapped && placement.runs_here) {
        report.Add("monitor " + job.id, Status::kOk,
                   std::string(configured.count(job.id) > 0 &&
                                       !configured.at(job.id).push_token.empty()
                                   ? "push token configured"
                                                            : "push monitor in the monitors file") +
                       "; the job runs here (" + placement.why + ")");
        AddKumaSettings(job, config, &report);
      } else if (mapped) {
        report.Add("monitor " + job.id, Status::kWarn,
                   "the job will not run on this node, so its monitor will alarm: " +
                       placement.why,
                   "map the job on the node that runs it; drop the token here unless the "
                   "guests come back");
      } else if (placement.runs_here && job.enabled) {
        report.Add("monitor " + job.id, Status::kFail,
                   "the job runs on this node (" + placement.why +
                       ") but has no push token: no Kuma monitor hears about its runs",
                   has_monitors_file
                       ? "run `pbk-agent kuma sync`: the monitors file is older than this job"
                       : "create a push monitor (Retries 0) and add \"jobs\": {\"" + job.id +
                             "\": {\"push_token\": \"…\"}} to " + config.path);
      } else if (placement.runs_here) {
        report.Add("monitor " + job.id, Status::kWarn,
                   "disabled job without a push token (a \"Run now\" would go unreported)");
      }
    }
    for (const auto& [id, job] : config.jobs) {
      if (ids.count(id) > 0) continue;
      if (!job.push_token.empty()) {
        report.Add("monitor " + id, Status::kFail,
                   "a push token is configured for job " + id + ", which does not exist",
                   "remove it from " + config.path + " or correct the job id");
      } else {
        // Only a chain: nothing goes unmonitored, but the entry is stale.
        report.Add("chain of " + id, Status::kWarn,
                   "jobs." + id + ".chain names a job that does not exist",
                   "remove it from " + config.path + " or correct the job id");
      }
    }
  }

  // Hooks the guard replaced, and whether they still run through the chain.
  for (const auto& [id, script] : ReplacedScripts(config.paths.state_dir)) {
    const auto& chain = config.hook.chain;
    if (std::find(chain.begin(), chain.end(), script) != chain.end()) {
      report.Add("old hook of " + id, Status::kOk, script + " still runs, through hook.chain");
    } else {
      // Every node's guard fixes every job, so the node that replaced the
      // script may not be the one that runs the job: say where to chain it.
      auto placement = placements.find(id);
      const bool elsewhere = placement != placements.end() && !placement->second.runs_here;
      report.Add("old hook of " + id, Status::kWarn,
                 "the job ran " + script + " before the guard set this hook; it no longer runs" +
                     (elsewhere ? " (the job does not run on this node: " +
                                      placement->second.why + ")"
                                : std::string()),
                 "add it to \"hook\": {\"chain\": [\"" + script + "\"]} in " +
                     (elsewhere ? "the configuration of the nodes that run the job"
                                : config.path) +
                     " (or drop it if it is not needed)");
    }
  }

  // Kuma, without pushing.
  {
    std::string why;
    auto http = NewHttpClient(TlsSettings{config.kuma.ca_file, config.kuma.server_name}, &why);
    KumaClient kuma(http.get(), KumaEndpoint{config.kuma.endpoint.host, config.kuma.endpoint.port,
                                             config.kuma.endpoint.base_path,
                                             std::chrono::seconds(config.kuma.timeout_seconds)});
    if (http && kuma.Probe(&why)) {
      report.Add("Kuma", Status::kOk,
                 config.kuma.url + " reachable, certificate valid for " +
                     (config.kuma.server_name.empty() ? config.kuma.endpoint.host
                                                      : config.kuma.server_name));
    } else {
      report.Add("Kuma", Status::kFail, why,
                 "check kuma.url, kuma.ca_file and kuma.server_name, and that Kuma runs");
    }
    using Level = KumaSessionCheck::Level;
    const KumaSessionCheck session = CheckKumaSession(config, has_monitors_file);
    report.Add("Kuma session",
               session.level == Level::kOk     ? Status::kOk
               : session.level == Level::kWarn ? Status::kWarn
                                               : Status::kFail,
               session.message, session.fix);
  }

  // systemd units: enabled, running, and what the service's last run did.
  if (access("/run/systemd/system", F_OK) == 0) {
    auto systemctl = [](const std::vector<std::string>& args) {
      std::vector<std::string> argv = {"/usr/bin/systemctl"};
      argv.insert(argv.end(), args.begin(), args.end());
      ProcessResult result = RunProcess(argv, {{"LC_ALL", "C"}}, std::chrono::seconds(10));
      return std::string(Trim(result.out));
    };
    for (const char* unit : {"vzdump-hook-guard.path", "vzdump-hook-guard.timer"}) {
      const std::string enabled = systemctl({"is-enabled", unit});
      const std::string active = systemctl({"is-active", unit});
      const std::string name = std::string("unit ") + unit;
      if (enabled == "enabled" && active == "active") {
        report.Add(name, Status::kOk, "enabled and active");
      } else {
        report.Add(name, Status::kFail,
                   (enabled.empty() ? std::string("not enabled") : enabled) + ", " +
                       (active.empty() ? std::string("not active") : active) +
                       ": the guard, flush and refresh do not run on their own",
                   std::string("systemctl enable --now ") + unit);
      }
    }
    std::map<std::string, std::string> service;
    for (const auto& line : Split(systemctl({"show", "-p", "Result,ExecMainStartTimestamp,"
                                             "ExecMainStatus", "vzdump-hook-guard.service"}),
                                  '\n')) {
      const size_t eq = line.find('=');
      if (eq != std::string::npos) service[line.substr(0, eq)] = line.substr(eq + 1);
    }
    const std::string& result = service["Result"];
    const std::string& started = service["ExecMainStartTimestamp"];
    if (started.empty()) {
      report.Add("unit vzdump-hook-guard.service", Status::kWarn,
                 "has not run yet (the timer starts it within 5 minutes)",
                 "systemctl start vzdump-hook-guard.service");
    } else if (result == "success") {
      report.Add("unit vzdump-hook-guard.service", Status::kOk, "last run " + started + ": success");
    } else {
      report.Add("unit vzdump-hook-guard.service", Status::kFail,
                 "last run " + started + " failed (" + result + ", exit status " +
                     service["ExecMainStatus"] + "): refresh could not push",
                 "journalctl -u vzdump-hook-guard.service -n 50");
    }
  } else {
    report.Add("units", Status::kWarn, "systemd is not running here; units not checked");
  }

  // Who watches the guard: the node's own monitor.
  if (config.node_monitor.push_token.empty()) {
    report.Add("node monitor", Status::kWarn,
               "none configured: a dead node, a stopped timer or a job without a monitor is "
               "seen by nobody",
               "create a push monitor (Retries 0) and add \"node_monitor\": {\"push_token\": "
               "\"…\"} to " + config.path);
  } else {
    report.Add("node monitor", Status::kOk, "push token configured; refresh pushes the node's health");
  }
  if (const std::string advice = ConfigAdvice(config); !advice.empty()) {
    report.Add("heartbeat interval", Status::kWarn, advice);
  }

  // What is owed and what was reported.
  std::vector<std::string> bad;
  auto spooled = ListSpool(config.paths.state_dir, &bad);
  auto given_up = ListFailedSpool(config.paths.state_dir, &bad);
  if (!given_up.empty()) {
    std::vector<std::string> names;
    for (const auto& entry : given_up) {
      names.push_back("job " + entry.job_id + " from " + FormatLocalTime(entry.created_ms) +
                      " (" + entry.last_error + ")");
    }
    report.Add("spool/failed", Status::kFail,
               std::to_string(given_up.size()) + " push(es) that can never be delivered: " +
                   Join(names, "; "),
               "map the job again (jobs.<id>.push_token) and move the files back to " +
                   SpoolDir(config.paths.state_dir) + "/, or remove them from " +
                   FailedSpoolDir(config.paths.state_dir) + "/");
  }
  if (spooled.empty() && bad.empty()) {
    report.Add("spool", Status::kOk, "no push waiting");
  } else {
    std::string words = std::to_string(spooled.size()) + " push(es) waiting";
    if (!spooled.empty()) words += ", the oldest from " + FormatLocalTime(spooled.front().created_ms);
    if (!bad.empty()) words += "; unreadable: " + Join(bad, "; ");
    report.Add("spool", Status::kFail, words,
               "pbk-agent flush (the guard's service runs it every few minutes)");
  }
  const std::map<std::string, RunRecord> last = LatestRunPerJob(runs);
  for (const auto& [id, job] : config.jobs) {
    auto it = last.find(id);
    if (it == last.end()) {
      report.Add("last push " + id, Status::kWarn, "no run of this job recorded on this node yet",
                 "test the monitor: " + config.paths.hook_script + " job-end ok " + id);
      continue;
    }
    const RunRecord& run = it->second;
    Status status = run.push.state == PushState::kDelivered
                        ? (run.push.up ? Status::kOk : Status::kWarn)
                        : (run.push.state == PushState::kSpooled ? Status::kWarn : Status::kFail);
    report.Add("last push " + id, status, LastRunWords(run) + ": " + run.push.message);
  }
  report.Print(as_json);
  return report.AnyFail() ? kExitProblem : kExitOk;
}

}  // namespace pbk
