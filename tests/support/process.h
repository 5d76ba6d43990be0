// Running programs from tests: one call that runs a program to its end and
// captures everything it printed, and a handle for servers and other
// programs that run alongside a test.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace pbk::testing {

struct RunResult {
  bool started = false;  // false: the program could not be started (see error)
  int exit_code = -1;    // -1 unless the program exited normally
  int signal = 0;        // the signal that ended it, 0 if none
  std::string out;       // everything written to stdout
  std::string err;       // everything written to stderr
  int64_t wall_ms = 0;   // from start until exit and EOF on both pipes
  bool timed_out = false;
  std::string error;  // why it could not be started

  // "exit 0", "signal 9", "timed out after 3000 ms" … for messages.
  std::string Describe() const;
};

// Runs ARGV[0] (a path; no PATH search) with ARGV, stdin from /dev/null, in
// a process group of its own. ENV null inherits the test's environment; an
// empty map runs it with an empty one. When TIMEOUT passes, the whole
// process group is killed and timed_out is set.
RunResult Run(const std::vector<std::string>& argv, const std::map<std::string, std::string>* env,
              std::chrono::milliseconds timeout);

// A program that runs in the background while a test goes on. Its stdout
// and stderr go to files. Stop() ends it by its pid: SIGTERM, up to 5 s of
// grace, then SIGKILL. The destructor calls Stop().
class BackgroundProcess {
 public:
  BackgroundProcess() = default;
  ~BackgroundProcess();
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;

  // False with *err when the program could not be started. A process that
  // is still running from an earlier Start() is stopped first.
  bool Start(const std::vector<std::string>& argv, const std::map<std::string, std::string>* env,
             const std::string& stdout_path, const std::string& stderr_path, std::string* err);

  // 0 when nothing runs.
  pid_t pid() const { return pid_; }

  // Whether it is still running (reaps it if it has ended).
  bool Running();

  // Waits up to TIMEOUT for it to end by itself; true once it has ended.
  bool Wait(std::chrono::milliseconds timeout);

  // SIGTERM, wait up to 5 s, then SIGKILL; reaps it. Harmless when nothing runs.
  void Stop();

  // How the last process ended: exit code (-1 if it was signalled) and signal.
  int exit_code() const { return exit_code_; }
  int term_signal() const { return signal_; }

 private:
  void Reaped(int status);

  pid_t pid_ = 0;
  int exit_code_ = -1;
  int signal_ = 0;
};

// Starts a fake server (ARGV) that writes the port it listens on to
// PORT_FILE, and waits up to 10 s for that file: *port then holds the port.
// False with *err (naming NAME and quoting its stderr) when the program
// ended first, wrote no valid port or did not listen in time; it is then
// stopped.
bool StartListening(BackgroundProcess* process, const std::vector<std::string>& argv,
                    const std::string& name, const std::string& port_file,
                    const std::string& stdout_path, const std::string& stderr_path,
                    uint16_t* port, std::string* err);

}  // namespace pbk::testing
