// Black-box tests of how the hook tells runs apart: the built pbk-agent
// through the generated wrapper, run by pbk-vzdump-sim, which writes the
// task log with vzdump's "starting new backup job: vzdump …" line. A
// scheduled run, a "Run now" with the job's options and a guest's "Backup
// now" with options of its own; a job without monitor; a chained job-end
// script that fails. What is asserted is what an admin sees: Kuma's
// requests, the task log and the hook's exit codes.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/fake_kuma.h"
#include "tests/support/process.h"
#include "tests/support/pve_files.h"
#include "tests/support/sim_run.h"
#include "tests/support/suite_log.h"
#include "tests/support/test_certs.h"
#include "tests/support/test_dir.h"
#include "tests/support/test_text.h"

namespace pbk::testing {
namespace {

using nlohmann::json;

constexpr char kDaily[] = "backup-3f1a9c42-8e0b";
constexpr char kLegacy[] = "5d41402abc4b2a76b9719d911017c592ae3b1c5f:1";
constexpr char kToken[] = "Hq4Wm7Zt2Lc9Rx5Vb8Nd";
constexpr char kNodeToken[] = "Tn6Yp3Gs8Kw1Jf4Ud7Qa";

const std::string kBinDir = PBK_BIN_DIR;
const std::string kSourceDir = PBK_SOURCE_DIR;

// The daily job as /cluster/backup lists it, and a disabled legacy job on
// the same storage and guests.
json DailyJob() {
  return {{"id", kDaily},        {"type", "vzdump"},  {"schedule", "21:00"},
          {"enabled", 1},        {"vmid", "100,101"}, {"storage", "pbs1"},
          {"mode", "snapshot"},  {"comment", "every night"},
          {"prune-backups", {{"keep-daily", "7"}, {"keep-weekly", 4}}}};
}
json LegacyJob() {
  return {{"id", kLegacy},      {"enabled", ""},      {"vmid", "100,101"},
          {"storage", "pbs1"},  {"mode", "snapshot"}, {"quiet", 1},
          {"starttime", "01:00"}, {"dow", "sat"},      {"schedule", "sat 01:00"}};
}

json Guest(int vmid, const std::string& type, const std::string& name) {
  return {{"vmid", vmid}, {"type", type}, {"name", name}, {"run", "snapshot"}};
}

class IdentificationBlackboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string err;
    ASSERT_TRUE(MakeTestCertificates(dir_.Path("certs"), &err)) << err;
    std::filesystem::create_directories(dir_.Path("jobs"));
    std::filesystem::create_directories(dir_.Path("tasks"));
    wrapper_ = dir_.Path("vzdump-uptime-kuma-hook.sh");
    ASSERT_TRUE(RenderHookWrapper(kSourceDir, kBinDir + "/pbk-agent", dir_.Path("config.json"),
                                  wrapper_, &err))
        << err;
    FakeKumaOptions options;
    options.cert = dir_.Path("certs/ip.pem");
    options.key = dir_.Path("certs/ip.key");
    options.work_dir = dir_.path();
    kuma_ = std::make_unique<FakeKuma>(options);
    ASSERT_TRUE(kuma_->Start(&err)) << err;
    RegisterSecret(kToken);
    RegisterSecret(kNodeToken);
    WriteJobCache({LegacyJob(), DailyJob()});
  }
  void TearDown() override {
    if (kuma_) kuma_->Stop();
    for (const auto& [where, text] : TextsToScan(outputs_, dir_.path(),
                                                 {dir_.Path("config.json"), kuma_->log_path()})) {
      EXPECT_FALSE(Contains(text, kToken) || Contains(text, kNodeToken))
          << "a push token leaked into " << where;
    }
  }

  // JOBS: id -> config object of the job ({"push_token": …, "chain": […]}).
  void WriteConfig(const json& jobs, bool node_monitor = true) {
    json config = {
        {"node", "pve1"},
        {"kuma",
         {{"url", kuma_->url()}, {"ca_file", dir_.Path("certs/ca.pem")}, {"timeout_seconds", 3}}},
        {"jobs", jobs},
        {"paths",
         {{"state_dir", dir_.Path("state")},
          {"scheduler_dir", dir_.Path("jobs")},
          {"tasks_dir", dir_.Path("tasks")},
          {"proc", "/proc"}}}};
    if (node_monitor) config["node_monitor"] = {{"push_token", kNodeToken}};
    dir_.Write("config.json", config.dump(2) + "\n");
    ASSERT_EQ(chmod(dir_.Path("config.json").c_str(), 0600), 0);
  }

