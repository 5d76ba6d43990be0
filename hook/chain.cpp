#include "hook/chain.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>

#include "agent/core/fs.h"
#include "agent/core/process.h"

namespace pbk {
namespace {

// How long output is still read after a script exited: a child it left
// behind may hold the pipe open for ever.
constexpr auto kDrainAfterExit = std::chrono::seconds(1);

void Forward(const char* data, size_t size) {
  std::fwrite(data, 1, size, stdout);
  std::fflush(stdout);
}

// Runs one script; returns its exit code (128 + signal when killed).
int RunOne(const std::string& script, const std::vector<std::string>& args,
           const std::vector<std::string>& env, std::string* error) {
  struct stat st {};
  if (stat(script.c_str(), &st) != 0) {
    *error = "chained hook " + script + " does not exist";
    return 0;
  }
  if (!S_ISREG(st.st_mode) || access(script.c_str(), X_OK) != 0) {
    *error = "chained hook " + script + " is not an executable file";
    return 0;
  }
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    *error = "cannot run chained hook " + script + ": " + ErrnoText(errno);
    return 0;
  }
  UniqueFd read_end(pipe_fds[0]), write_end(pipe_fds[1]);
  SpawnSpec spec;
  spec.argv.push_back(script);
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.env = env;
  spec.stdout_fd = write_end.get();
  spec.stderr_fd = write_end.get();
  pid_t pid = 0;
  const int spawn_error = SpawnProcess(spec, &pid);
  write_end.Reset();
  if (spawn_error != 0) {
    *error = "cannot run chained hook " + script + ": " + ErrnoText(spawn_error);
    return 0;
  }

  int status = 0;
  bool exited = false;
  auto drain_until = std::chrono::steady_clock::time_point::max();
  for (;;) {
    if (!exited && waitpid(pid, &status, WNOHANG) == pid) {
      exited = true;
      drain_until = std::chrono::steady_clock::now() + kDrainAfterExit;
    }
    if (exited && std::chrono::steady_clock::now() >= drain_until) break;
    pollfd pfd{read_end.get(), POLLIN, 0};
    int ready = poll(&pfd, 1, exited ? 50 : 100);
    if (ready < 0 && errno != EINTR) break;
    if (ready > 0) {
      char buffer[4096];
      ssize_t n = read(read_end.get(), buffer, sizeof buffer);
      if (n > 0) {
        Forward(buffer, static_cast<size_t>(n));
      } else if (n == 0) {
        if (exited) break;
        // EOF before exit: nothing more to read, just wait for the exit.
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        exited = true;
        break;
      }
    }
  }
  if (!exited) {
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

}  // namespace

ChainOutcome RunChain(const std::vector<std::string>& scripts,
                      const std::vector<std::string>& args, const std::vector<std::string>& env) {
  ChainOutcome outcome;
  for (const auto& script : scripts) {
    std::string error;
    int code = RunOne(script, args, env, &error);
    if (!error.empty()) {
      outcome.errors.push_back(error);
      continue;
    }
    if (code != 0) {
      outcome.exit_code = code;
      outcome.failed_script = script;
      break;
    }
  }
  return outcome;
}

}  // namespace pbk
