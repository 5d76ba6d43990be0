// When a schedule runs: the next run after an instant, the runs in a range
// and the longest pause between two of them, which is what a push monitor
// must wait before it may call a job missing.
//
// Time zone: runs are computed in the process's local time zone (TZ, else
// /etc/localtime), as pvescheduler and cron do, unless the schedule ends in
// "UTC". A test or a long-lived process that changes TZ must call tzset().
//
// Daylight saving time and other changes of the UTC offset:
//  - A local time that the clock skips (02:30 on the night Europe/Berlin goes
//    from 02:00 CET to 03:00 CEST) gives NO run that day for a calendar event.
//    pvescheduler runs a job once time() has reached the event proxmox-time
//    computes from the last run. That computation edits a broken-down local
//    time and normalises it with mktime(): 02:00 becomes 03:00 CEST, the hour
//    no longer matches, and the search goes on to the next day. So a daily
//    02:30 job runs 47 hours after the previous one on that night; systemd
//    timers (systemd-analyze calendar) skip it the same way.
//  - The same skipped time on a legacy vzdump.cron line runs at the first
//    instant after the jump (03:00 CEST): Debian's cron runs the jobs with a
//    fixed minute and hour that fell into a skipped interval of less than
//    three hours right after it (cron(8), "Daylight Saving Time").
//  - A local time that occurs twice (02:30 when CEST falls back to CET) runs
//    once, at its first occurrence, under both rules: proxmox-time's search
//    moves from 02:59 to 03:00 CET and never revisits the hour, systemd does
//    the same, and cron takes care not to run a job twice. A "*/30" job
//    therefore pauses 90 minutes, from 02:30 CEST to 03:00 CET. (Where the
//    repeated hour starts at midnight, as in America/Havana, mktime() may
//    lead proxmox-time to the second occurrence instead; this code always
//    takes the first.)
//  - Offsets come from localtime_r(), read at both ends of a three-day
//    window around each day and bisected where they differ. Two changes
//    within three days that cancel each other out would go unseen; no zone
//    in use has them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "agent/schedule/calendar_event.h"

namespace pbk {

// The first run strictly after AFTER_EPOCH_SECONDS, or nullopt when there is
// none within 400 years (a calendar repeats after 400 years) or before the
// end of 2199 when the schedule names years: "2015-10-21" from today on, or
// "*-02-30".
std::optional<int64_t> NextRun(const CalendarEvent& event, int64_t after_epoch_seconds);

// The runs of a schedule in [from, to] (both included, seconds since the
// epoch) and the longest time between two consecutive ones.
struct ScheduleGap {
  int64_t runs = 0;       // runs in [from, to]
  int64_t first_run = 0;  // the first and the last of them (when runs >= 1)
  int64_t last_run = 0;
  // Seconds from gap_start to gap_end, the two consecutive runs furthest
  // apart (the earliest such pair). All three are 0 when runs < 2: a
  // schedule with one run or none in the range has no gap to speak of.
  int64_t longest = 0;
  int64_t gap_start = 0;
  int64_t gap_end = 0;
};

// The work grows with the number of days in the range, not with the number
// of runs: a year of a run every second takes milliseconds.
ScheduleGap LongestGap(const CalendarEvent& event, int64_t from, int64_t to);

// A duration for people: "45s", "5m", "5m 30s", "23h 30m", "24h 00m",
// "3d 00h", "1d 23h". Days appear only beyond 24 hours; a unit below the
// two largest appears when it is not zero.
std::string FormatGap(int64_t seconds);

}  // namespace pbk
