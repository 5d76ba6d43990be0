#include "agent/kuma_sync.h"

#include <map>

#include "agent/core/text.h"

namespace pbk {

using nlohmann::json;
using Kind = SyncAction::Kind;
using TargetKind = SyncTarget::Kind;

namespace {

// Kuma's SQLite columns come back as numbers or booleans, ids as numbers
// or (in JSON object keys) strings.
int IntOf(const json& value) {
  if (value.is_number_integer()) return value.get<int>();
  if (value.is_boolean()) return value.get<bool>() ? 1 : 0;
  if (value.is_string()) {
    try {
      return std::stoi(value.get<std::string>());
    } catch (...) {
      return 0;
    }
  }
  return 0;
}

std::string StringOf(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

bool ParseMonitor(const json& value, KumaMonitor* monitor, std::string* err) {
  if (!value.is_object() || !value.contains("id") || !value.contains("type")) {
    *err = "Kuma's monitor list: an entry without id or type: not a monitor list this pbk-agent "
           "understands";
    return false;
  }
  monitor->id = IntOf(value["id"]);
  monitor->name = StringOf(value, "name");
  monitor->type = StringOf(value, "type");
  monitor->parent = value.contains("parent") ? IntOf(value["parent"]) : 0;
  monitor->interval = value.contains("interval") ? IntOf(value["interval"]) : 0;
  monitor->max_retries = value.contains("maxretries") ? IntOf(value["maxretries"]) : 0;
  monitor->active = !value.contains("active") || IntOf(value["active"]) != 0;
  monitor->push_token = StringOf(value, "pushToken");
  monitor->description = StringOf(value, "description");
  if (value.contains("tags") && value["tags"].is_array()) {
    for (const auto& tag : value["tags"]) {
      if (!tag.is_object()) continue;
      monitor->tags.push_back({IntOf(tag.value("tag_id", json(0))), StringOf(tag, "name"),
                               StringOf(tag, "value")});
    }
  }
  if (value.contains("notificationIDList") && value["notificationIDList"].is_object()) {
    for (const auto& [id, on] : value["notificationIDList"].items()) {
      if (IntOf(on) != 0) monitor->notification_ids.push_back(IntOf(json(id)));
    }
  }
  return true;
}

}  // namespace

bool ParseKumaFacts(const json& monitors, const json& notifications, const json& tags,
                    KumaFacts* facts, std::string* err) {
  KumaFacts result;
  if (!monitors.is_object()) {
    *err = "Kuma's monitor list is not an object keyed by id";
    return false;
  }
  for (const auto& [id, value] : monitors.items()) {
    KumaMonitor monitor;
    if (!ParseMonitor(value, &monitor, err)) return false;
    result.monitors.push_back(monitor);
  }
  if (!notifications.is_array()) {
    *err = "Kuma's notification list is not a list";
    return false;
  }
  for (const auto& n : notifications) {
    if (!n.is_object()) continue;
    result.notifications.push_back({IntOf(n.value("id", json(0))), StringOf(n, "name"),
                                    n.contains("isDefault") && IntOf(n["isDefault"]) != 0});
  }
  if (!tags.is_array()) {
    *err = "Kuma's tag list is not a list";
    return false;
  }
  for (const auto& tag : tags) {
    if (tag.is_object()) result.tags.push_back({IntOf(tag.value("id", json(0))), StringOf(tag, "name")});
  }
  *facts = std::move(result);
  return true;
}

namespace {

class Executor {
 public:
  Executor(const SyncPlan& plan, const KumaFacts& kuma, KumaSyncPort* port, MonitorsFile* file,
           SyncReport* report)
      : plan_(plan), port_(port), file_(file), report_(report) {
    for (const auto& tag : kuma.tags) {
      if (tag.name == kOwnTagName && tag_id_ == 0) tag_id_ = tag.id;
    }
    *file_ = plan.file;
    Index();
  }

  bool Run(std::string* err) {
    for (const auto& action : plan_.actions) {
      std::string why;
      if (!Do(action, &why)) {
        *err = DescribeAction(action) + ": " + why;
        Finish();
        return false;
      }
      if (action.kind != Kind::kStale) {
        report_->done.push_back(DescribeAction(action));
        report_->done_json.push_back(ActionToJson(action));
      }
    }
    Finish();
    return true;
  }

 private:
  // The ids the plan already knows, by target.
  void Index() {
    if (file_->node_group_id > 0) ids_[{TargetKind::kNodeGroup, "", ""}] = file_->node_group_id;
    for (const auto& [node, entry] : file_->node_monitors) {
      if (entry.monitor_id > 0) ids_[{TargetKind::kNodePush, "", node}] = entry.monitor_id;
    }
    for (const auto& [key, job] : file_->jobs) {
      if (job.group_id > 0) ids_[{TargetKind::kJobGroup, key, ""}] = job.group_id;
      for (const auto& [node, entry] : job.nodes) {
        if (entry.monitor_id > 0) ids_[{TargetKind::kJobPush, key, node}] = entry.monitor_id;
      }
    }
  }

