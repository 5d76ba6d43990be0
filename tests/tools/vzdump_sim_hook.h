// Running one hook call the way PVE::Tools::run_command does, and naming
// the command in errors as PVE::Tools::cmd2string does.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "tests/tools/vzdump_sim_common.h"

namespace pbk::testing::vzdump_sim {

struct HookOutcome {
  Clock::time_point started;
  std::optional<int> exit_code;
  std::optional<int> signal;
  double exit_ms = 0.0;
  std::optional<double> eof_ms;  // unset when the pipes never reached EOF
  bool hung = false;
  int exec_errno = 0;
  std::vector<std::string> stdout_lines;
  std::vector<std::string> stderr_lines;
};

double MillisecondsBetween(Clock::time_point from, Clock::time_point to);

// Forks and execs the hook without a shell, closes its stdin at once, reads
// stdout and stderr until both are at EOF and only then reaps it: the same
// order as run_command, which is what makes a lingering grandchild stall
// vzdump. `on_line` sees every line as it arrives (false = stdout).
HookOutcome ExecuteHook(const std::vector<std::string>& argv_strings,
                        const std::vector<std::string>& env_strings, double timeout_s,
                        const std::function<void(bool, const std::string&)>& on_line);

// The quoting of PVE::Tools::cmd2string, which names the command in errors.
std::string ShellQuote(const std::string& word);
std::string JoinWords(const std::vector<std::string>& words, bool quote);

}  // namespace pbk::testing::vzdump_sim
