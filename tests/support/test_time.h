// Time in tests: a time zone set for one test, and instants written as UTC.
#pragma once

#include <time.h>

#include <cstdint>
#include <cstdlib>
#include <string>

namespace pbk::testing {

// Sets TZ for one test and puts the old value back afterwards; tzset()
// because localtime_r() does not look at TZ again by itself.
class ScopedTimeZone {
 public:
  explicit ScopedTimeZone(const char* zone) {
    const char* old = std::getenv("TZ");
    had_ = old != nullptr;
    if (had_) old_ = old;
    setenv("TZ", zone, 1);
    tzset();
  }
  ~ScopedTimeZone() {
    if (had_) {
      setenv("TZ", old_.c_str(), 1);
    } else {
      unsetenv("TZ");
    }
    tzset();
  }
  ScopedTimeZone(const ScopedTimeZone&) = delete;
  ScopedTimeZone& operator=(const ScopedTimeZone&) = delete;

 private:
  bool had_ = false;
  std::string old_;
};

// Seconds since the epoch of a UTC date and time.
inline int64_t Utc(int year, int month, int day, int hour = 0, int minute = 0, int second = 0) {
  struct tm t {};
  t.tm_year = year - 1900;
  t.tm_mon = month - 1;
  t.tm_mday = day;
  t.tm_hour = hour;
  t.tm_min = minute;
  t.tm_sec = second;
  return static_cast<int64_t>(timegm(&t));
}

// EPOCH_SECONDS in local time, as pbk-agent writes times in its messages
// (FormatLocalTime: "2026-06-01 21:00:00 +0200").
inline std::string LocalTime(int64_t epoch_seconds) {
  const time_t t = static_cast<time_t>(epoch_seconds);
  struct tm local {};
  localtime_r(&t, &local);
  char buffer[40];
  strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M:%S %z", &local);
  return buffer;
}

// The first local HOUR:MINUTE strictly after AFTER (seconds since the
// epoch); -1 when none within three days (cannot happen).
inline int64_t NextDailyAt(int64_t after, int hour, int minute) {
  for (int days = 0; days < 3; ++days) {
    const time_t t = static_cast<time_t>(after);
    struct tm local {};
    localtime_r(&t, &local);
    local.tm_mday += days;
    local.tm_hour = hour;
    local.tm_min = minute;
    local.tm_sec = 0;
    local.tm_isdst = -1;
    const int64_t candidate = static_cast<int64_t>(mktime(&local));
    if (candidate > after) return candidate;
  }
  return -1;
}

}  // namespace pbk::testing
