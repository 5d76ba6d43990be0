// When a run is due: daylight saving time, jobs disabled and changed, the
// scheduler's state file alone, and schedules other than daily.
#include "agent/refresh.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "tests/unit/agent/refresh_fixture.h"

namespace pbk {
namespace {

using testing::Cest;
using testing::Config21;
using testing::RefreshTest;
using testing::RunAt;
using testing::Scheduler;
using testing::UpidAt;
using testing::Utc;
using testing::kJobId;

// 29 March 2026: Europe/Berlin jumps from 02:00 CET to 03:00 CEST, so 02:30
// does not exist that night. pvescheduler finds no 02:30 that day and runs
// the job 47 hours after the one before.
TEST_F(RefreshTest, SpringForwardNightHasNoRunForADailyJobInTheSkippedHour) {
  job_.schedule = "02:30";
  facts_.observed_change = Utc(2026, 3, 1);
  AddRun(RunAt(Utc(2026, 3, 28, 1, 30, 5), "job-end"));  // Sat 02:30:05 CET

  // Sun 03:30 CEST, an hour after the 02:30 that never came: not missed.
  JobStatus status = Judge(Utc(2026, 3, 29, 1, 30));
  EXPECT_STATUS(status, JobState::kOk, true,
                {"last run 2026-03-28 02:30:05 +0100", "; next run 2026-03-30 02:30:00 +0200"});
  EXPECT_EQ(status.next_run, Utc(2026, 3, 30, 0, 30));
  status = Judge(Utc(2026, 3, 29, 20));
  EXPECT_STATUS(status, JobState::kOk, true, {"; next run 2026-03-30 02:30:00 +0200"});

  // Mon 03:00 CEST, the grace after Monday's 02:30 gone: that one is missed.
  status = Judge(Utc(2026, 3, 30, 1, 0));
  EXPECT_STATUS(
      status, JobState::kMissed, false,
      {"run due 2026-03-30 02:30:00 +0200 did not start (last run 2026-03-28 02:30:05 +0100: ok)"});
  EXPECT_EQ(status.due, Utc(2026, 3, 30, 0, 30));
}

// 25 October 2026: 03:00 CEST falls back to 02:00 CET, so 02:30 comes twice.
// The job is due once, at the first 02:30 (CEST).
TEST_F(RefreshTest, FallBackNightRunsADailyJobOnceAtTheFirstOfTheTwoTimes) {
  job_.schedule = "02:30";
  facts_.observed_change = Utc(2026, 10, 1);
  AddRun(RunAt(Utc(2026, 10, 24, 0, 30, 5), "job-end"));  // Sat 02:30:05 CEST

  // Half an hour after the first 02:30 (now 02:00 CET): missed.
  JobStatus status = Judge(Utc(2026, 10, 25, 1, 0));
  EXPECT_STATUS(status, JobState::kMissed, false,
                {"run due 2026-10-25 02:30:00 +0200 did not start"});
  EXPECT_EQ(status.due, Utc(2026, 10, 25, 0, 30));

  // It ran at the first 02:30; the second 02:30 (CET) and its grace pass
  // without another run due.
  AddRun(RunAt(Utc(2026, 10, 25, 0, 30, 5), "job-end"));
  status = Judge(Utc(2026, 10, 25, 2, 0));
  EXPECT_STATUS(status, JobState::kOk, true,
                {"last run 2026-10-25 02:30:05 +0200", "; next run 2026-10-26 02:30:00 +0100"});
  EXPECT_EQ(status.next_run, Utc(2026, 10, 26, 1, 30));
}

// A legacy vzdump.cron job runs by cron's rule: a skipped 02:30 runs right
// after the jump, at 03:00 CEST.
TEST_F(RefreshTest, LegacyJobRunsRightAfterTheSkippedHour) {
  job_.id = "5e1f9d0c7a3b2e4d6f8a0b1c2d3e4f5a6b7c8d9e:1";
  job_.type.clear();
  job_.schedule = "02:30";
  ASSERT_TRUE(job_.IsLegacy());
  facts_.job_id = job_.id;
  facts_.observed_change = Utc(2026, 3, 1);
  AddRun(RunAt(Utc(2026, 3, 28, 1, 30, 5), "job-end"));

  JobStatus status = Judge(Utc(2026, 3, 29, 1, 29, 59));
  EXPECT_STATUS(status, JobState::kOk, true, {"last run 2026-03-28 02:30:05 +0100"});
  status = Judge(Utc(2026, 3, 29, 1, 30));
  EXPECT_STATUS(status, JobState::kMissed, false,
                {"run due 2026-03-29 03:00:00 +0200 did not start"});
  EXPECT_EQ(status.due, Utc(2026, 3, 29, 1, 0));
}

// Disabled from 29 May to 2 June 09:00: no run was due while it was off,
// and the first due start after re-enabling is that evening's.
TEST_F(RefreshTest, ReEnabledJobIsNotMissedForTheDaysItWasDisabled) {
  AddRun(RunAt(Cest(2026, 5, 28, 21, 0, 5), "job-end"));
  RefreshMemory memory;
  memory.jobs[kJobId] = ObservedJob{"21:00", false, Cest(2026, 5, 29, 8)};
  EXPECT_TRUE(ObserveJobs({job_}, Cest(2026, 6, 2, 9), &memory));
  facts_.observed_change = memory.jobs.at(kJobId).since;
  EXPECT_EQ(facts_.observed_change, Cest(2026, 6, 2, 9));

  JobStatus status = Judge(Cest(2026, 6, 2, 12));
  EXPECT_STATUS(status, JobState::kOk, true,
                {"last run 2026-05-28 21:00:05 +0200", "; next run 2026-06-02 21:00:00 +0200"});
  EXPECT_EQ(status.last_start, Cest(2026, 6, 2, 9));

  status = Judge(Cest(2026, 6, 2, 21, 30));
  EXPECT_STATUS(status, JobState::kMissed, false,
                {"run due 2026-06-02 21:00:00 +0200 did not start"});

  // Without the observed change the days it was off would count as missed.
  facts_.observed_change = Cest(2026, 5, 1, 9);
  status = Judge(Cest(2026, 6, 2, 12));
  EXPECT_STATUS(status, JobState::kMissed, false,
                {"run due 2026-05-29 21:00:00 +0200 did not start"});
}

// Moved from 21:00 to 03:00 on 2 June at 09:00: pvescheduler counts from the
// change, so the first 03:00 due is 3 June's, not 2 June's.
TEST_F(RefreshTest, ScheduleChangeObservedLaterMovesTheBase) {
  job_.schedule = "03:00";
  AddRun(RunAt(Cest(2026, 6, 1, 21, 0, 5), "job-end"));
  RefreshMemory memory;
  memory.jobs[kJobId] = ObservedJob{"21:00", true, Cest(2026, 5, 1, 9)};
  EXPECT_TRUE(ObserveJobs({job_}, Cest(2026, 6, 2, 9), &memory));
  facts_.observed_change = memory.jobs.at(kJobId).since;

  JobStatus status = Judge(Cest(2026, 6, 2, 12));
  EXPECT_STATUS(status, JobState::kOk, true, {"; next run 2026-06-03 03:00:00 +0200"});
  status = Judge(Cest(2026, 6, 3, 3, 30));
  EXPECT_STATUS(status, JobState::kMissed, false,
                {"run due 2026-06-03 03:00:00 +0200 did not start"});
}

// The node was off from 1 June 20:00 to 2 June 08:00, over the 21:00 start.
// Without repeat-missed pvescheduler writes `updated` when it starts again
// and skips the run; the monitor must still call it missed.
TEST_F(RefreshTest, RunMissedWhileTheNodeWasDownStaysMissedDespiteUpdated) {
  AddRun(RunAt(Cest(2026, 5, 31, 21, 0, 5), "job-end"));
  SchedulerState state;
  std::string err;
  ASSERT_TRUE(ParseSchedulerState(R"({"state":"stopped","msg":"OK","upid":")" +
                                      UpidAt(Cest(2026, 5, 31, 21, 0, 5)) + R"(","updated":)" +
                                      std::to_string(Cest(2026, 6, 2, 8, 0, 31)) +
                                      R"(,"config":{"schedule":"21:00","enabled":1}})",
                                  &state, &err))
      << err;
  EXPECT_EQ(state.LastStart(), Cest(2026, 5, 31, 21, 0, 5));
  facts_.scheduler = state;

