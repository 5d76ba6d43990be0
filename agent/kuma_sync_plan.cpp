#include "agent/kuma_sync_plan.h"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <set>

#include "agent/core/text.h"
#include "agent/kuma_sync_wanted.h"

namespace pbk {

using nlohmann::json;
using Kind = SyncAction::Kind;
using TargetKind = SyncTarget::Kind;

bool SyncPlan::Changes() const {
  return std::any_of(actions.begin(), actions.end(),
                     [](const SyncAction& action) { return action.kind != Kind::kStale; });
}

std::string RandomPushToken() {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string token;
  while (token.size() < kPushTokenLength) {
    unsigned char bytes[64];
    ssize_t n = getrandom(bytes, sizeof bytes, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) std::abort();  // no cryptographic source: never a weak token
    for (ssize_t i = 0; i < n && token.size() < kPushTokenLength; ++i) {
      // 248 = 4 * 62: rejecting the rest keeps every character equally likely.
      if (bytes[i] < 248) token += kAlphabet[bytes[i] % 62];
    }
  }
  return token;
}

namespace {

// The monitors file's id of a target, 0 when it has none.
int FileId(const MonitorsFile& file, const SyncTarget& target) {
  auto entry_id = [](const std::map<std::string, PushMonitorEntry>& entries,
                     const std::string& node) {
    auto it = entries.find(node);
    return it == entries.end() ? 0 : it->second.monitor_id;
  };
  switch (target.kind) {
    case TargetKind::kNodeGroup: return file.node_group_id;
    case TargetKind::kNodePush: return entry_id(file.node_monitors, target.node);
    case TargetKind::kJobGroup:
    case TargetKind::kJobPush: {
      auto job = file.jobs.find(target.job_key);
      if (job == file.jobs.end()) return 0;
      return target.kind == TargetKind::kJobGroup ? job->second.group_id
                                                  : entry_id(job->second.nodes, target.node);
    }
  }
  return 0;
}

// Every target the monitors file names, with its id.
std::vector<std::pair<SyncTarget, int>> FileTargets(const MonitorsFile& file) {
  std::vector<std::pair<SyncTarget, int>> targets;
  if (file.node_group_id > 0) targets.push_back({{TargetKind::kNodeGroup, "", ""}, file.node_group_id});
  for (const auto& [node, entry] : file.node_monitors) {
    targets.push_back({{TargetKind::kNodePush, "", node}, entry.monitor_id});
  }
  for (const auto& [key, job] : file.jobs) {
    if (job.group_id > 0) targets.push_back({{TargetKind::kJobGroup, key, ""}, job.group_id});
    for (const auto& [node, entry] : job.nodes) {
      targets.push_back({{TargetKind::kJobPush, key, node}, entry.monitor_id});
    }
  }
  return targets;
}

const KumaTagValue* OwnTag(const KumaMonitor& monitor) {
  for (const auto& tag : monitor.tags) {
    if (tag.name == kOwnTagName) return &tag;
  }
  return nullptr;
}

class Planner {
 public:
  Planner(const ClusterFacts& cluster, const KumaFacts& kuma, const MonitorsFile& file,
          const SyncSettings& settings, const TokenSource& tokens, SyncPlan* plan)
      : cluster_(cluster), kuma_(kuma), file_(file), settings_(settings), tokens_(tokens),
        plan_(plan) {}

  bool Run(std::string* err);

 private:
  bool ResolveNotifications(std::string* err);
  const KumaMonitor* Find(const WantedMonitor& wanted);
  void Keep(const WantedMonitor& wanted, const KumaMonitor& monitor);
  void Add(const WantedMonitor& wanted);
  void Record(const WantedMonitor& wanted, int id, const std::string& token);
  void Unneeded();
  std::string NewToken();

