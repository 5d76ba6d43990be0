#include <unistd.h>

#include "chain.h"
#include "commands.h"
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
  context.run_chain = [&](const std::vector<std::string>& args) {
    return RunChain(config.hook.chain, args, environment);
  };
  return RunHook(context);
}

}  // namespace pbk
