#include "agent/schedule/schedule.h"

#include <gtest/gtest.h>
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <regex>
#include <string>
#include <vector>

#include "tests/support/test_time.h"

namespace pbk {
namespace {

using testing::ScopedTimeZone;
using testing::Utc;

// "Sun 2026-03-29 03:00:00 CEST": the local time with its zone, as a person reads it.
std::string Local(int64_t instant) {
  const time_t t = static_cast<time_t>(instant);
  struct tm local {};
  localtime_r(&t, &local);
  char buffer[64];
  strftime(buffer, sizeof buffer, "%a %Y-%m-%d %H:%M:%S %Z", &local);
  return buffer;
}

std::string UtcText(int64_t instant) {
  const time_t t = static_cast<time_t>(instant);
  struct tm utc {};
  gmtime_r(&t, &utc);
  char buffer[32];
  strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buffer;
}

CalendarEvent Parse(const std::string& text) {
  CalendarEvent event;
  std::string err;
  EXPECT_TRUE(ParseCalendarEvent(text, &event, &err)) << err;
  return event;
}

std::vector<int64_t> Runs(const CalendarEvent& event, int64_t after, size_t count) {
  std::vector<int64_t> runs;
  while (runs.size() < count) {
    auto next = NextRun(event, after);
    if (!next) break;
    EXPECT_GT(*next, after);
    runs.push_back(*next);
    after = *next;
  }
  return runs;
}

std::vector<std::string> LocalRuns(const std::string& schedule, int64_t after, size_t count) {
  std::vector<std::string> out;
  for (int64_t run : Runs(Parse(schedule), after, count)) out.push_back(Local(run));
  return out;
}

std::vector<std::string> UtcRuns(const CalendarEvent& event, int64_t after, size_t count) {
  std::vector<std::string> out;
  for (int64_t run : Runs(event, after, count)) out.push_back(UtcText(run));
  return out;
}

using Strings = std::vector<std::string>;

// --- The documentation's examples ------------------------------------------

TEST(ScheduleTest, DocumentationAlternativesGiveTheSameRuns) {
  const struct {
    const char* schedule;
    const char* alternative;
  } kRows[] = {
      {"mon,tue,wed,thu,fri", "mon..fri"},
      {"sat,sun", "sat..sun"},
      {"*/5", "0/5"},
      {"mon..wed 30/10", "mon,tue,wed 30/10"},
      {"fri 12..13:5/20", "fri 12,13:5/20"},
      {"12,14,16,18,20,22:5", "12/2:5"},
      {"*", "*/1"},
  };
  ScopedTimeZone zone("Europe/Berlin");
  // From before the night the clocks go forward, so that it is part of it.
  for (int64_t base : {Utc(2026, 3, 27), Utc(2026, 10, 20)}) {
    for (const auto& row : kRows) {
      SCOPED_TRACE(std::string(row.schedule) + " / " + row.alternative);
      const CalendarEvent event = Parse(row.schedule);
      EXPECT_EQ(event, Parse(row.alternative));
      const auto runs = Runs(event, base, 50);
      EXPECT_EQ(runs.size(), 50u);
      EXPECT_EQ(runs, Runs(Parse(row.alternative), base, 50));
    }
  }
}

TEST(ScheduleTest, DocumentationWeekdayRowsMeanWhatTheySay) {
  ScopedTimeZone zone("UTC");
  // 2026-01-01 is a Thursday; the runs from Friday noon.
  const int64_t friday_noon = Utc(2026, 1, 2, 12);
  EXPECT_EQ(LocalRuns("mon,tue,wed,thu,fri", friday_noon, 6),
            (Strings{"Mon 2026-01-05 00:00:00 UTC", "Tue 2026-01-06 00:00:00 UTC",
                     "Wed 2026-01-07 00:00:00 UTC", "Thu 2026-01-08 00:00:00 UTC",
                     "Fri 2026-01-09 00:00:00 UTC", "Mon 2026-01-12 00:00:00 UTC"}));
  EXPECT_EQ(LocalRuns("sat,sun", friday_noon, 4),
            (Strings{"Sat 2026-01-03 00:00:00 UTC", "Sun 2026-01-04 00:00:00 UTC",
                     "Sat 2026-01-10 00:00:00 UTC", "Sun 2026-01-11 00:00:00 UTC"}));
  EXPECT_EQ(LocalRuns("mon,wed,fri", friday_noon, 4),
            (Strings{"Mon 2026-01-05 00:00:00 UTC", "Wed 2026-01-07 00:00:00 UTC",
                     "Fri 2026-01-09 00:00:00 UTC", "Mon 2026-01-12 00:00:00 UTC"}));
}

TEST(ScheduleTest, DocumentationTimeRowsMeanWhatTheySay) {
  ScopedTimeZone zone("UTC");
  const int64_t new_year = Utc(2026, 1, 1);
  EXPECT_EQ(LocalRuns("12:05", new_year, 3),
            (Strings{"Thu 2026-01-01 12:05:00 UTC", "Fri 2026-01-02 12:05:00 UTC",
                     "Sat 2026-01-03 12:05:00 UTC"}));

  // Every five minutes: 288 a day, 300 seconds apart, on the minute.
  auto five = Runs(Parse("*/5"), new_year - 1, 288 * 2);
  ASSERT_EQ(five.size(), 576u);
  for (size_t i = 0; i < five.size(); ++i) EXPECT_EQ(five[i], new_year + 300 * int64_t(i));

  // Every minute.
  auto minutes = Runs(Parse("*"), new_year, 60);
  ASSERT_EQ(minutes.size(), 60u);
  for (size_t i = 0; i < minutes.size(); ++i) EXPECT_EQ(minutes[i], new_year + 60 * int64_t(i + 1));

  // 12:05 to 22:05 every two hours.
  EXPECT_EQ(LocalRuns("12,14,16,18,20,22:5", new_year, 7),
            (Strings{"Thu 2026-01-01 12:05:00 UTC", "Thu 2026-01-01 14:05:00 UTC",
                     "Thu 2026-01-01 16:05:00 UTC", "Thu 2026-01-01 18:05:00 UTC",
                     "Thu 2026-01-01 20:05:00 UTC", "Thu 2026-01-01 22:05:00 UTC",
                     "Fri 2026-01-02 12:05:00 UTC"}));
}

TEST(ScheduleTest, DocumentationRepetitionRowsMeanWhatTheySay) {
  ScopedTimeZone zone("UTC");
  const int64_t sunday_night = Utc(2026, 1, 4, 23, 59, 59);  // before Monday 2026-01-05

  // Mon-Wed at 30, 40 and 50 minutes past every hour: 3 x 24 x 3 runs, then
  // nothing until the next Monday.
  std::vector<int64_t> expected;
  for (int day = 5; day <= 7; ++day) {
    for (int hour = 0; hour < 24; ++hour) {
      for (int minute : {30, 40, 50}) expected.push_back(Utc(2026, 1, day, hour, minute));
    }
  }
  expected.push_back(Utc(2026, 1, 12, 0, 30));
  EXPECT_EQ(Runs(Parse("mon..wed 30/10"), sunday_night, expected.size()), expected);

  // Working days every 15 minutes 8:00-17:45 and 22:00-22:45.
  expected.clear();
  for (int day = 5; day <= 9; ++day) {
    for (int hour = 8; hour <= 22; ++hour) {
      if (hour > 17 && hour < 22) continue;
      for (int minute = 0; minute < 60; minute += 15) {
        expected.push_back(Utc(2026, 1, day, hour, minute));
      }
    }
  }
  expected.push_back(Utc(2026, 1, 12, 8, 0));
  EXPECT_EQ(Runs(Parse("mon..fri 8..17,22:0/15"), sunday_night, expected.size()), expected);

  // Friday 12:05, 12:25, 12:45, 13:05, 13:25, 13:45 and nothing else.
  EXPECT_EQ(LocalRuns("fri 12..13:5/20", sunday_night, 7),
            (Strings{"Fri 2026-01-09 12:05:00 UTC", "Fri 2026-01-09 12:25:00 UTC",
                     "Fri 2026-01-09 12:45:00 UTC", "Fri 2026-01-09 13:05:00 UTC",
                     "Fri 2026-01-09 13:25:00 UTC", "Fri 2026-01-09 13:45:00 UTC",
                     "Fri 2026-01-16 12:05:00 UTC"}));
}

TEST(ScheduleTest, DocumentationDateRowsMeanWhatTheySay) {
  ScopedTimeZone zone("UTC");
  const int64_t new_year = Utc(2026, 1, 1);
  EXPECT_EQ(LocalRuns("*-05", new_year, 3),
            (Strings{"Mon 2026-01-05 00:00:00 UTC", "Thu 2026-02-05 00:00:00 UTC",
                     "Thu 2026-03-05 00:00:00 UTC"}));
  // The first Saturday of each month, at 15:00.
  EXPECT_EQ(LocalRuns("Sat *-1..7 15:00", new_year, 13),
            (Strings{"Sat 2026-01-03 15:00:00 UTC", "Sat 2026-02-07 15:00:00 UTC",
                     "Sat 2026-03-07 15:00:00 UTC", "Sat 2026-04-04 15:00:00 UTC",
                     "Sat 2026-05-02 15:00:00 UTC", "Sat 2026-06-06 15:00:00 UTC",
                     "Sat 2026-07-04 15:00:00 UTC", "Sat 2026-08-01 15:00:00 UTC",
                     "Sat 2026-09-05 15:00:00 UTC", "Sat 2026-10-03 15:00:00 UTC",
                     "Sat 2026-11-07 15:00:00 UTC", "Sat 2026-12-05 15:00:00 UTC",
                     "Sat 2027-01-02 15:00:00 UTC"}));
  // Once, and only before it.
  EXPECT_EQ(LocalRuns("2015-10-21", Utc(2015, 1, 1), 5), (Strings{"Wed 2015-10-21 00:00:00 UTC"}));
  EXPECT_EQ(NextRun(Parse("2015-10-21"), new_year), std::nullopt);
}

// --- The special values and the finer points of the syntax -----------------

TEST(ScheduleTest, SpecialValuesAreTheirSpelledOutSchedules) {
  const struct {
    const char* special;
    const char* spelled;
  } kSpecials[] = {
      {"minutely", "*-*-* *:*:00"},
      {"hourly", "*-*-* *:00:00"},
      {"daily", "*-*-* 00:00:00"},
      {"weekly", "mon *-*-* 00:00:00"},
      {"monthly", "*-*-01 00:00:00"},
      {"yearly", "*-01-01 00:00:00"},
      {"annually", "*-01-01 00:00:00"},
      {"quarterly", "*-01,04,07,10-01 00:00:00"},
      {"semiannually", "*-01,07-01 00:00:00"},
      {"semi-annually", "*-01,07-01 00:00:00"},
  };
  for (const auto& row : kSpecials) {
    SCOPED_TRACE(row.special);
    EXPECT_EQ(Parse(row.special), Parse(row.spelled));
  }

  ScopedTimeZone zone("UTC");
  const int64_t after = Utc(2026, 2, 18, 10, 20, 30);  // a Wednesday
  EXPECT_EQ(LocalRuns("minutely", after, 2),
            (Strings{"Wed 2026-02-18 10:21:00 UTC", "Wed 2026-02-18 10:22:00 UTC"}));
  EXPECT_EQ(LocalRuns("hourly", after, 2),
            (Strings{"Wed 2026-02-18 11:00:00 UTC", "Wed 2026-02-18 12:00:00 UTC"}));
  EXPECT_EQ(LocalRuns("daily", after, 2),
            (Strings{"Thu 2026-02-19 00:00:00 UTC", "Fri 2026-02-20 00:00:00 UTC"}));
  EXPECT_EQ(LocalRuns("weekly", after, 2),
            (Strings{"Mon 2026-02-23 00:00:00 UTC", "Mon 2026-03-02 00:00:00 UTC"}));
  EXPECT_EQ(LocalRuns("monthly", after, 2),
            (Strings{"Sun 2026-03-01 00:00:00 UTC", "Wed 2026-04-01 00:00:00 UTC"}));
  for (const char* yearly : {"yearly", "annually"}) {
    EXPECT_EQ(LocalRuns(yearly, after, 2),
              (Strings{"Fri 2027-01-01 00:00:00 UTC", "Sat 2028-01-01 00:00:00 UTC"}));
  }
  EXPECT_EQ(LocalRuns("quarterly", after, 4),
            (Strings{"Wed 2026-04-01 00:00:00 UTC", "Wed 2026-07-01 00:00:00 UTC",
                     "Thu 2026-10-01 00:00:00 UTC", "Fri 2027-01-01 00:00:00 UTC"}));
  for (const char* half : {"semiannually", "semi-annually"}) {
    EXPECT_EQ(LocalRuns(half, after, 2),
              (Strings{"Wed 2026-07-01 00:00:00 UTC", "Fri 2027-01-01 00:00:00 UTC"}));
  }
}

TEST(ScheduleTest, KeywordsIgnoreCaseAndBlanksAreTolerated) {
  EXPECT_EQ(Parse("DAILY"), Parse("daily"));
  EXPECT_EQ(Parse("Semi-Annually"), Parse("semiannually"));
  EXPECT_EQ(Parse("Mon..FRI 21:00"), Parse("mon..fri 21:00"));
  EXPECT_EQ(Parse("monday,Wednesday"), Parse("mon,wed"));
  EXPECT_EQ(Parse(" \t mon..fri \t  21:00 \n"), Parse("mon..fri 21:00"));
  EXPECT_EQ(Parse("sat   *-1..7\t15:00"), Parse("Sat *-1..7 15:00"));
  // proxmox-time needs no blank between the parts at all.
  EXPECT_EQ(Parse("mon12:00"), Parse("mon 12:00"));
  // Leading zeros, seconds, and hours that default to 00:00:00.
  EXPECT_EQ(Parse("08:05"), Parse("8:5:0"));
  EXPECT_EQ(Parse("mon"), Parse("mon 0:0"));
  EXPECT_EQ(Parse("*-05"), Parse("*-*-05 00:00:00"));
}

TEST(ScheduleTest, ReversedWeekdayRangeWrapsAroundSundayAsInPve) {
  // proxmox-time reads "fri..mon" as Friday to Monday; numbers may not run
  // backwards (see the error table).
  EXPECT_EQ(Parse("fri..mon 12:00"), Parse("fri,sat,sun,mon 12:00"));
  EXPECT_EQ(Parse("sun..sat"), Parse("mon..sun"));
  EXPECT_EQ(Parse("mon..mon"), Parse("mon"));
}

TEST(ScheduleTest, SecondsYearsAndUtc) {
  ScopedTimeZone zone("Europe/Berlin");
  const int64_t new_year = Utc(2026, 1, 1);
  EXPECT_EQ(LocalRuns("12:05:30", new_year, 1), (Strings{"Thu 2026-01-01 12:05:30 CET"}));
  EXPECT_EQ(LocalRuns("*:0:0/20", new_year, 3),
            (Strings{"Thu 2026-01-01 01:00:20 CET", "Thu 2026-01-01 01:00:40 CET",
                     "Thu 2026-01-01 02:00:00 CET"}));
  // "UTC" at the end: read in UTC whatever the node's zone.
  EXPECT_EQ(UtcRuns(Parse("daily UTC"), new_year, 2),
            (Strings{"2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z"}));
  EXPECT_EQ(UtcRuns(Parse("mon..fri 21:00 UTC"), new_year, 1), (Strings{"2026-01-01T21:00:00Z"}));
  // Years: lists, ranges and repetitions; the last year that can be named is 2199.
  EXPECT_EQ(LocalRuns("2027,2029-06-01 12:00", new_year, 3),
            (Strings{"Tue 2027-06-01 12:00:00 CEST", "Fri 2029-06-01 12:00:00 CEST"}));
  EXPECT_EQ(LocalRuns("2030..2031-*/6-01", new_year, 5),
            (Strings{"Tue 2030-01-01 00:00:00 CET", "Mon 2030-07-01 00:00:00 CEST",
                     "Wed 2031-01-01 00:00:00 CET", "Tue 2031-07-01 00:00:00 CEST"}));
  EXPECT_EQ(LocalRuns("*/100-01-01", new_year, 2), (Strings{"Fri 2100-01-01 00:00:00 CET"}));
}

TEST(ScheduleTest, NoRunWithinTheSearchGivesNothing) {
  ScopedTimeZone zone("Europe/Berlin");
  const int64_t now = Utc(2026, 11, 23, 12);
  EXPECT_EQ(NextRun(Parse("*-02-30"), now), std::nullopt);
  EXPECT_EQ(NextRun(Parse("*-04-31 12:00"), now), std::nullopt);
  EXPECT_EQ(NextRun(Parse("2015-10-21"), now), std::nullopt);
  EXPECT_EQ(NextRun(Parse("2199-12-31 23:59"), Utc(2199, 12, 31, 23)), std::nullopt);
  // Rare but real: a Monday 29 February.
  EXPECT_EQ(LocalRuns("mon *-02-29", now, 2),
            (Strings{"Mon 2044-02-29 00:00:00 CET", "Mon 2072-02-29 00:00:00 CET"}));
  // Times far away end the search instead of overflowing.
  EXPECT_EQ(NextRun(Parse("*"), INT64_MAX), std::nullopt);
  EXPECT_EQ(NextRun(Parse("*"), INT64_MIN), 0);  // 1970-01-01 01:00 CET
}

// --- Legacy vzdump.cron times ----------------------------------------------

TEST(ScheduleTest, CronFieldsAsCronReadsThem) {
  CalendarEvent cron;
  std::string err;
  ASSERT_TRUE(ParseCronSchedule("30", "2", "1-5", &cron, &err)) << err;
  CalendarEvent calendar = Parse("mon..fri 02:30");
  EXPECT_EQ(cron.skipped_time, SkippedTimeRule::kRunAfterJump);
  calendar.skipped_time = SkippedTimeRule::kRunAfterJump;
  EXPECT_EQ(cron, calendar);

  const struct {
    const char* dow;
    const char* same_as;
  } kDays[] = {
      {"*", "02:30"},
      {"mon-fri", "mon..fri 02:30"},
      {"MON,wed,Fri", "mon,wed,fri 02:30"},
      {"0", "sun 02:30"},
      {"7", "sun 02:30"},
      {"5-7", "fri..sun 02:30"},
      {"*/2", "sun,tue,thu,sat 02:30"},
      {"1-5/2", "mon,wed,fri 02:30"},
      {"sat,sun", "sat,sun 02:30"},
  };
  for (const auto& row : kDays) {
    SCOPED_TRACE(row.dow);
    ASSERT_TRUE(ParseCronSchedule("30", "02", row.dow, &cron, &err)) << err;
    calendar = Parse(row.same_as);
    calendar.skipped_time = SkippedTimeRule::kRunAfterJump;
    EXPECT_EQ(cron, calendar);
  }
}

// --- Daylight saving time ---------------------------------------------------

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

// --- systemd-analyze as an independent oracle --------------------------------

std::string RunCommand(const std::string& command) {
  std::string output;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return output;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, n);
  pclose(pipe);
  return output;
}

// The UTC instants systemd-analyze prints for each of EXPRESSIONS, in order:
// a block per expression starts with "Normalized form:", and of its lines
// "Next elapse:", "Iter. #k:" and their "(in UTC):" lines exactly one per run
// ends in "UTC". One process for all expressions, as spawning one for each
// made this test take seconds.
std::vector<std::vector<int64_t>> SystemdRuns(const char* zone,
                                              const std::vector<std::string>& expressions,
                                              int64_t base, int iterations, std::string* output) {
  std::string command = "TZ=" + std::string(zone) + " systemd-analyze calendar --base-time=@" +
                        std::to_string(base) + " --iterations=" + std::to_string(iterations);
  for (const std::string& expression : expressions) command += " '" + expression + "'";
  *output = RunCommand(command + " 2>&1");
  static const std::regex kLine(
      R"((Next elapse|Iter\. #\d+|\(in UTC\)): \w+ (\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d) UTC$)");
  std::vector<std::vector<int64_t>> runs;
  size_t start = 0;
  while (start < output->size()) {
    size_t end = output->find('\n', start);
    if (end == std::string::npos) end = output->size();
    const std::string line = output->substr(start, end - start);
    std::smatch m;
    if (line.find("Normalized form:") != std::string::npos) {
      runs.emplace_back();
    } else if (!runs.empty() && std::regex_search(line, m, kLine)) {
      runs.back().push_back(Utc(std::stoi(m[2]), std::stoi(m[3]), std::stoi(m[4]), std::stoi(m[5]),
                                std::stoi(m[6]), std::stoi(m[7])));
    }
    start = end + 1;
  }
  return runs;
}

TEST(ScheduleOracleTest, RunsMatchSystemdAnalyze) {
  if (RunCommand("command -v systemd-analyze").empty()) {
    GTEST_SKIP() << "systemd-analyze is not installed: no oracle to compare with";
  }
  if (RunCommand("systemd-analyze calendar --help 2>&1").find("--base-time") == std::string::npos) {
    GTEST_SKIP() << "this systemd-analyze has no --base-time (systemd < 247): it can only "
                    "compute from 'now', which makes its output unrepeatable";
  }
  // PVE schedule -> the same schedule in systemd's spelling. systemd has no
  // time without ":" (PVE's minutes of every hour: "*/5" is "*:0/5") and no
  // weekday range that wraps around Sunday ("fri..mon"), so those are
  // respelled; everything else in this list systemd reads as PVE does. Not
  // compared: what only one of them has (PVE's "a/0", which this parser
  // rejects; systemd's "~" days, time zone names, fractions of seconds) and
  // schedules so sparse that 120 runs pass 2199, where systemd stops.
  const struct {
    const char* pve;
    const char* systemd;
  } kSchedules[] = {
      {"mon..fri 21:00", "Mon..Fri *-*-* 21:00:00"},
      {"mon,tue,wed,thu,fri", "mon,tue,wed,thu,fri"},
      {"sat..sun", "Sat..Sun"},
      {"mon,wed,fri", "mon,wed,fri"},
      {"12:05", "12:05"},
      {"*/5", "*:0/5"},
      {"0/5", "*:0/5"},
      {"mon..wed 30/10", "Mon..Wed *:30/10"},
      {"mon..fri 8..17,22:0/15", "mon..fri 8..17,22:0/15"},
      {"fri 12..13:5/20", "fri 12..13:5/20"},
      {"12,14,16,18,20,22:5", "12,14,16,18,20,22:5"},
      {"12/2:5", "12/2:5"},
      {"*", "*:*"},
      {"*-05", "*-05"},
      {"Sat *-1..7 15:00", "Sat *-1..7 15:00"},
      {"2015-10-21", "2015-10-21"},
      {"minutely", "minutely"},
      {"hourly", "hourly"},
      {"daily", "daily"},
      {"weekly", "weekly"},
      {"monthly", "monthly"},
      {"quarterly", "quarterly"},
      {"semiannually", "semiannually"},
      {"yearly", "yearly"},
      {"02:30", "02:30"},
      {"*/30", "*:0/30"},
      {"2:*", "2:*"},
      {"1..3:15", "1..3:15"},
      {"6,18:00", "6,18:00"},
      {"sun 02:00", "Sun 02:00"},
      {"*:*:0/20", "*:*:0/20"},
      {"fri..mon 12:00", "Fri,Sat,Sun,Mon 12:00"},
      {"daily UTC", "daily UTC"},
      {"2026..2027-1..3-* 6:00", "2026..2027-1..3-* 6:00"},
      {"*-*-1/3 0:0", "*-*-1/3 0:0"},
      {"annually", "annually"},
      {"semi-annually", "semi-annually"},
      {"*:*:*", "*:*:*"},
      {"Mon..Fri *-1..7 9..17:0/15", "Mon..Fri *-1..7 9..17:0/15"},
      // The nights of the changes in Europe: the last Sunday of March and October.
      {"sun *-3,10-25..31 *:0/30", "Sun *-3,10-25..31 *:0/30"},
  };
  constexpr int kIterations = 120;
  // A new year's start, and the evenings before both changes of 2026.
  const int64_t kBases[] = {Utc(2026, 1, 1), Utc(2026, 3, 28, 20), Utc(2026, 10, 24, 20)};
  std::vector<std::string> expressions;
  for (const auto& row : kSchedules) expressions.push_back(row.systemd);
  int compared = 0;
  for (const char* name : {"Europe/Berlin", "UTC", "America/New_York"}) {
    ScopedTimeZone zone(name);
    for (int64_t base : kBases) {
      std::string output;
      const auto expected = SystemdRuns(name, expressions, base, kIterations, &output);
      ASSERT_EQ(output.find("Failed to parse"), std::string::npos) << output;
      ASSERT_EQ(expected.size(), expressions.size()) << output;
      for (size_t i = 0; i < expected.size(); ++i) {
        SCOPED_TRACE(std::string(name) + " '" + kSchedules[i].pve + "' from " + UtcText(base));
        // Fewer runs only for a schedule that ends; none for "2015-10-21".
        EXPECT_EQ(expected[i].empty(), std::string(kSchedules[i].pve) == "2015-10-21");
        EXPECT_EQ(Runs(Parse(kSchedules[i].pve), base, kIterations), expected[i]);
        compared += static_cast<int>(expected[i].size());
      }
    }
  }
  RecordProperty("runs_compared", compared);
  EXPECT_GT(compared, 30000);
}

// --- Longest gaps -----------------------------------------------------------

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

// --- Errors -------------------------------------------------------------------

TEST(ScheduleErrorTest, MalformedSchedulesAreRejectedWithTheirReason) {
  const struct {
    std::string schedule;
    const char* error;
  } kRows[] = {
      {"", R"(invalid schedule "": empty (expected e.g. "mon..fri 21:00" or "daily"))"},
      {" \t ", R"(invalid schedule " \x09 ": empty (expected e.g. "mon..fri 21:00" or "daily"))"},
      {"25:00", R"(invalid schedule "25:00": hour 25 is out of range (0-23))"},
      {"12:60", R"(invalid schedule "12:60": minute 60 is out of range (0-59))"},
      {"12:00:60", R"(invalid schedule "12:00:60": second 60 is out of range (0-59))"},
      {"mon..",
       R"(invalid schedule "mon..": weekday range "mon.." has no end (expected e.g. "mon..fri"))"},
      {"..fri",
       R"(invalid schedule "..fri": unexpected "..fri" (expected a weekday, a date or a time))"},
      {"mon..xyz 21:00", R"(invalid schedule "mon..xyz 21:00": unknown weekday "xyz")"},
      {"mon,",
       R"(invalid schedule "mon,": expected a weekday right after "mon," (lists take no blanks))"},
      {"mon, tue",
       R"(invalid schedule "mon, tue": expected a weekday right after "mon," (lists take no blanks))"},
      {"mon mon",
       R"(invalid schedule "mon mon": unexpected "mon" after the weekdays (expected a date or a time))"},
      {"12:00 mon",
       R"(invalid schedule "12:00 mon": unexpected "mon" after the time (expected the end: the time comes last))"},
      {"*/0", R"(invalid schedule "*/0": repetition "*/0" has step 0 (expected 1 or more))"},
      {"1/0", R"(invalid schedule "1/0": repetition "1/0" has step 0 (expected 1 or more))"},
      {"0/60", R"(invalid schedule "0/60": minute step 60 is out of range (1-59))"},
      {"13..12:00",
       R"(invalid schedule "13..12:00": hour range "13..12" is reversed (its start is after its end))"},
      {"8..:00", R"(invalid schedule "8..:00": range "8.." has no end (expected e.g. "8..17"))"},
      {"12:", R"(invalid schedule "12:": nothing after "12:" (expected a number or "*"))"},
      {"12:5/", R"(invalid schedule "12:5/": expected a step right after "5/")"},
      {"*,5", R"(invalid schedule "*,5": "*" cannot be part of a list ("*,5"))"},
      {"2015-13-01", R"(invalid schedule "2015-13-01": month 13 is out of range (1-12))"},
      {"*-02-32", R"(invalid schedule "*-02-32": day 32 is out of range (1-31))"},
      {"*-0-1", R"(invalid schedule "*-0-1": month 0 is out of range (1-12))"},
      {"1969-01-01", R"(invalid schedule "1969-01-01": year 1969 is out of range (1970-2199))"},
      {"*/1500-01-01", R"(invalid schedule "*/1500-01-01": no year (1970-2199) matches "*/1500")"},
      {"2015-10-21-1",
       R"(invalid schedule "2015-10-21-1": unexpected "-1" after the date (expected a time))"},
      {"foo",
       R"(invalid schedule "foo": unknown word "foo" (expected a weekday such as "mon" or a special value such as "daily"))"},
      {"dialy",
       R"(invalid schedule "dialy": unknown word "dialy" (expected a weekday such as "mon" or a special value such as "daily") (did you mean "daily"?))"},
      {"daily 12:00",
       R"(invalid schedule "daily 12:00": the special value "daily" takes nothing after it)"},
      {"UTC", R"(invalid schedule "UTC": nothing before "UTC" (expected e.g. "daily UTC"))"},
      {"12.5",
       R"(invalid schedule "12.5": unexpected ".5" after the time (expected the end: the time comes last))"},
      {std::string("12:00\0x", 7),
       R"(invalid schedule "12:00\x00x": unexpected "\x00x" after the time (expected the end: the time comes last))"},
      {std::string("\0", 1),
       R"(invalid schedule "\x00": unexpected "\x00" (expected a weekday, a date or a time))"},
      {"mon\xC3\xA4",
       R"(invalid schedule "mon\xC3\xA4": unexpected "\xC3\xA4" after the weekdays (expected a date or a time))"},
      {std::string(129, '1'),
       R"(invalid schedule "11111111111111111111111111111111...": 129 characters long (PVE allows at most 128))"},
  };
  for (const auto& row : kRows) {
    CalendarEvent event;
    std::string err;
    EXPECT_FALSE(ParseCalendarEvent(row.schedule, &event, &err)) << row.schedule;
    EXPECT_EQ(err, row.error);
  }
  // 128 characters are allowed.
  CalendarEvent event;
  std::string err;
  EXPECT_TRUE(ParseCalendarEvent(std::string(124, ' ') + "mon" + " ", &event, &err)) << err;
}

TEST(ScheduleErrorTest, MalformedCronFieldsAreRejectedWithTheirReason) {
  const struct {
    const char* minute;
    const char* hour;
    const char* dow;
    const char* error;
  } kRows[] = {
      {"60", "2", "*", R"(invalid cron schedule "60 2 * * *": minute 60 is out of range (0-59))"},
      {"0", "24", "*", R"(invalid cron schedule "0 24 * * *": hour 24 is out of range (0-23))"},
      {"*/5", "2", "*",
       R"(invalid cron schedule "*/5 2 * * *": minute "*/5" is not a number (vzdump.cron lines run at a fixed minute and hour))"},
      {"0", "", "*",
       R"(invalid cron schedule "0  * * *": hour "" is not a number (vzdump.cron lines run at a fixed minute and hour))"},
      {"0", "0", "",
       R"(invalid cron schedule "0 0 * * ": no day of week (expected e.g. "*" or "mon-fri"))"},
      {"0", "0", "8",
       R"(invalid cron schedule "0 0 * * 8": unknown day of week "8" (expected 0-7 or sun..sat))"},
      {"0", "0", "mon,,tue",
       R"(invalid cron schedule "0 0 * * mon,,tue": unknown day of week "" (expected 0-7 or sun..sat))"},
      {"0", "0", "fri-mon",
       R"(invalid cron schedule "0 0 * * fri-mon": day-of-week range "fri-mon" is reversed (cron needs the earlier day first, Sunday is 0 or 7))"},
      {"0", "0", "1/2",
       R"(invalid cron schedule "0 0 * * 1/2": a step needs a range or "*" ("1/2"))"},
      {"0", "0", "*/0",
       R"(invalid cron schedule "0 0 * * */0": day-of-week step in "*/0" must be 1 to 7)"},
  };
  for (const auto& row : kRows) {
    CalendarEvent event;
    std::string err;
    EXPECT_FALSE(ParseCronSchedule(row.minute, row.hour, row.dow, &event, &err)) << row.dow;
    EXPECT_EQ(err, row.error);
  }
}

}  // namespace
}  // namespace pbk
