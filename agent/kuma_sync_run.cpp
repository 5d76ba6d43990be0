#include "agent/kuma_sync_run.h"

#include <nlohmann/json.hpp>

#include "agent/core/fs.h"
#include "agent/core/log.h"
#include "agent/core/state_layout.h"
#include "agent/core/text.h"
#include "agent/kuma_admin_port.h"
#include "agent/kuma_session.h"
#include "agent/kuma_sync_lock.h"
#include "agent/pve_access.h"
#include "api/pve/cluster.h"
#include "api/pve/cluster_lock.h"
#include "api/pve/monitors_file.h"

namespace pbk {

using nlohmann::json;

namespace {

// Other nodes' syncs are short; one that holds the lock longer is stuck.
constexpr std::chrono::seconds kLockWait{60};

KumaSyncResult Failed(int code, const std::string& error, KumaSyncResult result = {}) {
  result.exit_code = code;
  result.errors.push_back(error);
  return result;
}

// The cluster as the monitors depend on it; false with *err.
bool ReadCluster(const Config& config, ClusterFacts* cluster, int* code, std::string* err) {
  *code = kSyncExitProblem;
  PveAccess pve;
  if (!OpenPveAccess(config, &pve, err)) {
    *code = kSyncExitUsage;
    return false;
  }
  std::vector<BackupJob> jobs;
  std::string source;
  std::vector<std::string> warnings;
  const std::string job_cache = StateLayout(config.paths.state_dir).JobCache();
  if (!ReadJobs(pve, job_cache, &jobs, &source, &warnings, err)) {
    *err = "reading the backup jobs: " + *err;
    return false;
  }
  if (source != "rest" && source != "pvesh" && source != "files") {
    *err = "PVE's job list cannot be read (" + Join(warnings, "; ") + "); only " + source +
           " is at hand, which may be stale: nothing is changed";
    return false;
  }
  std::vector<Guest> guests;
  if (!ReadGuests(pve, &guests, err)) {
    *err = "where the guests are cannot be read: " + *err +
           " (which nodes a job runs on depends on it)";
    return false;
  }
  ClusterMembers members;
  if (!ReadMembers(config.paths.pve_dir, config.node, &members, err)) return false;
  *cluster = MakeClusterFacts(jobs, guests, members.nodes);
  return true;
}

// Logs in, plans, and (unless a dry run) carries the plan out under the
// cluster lock.
KumaSyncResult Sync(const Config& config, const ClusterFacts& cluster, const std::string& session,
                    const KumaSyncOptions& options) {
  KumaAdminError error;
  std::unique_ptr<KumaAdmin> admin = KumaAdmin::Connect(config.kuma, &error);
  if (!admin) return Failed(kSyncExitProblem, error.message);
  if (!admin->LoginByToken(session, &error)) {
    const bool refused = error.kind == KumaAdminError::Kind::kSessionRejected;
    KumaSyncResult refusal;
    if (refused) refusal.session = "refused";
    return Failed(kSyncExitProblem,
                  refused ? "Kuma does not accept the stored session in " +
                                config.kuma.session_file + ": run `pbk-agent kuma login` again"
                          : "logging in to Kuma: " + error.message,
                  refusal);
  }
  KumaSyncResult result;
  result.session = "valid";
  std::string err;
  ClusterLock lock;
  if (!options.dry_run && !lock.Acquire(config.paths.pve_dir, kKumaLockName, kLockWait, &err)) {
    return Failed(kSyncExitProblem, err, result);
  }
  const std::string path = MonitorsFilePath(config.paths.pve_dir);
  MonitorsFile file;
  bool exists = false;
  if (!LoadMonitorsFile(path, &file, &exists, &err)) return Failed(kSyncExitProblem, err, result);
  AddSecrets(file.Tokens());
  KumaAdminPort port(admin.get());
  // A first sync of a large cluster outlives the lock's 120 s: it is
  // renewed between calls, and the sync stops when it is lost.
  LockKeepingPort kept(&port, &lock);
  KumaSyncPort* calls = options.dry_run ? static_cast<KumaSyncPort*>(&port) : &kept;
  json monitors, notifications, tags;
  KumaFacts kuma;
  if (!calls->ReadFacts(&monitors, &notifications, &tags, &err) ||
      !ParseKumaFacts(monitors, notifications, tags, &kuma, &err)) {
    return Failed(kSyncExitProblem, "reading Kuma's monitors: " + err, result);
  }
  SyncSettings settings;
  settings.interval_seconds = config.kuma.heartbeat_interval_minutes * 60;
  settings.notifications = config.kuma.notifications;
  settings.prune = options.prune;
  if (!PlanKumaSync(cluster, kuma, file, settings, RandomPushToken, &result.plan, &err)) {
    return Failed(kSyncExitUsage, err, result);
  }
  result.planned = true;
  AddSecrets(result.plan.file.Tokens());
  if (options.dry_run) {
    result.socket_io_calls = port.Calls();
    return result;
  }
  MonitorsFile made;
  const bool done = ExecuteSyncPlan(result.plan, kuma, calls, &made, &result.report, &err);
  result.executed = true;
  result.socket_io_calls = port.Calls();
  if (!done) result.errors.push_back(err + " (what was done is in " + path + ")");
  std::string save_err;
  const bool unchanged = exists && SerializeMonitorsFile(made) == SerializeMonitorsFile(file);
  if (!unchanged && !SaveMonitorsFile(path, made, &save_err)) {
    result.errors.push_back(save_err + ": the monitors made are in Kuma, but no node knows "
                            "their tokens until `kuma sync` runs again");
  }
  result.exit_code = result.errors.empty() ? kSyncExitOk : kSyncExitProblem;
  return result;
}

}  // namespace

KumaSyncResult RunKumaSync(const Config& config, const KumaSyncOptions& options) {
  std::string session, err;
  bool has_session = false;
  if (!ReadKumaSession(config, &session, &has_session, &err)) return Failed(kSyncExitUsage, err);
  if (!has_session) {
    KumaSyncResult none;
    none.session = "missing";
    if (options.service) return none;  // monitors made by hand: nothing to keep
    return Failed(kSyncExitProblem,
                  "no Kuma session in " + config.kuma.session_file +
                      ": run `pbk-agent kuma login` first",
                  none);
  }
  ClusterFacts cluster;
  int code = 0;
  if (!ReadCluster(config, &cluster, &code, &err)) return Failed(code, err);
  if (options.service) {
    MonitorsFile file;
    bool exists = false;
    if (!LoadMonitorsFile(MonitorsFilePath(config.paths.pve_dir), &file, &exists, &err)) {
      return Failed(kSyncExitProblem, err);
    }
    if (exists && file.digest == SyncDigest(cluster)) return {};
  }
  KumaSyncResult result = Sync(config, cluster, session, options);
  if (options.service) {
    result.notes.insert(result.notes.begin(),
                        "the cluster's jobs, members or guests changed since the monitors file "
                        "was written: synced");
  }
  return result;
}

}  // namespace pbk
