#include "hook/spool.h"

#include <gtest/gtest.h>
#include <sys/file.h>

#include "hook/run_record.h"
#include "tests/support/test_dir.h"

namespace pbk {
namespace {

SpooledPush Owed(const std::string& job, int64_t created, const std::string& run) {
  SpooledPush push;
  push.job_id = job;
  push.up = true;
  push.message = "the 1 guest backed up";
  push.ping_ms = 1000;
  push.created_ms = created;
  push.run_key = run;
  return push;
}

struct Sent {
  std::string job_id;
  int64_t created_ms;
};

TEST(SpoolTest, FlushDeliversOldestFirstAndRemovesOnlyWhatKumaConfirmed) {
  testing::TestDir dir;
  const StateLayout state(dir.path());
  std::string err;
  for (auto [job, created, run] : {std::tuple{"j2", 300, "r3"}, {"j1", 100, "r1"}, {"j3", 200, "r2"}}) {
    SpooledPush push = Owed(job, created, run);
    UniqueFd lock;
    ASSERT_TRUE(SpoolPush(state, &push, &lock, &err)) << err;
  }
  std::vector<Sent> sent;
  FlushReport report = FlushSpool(state, [&](const std::string& job, const SpooledPush& push,
                                             std::string* why, bool* transport_failed, bool*) {
    sent.push_back({job, push.created_ms});
    *transport_failed = false;
    if (job == "j3") {
      *why = "Kuma answered HTTP 404: Monitor not found or not active.";
      return false;
    }
    return true;
  });
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[0].job_id, "j1");
  EXPECT_EQ(sent[1].job_id, "j3");
  EXPECT_EQ(sent[2].job_id, "j2");
  EXPECT_EQ(report.delivered, 2);
  EXPECT_EQ(report.failed, 1);
  EXPECT_FALSE(dir.Exists("spool/r1.json"));
  EXPECT_FALSE(dir.Exists("spool/r3.json"));
  // The refused push stays, with what went wrong.
  std::vector<std::string> bad;
  auto left = ListSpool(state, &bad);
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].job_id, "j3");
  EXPECT_EQ(left[0].attempts, 1);
  EXPECT_EQ(left[0].last_error, "Kuma answered HTTP 404: Monitor not found or not active.");
}

TEST(SpoolTest, FlushStopsTryingWhenKumaCannotBeReached) {
  testing::TestDir dir;
  const StateLayout state(dir.path());
  std::string err;
  for (int i = 0; i < 3; ++i) {
    SpooledPush push = Owed("j" + std::to_string(i), 100 + i, "r" + std::to_string(i));
    UniqueFd lock;
    ASSERT_TRUE(SpoolPush(state, &push, &lock, &err));
  }
  int calls = 0;
  FlushReport report = FlushSpool(
      state, [&](const std::string&, const SpooledPush&, std::string* why, bool* transport, bool*) {
        ++calls;
        *why = "connection refused";
        *transport = true;
        return false;
      });
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(report.failed, 1);
  EXPECT_EQ(report.skipped, 2);
  std::vector<std::string> bad;
  EXPECT_EQ(ListSpool(state, &bad).size(), 3u);
}

TEST(SpoolTest, AnEntryLockedByAPushingHookIsLeftAlone) {
  testing::TestDir dir;
  const StateLayout state(dir.path());
  std::string err;
  SpooledPush push = Owed("j1", 100, "r1");
  UniqueFd lock;
  ASSERT_TRUE(SpoolPush(state, &push, &lock, &err));
  ASSERT_TRUE(lock.valid());
  int calls = 0;
  auto count = [&](const std::string&, const SpooledPush&, std::string*, bool*, bool*) {
    ++calls;
    return true;
  };
  FlushReport report = FlushSpool(state, count);
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(report.skipped, 1);
  lock.Reset();
  report = FlushSpool(state, count);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(report.delivered, 1);
}

TEST(SpoolTest, BrokenEntriesAreReportedAndKept) {
  testing::TestDir dir;
  const StateLayout state(dir.path());
  dir.Write("spool/r9.json", "{\"format\": 1, \"job_id\": ");
  dir.Write("spool/.r8.json.tmp.1.0", "half");  // a write that was killed
  std::vector<std::string> bad;
  EXPECT_TRUE(ListSpool(state, &bad).empty());
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_EQ(bad[0], dir.Path("spool/r9.json") +
                        ": not a JSON object (kept; inspect and remove it by hand)");
  FlushReport report = FlushSpool(state, nullptr);
  EXPECT_EQ(report.errors.size(), 1u);
  EXPECT_TRUE(dir.Exists("spool/r9.json"));
}

TEST(SpoolTest, AnEntryWhosePushWasConfirmedIsRemovedUnsent) {
  // A hook killed after Kuma confirmed and after the record said so, but
  // before it removed the spool entry.
  testing::TestDir dir;
  const StateLayout state(dir.path());
  RunRecord record;
  record.key = "r1";
  record.push.state = PushState::kDelivered;
  std::string err;
  ASSERT_TRUE(SaveRunRecord(state.RunFile("r1"), record, &err));
  SpooledPush push = Owed("j1", 100, "r1");
  UniqueFd lock;
  ASSERT_TRUE(SpoolPush(state, &push, &lock, &err));
  lock.Reset();
  int calls = 0;
  FlushReport report =
      FlushSpool(state, [&](const std::string&, const SpooledPush&, std::string*, bool*, bool*) {
        ++calls;
        return true;
      });
  EXPECT_EQ(calls, 0);
  EXPECT_FALSE(dir.Exists("spool/r1.json"));
  ASSERT_EQ(report.lines.size(), 1u);
  EXPECT_NE(report.lines[0].find("Kuma had confirmed it already"), std::string::npos);
}

TEST(SpoolTest, DeliveryIsNotedInTheRunRecord) {
  testing::TestDir dir;
  const StateLayout state(dir.path());
  RunRecord record;
  record.key = "r1";
  record.push.state = PushState::kSpooled;
  std::string err;
  ASSERT_TRUE(SaveRunRecord(state.RunFile("r1"), record, &err));
  SpooledPush push = Owed("j1", 100, "r1");
  UniqueFd lock;
  ASSERT_TRUE(SpoolPush(state, &push, &lock, &err));
  lock.Reset();
  FlushSpool(state, [](const std::string&, const SpooledPush&, std::string*, bool*, bool*) {
    return true;
  });
  bool exists = false;
  ASSERT_TRUE(LoadRunRecord(state.RunFile("r1"), &record, &exists, &err));
  EXPECT_EQ(record.push.state, PushState::kDelivered);
}

}  // namespace
}  // namespace pbk
