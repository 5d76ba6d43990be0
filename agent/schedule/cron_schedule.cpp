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

namespace {

// A minute or hour of a vzdump.cron line: one number in FIELD's range.
bool ParseFixed(const std::string& text, const Field& field, size_t* value, std::string* detail) {
  const bool digits =
      !text.empty() && text.size() <= 9 && std::all_of(text.begin(), text.end(), IsDigit);
  if (!digits) {
    *detail = std::string(field.name) + " " + QuoteInput(text) +
              " is not a number (vzdump.cron lines run at a fixed minute and hour)";
    return false;
  }
  *value = static_cast<size_t>(std::stoul(text));
  if (*value > field.high) {
    *detail = std::string(field.name) + " " + text + " is out of range " + RangeText(field);
    return false;
  }
  return true;
}

// Numbers 0-7 (0 and 7 are Sunday) or names.
std::optional<int> DayOf(std::string_view word) {
  if (word.size() == 1 && word[0] >= '0' && word[0] <= '7') return word[0] - '0';
  const std::string lower = Lowercase(word);
  for (int day = 0; day < 7; ++day) {
    if (lower == kWeekdayNames[day]) return day;
  }
  return std::nullopt;
}

// One item of the day-of-week list: a day, "*", "a-b", "*/step" or "a-b/step".
bool ParseDayItem(const std::string& part, std::bitset<7>* weekdays, std::string* detail) {
  const char* const kExpectedDay = " (expected 0-7 or sun..sat)";
  std::string_view range = part;
  std::optional<int> step;
  const size_t slash = range.find('/');
  if (slash != std::string_view::npos) {
    auto value = ParseUnsigned(range.substr(slash + 1));
    if (!value || *value == 0 || *value > 7) {
      *detail = "day-of-week step in " + QuoteInput(part) + " must be 1 to 7";
      return false;
    }
    step = static_cast<int>(*value);
    range = range.substr(0, slash);
  }
  int first = 0, last = 7;
  if (range != "*") {
    const size_t dash = range.find('-');
    auto from = DayOf(range.substr(0, dash));
    if (!from) {
      *detail = "unknown day of week " + QuoteInput(range.substr(0, dash)) + kExpectedDay;
      return false;
    }
    first = last = *from;
    if (dash != std::string_view::npos) {
      auto to = DayOf(range.substr(dash + 1));
      if (!to) {
        *detail = "unknown day of week " + QuoteInput(range.substr(dash + 1)) + kExpectedDay;
        return false;
      }
      last = *to;
      if (first > last) {
        // cron rejects it ("num1 > num2"): the line would never run.
        *detail = "day-of-week range " + QuoteInput(range) +
                  " is reversed (cron needs the earlier day first, Sunday is 0 or 7)";
        return false;
      }
    } else if (step) {
      *detail = "a step needs a range or \"*\" (" + QuoteInput(part) + ")";
      return false;
    }
  }
  for (int day = first; day <= last; day += step.value_or(1)) {
    weekdays->set(static_cast<size_t>(day % 7));
  }
  return true;
}

// Day of week as cron reads it: comma lists of ParseDayItem's items.
bool ParseDaysOfWeek(const std::string& dow, std::bitset<7>* weekdays, std::string* detail) {
  if (dow.empty()) {
    *detail = "no day of week (expected e.g. \"*\" or \"mon-fri\")";
    return false;
  }
  for (const std::string& part : Split(dow, ',')) {
    if (!ParseDayItem(part, weekdays, detail)) return false;
  }
  return true;
}

}  // namespace

bool ParseCronSchedule(const std::string& minute, const std::string& hour, const std::string& dow,
                       CalendarEvent* event, std::string* err) {
  size_t minute_value = 0, hour_value = 0;
  std::bitset<7> weekdays;
  std::string detail;
  if (!ParseFixed(minute, kMinuteField, &minute_value, &detail) ||
      !ParseFixed(hour, kHourField, &hour_value, &detail) ||
      !ParseDaysOfWeek(dow, &weekdays, &detail)) {
    *err =
        "invalid cron schedule " + QuoteInput(minute + " " + hour + " * * " + dow) + ": " + detail;
    return false;
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
