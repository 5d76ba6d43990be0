// Malformed input for UPIDs, /proc cmdlines and stat lines (tests/support/malformed_row.h).
#include "hook/worker.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "agent/core/fs.h"
#include "tests/support/malformed_row.h"
#include "tests/support/test_dir.h"

namespace pbk {
namespace {

using testing::Row;
using testing::RowName;

// ---------------------------------------------------------------- UPID, cmdline, stat

// ParseUpid and StartTimeFromStat only say no; UpidFromCmdline gives "".
const Row kUpidRows[] = {
    {"empty", "", {}},
    {"lower_case_prefix", "upid:pve1:00001092:0143F5A7:6740C2B1:vzdump::root@pam:", {}},
    {"no_trailing_colon", "UPID:pve1:00001092:0143F5A7:6740C2B1:vzdump::root@pam", {}},
    {"one_field_too_many", "UPID:pve1:00001092:0143F5A7:6740C2B1:vzdump::root@pam:x:", {}},
    {"empty_node", "UPID::00001092:0143F5A7:6740C2B1:vzdump::root@pam:", {}},
    {"pid_zero", "UPID:pve1:00000000:0143F5A7:6740C2B1:vzdump::root@pam:", {}},
    {"pid_not_hex", "UPID:pve1:0000109G:0143F5A7:6740C2B1:vzdump::root@pam:", {}},
    {"pid_too_long", "UPID:pve1:000000000000000000001:0143F5A7:6740C2B1:vzdump::root@pam:", {}},
    {"starttime_empty", "UPID:pve1:00001092:0143F5A7::vzdump::root@pam:", {}},
    {"type_empty", "UPID:pve1:00001092:0143F5A7:6740C2B1:::root@pam:", {}},
    {"user_empty", "UPID:pve1:00001092:0143F5A7:6740C2B1:vzdump:::", {}},
    {"too_long", "UPID:" + std::string(600, 'n') + ":1:2:3:vzdump::root@pam:", {}},
};

class UpidMalformedTest : public ::testing::TestWithParam<Row> {};

TEST_P(UpidMalformedTest, IsRefused) {
  const Row& row = GetParam();
  Upid upid;
  EXPECT_FALSE(ParseUpid(row.input, &upid));
  EXPECT_EQ(UpidFromCmdline("task " + row.input + std::string("\0", 1)), "");
}

INSTANTIATE_TEST_SUITE_P(Rows, UpidMalformedTest, ::testing::ValuesIn(kUpidRows), RowName);

TEST(UpidMalformedTest, ACmdlineMustStartWithTask) {
  const std::string upid = "UPID:pve1:00001092:0143F5A7:6740C2B1:vzdump::root@pam:";
  EXPECT_EQ(UpidFromCmdline("task " + upid), upid);
  EXPECT_EQ(UpidFromCmdline("tasks " + upid), "");
  EXPECT_EQ(UpidFromCmdline(upid), "");
  EXPECT_EQ(UpidFromCmdline(std::string("task\0", 5) + upid), "");
  EXPECT_EQ(UpidFromCmdline("task " + upid + " extra"), "");
}

TEST(UpidMalformedTest, StatLinesWithoutAStartTimeAreRefused) {
  uint64_t ticks = 7;
  for (const std::string stat :
       {"", "4242", "4242 (vzdump S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20",
        "4242 (vzdump) S 1 4242 4242 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0",
        "4242 (vzdump) S 1 4242 4242 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 -5 0",
        "4242 (vzdump) S 1 4242 4242 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99999999999999999999999 0"}) {
    EXPECT_FALSE(StartTimeFromStat(stat, &ticks)) << stat;
  }
  EXPECT_EQ(ticks, 7u);
}

// What the hook's ERROR line says when the parent cannot be identified.
TEST(UpidMalformedTest, AnUnidentifiableParentIsNamed) {
  testing::TestDir proc;
  WorkerIdentity worker;
  std::string err;
  EXPECT_FALSE(IdentifyWorker(proc.path(), 99, &worker, &err));
  EXPECT_EQ(err, "cannot identify the calling vzdump process 99: reading " + proc.path() +
                     "/99/stat: No such file or directory");
  // A stat file that is there but malformed is called "unreadable".
  proc.Write("77/cmdline", "task UPID:broken");
  proc.Write("77/stat", "77 (vzdump) S 1");
  EXPECT_FALSE(IdentifyWorker(proc.path(), 77, &worker, &err));
  EXPECT_EQ(err, "cannot identify the calling vzdump process 77: unreadable " + proc.path() +
                     "/77/stat");
}

// Found by fuzzing: the key held the UPID's node name uncut, so "<key>.json"
// could pass NAME_MAX (255 bytes); the hook then kept no run record and no
// spool entry, and a job-abort after job-end pushed the run a second time.
// A long key is cut and ends in a hash of all of it.
TEST(UpidMalformedTest, ARunKeyIsAlwaysAUsableFileName) {
  testing::TestDir proc;
  auto identify = [&](const std::string& node, const std::string& pid) {
    proc.Write("5000/cmdline", "task UPID:" + node + ":" + pid +
                                   ":0143F5A7:6740C2B1:vzdump::root@pam:" + std::string("\0", 1));
    WorkerIdentity worker;
    std::string err;
    EXPECT_TRUE(IdentifyWorker(proc.path(), 5000, &worker, &err)) << err;
    return worker.key;
  };
  const std::string key = identify(std::string(450, 'n'), "00001092");
  EXPECT_EQ(key.size(), 200u);
  EXPECT_EQ(key.substr(0, 184), "upid-" + std::string(178, 'n') + "-");
  // The whole of the ".<key>.json.tmp.<pid>.<n>" of an atomic write fits.
  EXPECT_LE(1 + key.size() + 5 + 5 + 7 + 1 + 10, 255u);
  // The same run, the same key; another run, another key.
  EXPECT_EQ(identify(std::string(450, 'n'), "00001092"), key);
  EXPECT_NE(identify(std::string(450, 'n'), "00001093"), key);
  // The key still names a file, written as the hook writes its records.
  testing::TestDir state;
  std::string err;
  EXPECT_TRUE(WriteFileAtomic(state.path() + "/" + key + ".json", "{}", &err)) << err;
  // Keys of ordinary length are as they were.
  EXPECT_EQ(identify("pve1", "00001092"), "upid-pve1-00001092-0143F5A7-6740C2B1");
}

}  // namespace
}  // namespace pbk
