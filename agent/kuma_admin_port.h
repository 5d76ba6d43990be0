// KumaSyncPort (kuma_sync.h) over Kuma's management API (kuma_admin.h).
#pragma once

#include <memory>

#include "agent/kuma_sync.h"
#include "api/kuma/kuma_admin.h"

namespace pbk {

class KumaAdminPort : public KumaSyncPort {
 public:
  explicit KumaAdminPort(KumaAdmin* admin) : admin_(admin) {}

  bool ReadFacts(nlohmann::json* monitors, nlohmann::json* notifications, nlohmann::json* tags,
                 std::string* err) override;
  bool GetMonitor(int id, nlohmann::json* monitor, std::string* err) override;
  bool AddMonitor(const nlohmann::json& monitor, int* id, std::string* err) override;
  bool EditMonitor(const nlohmann::json& monitor, std::string* err) override;
  bool PauseMonitor(int id, std::string* err) override;
  bool AddTag(const std::string& name, const std::string& color, int* id,
              std::string* err) override;
  bool AddMonitorTag(int tag_id, int monitor_id, const std::string& value,
                     std::string* err) override;
  int Calls() const override { return admin_->calls(); }

 private:
  KumaAdmin* admin_;
};

}  // namespace pbk
