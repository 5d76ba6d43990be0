#include "hook/worker.h"

#include <gtest/gtest.h>

#include "tests/support/test_dir.h"

namespace pbk {
namespace {

const char kUpid[] = "UPID:pve1:000A1B2C:0143F5A7:6740C2B1:vzdump::root@pam:";

TEST(WorkerTest, ParsesAUpid) {
  Upid upid;
  ASSERT_TRUE(ParseUpid(kUpid, &upid));
  EXPECT_EQ(upid.node, "pve1");
  EXPECT_EQ(upid.pid, 0x000A1B2Cu);
  EXPECT_EQ(upid.pstart, 0x0143F5A7u);
  EXPECT_EQ(upid.starttime, 0x6740C2B1u);
  EXPECT_EQ(upid.type, "vzdump");
  EXPECT_EQ(upid.id, "");
  EXPECT_EQ(upid.user, "root@pam");
  ASSERT_TRUE(ParseUpid("UPID:pve-2:00000001:00000002:00000003:vzdump:100:admin@pve!tok:", &upid));
  EXPECT_EQ(upid.id, "100");
  EXPECT_EQ(upid.user, "admin@pve!tok");
}

TEST(WorkerTest, RejectsMalformedUpids) {
  Upid upid;
  for (const char* bad : {"", "UPID:", "UPID:pve1:XYZ:0:0:vzdump::root@pam:",
                          "UPID:pve1:00000001:00000002:00000003:vzdump::root@pam",
                          "UPID::00000001:00000002:00000003:vzdump::root@pam:",
                          "upid:pve1:00000001:00000002:00000003:vzdump::root@pam:",
                          "UPID:pve1:00000000:00000002:00000003:vzdump::root@pam:",
                          "UPID:pve1:00000001:00000002:00000003:vzdump::root@pam:extra:"}) {
    EXPECT_FALSE(ParseUpid(bad, &upid)) << bad;
  }
}

TEST(WorkerTest, FindsTheUpidInATaskWorkersCmdline) {
  EXPECT_EQ(UpidFromCmdline(std::string("task ") + kUpid + std::string("\0\0\0", 3)), kUpid);
  EXPECT_EQ(UpidFromCmdline(std::string("task ") + kUpid + "   "), kUpid);
  EXPECT_EQ(UpidFromCmdline(std::string("/usr/bin/perl\0/usr/bin/vzdump\0", 30)), "");
  EXPECT_EQ(UpidFromCmdline("task UPID:broken"), "");
  EXPECT_EQ(UpidFromCmdline(""), "");
}

TEST(WorkerTest, ReadsTheStartTimeDespiteOddProcessNames) {
  uint64_t ticks = 0;
  ASSERT_TRUE(StartTimeFromStat(
      "4242 (we ird) (name)) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 0 0",
      &ticks));
  EXPECT_EQ(ticks, 987654u);
  EXPECT_FALSE(StartTimeFromStat("4242 (x) S 1 2", &ticks));
  EXPECT_FALSE(StartTimeFromStat("no parenthesis", &ticks));
}

TEST(WorkerTest, IdentifiesARunByUpidOrByPidAndStartTime) {
  testing::TestDir proc;
  proc.Write("4242/cmdline", std::string("task ") + kUpid + std::string("\0", 1));
  WorkerIdentity worker;
  std::string err;
  ASSERT_TRUE(IdentifyWorker(proc.path(), 4242, &worker, &err)) << err;
  EXPECT_EQ(worker.upid, kUpid);
  EXPECT_EQ(worker.pid, 4242);
  EXPECT_EQ(worker.key, "upid-pve1-000A1B2C-0143F5A7-6740C2B1");

  proc.Write("77/cmdline", std::string("/usr/bin/perl\0/usr/bin/vzdump\0", 30));
  proc.Write("77/stat", "77 (vzdump) S 1 77 77 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5555 0 0");
  ASSERT_TRUE(IdentifyWorker(proc.path(), 77, &worker, &err)) << err;
  EXPECT_EQ(worker.upid, "");
  EXPECT_EQ(worker.key, "pid-77-5555");

  EXPECT_FALSE(IdentifyWorker(proc.path(), 99, &worker, &err));
  EXPECT_EQ(err, "cannot identify the calling vzdump process 99: reading " + proc.path() +
                     "/99/stat: No such file or directory");
}

}  // namespace
}  // namespace pbk
