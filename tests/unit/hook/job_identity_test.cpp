#include "hook/job_identity.h"

#include <gtest/gtest.h>

#include "tests/support/test_dir.h"

namespace pbk {
namespace {

const char kUpid[] = "UPID:pve1:000A1B2C:0143F5A7:6740C2B1:vzdump::root@pam:";

RunRecord MakeRun(std::vector<int> vmids, const std::string& storage = "pbs1",
              const std::string& upid = kUpid) {
  RunRecord record;
  record.upid = upid;
  record.storage = storage;
  for (int vmid : vmids) record.Guest(vmid);
  return record;
}

// The job list as the API gives it (numbers for jobs.cfg booleans).
const char kJobs[] = R"([
  {"id": "backup-all", "type": "vzdump", "all": 1, "exclude": "105", "storage": "pbs1",
   "schedule": "21:00", "enabled": 1},
  {"id": "backup-db", "type": "vzdump", "vmid": "110,111", "storage": "local", "node": "pve2",
   "schedule": "sat 02:30", "enabled": 0},
  {"id": "backup-web", "type": "vzdump", "vmid": "100,101", "storage": "pbs1"},
  {"id": "backup-pool", "type": "vzdump", "pool": "prod", "storage": "nfs"}
])";

class JobIdentityTest : public ::testing::Test {
 protected:
  void WriteCache(const std::string& jobs_json) {
    JobCache cache;
    std::string err;
    ASSERT_TRUE(ParseBackupJobList(nlohmann::json::parse(jobs_json), &cache.jobs, &err)) << err;
    cache.source = "rest";
    ASSERT_TRUE(SaveJobCache(dir_.Path("jobs.json"), cache, &err)) << err;
  }
  JobIdentity Identify(const RunRecord& record, const std::string& node = "pve1") {
    return IdentifyJob(dir_.Path("jobs"), dir_.Path("jobs.json"), record, node);
  }
  testing::TestDir dir_;
};

