#include "agent/guard.h"

#include <gtest/gtest.h>

namespace pbk {
namespace {

const char kHook[] = "/var/lib/vz/snippets/vzdump-uptime-kuma-hook.sh";

// Jobs as PVE keeps them: changing a legacy job moves it into jobs.cfg and
// renumbers the legacy jobs left behind (their ids hold the file's digest).
class FakePve : public JobReader, public JobWriter {
 public:
  struct Job {
    bool legacy;
    std::string name;  // stable identity for the test; the id is derived
    std::string script;
  };

  std::string Name() const override { return "fake"; }
  bool List(std::vector<BackupJob>* out, std::string* err) override {
    ++lists;
    if (fail_reads) {
      *err = "HTTP 500 internal error";
      return false;
    }
    out->clear();
    for (const auto& job : jobs) out->push_back(ToBackupJob(job));
    return true;
  }
  bool CanWrite(const BackupJob&, std::string*) const override { return true; }
  bool SetScript(const BackupJob& job, const std::string& script, std::string* err) override {
    ++write_calls;
    if (hang_on_write) {
      hung = true;
      *err = "pvesh set /cluster/backup/" + job.id + " gave no result within 30 s and was killed";
      return false;
    }
    if (!write_error.empty()) {
      *err = write_error;
      return false;
    }
    for (auto& candidate : jobs) {
      if (ToBackupJob(candidate).id != job.id) continue;
      if (!ignore_writes) candidate.script = script;
      if (candidate.legacy) {
        candidate.legacy = false;
        candidate.name = job.id;  // moved into jobs.cfg under the same id
        ++generation;
      }
      ++writes_done;
      return true;
    }
    *err = "no such vzdump job";
    return false;
  }
  int writes() const override { return writes_done; }
  bool Usable(std::string* why) const override {
    if (!hung) return true;
    *why = "not tried: the writer hung before";
    return false;
  }

  BackupJob ToBackupJob(const Job& job) const {
    BackupJob out;
    if (job.legacy) {
      int index = 0;
      for (const auto& other : jobs) {
        if (other.legacy) ++index;
        if (&other == &job) break;
      }
      out.id = "digest" + std::to_string(generation) + ":" + std::to_string(index);
    } else {
      out.id = job.name;
      out.type = "vzdump";
    }
    out.script = job.script;
    return out;
  }

