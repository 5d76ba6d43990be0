// pbk-vzdump-sim: plays the part of a Proxmox VE vzdump worker towards a hook
// script. It reproduces what a hook can observe (argv, the emptied
// environment, stdio pipes, phase order, how a failing phase changes the rest
// of the job, the worker's UPID in /proc/<ppid>/cmdline and the scheduler's
// job state file) without a Proxmox host, so black-box tests can drive the
// real hook wrapper. The reference behaviour is PVE/VZDump.pm and
// PVE::Tools::run_command from pve-manager and pve-common.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace pbk::testing {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr int kExitOk = 0;
constexpr int kExitTaskFailed = 1;
constexpr int kExitUsage = 2;

// Passed as the first argument when the simulator re-executes itself under its
// task name, so the second image knows argv[0] carries the UPID.
constexpr char kWorkerMarker[] = "--vzdump-sim-worker";
constexpr char kTaskPrefix[] = "task ";

constexpr char kUsage[] =
    "usage: pbk-vzdump-sim (--hook PATH | --vzdump-conf FILE) --scenario FILE [--summary FILE]\n"
    "                      [--node NAME]\n"
    "                      [--no-upid] [--scheduler-dir DIR] [--tasks-dir DIR]\n"
    "                      [--hook-timeout SECONDS]\n";

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A hook that never lets go of its pipes (or never exits) blocks a real
// vzdump forever, so nothing after such a call can be emulated faithfully.
class TaskStalled : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

std::string ErrnoText(int error) { return std::strerror(error); }

// ---------------------------------------------------------------------------
// Command line

struct Options {
  std::string hook;
  // The node's /etc/vzdump.conf: without --hook, the hook is its `script:`
  // line, as vzdump takes the node default for a job that sets no script.
  std::string vzdump_conf;
  std::string scenario;
  std::string summary;
  std::string node = "pve1";
  std::string scheduler_dir;
  // Where PVE keeps task logs (/var/log/pve/tasks): the task log is also
  // written to <DIR>/<last hex digit of the UPID's starttime>/<UPID>.
  std::string tasks_dir;
  double hook_timeout_s = 120.0;
  bool no_upid = false;
  bool worker = false;
  bool help = false;
};

bool IsValidNodeName(const std::string& node) {
  // pvecm refuses other node names, and ':' would break the UPID fields.
  if (node.empty() || node.front() == '-' || node.back() == '-') return false;
  return std::all_of(node.begin(), node.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
  });
}

// vzdump.conf's `script:` value (PVE::VZDump::read_vzdump_defaults: "key:
// value" lines, '#' comments); a file without one means no hook at all,
// which a test of the hook must not take for a run.
std::string NodeDefaultScript(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw UsageError("--vzdump-conf " + path + ": cannot be read");
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind("script:", 0) != 0) continue;
    std::string value = line.substr(7);
    const auto first = value.find_first_not_of(" \t");
    const auto last = value.find_last_not_of(" \t");
    if (first != std::string::npos) return value.substr(first, last - first + 1);
  }
  throw UsageError("--vzdump-conf " + path + " sets no script: vzdump would run no hook");
}

Options ParseOptions(const std::vector<std::string>& args) {
  Options options;
  std::size_t i = 0;
  if (!args.empty() && args[0] == kWorkerMarker) {
    options.worker = true;
    i = 1;
  }
  auto value = [&](const std::string& flag) -> const std::string& {
    if (i + 1 >= args.size()) throw UsageError(flag + " needs a value");
    return args[++i];
  };
  for (; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--hook") {
      options.hook = value(arg);
    } else if (arg == "--vzdump-conf") {
      options.vzdump_conf = value(arg);
    } else if (arg == "--scenario") {
      options.scenario = value(arg);
    } else if (arg == "--summary") {
      options.summary = value(arg);
    } else if (arg == "--node") {
      options.node = value(arg);
    } else if (arg == "--scheduler-dir") {
      options.scheduler_dir = value(arg);
    } else if (arg == "--tasks-dir") {
      options.tasks_dir = value(arg);
    } else if (arg == "--hook-timeout") {
      const std::string& text = value(arg);
      char* end = nullptr;
      errno = 0;
      const double seconds = std::strtod(text.c_str(), &end);
      if (text.empty() || *end != '\0' || errno != 0 || !std::isfinite(seconds) || seconds <= 0) {
        throw UsageError("--hook-timeout needs a positive number of seconds, got '" + text + "'");
      }
      options.hook_timeout_s = seconds;
    } else if (arg == "--no-upid") {
      options.no_upid = true;
    } else if (arg == "--help" || arg == "-h") {
      options.help = true;
    } else {
      throw UsageError("unknown argument '" + arg + "'");
    }
  }
  if (options.help) return options;
  if (options.hook.empty() == options.vzdump_conf.empty()) {
    throw UsageError("give either --hook or --vzdump-conf");
  }
  if (!options.vzdump_conf.empty()) options.hook = NodeDefaultScript(options.vzdump_conf);
  if (options.scenario.empty()) throw UsageError("--scenario is required");
  if (!IsValidNodeName(options.node)) {
    throw UsageError("--node '" + options.node + "' is not a valid Proxmox node name");
  }
  return options;
}

