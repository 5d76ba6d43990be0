// Which backup job a run belongs to.
//
// Scheduled runs: the scheduler's vzdump-<jobid>.json whose "upid" is the
// run's worker. Runs without one ("Run now", the CLI, legacy vzdump.cron):
// the job list cached by the guard, when exactly one job fits the run's
// storage, node and guests. Otherwise no guess: a wrong guess would report a
// result to the wrong monitor.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "api/pve/backup_job.h"
#include "api/pve/guests.h"
#include "hook/run_record.h"

namespace pbk {

struct JobIdentity {
  bool found = false;
  std::string job_id;
  std::string source;                   // how it was found, in words
  std::string problem;                  // why not, in words
  std::vector<std::string> candidates;  // when several jobs fit
};

// Looks for SCHEDULER_DIR/vzdump-*.json naming UPID. Unreadable files are
// skipped (*notes says which).
std::string FindScheduledJob(const std::string& scheduler_dir, const std::string& upid,
                             std::vector<std::string>* notes);

// Whether JOB could have produced the run in RECORD on NODE.
bool JobFitsRun(const BackupJob& job, const RunRecord& record, const std::string& node);

// Reads where the guests are now; asked only when several jobs fit a run.
using GuestLister = std::function<bool(std::vector<Guest>* guests, std::string* err)>;

// When several cached jobs fit, LIST_GUESTS (if given) tells which of them
// would back up exactly the run's guests on this node now.
JobIdentity IdentifyJob(const std::string& scheduler_dir, const std::string& job_cache_path,
                        const RunRecord& record, const std::string& node,
                        const GuestLister& list_guests = nullptr);

}  // namespace pbk
