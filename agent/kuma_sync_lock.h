// The cluster lock through a long `kuma sync`: pmxcfs drops a lock after
// 120 s, and a first sync of a large cluster takes minutes (Kuma answers
// each `add` more slowly the more monitors it has). LockKeepingPort renews
// the lock between Kuma calls, and stops the sync when the lock is lost, so
// two nodes never make monitors at the same time.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "agent/kuma_sync.h"
#include "api/pve/cluster_lock.h"

namespace pbk {

// Well inside the lock's 120 s, with room for a slow call between renewals.
inline constexpr std::chrono::seconds kLockRenewEvery{30};

class LockKeepingPort : public KumaSyncPort {
 public:
  using Now = std::function<std::chrono::steady_clock::time_point()>;

  // INNER makes the calls; LOCK is held. NOW is the clock (tests move it).
  LockKeepingPort(KumaSyncPort* inner, ClusterLock* lock,
                  std::chrono::seconds every = kLockRenewEvery,
                  Now now = std::chrono::steady_clock::now);

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
  int Calls() const override { return inner_->Calls(); }

  int renewals() const { return renewals_; }

 private:
  // Renews the lock when EVERY has passed since it was taken or renewed;
  // false with *err (and no call made) when it is lost.
  bool Keep(std::string* err);

  KumaSyncPort* inner_;
  ClusterLock* lock_;
  std::chrono::seconds every_;
  Now now_;
  std::chrono::steady_clock::time_point last_;
  int renewals_ = 0;
};

}  // namespace pbk
