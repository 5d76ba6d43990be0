// PVE calendar events, the `schedule` of a backup job in jobs.cfg: the set
// of local times at which a job runs. When they run is in runs.h; legacy
// vzdump.cron lines are read by cron_schedule.h.
#pragma once

#include <bitset>
#include <string>

namespace pbk {

// What a scheduled local time that the clock skips turns into (runs.h).
// A legacy job's schedule as job_files gives it ("sat 01:00") parses as a
// calendar event; cron runs it, so set kRunAfterJump on it (or parse the
// cron fields with ParseCronSchedule).
enum class SkippedTimeRule {
  kNoRun,         // pvescheduler and systemd: no run
  kRunAfterJump,  // cron, fixed minute and hour: one run right after the jump
};

// A parsed schedule: the set of local times at which it runs. A run needs
// every field to match; bit N of a field stands for the value N.
struct CalendarEvent {
  static constexpr int kFirstYear = 1970;
  static constexpr int kLastYear = 2199;  // PVE and systemd read years up to 2199

  std::bitset<60> seconds;
  std::bitset<60> minutes;
  std::bitset<24> hours;
  std::bitset<32> days;     // days of the month, 1-31
  std::bitset<13> months;   // 1-12
  std::bitset<7> weekdays;  // 0 = Sunday, as in struct tm
  // Bit N: the year kFirstYear + N.
  std::bitset<kLastYear - kFirstYear + 1> years;
  bool any_year = true;  // no year given, so every year (years is then unused)
  bool utc = false;      // the schedule ended in "UTC"
  SkippedTimeRule skipped_time = SkippedTimeRule::kNoRun;

  bool operator==(const CalendarEvent& other) const;
  bool operator!=(const CalendarEvent& other) const { return !(*this == other); }
};

// Parses a PVE calendar event (a job's `schedule`):
//   [WEEKDAYS] [[YEARS-]MONTHS-DAYS] [HOURS:MINUTES[:SECONDS]] [UTC]
// or one of minutely, hourly, daily, weekly, monthly, yearly, annually,
// quarterly, semiannually, semi-annually. Weekdays are names (mon or monday)
// in lists and ".." ranges; numbers come as lists of values, "a..b" ranges,
// "a/step" and "a..b/step" repetitions and "*" or "*/step"; a time without
// ":" is minutes of every hour. Keywords are case-insensitive; blanks around
// and between the parts are ignored as PVE ignores them. On error returns
// false and sets ERR to e.g.
//   invalid schedule "mon..xyz 21:00": unknown weekday "xyz"
bool ParseCalendarEvent(const std::string& text, CalendarEvent* event, std::string* err);

}  // namespace pbk