TEST_F(JobIdentityTest, TheSchedulerFileNamingTheWorkerWins) {
  dir_.Write("jobs/vzdump-backup-other.json",
             R"({"state":"started","upid":"UPID:pve1:00000001:00000002:00000003:vzdump::root@pam:"})");
  dir_.Write("jobs/vzdump-backup-8d6f3a2c-1b4e.json",
             std::string(R"({"state":"started","upid":")") + kUpid + R"(","config":{}})");
  dir_.Write("jobs/realm-sync-x.json", std::string(R"({"upid":")") + kUpid + R"("})");
  dir_.Write("jobs/vzdump-broken.json", "{not json");
  JobIdentity identity = Identify(MakeRun({100}));
  ASSERT_TRUE(identity.found) << identity.problem;
  EXPECT_EQ(identity.job_id, "backup-8d6f3a2c-1b4e");
  EXPECT_EQ(identity.source, "scheduler");
}

TEST_F(JobIdentityTest, WithoutSchedulerFileExactlyOneCachedJobMustFit) {
  WriteCache(kJobs);
  JobIdentity identity = Identify(MakeRun({100, 101}));
  // backup-all fits too (100 and 101 are not excluded): two candidates.
  EXPECT_FALSE(identity.found);
  EXPECT_EQ(identity.candidates, (std::vector<std::string>{"backup-all", "backup-web"}));
  EXPECT_EQ(identity.problem,
            "no scheduler file in " + dir_.Path("jobs") +
                " names this run, and 2 jobs match storage pbs1, guests 100,101: backup-all, "
                "backup-web");

  identity = Identify(MakeRun({102}));
  ASSERT_TRUE(identity.found) << identity.problem;
  EXPECT_EQ(identity.job_id, "backup-all");
  EXPECT_EQ(identity.source, "the only job matching storage pbs1, guests 102");
}

TEST_F(JobIdentityTest, ExcludedGuestsStorageAndNodeRuleJobsOut) {
  WriteCache(kJobs);
  // 105 is excluded from backup-all and not in backup-web.
  EXPECT_FALSE(Identify(MakeRun({105})).found);
  EXPECT_EQ(Identify(MakeRun({105})).problem,
            "no scheduler file in " + dir_.Path("jobs") +
                " names this run, and no cached job matches storage pbs1, guests 105");
  // backup-db belongs to pve2.
  EXPECT_FALSE(Identify(MakeRun({110}, "local")).found);
  JobIdentity on_pve2 = Identify(MakeRun({110}, "local"), "pve2");
  ASSERT_TRUE(on_pve2.found);
  EXPECT_EQ(on_pve2.job_id, "backup-db");
  // A pool job stays a candidate for guests on its storage.
  JobIdentity pool = Identify(MakeRun({120}, "nfs"));
  ASSERT_TRUE(pool.found);
  EXPECT_EQ(pool.job_id, "backup-pool");
}

TEST_F(JobIdentityTest, AnAllJobWithoutLocalGuestsStillRuns) {
  WriteCache(kJobs);
  JobIdentity identity = Identify(MakeRun({}));
  ASSERT_TRUE(identity.found) << identity.problem;
  EXPECT_EQ(identity.job_id, "backup-all");
}

TEST_F(JobIdentityTest, NoCacheMeansNoGuess) {
  JobIdentity identity = Identify(MakeRun({100}, "pbs1", ""));
  EXPECT_FALSE(identity.found);
  EXPECT_EQ(identity.problem,
            "the hook's parent is not a vzdump task worker (a \"Run now\", CLI or vzdump.cron run?) "
            "and no job list is cached yet (run: pbk-agent guard)");
  dir_.Write("jobs.json", "garbage");
  identity = Identify(MakeRun({100}, "pbs1", ""));
  EXPECT_FALSE(identity.found);
  EXPECT_EQ(identity.problem,
            "the hook's parent is not a vzdump task worker (a \"Run now\", CLI or vzdump.cron run?) "
            "and the cached job list is unreadable: " +
                dir_.Path("jobs.json") + ": not a job list written by pbk-agent guard");
}

TEST_F(JobIdentityTest, WhereTheGuestsAreNowTellsApartJobsThatBothFit) {
  WriteCache(kJobs);
  auto placement = [](std::vector<Guest>* guests, std::string*) {
    for (int vmid : {100, 101, 102}) {
      Guest guest;
      guest.vmid = vmid;
      guest.node = "pve1";
      guest.type = "qemu";
      guests->push_back(guest);
    }
    return true;
  };
  // backup-all would back up 100, 101 and 102 here; only backup-web backs
  // up exactly 100 and 101.
  JobIdentity identity = IdentifyJob(dir_.Path("jobs"), dir_.Path("jobs.json"),
                                     MakeRun({100, 101}), "pve1", placement);
  ASSERT_TRUE(identity.found) << identity.problem;
  EXPECT_EQ(identity.job_id, "backup-web");
  EXPECT_EQ(identity.source,
            "the only job whose guests on this node are exactly storage pbs1, guests 100,101");

  auto broken = [](std::vector<Guest>*, std::string* err) {
    *err = "HTTP 500";
    return false;
  };
  identity = IdentifyJob(dir_.Path("jobs"), dir_.Path("jobs.json"), MakeRun({100, 101}), "pve1",
                         broken);
  EXPECT_FALSE(identity.found);
  EXPECT_NE(identity.problem.find("where the guests are could not be read (HTTP 500)"),
            std::string::npos)
      << identity.problem;
}

TEST_F(JobIdentityTest, AJobWithoutStorageCannotBeRuledOutByStorage) {
  WriteCache(R"([{"id": "j1", "type": "vzdump", "vmid": "100"}])");
  EXPECT_TRUE(Identify(MakeRun({100}, "anything")).found);
}

}  // namespace
}  // namespace pbk
