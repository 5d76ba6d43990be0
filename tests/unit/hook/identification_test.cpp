// Which job a run belongs to when no scheduler file names it: the run's
// options from its task log against the cached job list, and the inference
// from storage and guests when the task log cannot be read.
#include <gtest/gtest.h>

#include "hook/job_identity.h"
#include "tests/support/test_dir.h"

namespace pbk {
namespace {

const char kUpid[] = "UPID:pve1:000A1B2C:0143F5A7:6740C2B1:vzdump::root@pam:";

// An ordinary daily job and a disabled legacy job on the same storage and
// guests, plus an all-guests job.
const char kJobs[] = R"([
  {"id": "0a1b2c3d:1", "vmid": "100,101", "storage": "pbs1", "mode": "snapshot", "quiet": 1,
   "enabled": "", "starttime": "01:00", "dow": "sat", "schedule": "sat 01:00"},
  {"id": "backup-daily", "type": "vzdump", "vmid": "100,101", "storage": "pbs1",
   "mode": "snapshot", "schedule": "21:00", "enabled": 1,
   "prune-backups": {"keep-daily": "7"}},
  {"id": "backup-all", "type": "vzdump", "all": 1, "exclude": "105", "storage": "nfs",
   "schedule": "sun 03:00", "enabled": 1}
])";

class IdentificationTest : public ::testing::Test {
 protected:
  void SetUp() override { WriteCache(kJobs); }

  void WriteCache(const std::string& jobs_json) {
    JobCache cache;
    std::string err;
    ASSERT_TRUE(ParseBackupJobList(nlohmann::json::parse(jobs_json), &cache.jobs, &err)) << err;
    cache.source = "files";  // written out job by job, not as PVE's document
    ASSERT_TRUE(SaveJobCache(dir_.Path("jobs.json"), cache, &err)) << err;
  }
  void WriteTaskLog(const std::string& command) {
    dir_.Write(std::string("tasks/1/") + kUpid,
               "INFO: starting new backup job: " + command + "\nINFO: Starting Backup of VM 100\n");
  }
  JobIdentity Identify(std::vector<int> vmids, const std::string& storage = "pbs1",
                       const GuestLister& guests = nullptr) {
    RunRecord record;
    record.upid = kUpid;
    record.storage = storage;
    record.end_phase = "job-end";
    for (int vmid : vmids) record.Guest(vmid);
    return IdentifyJob(dir_.Path("scheduler"), dir_.Path("jobs.json"), record, "pve1", guests,
                       dir_.Path("tasks"));
  }
  testing::TestDir dir_;
};

TEST_F(IdentificationTest, ARunNowOfTheDailyJobIsNotTakenForTheDisabledLegacyJob) {
  WriteTaskLog(
      "vzdump 100 101 --prune-backups keep-daily=7 --node pve1 --all 0 --mode snapshot "
      "--storage pbs1");
  JobIdentity identity = Identify({100, 101});
  ASSERT_EQ(identity.match, JobMatch::kFound) << identity.problem;
  EXPECT_TRUE(identity.found);
  EXPECT_EQ(identity.job_id, "backup-daily");
  EXPECT_EQ(identity.source, "the run's options in its task log are the job's");
}

TEST_F(IdentificationTest, ALegacyCronRunIsItsLegacyJobs) {
  WriteTaskLog("vzdump 100 101 --mode snapshot --quiet 1 --storage pbs1");
  JobIdentity identity = Identify({100, 101});
  ASSERT_TRUE(identity.found) << identity.problem;
  EXPECT_EQ(identity.job_id, "0a1b2c3d:1");
}

TEST_F(IdentificationTest, AGuestsBackupNowBelongsToNoJob) {
  WriteTaskLog("vzdump 100 --storage pbs1 --mode snapshot --node pve1 --remove 0 "
               "--notes-template '{{guestname}}'");
  JobIdentity identity = Identify({100});
  EXPECT_EQ(identity.match, JobMatch::kNoJob);
  EXPECT_FALSE(identity.found);
  EXPECT_EQ(identity.problem, "the run's options in its task log are no backup job's");
}

TEST_F(IdentificationTest, TwoJobsWithTheRunsOptionsAreAmbiguousNeverAGuess) {
  WriteCache(R"([
    {"id": "job-a", "type": "vzdump", "vmid": "100", "storage": "pbs1", "schedule": "21:00"},
    {"id": "job-b", "type": "vzdump", "vmid": "100", "storage": "pbs1", "schedule": "sat 02:00",
     "comment": "the same, weekly"}
  ])");
  WriteTaskLog("vzdump 100 --all 0 --storage pbs1 --node pve1");
  JobIdentity identity = Identify({100});
  EXPECT_EQ(identity.match, JobMatch::kAmbiguous);
  EXPECT_EQ(identity.candidates, (std::vector<std::string>{"job-a", "job-b"}));
  EXPECT_EQ(identity.problem, "2 jobs have exactly the run's options (task log): job-a, job-b");
}

TEST_F(IdentificationTest, AJobOfAnotherNodeDoesNotMatch) {
  WriteCache(R"([{"id": "job-a", "type": "vzdump", "vmid": "100", "storage": "pbs1",
                  "node": "pve2"}])");
  WriteTaskLog("vzdump 100 --storage pbs1 --node pve1");
  EXPECT_EQ(Identify({100}).match, JobMatch::kNoJob);
}

// Without a task log the old inference stays: storage, node and guests,
// and where the guests are now, also for a single candidate.
TEST_F(IdentificationTest, WithoutTaskLogTheInferenceFromStorageAndGuestsStays) {
  JobIdentity identity = Identify({100, 101});
  EXPECT_EQ(identity.match, JobMatch::kAmbiguous);
  EXPECT_EQ(identity.candidates, (std::vector<std::string>{"0a1b2c3d:1", "backup-daily"}));
  EXPECT_NE(identity.problem.find("cannot read the task log"), std::string::npos)
      << identity.problem;

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
  // One job fits storage nfs and guest 100, but would back up 100, 101 and
  // 102 here: a run of 100 alone is no run of it.
  identity = Identify({100}, "nfs", placement);
  EXPECT_EQ(identity.match, JobMatch::kNoJob) << identity.problem;
  identity = Identify({100, 101, 102}, "nfs", placement);
  ASSERT_TRUE(identity.found) << identity.problem;
  EXPECT_EQ(identity.job_id, "backup-all");
  // Without placement a single fitting job is taken, as before.
  identity = Identify({100}, "nfs");
  ASSERT_TRUE(identity.found) << identity.problem;
  EXPECT_EQ(identity.job_id, "backup-all");
}

TEST_F(IdentificationTest, ATaskLogWithoutTheStartLineFallsBackToTheInference) {
  dir_.Write(std::string("tasks/1/") + kUpid, "INFO: Starting Backup of VM 100\n");
  JobIdentity identity = Identify({100}, "nfs");
  ASSERT_TRUE(identity.found) << identity.problem;
  EXPECT_EQ(identity.job_id, "backup-all");
}

}  // namespace
}  // namespace pbk
