// What `pbk-agent refresh` pushes: every monitored job's CURRENT state, and
// the node's own health.
//
// Kuma's missed-heartbeat timer restarts with Kuma, so a monitor whose
// interval is longer than the time between two Kuma restarts never turns
// DOWN. Refresh therefore pushes every few minutes, and every monitor uses
// one short interval; the agent itself decides when a run was due and did
// not happen, following pvescheduler (pve-manager PVE/Jobs.pm run_jobs):
//
//   a job runs when compute_next_event(schedule, last_run) has passed, in
//   the node's local time, only on its `node` if set, only when enabled.
//
// The last run is the latest of: this node's run records of the job, the
// scheduler's state file vzdump-<id>.json (the UPID's start, else its
// `time`), and the last change of the job's schedule or enabled flag that
// pbk-agent observed (when it first sees a job, that sighting counts only
// where neither of the others tells anything). The state file's `updated` is NOT used: pvescheduler
// sets it at every start of the scheduler when repeat-missed is off, which
// would forgive a run missed while the node was down. A missed run stays
// missed until a later run starts.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api/pve/backup_job.h"
#include "api/pve/placement.h"
#include "hook/run_record.h"

namespace pbk {

// /var/lib/pve-manager/jobs/vzdump-<id>.json, as pvescheduler writes it:
// {"state": "created"|"starting"|"started"|"stopped", "upid": …, "msg": …,
//  "time": …, "updated": …, "config": {"schedule": …, "enabled": …}}.
struct SchedulerState {
  bool exists = false;
  std::string state;
  std::string upid;
  std::string msg;
  std::optional<int64_t> time;  // seconds since the epoch
  int64_t upid_start = 0;       // the UPID's start time, when there is one

  // The start of the last run as pvescheduler counts it, without `updated`.
  std::optional<int64_t> LastStart() const;
};

bool ParseSchedulerState(const std::string& text, SchedulerState* state, std::string* err);
// A missing file is no error (exists stays false).
bool LoadSchedulerState(const std::string& scheduler_dir, const std::string& job_id,
                        SchedulerState* state, std::string* err);

// What refresh remembers between runs (StateLayout::RefreshState): when it
// first saw each job's current schedule and enabled flag.
struct ObservedJob {
  std::string schedule;
  bool enabled = true;
  int64_t since = 0;  // seconds since the epoch
  // True when SINCE is only when pbk-agent first saw the job (a fresh
  // install, a lost memory file), not an observed change: it then counts as
  // the last run only when nothing else tells one, or a run missed before
  // the install would be forgiven.
  bool first_sighting = false;
};
struct RefreshMemory {
  std::map<std::string, ObservedJob> jobs;
};
bool LoadRefreshMemory(const std::string& path, RefreshMemory* memory, std::string* err);
bool SaveRefreshMemory(const std::string& path, const RefreshMemory& memory, std::string* err);
// Notes NOW for every job that is new or whose schedule or enabled flag
// changed, and forgets jobs that are gone. True when anything changed.
bool ObserveJobs(const std::vector<BackupJob>& jobs, int64_t now, RefreshMemory* memory);

enum class JobState {
  kOk,           // last run ended ok, nothing due since
  kFailed,       // last run had failed guests or aborted, nothing due since
  kRunning,      // a run is going on; status of the run before it
  kVanished,     // a run's worker is gone without job-end / job-abort
  kMissed,       // a due start passed (plus grace) with no run started for it
  kNotHere,      // runs elsewhere, or the scheduler found no guest here
  kNoRunYet,     // never ran, nothing due yet
  kDisabled,     // job disabled
  kGone,         // mapped, but no such job in PVE any more
  kWithoutHook,  // the scheduler started a run the hook never saw
  kNotStarted,   // the scheduler could not start it
  kUnknown,      // the schedule cannot be read
};
const char* JobStateName(JobState state);

// Everything known about one mapped job on this node.
struct JobFacts {
  std::string job_id;
  const BackupJob* job = nullptr;       // null: not in PVE's job list
  std::optional<Placement> placement;   // nullopt: where the guests are is unknown
  // This node's runs of the job, newest start first (ended or not).
  std::vector<const RunRecord*> runs;
  const RunRecord* running = nullptr;   // a run whose worker is alive, if any
  SchedulerState scheduler;
  bool scheduler_worker_alive = false;  // the state file's UPID still runs
  std::optional<int64_t> observed_change;  // seconds
  bool observed_first_sighting = false;    // see ObservedJob
};

struct JobStatus {
  JobState state = JobState::kUnknown;
  bool up = false;
  std::string message;
  int64_t last_start = 0;           // seconds; 0 when none known
  std::optional<int64_t> due;       // the missed start (kMissed)
  std::optional<int64_t> next_run;  // seconds
};

// The start of a run record in seconds: its UPID's start, else the first
// phase the hook saw.
int64_t RunStart(const RunRecord& run);

// Judges one job at NOW (seconds) with GRACE_SECONDS after a due start.
JobStatus JudgeJob(const JobFacts& facts, const std::string& node, int64_t now,
                   int64_t grace_seconds);

}  // namespace pbk
