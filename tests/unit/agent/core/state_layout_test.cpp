#include "agent/core/state_layout.h"

#include <gtest/gtest.h>

#include <string>

namespace pbk {
namespace {

// Every place under state_dir, by its full path: a renamed file or folder
// would strand what the previous version left on a node (owed pushes, run
// records, the guard's cache), so a change here must be deliberate.
TEST(StateLayoutTest, NamesEveryPlaceUnderTheStateDir) {
  const StateLayout state("/var/lib/pbk-agent");
  EXPECT_EQ(state.StateDir(), "/var/lib/pbk-agent");
  EXPECT_EQ(state.RunsDir(), "/var/lib/pbk-agent/runs");
  EXPECT_EQ(state.RunFile("upid-pve1-00001092-0143F5A7-6740C2B1"),
            "/var/lib/pbk-agent/runs/upid-pve1-00001092-0143F5A7-6740C2B1.json");
  EXPECT_EQ(state.SpoolDir(), "/var/lib/pbk-agent/spool");
  EXPECT_EQ(state.SpoolEntry("pid-4242-99"), "/var/lib/pbk-agent/spool/pid-4242-99.json");
  EXPECT_EQ(state.SentEntry("pid-4242-99"), "/var/lib/pbk-agent/spool/pid-4242-99.sent");
  EXPECT_EQ(state.FailedDir(), "/var/lib/pbk-agent/spool/failed");
  EXPECT_EQ(state.FailedEntryFor("/var/lib/pbk-agent/spool/pid-4242-99.json"),
            "/var/lib/pbk-agent/spool/failed/pid-4242-99.json");
  EXPECT_EQ(state.LocksDir(), "/var/lib/pbk-agent/locks");
  EXPECT_EQ(state.JobLock("backup-5e1f9d0c-7a3b"),
            "/var/lib/pbk-agent/locks/job-backup-5e1f9d0c-7a3b.lock");
  EXPECT_EQ(state.GuardLock(), "/var/lib/pbk-agent/guard.lock");
  EXPECT_EQ(state.FlushLock(), "/var/lib/pbk-agent/flush.lock");
  EXPECT_EQ(state.JobCache(), "/var/lib/pbk-agent/jobs.json");
  EXPECT_EQ(state.GuardClean(), "/var/lib/pbk-agent/guard-clean.json");
  EXPECT_EQ(state.ReplacedScripts(), "/var/lib/pbk-agent/replaced-scripts.json");
  EXPECT_EQ(state.RefreshState(), "/var/lib/pbk-agent/refresh.json");
}

TEST(StateLayoutTest, AStateDirWithATrailingSlashGivesTheSamePaths) {
  const StateLayout state("/srv/state/");
  EXPECT_EQ(state.RunFile("r1"), "/srv/state/runs/r1.json");
  EXPECT_EQ(state.FailedDir(), "/srv/state/spool/failed");
  EXPECT_EQ(state.JobCache(), "/srv/state/jobs.json");
}

// A legacy job's id ("<sha1>:<n>", from vzdump.cron) is no file name as it
// is: the lock names it with the characters a file name may hold.
TEST(StateLayoutTest, AJobLockNamesTheJobSafely) {
  const StateLayout state("/var/lib/pbk-agent");
  EXPECT_EQ(state.JobLock("5e1f9d0c7a3b2e4d6f8a0b1c2d3e4f5a6b7c8d9e:1"),
            "/var/lib/pbk-agent/locks/job-5e1f9d0c7a3b2e4d6f8a0b1c2d3e4f5a6b7c8d9e_1.lock");
  EXPECT_EQ(state.JobLock("../../etc/x"), "/var/lib/pbk-agent/locks/job-.._.._etc_x.lock");
}

TEST(StateLayoutTest, FileNameKeyKeepsSafeCharactersAndCapsTheLength) {
  EXPECT_EQ(FileNameKey("upid-pve1@x.y-00AF"), "upid-pve1@x.y-00AF");
  EXPECT_EQ(FileNameKey("a/b c:d"), "a_b_c_d");
  const std::string long_name(300, 'n');
  const std::string key = FileNameKey(long_name);
  ASSERT_EQ(key.size(), 200u);
  EXPECT_EQ(key.substr(0, 183), std::string(183, 'n'));
  EXPECT_EQ(key[183], '-');
  EXPECT_EQ(key, FileNameKey(long_name)) << "the same text always gets the same key";
  EXPECT_NE(key, FileNameKey(long_name + "x")) << "a difference after the cut still counts";
}

TEST(StateLayoutTest, TellsEntriesFromSentEntriesAndWritesInProgress) {
  EXPECT_EQ(StateLayout::SentPathOf("/s/spool/r1.json"), "/s/spool/r1.sent");
  EXPECT_TRUE(StateLayout::IsEntryName("r1.json"));
  EXPECT_FALSE(StateLayout::IsEntryName("r1.sent"));
  EXPECT_FALSE(StateLayout::IsEntryName(".r1.json.tmp.12.0"));
  EXPECT_FALSE(StateLayout::IsEntryName(".r1.json"));
  EXPECT_TRUE(StateLayout::IsSentName("r1.sent"));
  EXPECT_FALSE(StateLayout::IsSentName("r1.json"));
  EXPECT_FALSE(StateLayout::IsSentName(".r1.sent"));
}

}  // namespace
}  // namespace pbk
