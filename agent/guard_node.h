// The guard's steps around the job loop: the cluster's members, this
// node's mark and the others', vzdump.conf's `script:` line per placement,
// and the check through PVE that the node default took.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "agent/core/config.h"
#include "agent/guard.h"
#include "agent/hook_decision.h"
#include "api/pve/cluster.h"
#include "api/pve/job_sources.h"
#include "api/pve/vzdump_conf.h"

namespace pbk {

struct NodeSetup {
  ClusterMembers members;
  std::set<std::string> marked;        // members with a mark
  bool mark_written = false;           // this node's mark changed in this run
  VzdumpConfScript conf_before;        // vzdump.conf's `script:` as found
  ConfDecision conf;                   // what the placement wants of it
  bool conf_changed = false;           // written in this run
  bool node_default_ours = false;      // vzdump.conf says `script: <hook>` now
  std::vector<std::string> notes;      // warnings for the journal
  std::vector<std::string> errors;     // each one makes the run fail
};

// Reads the members, writes this node's mark (not in a dry run), reads the
// marks, and puts vzdump.conf's line where the placement wants it.
NodeSetup PrepareNode(const Config& config, bool dry_run);

// The guard's options for this node: the configuration and what
// PrepareNode found (members, marks, the node default).
GuardOptions GuardOptionsFor(const Config& config, const NodeSetup& node, bool dry_run);

// Whether the node default PVE applies is our hook: asked through REST
// (GET /nodes/{node}/vzdump/defaults) when REST is given, else read from
// vzdump.conf. *how says which; false with *err when neither could tell.
bool CheckNodeDefault(const Config& config, RestReader* rest, bool* ours, std::string* how,
                      std::string* err);

// For package removal: takes our `script:` line out of vzdump.conf and,
// with REMOVE_MARK, this node's mark. *done lists what was done.
bool ReleaseNode(const Config& config, bool remove_mark, std::vector<std::string>* done,
                 std::string* err);

}  // namespace pbk
