#include "hook/outcome.h"

#include <gtest/gtest.h>

#include "api/kuma/kuma_client.h"

namespace pbk {
namespace {

RunRecord EndedRun(const std::string& end_phase) {
  RunRecord record;
  record.node = "pve1";
  record.storage = "pbs1";
  record.first_ms = 1'000'000;
  record.end_ms = 1'000'000 + 725'000;
  record.end_phase = end_phase;
  return record;
}

void AddGuest(RunRecord* record, int vmid, const std::string& name, GuestResult result) {
  GuestRecord& guest = record->Guest(vmid);
  guest.name = name;
  guest.result = result;
}

TEST(OutcomeTest, UpWhenEveryGuestEndedWithBackupEnd) {
  RunRecord record = EndedRun("job-end");
  AddGuest(&record, 101, "db01", GuestResult::kOk);
  AddGuest(&record, 100, "web01", GuestResult::kOk);
  Outcome outcome = JudgeRun(record);
  EXPECT_TRUE(outcome.up);
  EXPECT_EQ(outcome.ok, 2);
  EXPECT_EQ(outcome.duration_ms, 725'000);
  EXPECT_EQ(outcome.message,
            "pve1: all 2 guests backed up in 12m 05s to pbs1; ok: 100 web01, 101 db01");
}

TEST(OutcomeTest, DownWhenAnyGuestAborted) {
  RunRecord record = EndedRun("job-end");
  AddGuest(&record, 100, "web01", GuestResult::kOk);
  AddGuest(&record, 101, "db01", GuestResult::kFailed);
  Outcome outcome = JudgeRun(record);
  EXPECT_FALSE(outcome.up);
  EXPECT_EQ(outcome.failed, 1);
  EXPECT_EQ(outcome.message,
            "pve1: 1 of 2 guests FAILED, 12m 05s, storage pbs1; failed: 101 db01; ok: 100 web01");
}

TEST(OutcomeTest, AGuestWithoutAnEndCountsAsFailed) {
  RunRecord record = EndedRun("job-end");
  AddGuest(&record, 100, "", GuestResult::kRunning);
  Outcome outcome = JudgeRun(record);
  EXPECT_FALSE(outcome.up);
  EXPECT_EQ(outcome.unfinished, 1);
  EXPECT_EQ(outcome.message, "pve1: 1 of 1 guest FAILED, 12m 05s, storage pbs1; unfinished: 100");
}

TEST(OutcomeTest, DownWhenTheJobAborted) {
  RunRecord record = EndedRun("job-abort");
  AddGuest(&record, 100, "web01", GuestResult::kOk);
  Outcome outcome = JudgeRun(record);
  EXPECT_FALSE(outcome.up);
  EXPECT_EQ(outcome.message,
            "pve1: backup job ABORTED after 12m 05s (storage pbs1), 1 of 1 guest backed up; ok: "
            "100 web01");
}

TEST(OutcomeTest, ARunWithoutLocalGuestsIsUp) {
  Outcome outcome = JudgeRun(EndedRun("job-end"));
  EXPECT_TRUE(outcome.up);
  EXPECT_EQ(outcome.message,
            "pve1: backup job ran in 12m 05s (storage pbs1); no guest of this job is on this node");
}

TEST(OutcomeTest, HugeJobsStayWithinKumasLimits) {
  RunRecord record = EndedRun("job-end");
  for (int vmid = 100; vmid < 1100; ++vmid) {
    AddGuest(&record, vmid, "guest-with-a-rather-long-name-" + std::to_string(vmid),
             vmid % 7 == 0 ? GuestResult::kFailed : GuestResult::kOk);
  }
  Outcome outcome = JudgeRun(record);
  EXPECT_FALSE(outcome.up);
  EXPECT_LE(outcome.message.size(), kMaxPushMessageBytes);
  // The failures come first and the cut says how many are left out.
  EXPECT_EQ(outcome.message.rfind("pve1: 143 of 1000 guests FAILED, 12m 05s, storage pbs1; failed: "
                                  "105 guest-with-a-rather-long-name-105, 112 ",
                                  0),
            0u)
      << outcome.message;
  EXPECT_NE(outcome.message.find(" more"), std::string::npos);
}

}  // namespace
}  // namespace pbk
