#include "hook/run_record.h"

#include <gtest/gtest.h>

#include "tests/support/test_dir.h"

namespace pbk {
namespace {

RunRecord Sample() {
  RunRecord record;
  record.key = "upid-pve1-000A1B2C-0143F5A7-6740C2B1";
  record.upid = "UPID:pve1:000A1B2C:0143F5A7:6740C2B1:vzdump::root@pam:";
  record.worker_pid = 0xA1B2C;
  record.node = "pve1";
  record.storage = "pbs1";
  record.first_ms = 1000;
  record.job_start_ms = 1100;
  GuestRecord& web = record.Guest(100);
  web.type = "qemu";
  web.name = "web01";
  web.mode = "snapshot";
  web.result = GuestResult::kOk;
  web.started_ms = 1200;
  web.ended_ms = 1300;
  GuestRecord& db = record.Guest(101);
  db.type = "lxc";
  db.name = "db\xFF";  // a broken name must not make the record unwritable
  db.result = GuestResult::kFailed;
  record.end_phase = "job-end";
  record.end_ms = 2000;
  record.job_id = "backup-1";
  record.job_source = "scheduler";
  record.push.state = PushState::kSpooled;
  record.push.up = false;
  record.push.message = "1 of 2 guests FAILED";
  record.push.ping_ms = 1000;
  record.push.detail = "connection refused";
  return record;
}

TEST(RunRecordTest, RoundTripsThroughItsFile) {
  testing::TestDir dir;
  RunRecord record = Sample();
  const std::string path = StateLayout(dir.path()).RunFile(record.key);
  EXPECT_EQ(path, dir.path() + "/runs/" + record.key + ".json");
  std::string err;
  ASSERT_TRUE(SaveRunRecord(path, record, &err)) << err;
  RunRecord loaded;
  bool exists = false;
  ASSERT_TRUE(LoadRunRecord(path, &loaded, &exists, &err)) << err;
  ASSERT_TRUE(exists);
  EXPECT_EQ(loaded.upid, record.upid);
  EXPECT_EQ(loaded.storage, "pbs1");
  ASSERT_EQ(loaded.guests.size(), 2u);
  EXPECT_EQ(loaded.guests[0].name, "web01");
  EXPECT_EQ(loaded.guests[0].result, GuestResult::kOk);
  EXPECT_EQ(loaded.guests[1].name, "db\xEF\xBF\xBD");
  EXPECT_EQ(loaded.guests[1].result, GuestResult::kFailed);
  EXPECT_EQ(loaded.push.state, PushState::kSpooled);
  EXPECT_EQ(loaded.push.detail, "connection refused");
  EXPECT_EQ(loaded.end_phase, "job-end");
}

TEST(RunRecordTest, AMissingRecordIsNotAnError) {
  testing::TestDir dir;
  RunRecord record;
  bool exists = true;
  std::string err;
  ASSERT_TRUE(LoadRunRecord(dir.Path("none.json"), &record, &exists, &err));
  EXPECT_FALSE(exists);
}

TEST(RunRecordTest, ABrokenRecordIsReportedWithItsPath) {
  testing::TestDir dir;
  std::string text = SerializeRunRecord(Sample());
  RunRecord record;
  bool exists = false;
  std::string err;
  dir.Write("cut.json", text.substr(0, text.size() / 2));
  EXPECT_FALSE(LoadRunRecord(dir.Path("cut.json"), &record, &exists, &err));
  EXPECT_EQ(err, dir.Path("cut.json") + ": not a JSON object");
  dir.Write("other.json", R"({"format": 1, "key": 5})");
  EXPECT_FALSE(LoadRunRecord(dir.Path("other.json"), &record, &exists, &err));
  EXPECT_NE(err.find("malformed run record"), std::string::npos) << err;
  dir.Write("future.json", R"({"format": 2})");
  EXPECT_FALSE(LoadRunRecord(dir.Path("future.json"), &record, &exists, &err));
  EXPECT_EQ(err, dir.Path("future.json") + ": unknown format 2");
}

TEST(RunRecordTest, GuestReturnsTheSameEntryForAVmid) {
  RunRecord record;
  record.Guest(100).name = "a";
  record.Guest(101);
  record.Guest(100).mode = "stop";
  ASSERT_EQ(record.guests.size(), 2u);
  EXPECT_EQ(record.FindGuest(100)->name, "a");
  EXPECT_EQ(record.FindGuest(100)->mode, "stop");
  EXPECT_EQ(record.FindGuest(102), nullptr);
}

}  // namespace
}  // namespace pbk
