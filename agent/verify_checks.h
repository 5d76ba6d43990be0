// The checks of `pbk-agent verify`, one function each. A check reads what it
// needs from the node (through VerifyContext, which keeps what several checks
// share) and adds one or more results: OK, WARN or FAIL, in words, with how to
// fix what is not OK. Adding a check is one function and one line in
// VerifyChecks().
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/core/config.h"
#include "agent/guard_node.h"
#include "agent/pve_access.h"
#include "api/pve/backup_job.h"
#include "api/pve/guests.h"
#include "api/pve/monitors_file.h"
#include "api/pve/placement.h"

namespace pbk {

enum class CheckStatus { kOk, kWarn, kFail };

// "OK", "WARN", "FAIL".
const char* CheckStatusName(CheckStatus status);

struct CheckResult {
  std::string name;  // what was checked ("hook script", "monitor backup-1")
  CheckStatus status = CheckStatus::kOk;
  std::string text;  // what was found
  std::string fix;   // what to do about it; "" when there is nothing to do
};

class CheckResults {
 public:
  void Add(const std::string& name, CheckStatus status, const std::string& text,
           const std::string& fix = "") {
    results_.push_back({name, status, text, fix});
  }
  bool AnyFail() const;
  int Count(CheckStatus status) const;
  const std::vector<CheckResult>& all() const { return results_; }

 private:
  std::vector<CheckResult> results_;
};

// What the checks share, filled in by the checks that read it first (in the
// order of VerifyChecks()).
struct VerifyContext {
  std::string config_path;  // as given on the command line
  Config config;            // with the push tokens of the monitors file added
  std::map<std::string, JobConfig> configured_jobs;  // as the configuration itself names them
  MonitorsFile monitors_file;
  bool has_monitors_file = false;
  PveAccess pve;
  std::vector<BackupJob> jobs;
  std::string jobs_source;  // "" while no reader has answered
  NodeSetup node;           // what the guard would find now (a dry run), once the jobs are read
  std::vector<Guest> guests;
  bool guests_placed = false;                   // the guests could be read
  std::map<std::string, Placement> placements;  // by job id, once the guests are read
  nlohmann::json kuma_monitors;                 // Kuma's monitorList, read with the session
};

// Loads the configuration at CONFIG_PATH and opens the ways to PVE. When
// either fails, the reason is added to *results and the other checks cannot
// run: false (a configuration error).
bool OpenVerifyContext(const std::string& config_path, VerifyContext* context,
                       CheckResults* results);

using VerifyCheck = void (*)(VerifyContext* context, CheckResults* results);

// The checks, in the order verify prints them.
const std::vector<VerifyCheck>& VerifyChecks();

// The checks of Kuma, the units and what the hook owes and reported
// (verify_checks_service.cpp); VerifyChecks() lists them after PVE's.
void CheckKuma(VerifyContext* context, CheckResults* results);
void CheckKumaSessionLine(VerifyContext* context, CheckResults* results);
void CheckMonitorsInKuma(VerifyContext* context, CheckResults* results);
void CheckUnits(VerifyContext* context, CheckResults* results);
void CheckServiceRun(VerifyContext* context, CheckResults* results);
void CheckNodeMonitor(VerifyContext* context, CheckResults* results);
void CheckHeartbeatInterval(VerifyContext* context, CheckResults* results);
void CheckSpool(VerifyContext* context, CheckResults* results);
void CheckLastPushes(VerifyContext* context, CheckResults* results);

}  // namespace pbk
