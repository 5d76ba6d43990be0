// The times of a legacy vzdump.cron line, read as a calendar event with
// cron's rule for skipped local times.
#pragma once

#include <string>

#include "agent/schedule/calendar_event.h"

namespace pbk {

// Parses the time fields of a legacy vzdump.cron line "M H * * DOW": MINUTE
// and HOUR are numbers (vzdump.cron lines have nothing else there), DOW is
// "*", names (sun..sat), numbers 0-7 (0 and 7 are Sunday), "a-b" ranges,
// "/step" repetitions and comma lists of those. The event gets cron's rule
// for skipped local times.
bool ParseCronSchedule(const std::string& minute, const std::string& hour, const std::string& dow,
                       CalendarEvent* event, std::string* err);

}  // namespace pbk
