#include "agent/node_view.h"

#include <sys/stat.h>

#include <algorithm>
#include <set>

#include "agent/core/fs.h"
#include "hook/job_identity.h"
#include "agent/pve_access.h"
#include "hook/spool.h"
#include "agent/core/text.h"
#include "hook/worker.h"

namespace pbk {

namespace {

// A spooled push older than this is stuck: flush runs every timer period.
constexpr int64_t kStuckAfterMs = 3LL * kTimerPeriodMinutes * 60 * 1000;

std::string VmidList(const std::vector<int>& vmids) {
  std::vector<std::string> words;
  for (int vmid : vmids) words.push_back(std::to_string(vmid));
  if (words.size() > 10) {
    const size_t more = words.size() - 10;
    words.resize(10);
    words.push_back("+" + std::to_string(more) + " more");
  }
  return Join(words, ", ");
}

}  // namespace

NodeView::NodeView(const Config& config, const PveAccess& pve, int64_t now)
    : config_(config), state_(config.paths.state_dir), now_(now) {
  std::string err;
  jobs_known_ = ReadJobs(pve, state_.JobCache(), &jobs_, &source_, &warnings_, &err);
  if (!jobs_known_) jobs_problem_ = err;
  for (const auto& job : jobs_) by_id_[job.id] = &job;

  guests_known_ = ReadGuests(pve, &guests_, &err);
  if (!guests_known_) guests_problem_ = err;
  index_ = std::make_unique<GuestIndex>(guests_);

  LoadRuns();

  if (!LoadRefreshMemory(state_.RefreshState(), &memory_, &err)) {
    warnings_.push_back(err);
  }
  if (jobs_known_) ObserveJobs(jobs_, now_, &memory_);
}

namespace {

// When the folder of run records last changed: every record is written by
// rename, which changes it.
int64_t RunsChanged(const StateLayout& state) {
  struct stat st {};
  if (stat(state.RunsDir().c_str(), &st) != 0) return 0;
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

// The newest run first. Two workers of one job may start in the same
// second (the scheduler and a "Run now"): the one whose job started later
// (after waiting for the backup lock), then the one that ended later, wins.
bool Newer(const RunRecord* a, const RunRecord* b) {
  if (RunStart(*a) != RunStart(*b)) return RunStart(*a) > RunStart(*b);
  const int64_t a_began = a->job_start_ms > 0 ? a->job_start_ms : a->first_ms;
  const int64_t b_began = b->job_start_ms > 0 ? b->job_start_ms : b->first_ms;
  if (a_began != b_began) return a_began > b_began;
  return a->end_ms > b->end_ms;
}

}  // namespace

void NodeView::LoadRuns() {
  runs_changed_ = RunsChanged(state_);
  std::vector<std::string> bad;
  runs_ = LoadAllRunRecords(state_, &bad);
  for (const auto& line : bad) warnings_.push_back("run record skipped: " + line);
  runs_by_job_.clear();
  const std::string cache = state_.JobCache();
  for (const auto& run : runs_) {
    std::string job_id = run.job_id;
    if (job_id.empty() && run.end_phase.empty()) {
      // A run still going on (or whose worker died) is not attributed yet.
      JobIdentity identity = IdentifyJob(config_.paths.scheduler_dir, cache, run, config_.node);
      if (identity.found) job_id = identity.job_id;
    }
    if (!job_id.empty()) runs_by_job_[job_id].push_back(&run);
  }
  for (auto& [id, list] : runs_by_job_) std::stable_sort(list.begin(), list.end(), Newer);
}

bool NodeView::SaveObservations(std::string* err) const {
  if (!jobs_known_) return true;
  if (!MakeDirs(state_.StateDir(), 0700, err)) return false;
  return SaveRefreshMemory(state_.RefreshState(), memory_, err);
}

std::vector<std::string> NodeView::MonitoredJobs() const {
  std::vector<std::string> ids;
  for (const auto& [id, job] : config_.jobs) ids.push_back(id);
  return ids;
}

std::optional<Placement> NodeView::PlacementOf(const BackupJob& job) const {
  if (!guests_known_) return std::nullopt;
  auto [it, inserted] = placements_.try_emplace(job.id);
  if (inserted) it->second = PlaceJob(job, *index_, config_.node);
  return it->second;
}

JobFacts NodeView::FactsOf(const std::string& job_id) const {
  JobFacts facts;
  facts.job_id = job_id;
  auto job = by_id_.find(job_id);
  if (job != by_id_.end()) {
    facts.job = job->second;
    facts.placement = PlacementOf(*job->second);
  } else if (!jobs_known_) {
    // Unknown is not gone: judge by what is on this node alone.
    facts.job = nullptr;
  }
  if (auto runs = runs_by_job_.find(job_id); runs != runs_by_job_.end()) {
    facts.runs = runs->second;
  }
  for (const RunRecord* run : facts.runs) {
    if (!run->end_phase.empty()) continue;
    uint64_t pid = 0, ticks = 0;
    if (RunWorker(run->upid, run->key, &pid, &ticks) &&
        WorkerAlive(config_.paths.proc, pid, ticks)) {
      facts.running = run;
      break;
    }
  }
  std::string err;
  if (!LoadSchedulerState(config_.paths.scheduler_dir, job_id, &facts.scheduler, &err)) {
    facts.scheduler = SchedulerState{};
  }
  Upid upid;
  if (!facts.scheduler.upid.empty() && ParseUpid(facts.scheduler.upid, &upid)) {
    facts.scheduler_worker_alive = WorkerAlive(config_.paths.proc, upid.pid, upid.pstart);
  }
  if (auto observed = memory_.jobs.find(job_id); observed != memory_.jobs.end()) {
    facts.observed_change = observed->second.since;
    facts.observed_first_sighting = observed->second.first_sighting;
  }
  return facts;
}

JobStatus NodeView::StatusOf(const std::string& job_id) {
  // Asked with the job's lock held: a hook that pushed just before saved
  // its record first, so what it did is read, not what was there before.
  if (RunsChanged(state_) != runs_changed_) LoadRuns();
  if (!jobs_known_) {
    JobStatus status;
    status.state = JobState::kUnknown;
    status.message = config_.node + ": state unknown: " + jobs_problem_;
    return status;
  }
  return JudgeJob(FactsOf(job_id), config_.node, now_,
                  int64_t{config_.refresh.start_grace_minutes} * 60);
}

NodeHealth NodeView::Health() const {
  NodeHealth health;
  auto& problems = health.problems;
  if (!jobs_known_) problems.push_back("the job list cannot be read: " + jobs_problem_);
  if (!guests_known_) {
    problems.push_back("where the guests are cannot be read (" + guests_problem_ +
                       "): jobs without a monitor and unprotected guests go unseen");
  }
  const std::set<std::string> excluded(config_.guard.exclude.begin(),
                                       config_.guard.exclude.end());
  std::set<int> covered;
  std::vector<std::string> unmonitored, without_hook;
  int runs_here = 0;
  for (const auto& job : jobs_) {
    if (!job.enabled) continue;
    std::optional<Placement> placement = PlacementOf(job);
    if (placement) covered.insert(placement->guests_here.begin(), placement->guests_here.end());
    const bool here = (job.node.empty() || job.node == config_.node) &&
                      (!placement || placement->runs_here);
    if (!here) continue;
    ++runs_here;
    if (config_.jobs.count(job.id) == 0 && excluded.count(job.id) == 0) {
      unmonitored.push_back(job.id);
    }
    if (job.script != config_.paths.hook_script && excluded.count(job.id) == 0) {
      without_hook.push_back(job.id + (job.script.empty() ? " (no hook)" : " (" + job.script + ")"));
    }
  }
  if (!unmonitored.empty()) {
    problems.push_back("job(s) running here without a monitor: " + Join(unmonitored, ", "));
  }
  if (!without_hook.empty()) {
    problems.push_back("the hook is not in effect for job(s) " + Join(without_hook, ", "));
  }
  if (guests_known_) {
    std::vector<int> unprotected;
    for (const auto& guest : guests_) {
      if (guest.node == config_.node && !guest.is_template && covered.count(guest.vmid) == 0) {
        unprotected.push_back(guest.vmid);
      }
    }
    std::sort(unprotected.begin(), unprotected.end());
    if (!unprotected.empty()) {
      problems.push_back("guest(s) " + VmidList(unprotected) +
                         " on this node are in no enabled backup job");
    }
  }
  std::vector<std::string> bad;
  const std::vector<SpooledPush> spooled = ListSpool(state_, &bad);
  int stuck = 0;
  int64_t oldest = 0;
  for (const auto& entry : spooled) {
    if (now_ * 1000 - entry.created_ms < kStuckAfterMs) continue;
    if (stuck++ == 0) oldest = entry.created_ms;
  }
  if (stuck > 0) {
    problems.push_back(std::to_string(stuck) + " push(es) stuck in the spool since " +
                       FormatLocalTime(oldest) + " (pbk-agent flush tells why)");
  }
  const std::vector<SpooledPush> failed = ListFailedSpool(state_, &bad);
  if (!failed.empty()) {
    problems.push_back(std::to_string(failed.size()) + " push(es) that can never be delivered in " +
                       state_.FailedDir() + "/ (pbk-agent verify lists them)");
  }
  if (!bad.empty()) problems.push_back("unreadable spool entries: " + bad.front());

  health.up = problems.empty();
  if (health.up) {
    health.message = config_.node + ": pbk-agent OK: " + std::to_string(runs_here) +
                     " job(s) run here, all monitored, the hook in effect for each, spool empty";
  } else {
    health.message = TruncateUtf8(config_.node + ": " + Join(problems, "; "), 1400);
  }
  return health;
}

}  // namespace pbk