  const ClusterFacts& cluster_;
  const KumaFacts& kuma_;
  const MonitorsFile& file_;
  const SyncSettings& settings_;
  const TokenSource& tokens_;
  SyncPlan* plan_;
  json notifications_ = json::object();
  std::map<int, const KumaMonitor*> by_id_;
  std::map<std::string, const KumaMonitor*> by_tag_;
  std::set<std::string> tokens_in_use_;
  std::set<int> claimed_;  // monitors a wanted target took
  std::map<SyncTarget, int> ids_;  // target -> existing monitor id
};

bool Planner::ResolveNotifications(std::string* err) {
  if (settings_.notifications.empty()) {
    for (const auto& n : kuma_.notifications) {
      if (n.is_default) notifications_[std::to_string(n.id)] = true;
    }
    return true;
  }
  for (const auto& name : settings_.notifications) {
    auto found = std::find_if(kuma_.notifications.begin(), kuma_.notifications.end(),
                              [&](const KumaNotification& n) { return n.name == name; });
    if (found == kuma_.notifications.end()) {
      std::vector<std::string> known;
      for (const auto& n : kuma_.notifications) known.push_back(Quote(n.name));
      *err = "kuma.notifications: Kuma has no notification named " + Quote(name) + " (it has " +
             (known.empty() ? std::string("none") : Join(known, ", ")) + ")";
      return false;
    }
    notifications_[std::to_string(found->id)] = true;
  }
  return true;
}

std::string Planner::NewToken() {
  // A clash with any token in Kuma (ours or not) would send pushes to two
  // monitors: the push route picks one of them.
  for (int attempt = 0; attempt < 1000; ++attempt) {
    std::string token = tokens_();
    if (tokens_in_use_.insert(token).second) return token;
  }
  std::abort();  // a token source that repeats itself a thousand times is broken
}

const KumaMonitor* Planner::Find(const WantedMonitor& wanted) {
  const std::string type = wanted.type;
  const int file_id = FileId(file_, wanted.target);
  auto by_id = by_id_.find(file_id);
  if (file_id > 0 && by_id != by_id_.end() && by_id->second->type == type &&
      claimed_.count(file_id) == 0) {
    // The id alone could be a hand-made monitor that got the id of ours
    // after Kuma's database was replaced: ours carries our tag or none.
    const KumaTagValue* tag = OwnTag(*by_id->second);
    if (tag == nullptr || tag->value == wanted.target.TagValue()) return by_id->second;
  }
  auto by_tag = by_tag_.find(wanted.target.TagValue());
  if (by_tag != by_tag_.end() && by_tag->second->type == type &&
      claimed_.count(by_tag->second->id) == 0) {
    return by_tag->second;
  }
  return nullptr;
}

void Planner::Record(const WantedMonitor& wanted, int id, const std::string& token) {
  MonitorsFile& file = plan_->file;
  const SyncTarget& target = wanted.target;
  switch (target.kind) {
    case TargetKind::kNodeGroup: file.node_group_id = id; break;
    case TargetKind::kNodePush: file.node_monitors[target.node] = {id, token}; break;
    case TargetKind::kJobGroup: {
      JobMonitors& job = file.jobs[target.job_key];
      job.job_id = wanted.job_id;
      job.name = wanted.name;
      job.group_id = id;
      break;
    }
    case TargetKind::kJobPush:
      file.jobs[target.job_key].nodes[target.node] = {id, token};
      break;
  }
}

void Planner::Keep(const WantedMonitor& wanted, const KumaMonitor& monitor) {
  claimed_.insert(monitor.id);
  ids_[wanted.target] = monitor.id;
  SyncAction base;
  base.target = wanted.target;
  base.monitor_id = monitor.id;
  if (FileId(file_, wanted.target) != monitor.id) {
    SyncAction adopt = base;
    adopt.kind = Kind::kAdopt;
    adopt.why = OwnTag(monitor) != nullptr ? "found by its tag" : "found by its id";
    plan_->actions.push_back(adopt);
  }
  SyncAction edit = base;
  edit.kind = Kind::kEdit;
  edit.fields = json::object();
  std::vector<std::string> why;
  if (monitor.name != wanted.name) {
    edit.fields["name"] = wanted.name;
    why.push_back("name " + Quote(monitor.name) + " -> " + Quote(wanted.name));
  }
  auto parent_id = wanted.has_parent ? ids_.find(wanted.parent) : ids_.end();
  const bool parent_right = wanted.has_parent
                                ? parent_id != ids_.end() && parent_id->second == monitor.parent
                                : monitor.parent == 0;
  if (!parent_right) {
    edit.set_parent = true;
    edit.has_parent = wanted.has_parent;
    edit.parent = wanted.parent;
    why.push_back(wanted.has_parent ? "into its group" : "out of any group");
  }
  if (wanted.type == "push" && monitor.interval != settings_.interval_seconds) {
    edit.fields["interval"] = settings_.interval_seconds;
    why.push_back("interval " + std::to_string(monitor.interval) + " s -> " +
                  std::to_string(settings_.interval_seconds) + " s");
  }
  if (wanted.type == "push" && monitor.max_retries != 0) {
    edit.fields["maxretries"] = 0;
    why.push_back("retries " + std::to_string(monitor.max_retries) + " -> 0");
  }
  std::string token = monitor.push_token;
  if (wanted.type == "push" && token.empty()) {
    token = NewToken();
    edit.push_token = token;
    why.push_back("a push token");
  }
  if (!why.empty()) {
    edit.why = Join(why, ", ");
    plan_->actions.push_back(edit);
  }
  const KumaTagValue* tag = OwnTag(monitor);
  if (tag == nullptr || tag->value != wanted.target.TagValue()) {
    SyncAction tag_action = base;
    tag_action.kind = Kind::kTag;
    tag_action.why = "tag " + std::string(kOwnTagName) + "=" + wanted.target.TagValue();
    plan_->actions.push_back(tag_action);
  }
  Record(wanted, monitor.id, token);
}

void Planner::Add(const WantedMonitor& wanted) {
  SyncAction add;
  add.kind = Kind::kAdd;
  add.target = wanted.target;
  add.set_parent = wanted.has_parent;
  add.has_parent = wanted.has_parent;
  add.parent = wanted.parent;
  json& f = add.fields;
  f = {{"type", wanted.type},
       {"name", wanted.name},
       {"description", wanted.description},
       {"interval", settings_.interval_seconds},
       {"retryInterval", settings_.interval_seconds},
       {"resendInterval", 0},
       {"maxretries", 0},
       {"upsideDown", false},
       {"active", true},
       {"accepted_statuscodes", json::array({"200-299"})},
       {"notificationIDList", notifications_}};
  if (wanted.type == "push") add.push_token = NewToken();
  add.why = wanted.type == "push" ? "push monitor, heartbeat every " +
                                        std::to_string(settings_.interval_seconds / 60) +
                                        " min, retries 0"
                                  : "group";
  plan_->actions.push_back(add);
  Record(wanted, 0, add.push_token);
}

void Planner::Unneeded() {
  // Ours and not wanted: named by the monitors file, or carrying our tag.
  std::map<int, SyncTarget> unneeded;
  for (const auto& [target, id] : FileTargets(file_)) {
    if (by_id_.count(id) != 0 && claimed_.count(id) == 0) unneeded[id] = target;
  }
  for (const auto& monitor : kuma_.monitors) {
    if (OwnTag(monitor) != nullptr && claimed_.count(monitor.id) == 0) {
      unneeded.emplace(monitor.id, TargetOfTag(OwnTag(monitor)->value));
    }
  }
  for (const auto& [id, target] : unneeded) {
    const KumaMonitor& monitor = *by_id_.at(id);
    SyncAction action;
    action.target = target;
    action.monitor_id = id;
    action.fields = {{"name", monitor.name}};
    if (!monitor.active) {
      action.kind = Kind::kStale;
      action.why = "no longer needed, paused";
    } else if (settings_.prune) {
      action.kind = Kind::kPause;
      action.why = "no longer needed";
    } else {
      action.kind = Kind::kStale;
      action.why = "no longer needed (`kuma sync --prune` pauses it)";
    }
    plan_->actions.push_back(action);
  }
}

bool Planner::Run(std::string* err) {
  if (!ResolveNotifications(err)) return false;
  for (const auto& monitor : kuma_.monitors) {
    by_id_[monitor.id] = &monitor;
    if (!monitor.push_token.empty()) tokens_in_use_.insert(monitor.push_token);
    const KumaTagValue* tag = OwnTag(monitor);
    if (tag != nullptr) by_tag_.emplace(tag->value, &monitor);
  }
  const bool tag_exists =
      std::any_of(kuma_.tags.begin(), kuma_.tags.end(),
                  [](const KumaTag& tag) { return tag.name == kOwnTagName; });
  if (!tag_exists) {
    SyncAction add_tag;
    add_tag.kind = Kind::kAddTag;
    add_tag.why = std::string("tag ") + kOwnTagName;
    plan_->actions.push_back(add_tag);
  }
  plan_->file = MonitorsFile();
  plan_->file.digest = SyncDigest(cluster_);
  for (const auto& wanted : WantedMonitors(cluster_)) {
    const KumaMonitor* found = Find(wanted);
    if (found != nullptr) {
      Keep(wanted, *found);
    } else {
      Add(wanted);
    }
  }
  Unneeded();
  // Unneeded monitors left unpaused still exist and keep their tokens, so
  // the nodes that push to them go on doing so until they are pruned.
  for (const auto& action : plan_->actions) {
    if (action.kind != Kind::kStale) continue;
    for (const auto& [target, id] : FileTargets(file_)) {
      if (id != action.monitor_id || target.kind != TargetKind::kJobPush) continue;
      const JobMonitors& old = file_.jobs.at(target.job_key);
      JobMonitors& kept = plan_->file.jobs[target.job_key];
      if (kept.job_id.empty()) {
        kept.job_id = old.job_id;
        kept.name = old.name;
        kept.group_id = old.group_id;
      }
      kept.nodes[target.node] = old.nodes.at(target.node);
    }
  }
  return true;
}

}  // namespace

bool PlanKumaSync(const ClusterFacts& cluster, const KumaFacts& kuma, const MonitorsFile& file,
                  const SyncSettings& settings, const TokenSource& tokens, SyncPlan* plan,
                  std::string* err) {
  SyncPlan result;
  Planner planner(cluster, kuma, file, settings, tokens, &result);
  if (!planner.Run(err)) return false;
  *plan = std::move(result);
  return true;
}

namespace {

// A string field of an action, "" when absent (json::value trips GCC's
// null-dereference warning).
std::string FieldText(const SyncAction& action, const char* key) {
  auto it = action.fields.find(key);
  return it != action.fields.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

const char* ActionKindName(SyncAction::Kind kind) {
  switch (kind) {
    case Kind::kAddTag: return "add-tag";
    case Kind::kAdd: return "add";
    case Kind::kAdopt: return "adopt";
    case Kind::kEdit: return "edit";
    case Kind::kTag: return "tag";
    case Kind::kPause: return "pause";
    case Kind::kStale: return "unneeded";
  }
  return "?";
}

json ActionToJson(const SyncAction& action) {
  json object = {{"action", ActionKindName(action.kind)}, {"why", action.why}};
  if (action.kind != Kind::kAddTag) object["tag"] = action.target.TagValue();
  if (action.monitor_id > 0) object["monitor_id"] = action.monitor_id;
  if (!FieldText(action, "name").empty()) object["name"] = FieldText(action, "name");
  if (action.kind == Kind::kAdd) object["type"] = FieldText(action, "type");
  return object;
}

std::string DescribeAction(const SyncAction& action) {
  std::string what = ActionKindName(action.kind);
  if (action.kind == Kind::kAdd) what += " " + FieldText(action, "type");
  if (!FieldText(action, "name").empty()) what += " " + Quote(FieldText(action, "name"));
  if (action.monitor_id > 0) what += " (monitor " + std::to_string(action.monitor_id) + ")";
  if (action.kind != Kind::kAddTag) what += " [" + action.target.TagValue() + "]";
  if (!action.why.empty()) what += ": " + action.why;
  return what;
}

}  // namespace pbk
