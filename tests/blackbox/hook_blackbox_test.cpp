// Black-box tests of the vzdump hook: scheduled runs and runs without a
// scheduler file.
// What is asserted is what an admin can see: the requests Kuma received, the
// task log, the hook's exit codes and timing, the spool and `flush`.
#include <gtest/gtest.h>

#include "tests/blackbox/hook_blackbox_fixture.h"

namespace pbk::testing::hook_blackbox {
namespace {

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

// Two jobs fit and there is no task log to read: an
// ERROR naming both, never a guess, and never a failed backup.
TEST_F(HookBlackboxTest, RunNowWithTwoFittingJobsIsAnErrorPushesNothingAndFailsNothing) {
  ASSERT_NO_FATAL_FAILURE(StartKuma());
  ASSERT_NO_FATAL_FAILURE(WriteConfig(Options("", 3, {{kJobId, kToken}, {kOtherJobId, kOtherToken}})));
  WriteJobCache({PveJob(kJobId, "pbs1"), PveJob(kOtherJobId, "pbs1")});
  SimRun run = RunSim(TwoGuests("snapshot", /*job_id=*/""));

  EXPECT_EQ(At(run.Call("job-end"), "exit"), 0) << run.Log();
  const std::string line = run.Line("job-end", "ERROR: pbk-agent: cannot tell which backup job");
  EXPECT_NE(line, "") << run.Log();
  EXPECT_TRUE(Contains(line, kJobId)) << line;
  EXPECT_TRUE(Contains(line, kOtherJobId)) << line;
  EXPECT_EQ(run.TaskStatus(), "OK");
  EXPECT_EQ(run.Calls("job-abort").size(), 0u);
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

}  // namespace
}  // namespace pbk::testing::hook_blackbox
