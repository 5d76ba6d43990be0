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

}  // namespace pbk::testing
