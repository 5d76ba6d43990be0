// Where the guests are: /cluster/resources?type=vm, read with the same
// token as the jobs (or through pvesh). A cluster-wide job runs on each
// node for that node's guests only, and guests migrate.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace pbk {

struct Guest {
  int vmid = 0;
  std::string node;
  std::string type;  // qemu or lxc
  std::string name;
  std::string pool;
  std::string status;
  bool is_template = false;
};

// Reads /cluster/resources entries ({"data": [...]} or a bare list); entries
// of other types (storage, node, sdn) are skipped.
bool ParseGuestList(const nlohmann::json& document, std::vector<Guest>* guests, std::string* err);

}  // namespace pbk