  std::vector<Job> jobs;
  int generation = 1;
  int lists = 0;
  int write_calls = 0;
  int writes_done = 0;
  bool fail_reads = false;
  bool ignore_writes = false;
  bool hang_on_write = false;
  bool hung = false;
  std::string write_error;
};

// Job placement, with no cluster known: every job may be set. A foreign
// script is taken over only when it is chained for its job.
GuardOptions Options(bool dry_run = false) {
  GuardOptions options;
  options.hook_script = kHook;
  options.dry_run = dry_run;
  options.placement = HookPlacement::kJob;
  return options;
}

TEST(GuardTest, NothingToDoMeansNoWriteAndOneRead) {
  FakePve pve;
  pve.jobs = {{false, "backup-a", kHook}, {false, "backup-b", kHook}};
  GuardResult result = RunGuard(Options(), {&pve}, &pve);
  EXPECT_TRUE(result.Ok());
  EXPECT_EQ(pve.write_calls, 0);
  EXPECT_EQ(pve.lists, 1);
  EXPECT_EQ(result.source, "fake");
}

TEST(GuardTest, EveryDriftedJobGetsTheHookAndTheOldValueIsKept) {
  FakePve pve;
  pve.jobs = {{false, "backup-new", ""},
              {false, "backup-foreign", "/root/mount-usb.sh"},
              {false, "backup-ok", kHook}};
  GuardOptions options = Options();
  options.job_chains["backup-foreign"] = {"/root/mount-usb.sh"};
  GuardResult result = RunGuard(options, {&pve}, &pve);
  EXPECT_TRUE(result.Ok());
  EXPECT_EQ(pve.write_calls, 2);
  ASSERT_EQ(result.changes.size(), 2u);
  EXPECT_EQ(result.changes[0].job_id, "backup-new");
  EXPECT_EQ(result.changes[0].old_script, "");
  EXPECT_EQ(result.changes[1].job_id, "backup-foreign");
  EXPECT_EQ(result.changes[1].old_script, "/root/mount-usb.sh");
  // One read, then one read back to check the result.
  EXPECT_EQ(pve.lists, 2);
  EXPECT_EQ(result.DriftLeft(), 0);
}

TEST(GuardTest, LegacyJobsAreAllFixedAlthoughTheirIdsMove) {
  FakePve pve;
  pve.jobs = {{true, "l1", ""}, {true, "l2", "/old.sh"}, {false, "backup-x", ""}};
  GuardOptions options = Options();
  // The chain follows the legacy job's id, which moves when l1 is changed.
  options.job_chains["digest1:2"] = {"/old.sh"};
  options.job_chains["digest2:1"] = {"/old.sh"};
  GuardResult result = RunGuard(options, {&pve}, &pve);
  EXPECT_TRUE(result.Ok()) << (result.errors.empty() ? "" : result.errors[0]);
  EXPECT_EQ(pve.write_calls, 3) << "exactly one write per drifted job";
  ASSERT_EQ(result.changes.size(), 3u);
  EXPECT_EQ(result.changes[0].job_id, "digest1:1");
  // After the first move the second legacy job became number 1 of a new file.
  EXPECT_EQ(result.changes[1].job_id, "digest2:1");
  EXPECT_EQ(result.changes[1].old_script, "/old.sh");
  EXPECT_TRUE(result.changes[1].legacy);
  EXPECT_EQ(result.changes[2].job_id, "backup-x");
  // The first read, one re-list after each legacy change, one read back.
  EXPECT_EQ(pve.lists, 4);
  for (const auto& job : pve.jobs) EXPECT_EQ(job.script, kHook);
}

TEST(GuardTest, ExcludedJobsAreLeftAlone) {
  FakePve pve;
  pve.jobs = {{false, "backup-mine", "/root/special.sh"}, {false, "backup-b", ""}};
  GuardOptions options = Options();
  options.exclude = {"backup-mine"};
  GuardResult result = RunGuard(options, {&pve}, &pve);
  EXPECT_TRUE(result.Ok());
  EXPECT_EQ(pve.jobs[0].script, "/root/special.sh");
  EXPECT_EQ(pve.jobs[1].script, kHook);
  EXPECT_TRUE(result.jobs[0].excluded);
}

TEST(GuardTest, AFailingReaderFallsBackToTheNext) {
  FakePve broken, pve;
  broken.fail_reads = true;
  pve.jobs = {{false, "backup-a", kHook}};
  GuardResult result = RunGuard(Options(), {&broken, &pve}, &pve);
  EXPECT_TRUE(result.Ok());
  ASSERT_EQ(result.notes.size(), 1u);
  EXPECT_EQ(result.notes[0], "reading the jobs through fake failed: HTTP 500 internal error");
  broken.jobs = pve.jobs;
  result = RunGuard(Options(), {&broken}, &pve);
  EXPECT_FALSE(result.Ok());
  EXPECT_EQ(result.errors, std::vector<std::string>{"no way to read the backup jobs worked"});
}

TEST(GuardTest, AFailedWriteLeavesTheJobReportedWithTheReason) {
  FakePve pve;
  pve.jobs = {{false, "backup-a", "/old.sh"}, {false, "backup-b", ""}};
  pve.write_error = "pvesh set /cluster/backup/backup-a exited with code 255: cfs-lock "
                    "'file-jobs_cfg' error: no quorum!";
  GuardOptions options = Options();
  options.job_chains["backup-a"] = {"/old.sh"};
  GuardResult result = RunGuard(options, {&pve}, &pve);
  EXPECT_FALSE(result.Ok());
  EXPECT_EQ(result.DriftLeft(), 2);
  EXPECT_EQ(pve.write_calls, 2) << "each job is tried once";
  EXPECT_EQ(result.jobs[0].problem, pve.write_error);
  EXPECT_EQ(pve.jobs[0].script, "/old.sh");
}

TEST(GuardTest, AWriterThatHungIsNotWaitedForAgain) {
  FakePve pve;
  pve.jobs = {{false, "backup-a", ""}, {false, "backup-b", ""}, {false, "backup-c", ""}};
  pve.hang_on_write = true;
  GuardResult result = RunGuard(Options(), {&pve}, &pve);
  EXPECT_FALSE(result.Ok());
  EXPECT_EQ(pve.write_calls, 1) << "one timeout is enough to know";
  EXPECT_EQ(result.DriftLeft(), 3);
  EXPECT_EQ(result.jobs[0].problem,
            "pvesh set /cluster/backup/backup-a gave no result within 30 s and was killed");
  EXPECT_EQ(result.jobs[1].problem, "not tried: the writer hung before");
}

TEST(GuardTest, AWriteThatDidNotTakeIsCaughtByReadingBack) {
  FakePve pve;
  pve.jobs = {{false, "backup-a", ""}};
  pve.ignore_writes = true;
  GuardResult result = RunGuard(Options(), {&pve}, &pve);
  EXPECT_FALSE(result.Ok());
  EXPECT_EQ(result.jobs[0].problem, "still not set after the change");
}

TEST(GuardTest, DryRunWritesNothing) {
  FakePve pve;
  pve.jobs = {{false, "backup-a", ""}, {true, "l1", ""}};
  GuardResult result = RunGuard(Options(/*dry_run=*/true), {&pve}, &pve);
  EXPECT_EQ(pve.write_calls, 0);
  EXPECT_EQ(result.DriftLeft(), 2);
  EXPECT_EQ(result.jobs[0].problem, "not changed (--dry-run)");
  EXPECT_FALSE(result.Ok());
}

TEST(GuardTest, WithoutAWriterNothingIsPretended) {
  FakePve pve;
  pve.jobs = {{false, "backup-a", ""}};
  GuardResult result = RunGuard(Options(), {&pve}, nullptr);
  EXPECT_FALSE(result.Ok());
  EXPECT_EQ(result.jobs[0].problem, "no way to change jobs (pvesh is not available)");
}

}  // namespace
}  // namespace pbk
