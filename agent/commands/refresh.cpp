// `pbk-agent refresh [--dry-run] [--json] [--service]`: pushes every monitored
// job's current state (refresh.h) and then the node's health, one push per
// monitor, each under the job's lock so it never overtakes the hook's or
// flush's pushes of that job. No `ping`: Kuma's duration chart keeps only
// real run durations.
//
// Exit code: 0 when every monitor was pushed up; 1 when a monitor was pushed
// down or a push failed; 2 for usage and configuration errors. With
// --service (the systemd unit), only a failed push is 1: a failed backup is
// Kuma's news, not a broken unit.
#include <time.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "agent/commands/commands.h"
#include "agent/commands/common.h"
#include "agent/core/fs.h"
#include "hook/hook.h"
#include "agent/core/log.h"
#include "agent/core/state_layout.h"
#include "agent/node_view.h"
#include "agent/pve_access.h"
#include "hook/spool.h"
#include "agent/core/text.h"

namespace pbk {

using nlohmann::json;

bool PushJobStatus(const PushSender& send, const std::string& token, const JobStatus& status,
                   std::string* err) {
  KumaPush push;
  push.up = status.up;
  push.message = status.message;
  PushFailure failure = PushFailure::kNone;
  return send(token, push, err, &failure);
}

int CmdRefresh(const Invocation& invocation) {
  InitLogging(LogStyle::kStderr, invocation.debug);
  std::set<std::string> flags;
  if (!ParseFlags(invocation, {"--dry-run", "--json", "--service"},
                  "pbk-agent refresh [--dry-run] [--json]", &flags)) {
    return kExitUsage;
  }
  const bool dry_run = flags.count("--dry-run") > 0;
  const bool as_json = flags.count("--json") > 0;
  const bool service = flags.count("--service") > 0;
  Config config;
  if (!LoadConfigForCommand(invocation, &config)) return kExitUsage;
  PveAccess pve;
  std::string err;
  if (!OpenPveAccessForCommand(config, &pve)) return kExitUsage;

  NodeView view(config, pve, static_cast<int64_t>(time(nullptr)));
  for (const auto& line : view.warnings()) spdlog::warn("{}", line);
  if (!dry_run && !view.SaveObservations(&err)) spdlog::error("{}", err);

  PushSender send = MakeKumaSender(config.kuma);
  const auto lock_wait = std::chrono::seconds(config.kuma.timeout_seconds + 5);
  int down = 0, failed = 0, pushed = 0;
  json list = json::array();
  auto report = [&](const std::string& what, const std::string& state, bool up,
                    const std::string& message, bool ok, const std::string& problem) {
    if (!up) ++down;
    json entry = {{"monitor", what},     {"state", state},
                  {"status", up ? "up" : "down"}, {"message", message},
                  {"pushed", !dry_run && ok},     {"error", problem.empty() ? json() : json(problem)}};
    list.push_back(std::move(entry));
    if (as_json) return;
    const std::string verdict = dry_run ? "would push" : ok ? "pushed" : "NOT pushed";
    if (!problem.empty()) {
      spdlog::error("{} {}: {} ({}): {}: {}", what, verdict, up ? "up" : "down", state, message,
                    problem);
    } else {
      spdlog::info("{} {}: {} ({}): {}", what, verdict, up ? "up" : "DOWN", state, message);
    }
  };

  // Jobs with results still owed get those delivered first, so that no
  // current state overtakes an older result.
  const StateLayout state(config.paths.state_dir);
  std::set<std::string> owing;
  {
    std::vector<std::string> bad;
    for (const auto& entry : ListSpool(state, &bad)) owing.insert(entry.job_id);
  }
  const PushFunction deliver = SpoolPusher(config, send);
  bool kuma_unreachable = false;
  for (const auto& job_id : view.MonitoredJobs()) {
    std::string problem;
    bool ok = true;
    FileLock lock;
    if (!dry_run) {
      ok = LockJob(state, job_id, lock_wait, &lock, &problem);
      if (ok && owing.count(job_id) > 0 && !kuma_unreachable) {
        FlushReport backlog;
        kuma_unreachable = !DeliverSpooledForJob(state, job_id, deliver, &backlog);
        for (const auto& line : backlog.lines) spdlog::info("{}", line);
        for (const auto& line : backlog.errors) spdlog::warn("{}", line);
      }
    }
    // Judged with the job's lock held: what a hook pushed just before is in.
    const JobStatus status = view.StatusOf(job_id);
    if (!dry_run) {
      ok = ok && PushJobStatus(send, config.jobs.at(job_id).push_token, status, &problem);
      if (ok) ++pushed; else ++failed;
    }
    report("job " + job_id, JobStateName(status.state), status.up, status.message, ok, problem);
  }

  const NodeHealth health = view.Health();
  if (config.node_monitor.push_token.empty()) {
    if (!health.up) spdlog::warn("no node monitor configured; {}", health.message);
  } else {
    std::string problem;
    bool ok = true;
    if (!dry_run) {
      KumaPush push{health.up, health.message, std::nullopt};
      PushFailure failure = PushFailure::kNone;
      ok = send(config.node_monitor.push_token, push, &problem, &failure);
      if (ok) ++pushed; else ++failed;
    }
    report("node " + config.node, health.up ? "ok" : "problems", health.up, health.message, ok,
           problem);
  }

  if (as_json) {
    json document = {{"node", config.node},  {"dry_run", dry_run},
                     {"source", view.source()}, {"pushed", pushed},
                     {"failed", failed},     {"down", down},
                     {"monitors", std::move(list)}};
    std::printf("%s\n", Redact(document.dump(2, ' ', false, json::error_handler_t::replace)).c_str());
  } else if (!dry_run) {
    spdlog::info("refresh: {} monitor(s) pushed, {} down, {} push(es) failed", pushed, down,
                 failed);
  }
  if (failed > 0) return kExitProblem;
  return down > 0 && !service ? kExitProblem : kExitOk;
}

}  // namespace pbk
