// What `kuma sync` wants in Kuma, as a pure function of the cluster: the
// monitors of ours (kuma_sync_plan.h says which), each with the name, parent
// and description it should have. The planner compares them with what Kuma
// and the monitors file hold.
#pragma once

#include <string>
#include <vector>

#include "agent/kuma_sync_plan.h"

namespace pbk {

// What one monitor of ours should be.
struct WantedMonitor {
  SyncTarget target;
  std::string name;
  std::string type;  // "group" or "push"
  bool has_parent = false;
  SyncTarget parent;
  std::string description;
  std::string job_id;  // job targets
};

// Every monitor the cluster needs, groups before their children.
std::vector<WantedMonitor> WantedMonitors(const ClusterFacts& cluster);

// The target our tag's VALUE names; the reverse of SyncTarget::TagValue.
SyncTarget TargetOfTag(const std::string& value);

}  // namespace pbk
