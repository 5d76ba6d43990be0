// The command line: `pbk-agent [--config FILE] COMMAND [ARGS]`, and the one
// table of commands.
#pragma once

#include <string>
#include <vector>

namespace pbk {

// Exit codes, as documented in the README.
inline constexpr int kExitOk = 0;
inline constexpr int kExitProblem = 1;  // drift left, a check failed, a push spooled
inline constexpr int kExitUsage = 2;    // usage or configuration error

struct Invocation {
  std::string config_path;
  bool config_given = false;
  bool debug = false;
  std::vector<std::string> args;  // after the command name
};

struct Command {
  const char* name;
  const char* usage;    // arguments after the name
  const char* summary;  // one line for --help
  int (*run)(const Invocation& invocation);
};

// The table, in the order --help shows it.
const std::vector<Command>& Commands();

// Entry point for main(): parses ARGV and runs the command.
int RunCli(int argc, char** argv);

}  // namespace pbk
