// Running another program (pvesh) with a bounded time, a minimal
// environment and no inherited descriptors, and capturing what it says.
#pragma once

#include <sys/types.h>

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

// How every child process starts: ARGV[0] (an absolute path) with exactly
// ENV ("NAME=value" strings), stdin from /dev/null, stdout and stderr onto
// the given descriptors, the signals the parent ignores or blocks back at
// their defaults, and NO other descriptor inherited (a kept-alive TLS
// connection, a lock, a spool entry). Optionally in a process group of its
// own. Returns 0, or the errno value why it could not be started.
struct SpawnSpec {
  std::vector<std::string> argv;
  std::vector<std::string> env;
  int stdout_fd = -1;
  int stderr_fd = -1;
  bool own_process_group = false;
};
int SpawnProcess(const SpawnSpec& spec, pid_t* pid);

// "exit code 255", "killed by signal 9", "timed out after 30 s".
std::string DescribeExit(const ProcessResult& result, std::chrono::milliseconds timeout);

}  // namespace pbk
