// What the schedule unit tests share: parsing a schedule, its next runs, and
// instants written as a person reads them, in the local zone or in UTC.
#pragma once

#include <gtest/gtest.h>
#include <time.h>

#include <cstdint>
#include <string>
#include <vector>

#include "agent/schedule/calendar_event.h"
#include "agent/schedule/cron_schedule.h"
#include "agent/schedule/runs.h"

namespace pbk::testing {

// "Sun 2026-03-29 03:00:00 CEST": the local time with its zone, as a person reads it.
inline std::string Local(int64_t instant) {
  const time_t t = static_cast<time_t>(instant);
  struct tm local {};
  localtime_r(&t, &local);
  char buffer[64];
  strftime(buffer, sizeof buffer, "%a %Y-%m-%d %H:%M:%S %Z", &local);
  return buffer;
}

inline std::string UtcText(int64_t instant) {
  const time_t t = static_cast<time_t>(instant);
  struct tm utc {};
  gmtime_r(&t, &utc);
  char buffer[32];
  strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buffer;
}

inline CalendarEvent Parse(const std::string& text) {
  CalendarEvent event;
  std::string err;
  EXPECT_TRUE(ParseCalendarEvent(text, &event, &err)) << err;
  return event;
}

inline std::vector<int64_t> Runs(const CalendarEvent& event, int64_t after, size_t count) {
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

inline std::vector<std::string> LocalRuns(const std::string& schedule, int64_t after, size_t count) {
  std::vector<std::string> out;
  for (int64_t run : Runs(Parse(schedule), after, count)) out.push_back(Local(run));
  return out;
}

inline std::vector<std::string> UtcRuns(const CalendarEvent& event, int64_t after, size_t count) {
  std::vector<std::string> out;
  for (int64_t run : Runs(event, after, count)) out.push_back(UtcText(run));
  return out;
}

}  // namespace pbk::testing
