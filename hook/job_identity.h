// Which backup job a run belongs to.
//
// Scheduled runs: the scheduler's vzdump-<jobid>.json whose "upid" is the
// run's worker. Runs without one ("Run now", legacy vzdump.cron, a guest's
// "Backup now", the CLI): the run's own options from its task log, compared
// with each job of the list the guard cached (hook/run_options.h); a run
// whose options are no job's belongs to no job. When the task log cannot be
// read: the job that alone fits the run's storage, node and guests, and
// that backs up exactly these guests here now. Otherwise no guess: a wrong
// guess would report a result to the wrong monitor.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "api/pve/backup_job.h"
#include "api/pve/guests.h"
#include "hook/run_record.h"

namespace pbk {

enum class JobMatch {
  kFound,      // job_id is the run's job
  kNoJob,      // the run belongs to no job (a guest's "Backup now", the CLI)
  kAmbiguous,  // several jobs fit: candidates
  kUnknown,    // cannot be told (no job list, no task log and no fit): problem
};

struct JobIdentity {
  JobMatch match = JobMatch::kUnknown;
  bool found = false;  // match == kFound
  std::string job_id;
  std::string source;                   // how it was found, in words
  bool inferred = false;                // from storage and guests, not named by the run
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
// TASKS_DIR (PVE's /var/log/pve/tasks; "" to skip) holds the task logs.
JobIdentity IdentifyJob(const std::string& scheduler_dir, const std::string& job_cache_path,
                        const RunRecord& record, const std::string& node,
                        const GuestLister& list_guests = nullptr,
                        const std::string& tasks_dir = "");

}  // namespace pbk
