#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

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

int CmdFlush(const Invocation& invocation) {
  InitLogging(LogStyle::kStderr, invocation.debug);
  std::set<std::string> flags;
  if (!ParseFlags(invocation, {}, "pbk-agent flush", &flags)) return kExitUsage;
  Config config;
  if (!LoadConfigForCommand(invocation, &config)) return kExitUsage;

  const StateLayout state(config.paths.state_dir);
  std::string err;
  struct stat st {};
  if (stat(state.StateDir().c_str(), &st) != 0) {
    if (errno == ENOENT) return kExitOk;  // nothing ever spooled
    spdlog::error("cannot look into {}: {}; spooled pushes cannot be delivered", state.StateDir(),
                  ErrnoText(errno));
    return kExitProblem;
  }
  FileLock lock;
  bool acquired = false;
  if (!lock.Acquire(state.FlushLock(), FileLock::Mode::kTry, &acquired, &err)) {
    spdlog::error("{}", err);
    return kExitProblem;
  }
  if (!acquired) {
    spdlog::info("another pbk-agent flush is running; leaving the spool to it");
    return kExitOk;
  }

  PushSender send = MakeKumaSender(config.kuma);
  const PushFunction push = SpoolPusher(config, send);
  // After late results, the job's present state, so the last heartbeat is
  // the truth of now. What that needs is read once, at the first need.
  std::unique_ptr<PveAccess> pve;
  std::unique_ptr<NodeView> view;
  auto after = [&](const std::string& job_id, std::string* why) {
    if (!view) {
      pve = std::make_unique<PveAccess>();
      if (!OpenPveAccess(config, pve.get(), why)) return false;
      view = std::make_unique<NodeView>(config, *pve, static_cast<int64_t>(time(nullptr)));
    }
    const JobStatus status = view->StatusOf(job_id);
    if (!PushJobStatus(send, config.jobs.at(job_id).push_token, status, why)) return false;
    spdlog::info("pushed the current state of job {}: {} ({}): {}", job_id,
                 status.up ? "up" : "DOWN", JobStateName(status.state), status.message);
    return true;
  };
  FlushReport report =
      FlushSpool(state, push, after, std::chrono::seconds(config.kuma.timeout_seconds + 5));
  for (const auto& line : report.lines) spdlog::info("{}", line);
  for (const auto& line : report.errors) spdlog::error("{}", line);
  if (report.skipped > 0) {
    spdlog::warn("{} spooled push(es) left for the next flush", report.skipped);
  }
  return report.errors.empty() && report.skipped == 0 ? kExitOk : kExitProblem;
}

}  // namespace pbk
