#include "hook/chain.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>

#include "tests/support/test_dir.h"

namespace pbk {
namespace {

std::string Script(const testing::TestDir& dir, const std::string& name,
                   const std::string& body) {
  const std::string path = dir.Write(name, "#!/bin/sh\n" + body);
  chmod(path.c_str(), 0755);
  return path;
}

TEST(ChainTest, RunsEachScriptWithVzdumpsArgumentsAndEnvironment) {
  testing::TestDir dir;
  const std::string log = dir.Path("log");
  const std::string first = Script(dir, "first.sh",
                                   "echo \"first $*\" >>" + log +
                                       "\ntr '\\0' ' ' </proc/$$/environ >>" + log + "\necho >>" + log +
                                       "\necho mounting the backup disk\n");
  const std::string second =
      Script(dir, "second.sh", "echo \"second $*\" >>" + log + "\necho to stderr >&2\n");
  ::testing::internal::CaptureStdout();
  ChainOutcome outcome =
      RunChain({first, second}, {"backup-start", "snapshot", "100"}, {"STOREID=pbs1", "LC_ALL=C"});
  const std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(outcome.exit_code, 0);
  EXPECT_TRUE(outcome.errors.empty());
  EXPECT_EQ(dir.Read("log"),
            "first backup-start snapshot 100\nSTOREID=pbs1 LC_ALL=C \nsecond backup-start "
            "snapshot 100\n");
  // Both output streams reach ours: vzdump puts them into the task log.
  EXPECT_EQ(out, "mounting the backup disk\nto stderr\n");
}

TEST(ChainTest, AFailingScriptStopsTheChainAndItsCodeIsReturned) {
  testing::TestDir dir;
  const std::string failing = Script(dir, "fail.sh", "echo cannot mount; exit 3\n");
  const std::string never = Script(dir, "never.sh", "touch " + dir.Path("ran") + "\n");
  ::testing::internal::CaptureStdout();
  ChainOutcome outcome = RunChain({failing, never}, {"job-start"}, {});
  EXPECT_EQ(::testing::internal::GetCapturedStdout(), "cannot mount\n");
  EXPECT_EQ(outcome.exit_code, 3);
  EXPECT_EQ(outcome.failed_script, failing);
  EXPECT_FALSE(dir.Exists("ran"));
}

TEST(ChainTest, AMissingScriptIsReportedAndTheOthersRun) {
  testing::TestDir dir;
  const std::string good = Script(dir, "good.sh", "touch " + dir.Path("ran") + "\n");
  const std::string not_executable = dir.Write("plain.sh", "#!/bin/sh\n");
  chmod(not_executable.c_str(), 0644);
  ChainOutcome outcome =
      RunChain({dir.Path("missing.sh"), not_executable, good}, {"job-end"}, {});
  EXPECT_EQ(outcome.exit_code, 0);
  EXPECT_TRUE(dir.Exists("ran"));
  EXPECT_EQ(outcome.errors,
            (std::vector<std::string>{"chained hook " + dir.Path("missing.sh") + " does not exist",
                                      "chained hook " + not_executable +
                                          " is not an executable file"}));
}

TEST(ChainTest, AChildLeftHoldingTheOutputIsNotWaitedFor) {
  testing::TestDir dir;
  const std::string script = Script(dir, "bg.sh", "sleep 30 &\necho started\n");
  const auto start = std::chrono::steady_clock::now();
  ::testing::internal::CaptureStdout();
  ChainOutcome outcome = RunChain({script}, {"log-end", "snapshot", "100"}, {});
  EXPECT_EQ(::testing::internal::GetCapturedStdout(), "started\n");
  EXPECT_EQ(outcome.exit_code, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST(ChainTest, AChainedHookInheritsNoDescriptorButItsThree) {
  testing::TestDir dir;
  // What the hook holds when it runs the chain: say, a kept-alive socket to
  // Kuma or a lock, opened by a library without close-on-exec.
  const int leaked = open(dir.Write("held", "x").c_str(), O_RDONLY);
  ASSERT_GE(leaked, 3);
  const std::string log = dir.Path("fds");
  const std::string script = Script(dir, "fds.sh", "ls /proc/self/fd >" + log + "\n");
  ChainOutcome outcome = RunChain({script}, {"job-end"}, {"LC_ALL=C"});
  close(leaked);
  EXPECT_EQ(outcome.exit_code, 0);
  // ls itself opens one more descriptor (the folder it lists): 0, 1, 2, 3.
  EXPECT_EQ(dir.Read("fds"), "0\n1\n2\n3\n");
}

}  // namespace
}  // namespace pbk
