// Black-box tests of the vzdump hook: the built pbk-agent, reached only
// through the generated wrapper script, run by pbk-vzdump-sim the way vzdump
// runs a hook (emptied environment, pipes, phase order, the worker's UPID,
// the scheduler's job file), pushing to the fake Uptime Kuma over TLS.
// What is asserted is what an admin can see: the requests Kuma received, the
// task log, the hook's exit codes and timing, the spool and `flush`.
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

namespace pbk::testing {
namespace {

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

std::vector<std::string> FilesIn(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string JoinLines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) out += line + "\n";
  return out;
}

// A guest in a simulator scenario.
json Guest(int vmid, const std::string& type, const std::string& name, const std::string& run,
           double archive_seconds = 0.0) {
  json guest = {{"vmid", vmid}, {"type", type}, {"name", name}, {"run", run}};
  if (archive_seconds > 0) guest["archive_seconds"] = archive_seconds;
  return guest;
}

// A job on the PBS storage "pbs1"; JOB_ID empty: no scheduler file (a "Run
// now", CLI or vzdump.cron run).
json Scenario(std::vector<json> guests, const std::string& job_id = kJobId) {
  json scenario = {{"storage", "pbs1"}, {"guests", std::move(guests)}};
  if (!job_id.empty()) {
    scenario["job_id"] = job_id;
    scenario["job_config"] = {{"storage", "pbs1"}, {"all", 1}, {"mode", "snapshot"}};
  }
  return scenario;
}

// The two-guest job most tests run: VM 100 web01 and CT 101 db01.
json TwoGuests(const std::string& run_101 = "snapshot", const std::string& job_id = kJobId) {
  return Scenario(
      {Guest(100, "qemu", "web01", "snapshot", 0.3), Guest(101, "lxc", "db01", run_101, 0.3)},
      job_id);
}

// A job as PVE's /cluster/backup lists it.
json PveJob(const std::string& id, const std::string& storage, json extra = json::object()) {
  json job = {{"id", id},           {"type", "vzdump"},    {"all", 1},
              {"storage", storage}, {"schedule", "21:00"}, {"enabled", 1}};
  for (auto& [key, value] : extra.items()) job[key] = value;
  return job;
}

// What the simulator reports about one run.
struct SimRun {
  RunResult process;
  json summary;

  std::vector<json> Calls(const std::string& phase) const {
    std::vector<json> calls;
    if (!summary.is_object()) return calls;
    for (const auto& call : At(summary, "calls")) {
      if (Str(call, "phase") == phase) calls.push_back(call);
    }
    return calls;
  }
  // The single call of PHASE; null when there was none.
  json Call(const std::string& phase) const {
    auto calls = Calls(phase);
    return calls.empty() ? json() : calls.front();
  }
  std::vector<json> GuestCalls() const {
    std::vector<json> calls;
    for (const auto& call : At(summary, "calls")) {
      if (At(call, "args").size() == 3) calls.push_back(call);
    }
    return calls;
  }
  std::vector<std::string> Stdout(const std::string& phase) const {
    json call = Call(phase);
    if (call.is_null()) return {};
    return At(call, "stdout").get<std::vector<std::string>>();
  }
  // The first task-log line of PHASE starting with PREFIX, or "".
  std::string Line(const std::string& phase, const std::string& prefix) const {
    for (const auto& line : Stdout(phase)) {
      if (StartsWith(line, prefix)) return line;
    }
    return "";
  }
  std::string TaskStatus() const { return Str(summary, "task_status"); }
  // For failure messages: the whole task log and what the simulator said.
  std::string Log() const { return process.out + process.err; }
};

struct ConfigOptions {
  std::string server_name;
  int timeout_seconds = 3;
  std::map<std::string, std::string> jobs = {{kJobId, kToken}};
  mode_t mode = 0600;
  std::vector<std::string> chain;  // hook.chain
};

ConfigOptions Options(const std::string& server_name, int timeout_seconds,
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
         {{"state_dir", state_dir_}, {"scheduler_dir", dir_.Path("jobs")}, {"proc", "/proc"}}}};
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

// --- scheduled runs: the result of every run, exactly once ----------------

TEST_F(HookBlackboxTest, ScheduledRunWithAllGuestsOkPushesUpOnce) {
  ASSERT_NO_FATAL_FAILURE(StartKuma());
  ASSERT_NO_FATAL_FAILURE(WriteConfig());
  SimRun run = RunSim(TwoGuests());

  EXPECT_EQ(run.process.exit_code, 0) << run.Log();
  EXPECT_EQ(run.TaskStatus(), "OK");
  for (const auto& call : At(run.summary, "calls")) {
    EXPECT_EQ(At(call, "exit"), 0) << call.dump();
  }
  EXPECT_EQ(run.Calls("job-abort").size(), 0u);

  json request = OnlyRequest();
  ExpectPush(request, kToken, "up");
  const std::string msg = Msg(request);
  EXPECT_TRUE(Contains(msg, "all 2 guests backed up")) << msg;
  EXPECT_TRUE(Contains(msg, "100 web01")) << msg;
  EXPECT_TRUE(Contains(msg, "101 db01")) << msg;
  EXPECT_TRUE(Contains(msg, "pbs1")) << msg;
  // IP mode: no SNI, the certificate carries the IP.
  EXPECT_TRUE(At(request, "sni").is_null()) << request.dump();
  // ping is the job's duration, at least the time the archives took.
  ASSERT_TRUE(At(request, "query").contains("ping")) << request.dump();
  const std::string ping = Str(At(request, "query"), "ping");
  ASSERT_FALSE(ping.empty());
  EXPECT_TRUE(std::all_of(ping.begin(), ping.end(), [](char c) { return c >= '0' && c <= '9'; }))
      << ping;
  EXPECT_GE(std::stoll(ping), 600) << ping;

  EXPECT_NE(
      run.Line("job-end", std::string("pbk-agent: pushed up to Uptime Kuma for job ") + kJobId), "")
      << run.Log();
  EXPECT_TRUE(SpoolFiles().empty());
}

