#include "api/pve/placement.h"

#include <algorithm>
#include <map>

#include "agent/core/text.h"

namespace pbk {
namespace {

// "101, 102, 103", or the first ten and "and 990 more": a node with a
// thousand guests must not fill a screen per job.
std::string VmidList(const std::vector<int>& vmids) {
  constexpr size_t kShown = 10;
  std::vector<std::string> text;
  for (size_t i = 0; i < vmids.size() && i < kShown; ++i) text.push_back(std::to_string(vmids[i]));
  std::string list = Join(text, ", ");
  if (vmids.size() > kShown) list += " and " + std::to_string(vmids.size() - kShown) + " more";
  return list;
}

// "101, 102 are now on pve2; 103 on pve3"
std::string Elsewhere(const std::vector<std::pair<int, std::string>>& guests) {
  std::map<std::string, std::vector<int>> by_node;
  for (const auto& [vmid, node] : guests) by_node[node].push_back(vmid);
  std::vector<std::string> parts;
  for (const auto& [node, vmids] : by_node) {
    parts.push_back(VmidList(vmids) + (node.empty() ? " exist nowhere in the cluster"
                                                    : (vmids.size() == 1 ? " is" : " are") +
                                                          std::string(" on ") + node));
  }
  return Join(parts, "; ");
}

}  // namespace

GuestIndex::GuestIndex(const std::vector<Guest>& guests) : guests_(guests) {
  by_vmid_.reserve(guests.size());
  for (const auto& guest : guests) {
    by_vmid_.emplace(guest.vmid, &guest);  // a duplicate vmid: the first entry counts
    if (!guest.pool.empty()) by_pool_[guest.pool].push_back(guest.vmid);
  }
}

const Guest* GuestIndex::Find(int vmid) const {
  auto it = by_vmid_.find(vmid);
  return it == by_vmid_.end() ? nullptr : it->second;
}

const std::vector<int>& GuestIndex::PoolMembers(const std::string& pool) const {
  static const std::vector<int> kNone;
  auto it = by_pool_.find(pool);
  return it == by_pool_.end() ? kNone : it->second;
}

Placement PlaceJob(const BackupJob& job, const std::vector<Guest>& guests,
                   const std::string& node) {
  return PlaceJob(job, GuestIndex(guests), node);
}

Placement PlaceJob(const BackupJob& job, const GuestIndex& index, const std::string& node) {
  const std::vector<Guest>& guests = index.guests();
  Placement placement;
  if (!job.node.empty() && job.node != node) {
    placement.why = "the job is restricted to node " + job.node;
    return placement;
  }
  auto excluded = [&](int vmid) {
    return std::find(job.exclude.begin(), job.exclude.end(), vmid) != job.exclude.end();
  };
  if (job.all) {
    for (const auto& guest : guests) {
      if (guest.node == node && !excluded(guest.vmid)) placement.guests_here.push_back(guest.vmid);
    }
    placement.runs_here = true;
    placement.why = placement.guests_here.empty()
                        ? "all guests: none is on this node, but the job still runs here"
                        : "all guests: " + VmidList(placement.guests_here) + " on this node";
  } else {
    std::vector<int> members = job.vmids;
    if (!job.pool.empty()) {
      const std::vector<int>& pool = index.PoolMembers(job.pool);
      members.insert(members.end(), pool.begin(), pool.end());
    }
    std::sort(members.begin(), members.end());
    members.erase(std::unique(members.begin(), members.end()), members.end());
    for (int vmid : members) {
      const Guest* guest = index.Find(vmid);
      if (guest != nullptr && guest->node == node) {
        placement.guests_here.push_back(vmid);
      } else {
        placement.guests_elsewhere.emplace_back(vmid, guest != nullptr ? guest->node : "");
      }
    }
    placement.runs_here = !placement.guests_here.empty();
    const std::string what = job.pool.empty() ? "guests" : "pool " + job.pool;
    if (placement.runs_here) {
      placement.why = what + ": " + VmidList(placement.guests_here) + " on this node";
    } else if (members.empty()) {
      placement.why = what + ": no guest at all";
    } else {
      placement.why = what + ": none on this node (" + Elsewhere(placement.guests_elsewhere) + ")";
    }
  }
  std::sort(placement.guests_here.begin(), placement.guests_here.end());
  return placement;
}

}  // namespace pbk
