#include "agent/refresh.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "agent/core/fs.h"
#include "hook/outcome.h"
#include "agent/schedule/calendar_event.h"
#include "agent/schedule/runs.h"
#include "agent/core/text.h"
#include "hook/worker.h"

namespace pbk {

using nlohmann::json;

std::optional<int64_t> SchedulerState::LastStart() const {
  if (!exists) return std::nullopt;
  if (upid_start > 0) return upid_start;
  return time;
}

bool ParseSchedulerState(const std::string& text, SchedulerState* state, std::string* err) {
  const json document = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!document.is_object()) {
    *err = "not a JSON object";
    return false;
  }
  SchedulerState result;
  result.exists = true;
  if (auto it = document.find("state"); it != document.end()) {
    auto value = LooseString(*it);
    if (!value) {
      *err = "\"state\" is not a string";
      return false;
    }
    result.state = *value;
  }
  if (auto it = document.find("msg"); it != document.end() && !it->is_null()) {
    result.msg = LooseString(*it).value_or(OneLine(it->dump()));
  }
  if (auto it = document.find("time"); it != document.end() && !it->is_null()) {
    auto value = LooseInt(*it);
    if (!value || *value < 0) {
      *err = "\"time\" is not a time in seconds: " + OneLine(it->dump());
      return false;
    }
    result.time = *value;
  }
  if (auto it = document.find("upid"); it != document.end() && !it->is_null()) {
    auto value = LooseString(*it);
    Upid upid;
    if (!value || !ParseUpid(*value, &upid)) {
      *err = "\"upid\" is not a UPID: " + TruncateUtf8(OneLine(it->dump()), 120);
      return false;
    }
    result.upid = *value;
    result.upid_start = static_cast<int64_t>(upid.starttime);
  }
  *state = std::move(result);
  return true;
}

bool LoadSchedulerState(const std::string& scheduler_dir, const std::string& job_id,
                        SchedulerState* state, std::string* err) {
  const std::string path = JoinPath(scheduler_dir, "vzdump-" + job_id + ".json");
  std::string text;
  bool exists = false;
  *state = SchedulerState{};
  if (!ReadFileIfExists(path, &text, &exists, err)) return false;
  if (!exists) return true;
  // pvescheduler reads an empty file as its default state.
  if (Trim(text).empty()) {
    state->exists = true;
    state->state = "created";
    state->time = 0;
    return true;
  }
  if (!ParseSchedulerState(text, state, err)) {
    *err = path + ": " + *err;
    return false;
  }
  return true;
}

bool LoadRefreshMemory(const std::string& path, RefreshMemory* memory, std::string* err) {
  std::string text;
  bool exists = false;
  *memory = RefreshMemory{};
  if (!ReadFileIfExists(path, &text, &exists, err)) return false;
  if (!exists) return true;
  const json document = json::parse(text, nullptr, /*allow_exceptions=*/false);
  const json* jobs = document.is_object() && document.contains("jobs") ? &document["jobs"] : nullptr;
  if (jobs == nullptr || !jobs->is_object()) {
    *err = path + ": not what pbk-agent writes (no \"jobs\" object); it is rebuilt";
    return false;
  }
  for (const auto& [id, entry] : jobs->items()) {
    if (!entry.is_object()) continue;
    ObservedJob observed;
    observed.schedule = LooseString(entry.value("schedule", json(""))).value_or("");
    observed.enabled = LooseBool(entry.value("enabled", json(true))).value_or(true);
    observed.since = LooseInt(entry.value("since", json(0))).value_or(0);
    observed.first_sighting = LooseBool(entry.value("first_sighting", json(false))).value_or(false);
    memory->jobs[id] = observed;
  }
  return true;
}

bool SaveRefreshMemory(const std::string& path, const RefreshMemory& memory, std::string* err) {
  json jobs = json::object();
  for (const auto& [id, observed] : memory.jobs) {
    jobs[id] = {{"schedule", observed.schedule},
                {"enabled", observed.enabled},
                {"since", observed.since},
                {"first_sighting", observed.first_sighting}};
  }
  const json document = {{"format", 1}, {"jobs", std::move(jobs)}};
  return WriteFileAtomic(path, document.dump(1, ' ', false, json::error_handler_t::replace) + "\n",
                         err);
}

