// The scenario file: the job a simulated vzdump run plays, and the guests it
// backs up on this node, each with how its backup goes.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/tools/vzdump_sim_common.h"

namespace pbk::testing::vzdump_sim {

enum class GuestRun { kSnapshot, kSuspend, kStop, kStopped, kFailArchive, kFailEarly };

struct Guest {
  long long vmid = 0;
  std::string type;                 // "qemu" or "lxc"; empty only for fail-early
  std::optional<std::string> name;  // qemu guests without a name have no HOSTNAME
  GuestRun run = GuestRun::kSnapshot;
  double archive_seconds = 0.0;
};

struct Scenario {
  std::optional<std::string> storage;
  std::optional<std::string> dumpdir;
  std::optional<std::string> job_id;
  json job_config = json::object();
  // The run's own options, as vzdump logs them in "starting new backup job":
  // key -> string, number or (for property strings) object; "vmid" is the
  // guest list. Absent: the job's config (a scheduled run), else the guests
  // and the storage (a guest's "Backup now").
  std::optional<json> options;
  std::vector<Guest> guests;
  std::optional<long long> abort_after_guest;
  bool fail_job_start = false;
  // An "all" job runs its job phases on every node, even one without guests.
  bool all = false;
};

class ScenarioError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Reads and checks the scenario file PATH; throws ScenarioError.
Scenario LoadScenario(const std::string& path);

}  // namespace pbk::testing::vzdump_sim
