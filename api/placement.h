// Will a backup job run on this node? A cluster-wide job runs on every node
// it applies to, but only for that node's guests: an "all" job runs its job
// phases everywhere (with or without local guests), a vmid or pool job only
// where at least one of its guests is now, and a job restricted to a node
// only there. Guests migrate, so the answer changes.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "backup_job.h"
#include "guests.h"

namespace pbk {

struct Placement {
  bool runs_here = false;
  std::vector<int> guests_here;  // the guests a run here would back up
  // The job's guests on other nodes, as (vmid, node); unknown vmids get "".
  std::vector<std::pair<int, std::string>> guests_elsewhere;
  std::string why;  // in words, for verify and jobs
};

Placement PlaceJob(const BackupJob& job, const std::vector<Guest>& guests,
                   const std::string& node);

}  // namespace pbk
