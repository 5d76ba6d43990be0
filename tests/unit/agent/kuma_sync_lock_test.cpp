// The cluster lock kept through a long `kuma sync` (agent/kuma_sync_lock.h),
// on a plain folder standing in for /etc/pve.
#include "agent/kuma_sync_lock.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utime.h>

#include <ctime>

#include "tests/support/test_dir.h"

namespace pbk {
namespace {

using std::chrono::seconds;
using std::chrono::steady_clock;

// Counts the calls that reach Kuma.
class CountingPort : public KumaSyncPort {
 public:
  bool ReadFacts(nlohmann::json*, nlohmann::json*, nlohmann::json*, std::string*) override {
    return Count();
  }
  bool GetMonitor(int, nlohmann::json*, std::string*) override { return Count(); }
  bool AddMonitor(const nlohmann::json&, int* id, std::string*) override {
    *id = calls_ + 1;
    return Count();
  }
  bool EditMonitor(const nlohmann::json&, std::string*) override { return Count(); }
  bool PauseMonitor(int, std::string*) override { return Count(); }
  bool AddTag(const std::string&, const std::string&, int* id, std::string*) override {
    *id = 1;
    return Count();
  }
  bool AddMonitorTag(int, int, const std::string&, std::string*) override { return Count(); }
  int Calls() const override { return calls_; }

 private:
  bool Count() {
    ++calls_;
    return true;
  }
  int calls_ = 0;
};

time_t Mtime(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return st.st_mtime;
}

class KumaSyncLockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string err;
    ASSERT_TRUE(lock_.Acquire(dir_.path(), kKumaLockName, std::chrono::milliseconds(0), &err))
        << err;
    // Taken long ago, as pmxcfs would see it after 100 s.
    struct utimbuf old {1000, 1000};
    ASSERT_EQ(utime(lock_path().c_str(), &old), 0);
  }
  std::string lock_path() const { return dir_.Path("priv/lock/pbk-agent-kuma"); }

  testing::TestDir dir_;
  ClusterLock lock_;
  steady_clock::time_point now_ = steady_clock::now();
  CountingPort kuma_;
};

TEST_F(KumaSyncLockTest, TheLockIsRenewedBetweenCallsOnlyWhenItIsDue) {
  LockKeepingPort port(&kuma_, &lock_, seconds(30), [this] { return now_; });
  std::string err;
  int id = 0;
  EXPECT_TRUE(port.AddMonitor({}, &id, &err)) << err;
  now_ += seconds(29);
  EXPECT_TRUE(port.GetMonitor(1, nullptr, &err)) << err;
  EXPECT_EQ(port.renewals(), 0);
  EXPECT_EQ(Mtime(lock_path()), 1000) << "renewed before it was due";

  now_ += seconds(2);
  EXPECT_TRUE(port.EditMonitor({}, &err)) << err;
  EXPECT_EQ(port.renewals(), 1);
  EXPECT_GE(Mtime(lock_path()), std::time(nullptr) - 5) << "utime(0, now) was not set";
  EXPECT_EQ(port.Calls(), 3);

  // A sync of twenty minutes keeps it all along: one renewal per period.
  for (int minute = 0; minute < 20; ++minute) {
    now_ += seconds(60);
    EXPECT_TRUE(port.AddTag("pbk-agent", "#2563eb", &id, &err)) << err;
    EXPECT_TRUE(port.AddMonitorTag(1, 2, "job@pve1", &err)) << err;
  }
  EXPECT_EQ(port.renewals(), 21);
  EXPECT_TRUE(lock_.held());
}

TEST_F(KumaSyncLockTest, ALostLockStopsTheSyncBeforeTheNextCall) {
  LockKeepingPort port(&kuma_, &lock_, seconds(30), [this] { return now_; });
  std::string err;
  EXPECT_TRUE(port.PauseMonitor(7, &err)) << err;
  // pmxcfs dropped the lock (it was not renewed in time).
  ASSERT_EQ(rmdir(lock_path().c_str()), 0);
  now_ += seconds(31);
  EXPECT_FALSE(port.PauseMonitor(8, &err));
  EXPECT_EQ(kuma_.Calls(), 1) << "a call was made without the lock";
  EXPECT_NE(err.find("stopped before the next call to Kuma: the cluster lock " + lock_path() +
                     " was lost"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("another node may be syncing now"), std::string::npos) << err;
  EXPECT_FALSE(lock_.held());
  // Whoever holds it now keeps it: Release does not remove another's lock.
  ASSERT_EQ(mkdir(lock_path().c_str(), 0700), 0);
  lock_.Release();
  EXPECT_TRUE(dir_.Exists("priv/lock/pbk-agent-kuma"));
}

}  // namespace
}  // namespace pbk
