#include "tests/support/fake_pve.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/support/test_text.h"

namespace pbk::testing {
namespace {

bool WriteAll(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  out.close();
  return static_cast<bool>(out);
}

// The "event" field of a log entry; "" if it has none.
std::string EventName(const nlohmann::json& entry) {
  if (!entry.is_object() || !entry.contains("event")) return {};
  const nlohmann::json& value = entry.at("event");
  return value.is_string() ? value.get<std::string>() : std::string();
}

bool SetSwitch(const std::string& path, const std::string& mode) {
  if (mode.empty() || mode == "normal") {
    return unlink(path.c_str()) == 0 || errno == ENOENT;
  }
  return WriteAll(path, mode + "\n");
}

}  // namespace

FakePve::FakePve(FakePveOptions options) : options_(std::move(options)) {
  if (options_.script.empty()) options_.script = PBK_FAKE_PVE_SCRIPT;
  if (options_.pvesh_script.empty()) options_.pvesh_script = PBK_FAKE_PVESH_SCRIPT;
  if (options_.pmxcfs_script.empty()) options_.pmxcfs_script = PBK_FAKE_PMXCFS_SCRIPT;
  if (options_.vzdump_conf.empty()) options_.vzdump_conf = options_.root + "/node-etc/vzdump.conf";
  if (options_.work_dir.empty()) options_.work_dir = ".";
  port_file_ = options_.work_dir + "/pve.port";
  log_path_ = options_.work_dir + "/pve-events.jsonl";
  pvesh_log_path_ = options_.work_dir + "/pvesh-calls.jsonl";
  probe_log_path_ = options_.work_dir + "/pvesh-probe.jsonl";
  stdout_path_ = options_.work_dir + "/pve.stdout";
  stderr_path_ = options_.work_dir + "/pve.stderr";
  std::error_code ignored;
  std::filesystem::create_directories(options_.root, ignored);
  // The tree is there before any server or pvesh runs; Start() reports a failure.
  std::string err;
  RunPmxcfs({"init"}, &err);
}

FakePve::~FakePve() {
  Stop();
  // An immutable tree would outlive the test's folder.
  if (no_quorum_) SetNoQuorum(false);
}

bool FakePve::RunPmxcfs(const std::vector<std::string>& args, std::string* err) const {
  std::vector<std::string> argv = {options_.python, options_.pmxcfs_script};
  argv.insert(argv.end(), args.begin(), args.end());
  for (const std::string& option : {std::string("--root"), options_.root,
                                    std::string("--node"), options_.node,
                                    std::string("--vzdump-conf"), options_.vzdump_conf}) {
    argv.push_back(option);
  }
  RunResult result = Run(argv, nullptr, std::chrono::seconds(20));
  if (result.exit_code == 0) return true;
  *err = "pmxcfs.py " + args.front() + ": " + result.Describe() + ": " + result.err;
  return false;
}

bool FakePve::Start(std::string* err) {
  process_.Stop();
  char delay[32];
  std::snprintf(delay, sizeof delay, "%g", options_.auth_fail_delay);
  std::vector<std::string> argv = {options_.python,
                                   options_.script,
                                   "--root",
                                   options_.root,
                                   "--cert",
                                   options_.cert,
                                   "--key",
                                   options_.key,
                                   "--port-file",
                                   port_file_,
                                   "--log",
                                   log_path_,
                                   "--tokens",
                                   options_.tokens,
                                   "--port",
                                   std::to_string(port_),
                                   "--auth-fail-delay",
                                   delay,
                                   "--node",
                                   options_.node,
                                   "--vzdump-conf",
                                   options_.vzdump_conf};
  return StartListening(&process_, argv, "fake_pve", port_file_, stdout_path_, stderr_path_,
                        &port_, err);
}

void FakePve::Stop() { process_.Stop(); }

std::vector<nlohmann::json> FakePve::Events() const { return JsonLines(log_path_); }

std::vector<nlohmann::json> FakePve::Requests() const {
  std::vector<nlohmann::json> requests;
  for (auto& event : Events()) {
    if (EventName(event) == "request") requests.push_back(std::move(event));
  }
  return requests;
}

bool FakePve::SetMode(const std::string& mode) const {
  return SetSwitch(RootPath("api-mode"), mode);
}

bool FakePve::SetPveshMode(const std::string& mode) const {
  return SetSwitch(RootPath("pvesh-mode"), mode);
}

bool FakePve::SetNoQuorum(bool on) {
  std::string err;
  if (!RunPmxcfs({"quorum", on ? "off" : "on"}, &err)) {
    std::fprintf(stderr, "%s\n", err.c_str());
    return false;
  }
  no_quorum_ = on;
  return true;
}

bool FakePve::SetMembers(const std::string& cluster, const std::vector<std::string>& nodes,
                         const std::vector<std::string>& offline) const {
  std::vector<std::string> args = {"members"};
  if (!cluster.empty()) {
    auto join = [](const std::vector<std::string>& names) {
      std::string text;
      for (const std::string& name : names) text += (text.empty() ? "" : ",") + name;
      return text;
    };
    args.insert(args.end(), {"--cluster", cluster, "--nodes", join(nodes), "--offline",
                             join(offline)});
  }
  std::string err;
  if (RunPmxcfs(args, &err)) return true;
  std::fprintf(stderr, "%s\n", err.c_str());
  return false;
}

std::string FakePve::vzdump_conf_path() const { return options_.vzdump_conf; }

std::vector<nlohmann::json> FakePve::VzdumpCalls() const {
  std::vector<nlohmann::json> calls;
  for (auto& event : Events()) {
    if (EventName(event) == "vzdump") calls.push_back(std::move(event));
  }
  return calls;
}

bool FakePve::WriteRootFile(const std::string& name, const std::string& content) const {
  return WriteAll(RootPath(name), content);
}

std::string FakePve::ReadRootFile(const std::string& name) const { return ReadText(RootPath(name)); }

std::string FakePve::InstallPvesh(const std::string& dir) const {
  std::error_code ignored;
  std::filesystem::create_directories(dir, ignored);
  const std::string path = dir + "/pvesh";
  const std::string text = "#!/bin/sh\nexec " + options_.python + " " + options_.pvesh_script +
                           " --root " + options_.root + " --log " + pvesh_log_path_ +
                           " --vzdump-conf " + options_.vzdump_conf + " \"$@\"\n";
  if (!WriteAll(path, text) || chmod(path.c_str(), 0755) != 0) return "";
  return path;
}

std::vector<nlohmann::json> FakePve::PveshCalls() const { return JsonLines(pvesh_log_path_); }

bool FakePve::ListJobs(nlohmann::json* jobs, std::string* err) const {
  RunResult result = Run({options_.python, options_.pvesh_script, "--root", options_.root, "--log",
                          probe_log_path_, "get", "/cluster/backup", "--output-format", "json"},
                         nullptr, std::chrono::seconds(20));
  if (result.exit_code != 0) {
    *err = "fake pvesh get /cluster/backup: " + result.Describe() + ": " + result.err;
    return false;
  }
  *jobs = nlohmann::json::parse(result.out, nullptr, /*allow_exceptions=*/false);
  if (!jobs->is_array()) {
    *err = "fake pvesh printed no job list: " + result.out;
    return false;
  }
  return true;
}

}  // namespace pbk::testing