TEST_F(HookBlackboxTest, ConsecutiveRunsPushOnceEach) {
  ASSERT_NO_FATAL_FAILURE(StartKuma());
  ASSERT_NO_FATAL_FAILURE(WriteConfig());
  const std::vector<std::pair<json, std::string>> runs = {
      {TwoGuests(), "up"},
      {TwoGuests("fail-archive"), "down"},
      {Scenario({Guest(100, "qemu", "web01", "snapshot")}), "up"},
  };
  for (size_t i = 0; i < runs.size(); ++i) {
    SimRun run = RunSim(runs[i].first);
    auto requests = kuma_->Requests();
    ASSERT_EQ(requests.size(), i + 1) << "after run " << i + 1 << ": " << run.Log();
    ExpectPush(requests.back(), kToken, runs[i].second);
  }
  // One run record per run: the runs were told apart.
  EXPECT_EQ(FilesIn(state_dir_ + "/runs").size(), runs.size());
  EXPECT_TRUE(SpoolFiles().empty());
}

TEST_F(HookBlackboxTest, FailedArchiveIsPushedDownNamingTheGuest) {
  ASSERT_NO_FATAL_FAILURE(StartKuma());
  ASSERT_NO_FATAL_FAILURE(WriteConfig());
  SimRun run = RunSim(TwoGuests("fail-archive"));

  EXPECT_EQ(run.TaskStatus(), "job errors") << run.Log();
  ExpectGuestPhasesExitZero(run);
  EXPECT_EQ(At(run.Call("job-end"), "exit"), 0);
  EXPECT_EQ(run.Calls("backup-abort").size(), 1u);
  json request = OnlyRequest();
  ExpectPush(request, kToken, "down");
  EXPECT_TRUE(Contains(Msg(request), "FAILED")) << Msg(request);
  EXPECT_TRUE(Contains(Msg(request), "failed: 101 db01")) << Msg(request);
  EXPECT_TRUE(Contains(Msg(request), "ok: 100 web01")) << Msg(request);
  EXPECT_NE(
      run.Line("job-end", std::string("pbk-agent: pushed down to Uptime Kuma for job ") + kJobId),
      "")
      << run.Log();
}

TEST_F(HookBlackboxTest, StopModeAndStoppedGuestsArePushedUp) {
  ASSERT_NO_FATAL_FAILURE(StartKuma());
  ASSERT_NO_FATAL_FAILURE(WriteConfig());
  SimRun run = RunSim(
      Scenario({Guest(100, "qemu", "web01", "stop", 0.1), Guest(101, "lxc", "db01", "stopped", 0.1),
                Guest(102, "lxc", "mail", "suspend", 0.1)}));

  EXPECT_EQ(run.TaskStatus(), "OK") << run.Log();
  for (const auto& call : At(run.summary, "calls")) EXPECT_EQ(At(call, "exit"), 0) << call.dump();
  // The simulator really ran them in stop mode (a stopped guest has no pre-stop).
  for (const auto& call : run.Calls("backup-start")) EXPECT_NE(At(call, "args")[1], "snapshot");
  json request = OnlyRequest();
  ExpectPush(request, kToken, "up");
  EXPECT_TRUE(Contains(Msg(request), "all 3 guests backed up")) << Msg(request);
}

TEST_F(HookBlackboxTest, AllJobWithoutLocalGuestsIsPushedUp) {
  // An "all" job runs its job phases on every node, also on one that has no
  // guest right now; that run is a success and must still report.
  ASSERT_NO_FATAL_FAILURE(StartKuma());
  ASSERT_NO_FATAL_FAILURE(WriteConfig());
  json scenario = Scenario({});
  scenario["all"] = true;
  SimRun run = RunSim(scenario);

  EXPECT_EQ(run.TaskStatus(), "OK") << run.Log();
  EXPECT_TRUE(run.Calls("backup-start").empty());
  EXPECT_EQ(At(run.Call("job-end"), "exit"), 0) << run.Log();
  json request = OnlyRequest();
  ExpectPush(request, kToken, "up");
  EXPECT_TRUE(Contains(Msg(request), "no guest of this job is on this node")) << Msg(request);
}

TEST_F(HookBlackboxTest, GuestFailingBeforePreparationMakesTheRunDown) {
  ASSERT_NO_FATAL_FAILURE(StartKuma());
  ASSERT_NO_FATAL_FAILURE(WriteConfig());
  json scenario = Scenario(
      {Guest(100, "qemu", "web01", "snapshot"), json{{"vmid", 105}, {"run", "fail-early"}}});
  SimRun run = RunSim(scenario);

  EXPECT_EQ(run.TaskStatus(), "job errors") << run.Log();
  ExpectGuestPhasesExitZero(run);
  EXPECT_EQ(At(run.Call("job-end"), "exit"), 0);
  json request = OnlyRequest();
  ExpectPush(request, kToken, "down");
  EXPECT_TRUE(Contains(Msg(request), "FAILED")) << Msg(request);
  EXPECT_TRUE(Contains(Msg(request), "failed: 105")) << Msg(request);
}

