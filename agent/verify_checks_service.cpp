// The checks of verify that do not read PVE: Kuma, the units and what the
// hook owes and reported.
#include <unistd.h>

#include <map>

#include "agent/core/log.h"
#include "agent/core/process.h"
#include "agent/core/state_layout.h"
#include "agent/core/text.h"
#include "agent/kuma_session.h"
#include "agent/verify_checks.h"
#include "api/kuma/kuma_client.h"
#include "hook/run_record.h"
#include "hook/spool.h"

namespace pbk {

namespace {

using Status = CheckStatus;

std::string Systemctl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"/usr/bin/systemctl"};
  argv.insert(argv.end(), args.begin(), args.end());
  ProcessResult result = RunProcess(argv, {{"LC_ALL", "C"}}, std::chrono::seconds(10));
  return std::string(Trim(result.out));
}

std::string LastRunWords(const RunRecord& run) {
  std::string when = FormatLocalTime(run.end_ms > 0 ? run.end_ms : run.first_ms);
  return when + ", " + (run.push.up ? "up" : "down") + ", " + PushStateName(run.push.state);
}

}  // namespace

// Kuma, without pushing.
void CheckKuma(VerifyContext* context, CheckResults* results) {
  const Config& config = context->config;
  std::string why;
  auto http = NewHttpClient(TlsSettings{config.kuma.ca_file, config.kuma.server_name}, &why);
  KumaClient kuma(http.get(), KumaEndpoint{config.kuma.endpoint.host, config.kuma.endpoint.port,
                                           config.kuma.endpoint.base_path,
                                           std::chrono::seconds(config.kuma.timeout_seconds)});
  if (http && kuma.Probe(&why)) {
    results->Add("Kuma", Status::kOk,
                 config.kuma.url + " reachable, certificate valid for " +
                     (config.kuma.server_name.empty() ? config.kuma.endpoint.host
                                                      : config.kuma.server_name));
  } else {
    results->Add("Kuma", Status::kFail, why,
                 "check kuma.url, kuma.ca_file and kuma.server_name, and that Kuma runs");
  }
}

// Whether the stored Kuma session is accepted (`kuma sync` needs it once a
// monitors file exists).
void CheckKumaSessionLine(VerifyContext* context, CheckResults* results) {
  using Level = KumaSessionCheck::Level;
  const KumaSessionCheck session = CheckKumaSession(context->config, context->has_monitors_file);
  results->Add("Kuma session",
               session.level == Level::kOk     ? Status::kOk
               : session.level == Level::kWarn ? Status::kWarn
                                               : Status::kFail,
               session.message, session.fix);
  context->kuma_monitors = session.monitors;
}

namespace {

// What is wrong with the monitor ID of the monitors file in Kuma's list, or
// "" when it exists, runs and has TOKEN.
std::string MonitorProblem(const nlohmann::json& kuma, int id, const std::string& token,
                           std::string* fix) {
  const std::string key = std::to_string(id);
  const auto found = kuma.find(key);
  if (found == kuma.end() || !found->is_object()) {
    *fix = "run `pbk-agent kuma sync`: it makes the monitor again";
    return "monitor " + key + " is not in Kuma (deleted there?): pushes with its token get 404";
  }
  std::string name;
  bool active = true;
  std::string kuma_token;
  for (const auto& [field, value] : found->items()) {
    if (field == "name" && value.is_string()) name = value.get<std::string>();
    if (field == "active") active = !(value == false || value == 0);
    if (field == "pushToken" && value.is_string()) kuma_token = value.get<std::string>();
  }
  if (!active) {
    *fix = "resume it in Kuma";
    return "monitor " + key + " " + Quote(name) + " is paused in Kuma: it never alarms";
  }
  if (kuma_token != token) {
    *fix = "run `pbk-agent kuma sync`: it takes Kuma's token into the monitors file";
    return "monitor " + key + " " + Quote(name) +
           " has another push token in Kuma than in the monitors file: pushes are lost";
  }
  return "";
}

}  // namespace

// This node's monitors of the monitors file, as Kuma has them (with a
// valid session): each exists, runs, and has the token the hook sends.
void CheckMonitorsInKuma(VerifyContext* context, CheckResults* results) {
  const nlohmann::json& kuma = context->kuma_monitors;
  const std::string& node = context->config.node;
  if (!kuma.is_object() || !context->has_monitors_file || node.empty()) return;
  const MonitorsFile& file = context->monitors_file;
  int fine = 0;
  auto check = [&](const std::string& name, const PushMonitorEntry& entry) {
    std::string fix;
    const std::string problem = MonitorProblem(kuma, entry.monitor_id, entry.push_token, &fix);
    if (problem.empty()) {
      ++fine;
    } else {
      results->Add("in Kuma: " + name, Status::kFail, problem, fix);
    }
  };
  for (const auto& [key, job] : file.jobs) {
    const auto here = job.nodes.find(node);
    if (here != job.nodes.end()) check(job.name + " @ " + node, here->second);
  }
  const auto own = file.node_monitors.find(node);
  if (own != file.node_monitors.end()) check("pbk-agent @ " + node, own->second);
  if (fine > 0) {
    results->Add("monitors in Kuma", Status::kOk,
                 std::to_string(fine) + " of this node's monitors exist, run and have the "
                 "monitors file's tokens");
  }
}

