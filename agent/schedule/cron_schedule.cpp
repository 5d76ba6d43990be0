#include "agent/schedule/cron_schedule.h"

#include <algorithm>
#include <optional>
#include <string_view>

#include "agent/core/text.h"
#include "agent/schedule/schedule_text.h"

namespace pbk {

using schedule_text::Field;
using schedule_text::IsDigit;
using schedule_text::kHourField;
using schedule_text::kMinuteField;
using schedule_text::kWeekdayNames;
using schedule_text::Lowercase;
using schedule_text::QuoteInput;
using schedule_text::RangeText;

bool ParseCronSchedule(const std::string& minute, const std::string& hour, const std::string& dow,
                       CalendarEvent* event, std::string* err) {
  auto fail = [&](const std::string& detail) {
    *err =
        "invalid cron schedule " + QuoteInput(minute + " " + hour + " * * " + dow) + ": " + detail;
    return false;
  };
  auto fixed = [&](const std::string& text, const Field& field, size_t* value) {
    const bool digits =
        !text.empty() && text.size() <= 9 && std::all_of(text.begin(), text.end(), IsDigit);
    if (!digits) {
      fail(std::string(field.name) + " " + QuoteInput(text) +
           " is not a number (vzdump.cron lines run at a fixed minute and hour)");
      return false;
    }
    *value = static_cast<size_t>(std::stoul(text));
    if (*value > field.high) {
      fail(std::string(field.name) + " " + text + " is out of range " + RangeText(field));
      return false;
    }
    return true;
  };
  size_t minute_value = 0, hour_value = 0;
  if (!fixed(minute, kMinuteField, &minute_value) || !fixed(hour, kHourField, &hour_value)) {
    return false;
  }

  // Day of week as cron reads it: numbers 0-7 (0 and 7 are Sunday) or
  // names, "*", "a-b", "*/step" and "a-b/step", in comma lists.
  auto day_of = [](std::string_view word) -> std::optional<int> {
    if (word.size() == 1 && word[0] >= '0' && word[0] <= '7') return word[0] - '0';
    const std::string lower = Lowercase(word);
    for (int day = 0; day < 7; ++day) {
      if (lower == kWeekdayNames[day]) return day;
    }
    return std::nullopt;
  };
  const char* const kExpectedDay = " (expected 0-7 or sun..sat)";
  std::bitset<7> weekdays;
  if (dow.empty()) return fail("no day of week (expected e.g. \"*\" or \"mon-fri\")");
  for (const std::string& part : Split(dow, ',')) {
    std::string_view range = part;
    std::optional<int> step;
    const size_t slash = range.find('/');
    if (slash != std::string_view::npos) {
      auto value = ParseUnsigned(range.substr(slash + 1));
      if (!value || *value == 0 || *value > 7) {
        return fail("day-of-week step in " + QuoteInput(part) + " must be 1 to 7");
      }
      step = static_cast<int>(*value);
      range = range.substr(0, slash);
    }
    int first = 0, last = 7;
    if (range != "*") {
      const size_t dash = range.find('-');
      auto from = day_of(range.substr(0, dash));
      if (!from) {
        return fail("unknown day of week " + QuoteInput(range.substr(0, dash)) + kExpectedDay);
      }
      first = last = *from;
      if (dash != std::string_view::npos) {
        auto to = day_of(range.substr(dash + 1));
        if (!to) {
          return fail("unknown day of week " + QuoteInput(range.substr(dash + 1)) + kExpectedDay);
        }
        last = *to;
        if (first > last) {
          // cron rejects it ("num1 > num2"): the line would never run.
          return fail("day-of-week range " + QuoteInput(range) +
                      " is reversed (cron needs the earlier day first, Sunday is 0 or 7)");
        }
      } else if (step) {
        return fail("a step needs a range or \"*\" (" + QuoteInput(part) + ")");
      }
    }
    for (int day = first; day <= last; day += step.value_or(1)) {
      weekdays.set(static_cast<size_t>(day % 7));
    }
  }

  CalendarEvent parsed;
  parsed.seconds.set(0);
  parsed.minutes.set(minute_value);
  parsed.hours.set(hour_value);
  parsed.days.set();
  parsed.days.reset(0);
  parsed.months.set();
  parsed.months.reset(0);
  parsed.weekdays = weekdays;
  parsed.skipped_time = SkippedTimeRule::kRunAfterJump;
  *event = parsed;
  return true;
}

}  // namespace pbk
