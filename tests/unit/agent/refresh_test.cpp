#include "agent/refresh.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "tests/unit/agent/refresh_fixture.h"

namespace pbk {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::Cest;
using testing::Config21;
using testing::RefreshTest;
using testing::RunAt;
using testing::Scheduler;
using testing::UpidAt;
using testing::Utc;
using testing::kNode;

TEST(RefreshStateNameTest, EveryStateHasItsName) {
  EXPECT_STREQ(JobStateName(JobState::kOk), "ok");
  EXPECT_STREQ(JobStateName(JobState::kFailed), "failed");
  EXPECT_STREQ(JobStateName(JobState::kRunning), "running");
  EXPECT_STREQ(JobStateName(JobState::kVanished), "vanished");
  EXPECT_STREQ(JobStateName(JobState::kMissed), "missed");
  EXPECT_STREQ(JobStateName(JobState::kNotHere), "not-here");
  EXPECT_STREQ(JobStateName(JobState::kNoRunYet), "no-run-yet");
  EXPECT_STREQ(JobStateName(JobState::kDisabled), "disabled");
  EXPECT_STREQ(JobStateName(JobState::kGone), "gone");
  EXPECT_STREQ(JobStateName(JobState::kWithoutHook), "without-hook");
  EXPECT_STREQ(JobStateName(JobState::kNotStarted), "not-started");
  EXPECT_STREQ(JobStateName(JobState::kUnknown), "unknown");
}

TEST(RefreshRunStartTest, IsTheUpidStartElseTheFirstPhaseSeen) {
  RunRecord run = RunAt(Utc(2026, 6, 1, 19, 0, 5), "job-end");
  EXPECT_EQ(RunStart(run), Utc(2026, 6, 1, 19, 0, 5));
  run.upid.clear();
  run.first_ms = Utc(2026, 6, 1, 19, 0, 9) * 1000 + 750;
  EXPECT_EQ(RunStart(run), Utc(2026, 6, 1, 19, 0, 9));
}

// --- the state table -------------------------------------------------------

TEST_F(RefreshTest, LastRunOkAndNothingDueIsOkNamingLastAndNextRun) {
  AddRun(RunAt(Cest(2026, 6, 1, 21, 0, 5), "job-end"));
  facts_.scheduler = Scheduler({{"state", "stopped"},
                                {"msg", "OK"},
                                {"upid", UpidAt(Cest(2026, 6, 1, 21, 0, 5))},
                                {"config", Config21()}});
  const JobStatus status = Judge(Cest(2026, 6, 2, 12));
  EXPECT_STATUS(
      status, JobState::kOk, true,
      {"last run 2026-06-01 21:00:05 +0200: all 2 guests backed up in 12m 05s to pbs1; ok: "
       "100 web01, 101 db01",
       "; next run 2026-06-02 21:00:00 +0200"});
  // The node is named once, not again from the hook's own message.
  EXPECT_THAT(status.message, Not(HasSubstr("pve1: pve1")));
  EXPECT_EQ(status.last_start, Cest(2026, 6, 1, 21, 0, 5));
  EXPECT_EQ(status.next_run, Cest(2026, 6, 2, 21));
  EXPECT_FALSE(status.due.has_value());
}

TEST_F(RefreshTest, FailedGuestsAreFailedAndDown) {
  AddRun(RunAt(Cest(2026, 5, 31, 21, 0, 5), "job-end"));
  AddRun(RunAt(Cest(2026, 6, 1, 21, 0, 5), "job-end", GuestResult::kFailed));
  const JobStatus status = Judge(Cest(2026, 6, 2, 12));
  EXPECT_STATUS(status, JobState::kFailed, false,
                {"last run 2026-06-01 21:00:05 +0200: 1 of 2 guests FAILED, 12m 05s, storage pbs1",
                 "failed: 101 db01", "; next run 2026-06-02 21:00:00 +0200"});
}

TEST_F(RefreshTest, AbortedJobIsFailedAndDown) {
  AddRun(RunAt(Cest(2026, 6, 1, 21, 0, 5), "job-abort"));
  const JobStatus status = Judge(Cest(2026, 6, 2, 12));
  EXPECT_STATUS(status, JobState::kFailed, false,
                {"last run 2026-06-01 21:00:05 +0200: backup job ABORTED after 12m 05s",
                 "; next run 2026-06-02 21:00:00 +0200"});
}

TEST_F(RefreshTest, RunningAfterAnOkRunIsUpAndRunningSinceItsStart) {
  AddRun(RunAt(Cest(2026, 6, 1, 21, 0, 5), "job-end"));
  facts_.running = AddRun(RunAt(Cest(2026, 6, 2, 21, 0, 5), ""));
  facts_.scheduler = Scheduler(
      {{"state", "started"}, {"upid", UpidAt(Cest(2026, 6, 2, 21, 0, 5))}, {"config", Config21()}});
  facts_.scheduler_worker_alive = true;
  const JobStatus status = Judge(Cest(2026, 6, 2, 21, 10));
  EXPECT_STATUS(
      status, JobState::kRunning, true,
      {"running since 2026-06-02 21:00:05 +0200", "last run 2026-06-01 21:00:05 +0200: ok"});
}

TEST_F(RefreshTest, RunningAfterAFailedRunStaysDown) {
  AddRun(RunAt(Cest(2026, 6, 1, 21, 0, 5), "job-end", GuestResult::kFailed));
  facts_.running = AddRun(RunAt(Cest(2026, 6, 2, 21, 0, 5), ""));
  facts_.scheduler =
      Scheduler({{"state", "started"}, {"upid", UpidAt(Cest(2026, 6, 2, 21, 0, 5))}});
  facts_.scheduler_worker_alive = true;
  const JobStatus status = Judge(Cest(2026, 6, 2, 21, 10));
  EXPECT_STATUS(
      status, JobState::kRunning, false,
      {"running since 2026-06-02 21:00:05 +0200", "last run 2026-06-01 21:00:05 +0200: FAILED"});
}

TEST_F(RefreshTest, FirstRunOfANewJobGoingOnIsUp) {
  facts_.observed_change = Cest(2026, 6, 2, 9);  // created this morning
  facts_.running = AddRun(RunAt(Cest(2026, 6, 2, 21, 0, 5), ""));
  const JobStatus status = Judge(Cest(2026, 6, 2, 21, 10));
  EXPECT_STATUS(status, JobState::kRunning, true,
                {"running since 2026-06-02 21:00:05 +0200; no earlier run on record"});
}

TEST_F(RefreshTest, RunStartedAfterAMissedDueStartStaysDownWhileItRuns) {
  // 31 May ran; 1 June's 21:00 did not start; someone starts a run by hand
  // the next morning (not through the scheduler, whose file still names 31 May).
  AddRun(RunAt(Cest(2026, 5, 31, 21, 0, 5), "job-end"));
  facts_.scheduler = Scheduler(
      {{"state", "stopped"}, {"msg", "OK"}, {"upid", UpidAt(Cest(2026, 5, 31, 21, 0, 5))}});
  facts_.running = AddRun(RunAt(Cest(2026, 6, 2, 10, 0, 0), ""));
  const JobStatus status = Judge(Cest(2026, 6, 2, 10, 5));
  EXPECT_STATUS(status, JobState::kRunning, false,
                {"running since 2026-06-02 10:00:00 +0200",
                 "before it, the run due 2026-06-01 21:00:00 +0200 did not start"});
}

TEST_F(RefreshTest, RunThatWaitedForTheLockWithinTheGraceIsNoMissedRun) {
  AddRun(RunAt(Cest(2026, 6, 1, 21, 0, 5), "job-end"));
  facts_.running = AddRun(RunAt(Cest(2026, 6, 2, 21, 29, 59), ""));
  facts_.scheduler =
      Scheduler({{"state", "started"}, {"upid", UpidAt(Cest(2026, 6, 2, 21, 29, 59))}});
  JobStatus status = Judge(Cest(2026, 6, 2, 21, 40));
  EXPECT_STATUS(
      status, JobState::kRunning, true,
      {"running since 2026-06-02 21:29:59 +0200", "last run 2026-06-01 21:00:05 +0200: ok"});

  // Started the moment the grace ran out: the due start was missed.
  runs_.back() = RunAt(Cest(2026, 6, 2, 21, 30, 0), "");
  facts_.scheduler =
      Scheduler({{"state", "started"}, {"upid", UpidAt(Cest(2026, 6, 2, 21, 30, 0))}});
  status = Judge(Cest(2026, 6, 2, 21, 40));
  EXPECT_STATUS(status, JobState::kRunning, false,
                {"running since 2026-06-02 21:30:00 +0200",
                 "before it, the run due 2026-06-02 21:00:00 +0200 did not start"});
}

TEST_F(RefreshTest, RunTheSchedulerStartedBeforeTheHookSawItIsRunning) {
  AddRun(RunAt(Cest(2026, 6, 1, 21, 0, 5), "job-end"));
  facts_.scheduler =
      Scheduler({{"state", "started"}, {"upid", UpidAt(Cest(2026, 6, 2, 21, 0, 5))}});
  facts_.scheduler_worker_alive = true;
  const JobStatus status = Judge(Cest(2026, 6, 2, 21, 1));
  EXPECT_STATUS(status, JobState::kRunning, true,
                {"running since 2026-06-02 21:00:05 +0200 (started by the scheduler)",
                 "last run 2026-06-01 21:00:05 +0200: ok"});
}

TEST_F(RefreshTest, AWorkerFinishingItsTaskLogAfterJobEndIsNoRunGoingOn) {
  AddRun(RunAt(Cest(2026, 6, 2, 21, 0, 5), "job-end"));
  // The hook judged the run; its worker still writes "TASK OK" and the
  // scheduler has not noted the end yet.
  facts_.scheduler =
      Scheduler({{"state", "started"}, {"upid", UpidAt(Cest(2026, 6, 2, 21, 0, 5))}});
  facts_.scheduler_worker_alive = true;
  const JobStatus status = Judge(Cest(2026, 6, 2, 21, 13));
  EXPECT_STATUS(status, JobState::kOk, true, {"last run 2026-06-02 21:00:05 +0200: "});
}

TEST_F(RefreshTest, WorkerGoneWithoutJobEndIsVanished) {
  AddRun(RunAt(Cest(2026, 5, 31, 21, 0, 5), "job-end"));
  AddRun(RunAt(Cest(2026, 6, 1, 21, 0, 5), ""));
  // pvescheduler saw the worker end and noted its task status.
  facts_.scheduler = Scheduler({{"state", "stopped"},
                                {"msg", "unexpected status"},
                                {"upid", UpidAt(Cest(2026, 6, 1, 21, 0, 5))}});
  const JobStatus status = Judge(Cest(2026, 6, 2, 12));
  EXPECT_STATUS(
      status, JobState::kVanished, false,
      {"the run started 2026-06-01 21:00:05 +0200 never ended", "gone without job-end or job-abort",
       "task " + UpidAt(Cest(2026, 6, 1, 21, 0, 5))});
  EXPECT_EQ(status.last_start, Cest(2026, 6, 1, 21, 0, 5));
}

TEST_F(RefreshTest, MissedDailyRunIsDownNamingTheDueTime) {
  AddRun(RunAt(Cest(2026, 5, 31, 21, 0, 5), "job-end"));
  facts_.scheduler = Scheduler({{"state", "stopped"},
                                {"msg", "OK"},
                                {"upid", UpidAt(Cest(2026, 5, 31, 21, 0, 5))},
                                {"config", Config21()}});
  const JobStatus status = Judge(Cest(2026, 6, 2, 12));
  EXPECT_STATUS(
      status, JobState::kMissed, false,
      {"run due 2026-06-01 21:00:00 +0200 did not start (last run 2026-05-31 21:00:05 +0200: ok)"});
  EXPECT_EQ(status.due, Cest(2026, 6, 1, 21));
  EXPECT_EQ(status.last_start, Cest(2026, 5, 31, 21, 0, 5));
}

TEST_F(RefreshTest, MissedRunNamesAFailedLastRun) {
  AddRun(RunAt(Cest(2026, 5, 31, 21, 0, 5), "job-end", GuestResult::kFailed));
  const JobStatus status = Judge(Cest(2026, 6, 2, 12));
  EXPECT_STATUS(
      status, JobState::kMissed, false,
      {"run due 2026-06-01 21:00:00 +0200 did not start (last run 2026-05-31 21:00:05 +0200: "
       "FAILED)"});
}

TEST_F(RefreshTest, JobThatNeverRanIsMissedOnceItsFirstRunIsDue) {
  facts_.observed_change = Cest(2026, 6, 1, 9);
  facts_.scheduler = Scheduler({{"state", "created"}, {"time", Cest(2026, 6, 1, 8, 59)}});
  const JobStatus status = Judge(Cest(2026, 6, 2, 12));
  EXPECT_STATUS(status, JobState::kMissed, false,
                {"run due 2026-06-01 21:00:00 +0200 did not start (no run on record)"});
  EXPECT_EQ(status.due, Cest(2026, 6, 1, 21));
}

TEST_F(RefreshTest, JustInsideTheGraceIsNotMissed) {
  AddRun(RunAt(Cest(2026, 6, 1, 21, 0, 5), "job-end"));
  JobStatus status = Judge(Cest(2026, 6, 2, 21, 29, 59));
  EXPECT_STATUS(status, JobState::kOk, true, {"last run 2026-06-01 21:00:05 +0200: all 2 guests"});

  status = Judge(Cest(2026, 6, 2, 21, 30, 0));
  EXPECT_STATUS(
      status, JobState::kMissed, false,
      {"run due 2026-06-02 21:00:00 +0200 did not start (last run 2026-06-01 21:00:05 +0200: ok)"});
  EXPECT_EQ(status.due, Cest(2026, 6, 2, 21));
}

TEST_F(RefreshTest, MissedRunStaysMissedUntilALaterRunEnds) {
  AddRun(RunAt(Cest(2026, 5, 31, 21, 0, 5), "job-end"));
  // Days later, still the first missed start is named.
  JobStatus status = Judge(Cest(2026, 6, 4, 12));
  EXPECT_STATUS(status, JobState::kMissed, false,
                {"run due 2026-06-01 21:00:00 +0200 did not start"});

  // A run by hand on 4 June ends well: nothing is due until that evening.
  AddRun(RunAt(Cest(2026, 6, 4, 12, 30), "job-end"));
  status = Judge(Cest(2026, 6, 4, 13));
  EXPECT_STATUS(status, JobState::kOk, true,
                {"last run 2026-06-04 12:30:00 +0200: all 2 guests backed up",
                 "; next run 2026-06-04 21:00:00 +0200"});
}

TEST_F(RefreshTest, SchedulerRunWithNoGuestHereIsNotHere) {
  AddRun(RunAt(Cest(2026, 5, 31, 21, 0, 5), "job-end"));
  facts_.scheduler = Scheduler({{"state", "stopped"},
                                {"msg", "OK"},
                                {"time", Cest(2026, 6, 1, 21, 0, 1)},
                                {"config", Config21()}});
  const JobStatus status = Judge(Cest(2026, 6, 2, 12));
  EXPECT_STATUS(
      status, JobState::kNotHere, true,
      {"the scheduler ran it at 2026-06-01 21:00:01 +0200 with no guest of the job on this "
       "node",
       "; next run 2026-06-02 21:00:00 +0200"});
  EXPECT_EQ(status.last_start, Cest(2026, 6, 1, 21, 0, 1));
}

TEST_F(RefreshTest, JobBoundToAnotherNodeIsNotHereAndNeverMissed) {
  job_.node = "pve2";
  AddRun(RunAt(Cest(2026, 5, 10, 21, 0, 5), "job-end"));  // before it was bound to pve2
  const JobStatus status = Judge(Cest(2026, 6, 2, 12));
  EXPECT_STATUS(status, JobState::kNotHere, true,
                {"nothing to back up on this node: the job runs on node pve2 only"});
}

TEST_F(RefreshTest, JobBoundToThisNodeIsDueHere) {
  job_.node = kNode;
  AddRun(RunAt(Cest(2026, 5, 31, 21, 0, 5), "job-end"));
  const JobStatus status = Judge(Cest(2026, 6, 2, 12));
  EXPECT_STATUS(status, JobState::kMissed, false,
                {"run due 2026-06-01 21:00:00 +0200 did not start"});
}

TEST_F(RefreshTest, JobWithNoGuestOnThisNodeIsNotHere) {
  job_.all = false;
  job_.vmids = {100, 101};
  Placement placement;
  placement.runs_here = false;
  placement.guests_elsewhere = {{100, "pve2"}, {101, "pve3"}};
  placement.why = "its guests 100, 101 are on other nodes";
  facts_.placement = placement;
  AddRun(RunAt(Cest(2026, 5, 10, 21, 0, 5), "job-end"));  // before they migrated
  const JobStatus status = Judge(Cest(2026, 6, 2, 12));
  EXPECT_STATUS(status, JobState::kNotHere, true,
                {"nothing to back up on this node: its guests 100, 101 are on other nodes"});
}

TEST_F(RefreshTest, DisabledJobIsDown) {
  job_.enabled = false;
  AddRun(RunAt(Cest(2026, 5, 10, 21, 0, 5), "job-end"));
  const JobStatus status = Judge(Cest(2026, 6, 2, 12));
  EXPECT_STATUS(status, JobState::kDisabled, false, {"disabled: no backups are made"});
}

TEST_F(RefreshTest, JobNoLongerInPveIsGone) {
  facts_.job = nullptr;
  facts_.observed_change.reset();
  AddRun(RunAt(Cest(2026, 6, 1, 21, 0, 5), "job-end"));
  const JobStatus status = Judge(Cest(2026, 6, 2, 12));
  EXPECT_STATUS(status, JobState::kGone, false,
                {"no such job any more: backup job backup-8d6f3a2c-1b4e has a monitor here"});
}

TEST_F(RefreshTest, SchedulerRunTheHookNeverSawIsWithoutHook) {
  AddRun(RunAt(Cest(2026, 5, 31, 21, 0, 5), "job-end"));
  facts_.scheduler = Scheduler({{"state", "stopped"},
                                {"msg", "OK"},
                                {"upid", UpidAt(Cest(2026, 6, 1, 21, 0, 5), 0xB00C)},
                                {"config", Config21()}});
  facts_.scheduler_worker_alive = false;
  const JobStatus status = Judge(Cest(2026, 6, 2, 12));
  EXPECT_STATUS(
      status, JobState::kWithoutHook, false,
      {"ran without the hook: the scheduler started a run at 2026-06-01 21:00:05 +0200 that "
       "pbk-agent's hook never saw"});
  EXPECT_EQ(status.last_start, Cest(2026, 6, 1, 21, 0, 5));
}

TEST_F(RefreshTest, SchedulerRunTheHookSawIsNoRunWithoutHook) {
  // The scheduler's UPID is the one the hook recorded: the record decides.
  AddRun(RunAt(Cest(2026, 6, 1, 21, 0, 5), "job-end"));
  facts_.scheduler = Scheduler(
      {{"state", "stopped"}, {"msg", "OK"}, {"upid", UpidAt(Cest(2026, 6, 1, 21, 0, 5))}});
  const JobStatus status = Judge(Cest(2026, 6, 2, 12));
  EXPECT_STATUS(status, JobState::kOk, true, {"last run 2026-06-01 21:00:05 +0200"});
}

TEST_F(RefreshTest, SchedulerCouldNotStartItIsNotStarted) {
  AddRun(RunAt(Cest(2026, 5, 31, 21, 0, 5), "job-end"));
  facts_.scheduler = Scheduler({{"state", "stopped"},
                                {"msg", "unable to activate storage 'pbs1'"},
                                {"time", Cest(2026, 6, 1, 21, 0, 1)}});
  const JobStatus status = Judge(Cest(2026, 6, 2, 12));
  EXPECT_STATUS(
      status, JobState::kNotStarted, false,
      {"the scheduler could not start it at 2026-06-01 21:00:01 +0200: unable to activate "
       "storage 'pbs1'"});
}

TEST_F(RefreshTest, NeverRanAndNothingDueIsNoRunYet) {
  facts_.observed_change = Cest(2026, 6, 2, 9, 5);
  facts_.scheduler = Scheduler({{"state", "created"}, {"time", Cest(2026, 6, 2, 9)}});
  const JobStatus status = Judge(Cest(2026, 6, 2, 12));
  EXPECT_STATUS(status, JobState::kNoRunYet, true,
                {"no run on record yet; next run 2026-06-02 21:00:00 +0200"});
  EXPECT_EQ(status.next_run, Cest(2026, 6, 2, 21));
}

TEST_F(RefreshTest, UnreadableScheduleIsUnknown) {
  job_.schedule = "mon..xyz 21:00";
  AddRun(RunAt(Cest(2026, 6, 1, 21, 0, 5), "job-end"));
  const JobStatus status = Judge(Cest(2026, 6, 2, 12));
  EXPECT_STATUS(status, JobState::kUnknown, false,
                {"cannot tell when the job is due: invalid schedule \"mon..xyz 21:00\": unknown "
                 "weekday \"xyz\""});
}

}  // namespace
}  // namespace pbk
