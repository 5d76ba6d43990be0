// Running another program (pvesh) with a bounded time, a minimal
// environment and no inherited descriptors, and capturing what it says.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace pbk {

struct ProcessResult {
  bool started = false;
  int exit_code = -1;  // when it exited
  int signal = 0;      // when a signal ended it
  bool timed_out = false;
  std::string out;
  std::string err;
  std::string start_error;  // why it could not be started
};

// Runs ARGV (argv[0] an absolute path) with exactly ENV, stdin from
// /dev/null, in a process group of its own. At the deadline the whole group
// is killed. Uses posix_spawn, which is safe in a process with threads.
ProcessResult RunProcess(const std::vector<std::string>& argv,
                         const std::map<std::string, std::string>& env,
                         std::chrono::milliseconds timeout);

// "exit code 255", "killed by signal 9", "timed out after 30 s".
std::string DescribeExit(const ProcessResult& result, std::chrono::milliseconds timeout);

}  // namespace pbk
