// `pbk-agent kuma sync`, from the configuration to the monitors file: reads
// the jobs, the guests and the members; logs in with the stored session
// (kuma login); takes the cluster lock; plans (kuma_sync_plan.h); carries
// the plan out and writes the monitors file (kuma_sync.h).
#pragma once

#include <string>
#include <vector>

#include "agent/core/config.h"
#include "agent/kuma_sync.h"
#include "agent/kuma_sync_plan.h"

namespace pbk {

inline constexpr int kSyncExitOk = 0;
inline constexpr int kSyncExitProblem = 1;
inline constexpr int kSyncExitUsage = 2;

struct KumaSyncOptions {
  bool dry_run = false;
  bool prune = false;
  // The timer's service: nothing without a session, and no connection to
  // Kuma while the monitors file was made from the cluster as it is.
  bool service = false;
};

struct KumaSyncResult {
  int exit_code = 0;  // 0 done or nothing to do; 1 Kuma, PVE or the lock failed; 2 configuration
  bool planned = false;   // plan holds the plan
  bool executed = false;  // report holds what was done
  SyncPlan plan;
  SyncReport report;
  std::vector<std::string> errors;  // in words, never a secret
  std::vector<std::string> notes;
  int socket_io_calls = 0;
  // The stored session: "missing", "refused" (Kuma no longer accepts it),
  // "valid", or "" when it was not tried (Kuma unreachable, PVE failed).
  std::string session;
};

KumaSyncResult RunKumaSync(const Config& config, const KumaSyncOptions& options);

}  // namespace pbk
