// What the black-box tests of the vzdump hook share: the built pbk-agent,
// reached only through the generated wrapper script, run by pbk-vzdump-sim
// the way vzdump runs a hook (emptied environment, pipes, phase order, the
// worker's UPID, the scheduler's job file), pushing to the fake Uptime Kuma
// over TLS; scenarios for the simulator and the fixture that owns it all.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/fake_kuma.h"
#include "tests/support/process.h"
#include "tests/support/suite_log.h"
#include "tests/support/test_certs.h"
#include "tests/support/test_dir.h"
#include "tests/support/test_text.h"
#include "tests/support/sim_run.h"

namespace pbk::testing::hook_blackbox {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kJobId[] = "backup-8d6f3a2c-1b4e";
constexpr char kOtherJobId[] = "backup-77c1e9d0-5a2f";
// Push tokens as Kuma makes them: random letters and digits.
constexpr char kToken[] = "pQ7xK2mVn9RtL4sW8yBc";
constexpr char kOtherToken[] = "Zr5Hd8Jq3NvT6kYw1GaE";

const std::string kBinDir = PBK_BIN_DIR;
const std::string kSourceDir = PBK_SOURCE_DIR;

inline std::vector<std::string> FilesIn(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

inline std::string JoinLines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) out += line + "\n";
  return out;
}

// A guest in a simulator scenario.
inline json Guest(int vmid, const std::string& type, const std::string& name, const std::string& run,
           double archive_seconds = 0.0) {
  json guest = {{"vmid", vmid}, {"type", type}, {"name", name}, {"run", run}};
  if (archive_seconds > 0) guest["archive_seconds"] = archive_seconds;
  return guest;
}

// A job on the PBS storage "pbs1"; JOB_ID empty: no scheduler file (a "Run
// now", CLI or vzdump.cron run).
inline json Scenario(std::vector<json> guests, const std::string& job_id = kJobId) {
  json scenario = {{"storage", "pbs1"}, {"guests", std::move(guests)}};
  if (!job_id.empty()) {
    scenario["job_id"] = job_id;
    scenario["job_config"] = {{"storage", "pbs1"}, {"all", 1}, {"mode", "snapshot"}};
  }
  return scenario;
}

// The two-guest job most tests run: VM 100 web01 and CT 101 db01.
inline json TwoGuests(const std::string& run_101 = "snapshot", const std::string& job_id = kJobId) {
  return Scenario(
      {Guest(100, "qemu", "web01", "snapshot", 0.3), Guest(101, "lxc", "db01", run_101, 0.3)},
      job_id);
}

// A job as PVE's /cluster/backup lists it.
inline json PveJob(const std::string& id, const std::string& storage, json extra = json::object()) {
  json job = {{"id", id},           {"type", "vzdump"},    {"all", 1},
              {"storage", storage}, {"schedule", "21:00"}, {"enabled", 1}};
  for (auto& [key, value] : extra.items()) job[key] = value;
  return job;
}

struct ConfigOptions {
  std::string server_name;
  int timeout_seconds = 3;
  std::map<std::string, std::string> jobs = {{kJobId, kToken}};
  mode_t mode = 0600;
  std::vector<std::string> chain;  // hook.chain
};

inline ConfigOptions Options(const std::string& server_name, int timeout_seconds,
                      std::map<std::string, std::string> jobs = {{kJobId, kToken}}) {
  ConfigOptions options;
  options.server_name = server_name;
  options.timeout_seconds = timeout_seconds;
  options.jobs = std::move(jobs);
  return options;
}

class HookBlackboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string err;
    ASSERT_TRUE(MakeTestCertificates(dir_.Path("certs"), &err)) << err;
    std::filesystem::create_directories(dir_.Path("jobs"));
    state_dir_ = dir_.Path("state");
    config_path_ = dir_.Path("config.json");
    ASSERT_NO_FATAL_FAILURE(RenderWrapper());
  }

  void TearDown() override {
    if (kuma_) kuma_->Stop();
    ExpectNoSecretLeaked();
  }

  // The wrapper as the package installs it, pointing at the build's binary
  // and this test's configuration.
  void RenderWrapper() {
    wrapper_ = dir_.Path("vzdump-uptime-kuma-hook.sh");
    std::string err;
    ASSERT_TRUE(RenderHookWrapper(kSourceDir, kBinDir + "/pbk-agent", config_path_, wrapper_, &err))
        << err;
  }

  std::string Cert(const std::string& name) const { return dir_.Path("certs/" + name + ".pem"); }
  std::string Key(const std::string& name) const { return dir_.Path("certs/" + name + ".key"); }

  void StartKuma(const std::string& cert = "ip", const std::string& mode = "normal",
                 std::optional<std::vector<std::string>> tokens = std::nullopt) {
    FakeKumaOptions options;
    options.cert = Cert(cert);
    options.key = Key(cert);
    options.mode = mode;
    options.tokens = std::move(tokens);
    options.work_dir = dir_.path();
    kuma_ = std::make_unique<FakeKuma>(options);
    std::string err;
    ASSERT_TRUE(kuma_->Start(&err)) << err;
  }

  void WriteConfig(const ConfigOptions& options = {}) {
    ASSERT_TRUE(kuma_) << "start Kuma first: the config names its port";
    json kuma = {{"url", kuma_->url()},
                 {"ca_file", dir_.Path("certs/ca.pem")},
                 {"timeout_seconds", options.timeout_seconds}};
    if (!options.server_name.empty()) kuma["server_name"] = options.server_name;
    json jobs = json::object();
    for (const auto& [id, token] : options.jobs) {
      jobs[id] = {{"push_token", token}};
      secrets_.insert(token);
      RegisterSecret(token);
    }
    json config = {
        {"node", "pve1"},
        {"kuma", kuma},
        {"jobs", jobs},
        {"paths",
         {{"state_dir", state_dir_},
          {"scheduler_dir", dir_.Path("jobs")},
          // No task logs: the simulator runs here without --tasks-dir.
          {"tasks_dir", dir_.Path("no-tasks")},
          {"proc", "/proc"}}}};
    if (!options.chain.empty()) config["hook"] = {{"chain", options.chain}};
    dir_.Write("config.json", config.dump(2) + "\n");
    ASSERT_EQ(chmod(config_path_.c_str(), options.mode), 0);
  }

  // The job list `pbk-agent guard` caches for runs without a scheduler file.
  void WriteJobCache(const std::vector<json>& jobs) {
    json cache = {
        {"format", 1}, {"written", 0}, {"source", "rest"}, {"node", "pve1"}, {"jobs", jobs}};
    dir_.Write("state/jobs.json", cache.dump(1) + "\n");
  }

  std::vector<std::string> SimArgs(const json& scenario, const std::vector<std::string>& extra,
                                   std::string* summary_path) {
    const std::string n = std::to_string(++runs_);
    const std::string scenario_path = dir_.Write("scenario-" + n + ".json", scenario.dump(2));
    *summary_path = dir_.Path("summary-" + n + ".json");
    std::vector<std::string> argv = {kBinDir + "/pbk-vzdump-sim",
                                     "--hook",
                                     wrapper_,
                                     "--scenario",
                                     scenario_path,
                                     "--summary",
                                     *summary_path,
                                     "--scheduler-dir",
                                     dir_.Path("jobs"),
                                     "--hook-timeout",
                                     "30"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  }

  SimRun ReadSummary(RunResult process, const std::string& summary_path) {
    SimRun run;
    run.process = std::move(process);
    Remember(run.process);
    const std::string text = ReadText(summary_path);
    outputs_.push_back(text);
    run.summary = json::parse(text, nullptr, /*allow_exceptions=*/false);
    EXPECT_TRUE(run.summary.is_object())
        << "no summary from the simulator (" << run.process.Describe() << "): " << run.Log();
    if (!run.summary.is_object()) run.summary = json{{"calls", json::array()}};
    return run;
  }

  // One vzdump run of SCENARIO through the wrapper.
  SimRun RunSim(const json& scenario, const std::vector<std::string>& extra = {}) {
    std::string summary_path;
    std::vector<std::string> argv = SimArgs(scenario, extra, &summary_path);
    RunResult process = pbk::testing::Run(argv, nullptr, seconds(60));
    EXPECT_FALSE(process.timed_out) << process.out << process.err;
    return ReadSummary(std::move(process), summary_path);
  }

  RunResult Agent(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {kBinDir + "/pbk-agent", "--config", config_path_};
    argv.insert(argv.end(), args.begin(), args.end());
    RunResult result = pbk::testing::Run(argv, nullptr, seconds(30));
    Remember(result);
    return result;
  }

  void Remember(const RunResult& result) {
    outputs_.push_back(result.out);
    outputs_.push_back(result.err);
  }

  std::vector<std::string> SpoolFiles() const {
    std::vector<std::string> files;
    for (const auto& name : FilesIn(state_dir_ + "/spool")) {
      if (!StartsWith(name, ".")) files.push_back(name);
    }
    return files;
  }

  // The single push Kuma received, after asserting there was exactly one.
  json OnlyRequest() {
    auto requests = kuma_->Requests();
    EXPECT_EQ(requests.size(), 1u) << json(requests).dump(1);
    return requests.empty() ? json::object() : requests.front();
  }

  // Asserts REQUEST is a push to TOKEN's monitor that Kuma accepted.
  static void ExpectPush(const json& request, const std::string& token, const std::string& status) {
    EXPECT_EQ(Str(request, "method"), "GET");
    EXPECT_EQ(Str(request, "path"), std::string("/api/push/") + token);
    EXPECT_EQ(Str(At(request, "query"), "status"), status) << request.dump();
    EXPECT_EQ(Str(At(request, "kuma"), "status"), status) << request.dump();
    EXPECT_EQ(At(request, "answered"), 200) << request.dump();
  }

  static std::string Msg(const json& request) { return Str(At(request, "query"), "msg"); }

  // Every job-end/job-abort, and no other call, may exit non-zero.
  static void ExpectGuestPhasesExitZero(const SimRun& run) {
    for (const auto& call : At(run.summary, "calls")) {
      const std::string phase = Str(call, "phase");
      if (phase == "job-end" || phase == "job-abort") continue;
      EXPECT_EQ(At(call, "exit"), 0) << phase << ": " << call.dump();
    }
  }

  // Push tokens must not show up in anything the product printed or wrote:
  // task logs, stdout/stderr, summaries, state and spool files. The config
  // holds them by design and the fake Kuma's event log records the URL.
  void ExpectNoSecretLeaked() {
    std::set<std::string> exempt = {config_path_};
    if (kuma_) exempt.insert(kuma_->log_path());
    const auto texts = TextsToScan(outputs_, dir_.path(), exempt);
    for (const auto& secret : secrets_) {
      for (const auto& [where, text] : texts) {
        EXPECT_FALSE(Contains(text, secret)) << "a push token leaked into " << where << ":\n"
                                             << text;
      }
    }
  }

  TestDir dir_;
  std::string state_dir_;
  std::string config_path_;
  std::string wrapper_;
  std::unique_ptr<FakeKuma> kuma_;
  std::vector<std::string> outputs_;
  std::set<std::string> secrets_;
  int runs_ = 0;
};

}  // namespace pbk::testing::hook_blackbox