  void WriteJobCache(const std::vector<json>& jobs) {
    json cache = {
        {"format", 1}, {"written", 0}, {"source", "rest"}, {"node", "pve1"}, {"jobs", jobs}};
    dir_.Write("state/jobs.json", cache.dump(1) + "\n");
  }

  // SCHEDULED: the scheduler writes its file naming the run. OPTIONS: the
  // run's own options as vzdump logs them.
  SimRun RunSim(const json& options, bool scheduled) {
    json scenario = {{"storage", "pbs1"},
                     {"guests", {Guest(100, "qemu", "web01"), Guest(101, "lxc", "db01")}},
                     {"options", options}};
    if (scheduled) {
      scenario["job_id"] = kDaily;
      scenario["job_config"] = DailyJob();
    }
    const std::string n = std::to_string(++runs_);
    const std::string scenario_path = dir_.Write("scenario-" + n + ".json", scenario.dump(2));
    const std::string summary_path = dir_.Path("summary-" + n + ".json");
    SimRun sim;
    // With the node placement, the hook is the one vzdump.conf names.
    const std::vector<std::string> hook =
        node_default_ ? std::vector<std::string>{"--vzdump-conf", dir_.Path("vzdump.conf")}
                      : std::vector<std::string>{"--hook", wrapper_};
    sim.process = pbk::testing::Run({kBinDir + "/pbk-vzdump-sim", hook[0], hook[1], "--scenario",
                       scenario_path, "--summary", summary_path, "--scheduler-dir",
                       dir_.Path("jobs"), "--tasks-dir", dir_.Path("tasks"), "--hook-timeout",
                       "30"},
                      nullptr, std::chrono::seconds(60));
    outputs_.push_back(sim.process.out);
    outputs_.push_back(sim.process.err);
    const std::string summary = ReadText(summary_path);
    outputs_.push_back(summary);
    sim.summary = json::parse(summary, nullptr, /*allow_exceptions=*/false);
    EXPECT_TRUE(sim.summary.is_object()) << sim.Log();
    if (!sim.summary.is_object()) sim.summary = json{{"calls", json::array()}};
    // Backups come first: no phase but job-end/job-abort may fail.
    for (const auto& call : At(sim.summary, "calls")) {
      const std::string phase = Str(call, "phase");
      if (phase != "job-end" && phase != "job-abort") {
        EXPECT_EQ(At(call, "exit"), 0) << phase << ": " << sim.Log();
      }
    }
    std::filesystem::remove_all(dir_.Path("jobs"));
    std::filesystem::create_directories(dir_.Path("jobs"));
    return sim;
  }

  // What "Run now" posts for the daily job, with the node the API adds.
  static json RunNowOptions() {
    return {{"vmid", "100,101"},
            {"storage", "pbs1"},
            {"mode", "snapshot"},
            {"all", 0},
            {"node", "pve1"},
            {"prune-backups", {{"keep-weekly", 4}, {"keep-daily", 7}}}};
  }

  static void ExpectPush(const json& request, const std::string& token, const std::string& status) {
    EXPECT_EQ(Str(request, "path"), "/api/push/" + token) << request.dump();
    EXPECT_EQ(Str(At(request, "query"), "status"), status) << request.dump();
    EXPECT_EQ(At(request, "answered"), 200) << request.dump();
  }
  static std::string Msg(const json& request) { return Str(At(request, "query"), "msg"); }

  TestDir dir_;
  std::string wrapper_;
  std::unique_ptr<FakeKuma> kuma_;
  std::vector<std::string> outputs_;
  int runs_ = 0;
  // A scheduled run, a "Run now" and a guest's "Backup now" of the daily job:
  // pushes for the first two, every task OK.
  void RunScheduledRunNowAndBackupNow() {
    SimRun scheduled = RunSim(DailyJob(), /*scheduled=*/true);
    EXPECT_EQ(scheduled.Exit("job-end"), 0) << scheduled.Log();
    ASSERT_EQ(kuma_->Requests().size(), 1u) << scheduled.Log();
    ExpectPush(kuma_->Requests()[0], kToken, "up");

    // "Run now" of the daily job: no scheduler file; a disabled legacy job
    // has the same storage and guests.
    SimRun run_now = RunSim(RunNowOptions(), /*scheduled=*/false);
    EXPECT_EQ(run_now.Exit("job-end"), 0) << run_now.Log();
    EXPECT_EQ(Str(run_now.summary, "task_status"), "OK") << run_now.Log();
    ASSERT_EQ(kuma_->Requests().size(), 2u) << run_now.Log();
    ExpectPush(kuma_->Requests()[1], kToken, "up");
    EXPECT_NE(run_now.LineWith("job-end", std::string("pushed up to Uptime Kuma for job ") + kDaily),
              "")
        << run_now.Log();

    // A guest's "Backup now": the same guests and storage, options of its own.
    json adhoc = {{"vmid", "100,101"},  {"storage", "pbs1"}, {"mode", "snapshot"},
                  {"node", "pve1"},     {"remove", 0},       {"notes-template", "{{guestname}}"},
                  {"notification-mode", "auto"}};
    SimRun backup_now = RunSim(adhoc, /*scheduled=*/false);
    EXPECT_EQ(backup_now.Exit("job-end"), 0) << backup_now.Log();
    EXPECT_EQ(Str(backup_now.summary, "task_status"), "OK") << backup_now.Log();
    EXPECT_NE(backup_now.LineWith("job-end", "not a backup job: not reported to Kuma"), "")
        << backup_now.Log();
    EXPECT_EQ(backup_now.LineWith("job-end", "ERROR"), "") << backup_now.Log();
    EXPECT_EQ(kuma_->Requests().size(), 2u) << "a run of no job is not pushed";
  }