TEST_F(HookBlackboxTest, AbortedJobIsPushedDownOnceFromJobAbort) {
  ASSERT_NO_FATAL_FAILURE(StartKuma());
  ASSERT_NO_FATAL_FAILURE(WriteConfig());
  json scenario = TwoGuests();
  scenario["abort_after_guest"] = 1;
  SimRun run = RunSim(scenario);

  EXPECT_NE(run.TaskStatus(), "OK");
  EXPECT_EQ(run.Calls("job-end").size(), 0u) << run.Log();
  ASSERT_EQ(run.Calls("job-abort").size(), 1u) << run.Log();
  EXPECT_EQ(At(run.Call("job-abort"), "exit"), 0);
  ExpectGuestPhasesExitZero(run);
  json request = OnlyRequest();
  ExpectPush(request, kToken, "down");
  EXPECT_TRUE(Contains(Msg(request), "ABORTED")) << Msg(request);
  EXPECT_TRUE(Contains(Msg(request), "100 web01")) << Msg(request);
}

TEST_F(HookBlackboxTest, FailedJobStartIsPushedDown) {
  ASSERT_NO_FATAL_FAILURE(StartKuma());
  ASSERT_NO_FATAL_FAILURE(WriteConfig());
  json scenario = TwoGuests();
  scenario["fail_job_start"] = true;
  SimRun run = RunSim(scenario);

  EXPECT_NE(run.TaskStatus(), "OK");
  EXPECT_TRUE(run.GuestCalls().empty()) << run.Log();
  ASSERT_EQ(run.Calls("job-abort").size(), 1u) << run.Log();
  EXPECT_EQ(At(run.Call("job-abort"), "exit"), 0);
  json request = OnlyRequest();
  ExpectPush(request, kToken, "down");
  EXPECT_TRUE(Contains(Msg(request), "ABORTED")) << Msg(request);
}

// --- runs without a scheduler file ----------------------------------------

TEST_F(HookBlackboxTest, RunNowIsAttributedToTheOnlyFittingCachedJob) {
  ASSERT_NO_FATAL_FAILURE(StartKuma());
  ASSERT_NO_FATAL_FAILURE(WriteConfig(Options("", 3, {{kJobId, kToken}, {kOtherJobId, kOtherToken}})));
  // Only the first job writes to pbs1 on this node and may hold guests 100 and 101.
  WriteJobCache({PveJob(kJobId, "pbs1"), PveJob(kOtherJobId, "local"),
                 PveJob("backup-0b9e4c11-7d3a", "pbs1", {{"node", "pve2"}}),
                 PveJob("backup-5e6f7a8b-9c0d", "pbs1", {{"all", 0}, {"vmid", "100,102"}})});
  SimRun run = RunSim(TwoGuests("snapshot", /*job_id=*/""));

  EXPECT_TRUE(FilesIn(dir_.Path("jobs")).empty()) << "the scenario must have no scheduler file";
  EXPECT_EQ(run.TaskStatus(), "OK") << run.Log();
  EXPECT_EQ(At(run.Call("job-end"), "exit"), 0) << run.Log();
  json request = OnlyRequest();
  ExpectPush(request, kToken, "up");
  EXPECT_NE(
      run.Line("job-end", std::string("pbk-agent: pushed up to Uptime Kuma for job ") + kJobId), "")
      << run.Log();
}

TEST_F(HookBlackboxTest, RunNowWithTwoFittingJobsFailsJobEndAndPushesNothing) {
  ASSERT_NO_FATAL_FAILURE(StartKuma());
  ASSERT_NO_FATAL_FAILURE(WriteConfig(Options("", 3, {{kJobId, kToken}, {kOtherJobId, kOtherToken}})));
  WriteJobCache({PveJob(kJobId, "pbs1"), PveJob(kOtherJobId, "pbs1")});
  SimRun run = RunSim(TwoGuests("snapshot", /*job_id=*/""));

  EXPECT_EQ(At(run.Call("job-end"), "exit"), 1) << run.Log();
  const std::string line = run.Line("job-end", "ERROR: pbk-agent: cannot tell which backup job");
  EXPECT_NE(line, "") << run.Log();
  EXPECT_TRUE(Contains(line, kJobId)) << line;
  EXPECT_TRUE(Contains(line, kOtherJobId)) << line;
  EXPECT_NE(run.TaskStatus(), "OK");
  // vzdump follows a failed job-end with job-abort; that must not push either.
  EXPECT_EQ(run.Calls("job-abort").size(), 1u);
  ExpectGuestPhasesExitZero(run);
  EXPECT_TRUE(kuma_->Requests().empty()) << json(kuma_->Requests()).dump(1);
  EXPECT_TRUE(SpoolFiles().empty());
}

