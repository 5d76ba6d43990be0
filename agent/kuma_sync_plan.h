// What `kuma sync` has to do, as a pure function of what the cluster is and
// what Kuma holds: one Kuma group per backup job (the job's one status),
// one push monitor per node the job runs on, one node monitor per cluster
// member in a group of its own. A disabled job keeps its monitors: refresh
// reports it `down` ("disabled: no backups are made"), never nothing.
//
// Ours is what carries the tag "pbk-agent" or what the monitors file names;
// nothing else is ever changed. A monitor is found by the id the monitors
// file keeps, else by its tag's value ("<job key>@<node>"), and kept: its
// token, its notifications and whatever else an admin set stay as they are;
// only name, parent, interval and retries are put right. Monitors of ours
// that nothing needs any more are listed, and paused only when asked
// (never deleted).
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/pve/backup_job.h"
#include "api/pve/guests.h"
#include "api/pve/monitors_file.h"

namespace pbk {

inline constexpr char kOwnTagName[] = "pbk-agent";
inline constexpr char kOwnTagColor[] = "#2563EB";
inline constexpr char kNodeGroupName[] = "pbk-agent nodes";
inline constexpr size_t kPushTokenLength = 20;

struct KumaTagValue {
  int tag_id = 0;
  std::string name;
  std::string value;
};

// A monitor as Kuma's monitorList shows it.
struct KumaMonitor {
  int id = 0;
  std::string name;
  std::string type;
  int parent = 0;  // 0: none
  int interval = 0;
  int max_retries = 0;
  bool active = true;
  std::string push_token;
  std::vector<KumaTagValue> tags;
  std::string description;
  std::vector<int> notification_ids;
};

struct KumaNotification {
  int id = 0;
  std::string name;
  bool is_default = false;
};

struct KumaTag {
  int id = 0;
  std::string name;
};

// What the cluster is: its jobs, its members and where each job runs.
struct ClusterFacts {
  std::vector<BackupJob> jobs;
  std::vector<std::string> members;
  std::map<std::string, std::vector<std::string>> runs_on;  // job id -> nodes
};

// The facts for JOBS on MEMBERS with the guests where they are now
// (placement.h: which nodes each job runs on).
ClusterFacts MakeClusterFacts(const std::vector<BackupJob>& jobs, const std::vector<Guest>& guests,
                              const std::vector<std::string>& members);

// What Kuma holds, read once after login.
struct KumaFacts {
  std::vector<KumaMonitor> monitors;
  std::vector<KumaNotification> notifications;
  std::vector<KumaTag> tags;
};

struct SyncSettings {
  int interval_seconds = 15 * 60;
  std::vector<std::string> notifications;  // names; empty: Kuma's defaults
  bool prune = false;
};

// Which monitor of ours a thing is.
struct SyncTarget {
  enum class Kind { kJobGroup, kJobPush, kNodeGroup, kNodePush };
  Kind kind = Kind::kJobGroup;
  std::string job_key;  // job targets
  std::string node;     // push targets
  // The value of our tag: "<job>" for a group, "<job>@<node>" for its
  // push monitors, "@<node>" for a node monitor, "@" for their group.
  std::string TagValue() const;
  bool operator<(const SyncTarget& other) const;
  bool operator==(const SyncTarget& other) const;
};

struct SyncAction {
  enum class Kind {
    kAddTag,    // create our tag in Kuma (once)
    kAdd,       // a new monitor: fields, parent, token, our tag
    kAdopt,     // a monitor of ours the monitors file does not know by its id
    kEdit,      // getMonitor, change `changes` (and the parent), editMonitor
    kTag,       // our tag onto a monitor of ours that lacks it
    kPause,     // no longer needed, --prune
    kStale,     // no longer needed, only listed
  };
  Kind kind = Kind::kAdd;
  SyncTarget target;
  int monitor_id = 0;  // the existing monitor; 0 for kAdd and kAddTag
  bool set_parent = false;  // kAdd / kEdit: the parent becomes parent's id
  bool has_parent = false;
  SyncTarget parent;
  nlohmann::json fields;  // kAdd: the monitor; kEdit: what changes. Never a token.
  std::string push_token;  // kAdd of a push monitor: the new token
  std::string why;         // in words, for the admin
};

struct SyncPlan {
  std::vector<SyncAction> actions;
  // The monitors file as it will be once every action is done; monitors
  // still to be added have id 0 and get theirs when they are made.
  MonitorsFile file;
  bool Changes() const;
};

// 20 characters of [A-Za-z0-9]; the planner draws again on a clash.
using TokenSource = std::function<std::string()>;
// From getrandom(2).
std::string RandomPushToken();

// The digest of what the monitors depend on: the jobs (key, name, schedule,
// storage), the members and where each job runs. Not whether a job is
// enabled: a disabled job keeps its monitors.
std::string SyncDigest(const ClusterFacts& cluster);

// The group's name: the job's comment, else its id (a legacy job without a
// comment: its schedule and storage, its id being a file's digest).
std::string JobDisplayName(const BackupJob& job);

// How the monitors file differs from what CLUSTER needs, one line each
// ("job nightly runs on pve3, which has no monitor for it"); empty when it
// was made from the cluster as it is (its digest matches).
std::vector<std::string> MonitorsFileDrift(const ClusterFacts& cluster, const MonitorsFile& file);

// Plans the sync. False with *err when the settings cannot be met (a
// notification name Kuma does not know) or the facts contradict each other.
bool PlanKumaSync(const ClusterFacts& cluster, const KumaFacts& kuma, const MonitorsFile& file,
                  const SyncSettings& settings, const TokenSource& tokens, SyncPlan* plan,
                  std::string* err);

// "add push monitor "nightly @ pve1" (…)": one line per action, no token.
std::string DescribeAction(const SyncAction& action);
nlohmann::json ActionToJson(const SyncAction& action);
const char* ActionKindName(SyncAction::Kind kind);

}  // namespace pbk
