#include "tests/support/process.h"

#include "tests/support/suite_log.h"
#include "tests/support/test_text.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

extern char** environ;

namespace pbk::testing {
namespace {

using Clock = std::chrono::steady_clock;

int64_t MsSince(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

// argv and envp as execve wants them, built before fork so the child only
// makes async-signal-safe calls.
class ExecArgs {
 public:
  ExecArgs(const std::vector<std::string>& argv, const std::map<std::string, std::string>* env)
      : args_(argv) {
    for (auto& arg : args_) argv_.push_back(arg.data());
    argv_.push_back(nullptr);
    if (env != nullptr) {
      inherit_ = false;
      for (const auto& [key, value] : *env) env_strings_.push_back(key + "=" + value);
      for (auto& entry : env_strings_) envp_.push_back(entry.data());
      envp_.push_back(nullptr);
    }
  }
  char* const* argv() const { return argv_.data(); }
  char* const* envp() const { return inherit_ ? environ : envp_.data(); }

 private:
  std::vector<std::string> args_;
  std::vector<std::string> env_strings_;
  std::vector<char*> argv_;
  std::vector<char*> envp_;
  bool inherit_ = true;
};

void CloseFd(int* fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

void CloseFrom(int first) {
#ifdef SYS_close_range
  if (syscall(SYS_close_range, static_cast<unsigned>(first), ~0U, 0U) == 0) return;
#endif
  const long limit = sysconf(_SC_OPEN_MAX);
  for (long fd = first; fd < (limit > 0 ? limit : 1024); ++fd) close(static_cast<int>(fd));
}

// In the child: fds 0-2 in place, nothing else open except the report pipe
// (close-on-exec), default signal handling, own process group, then exec.
[[noreturn]] void ExecChild(int stdin_fd, int stdout_fd, int stderr_fd, int report_fd,
                            const ExecArgs& exec_args) {
  setpgid(0, 0);
  // Move the report pipe out of the way of 0-2 first.
  int report = fcntl(report_fd, F_DUPFD_CLOEXEC, 10);
  if (report < 0 || dup2(stdin_fd, 0) < 0 || dup2(stdout_fd, 1) < 0 || dup2(stderr_fd, 2) < 0) {
    _exit(127);
  }
  // Close 3..report-1 and everything above it.
  for (int fd = 3; fd < report; ++fd) close(fd);
  CloseFrom(report + 1);
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &default_action, nullptr);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  execve(exec_args.argv()[0], exec_args.argv(), exec_args.envp());
  int error = errno;
  ssize_t ignored = write(report, &error, sizeof error);
  (void)ignored;
  _exit(127);
}

// Forks and execs; returns the pid, or -1 with *err. The child's fds 0-2
// are STDIN_FD, STDOUT_FD and STDERR_FD.
pid_t Spawn(const ExecArgs& exec_args, int stdin_fd, int stdout_fd, int stderr_fd,
            std::string* err) {
  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) {
    *err = std::string("pipe2: ") + std::strerror(errno);
    return -1;
  }
  const pid_t pid = fork();
  if (pid < 0) {
    *err = std::string("fork: ") + std::strerror(errno);
    close(report[0]);
    close(report[1]);
    return -1;
  }
  if (pid == 0) ExecChild(stdin_fd, stdout_fd, stderr_fd, report[1], exec_args);
  setpgid(pid, pid);  // also here, so killpg works however soon it is needed
  close(report[1]);
  int exec_error = 0;
  ssize_t got;
  do {
    got = read(report[0], &exec_error, sizeof exec_error);
  } while (got < 0 && errno == EINTR);
  close(report[0]);
  if (got == static_cast<ssize_t>(sizeof exec_error)) {
    int status = 0;
    waitpid(pid, &status, 0);
    *err = std::string("cannot execute ") + exec_args.argv()[0] + ": " + std::strerror(exec_error);
    return -1;
  }
  return pid;
}

void DecodeStatus(int status, int* exit_code, int* signal_number) {
  *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  *signal_number = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

}  // namespace

std::string RunResult::Describe() const {
  if (!started) return "not started: " + error;
  std::string text;
  if (timed_out) text = "timed out after " + std::to_string(wall_ms) + " ms, ";
  if (signal != 0) return text + "signal " + std::to_string(signal);
  return text + "exit " + std::to_string(exit_code);
}

RunResult Run(const std::vector<std::string>& argv, const std::map<std::string, std::string>* env,
              std::chrono::milliseconds timeout) {
  RunResult result;
  if (argv.empty()) {
    result.error = "empty argv";
    return result;
  }
  const ExecArgs exec_args(argv, env);
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) {
    result.error = std::string("pipe2: ") + std::strerror(errno);
    return result;
  }
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    result.error = std::string("pipe2: ") + std::strerror(errno);
    close(out_pipe[0]);
    close(out_pipe[1]);
    return result;
  }
  int dev_null = open("/dev/null", O_RDONLY | O_CLOEXEC);
  const Clock::time_point start = Clock::now();
  const pid_t pid = Spawn(exec_args, dev_null, out_pipe[1], err_pipe[1], &result.error);
  CloseFd(&dev_null);
  CloseFd(&out_pipe[1]);
  CloseFd(&err_pipe[1]);
  int fds[2] = {out_pipe[0], err_pipe[0]};
  std::string* sinks[2] = {&result.out, &result.err};
  if (pid < 0) {
    CloseFd(&fds[0]);
    CloseFd(&fds[1]);
    return result;
  }
  result.started = true;

