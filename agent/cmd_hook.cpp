#include <unistd.h>

#include "commands.h"
#include "hook.h"
#include "log.h"

namespace pbk {

int CmdHook(const Invocation& invocation) {
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
  return RunHook(context);
}

}  // namespace pbk