// The path and timer units: enabled and active.
void CheckUnits(VerifyContext* /*context*/, CheckResults* results) {
  if (access("/run/systemd/system", F_OK) != 0) {
    results->Add("units", Status::kWarn, "systemd is not running here; units not checked");
    return;
  }
  for (const char* unit : {"vzdump-hook-guard.path", "vzdump-hook-guard.timer"}) {
    const std::string enabled = Systemctl({"is-enabled", unit});
    const std::string active = Systemctl({"is-active", unit});
    const std::string name = std::string("unit ") + unit;
    if (enabled == "enabled" && active == "active") {
      results->Add(name, Status::kOk, "enabled and active");
    } else {
      results->Add(name, Status::kFail,
                   (enabled.empty() ? std::string("not enabled") : enabled) + ", " +
                       (active.empty() ? std::string("not active") : active) +
                       ": the guard, flush and refresh do not run on their own",
                   std::string("systemctl enable --now ") + unit);
    }
  }
}

// What the service's last run did.
void CheckServiceRun(VerifyContext* /*context*/, CheckResults* results) {
  if (access("/run/systemd/system", F_OK) != 0) return;  // said by CheckUnits
  std::map<std::string, std::string> service;
  for (const auto& line :
       Split(Systemctl({"show", "-p", "Result,ExecMainStartTimestamp,ExecMainStatus",
                        "vzdump-hook-guard.service"}),
             '\n')) {
    const size_t eq = line.find('=');
    if (eq != std::string::npos) service[line.substr(0, eq)] = line.substr(eq + 1);
  }
  const std::string& result = service["Result"];
  const std::string& started = service["ExecMainStartTimestamp"];
  const std::string name = "unit vzdump-hook-guard.service";
  if (started.empty()) {
    results->Add(name, Status::kWarn, "has not run yet (the timer starts it within 5 minutes)",
                 "systemctl start vzdump-hook-guard.service");
  } else if (result == "success") {
    results->Add(name, Status::kOk, "last run " + started + ": success");
  } else {
    results->Add(name, Status::kFail,
                 "last run " + started + " failed (" + result + ", exit status " +
                     service["ExecMainStatus"] + "): refresh could not push",
                 "journalctl -u vzdump-hook-guard.service -n 50");
  }
}

// Who watches the guard: the node's own monitor.
void CheckNodeMonitor(VerifyContext* context, CheckResults* results) {
  const Config& config = context->config;
  if (config.node_monitor.push_token.empty()) {
    results->Add("node monitor", Status::kWarn,
                 "none configured: a dead node, a stopped timer or a job without a monitor is "
                 "seen by nobody",
                 "create a push monitor (Retries 0) and add \"node_monitor\": {\"push_token\": "
                 "\"…\"} to " +
                     config.path);
  } else {
    results->Add("node monitor", Status::kOk,
                 "push token configured; refresh pushes the node's health");
  }
}

void CheckHeartbeatInterval(VerifyContext* context, CheckResults* results) {
  if (const std::string advice = ConfigAdvice(context->config); !advice.empty()) {
    results->Add("heartbeat interval", Status::kWarn, advice);
  }
}

// Pushes Kuma will never take, and pushes still owed.
void CheckSpool(VerifyContext* context, CheckResults* results) {
  const StateLayout state(context->config.paths.state_dir);
  std::vector<std::string> bad;
  auto spooled = ListSpool(state, &bad);
  auto given_up = ListFailedSpool(state, &bad);
  if (!given_up.empty()) {
    std::vector<std::string> names;
    for (const auto& entry : given_up) {
      names.push_back("job " + entry.job_id + " from " + FormatLocalTime(entry.created_ms) + " (" +
                      entry.last_error + ")");
    }
    results->Add("spool/failed", Status::kFail,
                 std::to_string(given_up.size()) +
                     " push(es) that can never be delivered: " + Join(names, "; "),
                 "map the job again (jobs.<id>.push_token) and move the files back to " +
                     state.SpoolDir() + "/, or remove them from " + state.FailedDir() + "/");
  }
  if (spooled.empty() && bad.empty()) {
    results->Add("spool", Status::kOk, "no push waiting");
    return;
  }
  std::string words = std::to_string(spooled.size()) + " push(es) waiting";
  if (!spooled.empty()) words += ", the oldest from " + FormatLocalTime(spooled.front().created_ms);
  if (!bad.empty()) words += "; unreadable: " + Join(bad, "; ");
  results->Add("spool", Status::kFail, words,
               "pbk-agent flush (the guard's service runs it every few minutes)");
}

// What the hook last reported for each monitored job.
void CheckLastPushes(VerifyContext* context, CheckResults* results) {
  const Config& config = context->config;
  std::vector<std::string> unreadable;
  const std::map<std::string, RunRecord> last =
      LatestRunPerJob(LoadAllRunRecords(StateLayout(config.paths.state_dir), &unreadable));
  for (const auto& [id, job] : config.jobs) {
    auto it = last.find(id);
    if (it == last.end()) {
      results->Add("last push " + id, Status::kWarn, "no run of this job recorded on this node yet",
                   "test the monitor: " + config.paths.hook_script + " job-end ok " + id);
      continue;
    }
    const RunRecord& run = it->second;
    const Status status =
        run.push.state == PushState::kDelivered
            ? (run.push.up ? Status::kOk : Status::kWarn)
            : (run.push.state == PushState::kSpooled ? Status::kWarn : Status::kFail);
    results->Add("last push " + id, status, LastRunWords(run) + ": " + run.push.message);
  }
}

}  // namespace pbk
