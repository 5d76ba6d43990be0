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

using testing::LocalRuns;
using testing::Parse;
using testing::Runs;
using testing::ScopedTimeZone;
using testing::Utc;
using testing::UtcRuns;
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