// ---------------------------------------------------------------------------
// Scenario

enum class GuestRun { kSnapshot, kSuspend, kStop, kStopped, kFailArchive, kFailEarly };

struct Guest {
  long long vmid = 0;
  std::string type;                 // "qemu" or "lxc"; empty only for fail-early
  std::optional<std::string> name;  // qemu guests without a name have no HOSTNAME
  GuestRun run = GuestRun::kSnapshot;
  double archive_seconds = 0.0;
};

struct Scenario {
  std::optional<std::string> storage;
  std::optional<std::string> dumpdir;
  std::optional<std::string> job_id;
  json job_config = json::object();
  // The run's own options, as vzdump logs them in "starting new backup job":
  // key -> string, number or (for property strings) object; "vmid" is the
  // guest list. Absent: the job's config (a scheduled run), else the guests
  // and the storage (a guest's "Backup now").
  std::optional<json> options;
  std::vector<Guest> guests;
  std::optional<long long> abort_after_guest;
  bool fail_job_start = false;
  // An "all" job runs its job phases on every node, even one without guests.
  bool all = false;
};

class ScenarioError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

[[noreturn]] void Invalid(const std::string& where, const std::string& problem) {
  throw ScenarioError(where + ": " + problem);
}

void RejectUnknownKeys(const json& object, const std::string& where,
                       const std::vector<std::string>& known) {
  for (const auto& item : object.items()) {
    if (std::find(known.begin(), known.end(), item.key()) == known.end()) {
      Invalid(where + "." + item.key(), "unknown key");
    }
  }
}