  const JobStatus status = Judge(Cest(2026, 6, 2, 9));
  EXPECT_STATUS(
      status, JobState::kMissed, false,
      {"run due 2026-06-01 21:00:00 +0200 did not start (last run 2026-05-31 21:00:05 +0200: ok)"});
  EXPECT_EQ(status.due, Cest(2026, 6, 1, 21));
}

// No run record (the hook was not in place, or its records were pruned):
// the scheduler's state file tells when the job last ran.
TEST_F(RefreshTest, SchedulerStateFileAloneGivesTheLastRunFromTheUpid) {
  facts_.scheduler = Scheduler({{"state", "stopped"},
                                {"msg", "OK"},
                                {"upid", UpidAt(Cest(2026, 5, 31, 21, 0, 5))},
                                {"updated", Cest(2026, 6, 2, 8)},
                                {"config", Config21()}});
  JobStatus status = Judge(Cest(2026, 6, 2, 12));
  EXPECT_STATUS(
      status, JobState::kMissed, false,
      {"run due 2026-06-01 21:00:00 +0200 did not start (last run 2026-05-31 21:00:05 +0200 (by "
       "the scheduler's record))"});
  EXPECT_EQ(status.last_start, Cest(2026, 5, 31, 21, 0, 5));

  // A day later in the file: nothing due, and that run went without the hook.
  facts_.scheduler = Scheduler(
      {{"state", "stopped"}, {"msg", "OK"}, {"upid", UpidAt(Cest(2026, 6, 1, 21, 0, 5))}});
  status = Judge(Cest(2026, 6, 2, 12));
  EXPECT_STATUS(status, JobState::kWithoutHook, false,
                {"the scheduler started a run at 2026-06-01 21:00:05 +0200"});
  EXPECT_EQ(status.last_start, Cest(2026, 6, 1, 21, 0, 5));
}

