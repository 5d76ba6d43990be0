#include "hook/job_identity.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "agent/core/fs.h"
#include "api/pve/placement.h"
#include "agent/core/text.h"
#include "hook/run_options.h"

namespace pbk {

std::string FindScheduledJob(const std::string& scheduler_dir, const std::string& upid,
                             std::vector<std::string>* notes) {
  if (upid.empty()) return {};
  std::vector<std::string> names;
  std::string err;
  if (!ListDir(scheduler_dir, &names, &err)) {
    notes->push_back(err);
    return {};
  }
  for (const auto& name : names) {
    if (!StartsWith(name, "vzdump-") || !EndsWith(name, ".json")) continue;
    std::string text;
    if (!ReadFile(JoinPath(scheduler_dir, name), &text, &err)) {
      notes->push_back(err);
      continue;
    }
    auto state = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!state.is_object()) {
      notes->push_back(JoinPath(scheduler_dir, name) + ": not a JSON object");
      continue;
    }
    auto it = state.find("upid");
    if (it != state.end() && it->is_string() && it->get<std::string>() == upid) {
      return name.substr(7, name.size() - 7 - 5);
    }
  }
  return {};
}

bool JobFitsRun(const BackupJob& job, const RunRecord& record, const std::string& node) {
  if (!job.node.empty() && job.node != node) return false;
  // A job without "storage" uses the node's default; it cannot be ruled out.
  if (!job.storage.empty() && !record.storage.empty() && job.storage != record.storage) {
    return false;
  }
  auto contains = [](const std::vector<int>& list, int vmid) {
    return std::find(list.begin(), list.end(), vmid) != list.end();
  };
  if (job.all) {
    return std::none_of(record.guests.begin(), record.guests.end(),
                        [&](const GuestRecord& g) { return contains(job.exclude, g.vmid); });
  }
  // vmid and pool jobs run no phase at all on a node without their guests.
  if (record.guests.empty()) return false;
  if (!job.vmids.empty()) {
    return std::all_of(record.guests.begin(), record.guests.end(),
                       [&](const GuestRecord& g) { return contains(job.vmids, g.vmid); });
  }
  // Pool membership is not known here; a pool job stays a candidate.
  return !job.pool.empty();
}

