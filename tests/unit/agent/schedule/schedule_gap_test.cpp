// The longest gaps between runs, and how fast a year of runs is found.
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
using testing::Parse;
using testing::Runs;
using testing::ScopedTimeZone;
using testing::Utc;

TEST(ScheduleGapTest, LongestGapsOverAYear) {
  ScopedTimeZone zone("UTC");
  const int64_t from = Utc(2026, 1, 1);
  const int64_t to = from + 366 * 86400;
  const struct {
    const char* schedule;
    const char* longest;
    const char* gap_start;  // local (UTC here)
  } kRows[] = {
      {"daily", "24h 00m", "Thu 2026-01-01 00:00:00 UTC"},
      {"21:00", "24h 00m", "Thu 2026-01-01 21:00:00 UTC"},
      {"mon..fri 21:00", "3d 00h", "Fri 2026-01-02 21:00:00 UTC"},
      {"weekly", "7d 00h", "Mon 2026-01-05 00:00:00 UTC"},
      {"monthly", "31d 00h", "Thu 2026-01-01 00:00:00 UTC"},
      {"6,18:00", "12h 00m", "Thu 2026-01-01 06:00:00 UTC"},
      {"Sat *-1..7 15:00", "35d 00h", "Sat 2026-01-03 15:00:00 UTC"},
      {"*/5", "5m", "Thu 2026-01-01 00:00:00 UTC"},
      {"mon..fri 8..17,22:0/15", "2d 09h 15m", "Fri 2026-01-02 22:45:00 UTC"},
      {"quarterly", "92d 00h", "Wed 2026-07-01 00:00:00 UTC"},
  };
  for (const auto& row : kRows) {
    SCOPED_TRACE(row.schedule);
    const ScheduleGap gap = LongestGap(Parse(row.schedule), from, to);
    EXPECT_EQ(FormatGap(gap.longest), row.longest);
    EXPECT_EQ(Local(gap.gap_start), row.gap_start);
    EXPECT_EQ(gap.gap_end - gap.gap_start, gap.longest);
    EXPECT_GE(gap.first_run, from);
    EXPECT_LE(gap.last_run, to);
  }
}

TEST(ScheduleGapTest, LongestGapsInBerlinIncludeTheChanges) {
  ScopedTimeZone zone("Europe/Berlin");
  const int64_t from = Utc(2026, 1, 1);
  const int64_t to = from + 366 * 86400;
  EXPECT_EQ(FormatGap(LongestGap(Parse("daily"), from, to).longest), "1d 01h");
  EXPECT_EQ(FormatGap(LongestGap(Parse("mon..fri 21:00"), from, to).longest), "3d 01h");
  EXPECT_EQ(FormatGap(LongestGap(Parse("02:30"), from, to).longest), "1d 23h");
  EXPECT_EQ(FormatGap(LongestGap(Parse("*/5"), from, to).longest), "1h 05m");
  EXPECT_EQ(FormatGap(LongestGap(Parse("weekly"), from, to).longest), "7d 01h");
}

TEST(ScheduleGapTest, FewRunsSaySo) {
  ScopedTimeZone zone("UTC");
  const int64_t from = Utc(2026, 1, 1);
  const int64_t to = Utc(2027, 1, 1);
  ScheduleGap gap = LongestGap(Parse("2015-10-21"), from, to);
  EXPECT_EQ(gap.runs, 0);
  EXPECT_EQ(gap.longest, 0);

  gap = LongestGap(Parse("2026-06-01 12:00"), from, to);
  EXPECT_EQ(gap.runs, 1);
  EXPECT_EQ(gap.first_run, Utc(2026, 6, 1, 12));
  EXPECT_EQ(gap.last_run, gap.first_run);
  EXPECT_EQ(gap.longest, 0);

  // Both ends are part of the range.
  gap = LongestGap(Parse("daily"), Utc(2026, 1, 1), Utc(2026, 1, 3));
  EXPECT_EQ(gap.runs, 3);
  gap = LongestGap(Parse("daily"), Utc(2026, 1, 1) + 1, Utc(2026, 1, 3) - 1);
  EXPECT_EQ(gap.runs, 1);
  EXPECT_EQ(LongestGap(Parse("daily"), to, from).runs, 0);  // an empty range
}

TEST(ScheduleGapTest, FormatGapReadsAtAGlance) {
  EXPECT_EQ(FormatGap(0), "0s");
  EXPECT_EQ(FormatGap(-5), "0s");
  EXPECT_EQ(FormatGap(45), "45s");
  EXPECT_EQ(FormatGap(300), "5m");
  EXPECT_EQ(FormatGap(330), "5m 30s");
  EXPECT_EQ(FormatGap(5400), "1h 30m");
  EXPECT_EQ(FormatGap(84600), "23h 30m");
  EXPECT_EQ(FormatGap(86400), "24h 00m");
  EXPECT_EQ(FormatGap(86401), "1d 00h 00m 01s");
  EXPECT_EQ(FormatGap(90000), "1d 01h");
  EXPECT_EQ(FormatGap(169200), "1d 23h");
  EXPECT_EQ(FormatGap(3 * 86400), "3d 00h");
  EXPECT_EQ(FormatGap(3 * 86400 + 1800), "3d 00h 30m");
}

// --- Speed ------------------------------------------------------------------

TEST(ScheduleGapTest, AYearOfEveryMinuteAndEverySecond) {
  // Not a timing assertion: finishing is the test. Runs are counted by days,
  // and NextRun jumps over what cannot match.
  ScopedTimeZone zone("UTC");
  const CalendarEvent every_minute = Parse("*");
  ScheduleGap gap = LongestGap(every_minute, Utc(2027, 1, 1), Utc(2028, 1, 1) - 1);
  EXPECT_EQ(gap.runs, 525600);
  EXPECT_EQ(gap.longest, 60);
  gap = LongestGap(every_minute, Utc(2028, 1, 1), Utc(2029, 1, 1) - 1);  // a leap year
  EXPECT_EQ(gap.runs, 527040);
  gap = LongestGap(Parse("*:*:*"), Utc(2028, 1, 1), Utc(2029, 1, 1) - 1);
  EXPECT_EQ(gap.runs, 527040 * 60);
  EXPECT_EQ(gap.longest, 1);

  // And one run at a time for a month.
  int64_t runs = 0;
  for (auto run = NextRun(every_minute, Utc(2028, 2, 1) - 1); run && *run < Utc(2028, 3, 1);
       run = NextRun(every_minute, *run)) {
    ++runs;
  }
  EXPECT_EQ(runs, 29 * 1440);
}

}  // namespace
}  // namespace pbk
