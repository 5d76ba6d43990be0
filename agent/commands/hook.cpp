#include <unistd.h>

#include <algorithm>

#include "hook/chain.h"
#include "agent/commands/commands.h"
#include "agent/pve_access.h"
#include "api/pve/monitors_file.h"
#include "hook/hook.h"
#include "agent/core/log.h"
#include "agent/core/text.h"

namespace pbk {

int CmdHook(const Invocation& invocation) {
  // The environment exactly as vzdump gave it, for the chained hooks.
  std::vector<std::string> environment;
  for (char** entry = environ; *entry != nullptr; ++entry) environment.emplace_back(*entry);
  InitLogging(LogStyle::kTaskLog, invocation.debug);
  Config config;
  std::vector<std::string> errors;
  if (!LoadConfig(invocation.config_path, &config, &errors)) {
    // Said once at the start of the run and once at its end, not in each of
    // the six phases of every guest: the task log stays readable.
    const std::string phase = invocation.args.empty() ? "" : invocation.args.front();
    const int code = HookExitForBrokenConfig(invocation.args);
    if (phase == "job-init") {
      spdlog::error("pbk-agent hook: the configuration cannot be used: {}. The backup goes on, but "
                    "this run will not be reported to Kuma (pbk-agent check-config tells more)",
                    Join(errors, "; "));
    } else if (phase == "job-end" || phase == "job-abort") {
      spdlog::error("pbk-agent hook: {}: the configuration cannot be used: {}",
                    code == 0 ? "this run was not reported to Kuma" : "nothing pushed",
                    Join(errors, "; "));
    }
    return code;
  }
  // Push tokens `kuma sync` made, for the phases that push.
  const std::string phase = invocation.args.empty() ? "" : invocation.args.front();
  std::string tokens_err;
  if ((phase == "job-end" || phase == "job-abort") && !LoadSyncedTokens(&config, &tokens_err)) {
    spdlog::error("pbk-agent hook: {}", tokens_err);
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
    return OpenPveAccess(bounded, &pve, err) && ReadGuests(pve, guests, err);
  };
  context.run_chain = [&](const std::vector<std::string>& scripts,
                           const std::vector<std::string>& args) {
    return RunChain(scripts, args, environment);
  };
  return RunHook(context);
}

}  // namespace pbk
