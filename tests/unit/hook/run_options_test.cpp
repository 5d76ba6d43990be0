#include "hook/run_options.h"

#include <gtest/gtest.h>

#include "tests/support/test_dir.h"

namespace pbk {
namespace {

RunOptions Parse(const std::string& command) {
  RunOptions run;
  std::string err;
  EXPECT_TRUE(ParseVzdumpCommand(command, &run, &err)) << err;
  return run;
}

OptionSet Job(const char* json_text) { return NormalizeJobOptions(nlohmann::json::parse(json_text)); }

TEST(RunOptionsTest, ReadsGuestsAndShellQuotedValues) {
  RunOptions run = Parse(
      "vzdump 100 101 --notes-template '{{guestname}} of '\\''prod'\\''' --mode snapshot "
      "--comment \"a \\\"b\\\"\" --tmpdir ''");
  EXPECT_EQ(run.vmids, (std::vector<std::string>{"100", "101"}));
  ASSERT_EQ(run.options.size(), 4u);
  EXPECT_EQ(run.options[0].first, "notes-template");
  EXPECT_EQ(run.options[0].second, "{{guestname}} of 'prod'");
  EXPECT_EQ(run.options[1], (std::pair<std::string, std::string>{"mode", "snapshot"}));
  EXPECT_EQ(run.options[2].second, "a \"b\"");
  EXPECT_EQ(run.options[3], (std::pair<std::string, std::string>{"tmpdir", ""}));
}

TEST(RunOptionsTest, RefusesWhatIsNoVzdumpCommandLine) {
  RunOptions run;
  std::string err;
  EXPECT_FALSE(ParseVzdumpCommand("vzdump 100 --mode 'snapshot", &run, &err));
  EXPECT_EQ(err, "the vzdump command line has an unterminated ' quote");
  EXPECT_FALSE(ParseVzdumpCommand("vzdump 100 --mode", &run, &err));
  EXPECT_EQ(err, "option --mode has no value");
  EXPECT_FALSE(ParseVzdumpCommand("qmrestore 100", &run, &err));
  EXPECT_EQ(err, "the command line does not start with vzdump");
  EXPECT_FALSE(ParseVzdumpCommand("vzdump 100 --mode snapshot stray", &run, &err));
  EXPECT_EQ(err, "expected --option, got \"stray\"");
}

TEST(RunOptionsTest, FindsTheStartLineInTheHeadOfTheTaskLog) {
  RunOptions run;
  std::string err;
  ASSERT_TRUE(FindRunOptions("INFO: trying to get global lock - waiting...\n"
                             "INFO: got global lock\n"
                             "INFO: starting new backup job: vzdump --all 1 --storage pbs1\r\n"
                             "INFO: Starting Backup of VM 100 (qemu)\n",
                             &run, &err))
      << err;
  EXPECT_TRUE(run.vmids.empty());
  EXPECT_EQ(NormalizeRunOptions(run), (OptionSet{{"all", "1"}, {"storage", "pbs1"}}));

  EXPECT_FALSE(FindRunOptions("INFO: Starting Backup of VM 100 (qemu)\n", &run, &err));
  EXPECT_EQ(err, "no \"starting new backup job\" line in its first 50 lines");
  EXPECT_FALSE(FindRunOptions("INFO: starting new backup job: vzdump 1 --x 'y\n", &run, &err));
  EXPECT_EQ(err, "line 1: the vzdump command line has an unterminated ' quote");
}

TEST(RunOptionsTest, TheTaskLogLivesUnderTheLastHexDigitOfTheStartTime) {
  EXPECT_EQ(TaskLogPath("/var/log/pve/tasks", "UPID:pve1:000A1B2C:0143F5A7:6740C2BF:vzdump::root@pam:"),
            "/var/log/pve/tasks/F/UPID:pve1:000A1B2C:0143F5A7:6740C2BF:vzdump::root@pam:");
  EXPECT_EQ(TaskLogPath("/t", "not a upid"), "");
  EXPECT_EQ(TaskLogPath("/t", "UPID:../x:000A1B2C:0143F5A7:6740C2BF:vzdump::root@pam:"), "");
}

TEST(RunOptionsTest, ReadsTheRunOptionsFromTheTaskLogFile) {
  testing::TestDir dir;
  const std::string upid = "UPID:pve1:000A1B2C:0143F5A7:6740C2B1:vzdump::root@pam:";
  dir.Write("tasks/1/" + upid, "INFO: starting new backup job: vzdump 100 --storage local\n");
  RunOptions run;
  std::string err;
  ASSERT_TRUE(ReadRunOptions(dir.Path("tasks"), upid, &run, &err)) << err;
  EXPECT_EQ(run.vmids, std::vector<std::string>{"100"});

  EXPECT_FALSE(ReadRunOptions(dir.Path("none"), upid, &run, &err));
  EXPECT_NE(err.find("cannot read the task log " + dir.Path("none") + "/1/" + upid),
            std::string::npos)
      << err;
  EXPECT_FALSE(ReadRunOptions(dir.Path("tasks"), "", &run, &err));
  EXPECT_EQ(err, "the run has no task UPID");
}

// "Run now" (Backup.js run_backup_now): the job's options minus the ones it
// deletes, `all` explicit, property strings printed by vzdump in their own
// order, the node of the run added by the API.
TEST(RunOptionsTest, ARunNowHasTheJobsOptions) {
  const OptionSet job = Job(R"({
    "id": "backup-daily", "type": "vzdump", "schedule": "21:00", "enabled": 1,
    "comment": "every night", "next-run": 1765051200, "repeat-missed": 0,
    "vmid": "101,100", "storage": "pbs1", "mode": "snapshot", "compress": "zstd",
    "notes-template": "{{guestname}}", "mailto": "ops@example.org,root@example.org",
    "prune-backups": {"keep-weekly": "4", "keep-daily": 7},
    "performance": {"max-workers": 2}, "fleecing": {"enabled": 1, "storage": "local-lvm"}})");
  const OptionSet run = NormalizeRunOptions(Parse(
      "vzdump 100 101 --fleecing enabled=1,storage=local-lvm --mailto root@example.org "
      "--mailto ops@example.org --node pve1 --all 0 --storage pbs1 --compress zstd "
      "--prune-backups keep-daily=7,keep-weekly=4 --notes-template '{{guestname}}' "
      "--performance max-workers=2 --mode snapshot"));
  EXPECT_EQ(OptionDifference(run, job), "");
}

TEST(RunOptionsTest, PropertyStringsCompareAsKeyValueSets) {
  const OptionSet as_text = Job(R"({"id": "j", "prune-backups": "keep-last=3,keep-daily=7",
                                    "fleecing": "1,storage=local-lvm"})");
  const OptionSet as_object =
      Job(R"({"id": "j", "prune-backups": {"keep-daily": "7", "keep-last": 3},
              "fleecing": {"storage": "local-lvm", "enabled": true}})");
  EXPECT_EQ(OptionDifference(as_text, as_object), "");
  const OptionSet run = NormalizeRunOptions(
      Parse("vzdump 100 --prune-backups keep-daily=7,keep-last=3 --fleecing "
            "enabled=1,storage=local-lvm"));
  const OptionSet job =
      Job(R"({"id": "j", "vmid": "100", "prune-backups": {"keep-daily": 7, "keep-last": 3},
              "fleecing": {"enabled": 1, "storage": "local-lvm"}})");
  EXPECT_EQ(OptionDifference(run, job), "");
  const OptionSet other = Job(R"({"id": "j", "vmid": "100", "prune-backups": {"keep-daily": 7},
                                  "fleecing": {"enabled": 1, "storage": "local-lvm"}})");
  EXPECT_EQ(OptionDifference(run, other),
            "prune-backups: \"keep-daily=7,keep-last=3\" in this run, \"keep-daily=7\" in the job");
}

