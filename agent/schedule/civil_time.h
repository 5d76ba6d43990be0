// Civil dates and the local clock: days since 1970-01-01 to and from
// year-month-day, and the UTC offsets of the process's time zone around one
// local day, found by bisection (runs.h says how runs use them).
#pragma once

#include <array>
#include <cstdint>

namespace pbk {

inline constexpr int64_t kSecondsPerDay = 86400;

// A / B rounded towards minus infinity.
inline int64_t FloorDiv(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
int64_t DaysFromCivil(int64_t year, int64_t month, int64_t day);

struct Civil {
  int64_t year;
  int64_t month;
  int64_t day;
};

Civil CivilFromDays(int64_t days);
int64_t DaysInMonth(int64_t year, int64_t month);
int WeekdayOf(int64_t days);  // 0 = Sunday

// The UTC offset in seconds of the local time zone at INSTANT; 0 when UTC.
int64_t UtcOffsetAt(int64_t instant, bool utc);

// The zone's offsets around one local day: from each segment's start (an
// instant) to the next segment's start the offset is constant.
class DayClock {
 public:
  DayClock(int64_t day, bool utc);

  bool Regular() const { return count_ == 1; }
  int64_t FirstOffset() const { return segments_[0].offset; }

  struct Mapping {
    bool exists;           // LOCAL occurs; INSTANT is its first occurrence
    int64_t instant;       // or, when it is skipped, the instant of the jump over it
    int64_t resume_local;  // skipped: the first local time after the jump
  };

  Mapping Map(int64_t local) const;
  int64_t LocalOf(int64_t instant) const;

 private:
  struct Segment {
    int64_t start;
    int64_t offset;
  };
  static constexpr int kMaxSegments = 8;

  // Bisects [FROM, TO] for the instants where the offset changes.
  void FindChanges(int64_t from, int64_t from_offset, int64_t to, int64_t to_offset);

  bool utc_;
  std::array<Segment, kMaxSegments> segments_{};
  int count_ = 0;
};

}  // namespace pbk
