// The Kuma settings a job's push monitor needs so that it alarms when a run
// is missing and never between two runs that came on time.
//
// Kuma turns a push monitor DOWN when no push arrived for `interval` seconds.
// A job pushes once per run, at its end, so the time between two pushes is
// at most the longest pause between two scheduled starts plus the longest
// run time. The recommended interval is
//
//   longest gap between consecutive runs (over the coming year)
//   + longest run time seen on this node (from the hook's run records)
//   + kuma.grace_minutes
//
// rounded up to whole minutes,
// with Retries 0 (a pushed "down" must show at once, and with retries Kuma
// replaces the pushed message by its own). Kuma accepts intervals up to
// 24 days; a job that pauses longer cannot be watched by the interval alone.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api/pve/backup_job.h"
#include "hook/run_record.h"

namespace pbk {

// Kuma's limits for a monitor's heartbeat interval (src/util.ts).
constexpr int64_t kKumaMinIntervalSeconds = 20;
constexpr int64_t kKumaMaxIntervalSeconds = 24 * 24 * 3600;

struct MonitorAdvice {
  std::string schedule_error;    // set when the schedule does not parse
  std::optional<int64_t> next_run;  // seconds since the epoch
  int64_t runs_in_year = 0;      // scheduled runs in the coming 366 days
  int64_t longest_gap = 0;       // seconds; 0 when the job runs at most once
  int64_t gap_start = 0;         // the two runs of the longest gap
  int64_t gap_end = 0;
  bool run_seen = false;         // a finished run of this job is on record
  int64_t longest_run = 0;       // seconds, of the finished runs on record
  int64_t grace = 0;             // seconds
  // The heartbeat interval to set, in seconds (0: none can be given, see
  // `problem`), and whether it is beyond Kuma's maximum.
  int64_t interval = 0;
  bool beyond_kuma_max = false;
  std::string problem;  // why no usable interval can be given, in words
};

// The longest finished run (end - start) of each job on record, in seconds.
std::map<std::string, int64_t> LongestRunPerJob(const std::vector<RunRecord>& runs);

// Advice for JOB at NOW (seconds since the epoch, local time zone as
// runs.h describes). LONGEST_RUN is nullopt when no run is on record.
MonitorAdvice AdviseMonitor(const BackupJob& job, int64_t now,
                            std::optional<int64_t> longest_run, int grace_minutes);

// "3d 01h (259200 s)": the interval as a person sets it in Kuma's form,
// which asks for seconds.
std::string FormatInterval(int64_t seconds);

}  // namespace pbk
