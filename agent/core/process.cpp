#include "agent/core/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "agent/core/fs.h"

namespace pbk {

using Clock = std::chrono::steady_clock;

int SpawnProcess(const SpawnSpec& spec, pid_t* pid) {
  if (spec.argv.empty()) return EINVAL;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, spec.stdout_fd, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, spec.stderr_fd, STDERR_FILENO);
  // Not every library opens its descriptors close-on-exec (boost.asio's
  // sockets are not): nothing beyond 0-2 reaches the child.
  posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
  if (spec.own_process_group) {
    posix_spawnattr_setpgroup(&attributes, 0);
    flags |= POSIX_SPAWN_SETPGROUP;
  }
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int signal_number : {SIGPIPE, SIGALRM, SIGTERM, SIGXFSZ}) {
    sigaddset(&defaults, signal_number);
  }
  posix_spawnattr_setsigdefault(&attributes, &defaults);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setflags(&attributes, flags);

  std::vector<char*> args;
  for (const auto& arg : spec.argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& entry : spec.env) envp.push_back(const_cast<char*>(entry.c_str()));
  envp.push_back(nullptr);
  const int error =
      posix_spawn(pid, spec.argv[0].c_str(), &actions, &attributes, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  return error;
}

ProcessResult RunProcess(const std::vector<std::string>& argv,
                         const std::map<std::string, std::string>& env,
                         std::chrono::milliseconds timeout) {
  ProcessResult result;
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) {
    result.start_error = ErrnoText(errno);
    return result;
  }
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    result.start_error = ErrnoText(errno);
    close(out_pipe[0]);
    close(out_pipe[1]);
    return result;
  }
  UniqueFd out_read(out_pipe[0]), out_write(out_pipe[1]);
  UniqueFd err_read(err_pipe[0]), err_write(err_pipe[1]);

  SpawnSpec spec;
  spec.argv = argv;
  for (const auto& [name, value] : env) spec.env.push_back(name + "=" + value);
  spec.stdout_fd = out_write.get();
  spec.stderr_fd = err_write.get();
  spec.own_process_group = true;
  pid_t pid = 0;
  const int spawn_error = SpawnProcess(spec, &pid);
  out_write.Reset();
  err_write.Reset();
  if (spawn_error != 0) {
    result.start_error = ErrnoText(spawn_error);
    return result;
  }
  result.started = true;

  const auto deadline = Clock::now() + timeout;
  pollfd fds[2] = {{out_read.get(), POLLIN, 0}, {err_read.get(), POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_pipes = 2;
  while (open_pipes > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      break;
    }
    int ready = poll(fds, 2, static_cast<int>(std::min<long long>(left.count(), 1000)));
    if (ready < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      char buffer[65536];
      ssize_t n = read(fds[i].fd, buffer, sizeof buffer);
      if (n > 0) {
        sinks[i]->append(buffer, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        fds[i].fd = -1;
        --open_pipes;
      }
    }
  }
  if (result.timed_out) kill(-pid, SIGKILL);

  int status = 0;
  for (;;) {
    pid_t done = waitpid(pid, &status, result.timed_out ? 0 : WNOHANG);
    if (done == pid) break;
    if (done < 0 && errno != EINTR) return result;
    if (done == 0) {
      // Both pipes are closed but the program has not exited yet.
      if (Clock::now() >= deadline) {
        result.timed_out = true;
        kill(-pid, SIGKILL);
      } else {
        usleep(2000);
      }
    }
  }
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  return result;
}

std::string DescribeExit(const ProcessResult& result, std::chrono::milliseconds timeout) {
  if (!result.started) return "could not be started: " + result.start_error;
  if (result.timed_out) {
    return "gave no result within " + std::to_string(timeout.count() / 1000) + " s and was killed";
  }
  if (result.signal != 0) {
    return "was killed by signal " + std::to_string(result.signal) + " (" +
           strsignal(result.signal) + ")";
  }
  return "exited with code " + std::to_string(result.exit_code);
}

}  // namespace pbk