const json* Member(const json& object, const std::string& key) {
  const auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

// Missing and null mean the same for optional keys; a present key of the wrong
// type is an error rather than silently ignored, so typos in tests surface.
std::optional<std::string> NullableString(const json& object, const std::string& key,
                                          const std::string& where, bool required) {
  const json* value = Member(object, key);
  if (value == nullptr) {
    if (required) Invalid(where + "." + key, "missing key");
    return std::nullopt;
  }
  if (value->is_null()) return std::nullopt;
  if (!value->is_string()) {
    Invalid(where + "." + key, std::string("expected a string or null, got ") + value->type_name());
  }
  const std::string text = value->get<std::string>();
  if (text.empty()) Invalid(where + "." + key, "must not be empty");
  return text;
}

std::optional<long long> NullableInteger(const json& object, const std::string& key,
                                         const std::string& where) {
  const json* value = Member(object, key);
  if (value == nullptr || value->is_null()) return std::nullopt;
  if (!value->is_number_integer()) {
    Invalid(where + "." + key, std::string("expected an integer, got ") + value->type_name());
  }
  if (value->is_number_unsigned() && value->get<unsigned long long>() > 1000000000000ULL) {
    Invalid(where + "." + key, "out of range");
  }
  return value->get<long long>();
}

GuestRun ParseRun(const std::string& text, const std::string& where) {
  static const std::map<std::string, GuestRun> kRuns = {{"snapshot", GuestRun::kSnapshot},
                                                        {"suspend", GuestRun::kSuspend},
                                                        {"stop", GuestRun::kStop},
                                                        {"stopped", GuestRun::kStopped},
                                                        {"fail-archive", GuestRun::kFailArchive},
                                                        {"fail-early", GuestRun::kFailEarly}};
  const auto it = kRuns.find(text);
  if (it == kRuns.end()) {
    Invalid(
        where,
        "'" + text + "' is not one of snapshot, suspend, stop, stopped, fail-archive, fail-early");
  }
  return it->second;
}

Guest ParseGuest(const json& entry, const std::string& where) {
  if (!entry.is_object())
    Invalid(where, std::string("expected an object, got ") + entry.type_name());
  RejectUnknownKeys(entry, where, {"vmid", "type", "name", "run", "archive_seconds"});
  Guest guest;
  if (Member(entry, "vmid") == nullptr) Invalid(where + ".vmid", "missing key");
  const std::optional<long long> vmid = NullableInteger(entry, "vmid", where);
  if (!vmid) Invalid(where + ".vmid", "must not be null");
  if (*vmid < 100 || *vmid > 999999999) Invalid(where + ".vmid", "must be 100..999999999");
  guest.vmid = *vmid;

  const std::optional<std::string> run = NullableString(entry, "run", where, true);
  if (!run) Invalid(where + ".run", "must not be null");
  guest.run = ParseRun(*run, where + ".run");

  // An unknown guest has no type at all, so fail-early may omit it.
  const std::optional<std::string> type =
      NullableString(entry, "type", where, guest.run != GuestRun::kFailEarly);
  if (type) {
    if (*type != "qemu" && *type != "lxc") Invalid(where + ".type", "must be \"qemu\" or \"lxc\"");
    guest.type = *type;
  } else if (guest.run != GuestRun::kFailEarly) {
    Invalid(where + ".type", "must not be null");
  }

  guest.name = NullableString(entry, "name", where, false);

  if (const json* seconds = Member(entry, "archive_seconds");
      seconds != nullptr && !seconds->is_null()) {
    if (!seconds->is_number()) {
      Invalid(where + ".archive_seconds",
              std::string("expected a number, got ") + seconds->type_name());
    }
    guest.archive_seconds = seconds->get<double>();
    if (!std::isfinite(guest.archive_seconds) || guest.archive_seconds < 0) {
      Invalid(where + ".archive_seconds", "must be a finite number >= 0");
    }
  }
  return guest;
}

Scenario ParseScenario(const json& doc) {
  const std::string where = "scenario";
  if (!doc.is_object()) Invalid(where, std::string("expected an object, got ") + doc.type_name());
  RejectUnknownKeys(doc, where,
                    {"storage", "dumpdir", "job_id", "job_config", "options", "guests",
                     "abort_after_guest", "fail_job_start", "all"});
  Scenario scenario;
  scenario.storage = NullableString(doc, "storage", where, true);
  scenario.dumpdir = NullableString(doc, "dumpdir", where, false);
  if (!scenario.storage && !scenario.dumpdir) {
    Invalid(where, "storage and dumpdir are both null; a job writes to one of them");
  }
  if (scenario.dumpdir) {
    // vzdump strips trailing slashes before it builds any path from dumpdir.
    std::string& dir = *scenario.dumpdir;
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  }

  scenario.job_id = NullableString(doc, "job_id", where, false);
  if (scenario.job_id && scenario.job_id->find('/') != std::string::npos) {
    Invalid(where + ".job_id", "must not contain '/'");
  }

  if (const json* config = Member(doc, "job_config"); config != nullptr && !config->is_null()) {
    if (!config->is_object()) {
      Invalid(where + ".job_config", std::string("expected an object, got ") + config->type_name());
    }
    scenario.job_config = *config;
  }
  if (const json* options = Member(doc, "options"); options != nullptr && !options->is_null()) {
    if (!options->is_object()) {
      Invalid(where + ".options", std::string("expected an object, got ") + options->type_name());
    }
    scenario.options = *options;
  }

  const json* guests = Member(doc, "guests");
  if (guests == nullptr) Invalid(where + ".guests", "missing key");
  if (!guests->is_array()) {
    Invalid(where + ".guests", std::string("expected an array, got ") + guests->type_name());
  }
  for (std::size_t i = 0; i < guests->size(); ++i) {
    scenario.guests.push_back(
        ParseGuest((*guests)[i], where + ".guests[" + std::to_string(i) + "]"));
  }
  // vzdump always walks its task list in ascending vmid order.
  std::sort(scenario.guests.begin(), scenario.guests.end(),
            [](const Guest& a, const Guest& b) { return a.vmid < b.vmid; });
  for (std::size_t i = 1; i < scenario.guests.size(); ++i) {
    if (scenario.guests[i].vmid == scenario.guests[i - 1].vmid) {
      Invalid(where + ".guests", "vmid " + std::to_string(scenario.guests[i].vmid) + " repeats");
    }
  }

  scenario.abort_after_guest = NullableInteger(doc, "abort_after_guest", where);
  if (scenario.abort_after_guest && *scenario.abort_after_guest < 0) {
    Invalid(where + ".abort_after_guest", "must be >= 0");
  }

  if (const json* flag = Member(doc, "fail_job_start"); flag != nullptr && !flag->is_null()) {
    if (!flag->is_boolean()) {
      Invalid(where + ".fail_job_start",
              std::string("expected a boolean, got ") + flag->type_name());
    }
    scenario.fail_job_start = flag->get<bool>();
  }
  if (const json* flag = Member(doc, "all"); flag != nullptr && !flag->is_null()) {
    if (!flag->is_boolean()) {
      Invalid(where + ".all", std::string("expected a boolean, got ") + flag->type_name());
    }
    scenario.all = flag->get<bool>();
  }
  return scenario;
}

Scenario LoadScenario(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ScenarioError("cannot read scenario file '" + path + "': " + ErrnoText(errno));
  json doc;
  try {
    doc = json::parse(in);
  } catch (const json::parse_error& e) {
    throw ScenarioError("scenario file '" + path + "' is not valid JSON: " + e.what());
  }
  return ParseScenario(doc);
}

// ---------------------------------------------------------------------------
// Process identity

unsigned long long ReadOwnStartTicks() {
  std::string stat;
  {
    std::ifstream in("/proc/self/stat");
    std::getline(in, stat);
  }
  // comm (field 2) may itself contain spaces and ')', so count fields from
  // the last ')' instead of splitting the whole line.
  const std::size_t close = stat.rfind(')');
  if (close == std::string::npos) throw std::runtime_error("cannot parse /proc/self/stat");
  std::istringstream fields(stat.substr(close + 1));
  std::string field;
  for (int index = 3; index <= 22; ++index) {
    if (!(fields >> field)) throw std::runtime_error("cannot parse /proc/self/stat");
  }
  return std::stoull(field);
}

std::string BuildUpid(const std::string& node) {
  const auto pid = static_cast<unsigned long long>(getpid());
  const unsigned long long pstart = ReadOwnStartTicks();
  const auto start = static_cast<unsigned long long>(std::time(nullptr));
  char fields[64];
  std::snprintf(fields, sizeof fields, "%08llX:%08llX:%08llX", pid, pstart, start);
  return "UPID:" + node + ":" + fields + ":vzdump::root@pam:";
}

// Replaces the process image so that /proc/<pid>/cmdline starts with
// "task UPID:...\0" like a forked PVE task worker; the pid (and with it the
// pstart inside the UPID) survives execve. Returns only on failure.
void ReExecAsWorker(const std::string& upid, const std::vector<std::string>& args) {
  std::vector<std::string> new_args = {kTaskPrefix + upid, kWorkerMarker};
  new_args.insert(new_args.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& arg : new_args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  std::fflush(stdout);
  std::fflush(stderr);
  execv("/proc/self/exe", argv.data());
  throw std::runtime_error("cannot re-execute /proc/self/exe: " + ErrnoText(errno));
}

void WriteFileAtomically(const std::string& path, const std::string& content) {
  // Same scheme as PVE::Tools::file_set_contents: readers never see a torn file.
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << content;
    out.flush();
    if (!out) throw std::runtime_error("cannot write '" + tmp + "': " + ErrnoText(errno));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int error = errno;
    std::remove(tmp.c_str());
    throw std::runtime_error("cannot rename '" + tmp + "' to '" + path + "': " + ErrnoText(error));
  }
}

// ---------------------------------------------------------------------------
// Running one hook call the way PVE::Tools::run_command does

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

double MillisecondsBetween(Clock::time_point from, Clock::time_point to) {
  const double ms = std::chrono::duration<double, std::milli>(to - from).count();
  return std::round(ms * 1000.0) / 1000.0;
}

int OpenPidfd(pid_t pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(syscall(SYS_pidfd_open, pid, 0U));
#else
  (void)pid;
  return -1;
#endif
}

// Forks and execs the hook without a shell, closes its stdin at once, reads
// stdout and stderr until both are at EOF and only then reaps it: the same
// order as run_command, which is what makes a lingering grandchild stall
// vzdump. `on_line` sees every line as it arrives (false = stdout).
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

// The quoting of PVE::Tools::cmd2string, which names the command in errors.
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

// The run's options as PVE::VZDump::Common::command_line prints them in
// "starting new backup job": the guests first, then --key value for every
// other option (mailto once per address; property strings printed as
// key=value lists, unquoted; the rest shell-quoted).
std::string CommandLine(const json& options) {
  auto text = [](const json& value) {
    if (value.is_string()) return value.get<std::string>();
    if (value.is_boolean()) return std::string(value.get<bool>() ? "1" : "0");
    return value.dump();
  };
  auto split = [](const std::string& list) {
    std::vector<std::string> words;
    std::string word;
    for (char c : list + ",") {
      if (c == ',' || c == ';' || c == ' ') {
        if (!word.empty()) words.push_back(word);
        word.clear();
      } else {
        word += c;
      }
    }
    return words;
  };
  std::string line = "vzdump";
  if (const auto vmid = options.find("vmid"); vmid != options.end()) {
    for (const std::string& id : split(text(*vmid))) line += " " + id;
  }
  static const char* const kNotPrinted[] = {"id",     "vmid",    "starttime", "dow",
                                            "stdout", "enabled", "job-id"};
  for (const auto& item : options.items()) {
    if (std::find(std::begin(kNotPrinted), std::end(kNotPrinted), item.key()) !=
        std::end(kNotPrinted)) {
      continue;
    }
    if (item.key() == "mailto") {
      for (const std::string& address : split(text(item.value()))) {
        line += " --mailto " + ShellQuote(address);
      }
    } else if (item.value().is_object()) {
      std::string parts;
      for (const auto& part : item.value().items()) {
        parts += (parts.empty() ? "" : ",") + part.key() + "=" + text(part.value());
      }
      line += " --" + item.key() + " " + parts;
    } else {
      line += " --" + item.key() + " " + ShellQuote(text(item.value()));
    }
  }
  return line;
}

std::string FormatSeconds(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", seconds);
  return text;
}

std::string FormatTime(std::time_t when, const char* format, bool utc) {
  std::tm parts{};
  if (utc) {
    gmtime_r(&when, &parts);
  } else {
    localtime_r(&when, &parts);
  }
  char text[64];
  std::strftime(text, sizeof text, format, &parts);
  return text;
}

// ---------------------------------------------------------------------------
// The job

class Simulation {
 public:
  Simulation(const Options& options, const Scenario& scenario, std::optional<std::string> upid)
      : options_(options), scenario_(scenario), upid_(std::move(upid)) {
    if (!options_.tasks_dir.empty() && upid_) OpenTaskLog();
  }

  void Run() {
    try {
      RunJob();
    } catch (const TaskStalled& stalled) {
      task_status_ = stalled.what();
    }
    Log(task_status_ == "OK" ? "TASK OK" : "TASK ERROR: " + task_status_);
  }

  bool succeeded() const { return task_status_ == "OK"; }

  json Summary() const {
    json guests = json::object();
    for (const auto& [vmid, state] : guest_states_) guests[std::to_string(vmid)] = state;
    return json{{"upid", upid_ ? json(*upid_) : json(nullptr)},
                {"pid", static_cast<long long>(getpid())},
                {"calls", calls_},
                {"guests", guests},
                {"task_status", task_status_}};
  }

 private:
  // What run_hook_script exports from $task: a key exists only when set.
  struct GuestTask {
    const Guest* guest = nullptr;
    std::string mode;
    std::map<std::string, std::string> env;
  };

  using Error = std::optional<std::string>;

  void Log(const std::string& line) {
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
    if (task_log_.is_open()) task_log_ << line << '\n' << std::flush;
  }

  // <tasks_dir>/<last hex digit of the starttime>/<UPID>, as PVE::Tools
  // upid_decode names it; written while the job runs.
  void OpenTaskLog() {
    const std::string& upid = *upid_;
    const std::size_t type_colon = upid.find(":vzdump:");
    if (type_colon == std::string::npos || type_colon == 0) {
      throw std::runtime_error("cannot place the task log of " + upid);
    }
    const std::string dir = options_.tasks_dir + "/" + upid.substr(type_colon - 1, 1);
    if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      throw std::runtime_error("cannot create '" + dir + "': " + ErrnoText(errno));
    }
    task_log_.open(dir + "/" + upid, std::ios::binary | std::ios::trunc);
    if (!task_log_) throw std::runtime_error("cannot write the task log in '" + dir + "'");
  }

  json RunOptions() const {
    if (scenario_.options) return *scenario_.options;
    if (!scenario_.job_config.empty()) return scenario_.job_config;
    json options = json::object();
    std::string vmids;
    for (const Guest& guest : scenario_.guests) {
      vmids += (vmids.empty() ? "" : ",") + std::to_string(guest.vmid);
    }
    if (!vmids.empty()) options["vmid"] = vmids;
    if (scenario_.all) options["all"] = 1;
    if (scenario_.storage) options["storage"] = *scenario_.storage;
    return options;
  }

  bool IsPbs() const { return scenario_.storage && !scenario_.dumpdir; }

  std::map<std::string, std::string> JobEnv() const {
    std::map<std::string, std::string> env = {{"LC_ALL", "C"}, {"LVM_SUPPRESS_FD_WARNINGS", "1"}};
    if (scenario_.storage) env["STOREID"] = *scenario_.storage;
    // A storage's directory is only looked up after job-init; a job given a
    // plain --dumpdir knows it from the start.
    if (scenario_.dumpdir && (storage_resolved_ || !scenario_.storage)) {
      env["DUMPDIR"] = *scenario_.dumpdir;
    }
    return env;
  }

  Error RunHook(const std::string& phase, const GuestTask* task) {
    const std::string& script = options_.hook;
    struct stat info {};
    if (stat(script.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) {
      return "Error: The hook script '" + script + "' does not exist.";
    }
    if (access(script.c_str(), X_OK) != 0) {
      return "Error: The hook script '" + script + "' is not executable.";
    }

    std::vector<std::string> argv = {script, phase};
    if (task != nullptr) {
      argv.push_back(task->mode);
      argv.push_back(std::to_string(task->guest->vmid));
    }
    std::map<std::string, std::string> env = JobEnv();
    if (task != nullptr) {
      for (const auto& [key, value] : task->env) env[key] = value;
    }
    std::vector<std::string> env_strings;
    for (const auto& [key, value] : env) env_strings.push_back(key + "=" + value);

    const HookOutcome outcome =
        ExecuteHook(argv, env_strings, options_.hook_timeout_s,
                    [&](bool, const std::string& line) { Log(phase + ": " + line); });

    const std::string command = "command '" + JoinWords(argv, true) + "' failed: ";
    Error error;
    if (outcome.hung) {
      error = "hook script stalled in phase '" + phase +
              "': " + (outcome.eof_ms ? "it did not exit" : "its stdout/stderr did not reach EOF") +
              " within " + FormatSeconds(options_.hook_timeout_s) +
              " s (vzdump would wait forever)";
    } else if (outcome.exec_errno != 0) {
      error = command + "open3: exec of " + JoinWords(argv, false) +
              " failed: " + ErrnoText(outcome.exec_errno);
    } else if (outcome.signal) {
      error = command + "got signal " + std::to_string(*outcome.signal);
    } else if (outcome.exit_code && *outcome.exit_code != 0) {
      error = command + "exit code " + std::to_string(*outcome.exit_code);
    }

    json env_json = json::object();
    for (const auto& [key, value] : env) env_json[key] = value;
    calls_.push_back(json{{"phase", phase},
                          {"args", std::vector<std::string>(argv.begin() + 1, argv.end())},
                          {"env", env_json},
                          {"start_ms", MillisecondsBetween(simulation_start_, outcome.started)},
                          {"exit", outcome.exit_code ? json(*outcome.exit_code) : json(nullptr)},
                          {"signal", outcome.signal ? json(*outcome.signal) : json(nullptr)},
                          {"exit_ms", outcome.exit_ms},
                          {"eof_ms", outcome.eof_ms ? json(*outcome.eof_ms) : json(nullptr)},
                          {"hung", outcome.hung},
                          {"stdout", outcome.stdout_lines},
                          {"stderr", outcome.stderr_lines},
                          {"error", error ? json(*error) : json(nullptr)}});

    if (outcome.hung) throw TaskStalled(*error);
    return error;
  }

  void Warn(const Error& error) {
    if (error) Log("WARN: " + *error);
  }

  void FillGuestEnv(const Guest& guest, GuestTask* task) const {
    const std::time_t backup_time = std::time(nullptr);
    const std::string base = "vzdump-" + guest.type + "-" + std::to_string(guest.vmid) +
                             FormatTime(backup_time, "-%Y_%m_%d-%H_%M_%S", false);
    task->env["VMTYPE"] = guest.type;
    if (guest.name) {
      task->env["HOSTNAME"] = *guest.name;
    } else if (guest.type == "lxc") {
      task->env["HOSTNAME"] = "CT" + std::to_string(guest.vmid);
    }
    if (IsPbs()) {
      task->env["TARGET"] = std::string(guest.type == "lxc" ? "ct/" : "vm/") +
                            std::to_string(guest.vmid) + "/" +
                            FormatTime(backup_time, "%Y-%m-%dT%H:%M:%SZ", true);
    } else {
      const std::string extension = guest.type == "lxc" ? ".tar.zst" : ".vma.zst";
      task->env["TARGET"] = *scenario_.dumpdir + "/" + base + extension;
      task->env["LOGFILE"] = *scenario_.dumpdir + "/" + base + ".log";
    }
  }

  // The part of exec_backup_task inside its eval. Sets *needs_restart when
  // the guest was stopped or suspended and its restart hooks are still owed
  // by the cleanup code.
  Error RunGuestPhases(const GuestTask& task, bool running, bool* needs_restart) {
    const Guest& guest = *task.guest;
    if (task.mode == "stop") {
      if (Error e = RunHook("backup-start", &task)) return e;
      if (running) {
        if (Error e = RunHook("pre-stop", &task)) return e;
        *needs_restart = true;
      }
    } else if (task.mode == "suspend") {
      if (Error e = RunHook("backup-start", &task)) return e;
      if (Error e = RunHook("pre-stop", &task)) return e;
      *needs_restart = true;
      // Only containers resume before the archive is written; a VM resumes
      // once the QEMU backup job runs, and its restart hooks come in cleanup.
      if (guest.type == "lxc") {
        *needs_restart = false;
        if (Error e = RunHook("pre-restart", &task)) return e;
        if (Error e = RunHook("post-restart", &task)) return e;
      }
    } else {
      if (Error e = RunHook("backup-start", &task)) return e;
      if (Error e = RunHook("pre-stop", &task)) return e;
      if (Error e = RunHook("pre-restart", &task)) return e;
      if (Error e = RunHook("post-restart", &task)) return e;
    }

    if (guest.archive_seconds > 0) {
      std::this_thread::sleep_for(std::chrono::duration<double>(guest.archive_seconds));
    }
    if (guest.run == GuestRun::kFailArchive) {
      return std::string("job failed with err -5 - Input/output error");
    }
    return RunHook("backup-end", &task);
  }

  bool RunGuest(const Guest& guest) {
    const std::string vmid = std::to_string(guest.vmid);
    GuestTask task;
    task.guest = &guest;
    task.mode = "snapshot";  // the job's mode until the guest's state is known
    bool needs_restart = false;
    Error error;

    if (guest.run == GuestRun::kFailEarly) {
      Log("INFO: Starting Backup of VM " + vmid);
      error = "unable to find VM '" + vmid + "'";
    } else {
      Log("INFO: Starting Backup of VM " + vmid + " (" + guest.type + ")");
      FillGuestEnv(guest, &task);
      const bool running = guest.run != GuestRun::kStopped;
      switch (guest.run) {
        case GuestRun::kSuspend:
          task.mode = "suspend";
          break;
        case GuestRun::kStop:
        case GuestRun::kStopped:
          task.mode = "stop";
          break;
        default:
          task.mode = "snapshot";
      }
      error = RunGuestPhases(task, running, &needs_restart);
    }

    // Cleanup restarts the guest whatever happened; its hook failures are
    // only warnings and do not fail the guest.
    if (needs_restart) {
      Error restart_error = RunHook("pre-restart", &task);
      if (!restart_error) restart_error = RunHook("post-restart", &task);
      Warn(restart_error);
    }

    if (error) {
      guest_states_[guest.vmid] = "failed";
      Log("ERROR: Backup of VM " + vmid + " failed - " + *error);
      Warn(RunHook("backup-abort", &task));
    } else {
      guest_states_[guest.vmid] = "ok";
      Log("INFO: Finished Backup of VM " + vmid);
    }
    Warn(RunHook("log-end", &task));
    return !error;
  }

  void RunJob() {
    if (scenario_.guests.empty() && !scenario_.all) {
      // A vmid or pool job with no guest on this node runs no hook phase at
      // all; an "all" job still runs its job phases.
      Log("INFO: no guest of this job on this node - nothing to do");
      task_status_ = "OK";
      return;
    }
    Log("INFO: starting new backup job: " + CommandLine(RunOptions()));
    if (Error e = RunHook("job-init", nullptr)) {
      Log("ERROR: " + *e);
      task_status_ = *e;
      return;
    }
    storage_resolved_ = true;

    Error error = RunHook("job-start", nullptr);
    if (!error && scenario_.fail_job_start) {
      error = "could not activate storage '" + scenario_.storage.value_or("") +
              "': storage is not online";
    }
    int failed_guests = 0;
    if (!error) {
      long long finished = 0;
      if (scenario_.abort_after_guest == 0LL) error = "interrupted by signal";
      for (const Guest& guest : scenario_.guests) {
        if (error) break;
        if (!RunGuest(guest)) ++failed_guests;
        ++finished;
        if (scenario_.abort_after_guest == finished) error = "interrupted by signal";
      }
    }
    if (!error) error = RunHook("job-end", nullptr);
    if (error) {
      // job-abort runs outside the eval: its own failure replaces the error.
      if (Error abort_error = RunHook("job-abort", nullptr)) error = abort_error;
      Log("ERROR: Backup job failed - " + *error);
      task_status_ = *error;
    } else if (failed_guests > 0) {
      Log("INFO: Backup job finished with errors");
      task_status_ = "job errors";
    } else {
      Log("INFO: Backup job finished successfully");
      task_status_ = "OK";
    }
  }

  const Options& options_;
  const Scenario& scenario_;
  const std::optional<std::string> upid_;
  const Clock::time_point simulation_start_ = Clock::now();
  bool storage_resolved_ = false;
  std::vector<json> calls_;
  std::map<long long, std::string> guest_states_;
  std::string task_status_ = "OK";
  std::ofstream task_log_;
};

// Pipes created later must not land on fds 0-2, or dup2 in the child would
// shuffle them; a caller may well have closed stdin.
void EnsureStandardFds() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
      if (open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) < 0) std::abort();
    }
  }
}

