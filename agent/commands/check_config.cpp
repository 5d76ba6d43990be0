#include <cstdio>

#include "agent/commands/commands.h"
#include "agent/commands/common.h"
#include "agent/core/fs.h"
#include "agent/core/log.h"

namespace pbk {

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
        spdlog::error("{}: {}: {}", config.path, ca.key,
                      exists ? err : ca.path + " does not exist");
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
