#include <unistd.h>

#include <algorithm>

#include "chain.h"
#include "commands.h"
#include "pve_access.h"
#include "hook.h"
#include "log.h"

namespace pbk {

int CmdHook(const Invocation& invocation) {
  // The environment exactly as vzdump gave it, for the chained hooks.
  std::vector<std::string> environment;
  for (char** entry = environ; *entry != nullptr; ++entry) environment.emplace_back(*entry);
  InitLogging(LogStyle::kTaskLog, invocation.debug);
  Config config;
  std::vector<std::string> errors;
  if (!LoadConfig(invocation.config_path, &config, &errors)) {
    for (const auto& line : errors) spdlog::error("pbk-agent hook: {}", line);
    int code = HookExitForBrokenConfig(invocation.args);
    if (code == 0) spdlog::error("pbk-agent hook: the backup goes on; this run will not be reported");
    return code;
  }
  AddSecrets(config.Secrets());
  HookContext context;
  context.config = &config;
  context.args = invocation.args;
  context.env = HookEnvironment::FromProcess();
  context.parent_pid = getppid();
  context.send = MakeKumaSender(config.kuma);
  context.list_guests = [&config](std::vector<Guest>* guests, std::string* err) {
    // Bounded like a push: the end of a backup job must not wait for PVE.
    Config bounded = config;
    bounded.pve.timeout_seconds = std::min(config.pve.timeout_seconds, config.kuma.timeout_seconds);
    PveAccess pve;
    if (!OpenPveAccess(bounded, &pve, err)) return false;
    for (GuestReader* reader : pve.guest_readers) {
      if (reader->ListGuests(guests, err)) return true;
    }
    if (pve.guest_readers.empty()) *err = "neither the PVE API nor pvesh is available";
    return false;
  };
  context.run_chain = [&](const std::vector<std::string>& args) {
    return RunChain(config.hook.chain, args, environment);
  };
  return RunHook(context);
}

}  // namespace pbk
