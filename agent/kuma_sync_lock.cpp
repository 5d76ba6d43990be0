#include "agent/kuma_sync_lock.h"

#include <utility>

namespace pbk {

LockKeepingPort::LockKeepingPort(KumaSyncPort* inner, ClusterLock* lock,
                                 std::chrono::seconds every, Now now)
    : inner_(inner), lock_(lock), every_(every), now_(std::move(now)), last_(now_()) {}

bool LockKeepingPort::Keep(std::string* err) {
  const auto now = now_();
  if (now - last_ < every_) return true;
  if (!lock_->Renew(err)) {
    *err = "stopped before the next call to Kuma: " + *err;
    return false;
  }
  last_ = now;
  ++renewals_;
  return true;
}

bool LockKeepingPort::ReadFacts(nlohmann::json* monitors, nlohmann::json* notifications,
                                nlohmann::json* tags, std::string* err) {
  return Keep(err) && inner_->ReadFacts(monitors, notifications, tags, err);
}

bool LockKeepingPort::GetMonitor(int id, nlohmann::json* monitor, std::string* err) {
  return Keep(err) && inner_->GetMonitor(id, monitor, err);
}

bool LockKeepingPort::AddMonitor(const nlohmann::json& monitor, int* id, std::string* err) {
  return Keep(err) && inner_->AddMonitor(monitor, id, err);
}

bool LockKeepingPort::EditMonitor(const nlohmann::json& monitor, std::string* err) {
  return Keep(err) && inner_->EditMonitor(monitor, err);
}

bool LockKeepingPort::PauseMonitor(int id, std::string* err) {
  return Keep(err) && inner_->PauseMonitor(id, err);
}

bool LockKeepingPort::AddTag(const std::string& name, const std::string& color, int* id,
                             std::string* err) {
  return Keep(err) && inner_->AddTag(name, color, id, err);
}

bool LockKeepingPort::AddMonitorTag(int tag_id, int monitor_id, const std::string& value,
                                    std::string* err) {
  return Keep(err) && inner_->AddMonitorTag(tag_id, monitor_id, value, err);
}

}  // namespace pbk