  void SetId(const SyncTarget& target, int id) {
    ids_[target] = id;
    switch (target.kind) {
      case TargetKind::kNodeGroup: file_->node_group_id = id; break;
      case TargetKind::kNodePush: file_->node_monitors[target.node].monitor_id = id; break;
      case TargetKind::kJobGroup: file_->jobs[target.job_key].group_id = id; break;
      case TargetKind::kJobPush: file_->jobs[target.job_key].nodes[target.node].monitor_id = id; break;
    }
  }

  void SetToken(const SyncTarget& target, const std::string& token) {
    if (target.kind == TargetKind::kNodePush) file_->node_monitors[target.node].push_token = token;
    if (target.kind == TargetKind::kJobPush) {
      file_->jobs[target.job_key].nodes[target.node].push_token = token;
    }
  }

  // The monitors not made stay out of the file: only what Kuma holds.
  void Finish() {
    for (auto it = file_->node_monitors.begin(); it != file_->node_monitors.end();) {
      it = it->second.monitor_id > 0 ? std::next(it) : file_->node_monitors.erase(it);
    }
    for (auto job = file_->jobs.begin(); job != file_->jobs.end();) {
      auto& nodes = job->second.nodes;
      for (auto it = nodes.begin(); it != nodes.end();) {
        it = it->second.monitor_id > 0 ? std::next(it) : nodes.erase(it);
      }
      job = job->second.group_id > 0 || !nodes.empty() ? std::next(job) : file_->jobs.erase(job);
    }
  }

  bool ParentId(const SyncAction& action, json* parent, std::string* why) {
    if (!action.has_parent) {
      *parent = nullptr;
      return true;
    }
    auto it = ids_.find(action.parent);
    if (it == ids_.end() || it->second <= 0) {
      *why = "its group " + Quote(action.parent.TagValue()) + " was not made";
      return false;
    }
    *parent = it->second;
    return true;
  }

  bool Tag(int monitor_id, const SyncTarget& target, std::string* why) {
    if (tag_id_ == 0) {
      *why = "Kuma has no tag " + Quote(kOwnTagName);
      return false;
    }
    ++report_->tagged;
    return port_->AddMonitorTag(tag_id_, monitor_id, target.TagValue(), why);
  }

  bool Add(const SyncAction& action, std::string* why) {
    json monitor = action.fields;
    if (!ParentId(action, &monitor["parent"], why)) return false;
    if (!action.push_token.empty()) monitor["pushToken"] = action.push_token;
    int id = 0;
    if (!port_->AddMonitor(monitor, &id, why)) return false;
    ++report_->added;
    SetId(action.target, id);
    return Tag(id, action.target, why);
  }

  bool Edit(const SyncAction& action, std::string* why) {
    // The whole monitor, changed, sent back: a field left out of an edit
    // is kept by Kuma, except the notifications, which would be dropped.
    json monitor;
    if (!port_->GetMonitor(action.monitor_id, &monitor, why)) return false;
    for (const auto& [key, value] : action.fields.items()) monitor[key] = value;
    if (action.set_parent && !ParentId(action, &monitor["parent"], why)) return false;
    if (!action.push_token.empty()) monitor["pushToken"] = action.push_token;
    if (!port_->EditMonitor(monitor, why)) return false;
    ++report_->edited;
    if (!action.push_token.empty()) SetToken(action.target, action.push_token);
    return true;
  }

  bool Do(const SyncAction& action, std::string* why) {
    switch (action.kind) {
      case Kind::kAddTag: return port_->AddTag(kOwnTagName, kOwnTagColor, &tag_id_, why);
      case Kind::kAdd: return Add(action, why);
      case Kind::kAdopt: return true;  // the plan's file has it already
      case Kind::kEdit: return Edit(action, why);
      case Kind::kTag: return Tag(action.monitor_id, action.target, why);
      case Kind::kPause:
        if (!port_->PauseMonitor(action.monitor_id, why)) return false;
        ++report_->paused;
        return true;
      case Kind::kStale: return true;
    }
    return true;
  }

  const SyncPlan& plan_;
  KumaSyncPort* port_;
  MonitorsFile* file_;
  SyncReport* report_;
  int tag_id_ = 0;
  std::map<SyncTarget, int> ids_;
};

}  // namespace

bool ExecuteSyncPlan(const SyncPlan& plan, const KumaFacts& kuma, KumaSyncPort* port,
                     MonitorsFile* file, SyncReport* report, std::string* err) {
  Executor executor(plan, kuma, port, file, report);
  return executor.Run(err);
}

}  // namespace pbk
