#include "agent/commands/common.h"

#include <algorithm>

#include "agent/core/log.h"
#include "agent/core/text.h"
#include "agent/pve_access.h"
#include "api/pve/monitors_file.h"

namespace pbk {

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

}  // namespace pbk