  const Clock::time_point deadline = start + timeout;
  // After a kill, grandchildren outside the group may still hold the pipes;
  // they get a short while to let go before the pipes are abandoned.
  Clock::time_point drain_deadline = deadline;
  bool exited = false;
  int status = 0;
  for (;;) {
    if (!exited) {
      pid_t done = waitpid(pid, &status, WNOHANG);
      if (done == pid) exited = true;
    }
    const bool pipes_open = fds[0] >= 0 || fds[1] >= 0;
    if (exited && !pipes_open) break;
    const Clock::time_point now = Clock::now();
    if (now >= drain_deadline) {
      if (!result.timed_out) {
        result.timed_out = true;
        kill(-pid, SIGKILL);
        drain_deadline = now + std::chrono::seconds(2);
        continue;
      }
      break;
    }
    std::vector<pollfd> watched;
    std::vector<int> index;
    for (int i = 0; i < 2; ++i) {
      if (fds[i] < 0) continue;
      watched.push_back(pollfd{fds[i], POLLIN, 0});
      index.push_back(i);
    }
    long long wait_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(drain_deadline - now).count() + 1;
    if (!exited) wait_ms = std::min(wait_ms, 10LL);  // exits are noticed by polling waitpid
    int ready = poll(watched.data(), watched.size(), static_cast<int>(wait_ms));
    if (ready < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (size_t w = 0; w < watched.size(); ++w) {
      if (watched[w].revents == 0) continue;
      const int i = index[w];
      char buffer[65536];
      ssize_t got = read(fds[i], buffer, sizeof buffer);
      if (got > 0) {
        sinks[i]->append(buffer, static_cast<size_t>(got));
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        CloseFd(&fds[i]);
      }
    }
  }
  CloseFd(&fds[0]);
  CloseFd(&fds[1]);
  if (!exited) {
    kill(-pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  result.wall_ms = MsSince(start);
  DecodeStatus(status, &result.exit_code, &result.signal);
  RecordSuiteOutput(result.out);
  RecordSuiteOutput(result.err);
  return result;
}

BackgroundProcess::~BackgroundProcess() { Stop(); }

bool BackgroundProcess::Start(const std::vector<std::string>& argv,
                              const std::map<std::string, std::string>* env,
                              const std::string& stdout_path, const std::string& stderr_path,
                              std::string* err) {
  Stop();
  if (argv.empty()) {
    *err = "empty argv";
    return false;
  }
  const ExecArgs exec_args(argv, env);
  int dev_null = open("/dev/null", O_RDONLY | O_CLOEXEC);
  int out = open(stdout_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  int error_out = open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  pid_t pid = -1;
  if (dev_null < 0 || out < 0 || error_out < 0) {
    *err = "cannot open " + stdout_path + " or " + stderr_path + ": " + std::strerror(errno);
  } else {
    pid = Spawn(exec_args, dev_null, out, error_out, err);
  }
  CloseFd(&dev_null);
  CloseFd(&out);
  CloseFd(&error_out);
  if (pid < 0) return false;
  pid_ = pid;
  exit_code_ = -1;
  signal_ = 0;
  return true;
}

void BackgroundProcess::Reaped(int status) {
  DecodeStatus(status, &exit_code_, &signal_);
  pid_ = 0;
}

bool BackgroundProcess::Running() {
  if (pid_ <= 0) return false;
  int status = 0;
  pid_t done = waitpid(pid_, &status, WNOHANG);
  if (done == pid_) {
    Reaped(status);
    return false;
  }
  if (done < 0 && errno != EINTR) {  // not our child any more
    pid_ = 0;
    return false;
  }
  return true;
}

bool BackgroundProcess::Wait(std::chrono::milliseconds timeout) {
  const Clock::time_point deadline = Clock::now() + timeout;
  while (Running()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

void BackgroundProcess::Stop() {
  if (!Running()) return;
  kill(pid_, SIGTERM);
  if (Wait(std::chrono::seconds(5))) return;
  kill(pid_, SIGKILL);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  Reaped(status);
}

bool StartListening(BackgroundProcess* process, const std::vector<std::string>& argv,
                    const std::string& name, const std::string& port_file,
                    const std::string& stdout_path, const std::string& stderr_path,
                    uint16_t* port, std::string* err) {
  unlink(port_file.c_str());
  if (!process->Start(argv, nullptr, stdout_path, stderr_path, err)) return false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    const std::string text = ReadText(port_file);
    if (!text.empty()) {
      const int number = std::atoi(text.c_str());
      if (number <= 0 || number > 65535) {
        *err = name + " wrote a bad port file: " + text;
        process->Stop();
        return false;
      }
      *port = static_cast<uint16_t>(number);
      return true;
    }
    if (!process->Running()) {
      *err = name + " ended before it listened (exit " + std::to_string(process->exit_code()) +
             "): " + ReadText(stderr_path);
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  *err = name + " did not listen within 10 s: " + ReadText(stderr_path);
  process->Stop();
  return false;
}

}  // namespace pbk::testing
