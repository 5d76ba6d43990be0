#include "tests/tools/vzdump_sim_hook.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace pbk::testing::vzdump_sim {

namespace {

class LineSplitter {
 public:
  template <typename Emit>
  void Feed(const char* data, std::size_t size, Emit&& emit) {
    partial_.append(data, size);
    std::size_t begin = 0;
    for (std::size_t newline; (newline = partial_.find('\n', begin)) != std::string::npos;
         begin = newline + 1) {
      emit(partial_.substr(begin, newline - begin));
    }
    partial_.erase(0, begin);
  }

  // run_command hands an unterminated last line to the log as well.
  template <typename Emit>
  void Finish(Emit&& emit) {
    if (!partial_.empty()) emit(std::exchange(partial_, std::string()));
  }

 private:
  std::string partial_;
};

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      Close();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  ~Fd() { Close(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

struct Pipe {
  Fd read;
  Fd write;
};

Pipe MakePipe() {
  // Close-on-exec everywhere: a hook must inherit nothing but fds 0-2, as
  // Perl marks every descriptor above 2 close-on-exec.
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2: " + ErrnoText(errno));
  return Pipe{Fd(fds[0]), Fd(fds[1])};
}

void CloseRange(unsigned int first, unsigned int last) {
  if (first > last) return;
#ifdef SYS_close_range
  if (syscall(SYS_close_range, first, last, 0U) == 0) return;
#endif
  const long max_fd = sysconf(_SC_OPEN_MAX);
  const unsigned int limit =
      max_fd > 0 ? static_cast<unsigned int>(std::min(max_fd, 65536L)) : 1024U;
  for (unsigned int fd = first; fd <= last && fd < limit; ++fd) ::close(static_cast<int>(fd));
}

// Runs in the forked child; only async-signal-safe calls from here on.
[[noreturn]] void ExecHookChild(int stdin_fd, int stdout_fd, int stderr_fd, int report_fd,
                                char* const* argv, char* const* shell_argv, char* const* envp) {
  // The simulator keeps fds 0-2 open, so the pipe ends are all >= 3 and dup2
  // never meets an fd that is already in place.
  if (dup2(stdin_fd, 0) < 0 || dup2(stdout_fd, 1) < 0 || dup2(stderr_fd, 2) < 0) _exit(127);
  const auto report = static_cast<unsigned int>(report_fd);
  CloseRange(3, report - 1);
  CloseRange(report + 1, ~0U);

  // Start the hook from default signal state whatever the simulator's
  // caller left behind (a background job inherits ignored SIGINT/SIGQUIT).
  struct sigaction default_action {};
  for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &default_action, nullptr);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);

  execve(argv[0], argv, envp);
  // Perl execs through execvp, which hands a file without "#!" to /bin/sh.
  if (errno == ENOEXEC) execve(shell_argv[0], shell_argv, envp);
  const int error = errno;
  ssize_t ignored = write(report_fd, &error, sizeof error);
  (void)ignored;
  _exit(127);
}

}  // namespace

double MillisecondsBetween(Clock::time_point from, Clock::time_point to) {
  const double ms = std::chrono::duration<double, std::milli>(to - from).count();
  return std::round(ms * 1000.0) / 1000.0;
}

namespace {

int OpenPidfd(pid_t pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(syscall(SYS_pidfd_open, pid, 0U));
#else
  (void)pid;
  return -1;
#endif
}

}  // namespace

