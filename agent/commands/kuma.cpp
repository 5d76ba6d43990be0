// `pbk-agent kuma SUBCOMMAND`: Uptime Kuma's side, over its management API.
#include <unistd.h>

#include <cstdio>

#include "agent/commands/commands.h"
#include "agent/commands/common.h"
#include "agent/core/log.h"
#include "agent/core/text.h"
#include "agent/kuma_login.h"

namespace pbk {
namespace {

constexpr char kLoginUsage[] =
    "pbk-agent kuma login [--username U --password-file F [--totp CODE]]";

// `kuma login`: with flags, or asking on the terminal.
int KumaLoginCommand(const Invocation& invocation, const std::vector<std::string>& args) {
  std::string username, password_file, totp;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& flag = args[i];
    std::string* target = flag == "--username"        ? &username
                          : flag == "--password-file" ? &password_file
                          : flag == "--totp"          ? &totp
                                                      : nullptr;
    if (target == nullptr || i + 1 >= args.size() || args[i + 1].empty()) {
      spdlog::error("usage: {} ({} {})", kLoginUsage,
                    target == nullptr ? "unknown argument" : "no value for", Quote(flag));
      return kExitUsage;
    }
    *target = args[++i];
  }
  const bool flags = !username.empty() || !password_file.empty() || !totp.empty();
  if (flags && (username.empty() || password_file.empty())) {
    spdlog::error("usage: {} (--username and --password-file go together)", kLoginUsage);
    return kExitUsage;
  }
  Config config;
  if (!LoadConfigForCommand(invocation, &config)) return kExitUsage;

  KumaLoginOptions options{username, "", totp};
  KumaPrompt prompt;
  if (flags) {
    std::string err;
    if (!ReadPasswordFile(password_file, &options.password, &err)) {
      spdlog::error("{}", err);
      return kExitUsage;
    }
  } else {
    prompt = PromptOnTerminal;
    if (!PromptOnTerminal("Uptime Kuma user name: ", false, &options.username) ||
        !PromptOnTerminal("Password: ", true, &options.password)) {
      spdlog::error("usage: {} (no terminal to ask on, or nothing given)", kLoginUsage);
      return kExitUsage;
    }
  }
  const KumaLoginResult result = KumaLogin(config, options, prompt);
  if (result.exit_code == kExitOk) {
    std::printf("%s\n", result.message.c_str());
  } else {
    spdlog::error("{}", result.message);
  }
  spdlog::debug("{} Socket.IO calls", result.socket_io_calls);
  return result.exit_code;
}

struct Subcommand {
  const char* name;
  int (*run)(const Invocation& invocation, const std::vector<std::string>& args);
};

const Subcommand kSubcommands[] = {
    {"login", KumaLoginCommand},
    {"sync", KumaSyncCommand},
};

}  // namespace

int CmdKuma(const Invocation& invocation) {
  InitLogging(LogStyle::kStderr, invocation.debug);
  if (!invocation.args.empty()) {
    for (const auto& sub : kSubcommands) {
      if (invocation.args[0] == sub.name) {
        return sub.run(invocation,
                       std::vector<std::string>(invocation.args.begin() + 1, invocation.args.end()));
      }
    }
  }
  std::string names;
  for (const auto& sub : kSubcommands) names += std::string(names.empty() ? "" : "|") + sub.name;
  spdlog::error("usage: pbk-agent kuma {} ... ({})", names,
                invocation.args.empty() ? std::string("no subcommand")
                                        : "unknown subcommand " + Quote(invocation.args[0]));
  return kExitUsage;
}

}  // namespace pbk
