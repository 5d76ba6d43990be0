// ParseCalendarEvent on arbitrary text (and, when the text is three words,
// ParseCronSchedule on them); a schedule that parses must give runs that
// match it, strictly later each time, and a LongestGap over seven days that
// agrees with walking the same runs one NextRun at a time. Europe/Berlin and
// start times just before both changes of 2026, so that every input meets a
// skipped and a repeated hour. The work per input is bounded: at most a week
// of runs is walked, and NextRun's own search ends after 400 years.
//
// Stand-alone (no fuzz_common.h, whose logging this target does not need),
// so that it also builds with one clang command, from the top folder:
//   clang++ -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -I.
//     tests/fuzz/fuzz_calendar.cpp agent/schedule/*.cpp agent/core/text.cpp
#include <time.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "agent/schedule/calendar_event.h"
#include "agent/schedule/cron_schedule.h"
#include "agent/schedule/runs.h"

namespace {

// As pbk_fuzz::Violated: run_fuzzer.sh looks for this line.
[[noreturn]] void Violated(const std::string& what, const std::string& input) {
  std::fprintf(stderr, "INVARIANT VIOLATED: %s (schedule of %zu bytes)\n", what.c_str(),
               input.size());
  std::fflush(stderr);
  std::abort();
}

constexpr int64_t kDay = 86400;
// Thursday 2026-03-26 12:00 UTC and Thursday 2026-10-22 12:00 UTC: the week
// after each holds a change of Berlin's offset.
constexpr int64_t kStarts[] = {1774526400, 1792670400};
// Walking runs one at a time is compared with LongestGap up to this many.
constexpr int64_t kMaxWalk = 400;

// Whether the local time of INSTANT is one the event names.
bool Matches(const pbk::CalendarEvent& event, int64_t instant) {
  const time_t t = static_cast<time_t>(instant);
  struct tm tm {};
  if ((event.utc ? gmtime_r(&t, &tm) : localtime_r(&t, &tm)) == nullptr) return false;
  const int year = tm.tm_year + 1900;
  if (!event.any_year) {
    if (year < pbk::CalendarEvent::kFirstYear || year > pbk::CalendarEvent::kLastYear) return false;
    if (!event.years[static_cast<size_t>(year - pbk::CalendarEvent::kFirstYear)]) return false;
  }
  return event.months[static_cast<size_t>(tm.tm_mon + 1)] &&
         event.days[static_cast<size_t>(tm.tm_mday)] &&
         event.weekdays[static_cast<size_t>(tm.tm_wday)] &&
         event.hours[static_cast<size_t>(tm.tm_hour)] &&
         event.minutes[static_cast<size_t>(tm.tm_min)] &&
         event.seconds[static_cast<size_t>(tm.tm_sec)];
}

void Check(const pbk::CalendarEvent& event, const std::string& input) {
  if (event.seconds.none() || event.minutes.none() || event.hours.none() || event.days.none() ||
      event.months.none() || event.weekdays.none() || (!event.any_year && event.years.none())) {
    Violated("a field that matches nothing", input);
  }
  // Skipped local times move cron's runs to the jump, where they do not match.
  const bool exact = event.skipped_time == pbk::SkippedTimeRule::kNoRun;
  for (int64_t start : kStarts) {
    const int64_t end = start + 7 * kDay;
    // Run by run through the week (and one beyond it).
    std::vector<int64_t> runs;
    int64_t after = start - 1;
    for (;;) {
      auto next = pbk::NextRun(event, after);
      if (!next) break;
      if (*next <= after) Violated("NextRun did not move forward", input);
      if (exact && !Matches(event, *next)) Violated("a run the schedule does not name", input);
      if (*next > end || static_cast<int64_t>(runs.size()) == kMaxWalk) break;
      runs.push_back(*next);
      after = *next;
    }
    const pbk::ScheduleGap gap = pbk::LongestGap(event, start, end);
    if (gap.runs < 0 || gap.longest < 0) Violated("a negative count or gap", input);
    if (gap.runs < 2 && (gap.longest != 0 || gap.gap_start != 0 || gap.gap_end != 0)) {
      Violated("a gap with fewer than two runs", input);
    }
    if (gap.runs >= 1 &&
        (gap.first_run < start || gap.last_run > end || gap.first_run > gap.last_run)) {
      Violated("first or last run outside the range", input);
    }
    if (gap.runs >= 2) {
      if (gap.longest <= 0 || gap.gap_end - gap.gap_start != gap.longest ||
          gap.gap_start < gap.first_run || gap.gap_end > gap.last_run ||
          gap.longest > gap.last_run - gap.first_run ||
          gap.longest * (gap.runs - 1) < gap.last_run - gap.first_run) {
        Violated("an inconsistent gap", input);
      }
      if (pbk::NextRun(event, gap.gap_start) != gap.gap_end) {
        Violated("the runs around the longest gap are not consecutive", input);
      }
    }
    if (static_cast<int64_t>(runs.size()) < kMaxWalk) {
      if (gap.runs != static_cast<int64_t>(runs.size())) {
        Violated("LongestGap counts " + std::to_string(gap.runs) + " runs, NextRun walks " +
                     std::to_string(runs.size()),
                 input);
      }
      int64_t longest = 0;
      for (size_t i = 1; i < runs.size(); ++i) longest = std::max(longest, runs[i] - runs[i - 1]);
      if (longest != gap.longest) Violated("LongestGap and NextRun disagree on the gap", input);
      if (!runs.empty() && (runs.front() != gap.first_run || runs.back() != gap.last_run)) {
        Violated("LongestGap and NextRun disagree on the first or last run", input);
      }
    }
  }
}

// Messages quote the input; whatever it holds, they must stay one printable line.
void CheckMessage(const std::string& err, const char* prefix, const std::string& input) {
  if (err.rfind(prefix, 0) != 0) Violated("an error without its prefix: " + err, input);
  for (char c : err) {
    const unsigned char byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte >= 0x7F) {
      Violated("an error with a raw control or non-ASCII byte", input);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  setenv("TZ", "Europe/Berlin", 1);
  tzset();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  pbk::CalendarEvent event;
  std::string err;
  if (pbk::ParseCalendarEvent(text, &event, &err)) {
    Check(event, text);
  } else {
    CheckMessage(err, "invalid schedule ", text);
  }

  // Three words: the minute, hour and day-of-week fields of a cron line.
  std::vector<std::string> words;
  size_t i = 0;
  while (i < text.size() && words.size() <= 3) {
    while (i < text.size() && text[i] == ' ') ++i;
    const size_t begin = i;
    while (i < text.size() && text[i] != ' ') ++i;
    if (i > begin) words.push_back(text.substr(begin, i - begin));
  }
  if (words.size() == 3) {
    if (pbk::ParseCronSchedule(words[0], words[1], words[2], &event, &err)) {
      Check(event, text);
    } else {
      CheckMessage(err, "invalid cron schedule ", text);
    }
  }
  return 0;
}