HookOutcome ExecuteHook(const std::vector<std::string>& argv_strings,
                        const std::vector<std::string>& env_strings, double timeout_s,
                        const std::function<void(bool, const std::string&)>& on_line) {
  // Everything the child needs is built before fork: no allocation after it.
  std::vector<std::string> argv_copy = argv_strings;
  std::vector<std::string> env_copy = env_strings;
  std::vector<char*> argv;
  for (std::string& arg : argv_copy) argv.push_back(arg.data());
  argv.push_back(nullptr);
  std::string shell = "/bin/sh";
  std::vector<char*> shell_argv = {shell.data()};
  shell_argv.insert(shell_argv.end(), argv.begin(), argv.end());
  std::vector<char*> envp;
  for (std::string& entry : env_copy) envp.push_back(entry.data());
  envp.push_back(nullptr);

  Pipe in = MakePipe();
  Pipe out = MakePipe();
  Pipe err = MakePipe();
  Pipe report = MakePipe();

  std::fflush(stdout);
  std::fflush(stderr);
  const Clock::time_point start = Clock::now();
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork: " + ErrnoText(errno));
  if (pid == 0) {
    ExecHookChild(in.read.get(), out.write.get(), err.write.get(), report.write.get(), argv.data(),
                  shell_argv.data(), envp.data());
  }
  in.read.Close();
  in.write.Close();
  out.write.Close();
  err.write.Close();
  report.write.Close();

  HookOutcome outcome;
  outcome.started = start;
  // EOF on the report pipe means execve succeeded (close-on-exec closed it).
  for (;;) {
    int error = 0;
    const ssize_t got = read(report.read.get(), &error, sizeof error);
    if (got < 0 && errno == EINTR) continue;
    if (got == static_cast<ssize_t>(sizeof error)) outcome.exec_errno = error;
    break;
  }
  report.read.Close();

  Fd pidfd(OpenPidfd(pid));
  const auto deadline =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout_s));
  std::array<Fd*, 2> streams = {&out.read, &err.read};
  std::array<LineSplitter, 2> splitters;
  std::optional<Clock::time_point> exit_at;
  std::optional<Clock::time_point> eof_at;

  auto emit_for = [&](std::size_t index) {
    return [&, index](const std::string& line) {
      (index == 0 ? outcome.stdout_lines : outcome.stderr_lines).push_back(line);
      on_line(index == 1, line);
    };
  };
  auto note_exit = [&] {
    if (exit_at) return;
    // WNOWAIT leaves the child unreaped: run_command only calls waitpid after
    // EOF, and a zombie hook is part of what a grandchild can observe.
    siginfo_t info{};
    if (waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
        info.si_pid == pid) {
      exit_at = Clock::now();
    }
  };

  for (;;) {
    note_exit();
    const bool pipes_open = streams[0]->valid() || streams[1]->valid();
    if (!pipes_open && !eof_at) eof_at = Clock::now();
    if (!pipes_open && exit_at) break;

    const Clock::time_point now = Clock::now();
    if (now >= deadline) {
      outcome.hung = true;
      break;
    }
    std::vector<pollfd> watched;
    std::vector<std::size_t> watched_stream;
    for (std::size_t i = 0; i < streams.size(); ++i) {
      if (!streams[i]->valid()) continue;
      watched.push_back(pollfd{streams[i]->get(), POLLIN, 0});
      watched_stream.push_back(i);
    }
    if (!exit_at && pidfd.valid()) watched.push_back(pollfd{pidfd.get(), POLLIN, 0});
    long long wait_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count() + 1;
    // Without a pidfd the exit can only be noticed by polling waitid.
    if (!exit_at && !pidfd.valid()) wait_ms = std::min(wait_ms, 5LL);
    wait_ms = std::min(wait_ms, 60000LL);
    const int ready = poll(watched.data(), watched.size(), static_cast<int>(wait_ms));
    if (ready < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error("poll: " + ErrnoText(errno));
    }
    for (std::size_t w = 0; w < watched_stream.size(); ++w) {
      if (watched[w].revents == 0) continue;
      const std::size_t index = watched_stream[w];
      char buffer[65536];
      const ssize_t got = read(streams[index]->get(), buffer, sizeof buffer);
      if (got > 0) {
        splitters[index].Feed(buffer, static_cast<std::size_t>(got), emit_for(index));
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        splitters[index].Finish(emit_for(index));
        streams[index]->Close();
      }
    }
  }

  if (outcome.hung) {
    for (std::size_t i = 0; i < streams.size(); ++i) {
      if (streams[i]->valid()) splitters[i].Finish(emit_for(i));
      streams[i]->Close();
    }
    // Only the direct child: whatever it left running is not ours to stop.
    if (!exit_at) kill(pid, SIGKILL);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw std::runtime_error("waitpid: " + ErrnoText(errno));
  }
  const Clock::time_point reaped = Clock::now();
  outcome.exit_ms = MillisecondsBetween(start, exit_at.value_or(reaped));
  if (eof_at) outcome.eof_ms = MillisecondsBetween(start, *eof_at);
  if (WIFEXITED(status)) outcome.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) outcome.signal = WTERMSIG(status);
  return outcome;
}

std::string ShellQuote(const std::string& word) {
  const bool safe = !word.empty() && std::all_of(word.begin(), word.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::strchr("-_./:=@,+%", c) != nullptr;
  });
  if (safe) return word;
  std::string quoted = "'";
  for (char c : word) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

std::string JoinWords(const std::vector<std::string>& words, bool quote) {
  std::string joined;
  for (const std::string& word : words) {
    if (!joined.empty()) joined += ' ';
    joined += quote ? ShellQuote(word) : word;
  }
  return joined;
}

}  // namespace pbk::testing::vzdump_sim
