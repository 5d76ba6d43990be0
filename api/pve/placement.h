// Will a backup job run on this node? A cluster-wide job runs on every node
// it applies to, but only for that node's guests: an "all" job runs its job
// phases everywhere (with or without local guests), a vmid or pool job only
// where at least one of its guests is now, and a job restricted to a node
// only there. Guests migrate, so the answer changes.
#pragma once

#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "api/pve/backup_job.h"
#include "api/pve/guests.h"

namespace pbk {

struct Placement {
  bool runs_here = false;
  std::vector<int> guests_here;  // the guests a run here would back up
  // The job's guests on other nodes, as (vmid, node); unknown vmids get "".
  std::vector<std::pair<int, std::string>> guests_elsewhere;
  std::string why;  // in words, for verify and jobs
};

// The guests looked up by vmid and by pool, built once for many jobs.
class GuestIndex {
 public:
  explicit GuestIndex(const std::vector<Guest>& guests);
  const Guest* Find(int vmid) const;
  const std::vector<int>& PoolMembers(const std::string& pool) const;
  const std::vector<Guest>& guests() const { return guests_; }

 private:
  const std::vector<Guest>& guests_;
  std::unordered_map<int, const Guest*> by_vmid_;
  std::map<std::string, std::vector<int>> by_pool_;
};

// Takes the time of the job's guests (a vmid or pool job) or of the guests
// (an "all" job), never of all guests for each member.
Placement PlaceJob(const BackupJob& job, const GuestIndex& guests, const std::string& node);
Placement PlaceJob(const BackupJob& job, const std::vector<Guest>& guests,
                   const std::string& node);

}  // namespace pbk
