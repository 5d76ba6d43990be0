#include "api/pve/cluster_lock.h"

#include <sys/stat.h>
#include <unistd.h>
#include <utime.h>

#include <cerrno>
#include <ctime>
#include <random>
#include <thread>

#include "agent/core/fs.h"

namespace pbk {

bool ClusterLock::Acquire(const std::string& pve_dir, const std::string& name,
                          std::chrono::milliseconds wait, std::string* err) {
  Release();
  const std::string lock_dir = JoinPath(pve_dir, "priv/lock");
  const std::string path = JoinPath(lock_dir, name);
  // priv/lock exists on every PVE node; made here for a bare folder.
  if (access(lock_dir.c_str(), F_OK) != 0 && !MakeDirs(lock_dir, 0700, err)) {
    *err = "cannot take the cluster lock: no quorum? (" + *err + ")";
    return false;
  }
  const auto deadline = std::chrono::steady_clock::now() + wait;
  std::minstd_rand random(static_cast<unsigned>(getpid()));
  std::uniform_int_distribution<int> pause_ms(100, 1000);
  for (;;) {
    if (mkdir(path.c_str(), 0700) == 0) {
      path_ = path;
      taken_ = std::chrono::steady_clock::now();
      return true;
    }
    const int error = errno;
    if (error != EEXIST) {
      *err = "cannot take the cluster lock: no quorum? (mkdir " + path + ": " + ErrnoText(error) +
             ")";
      return false;
    }
    struct stat st {};
    if (stat(path.c_str(), &st) == 0 &&
        std::time(nullptr) - st.st_mtime > kClusterLockLifetime.count()) {
      // Expired: ask pmxcfs to drop it, as PVE's waiters do; a plain file
      // system needs the folder removed as well.
      struct utimbuf zero {0, 0};
      utime(path.c_str(), &zero);
      if (rmdir(path.c_str()) == 0 || errno == ENOENT) continue;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      *err = "cannot take the cluster lock " + path +
             ": another node holds it (a `kuma sync` running elsewhere); try again in a minute";
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms(random)));
  }
}

bool ClusterLock::Renew(std::string* err) {
  if (path_.empty()) {
    *err = "the cluster lock is not held";
    return false;
  }
  struct utimbuf renewed {0, std::time(nullptr)};
  if (utime(path_.c_str(), &renewed) != 0) {
    *err = "the cluster lock " + path_ + " was lost (" + ErrnoText(errno) +
           "): pmxcfs dropped it, and another node may be syncing now";
    path_.clear();  // not ours any more: never removed by Release
    return false;
  }
  return true;
}

void ClusterLock::Release() {
  if (path_.empty()) return;
  rmdir(path_.c_str());
  path_.clear();
}

}  // namespace pbk
