#include "agent/schedule/civil_time.h"

#include <time.h>

namespace pbk {

int64_t DaysFromCivil(int64_t year, int64_t month, int64_t day) {
  year -= month <= 2 ? 1 : 0;
  const int64_t era = FloorDiv(year, 400);
  const int64_t year_of_era = year - era * 400;
  const int64_t day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + day_of_era - 719468;
}

Civil CivilFromDays(int64_t days) {
  days += 719468;
  const int64_t era = FloorDiv(days, 146097);
  const int64_t day_of_era = days - era * 146097;
  const int64_t year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const int64_t day_of_year =
      day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const int64_t mp = (5 * day_of_year + 2) / 153;
  const int64_t day = day_of_year - (153 * mp + 2) / 5 + 1;
  const int64_t month = mp < 10 ? mp + 3 : mp - 9;
  return {year_of_era + era * 400 + (month <= 2 ? 1 : 0), month, day};
}

int64_t DaysInMonth(int64_t year, int64_t month) {
  static const int64_t kDays[] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month];
}

int WeekdayOf(int64_t days) {  // 1970-01-01 was a Thursday
  return static_cast<int>(((days % 7) + 7 + 4) % 7);
}

int64_t UtcOffsetAt(int64_t instant, bool utc) {
  if (utc) return 0;
  const time_t t = static_cast<time_t>(instant);
  struct tm local {};
  if (localtime_r(&t, &local) == nullptr) return 0;
  return local.tm_gmtoff;
}

DayClock::DayClock(int64_t day, bool utc) : utc_(utc) {
  const int64_t midnight = day * kSecondsPerDay;
  // Every instant whose local time falls on DAY lies in this window: no
  // zone is more than a day away from UTC.
  const int64_t from = midnight - kSecondsPerDay;
  const int64_t to = midnight + 2 * kSecondsPerDay;
  const int64_t from_offset = UtcOffsetAt(from, utc_);
  segments_[0] = {from, from_offset};
  count_ = 1;
  FindChanges(from, from_offset, to, UtcOffsetAt(to, utc_));
}

DayClock::Mapping DayClock::Map(int64_t local) const {
  for (int i = 0; i < count_; ++i) {
    const int64_t instant = local - segments_[i].offset;
    const bool after_start = i == 0 || instant >= segments_[i].start;
    const bool before_end = i + 1 == count_ || instant < segments_[i + 1].start;
    if (after_start && before_end) return {true, instant, 0};
  }
  for (int i = 0; i + 1 < count_; ++i) {
    const int64_t jump = segments_[i + 1].start;
    const int64_t before = segments_[i].offset;
    const int64_t after = segments_[i + 1].offset;
    if (after > before && local >= jump + before && local < jump + after) {
      return {false, jump, jump + after};
    }
  }
  // Not reached with offsets read from one zone; move on regardless.
  return {false, local - segments_[count_ - 1].offset, local + 1};
}

int64_t DayClock::LocalOf(int64_t instant) const {
  int i = count_ - 1;
  while (i > 0 && instant < segments_[i].start) --i;
  return instant + segments_[i].offset;
}

void DayClock::FindChanges(int64_t from, int64_t from_offset, int64_t to, int64_t to_offset) {
  if (from_offset == to_offset || count_ == kMaxSegments) return;
  if (to - from <= 1) {
    segments_[static_cast<size_t>(count_++)] = {to, to_offset};
    return;
  }
  const int64_t middle = from + (to - from) / 2;
  const int64_t middle_offset = UtcOffsetAt(middle, utc_);
  FindChanges(from, from_offset, middle, middle_offset);
  FindChanges(middle, middle_offset, to, to_offset);
}

}  // namespace pbk