bool ObserveJobs(const std::vector<BackupJob>& jobs, int64_t now, RefreshMemory* memory) {
  bool changed = false;
  std::map<std::string, ObservedJob> seen;
  for (const auto& job : jobs) {
    auto old = memory->jobs.find(job.id);
    if (old != memory->jobs.end() && old->second.schedule == job.schedule &&
        old->second.enabled == job.enabled) {
      seen[job.id] = old->second;
      continue;
    }
    seen[job.id] = ObservedJob{job.schedule, job.enabled, now, old == memory->jobs.end()};
    changed = true;
  }
  changed = changed || seen.size() != memory->jobs.size();
  memory->jobs = std::move(seen);
  return changed;
}

const char* JobStateName(JobState state) {
  switch (state) {
    case JobState::kOk: return "ok";
    case JobState::kFailed: return "failed";
    case JobState::kRunning: return "running";
    case JobState::kVanished: return "vanished";
    case JobState::kMissed: return "missed";
    case JobState::kNotHere: return "not-here";
    case JobState::kNoRunYet: return "no-run-yet";
    case JobState::kDisabled: return "disabled";
    case JobState::kGone: return "gone";
    case JobState::kWithoutHook: return "without-hook";
    case JobState::kNotStarted: return "not-started";
    case JobState::kUnknown: return "unknown";
  }
  return "unknown";
}

int64_t RunStart(const RunRecord& run) {
  Upid upid;
  if (!run.upid.empty() && ParseUpid(run.upid, &upid)) return static_cast<int64_t>(upid.starttime);
  return run.first_ms / 1000;
}

namespace {

std::string Time(int64_t seconds) { return FormatLocalTime(seconds * 1000); }

// The hook's verdict on a finished run (older records may lack it).
std::pair<bool, std::string> Verdict(const RunRecord& run) {
  if (!run.push.message.empty()) return {run.push.up, run.push.message};
  Outcome outcome = JudgeRun(run);
  return {outcome.up, outcome.message};
}

std::string LastRunWords(const RunRecord* last_ended, const SchedulerState& scheduler) {
  if (last_ended != nullptr) {
    return "last run " + Time(RunStart(*last_ended)) + ": " +
           (Verdict(*last_ended).first ? "ok" : "FAILED");
  }
  if (auto start = scheduler.LastStart(); start && *start > 0 && scheduler.state != "created") {
    return "last run " + Time(*start) + " (by the scheduler's record)";
  }
  return "no run on record";
}

class Judge {
 public:
  Judge(const JobFacts& facts, const std::string& node, int64_t now, int64_t grace)
      : facts_(facts), node_(node), now_(now), grace_(grace) {
    for (const RunRecord* run : facts.runs) {
      if (latest_ == nullptr) latest_ = run;
      if (last_ended_ == nullptr && !run->end_phase.empty()) last_ended_ = run;
    }
    record_start_ = latest_ != nullptr ? RunStart(*latest_) : 0;
  }

  JobStatus Run();

 private:
  // Reads the job's schedule into event_; false with *error when it does not parse.
  bool ReadSchedule(std::string* error);
  // The job's state while a run of it is going on, if one is.
  std::optional<JobStatus> WhileRunning() const;
  // kMissed when the run due after the last start did not start in time;
  // notes a run due but still within the grace.
  std::optional<JobStatus> Missed();
  // The state by the newest thing that happened to the job.
  JobStatus ByNewestEvent() const;

  JobStatus Make(JobState state, bool up, const std::string& message) const {
    JobStatus status;
    status.state = state;
    status.up = up;
    status.message = TruncateUtf8(node_ + ": " + message, 1400);
    status.last_start = last_start_;
    status.next_run = next_run_;
    return status;
  }
  bool RunsHere(std::string* why) const;
  bool EndedUpid(const std::string& upid) const {
    return std::any_of(facts_.runs.begin(), facts_.runs.end(), [&](const RunRecord* run) {
      return run->upid == upid && !run->end_phase.empty();
    });
  }
  bool SawUpid(const std::string& upid) const {
    return std::any_of(facts_.runs.begin(), facts_.runs.end(),
                       [&](const RunRecord* run) { return run->upid == upid; });
  }
  // The observed change of schedule or enabled flag, as a last-run time:
  // a first sighting counts only when HISTORY (the latest run known from
  // elsewhere) is nothing.
  int64_t Observed(int64_t history) const {
    if (!facts_.observed_change) return 0;
    if (facts_.observed_first_sighting && history > 0) return 0;
    return *facts_.observed_change;
  }
  std::string NextRunWords() const {
    if (pending_) {
      return "; the run due " + Time(*pending_) + " has not started yet (missed at " +
             Time(*pending_ + grace_) + ")";
    }
    return next_run_ ? "; next run " + Time(*next_run_) : "; no run scheduled";
  }

