#include "agent/schedule/schedule.h"

#include <time.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <string_view>
#include <vector>

#include "agent/core/text.h"

namespace pbk {

bool CalendarEvent::operator==(const CalendarEvent& other) const {
  return seconds == other.seconds && minutes == other.minutes && hours == other.hours &&
         days == other.days && months == other.months && weekdays == other.weekdays &&
         any_year == other.any_year && (any_year || years == other.years) && utc == other.utc &&
         skipped_time == other.skipped_time;
}

namespace {

// ---------------------------------------------------------------------------
// Parsing

// PVE's maxLength for a job's schedule (jobs.cfg, /cluster/backup).
constexpr size_t kMaxScheduleLength = 128;

const char* const kWeekdayNames[7] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
const char* const kWeekdayFullNames[7] = {"sunday",   "monday", "tuesday", "wednesday",
                                          "thursday", "friday", "saturday"};

bool IsBlank(char c) { return c == ' ' || c == '\t'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string Lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = Lower(c);
  return out;
}

// Quotes a piece of the input for a message: a schedule may hold any byte
// (the fuzzer's do), a log line must not.
std::string QuoteInput(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    unsigned char byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte < 0x20 || byte >= 0x7F) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02X", byte);
      out += hex;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// The offending part of the input: from where parsing stopped to the next blank.
std::string_view Word(std::string_view text) {
  while (!text.empty() && IsBlank(text.front())) text.remove_prefix(1);
  size_t end = 0;
  while (end < text.size() && !IsBlank(text[end])) ++end;
  return text.substr(0, end);
}

std::optional<int> WeekdayNumber(std::string_view name) {
  const std::string lower = Lowercase(name);
  for (int day = 0; day < 7; ++day) {
    if (lower == kWeekdayNames[day] || lower == kWeekdayFullNames[day]) return day;
  }
  return std::nullopt;
}

struct Special {
  const char* name;
  const char* means;  // the same schedule spelled out, in PVE's syntax
};

// PVE's special values, with what they stand for (pve-docs calendar-events).
const Special kSpecials[] = {
    {"minutely", "*-*-* *:*:00"},
    {"hourly", "*-*-* *:00:00"},
    {"daily", "*-*-* 00:00:00"},
    {"weekly", "mon *-*-* 00:00:00"},
    {"monthly", "*-*-01 00:00:00"},
    {"yearly", "*-01-01 00:00:00"},
    {"annually", "*-01-01 00:00:00"},
    {"quarterly", "*-01,04,07,10-01 00:00:00"},
    {"semiannually", "*-01,07-01 00:00:00"},
    {"semi-annually", "*-01,07-01 00:00:00"},
};

const Special* FindSpecial(std::string_view word) {
  const std::string lower = Lowercase(word);
  for (const Special& special : kSpecials) {
    if (lower == special.name) return &special;
  }
  return nullptr;
}

std::string DidYouMean(std::string_view word) {
  // Short words are close to too many names: "foo" is two letters from "mon".
  if (word.size() < 4) return "";
  std::vector<std::string> names;
  for (const char* name : kWeekdayFullNames) names.push_back(name);
  for (const Special& special : kSpecials) names.push_back(special.name);
  auto hint = ClosestMatch(Lowercase(word), names);
  return hint ? " (did you mean " + Quote(*hint) + "?)" : "";
}

// A number as written, with its value (capped so that no digit string overflows).
struct Number {
  uint32_t value = 0;
  std::string_view text;
};

// One element of a value list: "a", "a..b", "a/step" or "a..b/step".
struct Item {
  Number first;
  std::optional<Number> last;
  std::optional<Number> step;
  std::string_view text;
};

// A value list as written, before it is known which field it is: "*", "*/step"
// or items separated by commas.
struct ValueList {
  bool star = false;
  std::optional<Number> star_step;
  std::vector<Item> items;
  std::string_view text;
};

struct Field {
  const char* name;
  uint32_t low;
  uint32_t high;
  uint32_t star_start;  // where "*/step" starts counting, as in PVE
};

const Field kSecondField{"second", 0, 59, 0};
const Field kMinuteField{"minute", 0, 59, 0};
const Field kHourField{"hour", 0, 23, 0};
const Field kDayField{"day", 1, 31, 1};
const Field kMonthField{"month", 1, 12, 1};
const Field kYearField{"year", CalendarEvent::kFirstYear, CalendarEvent::kLastYear, 0};

std::string RangeText(const Field& field) {
  return "(" + std::to_string(field.low) + "-" + std::to_string(field.high) + ")";
}

// Sets the bits of the values LIST names, bit (value - BIT_OFFSET).
template <size_t N>
bool Resolve(const ValueList& list, const Field& field, uint32_t bit_offset, std::bitset<N>* bits,
             std::string* detail) {
  auto check_value = [&](const Number& number) {
    if (number.value >= field.low && number.value <= field.high) return true;
    *detail = std::string(field.name) + " " + std::string(number.text) + " is out of range " +
              RangeText(field);
    return false;
  };
  auto check_step = [&](const Number& step, std::string_view text) {
    if (step.value == 0) {
      // PVE reads "a/0" as "a" alone, but no one writes a step of 0 meaning
      // that: it is a typo, and a schedule that runs less than meant is
      // worse than an error.
      *detail = "repetition " + QuoteInput(text) + " has step 0 (expected 1 or more)";
      return false;
    }
    if (step.value > field.high) {
      *detail = std::string(field.name) + " step " + std::string(step.text) +
                " is out of range (1-" + std::to_string(field.high) + ")";
      return false;
    }
    return true;
  };
  auto set_every = [&](uint32_t start, uint32_t end, uint32_t step) {
    for (uint32_t value = start; value <= end; value += step) {
      if (value >= field.low) bits->set(value - bit_offset);
    }
  };
  bits->reset();
  if (list.star) {
    if (!list.star_step) {
      set_every(field.low, field.high, 1);
      return true;
    }
    if (!check_step(*list.star_step, list.text)) return false;
    set_every(field.star_start, field.high, list.star_step->value);
  }
  for (const Item& item : list.items) {
    if (!check_value(item.first)) return false;
    uint32_t end = field.high;
    if (item.last) {
      if (!check_value(*item.last)) return false;
      if (item.first.value > item.last->value) {
        // As PVE: "range start is bigger than end".
        *detail = std::string(field.name) + " range " + QuoteInput(item.text) +
                  " is reversed (its start is after its end)";
        return false;
      }
      end = item.last->value;
    }
    if (item.step) {
      if (!check_step(*item.step, item.text)) return false;
      set_every(item.first.value, end, item.step->value);
    } else {
      set_every(item.first.value, item.last ? end : item.first.value, 1);
    }
  }
  if (bits->none()) {
    // Only "*/step" of years can miss every year that can be named.
    *detail = "no " + std::string(field.name) + " " + RangeText(field) + " matches " +
              QuoteInput(list.text);
    return false;
  }
  return true;
}

// Reads a schedule the way proxmox-time does: weekdays, then a date, then a
// time, each optional, blanks (spaces and tabs) between them optional.
class CalendarParser {
 public:
  explicit CalendarParser(std::string_view text) : text_(text) {}

