#include "agent/commands/cli.h"

#include <cstdio>
#include <cstring>

#include "agent/commands/commands.h"
#include "agent/core/config.h"
#include "agent/core/text.h"

namespace pbk {

const std::vector<Command>& Commands() {
  static const std::vector<Command> commands = {
      {"hook", "PHASE [MODE VMID]",
       "the vzdump hook (run by the wrapper script; `hook job-end ok [JOB-ID]` is a manual test)",
       CmdHook},
      {"guard", "[--dry-run] [--json]", "make every backup job run the hook", CmdGuard},
      {"verify", "[--json]", "check that this node is set up right", CmdVerify},
      {"refresh", "[--dry-run] [--json]",
       "push every monitored job's current state and the node's health to Kuma", CmdRefresh},
      {"flush", "", "deliver spooled pushes to Uptime Kuma, oldest first", CmdFlush},
      {"jobs", "[--json]", "list the backup jobs and their monitors", CmdJobs},
      {"kuma", "login [--username U --password-file F [--totp CODE]] | sync [--dry-run] [--prune] [--json]",
       "log in to Uptime Kuma once (never keeping the password); make and keep the monitors of "
       "every job and node",
       CmdKuma},
      {"check-config", "", "parse and check the configuration only", CmdCheckConfig},
  };
  return commands;
}

namespace {

void PrintHelp(FILE* out) {
  std::fprintf(out,
               "usage: pbk-agent [--config FILE] COMMAND [ARGS]\n"
               "       pbk-agent --version | --help\n\n"
               "Reports every Proxmox VE backup job run to its Uptime Kuma push monitor.\n\n"
               "commands:\n");
  for (const auto& command : Commands()) {
    std::string head = std::string(command.name) + " " + command.usage;
    std::fprintf(out, "  %-34s %s\n", head.c_str(), command.summary);
  }
  std::fprintf(out,
               "\noptions:\n"
               "  --config FILE                      configuration (default %s)\n"
               "  --debug                            more detail in the log\n\n"
               "exit codes: 0 all good; 1 something is wrong (drift left, a check failed,\n"
               "a push failed and was spooled, refresh pushed a monitor down); 2 usage or\n"
               "configuration error.\n"
               "Guest phases of the hook always exit 0.\n",
               kDefaultConfigPath);
}

}  // namespace

int RunCli(int argc, char** argv) {
  Invocation invocation;
  invocation.config_path = kDefaultConfigPath;
  int i = 1;
  for (; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      PrintHelp(stdout);
      return kExitOk;
    }
    if (arg == "--version" || arg == "-V") {
      std::printf("pbk-agent %s\n", PBK_VERSION);
      return kExitOk;
    }
    if (arg == "--debug") {
      invocation.debug = true;
    } else if (arg == "--config" || arg == "-c") {
      if (i + 1 >= argc || argv[i + 1][0] == '\0') {
        std::fprintf(stderr, "pbk-agent: --config needs a file name\n");
        return kExitUsage;
      }
      invocation.config_path = argv[++i];
      invocation.config_given = true;
    } else if (StartsWith(arg, "--config=")) {
      invocation.config_path = arg.substr(9);
      invocation.config_given = true;
    } else if (StartsWith(arg, "-")) {
      std::fprintf(stderr, "pbk-agent: unknown option %s (see pbk-agent --help)\n", arg.c_str());
      return kExitUsage;
    } else {
      break;
    }
  }
  if (i >= argc) {
    PrintHelp(stderr);
    return kExitUsage;
  }
  const std::string name = argv[i];
  std::vector<std::string> names;
  for (const auto& command : Commands()) {
    names.push_back(command.name);
    if (name != command.name) continue;
    invocation.args.assign(argv + i + 1, argv + argc);
    if (name != "hook" && invocation.args.size() == 1 &&
        (invocation.args[0] == "--help" || invocation.args[0] == "-h")) {
      std::printf("usage: pbk-agent [--config FILE] %s %s\n  %s\n", command.name, command.usage,
                  command.summary);
      return kExitOk;
    }
    return command.run(invocation);
  }
  std::string hint;
  if (auto close = ClosestMatch(name, names)) hint = " (did you mean " + *close + "?)";
  std::fprintf(stderr, "pbk-agent: unknown command %s%s; commands: %s\n", Quote(name).c_str(),
               hint.c_str(), Join(names, ", ").c_str());
  return kExitUsage;
}

}  // namespace pbk