TEST_F(HookBlackboxTest, RunWithoutTaskWorkerParentIsKeyedByPidAndStartTime) {
  ASSERT_NO_FATAL_FAILURE(StartKuma());
  ASSERT_NO_FATAL_FAILURE(WriteConfig());
  WriteJobCache({PveJob(kJobId, "pbs1")});
  SimRun run = RunSim(TwoGuests("snapshot", /*job_id=*/""), {"--no-upid"});

  EXPECT_TRUE(At(run.summary, "upid").is_null());
  EXPECT_EQ(run.TaskStatus(), "OK") << run.Log();
  EXPECT_EQ(At(run.Call("job-end"), "exit"), 0) << run.Log();
  json request = OnlyRequest();
  ExpectPush(request, kToken, "up");
  EXPECT_TRUE(Contains(Msg(request), "all 2 guests backed up")) << Msg(request);
  // Every phase landed in the same run record, named after the parent.
  const std::string prefix = "pid-" + std::to_string(At(run.summary, "pid").get<long long>()) + "-";
  auto records = FilesIn(state_dir_ + "/runs");
  ASSERT_EQ(records.size(), 1u) << JoinLines(records);
  EXPECT_TRUE(StartsWith(records[0], prefix)) << records[0] << " vs " << prefix;
}

TEST_F(HookBlackboxTest, JobWithoutPushTokenOnThisNodeFailsJobEnd) {
  ASSERT_NO_FATAL_FAILURE(StartKuma());
  ASSERT_NO_FATAL_FAILURE(WriteConfig());
  const std::string unknown_job = "backup-4f21aa90-c3d8";
  SimRun run = RunSim(TwoGuests("snapshot", unknown_job));

  EXPECT_EQ(At(run.Call("job-end"), "exit"), 1) << run.Log();
  const std::string line = run.Line("job-end", "ERROR: ");
  EXPECT_TRUE(Contains(line, "backup job " + unknown_job + " has no push monitor on node pve1"))
      << run.Log();
  EXPECT_TRUE(Contains(line, config_path_)) << line;
  EXPECT_NE(run.TaskStatus(), "OK");
  ExpectGuestPhasesExitZero(run);
  EXPECT_TRUE(kuma_->Requests().empty()) << json(kuma_->Requests()).dump(1);
  EXPECT_TRUE(SpoolFiles().empty());
}

TEST_F(HookBlackboxTest, DirectoryStorageRunIsPushedUp) {
  ASSERT_NO_FATAL_FAILURE(StartKuma());
  ASSERT_NO_FATAL_FAILURE(WriteConfig());
  json scenario = TwoGuests();
  scenario["storage"] = "local";
  scenario["dumpdir"] = dir_.Path("dump");
  SimRun run = RunSim(scenario);

  EXPECT_EQ(run.TaskStatus(), "OK") << run.Log();
  EXPECT_TRUE(At(At(run.Call("job-end"), "env"), "DUMPDIR").is_string()) << run.Log();
  json request = OnlyRequest();
  ExpectPush(request, kToken, "up");
  EXPECT_TRUE(Contains(Msg(request), "all 2 guests backed up")) << Msg(request);
  EXPECT_TRUE(Contains(Msg(request), "local")) << Msg(request);
}

TEST_F(HookBlackboxTest, ManyGuestsMessageStaysShortAndNamesFailuresFirst) {
  ASSERT_NO_FATAL_FAILURE(StartKuma());
  ASSERT_NO_FATAL_FAILURE(WriteConfig());
  std::vector<json> guests;
  for (int vmid = 200; vmid < 260; ++vmid) {
    guests.push_back(Guest(
        vmid, "lxc", "container-with-a-rather-long-host-name-" + std::to_string(vmid), "stopped"));
  }
  guests.push_back(Guest(900, "qemu", "the-one-that-failed", "fail-archive"));
  SimRun run = RunSim(Scenario(guests));

  EXPECT_EQ(run.TaskStatus(), "job errors") << run.Log();
  json request = OnlyRequest();
  ExpectPush(request, kToken, "down");
  const std::string msg = Msg(request);
  EXPECT_TRUE(Contains(msg, "1 of 61 guests FAILED")) << msg;
  EXPECT_TRUE(Contains(msg, "failed: 900 the-one-that-failed")) << msg;
  EXPECT_TRUE(Contains(msg, " more")) << "the guest list should be cut: " << msg;
  EXPECT_LE(msg.size(), 1500u) << msg;
}

TEST_F(HookBlackboxTest, WrapperWithoutItsBinaryFailsOnlyTheEndPhases) {
  std::string text = ReadText(wrapper_);
  const std::string binary = kBinDir + "/pbk-agent";
  text.replace(text.find(binary), binary.size(), dir_.Path("not-installed/pbk-agent"));
  dir_.Write("vzdump-uptime-kuma-hook.sh", text);
  ASSERT_EQ(chmod(wrapper_.c_str(), 0755), 0);
  SimRun run = RunSim(TwoGuests());

  ExpectGuestPhasesExitZero(run);
  EXPECT_EQ(At(run.summary, "guests"), json({{"100", "ok"}, {"101", "ok"}})) << run.Log();
  EXPECT_EQ(At(run.Call("job-end"), "exit"), 1) << run.Log();
  EXPECT_TRUE(StartsWith(run.Line("job-end", "ERROR: "),
                         "ERROR: " + dir_.Path("not-installed/pbk-agent") + " is missing"))
      << run.Log();
  EXPECT_NE(run.TaskStatus(), "OK");
}

// --- certificates ---------------------------------------------------------

