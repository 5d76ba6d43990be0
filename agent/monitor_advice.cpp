#include "agent/monitor_advice.h"

#include <algorithm>

#include "agent/schedule/calendar_event.h"
#include "agent/schedule/runs.h"

namespace pbk {

namespace {

constexpr int64_t kYear = 366 * 24 * 3600;

}  // namespace

std::map<std::string, int64_t> LongestRunPerJob(const std::vector<RunRecord>& runs) {
  std::map<std::string, int64_t> longest;
  for (const auto& run : runs) {
    if (run.job_id.empty() || run.end_phase.empty() || run.end_ms <= 0) continue;
    const int64_t start_ms = run.job_start_ms > 0 ? run.job_start_ms : run.first_ms;
    if (start_ms <= 0 || run.end_ms < start_ms) continue;
    const int64_t seconds = (run.end_ms - start_ms + 999) / 1000;
    auto [it, inserted] = longest.emplace(run.job_id, seconds);
    if (!inserted) it->second = std::max(it->second, seconds);
  }
  return longest;
}

MonitorAdvice AdviseMonitor(const BackupJob& job, int64_t now,
                            std::optional<int64_t> longest_run, int grace_minutes) {
  MonitorAdvice advice;
  advice.grace = int64_t{grace_minutes} * 60;
  advice.run_seen = longest_run.has_value();
  advice.longest_run = longest_run.value_or(0);
  if (job.schedule.empty()) {
    advice.problem = "the job has no schedule: it runs only when started by hand";
    return advice;
  }
  CalendarEvent event;
  if (!ParseCalendarEvent(job.schedule, &event, &advice.schedule_error)) {
    advice.problem = advice.schedule_error;
    return advice;
  }
  // Legacy vzdump.cron jobs are run by cron, which treats a skipped local
  // time differently from pvescheduler (runs.h).
  if (job.IsLegacy()) event.skipped_time = SkippedTimeRule::kRunAfterJump;

  advice.next_run = NextRun(event, now);
  // The gaps that start within the coming year; the one after its last run
  // too, so that a yearly job has its gap.
  const ScheduleGap year = LongestGap(event, now, now + kYear);
  advice.runs_in_year = year.runs;
  advice.longest_gap = year.longest;
  advice.gap_start = year.gap_start;
  advice.gap_end = year.gap_end;
  if (year.runs >= 1) {
    if (auto after = NextRun(event, year.last_run)) {
      if (*after - year.last_run > advice.longest_gap) {
        advice.longest_gap = *after - year.last_run;
        advice.gap_start = year.last_run;
        advice.gap_end = *after;
      }
    }
  }
  if (!job.enabled) {
    advice.problem = "the job is disabled: it runs only when started by hand";
    return advice;
  }
  if (advice.longest_gap == 0) {
    advice.problem = advice.next_run ? "the schedule runs the job once and never again"
                                     : "the schedule never runs the job again";
    return advice;
  }
  // In whole minutes, rounded up: what a person types into Kuma's form.
  const int64_t sum = advice.longest_gap + advice.longest_run + advice.grace;
  advice.interval = std::max(kKumaMinIntervalSeconds, (sum + 59) / 60 * 60);
  if (advice.interval > kKumaMaxIntervalSeconds) {
    advice.beyond_kuma_max = true;
    advice.problem = "the job pauses " + FormatGap(advice.longest_gap) +
                     " between runs, longer than the 24 days Kuma allows as an interval: "
                     "the monitor alarms in every such pause; schedule the job at least "
                     "every 23 days";
  }
  return advice;
}

std::string FormatInterval(int64_t seconds) {
  // Seconds as Kuma's form takes them: digits only, ready to paste.
  return FormatGap(seconds) + " (" + std::to_string(seconds) + " s)";
}

}  // namespace pbk
