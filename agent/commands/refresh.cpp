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

namespace {

// One refresh: the pushes, what each said, and the counts the exit code is
// made of.
class Refresh {
 public:
  Refresh(const Config& config, NodeView* view, bool dry_run, bool as_json)
      : config_(config),
        view_(*view),
        dry_run_(dry_run),
        as_json_(as_json),
        state_(config.paths.state_dir),
        send_(MakeKumaSender(config.kuma)) {}

  void PushJobs();
  void PushNodeHealth();
  // The summary (the JSON document, or a log line) and the exit code.
  int Finish(bool service);

 private:
  void Report(const std::string& what, const std::string& state, bool up,
              const std::string& message, bool ok, const std::string& problem);

  const Config& config_;
  NodeView& view_;
  const bool dry_run_;
  const bool as_json_;
  const StateLayout state_;
  const PushSender send_;
  int down_ = 0, failed_ = 0, pushed_ = 0;
  json list_ = json::array();
};

void Refresh::Report(const std::string& what, const std::string& state, bool up,
                     const std::string& message, bool ok, const std::string& problem) {
  if (!up) ++down_;
  json entry = {{"monitor", what},     {"state", state},
                {"status", up ? "up" : "down"}, {"message", message},
                {"pushed", !dry_run_ && ok},    {"error", problem.empty() ? json() : json(problem)}};
  list_.push_back(std::move(entry));
  if (as_json_) return;
  const std::string verdict = dry_run_ ? "would push" : ok ? "pushed" : "NOT pushed";
  if (!problem.empty()) {
    spdlog::error("{} {}: {} ({}): {}: {}", what, verdict, up ? "up" : "down", state, message,
                  problem);
  } else {
    spdlog::info("{} {}: {} ({}): {}", what, verdict, up ? "up" : "DOWN", state, message);
  }
}

void Refresh::PushJobs() {
  const auto lock_wait = std::chrono::seconds(config_.kuma.timeout_seconds + 5);
  // Jobs with results still owed get those delivered first, so that no
  // current state overtakes an older result.
  std::set<std::string> owing;
  {
    std::vector<std::string> bad;
    for (const auto& entry : ListSpool(state_, &bad)) owing.insert(entry.job_id);
  }
  const PushFunction deliver = SpoolPusher(config_, send_);
  bool kuma_unreachable = false;
  for (const auto& job_id : view_.MonitoredJobs()) {
    std::string problem;
    bool ok = true;
    FileLock lock;
    if (!dry_run_) {
      ok = LockJob(state_, job_id, lock_wait, &lock, &problem);
      if (ok && owing.count(job_id) > 0 && !kuma_unreachable) {
        FlushReport backlog;
        kuma_unreachable = !DeliverSpooledForJob(state_, job_id, deliver, &backlog);
        for (const auto& line : backlog.lines) spdlog::info("{}", line);
        for (const auto& line : backlog.errors) spdlog::warn("{}", line);
      }
    }
    // Judged with the job's lock held: what a hook pushed just before is in.
    const JobStatus status = view_.StatusOf(job_id);
    if (!dry_run_) {
      ok = ok && PushJobStatus(send_, config_.jobs.at(job_id).push_token, status, &problem);
      if (ok) ++pushed_; else ++failed_;
    }
    Report("job " + job_id, JobStateName(status.state), status.up, status.message, ok, problem);
  }
}

void Refresh::PushNodeHealth() {
  const NodeHealth health = view_.Health();
  if (config_.node_monitor.push_token.empty()) {
    if (!health.up) spdlog::warn("no node monitor configured; {}", health.message);
    return;
  }
  std::string problem;
  bool ok = true;
  if (!dry_run_) {
    KumaPush push{health.up, health.message, std::nullopt};
    PushFailure failure = PushFailure::kNone;
    ok = send_(config_.node_monitor.push_token, push, &problem, &failure);
    if (ok) ++pushed_; else ++failed_;
  }
  Report("node " + config_.node, health.up ? "ok" : "problems", health.up, health.message, ok,
         problem);
}

int Refresh::Finish(bool service) {
  if (as_json_) {
    json document = {{"node", config_.node},  {"dry_run", dry_run_},
                     {"source", view_.source()}, {"pushed", pushed_},
                     {"failed", failed_},     {"down", down_},
                     {"monitors", std::move(list_)}};
    std::printf("%s\n", Redact(document.dump(2, ' ', false, json::error_handler_t::replace)).c_str());
  } else if (!dry_run_) {
    spdlog::info("refresh: {} monitor(s) pushed, {} down, {} push(es) failed", pushed_, down_,
                 failed_);
  }
  if (failed_ > 0) return kExitProblem;
  return down_ > 0 && !service ? kExitProblem : kExitOk;
}

}  // namespace

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

  Refresh refresh(config, &view, dry_run, as_json);
  refresh.PushJobs();
  refresh.PushNodeHealth();
  return refresh.Finish(service);
}

}  // namespace pbk
