// pvescheduler's state file as refresh reads it.
#include "agent/refresh.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/support/test_dir.h"
#include "tests/support/test_time.h"

namespace pbk {
namespace {

using testing::TestDir;
using testing::Utc;

SchedulerState Parsed(const std::string& text) {
  SchedulerState state;
  std::string err;
  EXPECT_TRUE(ParseSchedulerState(text, &state, &err)) << err;
  return state;
}

std::string ParseError(const std::string& text) {
  SchedulerState state;
  state.state = "untouched";
  std::string err;
  EXPECT_FALSE(ParseSchedulerState(text, &state, &err));
  EXPECT_EQ(state.state, "untouched");
  return err;
}

TEST(RefreshSchedulerStateTest, ReadsCreatedAndStarting) {
  SchedulerState state =
      Parsed(R"({"state":"created","time":1733500000,"config":{"schedule":"21:00","enabled":1}})");
  EXPECT_TRUE(state.exists);
  EXPECT_EQ(state.state, "created");
  EXPECT_EQ(state.time, 1733500000);
  EXPECT_EQ(state.upid, "");
  EXPECT_EQ(state.LastStart(), 1733500000);

  state = Parsed(R"({"state":"starting","time":1733501000})");
  EXPECT_EQ(state.state, "starting");
  EXPECT_EQ(state.LastStart(), 1733501000);
}

TEST(RefreshSchedulerStateTest, ReadsStartedWithTheUpidsStart) {
  const SchedulerState state = Parsed(
      R"({"state":"started","upid":"UPID:pve1:0000A1B2:0012C3D4:6752F0A0:vzdump::root@pam:",)"
      R"("config":{"schedule":"21:00","enabled":1}})");
  EXPECT_EQ(state.state, "started");
  EXPECT_EQ(state.upid, "UPID:pve1:0000A1B2:0012C3D4:6752F0A0:vzdump::root@pam:");
  EXPECT_EQ(state.upid_start, 0x6752F0A0);
  EXPECT_EQ(state.upid_start, Utc(2024, 12, 6, 12, 40));
  EXPECT_FALSE(state.time.has_value());
  EXPECT_EQ(state.LastStart(), Utc(2024, 12, 6, 12, 40));
}

TEST(RefreshSchedulerStateTest, ReadsStoppedWithAndWithoutUpid) {
  SchedulerState state = Parsed(
      R"({"state":"stopped","msg":"OK","upid":"UPID:pve1:0000A1B2:0012C3D4:6752F0A0:vzdump::root@pam:",)"
      R"("config":{"schedule":"21:00","enabled":1}})");
  EXPECT_EQ(state.state, "stopped");
  EXPECT_EQ(state.msg, "OK");
  EXPECT_EQ(state.LastStart(), 0x6752F0A0);

  // No guest of the job on this node: no worker, no UPID (or a null one,
  // as Perl writes an undefined upid).
  for (const char* text : {R"({"state":"stopped","msg":"OK","time":1733500000})",
                           R"({"state":"stopped","upid":null,"msg":"OK","time":1733500000})"}) {
    state = Parsed(text);
    EXPECT_EQ(state.msg, "OK") << text;
    EXPECT_EQ(state.upid, "") << text;
    EXPECT_EQ(state.upid_start, 0) << text;
    EXPECT_EQ(state.LastStart(), 1733500000) << text;
  }

  state = Parsed(R"({"state":"stopped","msg":"some error","time":1733500000})");
  EXPECT_EQ(state.msg, "some error");
  EXPECT_EQ(state.LastStart(), 1733500000);
}

TEST(RefreshSchedulerStateTest, UpdatedIsNeverTheLastStart) {
  SchedulerState state =
      Parsed(R"({"state":"stopped","msg":"OK","time":1733500000,"updated":1733600000})");
  EXPECT_EQ(state.LastStart(), 1733500000);
  state = Parsed(
      R"({"state":"stopped","msg":"OK","upid":"UPID:pve1:0000A1B2:0012C3D4:6752F0A0:vzdump::root@pam:",)"
      R"("updated":1733600000})");
  EXPECT_EQ(state.LastStart(), 0x6752F0A0);
  state = Parsed(R"({"state":"created","updated":1733600000})");
  EXPECT_EQ(state.LastStart(), std::nullopt);
}

TEST(RefreshSchedulerStateTest, NoFileHasNoLastStart) {
  EXPECT_EQ(SchedulerState{}.LastStart(), std::nullopt);
}

TEST(RefreshSchedulerStateTest, MalformedFilesAreClearErrors) {
  EXPECT_EQ(ParseError(R"({"state":"stopped",)"), "not a JSON object");
  EXPECT_EQ(ParseError("[]"), "not a JSON object");
  EXPECT_EQ(ParseError(R"({"state":["stopped"]})"), "\"state\" is not a string");
  EXPECT_EQ(ParseError(R"({"state":"started","upid":"UPID:pve1:zz"})"),
            "\"upid\" is not a UPID: \"UPID:pve1:zz\"");
  EXPECT_EQ(ParseError(R"({"state":"started","upid":42})"), "\"upid\" is not a UPID: 42");
  EXPECT_EQ(ParseError(R"({"state":"stopped","msg":"OK","time":-5})"),
            "\"time\" is not a time in seconds: -5");
  EXPECT_EQ(ParseError(R"({"state":"stopped","msg":"OK","time":"soon"})"),
            "\"time\" is not a time in seconds: \"soon\"");
}

TEST(RefreshSchedulerStateTest, LoadsTheJobsFile) {
  TestDir dir;
  dir.Write("vzdump-backup-1.json", R"({"state":"stopped","msg":"OK","time":1733500000})");
  SchedulerState state;
  std::string err;
  ASSERT_TRUE(LoadSchedulerState(dir.path(), "backup-1", &state, &err)) << err;
  EXPECT_TRUE(state.exists);
  EXPECT_EQ(state.LastStart(), 1733500000);
}

TEST(RefreshSchedulerStateTest, MissingFileIsNoError) {
  TestDir dir;
  SchedulerState state;
  state.exists = true;
  std::string err;
  ASSERT_TRUE(LoadSchedulerState(dir.path(), "backup-1", &state, &err)) << err;
  EXPECT_FALSE(state.exists);
  EXPECT_EQ(state.LastStart(), std::nullopt);
}

TEST(RefreshSchedulerStateTest, EmptyFileIsPveschedulersDefaultState) {
  TestDir dir;
  for (const char* text : {"", " \n"}) {
    dir.Write("vzdump-backup-1.json", text);
    SchedulerState state;
    std::string err;
    ASSERT_TRUE(LoadSchedulerState(dir.path(), "backup-1", &state, &err)) << err;
    EXPECT_TRUE(state.exists);
    EXPECT_EQ(state.state, "created");
    EXPECT_EQ(state.time, 0);
    EXPECT_EQ(state.upid, "");
  }
}

TEST(RefreshSchedulerStateTest, MalformedFileIsAnErrorNamingIt) {
  TestDir dir;
  const std::string path = dir.Write("vzdump-backup-1.json", "{\"state\": \"stop");
  SchedulerState state;
  std::string err;
  EXPECT_FALSE(LoadSchedulerState(dir.path(), "backup-1", &state, &err));
  EXPECT_EQ(err, path + ": not a JSON object");

  dir.Write("vzdump-backup-1.json", R"({"state":"stopped","time":-1})");
  EXPECT_FALSE(LoadSchedulerState(dir.path(), "backup-1", &state, &err));
  EXPECT_EQ(err, path + ": \"time\" is not a time in seconds: -1");
}

}  // namespace
}  // namespace pbk
