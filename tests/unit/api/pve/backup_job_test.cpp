#include "api/pve/backup_job.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "tests/support/test_dir.h"

namespace pbk {
namespace {

using nlohmann::json;

TEST(BackupJobTest, ReadsTheApiShapesLoosely) {
  // As /cluster/backup gives them: legacy jobs first ("enabled" as a string),
  // then jobs.cfg entries with numbers for booleans; other section types are
  // not backup jobs.
  json document = json::parse(R"({"data": [
    {"id": "3f2a:0", "schedule": "sat 01:00", "enabled": "1", "vmid": "100 101",
     "mode": "snapshot", "storage": "local", "quiet": 1},
    {"id": "3f2a:2", "enabled": "", "vmid": "200", "storage": "local"},
    {"id": "backup-8d6f3a2c-1b4e", "type": "vzdump", "schedule": "21:00", "all": 1,
     "enabled": 1, "script": "/var/lib/vz/snippets/vzdump-uptime-kuma-hook.sh",
     "prune-backups": {"keep-daily": "7"}, "storage": "pbs-main", "next-run": 1764000000},
    {"id": "sync-ldap", "type": "realm-sync", "schedule": "daily"}
  ]})");
  std::vector<BackupJob> jobs;
  std::string err;
  ASSERT_TRUE(ParseBackupJobList(document, &jobs, &err)) << err;
  ASSERT_EQ(jobs.size(), 3u);
  EXPECT_TRUE(jobs[0].IsLegacy());
  EXPECT_TRUE(jobs[0].enabled);
  EXPECT_EQ(jobs[0].vmids, (std::vector<int>{100, 101}));
  EXPECT_FALSE(jobs[1].enabled);
  EXPECT_FALSE(jobs[2].IsLegacy());
  EXPECT_TRUE(jobs[2].all);
  EXPECT_EQ(jobs[2].script, "/var/lib/vz/snippets/vzdump-uptime-kuma-hook.sh");
}

TEST(BackupJobTest, ReadsTheBareArrayPveshPrints) {
  std::vector<BackupJob> jobs;
  std::string err;
  ASSERT_TRUE(ParseBackupJobList(json::parse(R"([{"id":"j","type":"vzdump","vmid":100}])"), &jobs,
                                 &err));
  EXPECT_EQ(jobs.at(0).vmids, std::vector<int>{100});
}

TEST(BackupJobTest, BadValuesAreNamed) {
  std::vector<BackupJob> jobs;
  std::string err;
  EXPECT_FALSE(ParseBackupJobList(json::parse(R"({"data": {"id": 1}})"), &jobs, &err));
  EXPECT_EQ(err, "expected a list of jobs, got object");
  EXPECT_FALSE(ParseBackupJobList(json::parse(R"({"errors": {}})"), &jobs, &err));
  EXPECT_EQ(err, "expected a list of jobs or {\"data\": [...]}, got an object without \"data\"");
  EXPECT_FALSE(ParseBackupJobList(json::parse(R"([{"type": "vzdump"}])"), &jobs, &err));
  EXPECT_EQ(err, "entry 1: a job without \"id\"");
  EXPECT_FALSE(ParseBackupJobList(json::parse(R"([{"id": "j", "enabled": "maybe"}])"), &jobs, &err));
  EXPECT_EQ(err, "entry 1: job \"j\": \"enabled\" is \"maybe\", expected a boolean");
  EXPECT_FALSE(ParseBackupJobList(json::parse(R"([{"id": "j", "vmid": "100,abc"}])"), &jobs, &err));
  EXPECT_EQ(err, "entry 1: job \"j\": \"vmid\" is not a list of guest ids: \"100,abc\"");
  EXPECT_FALSE(ParseBackupJobList(json::parse(R"([{"id": "j", "storage": ["a"]}])"), &jobs, &err));
  EXPECT_EQ(err, "entry 1: job \"j\": \"storage\" is array, expected a string");
}

TEST(BackupJobTest, JobCacheKeepsPvesAnswerAsItIs) {
  JobCache cache;
  cache.source = "rest";
  cache.document = R"({"data":[{"id":"j1","type":"vzdump","vmid":"100,101","storage":"s"}]})";
  const std::string text = SerializeJobCache(cache);
  EXPECT_NE(text.find(cache.document), std::string::npos) << text;
  JobCache loaded;
  std::string err;
  ASSERT_TRUE(ParseJobCache(text, &loaded, &err)) << err;
  ASSERT_EQ(loaded.jobs.size(), 1u);
  EXPECT_EQ(loaded.jobs[0].vmids, (std::vector<int>{100, 101}));
  EXPECT_EQ(loaded.jobs[0].storage, "s");
}

TEST(BackupJobTest, JobCacheRoundTrips) {
  JobCache cache;
  cache.source = "pvesh";
  cache.node = "pve1";
  cache.written_ms = 1234;
  std::string err;
  ASSERT_TRUE(ParseBackupJobList(
      json::parse(R"([{"id":"j1","type":"vzdump","all":1,"exclude":"105","node":"pve2"}])"),
      &cache.jobs, &err));
  JobCache loaded;
  ASSERT_TRUE(ParseJobCache(SerializeJobCache(cache), &loaded, &err)) << err;
  EXPECT_EQ(loaded.source, "pvesh");
  EXPECT_EQ(loaded.written_ms, 1234);
  ASSERT_EQ(loaded.jobs.size(), 1u);
  EXPECT_TRUE(loaded.jobs[0].all);
  EXPECT_EQ(loaded.jobs[0].exclude, std::vector<int>{105});
  EXPECT_EQ(loaded.jobs[0].node, "pve2");
}

TEST(BackupJobTest, AnUnchangedJobListIsTouchedNotRewritten) {
  pbk::testing::TestDir dir;
  const std::string path = dir.Path("jobs.json");
  JobCache cache;
  cache.written_ms = 1'000'000;
  cache.source = "rest";
  cache.node = "pve1";
  cache.document = R"({"data":[{"id":"backup-1","schedule":"21:00","type":"vzdump"}]})";
  std::string err;
  ASSERT_TRUE(SaveJobCache(path, cache, &err)) << err;
  struct stat first {};
  ASSERT_EQ(stat(path.c_str(), &first), 0);

  // The same list a run later: same file (no rename), newer time.
  cache.written_ms = 2'000'000;
  ASSERT_TRUE(SaveJobCache(path, cache, &err)) << err;
  struct stat second {};
  ASSERT_EQ(stat(path.c_str(), &second), 0);
  EXPECT_EQ(second.st_ino, first.st_ino);
  JobCache loaded;
  bool exists = false;
  ASSERT_TRUE(LoadJobCache(path, &loaded, &exists, &err)) << err;
  EXPECT_GE(loaded.written_ms, 1'000'000);
  EXPECT_NE(dir.Read("jobs.json").find("\"written\":1000000"), std::string::npos);

  // A changed list is written anew (a new file renamed into place).
  cache.document = R"({"data":[{"id":"backup-1","schedule":"22:00","type":"vzdump"}]})";
  ASSERT_TRUE(SaveJobCache(path, cache, &err)) << err;
  struct stat third {};
  ASSERT_EQ(stat(path.c_str(), &third), 0);
  EXPECT_NE(third.st_ino, first.st_ino);
  EXPECT_NE(dir.Read("jobs.json").find("22:00"), std::string::npos);
}

}  // namespace
}  // namespace pbk
