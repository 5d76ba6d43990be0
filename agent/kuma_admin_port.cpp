#include "agent/kuma_admin_port.h"

namespace pbk {

using nlohmann::json;

namespace {

bool Failed(const KumaAdminError& error, std::string* err) {
  *err = error.message;
  return false;
}

}  // namespace

bool KumaAdminPort::ReadFacts(json* monitors, json* notifications, json* tags,
                              std::string* err) {
  KumaAdminError error;
  if (!admin_->MonitorList(monitors, &error) ||
      !admin_->NotificationList(notifications, &error) || !admin_->Tags(tags, &error)) {
    return Failed(error, err);
  }
  return true;
}

bool KumaAdminPort::GetMonitor(int id, json* monitor, std::string* err) {
  KumaAdminError error;
  return admin_->GetMonitor(id, monitor, &error) || Failed(error, err);
}

bool KumaAdminPort::AddMonitor(const json& monitor, int* id, std::string* err) {
  KumaAdminError error;
  int64_t new_id = 0;
  if (!admin_->AddMonitor(monitor, &new_id, &error)) return Failed(error, err);
  *id = static_cast<int>(new_id);
  return true;
}

bool KumaAdminPort::EditMonitor(const json& monitor, std::string* err) {
  KumaAdminError error;
  return admin_->EditMonitor(monitor, &error) || Failed(error, err);
}

bool KumaAdminPort::PauseMonitor(int id, std::string* err) {
  KumaAdminError error;
  return admin_->PauseMonitor(id, &error) || Failed(error, err);
}

bool KumaAdminPort::AddTag(const std::string& name, const std::string& color, int* id,
                           std::string* err) {
  KumaAdminError error;
  int64_t new_id = 0;
  if (!admin_->AddTag(name, color, &new_id, &error)) return Failed(error, err);
  *id = static_cast<int>(new_id);
  return true;
}

bool KumaAdminPort::AddMonitorTag(int tag_id, int monitor_id, const std::string& value,
                                  std::string* err) {
  KumaAdminError error;
  return admin_->AddMonitorTag(tag_id, monitor_id, value, &error) || Failed(error, err);
}

}  // namespace pbk
