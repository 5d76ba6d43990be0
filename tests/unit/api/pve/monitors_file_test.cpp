#include "api/pve/monitors_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <utime.h>

#include "agent/core/fs.h"
#include "api/pve/cluster_lock.h"
#include "tests/support/test_dir.h"

namespace pbk {
namespace {

MonitorsFile Sample() {
  MonitorsFile file;
  file.digest = "abc";
  JobMonitors& job = file.jobs["backup-1"];
  job.job_id = "backup-1";
  job.name = "nightly";
  job.group_id = 7;
  job.nodes["pve1"] = {8, "tokenAAAAAAAAAAAAAAA"};
  job.nodes["pve2"] = {9, "tokenBBBBBBBBBBBBBBB"};
  file.node_group_id = 3;
  file.node_monitors["pve1"] = {4, "nodeTokenAAAAAAAAAAA"};
  return file;
}

TEST(MonitorsFileTest, SavedFileReadsBackTheSameAndIsPrivate) {
  testing::TestDir dir;
  const std::string path = MonitorsFilePath(dir.path());
  EXPECT_EQ(path, dir.path() + "/priv/pbk-agent/monitors.json");
  std::string err;
  ASSERT_TRUE(SaveMonitorsFile(path, Sample(), &err)) << err;
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  ASSERT_EQ(stat(DirName(path).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);

  MonitorsFile read;
  bool exists = false;
  ASSERT_TRUE(LoadMonitorsFile(path, &read, &exists, &err)) << err;
  EXPECT_TRUE(exists);
  EXPECT_EQ(SerializeMonitorsFile(read), SerializeMonitorsFile(Sample()));
  EXPECT_EQ(read.jobs.at("backup-1").nodes.at("pve2").monitor_id, 9);
  EXPECT_EQ(read.node_monitors.at("pve1").push_token, "nodeTokenAAAAAAAAAAA");
  EXPECT_EQ(read.Tokens().size(), 3u);
}

TEST(MonitorsFileTest, AMissingFileIsEmptyAndNotAnError) {
  testing::TestDir dir;
  MonitorsFile file;
  bool exists = true;
  std::string err;
  ASSERT_TRUE(LoadMonitorsFile(MonitorsFilePath(dir.path()), &file, &exists, &err)) << err;
  EXPECT_FALSE(exists);
  EXPECT_TRUE(file.jobs.empty());
}

TEST(MonitorsFileTest, ABrokenFileIsAnErrorNamingWhatIsWrong) {
  struct Case {
    std::string text;
    std::string says;
  };
  const Case cases[] = {
      {"", "not valid JSON"},
      {"{\"version\": 1", "not valid JSON"},
      {"[]", "must be a JSON object"},
      {"{\"version\": 2, \"digest\": \"\", \"node_group_id\": 0, \"jobs\": {}, "
       "\"node_monitors\": {}}",
       "version 2 is not known"},
      {"{\"version\": 1, \"digest\": \"\", \"node_group_id\": 0, \"jobs\": {\"j\": "
       "{\"job_id\": \"j\", \"name\": \"j\", \"group_id\": 1, \"nodes\": {\"pve1\": "
       "{\"monitor_id\": \"x\", \"push_token\": \"t\"}}}}, \"node_monitors\": {}}",
       "jobs.j.nodes.pve1.monitor_id: must be a whole number"},
      {"{\"version\": 1, \"digest\": \"\", \"node_group_id\": 0, \"jobs\": {\"j\": "
       "{\"job_id\": \"j\", \"name\": \"j\", \"group_id\": 1, \"nodes\": {\"pve1\": "
       "{\"monitor_id\": 5, \"push_token\": \"\"}}}}, \"node_monitors\": {}}",
       "jobs.j.nodes.pve1.push_token: is empty"},
      {"{\"version\": 1, \"digest\": \"\", \"node_group_id\": 0, \"jobs\": {}}",
       "\"node_monitors\" is missing"},
  };
  for (const auto& c : cases) {
    MonitorsFile file = Sample();
    std::string err;
    EXPECT_FALSE(ParseMonitorsFile(c.text, "/etc/pve/priv/pbk-agent/monitors.json", &file, &err))
        << c.text;
    EXPECT_EQ(err.rfind("/etc/pve/priv/pbk-agent/monitors.json: ", 0), 0u) << err;
    EXPECT_NE(err.find(c.says), std::string::npos) << err;
    EXPECT_EQ(file.jobs.size(), 1u) << "a failed read changes nothing";
  }
}

TEST(MonitorsFileTest, LegacyJobsAreKeyedByWhatTheyDoNotByTheirId) {
  BackupJob job;
  job.id = "0123456789abcdef0123456789abcdef01234567:1";
  job.schedule = "sun 01:00";
  job.vmids = {100, 101};
  job.storage = "local";
  const std::string key = JobKey(job);
  EXPECT_EQ(key.rfind("legacy-", 0), 0u) << key;

  BackupJob renumbered = job;
  renumbered.id = "fedcba9876543210fedcba9876543210fedcba98:3";
  renumbered.script = "/var/lib/vz/snippets/vzdump-uptime-kuma-hook.sh";
  renumbered.enabled = false;
  EXPECT_EQ(JobKey(renumbered), key) << "another id, hook or enabled flag: the same job";

  BackupJob other = job;
  other.schedule = "sat 01:00";
  EXPECT_NE(JobKey(other), key);
  other = job;
  other.vmids = {100};
  EXPECT_NE(JobKey(other), key);

  BackupJob modern;
  modern.id = "backup-8d6f3a2c-1b4e";
  modern.type = "vzdump";
  EXPECT_EQ(JobKey(modern), "backup-8d6f3a2c-1b4e");
}

TEST(MonitorsFileTest, TheConfigurationsOwnTokensWinOverTheFile) {
  MonitorsFile file = Sample();
  BackupJob legacy;
  legacy.id = "0123456789abcdef0123456789abcdef01234567:1";
  legacy.schedule = "sun 01:00";
  legacy.all = true;
  file.jobs[JobKey(legacy)] = {"oldfiledigest:1", "legacy", 10, {{"pve1", {11, "legacyTokenAAAAAAAAA"}}}};
  file.jobs["only-on-pve2"] = {"only-on-pve2", "x", 12, {{"pve2", {13, "otherTokenAAAAAAAAAA"}}}};

  Config config;
  config.node = "pve1";
  config.jobs["backup-1"].push_token = "explicitTokenAAAAAAA";
  AddSyncedTokens(file, {legacy}, &config);
  EXPECT_EQ(config.jobs.at("backup-1").push_token, "explicitTokenAAAAAAA");
  EXPECT_EQ(config.jobs.at(legacy.id).push_token, "legacyTokenAAAAAAAAA")
      << "found by today's id";
  EXPECT_EQ(config.jobs.count("only-on-pve2"), 0u) << "a monitor of another node is not ours";
  EXPECT_EQ(config.node_monitor.push_token, "nodeTokenAAAAAAAAAAA");

  Config bare;
  bare.node = "pve2";
  bare.node_monitor.push_token = "ownNodeTokenAAAAAAAA";
  AddSyncedTokens(file, {}, &bare);
  EXPECT_EQ(bare.jobs.at("backup-1").push_token, "tokenBBBBBBBBBBBBBBB");
  EXPECT_EQ(bare.jobs.count("oldfiledigest:1"), 0u)
      << "the legacy job's monitor is on pve1 only";
  EXPECT_EQ(bare.node_monitor.push_token, "ownNodeTokenAAAAAAAA");
}

TEST(MonitorsFileTest, LoadSyncedTokensReportsABrokenFileAndAddsNothing) {
  testing::TestDir dir;
  Config config;
  config.node = "pve1";
  config.paths.pve_dir = dir.path();
  config.paths.state_dir = dir.Path("state");
  std::string err;
  EXPECT_TRUE(LoadSyncedTokens(&config, &err)) << "no file: nothing to add, no error";
  dir.Write("priv/pbk-agent/monitors.json", "{broken");
  EXPECT_FALSE(LoadSyncedTokens(&config, &err));
  EXPECT_NE(err.find("monitors.json: not valid JSON"), std::string::npos) << err;
  EXPECT_TRUE(config.jobs.empty());
  ASSERT_TRUE(SaveMonitorsFile(MonitorsFilePath(dir.path()), Sample(), &err)) << err;
  ASSERT_TRUE(LoadSyncedTokens(&config, &err)) << err;
  EXPECT_EQ(config.jobs.at("backup-1").push_token, "tokenAAAAAAAAAAAAAAA");
}

TEST(ClusterLockTest, OneHolderAtATimeAndReleasedByRmdir) {
  testing::TestDir dir;
  std::string err;
  ClusterLock first;
  ASSERT_TRUE(first.Acquire(dir.path(), kKumaLockName, std::chrono::milliseconds(0), &err)) << err;
  EXPECT_TRUE(dir.Exists("priv/lock/pbk-agent-kuma"));
  ClusterLock second;
  EXPECT_FALSE(second.Acquire(dir.path(), kKumaLockName, std::chrono::milliseconds(300), &err));
  EXPECT_NE(err.find("another node holds it"), std::string::npos) << err;
  first.Release();
  EXPECT_FALSE(dir.Exists("priv/lock/pbk-agent-kuma"));
  EXPECT_TRUE(second.Acquire(dir.path(), kKumaLockName, std::chrono::milliseconds(0), &err)) << err;
}

TEST(ClusterLockTest, AnExpiredLockIsDropped) {
  testing::TestDir dir;
  dir.Write("priv/lock/pbk-agent-kuma/.keep", "");
  std::string err;
  ASSERT_EQ(unlink(dir.Path("priv/lock/pbk-agent-kuma/.keep").c_str()), 0);
  struct utimbuf old {1000, 1000};
  ASSERT_EQ(utime(dir.Path("priv/lock/pbk-agent-kuma").c_str(), &old), 0);
  ClusterLock lock;
  EXPECT_TRUE(lock.Acquire(dir.path(), kKumaLockName, std::chrono::milliseconds(0), &err)) << err;
}

TEST(ClusterLockTest, AFolderThatRefusesTheLockSaysNoQuorum) {
  testing::TestDir dir;
  // pmxcfs without quorum refuses the mkdir; a file in the way refuses it too.
  dir.Write("priv/lock", "");
  ClusterLock lock;
  std::string err;
  EXPECT_FALSE(lock.Acquire(dir.path(), kKumaLockName, std::chrono::milliseconds(0), &err));
  EXPECT_EQ(err.rfind("cannot take the cluster lock: no quorum? (mkdir " + dir.path() +
                          "/priv/lock/pbk-agent-kuma: ",
                      0),
            0u)
      << err;
  EXPECT_FALSE(lock.held());
}

}  // namespace
}  // namespace pbk
