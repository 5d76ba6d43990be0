#include "placement.h"

#include <algorithm>
#include <map>

#include "text.h"

namespace pbk {
namespace {

std::string VmidList(const std::vector<int>& vmids) {
  std::vector<std::string> text;
  for (int vmid : vmids) text.push_back(std::to_string(vmid));
  return Join(text, ", ");
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

Placement PlaceJob(const BackupJob& job, const std::vector<Guest>& guests,
                   const std::string& node) {
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
      for (const auto& guest : guests) {
        if (guest.pool == job.pool) members.push_back(guest.vmid);
      }
    }
    std::sort(members.begin(), members.end());
    members.erase(std::unique(members.begin(), members.end()), members.end());
    for (int vmid : members) {
      auto guest = std::find_if(guests.begin(), guests.end(),
                                [&](const Guest& g) { return g.vmid == vmid; });
      if (guest != guests.end() && guest->node == node) {
        placement.guests_here.push_back(vmid);
      } else {
        placement.guests_elsewhere.emplace_back(vmid, guest != guests.end() ? guest->node : "");
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
