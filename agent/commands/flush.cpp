#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <memory>

#include "agent/commands/commands.h"
#include "agent/core/fs.h"
#include "hook/hook.h"
#include "agent/core/log.h"
#include "agent/node_view.h"
#include "agent/pve_access.h"
#include "api/pve/monitors_file.h"
#include "hook/spool.h"
#include "agent/core/text.h"

namespace pbk {

bool LoadConfigForCommand(const Invocation& invocation, Config* config) {
  std::vector<std::string> errors;
  if (!LoadConfig(invocation.config_path, config, &errors)) {
    for (const auto& line : errors) spdlog::error("{}", line);
    return false;
  }
  // The push tokens `kuma sync` made: a broken monitors file silences only
  // the monitors it names (Kuma turns them DOWN); the rest goes on.
  std::string err;
  if (!LoadSyncedTokens(config, &err)) spdlog::error("{}", err);
  AddSecrets(config->Secrets());
  return true;
}

bool OpenPveAccessForCommand(const Config& config, PveAccess* pve) {
  std::string err;
  if (OpenPveAccess(config, pve, &err)) return true;
  spdlog::error("{}", err);
  return false;
}

bool ParseFlags(const Invocation& invocation, const std::vector<std::string>& allowed,
                const char* usage, std::set<std::string>* flags) {
  for (const auto& arg : invocation.args) {
    if (std::find(allowed.begin(), allowed.end(), arg) == allowed.end()) {
      spdlog::error("usage: {} (unknown argument {})", usage, Quote(arg));
      return false;
    }
    flags->insert(arg);
  }
  return true;
}

int CmdFlush(const Invocation& invocation) {
  InitLogging(LogStyle::kStderr, invocation.debug);
  std::set<std::string> flags;
  if (!ParseFlags(invocation, {}, "pbk-agent flush", &flags)) return kExitUsage;
  Config config;
  if (!LoadConfigForCommand(invocation, &config)) return kExitUsage;

  std::string err;
  struct stat st {};
  if (stat(config.paths.state_dir.c_str(), &st) != 0) {
    if (errno == ENOENT) return kExitOk;  // nothing ever spooled
    spdlog::error("cannot look into {}: {}; spooled pushes cannot be delivered",
                  config.paths.state_dir, ErrnoText(errno));
    return kExitProblem;
  }
  FileLock lock;
  bool acquired = false;
  if (!lock.Acquire(JoinPath(config.paths.state_dir, "flush.lock"), FileLock::Mode::kTry,
                    &acquired, &err)) {
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
  FlushReport report = FlushSpool(config.paths.state_dir, push, after,
                                  std::chrono::seconds(config.kuma.timeout_seconds + 5));
  for (const auto& line : report.lines) spdlog::info("{}", line);
  for (const auto& line : report.errors) spdlog::error("{}", line);
  if (report.skipped > 0) {
    spdlog::warn("{} spooled push(es) left for the next flush", report.skipped);
  }
  return report.errors.empty() && report.skipped == 0 ? kExitOk : kExitProblem;
}

int CmdCheckConfig(const Invocation& invocation) {
  InitLogging(LogStyle::kStderr, invocation.debug);
  std::set<std::string> flags;
  if (!ParseFlags(invocation, {}, "pbk-agent check-config", &flags)) return kExitUsage;
  Config config;
  if (!LoadConfigForCommand(invocation, &config)) return kExitUsage;
  const std::string advice = ConfigAdvice(config);
  if (!advice.empty()) spdlog::warn("{}: {}", config.path, advice);
  // The CA files are read as certificates here, so that a key or a wrong
  // file is found now and not at the first push.
  bool certificates_ok = true;
  struct CaFile {
    const char* key;
    const std::string& path;
    bool required;  // a missing PVE CA only costs the REST path (pvesh remains)
  } ca_files[] = {{"kuma.ca_file", config.kuma.ca_file, true},
                  {"pve.ca_file", config.pve.ca_file, false}};
  for (const auto& ca : ca_files) {
    if (ca.path.empty()) continue;
    std::string text, err;
    bool exists = false;
    if (!ReadFileIfExists(ca.path, &text, &exists, &err) || !exists) {
      if (ca.required) {
        spdlog::error("{}: {}: {}", config.path, ca.key, exists ? err : ca.path + " does not exist");
        certificates_ok = false;
      }
      continue;
    }
    if (!CheckCertificateText(text, ca.path, &err)) {
      spdlog::error("{}: {}: {}", config.path, ca.key, err);
      certificates_ok = false;
    }
  }
  if (!certificates_ok) return kExitUsage;
  std::printf("%s: OK (node %s; Kuma %s, %s; %zu job(s) with a push monitor)\n",
              config.path.c_str(), config.node.c_str(), config.kuma.url.c_str(),
              config.kuma.server_name.empty()
                  ? "certificate must carry the IP"
                  : ("certificate must carry " + config.kuma.server_name).c_str(),
              config.jobs.size());
  return kExitOk;
}


}  // namespace pbk