int Main(int argc, char** argv) {
  EnsureStandardFds();
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  // An inherited SIGCHLD=SIG_IGN would make the kernel reap hooks before
  // their exit status could be read.
  struct sigaction default_action {};
  sigaction(SIGCHLD, &default_action, nullptr);
  // A caller that stops reading the task log must not cost it the summary.
  struct sigaction ignore_action {};
  ignore_action.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &ignore_action, nullptr);

  const std::vector<std::string> args(argv + 1, argv + argc);
  Options options;
  try {
    options = ParseOptions(args);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "pbk-vzdump-sim: %s\n%s", e.what(), kUsage);
    return kExitUsage;
  }
  if (options.help) {
    std::fputs(kUsage, stdout);
    return kExitOk;
  }

  Scenario scenario;
  try {
    scenario = LoadScenario(options.scenario);
  } catch (const ScenarioError& e) {
    std::fprintf(stderr, "pbk-vzdump-sim: %s\n", e.what());
    return kExitUsage;
  }

  std::string upid;
  try {
    if (options.worker) {
      const std::string task_name = argv[0];
      if (task_name.rfind(std::string(kTaskPrefix) + "UPID:", 0) != 0) {
        std::fprintf(stderr, "pbk-vzdump-sim: %s is internal\n", kWorkerMarker);
        return kExitUsage;
      }
      upid = task_name.substr(std::strlen(kTaskPrefix));
      // Perl's $0 assignment also renames the thread (comm); mirror it.
      prctl(PR_SET_NAME, argv[0], 0, 0, 0);
    } else {
      upid = BuildUpid(options.node);
      if (!options.no_upid) ReExecAsWorker(upid, args);
    }

    if (!options.scheduler_dir.empty() && scenario.job_id) {
      const json state = {{"state", "started"}, {"upid", upid}, {"config", scenario.job_config}};
      WriteFileAtomically(options.scheduler_dir + "/vzdump-" + *scenario.job_id + ".json",
                          state.dump());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pbk-vzdump-sim: %s\n", e.what());
    return kExitUsage;
  }

  std::optional<Simulation> simulation;
  try {
    simulation.emplace(options, scenario,
                       options.no_upid ? std::nullopt : std::optional<std::string>(upid));
    simulation->Run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pbk-vzdump-sim: %s\n", e.what());
    return kExitUsage;
  }

  if (!options.summary.empty()) {
    try {
      WriteFileAtomically(
          options.summary,
          simulation->Summary().dump(2, ' ', false, json::error_handler_t::replace) + "\n");
    } catch (const std::exception& e) {
      std::fprintf(stderr, "pbk-vzdump-sim: %s\n", e.what());
      return kExitUsage;
    }
  }
  return simulation->succeeded() ? kExitOk : kExitTaskFailed;
}

}  // namespace
}  // namespace pbk::testing

int main(int argc, char** argv) { return pbk::testing::Main(argc, argv); }
