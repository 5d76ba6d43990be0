// Black-box tests of `pbk-agent refresh` and of how it, `flush` and the
// hook's job-end push share a job's monitor: the built binary against the
// fake PVE (REST API with a read-only token: the job list and where the
// guests are) and the fake Uptime Kuma, with runs made by pbk-vzdump-sim
// through the real hook wrapper. What is asserted is what Kuma received
// (one push per monitor, its status and words, no `ping`, the order of a
// job's pushes), the exit codes, `--json` and the spool's folders.
//
// Scheduler state files (scheduler_dir/vzdump-<id>.json) and refresh's
// memory (state_dir/refresh.json) are written here where a test needs a past
// that a test cannot wait for; their formats are pvescheduler's
// (`{"state":"stopped","msg":"OK","upid":…}`) and agent/refresh.cpp's.
//
// This file: every state a job can be in.
#include <gtest/gtest.h>

#include "tests/blackbox/refresh_blackbox_fixture.h"

namespace pbk::testing::refresh_blackbox {
namespace {

// --- 1. every state a job can be in ---------------------------------------------

TEST_F(RefreshStateTest, OkAfterARunIsUpWithTheRunsResult) {
  ASSERT_NO_FATAL_FAILURE(StartKuma());
  ASSERT_NO_FATAL_FAILURE(WriteConfig());
  SimRun run = RunSim(TwoGuests(kJob, "pbs1"));
  ASSERT_EQ(At(run.Call("job-end"), "exit"), 0) << run.Log();
  ASSERT_EQ(kuma_->Requests().size(), 1u) << "the hook's own push";

  ExpectRefresh({{kJob,
                  kToken,
                  "ok",
                  true,
                  {"pve1: last run ", "all 2 guests backed up", "pbs1", "; next run "},
                  {"delivered late", "running"}},
                 Node(true, kNodeOk)});
}

TEST_F(RefreshStateTest, FailedGuestMakesTheJobDownNamingIt) {
  ASSERT_NO_FATAL_FAILURE(StartKuma());
  ASSERT_NO_FATAL_FAILURE(WriteConfig());
  SimRun run = RunSim(TwoGuests(kJob, "pbs1", "fail-archive"));
  ASSERT_EQ(At(run.Call("job-end"), "exit"), 0) << run.Log();

  ExpectRefresh({{kJob,
                  kToken,
                  "failed",
                  false,
                  {"pve1: last run ", "1 of 2 guests FAILED", "failed: 101 db01", "; next run "},
                  {}},
                 Node(true, kNodeOk)});
}

TEST_F(RefreshStateTest, RunInProgressIsRunningAndThenItsResult) {
  ASSERT_NO_FATAL_FAILURE(StartKuma());
  AgentSetup setup;
  setup.gate = true;
  ASSERT_NO_FATAL_FAILURE(WriteConfig(setup));
  ArmGate();
  Background sim;
  ASSERT_NO_FATAL_FAILURE(StartSim(TwoGuests(kJob, "pbs1"), &sim));
  ASSERT_TRUE(AtGate()) << ReadText(sim.out) << ReadText(sim.err);

  ExpectRefresh({{kJob,
                  kToken,
                  "running",
                  true,
                  {"pve1: running since ", "no earlier run on record"},
                  {"never ended"}},
                 Node(true, kNodeOk)});

  // Once the run ends, its result is the state.
  const size_t mark = Mark();
  ASSERT_TRUE(OpenGate());
  SimRun run = FinishSim(&sim);
  EXPECT_EQ(At(run.Call("job-end"), "exit"), 0) << run.Log();
  EXPECT_EQ(PushesSince(mark, kToken).size(), 1u) << "the hook's push";
  const json now = CurrentState("job " + std::string(kJob));
  EXPECT_EQ(Str(now, "state"), "ok") << now.dump();
}

TEST_F(RefreshStateTest, RunWhoseWorkerWasKilledIsVanishedAndDown) {
  ASSERT_NO_FATAL_FAILURE(StartKuma());
  AgentSetup setup;
  setup.gate = true;
  ASSERT_NO_FATAL_FAILURE(WriteConfig(setup));
  ArmGate();
  Background sim;
  ASSERT_NO_FATAL_FAILURE(StartSim(TwoGuests(kJob, "pbs1"), &sim));
  ASSERT_TRUE(AtGate()) << ReadText(sim.out) << ReadText(sim.err);
  // vzdump's worker dies mid-run without job-end or job-abort.
  const pid_t worker = sim.process.pid();
  ASSERT_GT(worker, 0);
  ASSERT_EQ(kill(worker, SIGKILL), 0);
  ASSERT_TRUE(sim.process.Wait(seconds(10)));
  EXPECT_EQ(sim.process.term_signal(), SIGKILL);
  ASSERT_TRUE(OpenGate()) << "the orphaned hook call did not go on";
  EXPECT_TRUE(kuma_->Requests().empty()) << "no push without job-end";

  ExpectRefresh(
      {{kJob,
        kToken,
        "vanished",
        false,
        {"pve1: the run started ", "never ended", "vzdump worker is gone", "; task UPID:pve1:"},
        {"running since"}},
       Node(true, kNodeOk)});
}

TEST_F(RefreshStateTest, DailyJobWithoutARunForTwoDaysIsMissed) {
  ASSERT_NO_FATAL_FAILURE(StartKuma());
  ASSERT_NO_FATAL_FAILURE(WriteConfig());
  // Refresh has watched the job for a week; its last run, two days ago, was
  // ok; pvescheduler's state file says so; nothing ran since.
  const int64_t now = NowSeconds();
  int64_t last = now - 2 * 24 * 3600;
  if (LocalTime(last).substr(11, 8) == "21:00:00") last -= 1;
  const std::string upid = DeadUpid(last);
  WriteRefreshMemory({{kJob, "21:00"}}, now - 7 * 24 * 3600);
  WriteRunRecord(kJob, upid, last, true, "pve1: all 2 guests backed up in 5m 00s to pbs1");
  WriteSchedulerState(kJob, {{"state", "stopped"}, {"msg", "OK"}, {"upid", upid}});
  const std::string due = LocalTime(NextDailyAt(last, 21, 0));

  ExpectRefresh(
      {{kJob,
        kToken,
        "missed",
        false,
        {"pve1: run due " + due + " did not start", "(last run " + LocalTime(last) + ": ok)"},
        {}},
       Node(true, kNodeOk)});
}

// Two runs of the job whose workers started in the same second (a UPID's
// start is in whole seconds): the second waited for the node's vzdump lock
// and ran after the first. The later run's result is the job's state.
TEST_F(RefreshStateTest, RunsStartingInTheSameSecondAreToldApartByWhenTheyRan) {
  ASSERT_NO_FATAL_FAILURE(StartKuma());
  ASSERT_NO_FATAL_FAILURE(WriteConfig());
  const int64_t start = NowSeconds() - 3600;
  const std::string first = Upid(0x1000, 5000, start);
  const std::string second = Upid(0x2000, 5001, start);
  WriteRunRecord(kJob, first, start, true, "pve1: all 2 guests backed up in 5m 00s to store-first",
                 0, 300);
  WriteRunRecord(kJob, second, start, false,
                 "pve1: 1 of 2 guests FAILED, 5m 00s, storage store-second", 300, 300);
  WriteSchedulerState(kJob, {{"state", "stopped"}, {"msg", "OK"}, {"upid", first}});

  const json now = CurrentState("job " + std::string(kJob));
  EXPECT_EQ(Str(now, "state"), "failed") << now.dump();
  EXPECT_EQ(Str(now, "status"), "down") << now.dump();
  EXPECT_TRUE(Contains(Str(now, "message"), "store-second")) << now.dump();
}

TEST_F(RefreshStateTest, JobOfAnotherNodeIsNotHereAndUp) {
  ASSERT_NO_FATAL_FAILURE(StartKuma());
  JobSpec pve2 = AllJob(kJobOther, "23:00");
  pve2.options["node"] = "pve2";
  ASSERT_NO_FATAL_FAILURE(WriteJobs({AllJob(kJob), pve2}));
  AgentSetup setup;
  setup.jobs = {{kJob, kToken}, {kJobOther, kTokenOther}};
  ASSERT_NO_FATAL_FAILURE(WriteConfig(setup));

  ExpectRefresh({{kJob, kToken, "no-run-yet", true, {"pve1: no run on record yet"}, {}},
                 {kJobOther,
                  kTokenOther,
                  "not-here",
                  true,
                  {"pve1: nothing to back up on this node: the job runs on node pve2 only"},
                  {}},
                 Node(true, kNodeOk)});
}

TEST_F(RefreshStateTest, SchedulerRunWithNoGuestHereIsNotHereAndUp) {
  ASSERT_NO_FATAL_FAILURE(StartKuma());
  // A job of guest 100 only: pvescheduler ran it a minute ago with no guest
  // of it here (100 came here since), so no worker and no UPID.
  ASSERT_NO_FATAL_FAILURE(WriteJobs({AllJob(kJob), VmidJob(kJobOther, "100")}));
  AgentSetup setup;
  setup.jobs = {{kJob, kToken}, {kJobOther, kTokenOther}};
  ASSERT_NO_FATAL_FAILURE(WriteConfig(setup));
  const int64_t ran = NowSeconds() - 60;
  WriteSchedulerState(kJobOther, {{"state", "stopped"}, {"msg", "OK"}, {"time", ran}});

  ExpectRefresh({{kJob, kToken, "no-run-yet", true, {"pve1: no run on record yet"}, {}},
                 {kJobOther,
                  kTokenOther,
                  "not-here",
                  true,
                  {"pve1: the scheduler ran it at " + LocalTime(ran),
                   "with no guest of the job on this node"},
                  {}},
                 Node(true, kNodeOk)});
}

TEST_F(RefreshStateTest, DisabledJobIsDown) {
  ASSERT_NO_FATAL_FAILURE(StartKuma());
  JobSpec disabled = AllJob(kJobOther, "sat 02:30");
  disabled.options["enabled"] = "0";
  ASSERT_NO_FATAL_FAILURE(WriteJobs({AllJob(kJob), disabled}));
  AgentSetup setup;
  setup.jobs = {{kJob, kToken}, {kJobOther, kTokenOther}};
  ASSERT_NO_FATAL_FAILURE(WriteConfig(setup));

  ExpectRefresh(
      {{kJob, kToken, "no-run-yet", true, {"pve1: no run on record yet"}, {}},
       {kJobOther, kTokenOther, "disabled", false, {"pve1: disabled: no backups are made"}, {}},
       Node(true, kNodeOk)});
}

TEST_F(RefreshStateTest, MonitorOfAJobPveNoLongerListsIsGoneAndDown) {
  ASSERT_NO_FATAL_FAILURE(StartKuma());
  AgentSetup setup;
  setup.jobs = {{kJob, kToken}, {kJobOther, kTokenOther}};
  ASSERT_NO_FATAL_FAILURE(WriteConfig(setup));

  ExpectRefresh({{kJob, kToken, "no-run-yet", true, {"pve1: no run on record yet"}, {}},
                 {kJobOther,
                  kTokenOther,
                  "gone",
                  false,
                  {"pve1: no such job any more", kJobOther, "PVE lists no such job"},
                  {}},
                 Node(true, kNodeOk)});
}

TEST_F(RefreshStateTest, SchedulerRunTheHookNeverSawIsWithoutHookAndDown) {
  ASSERT_NO_FATAL_FAILURE(StartKuma());
  ASSERT_NO_FATAL_FAILURE(WriteConfig());
  SimRun run = RunSim(TwoGuests(kJob, "pbs1"));
  ASSERT_EQ(At(run.Call("job-end"), "exit"), 0) << run.Log();
  // Then pvescheduler ran the job again, and the hook was not called: a
  // UPID newer than every run record, its worker long gone.
  const int64_t after_run = NowSeconds();
  ASSERT_TRUE(WaitUntil([&] { return NowSeconds() > after_run; }, seconds(3)));
  const int64_t started = NowSeconds();
  WriteSchedulerState(kJob, {{"state", "stopped"}, {"msg", "OK"}, {"upid", DeadUpid(started)}});

  ExpectRefresh(
      {{kJob,
        kToken,
        "without-hook",
        false,
        {"pve1: ran without the hook: the scheduler started a run at " + LocalTime(started),
         "that pbk-agent's hook never saw", "pbk-agent guard"},
        {}},
       Node(true, kNodeOk)});
}

TEST_F(RefreshStateTest, KumaDownFailsRefreshAlsoAsAService) {
  ASSERT_NO_FATAL_FAILURE(StartKuma());
  ASSERT_NO_FATAL_FAILURE(WriteConfig());
  kuma_->Stop();
  RunResult refresh = Agent({"refresh"});
  EXPECT_EQ(refresh.exit_code, 1) << refresh.err;
  EXPECT_TRUE(Contains(refresh.err, std::string("job ") + kJob + " NOT pushed: ")) << refresh.err;
  EXPECT_TRUE(Contains(refresh.err, "node pve1 NOT pushed: ")) << refresh.err;
  EXPECT_TRUE(Contains(refresh.err, "2 push(es) failed")) << refresh.err;
  RunResult service = Agent({"refresh", "--service"});
  EXPECT_EQ(service.exit_code, 1) << service.err;
  RunResult as_json = Agent({"refresh", "--json"});
  EXPECT_EQ(as_json.exit_code, 1) << as_json.err;
  json document = json::parse(as_json.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(document.is_object()) << as_json.out;
  EXPECT_EQ(At(document, "failed"), 2);
  for (const auto& entry : At(document, "monitors")) {
    EXPECT_EQ(At(entry, "pushed"), false) << entry.dump();
    EXPECT_TRUE(At(entry, "error").is_string()) << entry.dump();
  }
  EXPECT_TRUE(kuma_->Requests().empty());
}

TEST_F(RefreshStateTest, DryRunPushesNothingAndRemembersNothing) {
  ASSERT_NO_FATAL_FAILURE(StartKuma());
  ASSERT_NO_FATAL_FAILURE(WriteConfig());
  RunResult dry = Agent({"refresh", "--dry-run"});
  EXPECT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_TRUE(Contains(dry.err, std::string("job ") + kJob + " would push: up (no-run-yet)"))
      << dry.err;
  EXPECT_TRUE(kuma_->Requests().empty()) << Describe(kuma_->Requests());
  EXPECT_FALSE(Exists(state_dir_ + "/refresh.json"));
  RunResult usage = Agent({"refresh", "--now"});
  EXPECT_EQ(usage.exit_code, 2) << usage.err;
  EXPECT_TRUE(kuma_->Requests().empty());
}

}  // namespace
}  // namespace pbk::testing::refresh_blackbox
