#include "agent/monitor_advice.h"

#include <gtest/gtest.h>
#include <time.h>

#include <string>

#include "agent/schedule/runs.h"
#include "tests/support/test_time.h"

namespace pbk {
namespace {

using testing::ScopedTimeZone;
using testing::Utc;

constexpr int64_t kHour = 3600;
constexpr int64_t kDay = 24 * kHour;

BackupJob Job(const std::string& schedule) {
  BackupJob job;
  job.id = "backup-1";
  job.type = "vzdump";
  job.schedule = schedule;
  return job;
}

// The coming year from 1 October 2026 holds both of Europe/Berlin's changes:
// back to CET on 25 October 2026, forward to CEST on 28 March 2027.
class MonitorAdviceTest : public ::testing::Test {
 protected:
  ScopedTimeZone zone_{"Europe/Berlin"};
  const int64_t now_ = Utc(2026, 10, 1);
};

TEST_F(MonitorAdviceTest, DailyJobGapIsLongestOnTheNightTheClockGoesBack) {
  MonitorAdvice advice = AdviseMonitor(Job("21:00"), now_, std::nullopt, 60);
  EXPECT_EQ(advice.runs_in_year, 366);
  // 24 October 21:00 CEST to 25 October 21:00 CET.
  EXPECT_EQ(advice.longest_gap, 25 * kHour);
  EXPECT_EQ(advice.gap_start, Utc(2026, 10, 24, 19));
  EXPECT_EQ(advice.gap_end, Utc(2026, 10, 25, 20));
  ASSERT_TRUE(advice.next_run);
  EXPECT_EQ(*advice.next_run, Utc(2026, 10, 1, 19));
  EXPECT_FALSE(advice.run_seen);
  EXPECT_EQ(advice.interval, 26 * kHour);
  EXPECT_TRUE(advice.problem.empty()) << advice.problem;
}

TEST_F(MonitorAdviceTest, WeekdaysJobNeedsTheWeekendGapAndTheLongestRun) {
  // Friday 21:00 to Monday 21:00, over the weekend the clock goes back: 73 h.
  MonitorAdvice advice = AdviseMonitor(Job("mon..fri 21:00"), now_, 2 * kHour, 60);
  EXPECT_EQ(advice.longest_gap, 73 * kHour);
  EXPECT_EQ(advice.gap_start, Utc(2026, 10, 23, 19));
  EXPECT_EQ(advice.gap_end, Utc(2026, 10, 26, 20));
  EXPECT_TRUE(advice.run_seen);
  EXPECT_EQ(advice.longest_run, 2 * kHour);
  EXPECT_EQ(advice.interval, 76 * kHour);
  EXPECT_EQ(FormatInterval(advice.interval), "3d 04h (273600 s)");
}

TEST_F(MonitorAdviceTest, WeeklyJobAtASkippedTimeLosesARunUnderPvescheduler) {
  // 02:30 does not exist on 28 March 2027: pvescheduler runs nothing that
  // Sunday, so the monitor must wait two weeks less the lost hour.
  MonitorAdvice advice = AdviseMonitor(Job("sun 02:30"), now_, std::nullopt, 60);
  EXPECT_EQ(advice.longest_gap, 14 * kDay - kHour);
  EXPECT_EQ(advice.gap_start, Utc(2027, 3, 21, 1, 30));
  EXPECT_EQ(advice.gap_end, Utc(2027, 4, 4, 0, 30));
  EXPECT_EQ(advice.interval, 14 * kDay);
}

TEST_F(MonitorAdviceTest, LegacyCronJobRunsAfterTheJumpInstead) {
  // cron runs it at 03:00 CEST that Sunday; the longest gap is then the
  // week the clock goes back.
  BackupJob job = Job("sun 02:30");
  job.type.clear();
  job.id = "0123456789abcdef0123456789abcdef01234567:1";
  MonitorAdvice advice = AdviseMonitor(job, now_, std::nullopt, 60);
  EXPECT_EQ(advice.longest_gap, 7 * kDay + kHour);
  EXPECT_EQ(advice.gap_start, Utc(2026, 10, 25, 0, 30));
  EXPECT_EQ(advice.gap_end, Utc(2026, 11, 1, 1, 30));
}

TEST_F(MonitorAdviceTest, SeveralRunsADayWaitOvernight) {
  MonitorAdvice advice = AdviseMonitor(Job("8..20/4:00"), now_, 10 * 60, 30);
  EXPECT_EQ(advice.runs_in_year, 4 * 366);
  // 24 October 20:00 CEST to 25 October 08:00 CET.
  EXPECT_EQ(advice.longest_gap, 13 * kHour);
  EXPECT_EQ(advice.interval, 13 * kHour + 10 * 60 + 30 * 60);
}

TEST_F(MonitorAdviceTest, MonthlyJobPausesLongerThanKumaAllows) {
  MonitorAdvice advice = AdviseMonitor(Job("monthly"), now_, std::nullopt, 60);
  EXPECT_EQ(advice.runs_in_year, 12);
  EXPECT_EQ(advice.longest_gap, 31 * kDay + kHour);
  EXPECT_TRUE(advice.beyond_kuma_max);
  EXPECT_GT(advice.interval, kKumaMaxIntervalSeconds);
  EXPECT_NE(advice.problem.find("longer than the 24 days Kuma allows"), std::string::npos)
      << advice.problem;
}

TEST_F(MonitorAdviceTest, YearlyJobHasTheGapToTheYearAfter) {
  MonitorAdvice advice = AdviseMonitor(Job("yearly"), now_, std::nullopt, 60);
  EXPECT_EQ(advice.runs_in_year, 1);
  EXPECT_EQ(advice.gap_start, Utc(2026, 12, 31, 23));
  EXPECT_EQ(advice.gap_end, Utc(2027, 12, 31, 23));
  EXPECT_EQ(advice.longest_gap, 365 * kDay);
  EXPECT_TRUE(advice.beyond_kuma_max);
}

TEST_F(MonitorAdviceTest, AJobThatRunsOnceGetsNoInterval) {
  MonitorAdvice advice = AdviseMonitor(Job("2026-12-24 10:00"), now_, std::nullopt, 60);
  ASSERT_TRUE(advice.next_run);
  EXPECT_EQ(advice.interval, 0);
  EXPECT_EQ(advice.problem, "the schedule runs the job once and never again");
  advice = AdviseMonitor(Job("2025-12-24 10:00"), now_, std::nullopt, 60);
  EXPECT_FALSE(advice.next_run);
  EXPECT_EQ(advice.problem, "the schedule never runs the job again");
}

TEST_F(MonitorAdviceTest, DisabledJobsAndJobsWithoutScheduleGetNoInterval) {
  BackupJob job = Job("21:00");
  job.enabled = false;
  MonitorAdvice advice = AdviseMonitor(job, now_, std::nullopt, 60);
  EXPECT_EQ(advice.interval, 0);
  EXPECT_EQ(advice.problem, "the job is disabled: it runs only when started by hand");
  advice = AdviseMonitor(Job(""), now_, std::nullopt, 60);
  EXPECT_EQ(advice.interval, 0);
  EXPECT_EQ(advice.problem, "the job has no schedule: it runs only when started by hand");
}

TEST_F(MonitorAdviceTest, AnInvalidScheduleIsNamed) {
  MonitorAdvice advice = AdviseMonitor(Job("mon..xyz 21:00"), now_, std::nullopt, 60);
  EXPECT_EQ(advice.interval, 0);
  EXPECT_FALSE(advice.schedule_error.empty());
  EXPECT_EQ(advice.problem, advice.schedule_error);
  EXPECT_NE(advice.problem.find("xyz"), std::string::npos) << advice.problem;
}

TEST_F(MonitorAdviceTest, TheIntervalIsInWholeMinutesRoundedUp) {
  // In UTC: local time repeats an hour when the clock goes back, and the
  // runs in it happen once.
  MonitorAdvice advice = AdviseMonitor(Job("*:*:0/5 UTC"), now_, std::nullopt, 0);
  EXPECT_EQ(advice.longest_gap, 5);
  EXPECT_EQ(advice.interval, 60);
  advice = AdviseMonitor(Job("21:00"), now_, 1, 60);
  EXPECT_EQ(advice.interval, 26 * kHour + 60);
  EXPECT_GE(advice.interval, kKumaMinIntervalSeconds);
}

TEST(LongestRunPerJobTest, TakesTheLongestFinishedRunOfEachJob) {
  auto run = [](const std::string& job, int64_t first, int64_t start, int64_t end,
                const std::string& phase) {
    RunRecord record;
    record.job_id = job;
    record.first_ms = first;
    record.job_start_ms = start;
    record.end_ms = end;
    record.end_phase = phase;
    return record;
  };
  const std::vector<RunRecord> runs = {
      run("a", 1000, 1000, 61000, "job-end"),       // 60 s
      run("a", 5000, 0, 3605000, "job-abort"),      // 3600 s, from the first phase
      run("a", 9000, 9000, 0, ""),                  // still running: not counted
      run("b", 2000, 2000, 2500, "job-end"),        // 0.5 s, rounded up
      run("", 1000, 1000, 999999999, "job-end")};   // job unknown: not counted
  const auto longest = LongestRunPerJob(runs);
  ASSERT_EQ(longest.size(), 2u);
  EXPECT_EQ(longest.at("a"), 3600);
  EXPECT_EQ(longest.at("b"), 1);
}

}  // namespace
}  // namespace pbk
