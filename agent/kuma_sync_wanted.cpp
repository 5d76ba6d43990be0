#include "agent/kuma_sync_wanted.h"

#include <algorithm>
#include <set>
#include <tuple>

#include "api/pve/placement.h"
#include "api/pve/sha1.h"

namespace pbk {

using nlohmann::json;
using TargetKind = SyncTarget::Kind;

std::string SyncTarget::TagValue() const {
  switch (kind) {
    case TargetKind::kJobGroup: return job_key;
    case TargetKind::kJobPush: return job_key + "@" + node;
    case TargetKind::kNodeGroup: return "@";
    case TargetKind::kNodePush: return "@" + node;
  }
  return "";
}

bool SyncTarget::operator<(const SyncTarget& other) const {
  return std::tie(kind, job_key, node) < std::tie(other.kind, other.job_key, other.node);
}

bool SyncTarget::operator==(const SyncTarget& other) const {
  return kind == other.kind && job_key == other.job_key && node == other.node;
}

std::string JobDisplayName(const BackupJob& job) {
  if (!job.comment.empty()) return job.comment;
  if (!job.IsLegacy()) return job.id;
  std::string name = "vzdump.cron " + (job.schedule.empty() ? "(no schedule)" : job.schedule);
  if (!job.storage.empty()) name += " to " + job.storage;
  return name;
}

ClusterFacts MakeClusterFacts(const std::vector<BackupJob>& jobs, const std::vector<Guest>& guests,
                              const std::vector<std::string>& members) {
  ClusterFacts cluster;
  cluster.jobs = jobs;
  cluster.members = members;
  GuestIndex index(guests);
  for (const auto& job : jobs) {
    std::vector<std::string>& nodes = cluster.runs_on[job.id];
    for (const auto& node : members) {
      if (PlaceJob(job, index, node).runs_here) nodes.push_back(node);
    }
  }
  return cluster;
}

std::string SyncDigest(const ClusterFacts& cluster) {
  json jobs = json::array();
  for (const auto& job : cluster.jobs) {
    auto runs = cluster.runs_on.find(job.id);
    std::vector<std::string> nodes;
    if (runs != cluster.runs_on.end()) nodes = runs->second;
    std::sort(nodes.begin(), nodes.end());
    jobs.push_back({JobKey(job), JobDisplayName(job), job.schedule, job.storage, nodes});
  }
  std::sort(jobs.begin(), jobs.end());
  std::vector<std::string> members = cluster.members;
  std::sort(members.begin(), members.end());
  return Sha1Hex(json{{"jobs", jobs}, {"members", members}}.dump());
}

std::vector<std::string> MonitorsFileDrift(const ClusterFacts& cluster, const MonitorsFile& file) {
  std::vector<std::string> lines;
  if (file.digest == SyncDigest(cluster)) return lines;
  std::set<std::string> keys;
  for (const auto& job : cluster.jobs) {
    auto runs = cluster.runs_on.find(job.id);
    if (runs == cluster.runs_on.end() || runs->second.empty()) continue;
    const std::string key = JobKey(job);
    keys.insert(key);
    auto entry = file.jobs.find(key);
    for (const auto& node : runs->second) {
      if (entry == file.jobs.end() || entry->second.nodes.count(node) == 0) {
        lines.push_back("job " + JobDisplayName(job) + " runs on " + node +
                        ", which has no monitor for it");
      }
    }
    for (const auto& [node, monitor] : entry == file.jobs.end() ? decltype(entry->second.nodes)()
                                                                 : entry->second.nodes) {
      if (std::find(runs->second.begin(), runs->second.end(), node) == runs->second.end()) {
        lines.push_back("job " + JobDisplayName(job) + " has a monitor on " + node +
                        ", where it no longer runs");
      }
    }
  }
  for (const auto& [key, job] : file.jobs) {
    if (keys.count(key) == 0) lines.push_back("monitors for job " + job.name + ", which is gone");
  }
  for (const auto& node : cluster.members) {
    if (file.node_monitors.count(node) == 0) lines.push_back("member " + node + " has no node monitor");
  }
  if (lines.empty()) lines.push_back("the jobs' names, schedules or storages changed");
  return lines;
}

namespace {

// NODE: the push monitor's node; "" for the job's group.
std::string JobDescription(const BackupJob& job, const std::string& node = "") {
  std::string text = "Backup job " + job.id;
  text += job.schedule.empty() ? ", no schedule" : ", schedule " + job.schedule;
  text += job.storage.empty() ? "" : ", storage " + job.storage;
  text += node.empty() ? "" : ", node " + node;
  return text + " (made by pbk-agent kuma sync)";
}

}  // namespace

// Every monitor the cluster needs, groups before their children.
std::vector<WantedMonitor> WantedMonitors(const ClusterFacts& cluster) {
  std::vector<WantedMonitor> wanted;
  SyncTarget node_group{TargetKind::kNodeGroup, "", ""};
  wanted.push_back({node_group, kNodeGroupName, "group", false, {}, 
                    "The health of every node pbk-agent runs on (made by pbk-agent kuma sync)",
                    ""});
  std::vector<std::string> members = cluster.members;
  std::sort(members.begin(), members.end());
  for (const auto& node : members) {
    wanted.push_back({{TargetKind::kNodePush, "", node}, "pbk-agent @ " + node, "push", true,
                      node_group, "pbk-agent's own health on node " + node +
                                      " (made by pbk-agent kuma sync)",
                      ""});
  }
  for (const auto& job : cluster.jobs) {
    auto runs = cluster.runs_on.find(job.id);
    if (runs == cluster.runs_on.end() || runs->second.empty()) continue;
    const std::string key = JobKey(job);
    const std::string name = JobDisplayName(job);
    SyncTarget group{TargetKind::kJobGroup, key, ""};
    wanted.push_back({group, name, "group", false, {}, JobDescription(job), job.id});
    std::vector<std::string> nodes = runs->second;
    std::sort(nodes.begin(), nodes.end());
    for (const auto& node : nodes) {
      wanted.push_back({{TargetKind::kJobPush, key, node}, name + " @ " + node, "push", true,
                        group, JobDescription(job, node), job.id});
    }
  }
  return wanted;
}

// The reverse of SyncTarget::TagValue.
SyncTarget TargetOfTag(const std::string& value) {
  const size_t at = value.find('@');
  if (value == "@") return {TargetKind::kNodeGroup, "", ""};
  if (at == 0) return {TargetKind::kNodePush, "", value.substr(1)};
  if (at == std::string::npos) return {TargetKind::kJobGroup, value, ""};
  return {TargetKind::kJobPush, value.substr(0, at), value.substr(at + 1)};
}

}  // namespace pbk
