// Black-box tests of `pbk-agent refresh`: spool entries that can never be
// delivered.
#include <gtest/gtest.h>

#include "tests/blackbox/refresh_blackbox_fixture.h"

namespace pbk::testing::refresh_blackbox {
namespace {

// --- 4. spool entries that can never be delivered ------------------------------------------

TEST_F(RefreshUndeliverableTest, EntryOfAJobWithoutATokenEndsInFailedAfterADay) {
  ASSERT_NO_FATAL_FAILURE(StartKuma());
  ASSERT_NO_FATAL_FAILURE(WriteConfig());  // kJobOther has no push_token (any more)
  const int64_t now_ms = NowSeconds() * 1000;
  const int64_t old_ms = now_ms - 25 * 3600 * 1000LL;
  const std::string old_key = "upid-pve1-00001111-00002222-0000AAAA";
  const std::string young_key = "upid-pve1-00001111-00002222-0000BBBB";
  WriteSpoolEntry("spool", old_key, kJobOther, false, "pve1: 1 of 2 guests FAILED", old_ms);
  WriteSpoolEntry("spool", young_key, kJobOther, true, "pve1: all 2 guests backed up",
                  now_ms - 3600 * 1000LL);

  const size_t mark = Mark();
  RunResult flush = Agent({"flush"});
  EXPECT_EQ(flush.exit_code, 1) << flush.err;
  EXPECT_TRUE(Contains(flush.err, std::string("job ") + kJobOther + ": push spooled " +
                                      LocalTime(old_ms / 1000) + " can never be delivered ("))
      << flush.err;
  EXPECT_TRUE(Contains(flush.err, "has no push_token in " + config_path_)) << flush.err;
  EXPECT_TRUE(Contains(flush.err, "moved to " + FailedDir() + "/")) << flush.err;
  EXPECT_TRUE(RequestsSince(mark).empty()) << "no token, nothing to send";
  // The old entry was given up on; the young one waits for its day.
  EXPECT_EQ(FilesIn(FailedDir()), std::vector<std::string>({old_key + ".json"}));
  EXPECT_EQ(SpoolEntries(), std::vector<std::string>({young_key + ".json"}));
  const json failed = json::parse(ReadText(FailedDir() + "/" + old_key + ".json"), nullptr, false);
  EXPECT_EQ(Str(failed, "job_id"), kJobOther) << failed.dump();
  const json young = json::parse(ReadText(SpoolDir() + "/" + young_key + ".json"), nullptr, false);
  EXPECT_EQ(At(young, "attempts"), 2) << young.dump();
  EXPECT_TRUE(Contains(Str(young, "last_error"), "no push_token")) << young.dump();

  ExpectRefresh(
      {{kJob, kToken, "no-run-yet", true, {}, {}},
       Node(false, {"1 push(es) that can never be delivered in " + FailedDir() + "/",
                    "1 push(es) stuck in the spool since " + LocalTime(now_ms / 1000 - 3600)})});
}

TEST_F(RefreshUndeliverableTest, EntryKumaAnswers404ForEndsInFailedAfterADay) {
  // Kuma knows the node monitor, not the job's (its monitor was deleted).
  ASSERT_NO_FATAL_FAILURE(StartKuma(std::vector<std::string>{kNodeToken, kTokenOther}));
  ASSERT_NO_FATAL_FAILURE(WriteConfig());
  const int64_t now_ms = NowSeconds() * 1000;
  const int64_t old_ms = now_ms - 25 * 3600 * 1000LL;
  const std::string key = "upid-pve1-00001111-00002222-0000CCCC";
  WriteSpoolEntry("spool", key, kJob, false, "pve1: 1 of 2 guests FAILED", old_ms);

  const size_t mark = Mark();
  RunResult flush = Agent({"flush"});
  EXPECT_EQ(flush.exit_code, 1) << flush.err;
  EXPECT_TRUE(Contains(flush.err, std::string("job ") + kJob + ": push spooled " +
                                      LocalTime(old_ms / 1000) + " can never be delivered ("))
      << flush.err;
  EXPECT_TRUE(Contains(flush.err, "404")) << flush.err;
  EXPECT_TRUE(Contains(flush.err, "moved to " + FailedDir() + "/")) << flush.err;
  auto tried = PushesSince(mark, kToken);
  ASSERT_EQ(tried.size(), 1u) << Describe(tried);
  EXPECT_EQ(At(tried[0], "answered"), 404);
  EXPECT_TRUE(StartsWith(Msg(tried[0]), "delivered late, run ended " + LocalTime(old_ms / 1000)))
      << Msg(tried[0]);
  EXPECT_EQ(RequestsSince(mark).size(), 1u) << "no current state after nothing was delivered";
  EXPECT_EQ(FilesIn(FailedDir()), std::vector<std::string>({key + ".json"}));
  EXPECT_TRUE(SpoolEntries().empty());

  // Refresh: the job's push is refused (a failed push: exit 1 even as a
  // service); the node monitor names the entry given up on.
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"refresh"}, std::vector<std::string>{"refresh", "--service"}}) {
    const size_t before = Mark();
    RunResult refresh = Agent(args);
    EXPECT_EQ(refresh.exit_code, 1) << refresh.err;
    EXPECT_TRUE(Contains(refresh.err, std::string("job ") + kJob + " NOT pushed")) << refresh.err;
    auto node = PushesSince(before, kNodeToken);
    ASSERT_EQ(node.size(), 1u) << Describe(RequestsSince(before));
    ExpectPushSays(node[0],
                   Node(false, {"1 push(es) that can never be delivered in " + FailedDir() + "/"}));
    EXPECT_EQ(PushesSince(before, kToken).size(), 1u);
  }
}

}  // namespace
}  // namespace pbk::testing::refresh_blackbox
