#include "agent/guard_node.h"

#include <algorithm>

#include "agent/core/fs.h"
#include "agent/core/text.h"

namespace pbk {

namespace {

// A node name that cannot be a member: jobs on an unknown cluster are
// never set, and the reason reads well where the unmarked nodes are named.
const char kMembersUnknown[] = "(the cluster's members could not be read)";

void ReadCluster(const Config& config, bool dry_run, NodeSetup* setup) {
  std::string err;
  if (!ReadMembers(config.paths.pve_dir, config.node, &setup->members, &err)) {
    setup->errors.push_back(err);
    setup->members.local = config.node;
    setup->members.nodes = {config.node, kMembersUnknown};
  } else if (setup->members.local != config.node) {
    setup->notes.push_back("pmxcfs names this node " + setup->members.local +
                           ", the configuration " + config.node + "; using " +
                           setup->members.local);
  }
  if (!dry_run) {
    NodeMark mark{PBK_VERSION, PlacementName(config.guard.placement), config.paths.hook_script,
                  ""};
    if (!WriteNodeMark(config.paths.pve_dir, setup->members.local, mark, &setup->mark_written,
                       &err)) {
      // Without quorum /etc/pve is read-only; the old mark, if any, stays.
      setup->errors.push_back("marking this node: " + err);
    }
  }
  // The members, and every node folder pmxcfs has: a job may name a node
  // that .members does not list (yet).
  std::vector<std::string> nodes = setup->members.nodes;
  std::vector<std::string> folders;
  if (ListDir(JoinPath(config.paths.pve_dir, "nodes"), &folders, &err)) {
    for (const auto& folder : folders) {
      if (std::find(nodes.begin(), nodes.end(), folder) == nodes.end()) nodes.push_back(folder);
    }
  }
  std::vector<std::string> problems;
  std::vector<std::string> unmarked = UnmarkedNodes(config.paths.pve_dir, nodes, &problems);
  for (const auto& problem : problems) setup->notes.push_back(problem);
  for (const auto& node : nodes) {
    if (std::find(unmarked.begin(), unmarked.end(), node) == unmarked.end()) {
      setup->marked.insert(node);
    }
  }
  // pbk-agent runs here, whether or not its mark could be written (a dry run
  // writes none; without quorum none can be): the mark tells the OTHER nodes.
  setup->marked.insert(setup->members.local);
}

void PlaceNodeDefault(const Config& config, bool dry_run, NodeSetup* setup) {
  const std::string& path = config.paths.vzdump_conf;
  std::string err;
  if (!ReadVzdumpConfScript(path, &setup->conf_before, &err)) {
    setup->errors.push_back(err);
    return;
  }
  PlacementInputs in;
  in.placement = config.guard.placement;
  in.hook_script = config.paths.hook_script;
  in.hook_chain = config.hook.chain;
  setup->conf = DecideVzdumpConf(in, setup->conf_before);
  const bool ours_before =
      setup->conf_before.present && setup->conf_before.value == config.paths.hook_script;
  setup->node_default_ours = ours_before;
  switch (setup->conf.action) {
    case ConfAction::kKeep:
      return;
    case ConfAction::kLeave:
      setup->errors.push_back(path + ": " + setup->conf.why);
      return;
    case ConfAction::kSet:
      if (dry_run) return;
      if (!WriteVzdumpConfScript(path, config.paths.hook_script, &setup->conf_changed, &err)) {
        setup->errors.push_back("setting the node default: " + err);
        return;
      }
      setup->node_default_ours = true;
      return;
    case ConfAction::kRemoveOurs:
      if (dry_run) return;
      if (!RemoveVzdumpConfScriptFile(path, config.paths.hook_script, &setup->conf_changed,
                                      &err)) {
        setup->errors.push_back("taking the node default out: " + err);
        return;
      }
      setup->node_default_ours = false;
      return;
  }
}

}  // namespace

GuardOptions GuardOptionsFor(const Config& config, const NodeSetup& node, bool dry_run) {
  GuardOptions options;
  options.hook_script = config.paths.hook_script;
  options.exclude = config.guard.exclude;
  options.dry_run = dry_run;
  options.placement = config.guard.placement;
  for (const auto& [id, job] : config.jobs) options.job_chains[id] = job.chain;
  options.members = node.members.nodes;
  options.marked = node.marked;
  options.node_default_ours = node.node_default_ours;
  return options;
}

NodeSetup PrepareNode(const Config& config, bool dry_run) {
  NodeSetup setup;
  ReadCluster(config, dry_run, &setup);
  PlaceNodeDefault(config, dry_run, &setup);
  return setup;
}

bool CheckNodeDefault(const Config& config, RestReader* rest, bool* ours, std::string* how,
                      std::string* err) {
  if (rest != nullptr) {
    std::string script;
    std::string why;
    if (rest->NodeDefaultScript(config.node, &script, &why)) {
      *ours = script == config.paths.hook_script;
      *how = "the PVE API's vzdump defaults of " + config.node;
      return true;
    }
    // Falls back to the file; the reason goes with the answer.
    *how = config.paths.vzdump_conf + " (the PVE API could not tell: " + why + ")";
  } else {
    *how = config.paths.vzdump_conf;
  }
  VzdumpConfScript script;
  if (!ReadVzdumpConfScript(config.paths.vzdump_conf, &script, err)) return false;
  *ours = script.present && script.value == config.paths.hook_script;
  return true;
}

bool ReleaseNode(const Config& config, bool remove_mark, std::vector<std::string>* done,
                 std::string* err) {
  bool changed = false;
  if (!RemoveVzdumpConfScriptFile(config.paths.vzdump_conf, config.paths.hook_script, &changed,
                                  err)) {
    return false;
  }
  if (changed) done->push_back("took `script: " + config.paths.hook_script + "` out of " +
                               config.paths.vzdump_conf);
  if (remove_mark) {
    ClusterMembers members;
    std::string why;
    const std::string node =
        ReadMembers(config.paths.pve_dir, config.node, &members, &why) ? members.local
                                                                        : config.node;
    if (!RemoveNodeMark(config.paths.pve_dir, node, err)) return false;
    done->push_back("removed " + NodeMarkPath(config.paths.pve_dir, node));
  }
  return true;
}

}  // namespace pbk
