// The cluster as pmxcfs shows it: who the members are (<pve_dir>/.members)
// and which of them run pbk-agent (<pve_dir>/nodes/<node>/pbk-agent.json,
// the node mark every guard keeps for its own node).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace pbk {

struct ClusterMembers {
  std::string local;               // this node's name
  std::vector<std::string> nodes;  // every member, sorted; a standalone node alone
  bool clustered = false;          // false: a standalone node
  bool quorate = true;             // a standalone node is always quorate
};

// Parses .members. A document without "nodelist" is a standalone node named
// by "nodename" (FALLBACK_NODE when that is absent too).
bool ParseMembers(std::string_view text, const std::string& fallback_node,
                  ClusterMembers* members, std::string* err);

// Reads <pve_dir>/.members; a missing file is a standalone node FALLBACK_NODE.
bool ReadMembers(const std::string& pve_dir, const std::string& fallback_node,
                 ClusterMembers* members, std::string* err);

// What a node says about its pbk-agent.
struct NodeMark {
  std::string version;    // pbk-agent's version
  std::string placement;  // "node" or "job"
  std::string hook;       // the hook script's path on that node
  std::string updated;    // when the mark last changed, UTC, ISO 8601
};

std::string NodeMarkPath(const std::string& pve_dir, const std::string& node);

bool ParseNodeMark(std::string_view text, NodeMark* mark, std::string* err);
std::string FormatNodeMark(const NodeMark& mark);

// *exists false (and no error) when the node has no mark.
bool ReadNodeMark(const std::string& pve_dir, const std::string& node, NodeMark* mark,
                  bool* exists, std::string* err);

// Writes the mark atomically when its version, placement or hook differ
// from the one on disk (a new "updated" alone is no change); *changed says
// whether it wrote. MARK.updated empty: now.
bool WriteNodeMark(const std::string& pve_dir, const std::string& node, const NodeMark& mark,
                   bool* changed, std::string* err);

// Removes the node's mark; a missing mark is fine.
bool RemoveNodeMark(const std::string& pve_dir, const std::string& node, std::string* err);

// The members among NODES that have no mark (read from PVE_DIR), in order.
// A mark that cannot be read or parsed counts as missing; *problems gets
// one line per such mark.
std::vector<std::string> UnmarkedNodes(const std::string& pve_dir,
                                       const std::vector<std::string>& nodes,
                                       std::vector<std::string>* problems);

}  // namespace pbk