  const JobFacts& facts_;
  const std::string& node_;
  const int64_t now_;
  const int64_t grace_;
  const RunRecord* latest_ = nullptr;
  const RunRecord* last_ended_ = nullptr;
  int64_t record_start_ = 0;
  int64_t last_start_ = 0;
  std::optional<int64_t> next_run_;
  std::optional<int64_t> pending_;  // due, not started, still within the grace
  bool scheduled_ = false;
  CalendarEvent event_;
};

bool Judge::RunsHere(std::string* why) const {
  const BackupJob& job = *facts_.job;
  if (!job.node.empty() && job.node != node_) {
    *why = "the job runs on node " + job.node + " only";
    return false;
  }
  if (facts_.placement && !facts_.placement->runs_here) {
    *why = facts_.placement->why;
    return false;
  }
  return true;
}

JobStatus Judge::Run() {
  if (facts_.job == nullptr) {
    return Make(JobState::kGone, false,
                "no such job any more: backup job " + facts_.job_id +
                    " has a monitor here, but PVE lists no such job");
  }
  const BackupJob& job = *facts_.job;
  if (!job.enabled) return Make(JobState::kDisabled, false, "disabled: no backups are made");

  last_start_ = std::max({record_start_, facts_.scheduler.LastStart().value_or(0),
                          Observed(std::max(record_start_,
                                            facts_.scheduler.LastStart().value_or(0)))});
  std::string schedule_error;
  if (!ReadSchedule(&schedule_error)) {
    return Make(JobState::kUnknown, false,
                "cannot tell when the job is due: " + schedule_error);
  }
  if (auto running = WhileRunning()) return *running;
  std::string elsewhere;
  if (!RunsHere(&elsewhere)) {
    return Make(JobState::kNotHere, true, "nothing to back up on this node: " + elsewhere);
  }
  if (auto missed = Missed()) return *missed;
  return ByNewestEvent();
}

bool Judge::ReadSchedule(std::string* error) {
  const BackupJob& job = *facts_.job;
  scheduled_ = !job.schedule.empty();
  if (scheduled_ && !ParseCalendarEvent(job.schedule, &event_, error)) return false;
  if (job.IsLegacy()) event_.skipped_time = SkippedTimeRule::kRunAfterJump;
  if (scheduled_) next_run_ = NextRun(event_, now_);
  return true;
}

std::optional<JobStatus> Judge::WhileRunning() const {
  if (facts_.running != nullptr) {
    // A run that was missed before this one began stays the news until
    // this one ends.
    const int64_t running_start = RunStart(*facts_.running);
    int64_t before = 0;
    for (const RunRecord* run : facts_.runs) {
      if (run != facts_.running) before = std::max(before, RunStart(*run));
    }
    if (facts_.scheduler.upid != facts_.running->upid) {
      before = std::max(before, std::min(running_start - 1,
                                         facts_.scheduler.LastStart().value_or(0)));
    }
    before = std::max(before, Observed(before));
    const std::optional<int64_t> due = scheduled_ ? NextRun(event_, before) : std::nullopt;
    const bool missed = due && *due + grace_ <= running_start;
    std::string previous = last_ended_ != nullptr
                               ? "; " + LastRunWords(last_ended_, facts_.scheduler)
                               : "; no earlier run on record";
    if (missed) previous = "; before it, the run due " + Time(*due) + " did not start";
    return Make(JobState::kRunning,
                !missed && (last_ended_ == nullptr || Verdict(*last_ended_).first),
                "running since " + Time(running_start) + previous);
  }
  // The worker lives on for a moment after job-end (it finishes the task
  // log): a run the hook has judged is over, whatever the state file says.
  if (facts_.scheduler.state == "started" && facts_.scheduler_worker_alive &&
      !EndedUpid(facts_.scheduler.upid)) {
    return Make(JobState::kRunning, last_ended_ == nullptr || Verdict(*last_ended_).first,
                "running since " + Time(facts_.scheduler.upid_start) + " (started by the "
                "scheduler); " + LastRunWords(last_ended_, facts_.scheduler));
  }
  return std::nullopt;
}

std::optional<JobStatus> Judge::Missed() {
  if (!scheduled_) return std::nullopt;
  const std::optional<int64_t> due = NextRun(event_, last_start_);
  if (due && now_ >= *due + grace_) {
    JobStatus status = Make(JobState::kMissed, false,
                            "run due " + Time(*due) + " did not start (" +
                                LastRunWords(last_ended_, facts_.scheduler) + ")");
    status.due = due;
    return status;
  }
  if (due && now_ >= *due) pending_ = due;
  return std::nullopt;
}

JobStatus Judge::ByNewestEvent() const {
  const SchedulerState& scheduler = facts_.scheduler;
  if (!scheduler.upid.empty() && scheduler.upid_start > record_start_ &&
      !SawUpid(scheduler.upid) && facts_.observed_first_sighting && facts_.observed_change &&
      scheduler.upid_start < *facts_.observed_change) {
    // A run from before pbk-agent watched the job: the scheduler's word on
    // it is all there is, and it is no sign of a missing hook.
    const bool ok = scheduler.state == "stopped" && scheduler.msg == "OK";
    const std::string verdict = scheduler.state != "stopped" ? "ended"
                                : ok                          ? "OK"
                                                              : OneLine(scheduler.msg);
    return Make(ok || scheduler.state != "stopped" ? JobState::kOk : JobState::kFailed,
                ok || scheduler.state != "stopped",
                "last run " + Time(scheduler.upid_start) + ": " + verdict +
                    " (the scheduler's record; before pbk-agent watched this job)" +
                    NextRunWords());
  }
  if (!scheduler.upid.empty() && scheduler.upid_start > record_start_ &&
      !SawUpid(scheduler.upid)) {
    return Make(JobState::kWithoutHook, false,
                "ran without the hook: the scheduler started a run at " +
                    Time(scheduler.upid_start) +
                    " that pbk-agent's hook never saw (run pbk-agent guard; pbk-agent verify "
                    "tells why)");
  }
  if (scheduler.state == "stopped" && scheduler.upid.empty() && scheduler.time &&
      *scheduler.time > record_start_) {
    if (scheduler.msg == "OK") {
      std::string where;
      if (facts_.placement) where = " (" + facts_.placement->why + ")";
      return Make(JobState::kNotHere, true,
                  "the scheduler ran it at " + Time(*scheduler.time) +
                      " with no guest of the job on this node" + where + NextRunWords());
    }
    return Make(JobState::kNotStarted, false,
                "the scheduler could not start it at " + Time(*scheduler.time) + ": " +
                    OneLine(scheduler.msg));
  }
  if (latest_ != nullptr && latest_->end_phase.empty()) {
    return Make(JobState::kVanished, false,
                "the run started " + Time(record_start_) +
                    " never ended: its vzdump worker is gone without job-end or job-abort "
                    "(killed, or it timed out waiting for the backup lock)" +
                    (latest_->upid.empty() ? "" : "; task " + latest_->upid));
  }
  if (last_ended_ != nullptr) {
    const auto [up, message] = Verdict(*last_ended_);
    std::string text = message;
    if (StartsWith(text, node_ + ": ")) text = text.substr(node_.size() + 2);
    return Make(up ? JobState::kOk : JobState::kFailed, up,
                "last run " + Time(RunStart(*last_ended_)) + ": " + text + NextRunWords());
  }
  return Make(JobState::kNoRunYet, true, "no run on record yet" + NextRunWords());
}

}  // namespace

JobStatus JudgeJob(const JobFacts& facts, const std::string& node, int64_t now,
                   int64_t grace_seconds) {
  return Judge(facts, node, now, grace_seconds).Run();
}

}  // namespace pbk