  bool Parse(CalendarEvent* event, std::string* detail);

 private:
  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek(size_t ahead = 0) const {
    return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0';
  }
  std::string_view Rest() const { return text_.substr(std::min(pos_, text_.size())); }
  void SkipBlanks() {
    while (!AtEnd() && IsBlank(Peek())) ++pos_;
  }
  std::string_view Letters() {
    size_t start = pos_;
    while (!AtEnd() && IsAlpha(Peek())) ++pos_;
    return text_.substr(start, pos_ - start);
  }

  bool ParseWeekdays(std::bitset<7>* weekdays, std::string* detail);
  bool ParseNumber(Number* number) {
    if (!IsDigit(Peek())) return false;
    size_t start = pos_;
    uint64_t value = 0;
    while (!AtEnd() && IsDigit(Peek())) {
      value = std::min<uint64_t>(value * 10 + static_cast<uint64_t>(Peek() - '0'), 1000000000);
      ++pos_;
    }
    number->value = static_cast<uint32_t>(value);
    number->text = text_.substr(start, pos_ - start);
    return true;
  }
  bool ParseList(ValueList* list, std::string* detail);
  // What was found where WHAT was expected; WHERE says after which part.
  std::string Unexpected(const char* where, const char* what) const {
    if (Rest().empty()) {
      return "nothing after " + QuoteInput(text_) + " (expected " + what + ")";
    }
    return "unexpected " + QuoteInput(Word(Rest())) + where + " (expected " + what + ")";
  }

