#include "api/pve/cluster.h"

#include <algorithm>
#include <ctime>
#include <spdlog/fmt/chrono.h>

#include <nlohmann/json.hpp>

#include "agent/core/fs.h"

namespace pbk {

using nlohmann::json;

namespace {

const char kMarkName[] = "pbk-agent.json";

std::string UtcNow() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", tm);
}

// pmxcfs writes numbers; accept 1/0 and true/false alike.
bool Truthy(const json& value) {
  if (value.is_boolean()) return value.get<bool>();
  if (value.is_number()) return value.get<double>() != 0;
  return false;
}

}  // namespace

bool ParseMembers(std::string_view text, const std::string& fallback_node,
                  ClusterMembers* members, std::string* err) {
  json document = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded() || !document.is_object()) {
    *err = "not a JSON object";
    return false;
  }
  ClusterMembers result;
  result.local = fallback_node;
  if (document.contains("nodename")) {
    const json& name = document["nodename"];
    if (!name.is_string() || name.get<std::string>().empty()) {
      *err = "\"nodename\" is not a node name";
      return false;
    }
    result.local = name.get<std::string>();
  }
  if (result.local.empty()) {
    *err = "no \"nodename\" and no node configured";
    return false;
  }
  if (!document.contains("nodelist")) {
    result.nodes = {result.local};
    *members = std::move(result);
    return true;
  }
  const json& nodelist = document["nodelist"];
  if (!nodelist.is_object()) {
    *err = "\"nodelist\" is not an object";
    return false;
  }
  for (const auto& [name, info] : nodelist.items()) {
    if (name.empty() || !info.is_object()) {
      *err = "\"nodelist\" has an entry that is not a node";
      return false;
    }
    result.nodes.push_back(name);
  }
  std::sort(result.nodes.begin(), result.nodes.end());
  result.clustered = true;
  result.quorate = false;
  if (document.contains("cluster") && document["cluster"].is_object() &&
      document["cluster"].contains("quorate")) {
    result.quorate = Truthy(document["cluster"]["quorate"]);
  }
  if (std::find(result.nodes.begin(), result.nodes.end(), result.local) == result.nodes.end()) {
    *err = "this node (" + result.local + ") is not in \"nodelist\"";
    return false;
  }
  *members = std::move(result);
  return true;
}

bool ReadMembers(const std::string& pve_dir, const std::string& fallback_node,
                 ClusterMembers* members, std::string* err) {
  const std::string path = JoinPath(pve_dir, ".members");
  std::string text;
  bool exists = false;
  if (!ReadFileIfExists(path, &text, &exists, err)) return false;
  if (!exists) {
    if (fallback_node.empty()) {
      *err = "reading " + path + ": missing, and no node configured";
      return false;
    }
    members->local = fallback_node;
    members->nodes = {fallback_node};
    members->clustered = false;
    members->quorate = true;
    return true;
  }
  std::string why;
  if (!ParseMembers(text, fallback_node, members, &why)) {
    *err = "reading " + path + ": " + why;
    return false;
  }
  return true;
}

std::string NodeMarkPath(const std::string& pve_dir, const std::string& node) {
  return JoinPath(JoinPath(JoinPath(pve_dir, "nodes"), node), kMarkName);
}

bool ParseNodeMark(std::string_view text, NodeMark* mark, std::string* err) {
  json document = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded() || !document.is_object()) {
    *err = "not a JSON object";
    return false;
  }
  NodeMark result;
  struct Field {
    const char* key;
    std::string* value;
    bool required;
  };
  const Field fields[] = {{"version", &result.version, true},
                          {"placement", &result.placement, true},
                          {"hook", &result.hook, true},
                          {"updated", &result.updated, false}};
  for (const Field& field : fields) {
    if (!document.contains(field.key)) {
      if (!field.required) continue;
      *err = std::string("no \"") + field.key + "\"";
      return false;
    }
    const json& value = document[field.key];
    if (!value.is_string()) {
      *err = std::string("\"") + field.key + "\" is not a string";
      return false;
    }
    *field.value = value.get<std::string>();
  }
  if (result.placement != "node" && result.placement != "job") {
    *err = "\"placement\" is neither \"node\" nor \"job\"";
    return false;
  }
  if (result.hook.empty() || result.hook[0] != '/') {
    *err = "\"hook\" is not an absolute path";
    return false;
  }
  *mark = std::move(result);
  return true;
}

std::string FormatNodeMark(const NodeMark& mark) {
  json document = {{"version", mark.version},
                   {"placement", mark.placement},
                   {"hook", mark.hook},
                   {"updated", mark.updated}};
  return document.dump(2) + "\n";
}

bool ReadNodeMark(const std::string& pve_dir, const std::string& node, NodeMark* mark,
                  bool* exists, std::string* err) {
  const std::string path = NodeMarkPath(pve_dir, node);
  std::string text;
  if (!ReadFileIfExists(path, &text, exists, err)) return false;
  if (!*exists) return true;
  std::string why;
  if (!ParseNodeMark(text, mark, &why)) {
    *err = "reading " + path + ": " + why;
    return false;
  }
  return true;
}

bool WriteNodeMark(const std::string& pve_dir, const std::string& node, const NodeMark& mark,
                   bool* changed, std::string* err) {
  *changed = false;
  NodeMark current;
  bool exists = false;
  std::string read_err;
  if (ReadNodeMark(pve_dir, node, &current, &exists, &read_err) && exists &&
      current.version == mark.version && current.placement == mark.placement &&
      current.hook == mark.hook) {
    return true;
  }
  NodeMark fresh = mark;
  if (fresh.updated.empty()) fresh.updated = UtcNow();
  const std::string path = NodeMarkPath(pve_dir, node);
  // The node's folder exists on every PVE node; a bare test tree may lack it.
  if (!MakeDirs(DirName(path), 0755, err)) return false;
  AtomicWriteOptions options;
  options.mode = 0640;
  options.exact_mode = false;  // pmxcfs decides modes itself
  if (!WriteFileAtomic(path, FormatNodeMark(fresh), options, err)) return false;
  *changed = true;
  return true;
}

bool RemoveNodeMark(const std::string& pve_dir, const std::string& node, std::string* err) {
  return RemoveFile(NodeMarkPath(pve_dir, node), err);
}

std::vector<std::string> UnmarkedNodes(const std::string& pve_dir,
                                       const std::vector<std::string>& nodes,
                                       std::vector<std::string>* problems) {
  std::vector<std::string> unmarked;
  for (const std::string& node : nodes) {
    NodeMark mark;
    bool exists = false;
    std::string err;
    if (!ReadNodeMark(pve_dir, node, &mark, &exists, &err)) {
      if (problems != nullptr) problems->push_back(err);
      unmarked.push_back(node);
    } else if (!exists) {
      unmarked.push_back(node);
    }
  }
  return unmarked;
}

}  // namespace pbk