namespace {

JobIdentity Found(const std::string& job_id, const std::string& source) {
  JobIdentity identity;
  identity.match = JobMatch::kFound;
  identity.found = true;
  identity.job_id = job_id;
  identity.source = source;
  return identity;
}

JobIdentity NotFound(JobMatch match, const std::string& problem,
                     std::vector<std::string> candidates = {}) {
  JobIdentity identity;
  identity.match = match;
  identity.problem = problem;
  identity.candidates = std::move(candidates);
  return identity;
}

// The jobs whose options are the run's. A job restricted to another node
// cannot have run here.
JobIdentity IdentifyByOptions(const JobCache& cache, const RunOptions& run,
                              const std::string& node) {
  const OptionSet options = NormalizeRunOptions(run);
  std::vector<std::string> matching;
  for (const auto& job : cache.jobs) {
    if (!job.node.empty() && job.node != node) continue;
    if (OptionDifference(options, NormalizeJobOptions(job.options)).empty()) {
      matching.push_back(job.id);
    }
  }
  if (matching.size() == 1) {
    return Found(matching.front(), "the run's options in its task log are the job's");
  }
  if (matching.empty()) {
    return NotFound(JobMatch::kNoJob, "the run's options in its task log are no backup job's");
  }
  return NotFound(JobMatch::kAmbiguous,
                  std::to_string(matching.size()) +
                      " jobs have exactly the run's options (task log): " + Join(matching, ", "),
                  matching);
}

// Whether JOB, placed on NODE now, backs up the run's guests: exactly
// these, or for an aborted run (which stops before its last guests) at
// least these.
bool BacksUpTheseGuests(const BackupJob& job, const GuestIndex& index, const RunRecord& record,
                        const std::string& node) {
  std::vector<int> run_guests;
  for (const auto& guest : record.guests) run_guests.push_back(guest.vmid);
  std::sort(run_guests.begin(), run_guests.end());
  std::vector<int> here = PlaceJob(job, index, node).guests_here;
  std::sort(here.begin(), here.end());
  if (record.end_phase == "job-abort") {
    return std::includes(here.begin(), here.end(), run_guests.begin(), run_guests.end());
  }
  return here == run_guests;
}

// Without the run's options: the jobs that fit its storage, node and
// guests, narrowed by where the guests are now (LIST_GUESTS) to those that
// back up exactly these guests here.
JobIdentity IdentifyByFit(const JobCache& cache, const RunRecord& record, const std::string& node,
                          const GuestLister& list_guests, const std::string& why_not) {
  std::vector<std::string> vmids;
  for (const auto& guest : record.guests) vmids.push_back(std::to_string(guest.vmid));
  std::sort(vmids.begin(), vmids.end());
  const std::string run_words =
      "storage " + (record.storage.empty() ? std::string("unknown") : record.storage) +
      ", guests " + (vmids.empty() ? std::string("none") : Join(vmids, ","));
  std::vector<const BackupJob*> fitting;
  std::vector<std::string> ids;
  for (const auto& job : cache.jobs) {
    if (JobFitsRun(job, record, node)) {
      fitting.push_back(&job);
      ids.push_back(job.id);
    }
  }
  if (fitting.empty()) {
    return NotFound(JobMatch::kNoJob, why_not + ", and no cached job matches " + run_words);
  }
  std::vector<Guest> guests;
  std::string why;
  if (!list_guests || !list_guests(&guests, &why)) {
    if (fitting.size() == 1) {
      JobIdentity identity = Found(ids.front(), "the only job matching " + run_words);
      identity.inferred = true;
      return identity;
    }
    return NotFound(JobMatch::kAmbiguous,
                    why_not + ", and " + std::to_string(ids.size()) + " jobs match " + run_words +
                        ": " + Join(ids, ", ") +
                        (list_guests ? "; where the guests are could not be read (" + why + ")"
                                     : std::string()),
                    ids);
  }
  const GuestIndex index(guests);
  std::vector<std::string> exact;
  for (const BackupJob* job : fitting) {
    if (BacksUpTheseGuests(*job, index, record, node)) exact.push_back(job->id);
  }
  if (exact.size() == 1) {
    JobIdentity identity =
        Found(exact.front(), "the only job whose guests on this node are exactly " + run_words);
    identity.inferred = true;
    return identity;
  }
  if (exact.empty()) {
    return NotFound(JobMatch::kNoJob, why_not + ", and no cached job backs up exactly " +
                                          run_words + " here (" + Join(ids, ", ") +
                                          " back up other guests)");
  }
  return NotFound(JobMatch::kAmbiguous,
                  why_not + ", and " + std::to_string(exact.size()) +
                      " jobs back up exactly " + run_words + " here: " + Join(exact, ", "),
                  exact);
}

}  // namespace

JobIdentity IdentifyJob(const std::string& scheduler_dir, const std::string& job_cache_path,
                        const RunRecord& record, const std::string& node,
                        const GuestLister& list_guests, const std::string& tasks_dir) {
  std::vector<std::string> notes;
  std::string scheduled = FindScheduledJob(scheduler_dir, record.upid, &notes);
  if (!scheduled.empty()) return Found(scheduled, "scheduler");

  std::string why_not =
      record.upid.empty() ? "the hook's parent is not a vzdump task worker"
                          : "no scheduler file in " + scheduler_dir + " names this run";
  JobCache cache;
  bool exists = false;
  std::string err;
  if (!LoadJobCache(job_cache_path, &cache, &exists, &err) || !exists) {
    return NotFound(JobMatch::kUnknown,
                    why_not + " (a \"Run now\", CLI or vzdump.cron run?) and " +
                        (exists ? "the cached job list is unreadable: " + err
                                : "no job list is cached yet (run: pbk-agent guard)"));
  }
  RunOptions options;
  if (!tasks_dir.empty() && !record.upid.empty()) {
    if (ReadRunOptions(tasks_dir, record.upid, &options, &err)) {
      return IdentifyByOptions(cache, options, node);
    }
    why_not += "; " + err;
  }
  return IdentifyByFit(cache, record, node, list_guests, why_not);
}

}  // namespace pbk
