#include "hook/job_identity.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "agent/core/fs.h"
#include "api/pve/placement.h"
#include "agent/core/text.h"

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

JobIdentity IdentifyJob(const std::string& scheduler_dir, const std::string& job_cache_path,
                        const RunRecord& record, const std::string& node,
                        const GuestLister& list_guests) {
  JobIdentity identity;
  std::vector<std::string> notes;
  std::string scheduled = FindScheduledJob(scheduler_dir, record.upid, &notes);
  if (!scheduled.empty()) {
    identity.found = true;
    identity.job_id = scheduled;
    identity.source = "scheduler";
    return identity;
  }

  std::vector<std::string> vmids;
  for (const auto& guest : record.guests) vmids.push_back(std::to_string(guest.vmid));
  std::sort(vmids.begin(), vmids.end());
  const std::string run_words =
      "storage " + (record.storage.empty() ? std::string("unknown") : record.storage) +
      ", guests " + (vmids.empty() ? std::string("none") : Join(vmids, ","));

  std::string why_not_scheduled =
      record.upid.empty() ? "the hook's parent is not a vzdump task worker"
                          : "no scheduler file in " + scheduler_dir + " names this run";
  JobCache cache;
  bool exists = false;
  std::string err;
  if (!LoadJobCache(job_cache_path, &cache, &exists, &err) || !exists) {
    identity.problem = why_not_scheduled + " (a \"Run now\", CLI or vzdump.cron run?) and " +
                       (exists ? "the cached job list is unreadable: " + err
                               : "no job list is cached yet (run: pbk-agent guard)");
    return identity;
  }
  std::vector<const BackupJob*> fitting;
  for (const auto& job : cache.jobs) {
    if (JobFitsRun(job, record, node)) {
      identity.candidates.push_back(job.id);
      fitting.push_back(&job);
    }
  }
  if (identity.candidates.size() == 1) {
    identity.found = true;
    identity.job_id = identity.candidates.front();
    identity.source = "the only job matching " + run_words;
    return identity;
  }
  // Several fit: a run of a job backs up exactly that job's guests on this
  // node, which only the current placement of the guests tells.
  std::string placement_note;
  if (fitting.size() > 1 && list_guests) {
    std::vector<Guest> guests;
    std::string why;
    if (list_guests(&guests, &why)) {
      std::vector<int> run_guests;
      for (const auto& guest : record.guests) run_guests.push_back(guest.vmid);
      std::sort(run_guests.begin(), run_guests.end());
      std::vector<std::string> exact;
      const GuestIndex index(guests);
      for (const BackupJob* job : fitting) {
        if (PlaceJob(*job, index, node).guests_here == run_guests) exact.push_back(job->id);
      }
      if (exact.size() == 1) {
        identity.found = true;
        identity.job_id = exact.front();
        identity.source = "the only job whose guests on this node are exactly " + run_words;
        return identity;
      }
      placement_note = exact.empty() ? "; none backs up exactly these guests here"
                                     : "; " + std::to_string(exact.size()) +
                                           " back up exactly these guests here";
    } else {
      placement_note = "; where the guests are could not be read (" + why + ")";
    }
  }
  identity.problem = why_not_scheduled + ", and " +
                     (identity.candidates.empty()
                          ? "no cached job matches " + run_words
                          : std::to_string(identity.candidates.size()) + " jobs match " + run_words +
                                ": " + Join(identity.candidates, ", ") + placement_note);
  return identity;
}

}  // namespace pbk