  std::string_view text_;
  size_t pos_ = 0;
};

bool CalendarParser::ParseWeekdays(std::bitset<7>* weekdays, std::string* detail) {
  weekdays->reset();
  for (;;) {
    const size_t item_start = pos_;
    std::string_view first = Letters();
    if (first.empty()) {
      *detail = "expected a weekday right after " + QuoteInput(text_.substr(0, pos_)) +
                " (lists take no blanks)";
      return false;
    }
    const bool is_range = Peek() == '.' && Peek(1) == '.';
    auto first_day = WeekdayNumber(first);
    if (!first_day) {
      if (item_start == 0 && !is_range && Peek() != ',') {
        if (FindSpecial(first)) {
          *detail = "the special value " + QuoteInput(first) + " takes nothing after it";
        } else {
          *detail = "unknown word " + QuoteInput(first) +
                    " (expected a weekday such as \"mon\" or a special value such as \"daily\")" +
                    DidYouMean(first);
        }
        return false;
      }
      *detail = "unknown weekday " + QuoteInput(first) + DidYouMean(first);
      return false;
    }
    if (!is_range) {
      weekdays->set(static_cast<size_t>(*first_day));
    } else {
      pos_ += 2;
      std::string_view last = Letters();
      if (last.empty()) {
        *detail = "weekday range " + QuoteInput(text_.substr(item_start, pos_ - item_start)) +
                  " has no end (expected e.g. \"mon..fri\")";
        return false;
      }
      auto last_day = WeekdayNumber(last);
      if (!last_day) {
        *detail = "unknown weekday " + QuoteInput(last) + DidYouMean(last);
        return false;
      }
      // A range whose end comes before its start in the week wraps around
      // Sunday: "fri..mon" is Friday to Monday. proxmox-time reads it so
      // (week_days.rs) and PVE accepts such a job, so rejecting it would
      // leave a job PVE runs without a monitor; no weekday range is empty.
      // systemd, by contrast, rejects "Fri..Mon".
      int day = *first_day;
      for (;;) {
        weekdays->set(static_cast<size_t>(day));
        if (day == *last_day) break;
        day = (day + 1) % 7;
      }
    }
    if (Peek() != ',') return true;
    ++pos_;
  }
}

bool CalendarParser::ParseList(ValueList* list, std::string* detail) {
  const size_t start = pos_;
  *list = ValueList();
  if (Peek() == '*') {
    ++pos_;
    list->star = true;
    if (Peek() == '/') {
      ++pos_;
      Number step;
      if (!ParseNumber(&step)) {
        *detail = "expected a step right after " + QuoteInput(text_.substr(start, pos_ - start));
        return false;
      }
      list->star_step = step;
    }
    if (Peek() == ',') {
      *detail = "\"*\" cannot be part of a list (" + QuoteInput(Word(text_.substr(start))) + ")";
      return false;
    }
    list->text = text_.substr(start, pos_ - start);
    return true;
  }
  for (;;) {
    const size_t item_start = pos_;
    Item item;
    if (!ParseNumber(&item.first)) {
      if (Peek() == '*') {
        *detail = "\"*\" cannot be part of a list (" + QuoteInput(Word(text_.substr(start))) + ")";
      } else if (pos_ > start) {
        *detail = "expected a number right after " + QuoteInput(text_.substr(start, pos_ - start));
      } else {
        *detail = Unexpected("", "a number or \"*\"");
      }
      return false;
    }
    if (Peek() == '.' && Peek(1) == '.') {
      pos_ += 2;
      Number last;
      if (!ParseNumber(&last)) {
        *detail = "range " + QuoteInput(text_.substr(item_start, pos_ - item_start)) +
                  " has no end (expected e.g. \"8..17\")";
        return false;
      }
      item.last = last;
    }
    if (Peek() == '/') {
      ++pos_;
      Number step;
      if (!ParseNumber(&step)) {
        *detail = "expected a step right after " +
                  QuoteInput(text_.substr(item_start, pos_ - item_start));
        return false;
      }
      item.step = step;
    }
    item.text = text_.substr(item_start, pos_ - item_start);
    list->items.push_back(item);
    if (Peek() != ',') break;
    ++pos_;
  }
  list->text = text_.substr(start, pos_ - start);
  return true;
}

bool CalendarParser::Parse(CalendarEvent* event, std::string* detail) {
  *event = CalendarEvent();
  bool has_weekdays = false;
  if (IsAlpha(Peek())) {
    if (!ParseWeekdays(&event->weekdays, detail)) return false;
    has_weekdays = true;
    SkipBlanks();
  } else {
    event->weekdays.set();
  }
  // Every day, at 00:00:00, until a date or a time says otherwise.
  event->days.set();
  event->days.reset(0);
  event->months.set();
  event->months.reset(0);
  event->hours.reset();
  event->hours.set(0);
  event->minutes.reset();
  event->minutes.set(0);
  event->seconds.reset();
  event->seconds.set(0);
  if (AtEnd()) return true;

  if (!IsDigit(Peek()) && Peek() != '*') {
    *detail = has_weekdays ? Unexpected(" after the weekdays", "a date or a time")
                           : Unexpected("", "a weekday, a date or a time");
    return false;
  }
  ValueList first;
  if (!ParseList(&first, detail)) return false;
  if (Peek() == '-') {
    // A date: YEARS-MONTHS-DAYS or MONTHS-DAYS.
    ++pos_;
    ValueList second, third;
    if (!ParseList(&second, detail)) return false;
    bool has_year = false;
    if (Peek() == '-') {
      ++pos_;
      if (!ParseList(&third, detail)) return false;
      has_year = true;
    }
    const ValueList& months = has_year ? second : first;
    const ValueList& days = has_year ? third : second;
    if (has_year && !(first.star && !first.star_step)) {
      if (!Resolve(first, kYearField, CalendarEvent::kFirstYear, &event->years, detail)) {
        return false;
      }
      event->any_year = false;
    }
    if (!Resolve(months, kMonthField, 0, &event->months, detail)) return false;
    if (!Resolve(days, kDayField, 0, &event->days, detail)) return false;
    SkipBlanks();
    if (AtEnd()) return true;
    if (!IsDigit(Peek()) && Peek() != '*') {
      *detail = Unexpected(" after the date", "a time");
      return false;
    }
    if (!ParseList(&first, detail)) return false;
  }
  // A time: HOURS:MINUTES[:SECONDS], or MINUTES alone (of every hour).
  if (Peek() == ':') {
    ++pos_;
    ValueList minutes;
    if (!ParseList(&minutes, detail)) return false;
    if (!Resolve(first, kHourField, 0, &event->hours, detail)) return false;
    if (!Resolve(minutes, kMinuteField, 0, &event->minutes, detail)) return false;
    if (Peek() == ':') {
      ++pos_;
      ValueList seconds;
      if (!ParseList(&seconds, detail)) return false;
      if (!Resolve(seconds, kSecondField, 0, &event->seconds, detail)) return false;
    }
  } else {
    event->hours.set();
    if (!Resolve(first, kMinuteField, 0, &event->minutes, detail)) return false;
  }
  if (!AtEnd()) {
    *detail = Unexpected(" after the time", "the end: the time comes last");
    return false;
  }
  return true;
}

std::string_view TrimAll(std::string_view text) {
  const char* space = " \t\r\n\f\v";
  size_t begin = text.find_first_not_of(space);
  if (begin == std::string_view::npos) return {};
  size_t end = text.find_last_not_of(space);
  return text.substr(begin, end - begin + 1);
}

bool ApplySpecial(const Special& special, CalendarEvent* event) {
  std::string ignored;
  CalendarParser parser(special.means);
  return parser.Parse(event, &ignored);
}

// ---------------------------------------------------------------------------
// Dates and the local clock

constexpr int64_t kSecondsPerDay = 86400;
// Instants outside 1970 .. 9999 are not searched.
constexpr int64_t kEarliest = 0;
constexpr int64_t kLatest = 253402300799;  // 9999-12-31 23:59:59 UTC
// The Gregorian calendar repeats after 400 years of 146097 days: what has
// not matched by then never will.
constexpr int64_t kSearchDays = 146097 + 2;

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
int64_t DaysFromCivil(int64_t year, int64_t month, int64_t day) {
  year -= month <= 2 ? 1 : 0;
  const int64_t era = FloorDiv(year, 400);
  const int64_t year_of_era = year - era * 400;
  const int64_t day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + day_of_era - 719468;
}

struct Civil {
  int64_t year;
  int64_t month;
  int64_t day;
};

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

int WeekdayOf(int64_t days) {  // 0 = Sunday; 1970-01-01 was a Thursday
  return static_cast<int>(((days % 7) + 7 + 4) % 7);
}

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

int64_t UtcOffsetAt(int64_t instant, bool utc) {
  if (utc) return 0;
  const time_t t = static_cast<time_t>(instant);
  struct tm local {};
  if (localtime_r(&t, &local) == nullptr) return 0;
  return local.tm_gmtoff;
}

// The zone's offsets around one local day: from each segment's start (an
// instant) to the next segment's start the offset is constant.
class DayClock {
 public:
  DayClock(int64_t day, bool utc) : utc_(utc) {
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

  bool Regular() const { return count_ == 1; }
  int64_t FirstOffset() const { return segments_[0].offset; }

  struct Mapping {
    bool exists;           // LOCAL occurs; INSTANT is its first occurrence
    int64_t instant;       // or, when it is skipped, the instant of the jump over it
    int64_t resume_local;  // skipped: the first local time after the jump
  };

  Mapping Map(int64_t local) const {
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

  int64_t LocalOf(int64_t instant) const {
    int i = count_ - 1;
    while (i > 0 && instant < segments_[i].start) --i;
    return instant + segments_[i].offset;
  }

 private:
  struct Segment {
    int64_t start;
    int64_t offset;
  };
  static constexpr int kMaxSegments = 8;

  // Bisects [FROM, TO] for the instants where the offset changes.
  void FindChanges(int64_t from, int64_t from_offset, int64_t to, int64_t to_offset) {
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

  bool utc_;
  std::array<Segment, kMaxSegments> segments_{};
  int count_ = 0;
};

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

bool ParseCalendarEvent(const std::string& text, CalendarEvent* event, std::string* err) {
  const std::string prefix = "invalid schedule ";
  if (text.size() > kMaxScheduleLength) {
    *err = prefix + QuoteInput(std::string(text, 0, 32) + "...") + ": " +
           std::to_string(text.size()) + " characters long (PVE allows at most " +
           std::to_string(kMaxScheduleLength) + ")";
    return false;
  }
  auto fail = [&](const std::string& detail) {
    *err = prefix + QuoteInput(text) + ": " + detail;
    return false;
  };
  std::string_view rest = TrimAll(text);
  if (rest.empty()) return fail("empty (expected e.g. \"mon..fri 21:00\" or \"daily\")");
  // As proxmox-time: a final "UTC" means the schedule is read in UTC rather
  // than in local time.
  bool utc = false;
  if (rest.size() >= 3 && Lowercase(rest.substr(rest.size() - 3)) == "utc") {
    utc = true;
    rest = TrimAll(rest.substr(0, rest.size() - 3));
    if (rest.empty()) return fail("nothing before \"UTC\" (expected e.g. \"daily UTC\")");
  }
  CalendarEvent parsed;
  if (const Special* special = FindSpecial(rest)) {
    ApplySpecial(*special, &parsed);
  } else {
    std::string detail;
    CalendarParser parser(rest);
    if (!parser.Parse(&parsed, &detail)) return fail(detail);
  }
  parsed.utc = utc;
  *event = parsed;
  return true;
}

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
  auto two_digits = [](int64_t n) { return (n < 10 ? "0" : "") + std::to_string(n); };
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
