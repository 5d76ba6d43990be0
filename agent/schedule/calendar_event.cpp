#include "agent/schedule/calendar_event.h"

#include <algorithm>
#include <optional>
#include <string_view>
#include <vector>

#include "agent/core/text.h"
#include "agent/schedule/schedule_text.h"

namespace pbk {

using schedule_text::Field;
using schedule_text::IsAlpha;
using schedule_text::IsBlank;
using schedule_text::IsDigit;
using schedule_text::kWeekdayFullNames;
using schedule_text::kWeekdayNames;
using schedule_text::Lowercase;
using schedule_text::QuoteInput;
using schedule_text::RangeText;
using schedule_text::Word;

bool CalendarEvent::operator==(const CalendarEvent& other) const {
  return seconds == other.seconds && minutes == other.minutes && hours == other.hours &&
         days == other.days && months == other.months && weekdays == other.weekdays &&
         any_year == other.any_year && (any_year || years == other.years) && utc == other.utc &&
         skipped_time == other.skipped_time;
}

namespace {

// PVE's maxLength for a job's schedule (jobs.cfg, /cluster/backup).
constexpr size_t kMaxScheduleLength = 128;

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
  // After FIRST and its '-': the rest of a date, YEARS-MONTHS-DAYS or
  // MONTHS-DAYS.
  bool ParseDate(const ValueList& first, CalendarEvent* event, std::string* detail);
  // A time: HOURS:MINUTES[:SECONDS] with FIRST the hours, or FIRST the
  // minutes alone (of every hour).
  bool ParseTime(const ValueList& first, CalendarEvent* event, std::string* detail);
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

// Every day, at 00:00:00, until a date or a time says otherwise.
void SetEveryDayAtMidnight(CalendarEvent* event) {
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
  SetEveryDayAtMidnight(event);
  if (AtEnd()) return true;

  if (!IsDigit(Peek()) && Peek() != '*') {
    *detail = has_weekdays ? Unexpected(" after the weekdays", "a date or a time")
                           : Unexpected("", "a weekday, a date or a time");
    return false;
  }
  ValueList first;
  if (!ParseList(&first, detail)) return false;
  if (Peek() == '-') {
    ++pos_;
    if (!ParseDate(first, event, detail)) return false;
    SkipBlanks();
    if (AtEnd()) return true;
    if (!IsDigit(Peek()) && Peek() != '*') {
      *detail = Unexpected(" after the date", "a time");
      return false;
    }
    if (!ParseList(&first, detail)) return false;
  }
  if (!ParseTime(first, event, detail)) return false;
  if (!AtEnd()) {
    *detail = Unexpected(" after the time", "the end: the time comes last");
    return false;
  }
  return true;
}

bool CalendarParser::ParseDate(const ValueList& first, CalendarEvent* event,
                               std::string* detail) {
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
    if (!Resolve(first, schedule_text::kYearField, CalendarEvent::kFirstYear, &event->years,
                 detail)) {
      return false;
    }
    event->any_year = false;
  }
  if (!Resolve(months, schedule_text::kMonthField, 0, &event->months, detail)) return false;
  return Resolve(days, schedule_text::kDayField, 0, &event->days, detail);
}

bool CalendarParser::ParseTime(const ValueList& first, CalendarEvent* event,
                               std::string* detail) {
  if (Peek() != ':') {
    event->hours.set();
    return Resolve(first, schedule_text::kMinuteField, 0, &event->minutes, detail);
  }
  ++pos_;
  ValueList minutes;
  if (!ParseList(&minutes, detail)) return false;
  if (!Resolve(first, schedule_text::kHourField, 0, &event->hours, detail)) return false;
  if (!Resolve(minutes, schedule_text::kMinuteField, 0, &event->minutes, detail)) return false;
  if (Peek() == ':') {
    ++pos_;
    ValueList seconds;
    if (!ParseList(&seconds, detail)) return false;
    if (!Resolve(seconds, schedule_text::kSecondField, 0, &event->seconds, detail)) return false;
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

}  // namespace pbk
