#include "agent/schedule/runs.h"

#include <algorithm>
#include <spdlog/fmt/fmt.h>

#include "agent/schedule/civil_time.h"

namespace pbk {

namespace {

// Instants outside 1970 .. 9999 are not searched.
constexpr int64_t kEarliest = 0;
constexpr int64_t kLatest = 253402300799;  // 9999-12-31 23:59:59 UTC
// The Gregorian calendar repeats after 400 years of 146097 days: what has
// not matched by then never will.
constexpr int64_t kSearchDays = 146097 + 2;

template <size_t N>
int NextBit(const std::bitset<N>& bits, size_t from) {
  for (size_t i = from; i < N; ++i) {
    if (bits[i]) return static_cast<int>(i);
  }
  return -1;
}

// The first day >= DAY (days since 1970-01-01, local) whose date matches, up
// to LAST_DAY. Jumps over whole years and months that cannot match.
std::optional<int64_t> NextMatchingDay(const CalendarEvent& event, int64_t day, int64_t last_day) {
  while (day <= last_day) {
    const Civil date = CivilFromDays(day);
    if (!event.any_year) {
      if (date.year > CalendarEvent::kLastYear) return std::nullopt;
      if (date.year < CalendarEvent::kFirstYear) {
        day = DaysFromCivil(CalendarEvent::kFirstYear, 1, 1);
        continue;
      }
      const size_t index = static_cast<size_t>(date.year - CalendarEvent::kFirstYear);
      if (!event.years[index]) {
        int next = NextBit(event.years, index + 1);
        if (next < 0) return std::nullopt;
        day = DaysFromCivil(CalendarEvent::kFirstYear + next, 1, 1);
        continue;
      }
    }
    if (!event.months[static_cast<size_t>(date.month)]) {
      int next = NextBit(event.months, static_cast<size_t>(date.month) + 1);
      day = next < 0 ? DaysFromCivil(date.year + 1, 1, 1) : DaysFromCivil(date.year, next, 1);
      continue;
    }
    if (!event.days[static_cast<size_t>(date.day)]) {
      int next = NextBit(event.days, static_cast<size_t>(date.day) + 1);
      if (next > 0 && next <= DaysInMonth(date.year, date.month)) {
        day = DaysFromCivil(date.year, date.month, next);
      } else {
        day = date.month == 12 ? DaysFromCivil(date.year + 1, 1, 1)
                               : DaysFromCivil(date.year, date.month + 1, 1);
      }
      continue;
    }
    if (!event.weekdays[static_cast<size_t>(WeekdayOf(day))]) {
      ++day;
      continue;
    }
    return day;
  }
  return std::nullopt;
}

// The first second of the day >= TOD (seconds since local midnight) that
// matches the hours, minutes and seconds.
std::optional<int64_t> NextTimeOfDay(const CalendarEvent& event, int64_t tod) {
  if (tod < 0) tod = 0;
  if (tod >= kSecondsPerDay) return std::nullopt;
  size_t hour = static_cast<size_t>(tod / 3600);
  size_t minute = static_cast<size_t>(tod / 60 % 60);
  size_t second = static_cast<size_t>(tod % 60);
  for (;;) {
    if (hour >= 24) return std::nullopt;
    if (!event.hours[hour]) {
      int next = NextBit(event.hours, hour + 1);
      if (next < 0) return std::nullopt;
      hour = static_cast<size_t>(next);
      minute = 0;
      second = 0;
      continue;
    }
    if (minute >= 60 || !event.minutes[minute]) {
      int next = minute >= 60 ? -1 : NextBit(event.minutes, minute + 1);
      if (next < 0) {
        ++hour;
        minute = 0;
      } else {
        minute = static_cast<size_t>(next);
      }
      second = 0;
      continue;
    }
    int next = NextBit(event.seconds, second);
    if (next < 0) {
      ++minute;
      second = 0;
      continue;
    }
    return static_cast<int64_t>(hour * 3600 + minute * 60) + next;
  }
}

// The first run on local day DAY whose local time of day is >= START_TOD and
// whose instant is after AFTER.
std::optional<int64_t> NextRunOnDay(const CalendarEvent& event, const DayClock& clock, int64_t day,
                                    int64_t start_tod, int64_t after) {
  const int64_t midnight = day * kSecondsPerDay;
  int64_t tod = start_tod;
  while (tod < kSecondsPerDay) {
    auto match = NextTimeOfDay(event, tod);
    if (!match) return std::nullopt;
    const DayClock::Mapping mapping = clock.Map(midnight + *match);
    if (mapping.exists) {
      if (mapping.instant > after) return mapping.instant;
      tod = *match + 1;  // a second occurrence, or before AFTER
    } else {
      if (event.skipped_time == SkippedTimeRule::kRunAfterJump && mapping.instant > after) {
        return mapping.instant;
      }
      tod = std::max(*match + 1, mapping.resume_local - midnight);
    }
  }
  return std::nullopt;
}

// Runs on a day without offset change, as seconds since local midnight.
struct DayProfile {
  int64_t count = 0;
  int64_t first = 0;
  int64_t last = 0;
  int64_t longest = 0;        // the longest pause between two runs of the day
  int64_t longest_start = 0;  // and the run it follows
};

DayProfile ProfileOf(const CalendarEvent& event) {
  DayProfile profile;
  int64_t tod = 0;
  while (auto match = NextTimeOfDay(event, tod)) {
    if (profile.count == 0) {
      profile.first = *match;
    } else if (*match - profile.last > profile.longest) {
      profile.longest = *match - profile.last;
      profile.longest_start = profile.last;
    }
    profile.last = *match;
    ++profile.count;
    tod = *match + 1;
  }
  return profile;
}

}  // namespace

std::optional<int64_t> NextRun(const CalendarEvent& event, int64_t after_epoch_seconds) {
  int64_t after = after_epoch_seconds;
  if (after >= kLatest) return std::nullopt;
  if (after < kEarliest) after = kEarliest - 1;
  const int64_t local_after = after + UtcOffsetAt(after, event.utc);
  int64_t day = FloorDiv(local_after, kSecondsPerDay);
  // A run after AFTER has a local time after AFTER's, whatever the clock did.
  int64_t start_tod = local_after - day * kSecondsPerDay + 1;
  int64_t last_day = std::min(day + kSearchDays, FloorDiv(kLatest, kSecondsPerDay));
  if (!event.any_year) {
    last_day = std::min(last_day, DaysFromCivil(CalendarEvent::kLastYear + 1, 1, 1));
  }
  for (;;) {
    auto match = NextMatchingDay(event, day, last_day);
    if (!match) return std::nullopt;
    if (*match != day) start_tod = 0;
    day = *match;
    const DayClock clock(day, event.utc);
    if (auto run = NextRunOnDay(event, clock, day, start_tod, after)) return run;
    ++day;
    start_tod = 0;
  }
}

ScheduleGap LongestGap(const CalendarEvent& event, int64_t from, int64_t to) {
  ScheduleGap gap;
  from = std::max(from, kEarliest);
  to = std::min(to, kLatest);
  if (to < from) return gap;

  std::optional<int64_t> previous;
  auto record = [&](int64_t run) {
    if (!previous) {
      gap.first_run = run;
    } else if (run - *previous > gap.longest) {
      gap.longest = run - *previous;
      gap.gap_start = *previous;
      gap.gap_end = run;
    }
    ++gap.runs;
    gap.last_run = run;
    previous = run;
  };

  const DayProfile profile = ProfileOf(event);
  int64_t day = FloorDiv(from + UtcOffsetAt(from, event.utc), kSecondsPerDay);
  // A run at or before TO can have a later local time than TO when the clock
  // went back in between, by less than a day.
  const int64_t last_day = FloorDiv(to + UtcOffsetAt(to, event.utc), kSecondsPerDay) + 1;
  for (;;) {
    auto match = NextMatchingDay(event, day, last_day);
    if (!match) break;
    day = *match;
    const int64_t midnight = day * kSecondsPerDay;
    const DayClock clock(day, event.utc);
    const int64_t offset = clock.FirstOffset();
    if (clock.Regular() && midnight - offset >= from &&
        midnight + kSecondsPerDay - 1 - offset <= to) {
      // The whole day inside the range, one offset all day: its runs are
      // known without visiting them.
      record(midnight + profile.first - offset);
      if (profile.longest > gap.longest) {
        gap.longest = profile.longest;
        gap.gap_start = midnight + profile.longest_start - offset;
        gap.gap_end = gap.gap_start + profile.longest;
      }
      gap.runs += profile.count - 1;
      gap.last_run = midnight + profile.last - offset;
      previous = gap.last_run;
    } else {
      int64_t after = previous ? *previous : from - 1;
      bool past_end = false;
      for (;;) {
        const int64_t start_tod = std::max<int64_t>(0, clock.LocalOf(after) - midnight + 1);
        auto run = NextRunOnDay(event, clock, day, start_tod, after);
        if (!run) break;
        if (*run > to) {
          past_end = true;
          break;
        }
        record(*run);
        after = *run;
      }
      if (past_end) break;
    }
    ++day;
  }
  return gap;
}

std::string FormatGap(int64_t seconds) {
  if (seconds < 0) seconds = 0;
  auto two_digits = [](int64_t n) { return fmt::format("{:02}", n); };
  const int64_t minutes = seconds / 60 % 60;
  const int64_t rest = seconds % 60;
  std::string out;
  if (seconds > kSecondsPerDay) {
    out = std::to_string(seconds / kSecondsPerDay) + "d " + two_digits(seconds / 3600 % 24) + "h";
    if (minutes != 0 || rest != 0) out += " " + two_digits(minutes) + "m";
  } else if (seconds >= 3600) {
    out = std::to_string(seconds / 3600) + "h " + two_digits(minutes) + "m";
  } else if (seconds >= 60) {
    out = std::to_string(minutes) + "m";
  } else {
    return std::to_string(rest) + "s";
  }
  if (rest != 0) out += " " + two_digits(rest) + "s";
  return out;
}

}  // namespace pbk
