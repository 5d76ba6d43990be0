#include "api/pve/guests.h"

#include "api/pve/backup_job.h"

namespace pbk {

using nlohmann::json;

bool ParseGuestList(const json& document, std::vector<Guest>* guests, std::string* err) {
  const json* list = AnswerList(document, "guests", err);
  if (list == nullptr) return false;
  std::vector<Guest> result;
  for (size_t i = 0; i < list->size(); ++i) {
    const json& entry = (*list)[i];
    if (!entry.is_object()) {
      *err = "entry " + std::to_string(i + 1) + " is not an object";
      return false;
    }
    const std::string type = LooseString(entry.value("type", json())).value_or("");
    if (type != "qemu" && type != "lxc") continue;
    Guest guest;
    guest.type = type;
    auto vmid = LooseInt(entry.value("vmid", json()));
    guest.node = LooseString(entry.value("node", json())).value_or("");
    if (!vmid || *vmid < 100 || *vmid > 999999999 || guest.node.empty()) {
      *err = "entry " + std::to_string(i + 1) + " (" + type + ") has no valid vmid and node";
      return false;
    }
    guest.vmid = static_cast<int>(*vmid);
    guest.name = LooseString(entry.value("name", json())).value_or("");
    guest.pool = LooseString(entry.value("pool", json())).value_or("");
    guest.status = LooseString(entry.value("status", json())).value_or("");
    guest.is_template = LooseBool(entry.value("template", json())).value_or(false);
    result.push_back(std::move(guest));
  }
  *guests = std::move(result);
  return true;
}

}  // namespace pbk
