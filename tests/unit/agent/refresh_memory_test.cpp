// What refresh remembers of the jobs it saw.
#include "agent/refresh.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/support/test_dir.h"

namespace pbk {
namespace {

using testing::TestDir;

BackupJob Job(const std::string& id, const std::string& schedule, bool enabled = true) {
  BackupJob job;
  job.id = id;
  job.type = "vzdump";
  job.schedule = schedule;
  job.enabled = enabled;
  return job;
}

TEST(RefreshMemoryTest, NewJobIsNotedAtNow) {
  RefreshMemory memory;
  EXPECT_TRUE(
      ObserveJobs({Job("backup-1", "21:00"), Job("backup-2", "sat 01:00", false)}, 1000, &memory));
  ASSERT_EQ(memory.jobs.size(), 2u);
  EXPECT_EQ(memory.jobs.at("backup-1").schedule, "21:00");
  EXPECT_TRUE(memory.jobs.at("backup-1").enabled);
  EXPECT_EQ(memory.jobs.at("backup-1").since, 1000);
  EXPECT_EQ(memory.jobs.at("backup-2").schedule, "sat 01:00");
  EXPECT_FALSE(memory.jobs.at("backup-2").enabled);
  EXPECT_EQ(memory.jobs.at("backup-2").since, 1000);
}

TEST(RefreshMemoryTest, UnchangedJobKeepsItsTime) {
  RefreshMemory memory;
  ObserveJobs({Job("backup-1", "21:00")}, 1000, &memory);
  EXPECT_FALSE(ObserveJobs({Job("backup-1", "21:00")}, 2000, &memory));
  EXPECT_EQ(memory.jobs.at("backup-1").since, 1000);
}

TEST(RefreshMemoryTest, ScheduleOrEnabledChangeResetsToNow) {
  RefreshMemory memory;
  ObserveJobs({Job("backup-1", "21:00"), Job("backup-2", "21:00")}, 1000, &memory);
  EXPECT_TRUE(ObserveJobs({Job("backup-1", "22:00"), Job("backup-2", "21:00")}, 2000, &memory));
  EXPECT_EQ(memory.jobs.at("backup-1").schedule, "22:00");
  EXPECT_EQ(memory.jobs.at("backup-1").since, 2000);
  EXPECT_EQ(memory.jobs.at("backup-2").since, 1000);

  EXPECT_TRUE(
      ObserveJobs({Job("backup-1", "22:00"), Job("backup-2", "21:00", false)}, 3000, &memory));
  EXPECT_EQ(memory.jobs.at("backup-1").since, 2000);
  EXPECT_FALSE(memory.jobs.at("backup-2").enabled);
  EXPECT_EQ(memory.jobs.at("backup-2").since, 3000);

  EXPECT_TRUE(
      ObserveJobs({Job("backup-1", "22:00"), Job("backup-2", "21:00", true)}, 4000, &memory));
  EXPECT_EQ(memory.jobs.at("backup-2").since, 4000);
}

TEST(RefreshMemoryTest, RemovedJobIsForgotten) {
  RefreshMemory memory;
  ObserveJobs({Job("backup-1", "21:00"), Job("backup-2", "21:00")}, 1000, &memory);
  EXPECT_TRUE(ObserveJobs({Job("backup-2", "21:00")}, 2000, &memory));
  EXPECT_EQ(memory.jobs.count("backup-1"), 0u);
  EXPECT_EQ(memory.jobs.at("backup-2").since, 1000);
  // Back again later, it is a new job.
  EXPECT_TRUE(ObserveJobs({Job("backup-1", "21:00"), Job("backup-2", "21:00")}, 3000, &memory));
  EXPECT_EQ(memory.jobs.at("backup-1").since, 3000);
}

TEST(RefreshMemoryTest, SavesAndLoadsWhatItSaw) {
  TestDir dir;
  const std::string path = dir.Path("refresh.json");
  RefreshMemory memory;
  memory.jobs["backup-1"] = ObservedJob{"mon..fri 21:00", true, 1780000000};
  memory.jobs["5e1f9d0c7a3b2e4d6f8a0b1c2d3e4f5a6b7c8d9e:1"] = ObservedJob{"sat 01:00", false, 7};
  std::string err;
  ASSERT_TRUE(SaveRefreshMemory(path, memory, &err)) << err;

  RefreshMemory loaded;
  loaded.jobs["stale"] = ObservedJob{};
  ASSERT_TRUE(LoadRefreshMemory(path, &loaded, &err)) << err;
  ASSERT_EQ(loaded.jobs.size(), 2u);
  for (const auto& [id, observed] : memory.jobs) {
    ASSERT_EQ(loaded.jobs.count(id), 1u) << id;
    EXPECT_EQ(loaded.jobs.at(id).schedule, observed.schedule) << id;
    EXPECT_EQ(loaded.jobs.at(id).enabled, observed.enabled) << id;
    EXPECT_EQ(loaded.jobs.at(id).since, observed.since) << id;
  }
  // Loading it back and observing the same jobs changes nothing.
  EXPECT_FALSE(ObserveJobs({Job("backup-1", "mon..fri 21:00"),
                            Job("5e1f9d0c7a3b2e4d6f8a0b1c2d3e4f5a6b7c8d9e:1", "sat 01:00", false)},
                           1790000000, &loaded));
}

TEST(RefreshMemoryTest, MissingFileIsAnEmptyMemory) {
  TestDir dir;
  RefreshMemory memory;
  memory.jobs["stale"] = ObservedJob{};
  std::string err;
  ASSERT_TRUE(LoadRefreshMemory(dir.Path("refresh.json"), &memory, &err)) << err;
  EXPECT_TRUE(memory.jobs.empty());
}

TEST(RefreshMemoryTest, CorruptFileIsAnError) {
  TestDir dir;
  for (const char* text : {"{\"jobs\": {\"backup-1\": {\"since\": 5", "[]", "{\"jobs\": []}"}) {
    const std::string path = dir.Write("refresh.json", text);
    RefreshMemory memory;
    memory.jobs["stale"] = ObservedJob{};
    std::string err;
    EXPECT_FALSE(LoadRefreshMemory(path, &memory, &err)) << text;
    EXPECT_EQ(err, path + ": not what pbk-agent writes (no \"jobs\" object); it is rebuilt")
        << text;
    EXPECT_TRUE(memory.jobs.empty()) << text;
  }
}

}  // namespace
}  // namespace pbk