TEST_F(RefreshTest, SchedulerStateFileAloneGivesTheLastRunFromItsTime) {
  facts_.scheduler =
      Scheduler({{"state", "stopped"}, {"msg", "OK"}, {"time", Cest(2026, 5, 31, 21, 0, 1)}});
  JobStatus status = Judge(Cest(2026, 6, 2, 12));
  EXPECT_STATUS(
      status, JobState::kMissed, false,
      {"run due 2026-06-01 21:00:00 +0200 did not start (last run 2026-05-31 21:00:01 +0200 (by "
       "the scheduler's record))"});

  facts_.scheduler =
      Scheduler({{"state", "stopped"}, {"msg", "OK"}, {"time", Cest(2026, 6, 1, 21, 0, 1)}});
  status = Judge(Cest(2026, 6, 2, 12));
  EXPECT_STATUS(status, JobState::kNotHere, true,
                {"the scheduler ran it at 2026-06-01 21:00:01 +0200"});
  EXPECT_EQ(status.last_start, Cest(2026, 6, 1, 21, 0, 1));
}

// pbk-agent sees the job for the first time now: that sighting is the base,
// so a start due before it is not called missed.
TEST_F(RefreshTest, JobFirstSeenNowCountsFromThatSighting) {
  RefreshMemory memory;
  EXPECT_TRUE(ObserveJobs({job_}, Cest(2026, 6, 2, 12), &memory));
  facts_.observed_change = memory.jobs.at(kJobId).since;
  facts_.scheduler = Scheduler(
      {{"state", "stopped"}, {"msg", "OK"}, {"upid", UpidAt(Cest(2026, 5, 31, 21, 0, 5))}});
  JobStatus status = Judge(Cest(2026, 6, 2, 12));
  EXPECT_STATUS(status, JobState::kWithoutHook, false,
                {"the scheduler started a run at 2026-05-31 21:00:05 +0200"});
  EXPECT_EQ(status.last_start, Cest(2026, 6, 2, 12));

  status = Judge(Cest(2026, 6, 2, 21, 30));
  EXPECT_STATUS(
      status, JobState::kMissed, false,
      {"run due 2026-06-02 21:00:00 +0200 did not start (last run 2026-05-31 21:00:05 +0200 (by "
       "the scheduler's record))"});
}

