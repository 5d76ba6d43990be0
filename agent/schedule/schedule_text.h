// What the schedule parsers (calendar_event.cpp, cron_schedule.cpp) share:
// character classes, weekday names, the fields of a schedule and how a piece
// of the input is quoted in a message.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "agent/schedule/calendar_event.h"

namespace pbk::schedule_text {

extern const char* const kWeekdayNames[7];      // "sun" .. "sat"
extern const char* const kWeekdayFullNames[7];  // "sunday" .. "saturday"

inline bool IsBlank(char c) { return c == ' ' || c == '\t'; }
inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }
inline bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

std::string Lowercase(std::string_view text);

// Quotes a piece of the input for a message: a schedule may hold any byte
// (the fuzzer's do), a log line must not.
std::string QuoteInput(std::string_view text);

// The offending part of the input: from where parsing stopped to the next blank.
std::string_view Word(std::string_view text);

struct Field {
  const char* name;
  uint32_t low;
  uint32_t high;
  uint32_t star_start;  // where "*/step" starts counting, as in PVE
};

inline constexpr Field kSecondField{"second", 0, 59, 0};
inline constexpr Field kMinuteField{"minute", 0, 59, 0};
inline constexpr Field kHourField{"hour", 0, 23, 0};
inline constexpr Field kDayField{"day", 1, 31, 1};
inline constexpr Field kMonthField{"month", 1, 12, 1};
inline constexpr Field kYearField{"year", CalendarEvent::kFirstYear, CalendarEvent::kLastYear, 0};

// "(0-59)".
std::string RangeText(const Field& field);

}  // namespace pbk::schedule_text
