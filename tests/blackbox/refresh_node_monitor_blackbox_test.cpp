// Black-box tests of `pbk-agent refresh`: the node monitor.
#include <gtest/gtest.h>

#include "tests/blackbox/refresh_blackbox_fixture.h"

namespace pbk::testing::refresh_blackbox {
namespace {

// --- 2. the node monitor ---------------------------------------------------------------

TEST_F(RefreshNodeMonitorTest, UpWhenEveryJobHereIsMonitoredAndHooked) {
  ASSERT_NO_FATAL_FAILURE(StartKuma());
  // A job of pve2's needs no monitor here.
  JobSpec pve2 = AllJob(kJobMore, "23:00");
  pve2.options["node"] = "pve2";
  ASSERT_NO_FATAL_FAILURE(WriteJobs({AllJob(kJob), pve2}));
  ASSERT_NO_FATAL_FAILURE(WriteConfig());
  ExpectRefresh({{kJob, kToken, "no-run-yet", true, {}, {}},
                 Node(true, {"pve1: pbk-agent OK: 1 job(s) run here, all monitored, the hook in "
                             "effect for each, spool empty"})});
}

TEST_F(RefreshNodeMonitorTest, DownNamingAJobThatRunsHereWithoutAMonitor) {
  ASSERT_NO_FATAL_FAILURE(StartKuma());
  JobSpec pve2 = AllJob(kJobMore, "23:00");
  pve2.options["node"] = "pve2";
  ASSERT_NO_FATAL_FAILURE(WriteJobs({AllJob(kJob), AllJob(kJobOther, "03:00"), pve2}));
  ASSERT_NO_FATAL_FAILURE(WriteConfig());
  ExpectRefresh({{kJob, kToken, "no-run-yet", true, {}, {}},
                 Node(false, {std::string("job(s) running here without a monitor: ") + kJobOther},
                      {kJobMore, "pbk-agent OK"})});
}

TEST_F(RefreshNodeMonitorTest, DownNamingJobsTheHookIsNotInEffectFor) {
  ASSERT_NO_FATAL_FAILURE(StartKuma());
  JobSpec usb = AllJob(kJobOther, "sun 04:00");
  usb.options["script"] = "/root/mount-usb.sh";
  JobSpec bare = AllJob(kJobMore, "03:00");
  bare.options["script"] = "";
  ASSERT_NO_FATAL_FAILURE(WriteJobs({AllJob(kJob), usb, bare}));
  AgentSetup setup;
  setup.jobs = {{kJob, kToken}, {kJobOther, kTokenOther}, {kJobMore, kTokenMore}};
  ASSERT_NO_FATAL_FAILURE(WriteConfig(setup));
  ExpectRefresh({{kJob, kToken, "no-run-yet", true, {}, {}},
                 {kJobOther, kTokenOther, "no-run-yet", true, {}, {}},
                 {kJobMore, kTokenMore, "no-run-yet", true, {}, {}},
                 Node(false,
                      {"the hook is not in effect for job(s) ",
                       std::string(kJobOther) + " (/root/mount-usb.sh)",
                       std::string(kJobMore) + " (no hook)"},
                      {std::string(kJob) + " ("})});
}

TEST_F(RefreshNodeMonitorTest, DownNamingAGuestHereInNoEnabledJob) {
  ASSERT_NO_FATAL_FAILURE(StartKuma());
  // The only enabled job backs up 100; 101 is here too, 102 is a template,
  // 110 is on pve2, and the disabled job's 103 counts for nothing.
  JobSpec disabled = VmidJob(kJobMore, "103");
  disabled.options["enabled"] = "0";
  ASSERT_NO_FATAL_FAILURE(WriteJobs({VmidJob(kJob, "100"), disabled}));
  ASSERT_NO_FATAL_FAILURE(PlaceGuests({{100, kNode, "web01", false},
                                       {101, kNode, "db01", false},
                                       {102, kNode, "tpl", true},
                                       {103, kNode, "old", false},
                                       {110, "pve2", "mail", false}}));
  ASSERT_NO_FATAL_FAILURE(WriteConfig());
  ExpectRefresh({{kJob, kToken, "no-run-yet", true, {}, {}},
                 Node(false, {"guest(s) 101, 103 on this node are in no enabled backup job"},
                      {"102", "110"})});
}

TEST_F(RefreshNodeMonitorTest, DownNamingPushesStuckInTheSpool) {
  ASSERT_NO_FATAL_FAILURE(StartKuma());
  ASSERT_NO_FATAL_FAILURE(WriteConfig());
  const int64_t now_ms = NowSeconds() * 1000;
  const int64_t stuck_ms = now_ms - 20 * 60 * 1000;
  // Refresh delivers what a monitored job owes before its state; entries of
  // a job without a monitor here stay, and are stuck.
  WriteSpoolEntry("spool", "upid-pve1-00001111-00002222-00003333", kJobOther, false,
                  "pve1: 1 of 2 guests FAILED, 12m 05s, storage pbs1", stuck_ms);
  // One spooled a minute ago is what the next flush is for.
  WriteSpoolEntry("spool", "upid-pve1-00001111-00002222-00004444", kJobOther, true,
                  "pve1: all 2 guests backed up in 1m 00s to pbs1", now_ms - 60 * 1000);
  ExpectRefresh({{kJob, kToken, "no-run-yet", true, {}, {}},
                 Node(false, {"1 push(es) stuck in the spool since " + LocalTime(stuck_ms / 1000),
                              "pbk-agent flush tells why"})});
}

TEST_F(RefreshNodeMonitorTest, DownNamingPushesThatCanNeverBeDelivered) {
  ASSERT_NO_FATAL_FAILURE(StartKuma());
  ASSERT_NO_FATAL_FAILURE(WriteConfig());
  WriteSpoolEntry("spool/failed", "upid-pve1-00001111-00002222-00005555", kJobOther, false,
                  "pve1: backup job ABORTED", (NowSeconds() - 3 * 24 * 3600) * 1000);
  ExpectRefresh({{kJob, kToken, "no-run-yet", true, {}, {}},
                 Node(false, {"1 push(es) that can never be delivered in " + FailedDir() + "/"})});
}

TEST_F(RefreshNodeMonitorTest, WithoutANodeMonitorOnlyTheJobsArePushed) {
  ASSERT_NO_FATAL_FAILURE(StartKuma());
  ASSERT_NO_FATAL_FAILURE(WriteJobs({AllJob(kJob), AllJob(kJobOther, "03:00")}));
  AgentSetup setup;
  setup.node_monitor = false;
  ASSERT_NO_FATAL_FAILURE(WriteConfig(setup));
  const size_t mark = Mark();
  RunResult refresh = Agent({"refresh"});
  EXPECT_EQ(refresh.exit_code, 0) << refresh.err;
  auto pushes = RequestsSince(mark);
  ASSERT_EQ(pushes.size(), 1u) << Describe(pushes);
  EXPECT_EQ(Str(pushes[0], "token"), kToken);
  // What the node monitor would have said is still said.
  EXPECT_TRUE(Contains(refresh.err, "no node monitor configured")) << refresh.err;
  EXPECT_TRUE(Contains(refresh.err, kJobOther)) << refresh.err;
}

}  // namespace
}  // namespace pbk::testing::refresh_blackbox
