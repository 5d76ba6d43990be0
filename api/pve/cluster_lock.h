// The cluster-wide lock `kuma sync` holds, as PVE's own cluster-wide work
// does (pve-cluster's cfs_lock): mkdir <pve_dir>/priv/lock/pbk-agent-kuma
// succeeds on one node at a time; rmdir releases it. pmxcfs drops a lock
// held longer than 120 s; a waiter asks it to drop an expired one by setting
// the folder's times to 0; the holder keeps it another 120 s by setting its
// modification time to now (pve-cluster's README, "File Locking"). Without
// quorum the mkdir fails.
#pragma once

#include <chrono>
#include <string>

namespace pbk {

inline constexpr char kKumaLockName[] = "pbk-agent-kuma";
// pmxcfs keeps a lock this long; PVE's own locked work stays within 60 s.
inline constexpr std::chrono::seconds kClusterLockLifetime{120};

class ClusterLock {
 public:
  ClusterLock() = default;
  ClusterLock(const ClusterLock&) = delete;
  ClusterLock& operator=(const ClusterLock&) = delete;
  ~ClusterLock() { Release(); }

  // Takes <pve_dir>/priv/lock/NAME, trying again every 0.1 to 1 s until
  // WAIT has passed. A lock older than kClusterLockLifetime is expired: its
  // times are set to 0 so pmxcfs drops it (and, on a plain file system
  // standing in for pmxcfs, it is removed). False with *err naming why.
  bool Acquire(const std::string& pve_dir, const std::string& name,
               std::chrono::milliseconds wait, std::string* err);
  // Keeps the lock another kClusterLockLifetime: utime(0, now) on the
  // folder, which pmxcfs allows only the node that made it. False with
  // *err when the lock is gone (pmxcfs dropped it; another node may hold it
  // now).
  bool Renew(std::string* err);
  void Release();
  bool held() const { return !path_.empty(); }
  // When the lock was taken; pmxcfs drops it kClusterLockLifetime later.
  std::chrono::steady_clock::time_point taken() const { return taken_; }

 private:
  std::string path_;
  std::chrono::steady_clock::time_point taken_;
};

}  // namespace pbk