  bool node_default_ = false;  // the simulator takes the hook from vzdump.conf
};

// The whole default path: the guard (node placement, reading the job files)
// puts the hook into vzdump.conf and caches the jobs; vzdump takes the hook
// from there for a scheduled run, a "Run now" and a guest's "Backup now".
TEST_F(IdentificationBlackboxTest, NodePlacementGuardThenScheduledRunNowAndBackupNow) {
  ASSERT_NO_FATAL_FAILURE(WriteConfig({{kDaily, {{"push_token", kToken}}}}));
  json config = json::parse(ReadText(dir_.Path("config.json")));
  config["guard"] = {{"placement", "node"}};
  config["pve"] = {{"pvesh", dir_.Path("no-pvesh")}};
  config["paths"]["hook_script"] = wrapper_;
  config["paths"]["vzdump_conf"] = dir_.Path("vzdump.conf");
  config["paths"]["pve_dir"] = dir_.Path("pve");
  config["paths"]["jobs_cfg"] = dir_.Path("jobs.cfg");
  config["paths"]["vzdump_cron"] = dir_.Path("vzdump.cron");
  dir_.Write("config.json", config.dump(2) + "\n");
  ASSERT_EQ(chmod(dir_.Path("config.json").c_str(), 0600), 0);
  std::filesystem::create_directories(dir_.Path("pve/nodes/pve1"));
  std::filesystem::remove(dir_.Path("state/jobs.json"));
  // The daily job, and a disabled legacy job on the same storage and guests.
  dir_.Write("jobs.cfg", VzdumpSection(kDaily, "21:00",
                                       {{"comment", "every night"},
                                        {"enabled", "1"},
                                        {"mode", "snapshot"},
                                        {"prune-backups", "keep-daily=7,keep-weekly=4"},
                                        {"storage", "pbs1"},
                                        {"vmid", "100,101"}}));
  dir_.Write("vzdump.cron",
             Cron({"0 1 * * 6           root #vzdump 100 101 --mode snapshot --quiet 1 "
                   "--storage pbs1"}));
  dir_.Write("vzdump.conf", "# vzdump default settings\n\n#tmpdir: DIR\n#script: FILENAME\n");

  RunResult guard = pbk::testing::Run(
      {kBinDir + "/pbk-agent", "--config", dir_.Path("config.json"), "guard"}, nullptr,
      std::chrono::seconds(60));
  outputs_.push_back(guard.out);
  outputs_.push_back(guard.err);
  ASSERT_EQ(guard.exit_code, 0) << guard.err;
  ASSERT_TRUE(Contains(ReadText(dir_.Path("vzdump.conf")), "\nscript: " + wrapper_ + "\n"))
      << ReadText(dir_.Path("vzdump.conf"));
  EXPECT_FALSE(Contains(ReadText(dir_.Path("jobs.cfg")), "script")) << "no job carries the hook";
  node_default_ = true;
  ASSERT_NO_FATAL_FAILURE(RunScheduledRunNowAndBackupNow());
}

TEST_F(IdentificationBlackboxTest, ScheduledRunNowAndAGuestsBackupNow) {
  ASSERT_NO_FATAL_FAILURE(WriteConfig({{kDaily, {{"push_token", kToken}}}}));
  ASSERT_NO_FATAL_FAILURE(RunScheduledRunNowAndBackupNow());
}