struct CertCase {
  const char* label;
  const char* cert;         // the fake Kuma presents this one
  const char* server_name;  // "" = IP mode
  const char* reason;       // what the task log must say
};

void PrintTo(const CertCase& c, std::ostream* out) { *out << c.label; }

class CertificateRefusedTest : public HookBlackboxTest,
                               public ::testing::WithParamInterface<CertCase> {};

TEST_P(CertificateRefusedTest, NothingIsSentAndThePushIsSpooled) {
  const CertCase& c = GetParam();
  ASSERT_NO_FATAL_FAILURE(StartKuma(c.cert));
  ASSERT_NO_FATAL_FAILURE(WriteConfig(Options(c.server_name, 3)));
  SimRun run = RunSim(TwoGuests());

  EXPECT_EQ(At(run.Call("job-end"), "exit"), 0) << run.Log();
  EXPECT_EQ(run.TaskStatus(), "OK");
  ExpectGuestPhasesExitZero(run);
  const std::string line = run.Line("job-end", "ERROR: ");
  EXPECT_TRUE(StartsWith(line, std::string("ERROR: pbk-agent: push of up to Uptime Kuma for job ") +
                                   kJobId + " failed: "))
      << run.Log();
  EXPECT_TRUE(Contains(line, c.reason)) << line;
  EXPECT_TRUE(Contains(line, "The result is spooled")) << line;
  EXPECT_EQ(SpoolFiles().size(), 1u);
  // The client refused during the handshake: Kuma saw a TLS alert, never a request.
  EXPECT_GE(kuma_->WaitForEvents("tls_error", 1, seconds(3)), 1u);
  EXPECT_TRUE(kuma_->Requests().empty()) << json(kuma_->Requests()).dump(1);
  if (*c.server_name != '\0') {
    for (const auto& event : kuma_->Events()) {
      if (Str(event, "event") == "tls_error") {
        EXPECT_EQ(At(event, "sni"), std::string(c.server_name));
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Certificates, CertificateRefusedTest,
    ::testing::Values(
        CertCase{"IpModeUntrustedCa", "untrusted", "", "not signed by a trusted CA"},
        CertCase{"IpModeIpOnlyInCommonName", "lax-cn", "", "not valid for IP address 127.0.0.1"},
        CertCase{"IpModeOtherIp", "wrong-ip", "", "not valid for IP address 127.0.0.1"},
        CertCase{"IpModeExpired", "expired", "", "expired"},
        CertCase{"NameModeUntrustedCa", "untrusted", "kuma.test", "not signed by a trusted CA"},
        CertCase{"NameModeOtherName", "lax-cn", "kuma.test", "not valid for the name kuma.test"},
        CertCase{"NameModeIpCertificate", "ip", "kuma.test", "not valid for the name kuma.test"}),
    [](const ::testing::TestParamInfo<CertCase>& param_info) {
      return std::string(param_info.param.label);
    });

TEST_F(HookBlackboxTest, NameModeSendsTheServerNameAsSniAndHost) {
  ASSERT_NO_FATAL_FAILURE(StartKuma("name"));
  ASSERT_NO_FATAL_FAILURE(WriteConfig(Options("kuma.test", 3)));
  SimRun run = RunSim(TwoGuests());

  EXPECT_EQ(At(run.Call("job-end"), "exit"), 0) << run.Log();
  json request = OnlyRequest();
  ExpectPush(request, kToken, "up");
  EXPECT_EQ(At(request, "sni"), "kuma.test") << request.dump();
  EXPECT_EQ(At(request, "host"), "kuma.test") << request.dump();
  EXPECT_TRUE(SpoolFiles().empty());
}

// --- Kuma that hangs, Kuma that is down -----------------------------------

class HangingKumaTest : public HookBlackboxTest,
                        public ::testing::WithParamInterface<const char*> {};

TEST_P(HangingKumaTest, JobEndKeepsItsDeadlineAndGuestPhasesStayFast) {
  ASSERT_NO_FATAL_FAILURE(StartKuma("ip", GetParam()));
  ASSERT_NO_FATAL_FAILURE(WriteConfig(Options("", 2)));
  SimRun first = RunSim(TwoGuests());

  json end = first.Call("job-end");
  ASSERT_FALSE(end.is_null()) << first.Log();
  EXPECT_EQ(At(end, "exit"), 0) << first.Log();
  EXPECT_FALSE(At(end, "hung").get<bool>());
  const double exit_ms = At(end, "exit_ms").get<double>();
  EXPECT_LE(exit_ms, 2000 + 1500) << first.Log();
  // Nothing the hook started still holds vzdump's pipes after it exits.
  ASSERT_TRUE(At(end, "eof_ms").is_number()) << end.dump();
  EXPECT_LT(std::abs(At(end, "eof_ms").get<double>() - exit_ms), 100.0) << end.dump();
  EXPECT_EQ(first.TaskStatus(), "OK");
  const std::string line = first.Line("job-end", "ERROR: ");
  EXPECT_TRUE(Contains(line, "The result is spooled")) << first.Log();
  EXPECT_EQ(SpoolFiles().size(), 1u);

  // Kuma still hangs: the next run's guest phases never wait for it.
  SimRun second = RunSim(TwoGuests("fail-archive"));
  ASSERT_FALSE(second.GuestCalls().empty()) << second.Log();
  for (const auto& call : At(second.summary, "calls")) {
    const std::string phase = Str(call, "phase");
    if (phase == "job-end") continue;
    EXPECT_EQ(At(call, "exit"), 0) << call.dump();
    EXPECT_LT(At(call, "exit_ms").get<double>(), 500.0) << call.dump();
  }
  EXPECT_EQ(At(second.Call("job-end"), "exit"), 0) << second.Log();
  EXPECT_LE(At(second.Call("job-end"), "exit_ms").get<double>(), 2000 + 1500);
  EXPECT_EQ(SpoolFiles().size(), 2u);
  // Only the two job-end calls ever connected.
  const std::string connected = std::string(GetParam()) == "hang-accept" ? "accepted" : "request";
  EXPECT_EQ(kuma_->WaitForEvents(connected, 2, seconds(1)), 2u) << json(kuma_->Events()).dump(1);

  // flush is bounded the same way: one attempt, then it leaves the rest.
  RunResult flush = Agent({"flush"});
  EXPECT_EQ(flush.exit_code, 1) << flush.out << flush.err;
  EXPECT_LE(flush.wall_ms, 2000 + 1500) << flush.err;
  EXPECT_TRUE(Contains(flush.err, "left for the next flush")) << flush.err;
  EXPECT_EQ(SpoolFiles().size(), 2u);
}

INSTANTIATE_TEST_SUITE_P(Modes, HangingKumaTest, ::testing::Values("hang-accept", "hang-response"),
                         [](const ::testing::TestParamInfo<const char*>& param_info) {
                           return std::string(param_info.param) == "hang-accept" ? "HangAccept"
                                                                                 : "HangResponse";
                         });

TEST_F(HookBlackboxTest, KumaDownAtJobEndIsSpooledAndFlushDeliversItOnce) {
  ASSERT_NO_FATAL_FAILURE(StartKuma());
  ASSERT_NO_FATAL_FAILURE(WriteConfig());
  const uint16_t port = kuma_->port();

  // Kuma goes away while the job runs.
  std::string summary_path;
  std::vector<std::string> argv = SimArgs(Scenario({Guest(100, "qemu", "web01", "snapshot", 0.5),
                                                    Guest(101, "lxc", "db01", "stop", 0.5)}),
                                          {}, &summary_path);
  BackgroundProcess sim;
  std::string err;
  ASSERT_TRUE(sim.Start(argv, nullptr, dir_.Path("sim.stdout"), dir_.Path("sim.stderr"), &err))
      << err;
  const auto deadline = std::chrono::steady_clock::now() + seconds(10);
  while (FilesIn(state_dir_ + "/runs").empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  ASSERT_FALSE(FilesIn(state_dir_ + "/runs").empty()) << "the run never started";
  kuma_->Stop();
  ASSERT_TRUE(sim.Wait(seconds(60)));
  RunResult process;
  process.started = true;
  process.exit_code = sim.exit_code();
  process.out = ReadText(dir_.Path("sim.stdout"));
  process.err = ReadText(dir_.Path("sim.stderr"));
  SimRun run = ReadSummary(process, summary_path);

  EXPECT_EQ(At(run.Call("job-end"), "exit"), 0) << run.Log();
  EXPECT_EQ(run.TaskStatus(), "OK");
  const std::string line = run.Line("job-end", "ERROR: ");
  EXPECT_TRUE(StartsWith(line, std::string("ERROR: pbk-agent: push of up to Uptime Kuma for job ") +
                                   kJobId + " failed: "))
      << run.Log();
  EXPECT_TRUE(Contains(line, "The result is spooled")) << line;
  ASSERT_EQ(SpoolFiles().size(), 1u);
  EXPECT_TRUE(kuma_->Requests().empty());

  // Still down: flush keeps the entry and says so.
  RunResult early = Agent({"flush"});
  EXPECT_EQ(early.exit_code, 1) << early.out << early.err;
  EXPECT_TRUE(Contains(early.err, std::string("job ") + kJobId)) << early.err;
  EXPECT_TRUE(Contains(early.err, "not delivered")) << early.err;
  EXPECT_TRUE(kuma_->Requests().empty());
  EXPECT_EQ(SpoolFiles().size(), 1u);

  // Back on the same port: flush delivers it, once.
  std::string start_err;
  ASSERT_TRUE(kuma_->Start(&start_err)) << start_err;
  ASSERT_EQ(kuma_->port(), port);
  RunResult flush = Agent({"flush"});
  EXPECT_EQ(flush.exit_code, 0) << flush.out << flush.err;
  EXPECT_TRUE(Contains(flush.err, std::string("delivered the up push for job ") + kJobId))
      << flush.err;
  // The late result, then the job's current state: the last beat is now's.
  auto requests = kuma_->Requests();
  ASSERT_EQ(requests.size(), 2u) << json(requests).dump(1);
  const json& request = requests[0];
  ExpectPush(request, kToken, "up");
  EXPECT_TRUE(StartsWith(Msg(request), "delivered late, run ended")) << Msg(request);
  EXPECT_TRUE(Contains(Msg(request), "all 2 guests backed up")) << Msg(request);
  EXPECT_TRUE(At(request, "query").contains("ping")) << request.dump();
  const json& current = requests[1];
  EXPECT_EQ(Str(current, "path"), std::string("/api/push/") + kToken);
  EXPECT_FALSE(At(current, "query").contains("ping")) << current.dump();
  EXPECT_TRUE(SpoolFiles().empty());

  RunResult again = Agent({"flush"});
  EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_EQ(kuma_->Requests().size(), 2u);
}

TEST_F(HookBlackboxTest, KumaRefusingTheTokenIsSpooledWithKumasReason) {
  ASSERT_NO_FATAL_FAILURE(StartKuma("ip", "normal", std::vector<std::string>{"someOtherMonitor1"}));
  ASSERT_NO_FATAL_FAILURE(WriteConfig());
  SimRun run = RunSim(TwoGuests());

  EXPECT_EQ(At(run.Call("job-end"), "exit"), 0) << run.Log();
  const std::string line = run.Line("job-end", "ERROR: ");
  EXPECT_TRUE(Contains(line, "Kuma answered HTTP 404")) << run.Log();
  EXPECT_TRUE(Contains(line, "Monitor not found or not active.")) << line;
  EXPECT_TRUE(Contains(line, "The result is spooled")) << line;
  EXPECT_EQ(kuma_->Requests().size(), 1u);
  EXPECT_EQ(SpoolFiles().size(), 1u);
}

// --- the admin's side -----------------------------------------------------

TEST_F(HookBlackboxTest, ManualTestThroughTheWrapperWithAnEmptyEnvironment) {
  ASSERT_NO_FATAL_FAILURE(StartKuma());
  ASSERT_NO_FATAL_FAILURE(WriteConfig());
  const std::map<std::string, std::string> empty;

  RunResult ok = pbk::testing::Run({wrapper_, "job-end", "ok", kJobId}, &empty, seconds(20));
  Remember(ok);
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_TRUE(Contains(
      ok.out, std::string("pushed up to Uptime Kuma for job ") + kJobId + " (manual test)"))
      << ok.out << ok.err;
  json request = OnlyRequest();
  ExpectPush(request, kToken, "up");
  EXPECT_TRUE(Contains(Msg(request), "manual test")) << Msg(request);

  // With one job configured the id may be left out; "fail" pushes down.
  RunResult fail = pbk::testing::Run({wrapper_, "job-end", "fail"}, &empty, seconds(20));
  Remember(fail);
  EXPECT_EQ(fail.exit_code, 0) << fail.out << fail.err;
  auto requests = kuma_->Requests();
  ASSERT_EQ(requests.size(), 2u);
  ExpectPush(requests[1], kToken, "down");
  EXPECT_TRUE(Contains(Msg(requests[1]), "manual test")) << Msg(requests[1]);

  // A job without a token is a usage error, and nothing is sent.
  RunResult unknown =
      pbk::testing::Run({wrapper_, "job-end", "ok", kOtherJobId}, &empty, seconds(20));
  Remember(unknown);
  EXPECT_EQ(unknown.exit_code, 2) << unknown.out << unknown.err;
  EXPECT_TRUE(Contains(unknown.out + unknown.err, kOtherJobId)) << unknown.out << unknown.err;
  EXPECT_EQ(kuma_->Requests().size(), 2u);
  EXPECT_TRUE(SpoolFiles().empty());

  // Kuma down: the admin is told, and a test push is not owed to anyone.
  kuma_->Stop();
  RunResult down = pbk::testing::Run({wrapper_, "job-end", "ok"}, &empty, seconds(20));
  Remember(down);
  EXPECT_EQ(down.exit_code, 1) << down.out << down.err;
  EXPECT_TRUE(
      Contains(down.out, std::string("ERROR: manual test push for job ") + kJobId + " failed: "))
      << down.out << down.err;
  EXPECT_TRUE(SpoolFiles().empty());
}

TEST_F(HookBlackboxTest, CheckConfigReadsTheCaFileAsACertificate) {
  ASSERT_NO_FATAL_FAILURE(StartKuma());
  ASSERT_NO_FATAL_FAILURE(WriteConfig());
  RunResult good = Agent({"check-config"});
  EXPECT_EQ(good.exit_code, 0) << good.out << good.err;

  const json config = json::parse(ReadText(config_path_));
  auto check_with = [&](const std::string& ca_file) {
    json changed = config;
    changed["kuma"]["ca_file"] = ca_file;
    dir_.Write("config.json", changed.dump(2) + "\n");
    chmod(config_path_.c_str(), 0600);
    return Agent({"check-config"});
  };
  const std::string key = dir_.Write("key.pem", ReadText(dir_.Path("certs/ip.key")));
  const std::string empty = dir_.Write("empty.pem", "");
  const std::string text = dir_.Write("hostname", "pve1\n");
  const struct {
    std::string path;
    std::string says;
  } cases[] = {{key, "holds a private key"},
               {empty, "is empty"},
               {text, "is not a PEM certificate: no \"-----BEGIN CERTIFICATE-----\" line; it "
                      "begins \"pve1\""}};
  for (const auto& c : cases) {
    RunResult bad = check_with(c.path);
    EXPECT_EQ(bad.exit_code, 2) << c.path << "\n" << bad.out << bad.err;
    EXPECT_TRUE(Contains(bad.err, "kuma.ca_file: " + c.path + " " + c.says)) << bad.err;
    EXPECT_FALSE(Contains(bad.out, ": OK")) << bad.out;
  }
}

TEST_F(HookBlackboxTest, ConfigReadableByOthersIsSaidAtTheStartAndEndAndFailsNothing) {
  ASSERT_NO_FATAL_FAILURE(StartKuma());
  ConfigOptions options;
  options.mode = 0644;
  ASSERT_NO_FATAL_FAILURE(WriteConfig(options));
  SimRun run = RunSim(TwoGuests());

  ExpectGuestPhasesExitZero(run);
  EXPECT_EQ(At(run.summary, "guests"), json({{"100", "ok"}, {"101", "ok"}})) << run.Log();
  json end = run.Call("job-end");
  ASSERT_FALSE(end.is_null()) << run.Log();
  // The backup went fine: the task is not failed for the monitoring's sake
  // (the node falls silent instead, and its monitors go DOWN).
  EXPECT_EQ(At(end, "exit"), 0) << run.Log();
  EXPECT_EQ(run.TaskStatus(), "OK") << run.Log();
  const std::string line = run.Line("job-end", "ERROR: ");
  EXPECT_TRUE(Contains(line, "chmod 600")) << run.Log();
  EXPECT_TRUE(Contains(line, config_path_)) << line;
  EXPECT_TRUE(kuma_->Requests().empty()) << json(kuma_->Requests()).dump(1);
  // Said at the start and at the end of the run, not in every phase.
  EXPECT_TRUE(Contains(run.Line("job-init", "ERROR: "), "chmod 600")) << run.Log();
  EXPECT_EQ(Count(run.Log(), "ERROR: "), 2u) << run.Log();
}

}  // namespace
}  // namespace pbk::testing

namespace pbk::testing {
namespace {

// --- existing hooks kept running through hook.chain ------------------------

// An admin's own hook: logs every call, and fails backup-start of guest 101.
std::string AdminHook(const TestDir& dir) {
  const std::string path = dir.Write(
      "admin-hook.sh",
      "#!/bin/sh\n"
      "echo \"$*\" >>" + dir.Path("admin-hook.log") + "\n"
      "echo \"admin hook: $1 ${3:-}\"\n"
      "if [ \"$1\" = backup-start ] && [ \"$3\" = 101 ]; then\n"
      "  echo \"admin hook: refusing to back up 101\" >&2\n"
      "  exit 5\n"
      "fi\n");
  chmod(path.c_str(), 0755);
  return path;
}

TEST_F(HookBlackboxTest, AChainedHookFailingAGuestFailsItAsVzdumpWouldAndThePushSaysSo) {
  ASSERT_NO_FATAL_FAILURE(StartKuma());
  ConfigOptions options;
  options.chain = {AdminHook(dir_)};
  ASSERT_NO_FATAL_FAILURE(WriteConfig(options));
  SimRun run = RunSim(TwoGuests());

  // vzdump failed guest 101 because of the chained hook's exit code ...
  EXPECT_EQ(At(At(run.summary, "guests"), "101"), "failed") << run.Log();
  EXPECT_EQ(At(At(run.summary, "guests"), "100"), "ok") << run.Log();
  json start_101;
  for (const auto& call : run.Calls("backup-start")) {
    if (At(call, "args")[2] == "101") start_101 = call;
  }
  EXPECT_EQ(At(start_101, "exit"), 5) << start_101.dump();
  // ... its output is in the task log ...
  bool said = false;
  for (const auto& call : At(run.summary, "calls")) {
    for (const auto& line : At(call, "stdout")) {
      said = said || line == "admin hook: refusing to back up 101";
    }
  }
  EXPECT_TRUE(said) << run.Log();
  EXPECT_EQ(Str(start_101, "phase"), "backup-start");
  // ... it saw every phase, with vzdump's arguments ...
  const std::string log = ReadText(dir_.Path("admin-hook.log"));
  EXPECT_TRUE(Contains(log, "job-init\njob-start\nbackup-start snapshot 100\n")) << log;
  EXPECT_TRUE(Contains(log, "backup-abort snapshot 101\nlog-end snapshot 101\njob-end\n")) << log;
  // ... and our push reflects the run.
  json request = OnlyRequest();
  ExpectPush(request, kToken, "down");
  EXPECT_TRUE(Contains(Msg(request), "failed: 101 db01")) << Msg(request);
}

TEST_F(HookBlackboxTest, AMissingChainedHookIsAClearErrorAndThePushStillHappens) {
  ASSERT_NO_FATAL_FAILURE(StartKuma());
  ConfigOptions options;
  options.chain = {dir_.Path("gone.sh")};
  ASSERT_NO_FATAL_FAILURE(WriteConfig(options));
  SimRun run = RunSim(TwoGuests());

  // The backups went on ...
  EXPECT_EQ(At(At(run.summary, "guests"), "100"), "ok") << run.Log();
  EXPECT_EQ(At(At(run.summary, "guests"), "101"), "ok") << run.Log();
  ExpectGuestPhasesExitZero(run);
  // ... every phase said what is wrong ...
  EXPECT_EQ(run.Line("backup-start", "ERROR: "),
            "ERROR: pbk-agent hook backup-start: chained hook " + dir_.Path("gone.sh") +
                " does not exist; skipped")
      << run.Log();
  // ... the push was made, and the end of the job shows the problem.
  json request = OnlyRequest();
  ExpectPush(request, kToken, "up");
  EXPECT_EQ(At(run.Call("job-end"), "exit"), 1) << run.Log();
}

}  // namespace
}  // namespace pbk::testing