TEST(RunOptionsTest, AGuestsBackupNowIsNoJobsRun) {
  const OptionSet job = Job(R"({"id": "backup-daily", "vmid": "100,101", "storage": "pbs1",
                                "mode": "snapshot", "schedule": "21:00"})");
  // Same storage and mode, one guest of the job.
  const OptionSet run = NormalizeRunOptions(
      Parse("vzdump 100 --storage pbs1 --mode snapshot --node pve1 --remove 0 "
            "--notes-template '{{guestname}}'"));
  EXPECT_EQ(OptionDifference(run, job),
            "notes-template: \"{{guestname}}\" in this run, not set in the job");
  const OptionSet one_guest = NormalizeRunOptions(Parse("vzdump 100 --storage pbs1 --mode snapshot"));
  EXPECT_EQ(OptionDifference(one_guest, job),
            "vmid: \"100\" in this run, \"100,101\" in the job");
}

TEST(RunOptionsTest, AllIsZeroUnlessSetAndBooleansCompareAsNumbers) {
  EXPECT_EQ(OptionDifference(NormalizeRunOptions(Parse("vzdump 100 --all 0 --quiet 1")),
                             Job(R"({"id": "x", "vmid": "100", "quiet": true})")),
            "");
  EXPECT_EQ(OptionDifference(NormalizeRunOptions(Parse("vzdump --all 1 --exclude 105,104")),
                             Job(R"({"id": "x", "all": "1", "exclude": "104 105"})")),
            "");
  EXPECT_EQ(OptionDifference(NormalizeRunOptions(Parse("vzdump --all 1")),
                             Job(R"({"id": "x", "all": 0})")),
            "all: \"1\" in this run, \"0\" in the job");
}

// A legacy vzdump.cron job as /cluster/backup lists it: its cron line's
// options, `quiet 1` included; a "Run now" of the daily job does not have
// them.
TEST(RunOptionsTest, ADisabledLegacyJobOnTheSameStorageAndGuestsDiffers) {
  const OptionSet daily = Job(R"({"id": "backup-daily", "type": "vzdump", "vmid": "100,101",
                                  "storage": "pbs1", "mode": "snapshot", "enabled": 1})");
  const OptionSet legacy = Job(R"({"id": "0a1b2c:1", "vmid": "100,101", "storage": "pbs1",
                                   "mode": "snapshot", "quiet": 1, "enabled": "",
                                   "starttime": "01:00", "dow": "sat", "schedule": "sat 01:00"})");
  const OptionSet run_now =
      NormalizeRunOptions(Parse("vzdump 100 101 --all 0 --mode snapshot --storage pbs1 --node pve1"));
  EXPECT_EQ(OptionDifference(run_now, daily), "");
  EXPECT_EQ(OptionDifference(run_now, legacy), "quiet: not set in this run, \"1\" in the job");
  const OptionSet cron_run =
      NormalizeRunOptions(Parse("vzdump 100 101 --mode snapshot --storage pbs1 --quiet 1"));
  EXPECT_EQ(OptionDifference(cron_run, legacy), "");
  EXPECT_NE(OptionDifference(cron_run, daily), "");
}

}  // namespace
}  // namespace pbk