TEST_F(IdentificationBlackboxTest, AFailingChainedJobEndScriptTurnsThePushDown) {
  const std::string order = dir_.Path("order.txt");
  const std::string global = dir_.Write("global-hook.sh",
                                        "#!/bin/sh\necho \"global $1\" >> '" + order + "'\n");
  const std::string offsite = dir_.Write(
      "offsite-sync.sh", "#!/bin/sh\necho \"offsite $1\" >> '" + order +
                             "'\nif [ \"$1\" = job-end ]; then echo 'offsite: link down'; exit 3; fi\n");
  ASSERT_EQ(chmod(global.c_str(), 0755), 0);
  ASSERT_EQ(chmod(offsite.c_str(), 0755), 0);
  json config_jobs = {{kDaily, {{"push_token", kToken}, {"chain", {offsite}}}}};
  ASSERT_NO_FATAL_FAILURE(WriteConfig(config_jobs));
  // hook.chain is added to the written config.
  json config = json::parse(ReadText(dir_.Path("config.json")));
  config["hook"] = {{"chain", {global}}};
  dir_.Write("config.json", config.dump(2) + "\n");

  SimRun run = RunSim(DailyJob(), /*scheduled=*/true);
  // vzdump sees the chained script's failure, as it would without us ...
  EXPECT_EQ(run.Exit("job-end"), 3) << run.Log();
  EXPECT_NE(Str(run.summary, "task_status"), "OK");
  // ... and so does Kuma: one push, down, naming the script.
  auto requests = kuma_->Requests();
  ASSERT_EQ(requests.size(), 1u) << run.Log();
  ExpectPush(requests[0], kToken, "down");
  EXPECT_TRUE(Contains(Msg(requests[0]), "chained hook " + offsite + " exited 3"))
      << Msg(requests[0]);
  // The job's chain runs after hook.chain, in every phase of the job's runs.
  const std::vector<std::string> lines = Lines(ReadText(order));
  ASSERT_GE(lines.size(), 4u) << ReadText(order);
  EXPECT_EQ(lines[0], "global job-init");
  EXPECT_EQ(lines[1], "offsite job-init");
  EXPECT_TRUE(HasLine(ReadText(order), "offsite backup-start")) << ReadText(order);
  EXPECT_TRUE(HasLine(ReadText(order), "offsite job-end")) << ReadText(order);
  EXPECT_NE(run.LineWith("job-end", "offsite: link down"), "") << run.Log();
}

TEST_F(IdentificationBlackboxTest, AJobWithoutMonitorIsAnErrorAndDownOnTheNodeMonitor) {
  ASSERT_NO_FATAL_FAILURE(WriteConfig(json::object()));
  SimRun run = RunSim(RunNowOptions(), /*scheduled=*/false);
  EXPECT_EQ(run.Exit("job-end"), 0) << run.Log();
  EXPECT_EQ(Str(run.summary, "task_status"), "OK") << run.Log();
  const std::string error = run.LineWith("job-end", "ERROR: pbk-agent: backup job ");
  EXPECT_TRUE(Contains(error, std::string(kDaily) + " has no push monitor on node pve1")) << run.Log();
  auto requests = kuma_->Requests();
  ASSERT_EQ(requests.size(), 1u) << run.Log();
  ExpectPush(requests[0], kNodeToken, "down");
  EXPECT_TRUE(Contains(Msg(requests[0]), kDaily)) << Msg(requests[0]);

  // Without a node monitor nobody hears of it: job-end fails, as before.
  ASSERT_NO_FATAL_FAILURE(WriteConfig(json::object(), /*node_monitor=*/false));
  SimRun unheard = RunSim(RunNowOptions(), /*scheduled=*/false);
  EXPECT_EQ(unheard.Exit("job-end"), 1) << unheard.Log();
  EXPECT_EQ(kuma_->Requests().size(), 1u);
}

TEST_F(IdentificationBlackboxTest, TwoJobsWithTheRunsOptionsAreAnErrorNeverAFailedTask) {
  json twin = DailyJob();
  twin["id"] = "backup-twin";
  twin["schedule"] = "sat 02:00";
  WriteJobCache({DailyJob(), twin});
  ASSERT_NO_FATAL_FAILURE(WriteConfig({{kDaily, {{"push_token", kToken}}}}));
  SimRun run = RunSim(RunNowOptions(), /*scheduled=*/false);
  EXPECT_EQ(run.Exit("job-end"), 0) << run.Log();
  EXPECT_EQ(Str(run.summary, "task_status"), "OK") << run.Log();
  const std::string error = run.LineWith("job-end", "ERROR: pbk-agent: cannot tell which backup job");
  EXPECT_TRUE(Contains(error, kDaily) && Contains(error, "backup-twin")) << run.Log();
  auto requests = kuma_->Requests();
  ASSERT_EQ(requests.size(), 1u) << run.Log();
  ExpectPush(requests[0], kNodeToken, "down");
  EXPECT_TRUE(Contains(Msg(requests[0]), std::string(kDaily) + " or backup-twin"))
      << Msg(requests[0]);
}

}  // namespace
}  // namespace pbk::testing
