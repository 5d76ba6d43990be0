// Daylight saving time: the runs PVE gives when the clocks change.
#include "agent/schedule/calendar_event.h"
#include "agent/schedule/cron_schedule.h"
#include "agent/schedule/runs.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/support/test_time.h"
#include "tests/unit/agent/schedule/schedule_test_support.h"

namespace pbk {
namespace {

using testing::Local;
using testing::LocalRuns;
using testing::Parse;
using testing::ScopedTimeZone;
using testing::Utc;
using testing::UtcRuns;
using testing::UtcText;
using Strings = std::vector<std::string>;

TEST(ScheduleDstTest, SpringForwardSkipsTheMissingTimeLikePvescheduler) {
  ScopedTimeZone zone("Europe/Berlin");
  // 2026-03-29 02:00 CET is 03:00 CEST: 02:30 does not exist that night.
  const CalendarEvent daily = Parse("02:30");
  const int64_t from = Utc(2026, 3, 26, 12);
  EXPECT_EQ(UtcRuns(daily, from, 4), (Strings{"2026-03-27T01:30:00Z", "2026-03-28T01:30:00Z",
                                              "2026-03-30T00:30:00Z", "2026-03-31T00:30:00Z"}));
  EXPECT_EQ(LocalRuns("02:30", Utc(2026, 3, 27, 12), 2),
            (Strings{"Sat 2026-03-28 02:30:00 CET", "Mon 2026-03-30 02:30:00 CEST"}));
  ScheduleGap gap = LongestGap(daily, from, Utc(2026, 4, 2));
  EXPECT_EQ(gap.runs, 5);  // 27, 28, 30, 31 March and 1 April
  EXPECT_EQ(FormatGap(gap.longest), "1d 23h");
  EXPECT_EQ(UtcText(gap.gap_start), "2026-03-28T01:30:00Z");
  EXPECT_EQ(UtcText(gap.gap_end), "2026-03-30T00:30:00Z");

  // A daily job outside the gap has a 23-hour day.
  gap = LongestGap(Parse("03:00"), Utc(2026, 3, 28), Utc(2026, 3, 30, 12));
  EXPECT_EQ(gap.runs, 3);
  EXPECT_EQ(gap.longest, 24 * 3600);  // the day after the change
  EXPECT_EQ(UtcRuns(Parse("03:00"), Utc(2026, 3, 28), 3),
            (Strings{"2026-03-28T02:00:00Z", "2026-03-29T01:00:00Z", "2026-03-30T01:00:00Z"}));

  // Every 30 minutes: 01:30 CET, then 03:00 CEST, half an hour later.
  const CalendarEvent half_hourly = Parse("*/30");
  EXPECT_EQ(LocalRuns("*/30", Utc(2026, 3, 28, 23, 45), 6),
            (Strings{"Sun 2026-03-29 01:00:00 CET", "Sun 2026-03-29 01:30:00 CET",
                     "Sun 2026-03-29 03:00:00 CEST", "Sun 2026-03-29 03:30:00 CEST",
                     "Sun 2026-03-29 04:00:00 CEST", "Sun 2026-03-29 04:30:00 CEST"}));
  EXPECT_EQ(UtcRuns(half_hourly, Utc(2026, 3, 29, 0, 15), 3),
            (Strings{"2026-03-29T00:30:00Z", "2026-03-29T01:00:00Z", "2026-03-29T01:30:00Z"}));
  // The local day of 23 hours has 46 runs, all 30 minutes apart.
  gap = LongestGap(half_hourly, Utc(2026, 3, 28, 23), Utc(2026, 3, 29, 22) - 1);
  EXPECT_EQ(gap.runs, 46);
  EXPECT_EQ(gap.longest, 1800);
}

TEST(ScheduleDstTest, FallBackRunsTheRepeatedTimeOnce) {
  ScopedTimeZone zone("Europe/Berlin");
  // 2026-10-25 03:00 CEST is 02:00 CET: 02:00-02:59 happen twice.
  const CalendarEvent daily = Parse("02:30");
  const int64_t from = Utc(2026, 10, 23, 12);
  EXPECT_EQ(UtcRuns(daily, from, 4), (Strings{"2026-10-24T00:30:00Z", "2026-10-25T00:30:00Z",
                                              "2026-10-26T01:30:00Z", "2026-10-27T01:30:00Z"}));
  EXPECT_EQ(LocalRuns("02:30", Utc(2026, 10, 24, 12), 2),
            (Strings{"Sun 2026-10-25 02:30:00 CEST", "Mon 2026-10-26 02:30:00 CET"}));
  ScheduleGap gap = LongestGap(daily, from, Utc(2026, 10, 29));
  EXPECT_EQ(gap.runs, 5);
  EXPECT_EQ(FormatGap(gap.longest), "1d 01h");
  EXPECT_EQ(UtcText(gap.gap_start), "2026-10-25T00:30:00Z");
  EXPECT_EQ(UtcText(gap.gap_end), "2026-10-26T01:30:00Z");

  // Every 30 minutes: 02:00 and 02:30 once (CEST), then 03:00 CET after 90 minutes.
  const CalendarEvent half_hourly = Parse("*/30");
  EXPECT_EQ(LocalRuns("*/30", Utc(2026, 10, 24, 23, 15), 6),
            (Strings{"Sun 2026-10-25 01:30:00 CEST", "Sun 2026-10-25 02:00:00 CEST",
                     "Sun 2026-10-25 02:30:00 CEST", "Sun 2026-10-25 03:00:00 CET",
                     "Sun 2026-10-25 03:30:00 CET", "Sun 2026-10-25 04:00:00 CET"}));
  EXPECT_EQ(UtcRuns(half_hourly, Utc(2026, 10, 24, 23, 45), 4),
            (Strings{"2026-10-25T00:00:00Z", "2026-10-25T00:30:00Z", "2026-10-25T02:00:00Z",
                     "2026-10-25T02:30:00Z"}));
  // The local day of 25 hours still has 48 runs; one pause is 90 minutes.
  gap = LongestGap(half_hourly, Utc(2026, 10, 24, 22), Utc(2026, 10, 25, 23) - 1);
  EXPECT_EQ(gap.runs, 48);
  EXPECT_EQ(FormatGap(gap.longest), "1h 30m");
  EXPECT_EQ(UtcText(gap.gap_start), "2026-10-25T00:30:00Z");
  // From inside the repeated hour the next run is the next new local time.
  EXPECT_EQ(UtcRuns(half_hourly, Utc(2026, 10, 25, 1, 10), 1), (Strings{"2026-10-25T02:00:00Z"}));
}

TEST(ScheduleDstTest, CronRunsTheSkippedTimeRightAfterTheJump) {
  ScopedTimeZone zone("Europe/Berlin");
  CalendarEvent cron;
  std::string err;
  ASSERT_TRUE(ParseCronSchedule("30", "2", "*", &cron, &err)) << err;
  EXPECT_EQ(LocalRuns("02:30", Utc(2026, 3, 27, 12), 1), (Strings{"Sat 2026-03-28 02:30:00 CET"}));
  EXPECT_EQ(UtcRuns(cron, Utc(2026, 3, 27, 12), 3),
            (Strings{"2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"}));
  ScheduleGap gap = LongestGap(cron, Utc(2026, 3, 27, 12), Utc(2026, 3, 30, 12));
  EXPECT_EQ(gap.runs, 3);
  EXPECT_EQ(FormatGap(gap.longest), "23h 30m");
  // In autumn cron, too, runs the repeated 02:30 once.
  gap = LongestGap(cron, Utc(2026, 10, 23, 12), Utc(2026, 10, 29));
  EXPECT_EQ(gap.runs, 5);
  EXPECT_EQ(FormatGap(gap.longest), "1d 01h");
  // A job at 02:00, the first skipped minute, also runs at 03:00 CEST.
  ASSERT_TRUE(ParseCronSchedule("0", "2", "0", &cron, &err)) << err;
  EXPECT_EQ(UtcRuns(cron, Utc(2026, 3, 27), 1), (Strings{"2026-03-29T01:00:00Z"}));
}

TEST(ScheduleDstTest, AYearOfMinutesLosesTheSkippedHour) {
  ScopedTimeZone zone("Europe/Berlin");
  // Local 2027: 525600 minutes, less the hour that does not exist in March;
  // the repeated hour in October runs once.
  const ScheduleGap gap = LongestGap(Parse("*"), Utc(2026, 12, 31, 23), Utc(2027, 12, 31, 23) - 1);
  EXPECT_EQ(gap.runs, 525600 - 60);
  EXPECT_EQ(FormatGap(gap.longest), "1h 01m");  // 02:59 CEST to 03:00 CET
}

TEST(ScheduleDstTest, GapsAgreeWithRunByRunOverTheChanges) {
  // LongestGap counts whole days without visiting their runs; walking every
  // run with NextRun must give the same result, across both changes and in
  // a zone with a half-hour change (Lord Howe) and one that changes at
  // midnight (Santiago).
  for (const char* name : {"Europe/Berlin", "Australia/Lord_Howe", "America/Santiago"}) {
    ScopedTimeZone zone(name);
    for (const char* schedule : {"02:30", "*/30", "0:0", "mon..fri 21:00", "*:15,45:30", "*/7",
                                 "1..3:0/20", "sun 0..4:*"}) {
      SCOPED_TRACE(std::string(name) + " " + schedule);
      const CalendarEvent event = Parse(schedule);
      const int64_t from = Utc(2026, 1, 1) + 12345;
      const int64_t to = Utc(2027, 1, 1);
      const ScheduleGap gap = LongestGap(event, from, to);
      ScheduleGap walked;
      int64_t previous = 0;
      for (auto run = NextRun(event, from - 1); run && *run <= to; run = NextRun(event, *run)) {
        if (walked.runs == 0) {
          walked.first_run = *run;
        } else if (*run - previous > walked.longest) {
          walked.longest = *run - previous;
          walked.gap_start = previous;
          walked.gap_end = *run;
        }
        ++walked.runs;
        walked.last_run = previous = *run;
      }
      EXPECT_EQ(gap.runs, walked.runs);
      EXPECT_EQ(gap.first_run, walked.first_run);
      EXPECT_EQ(gap.last_run, walked.last_run);
      EXPECT_EQ(gap.longest, walked.longest);
      EXPECT_EQ(gap.gap_start, walked.gap_start);
      EXPECT_EQ(gap.gap_end, walked.gap_end);
    }
  }
}

}  // namespace
}  // namespace pbk
