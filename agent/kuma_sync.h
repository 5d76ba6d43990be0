// `kuma sync`: carries out the plan (kuma_sync_plan.h) against Kuma, one
// checked call at a time, and keeps the monitors file in step with what
// was really done: when a call fails, what was done before it is written
// to the file all the same.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/core/config.h"
#include "agent/kuma_sync_plan.h"
#include "api/pve/monitors_file.h"

namespace pbk {

// The calls the sync makes, as Kuma's management API offers them
// (api/kuma/kuma_admin.h); tests put a fake behind it. Each returns false
// with *err in words an admin can act on.
class KumaSyncPort {
 public:
  virtual ~KumaSyncPort() = default;
  // monitorList, notificationList and the tags, as Kuma sent them.
  virtual bool ReadFacts(nlohmann::json* monitors, nlohmann::json* notifications,
                         nlohmann::json* tags, std::string* err) = 0;
  virtual bool GetMonitor(int id, nlohmann::json* monitor, std::string* err) = 0;
  virtual bool AddMonitor(const nlohmann::json& monitor, int* id, std::string* err) = 0;
  virtual bool EditMonitor(const nlohmann::json& monitor, std::string* err) = 0;
  virtual bool PauseMonitor(int id, std::string* err) = 0;
  virtual bool AddTag(const std::string& name, const std::string& color, int* id,
                      std::string* err) = 0;
  virtual bool AddMonitorTag(int tag_id, int monitor_id, const std::string& value,
                             std::string* err) = 0;
  // Socket.IO calls made so far.
  virtual int Calls() const = 0;
};

// Reads Kuma's monitorList ({"<id>": {…}}), notificationList and tag list.
// False with *err naming the entry that is not what Kuma sends.
bool ParseKumaFacts(const nlohmann::json& monitors, const nlohmann::json& notifications,
                    const nlohmann::json& tags, KumaFacts* facts, std::string* err);

struct SyncReport {
  std::vector<std::string> done;  // one line per action carried out
  std::vector<nlohmann::json> done_json;
  int added = 0, edited = 0, paused = 0, tagged = 0;
};

// Carries out PLAN through PORT. *file is what Kuma holds afterwards (the
// monitors not made are left out of it), also when a call fails (false,
// *err naming the action and Kuma's answer).
bool ExecuteSyncPlan(const SyncPlan& plan, const KumaFacts& kuma, KumaSyncPort* port,
                     MonitorsFile* file, SyncReport* report, std::string* err);

}  // namespace pbk
