#include "tests/tools/vzdump_sim_job.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "tests/tools/vzdump_sim_hook.h"

namespace pbk::testing::vzdump_sim {

namespace {

// A hook that never lets go of its pipes (or never exits) blocks a real
// vzdump forever, so nothing after such a call can be emulated faithfully.
class TaskStalled : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

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

}  // namespace

JobResult RunSimulatedJob(const Options& options, const Scenario& scenario,
                          std::optional<std::string> upid) {
  Simulation simulation(options, scenario, std::move(upid));
  simulation.Run();
  return JobResult{simulation.succeeded(), simulation.Summary()};
}

}  // namespace pbk::testing::vzdump_sim