TEST_F(RefreshTest, WeekdayJobIsNotDueOverTheWeekend) {
  job_.schedule = "mon..fri 21:00";
  AddRun(RunAt(Cest(2026, 6, 5, 21, 0, 5), "job-end"));  // Friday
  JobStatus status = Judge(Cest(2026, 6, 7, 22));        // Sunday night
  EXPECT_STATUS(status, JobState::kOk, true,
                {"last run 2026-06-05 21:00:05 +0200", "; next run 2026-06-08 21:00:00 +0200"});
  status = Judge(Cest(2026, 6, 8, 21, 30));  // Monday
  EXPECT_STATUS(
      status, JobState::kMissed, false,
      {"run due 2026-06-08 21:00:00 +0200 did not start (last run 2026-06-05 21:00:05 +0200: ok)"});
}

TEST_F(RefreshTest, WeeklyJobIsMissedAWeekAfterItsLastRun) {
  job_.schedule = "sun 01:00";
  AddRun(RunAt(Cest(2026, 6, 7, 1, 0, 5), "job-end"));  // Sunday
  JobStatus status = Judge(Cest(2026, 6, 13, 12));      // Saturday
  EXPECT_STATUS(status, JobState::kOk, true,
                {"last run 2026-06-07 01:00:05 +0200", "; next run 2026-06-14 01:00:00 +0200"});
  status = Judge(Cest(2026, 6, 14, 1, 29, 59));
  EXPECT_STATUS(status, JobState::kOk, true, {"last run 2026-06-07 01:00:05 +0200"});
  status = Judge(Cest(2026, 6, 14, 1, 30));
  EXPECT_STATUS(status, JobState::kMissed, false,
                {"run due 2026-06-14 01:00:00 +0200 did not start"});
  EXPECT_EQ(status.due, Cest(2026, 6, 14, 1));
}

TEST_F(RefreshTest, MonthlyJobIsMissedOnTheFirstAfterTheGrace) {
  job_.schedule = "*-01 00:00";
  AddRun(RunAt(Cest(2026, 5, 1, 0, 0, 5), "job-end"));
  JobStatus status = Judge(Cest(2026, 5, 31, 23, 59));
  EXPECT_STATUS(status, JobState::kOk, true,
                {"last run 2026-05-01 00:00:05 +0200", "; next run 2026-06-01 00:00:00 +0200"});
  status = Judge(Cest(2026, 6, 1, 0, 29, 59));
  EXPECT_STATUS(status, JobState::kOk, true, {"last run 2026-05-01 00:00:05 +0200"});
  status = Judge(Cest(2026, 6, 1, 0, 30));
  EXPECT_STATUS(
      status, JobState::kMissed, false,
      {"run due 2026-06-01 00:00:00 +0200 did not start (last run 2026-05-01 00:00:05 +0200: ok)"});
  EXPECT_EQ(status.due, Cest(2026, 6, 1, 0));
}

}  // namespace
}  // namespace pbk
