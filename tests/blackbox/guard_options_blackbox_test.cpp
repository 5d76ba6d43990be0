// Black-box tests of `pbk-agent guard`: --dry-run, two guards at once,
// exclude, --json, the job cache, broken REST answers.
// What is asserted is what an admin and PVE can see: exit codes, the lines
// printed, the requests and pvesh calls the fakes logged, and jobs.cfg /
// vzdump.cron read back byte for byte.
#include <gtest/gtest.h>

#include "tests/blackbox/pve_blackbox_fixture.h"

namespace pbk::testing::pve_blackbox {
namespace {

// --- the guard: --dry-run, concurrency, exclude, --json, the cache ---------------

TEST_F(GuardBlackboxTest, DryRunReportsDriftAndWritesNothing) {
  ASSERT_NO_FATAL_FAILURE(WriteConfig());

  RunResult dry = Agent({"guard", "--dry-run"});
  EXPECT_EQ(dry.exit_code, 1) << dry.err;
  EXPECT_EQ(CountLinesContaining(dry.err, "not changed (--dry-run)"), 5u) << dry.err;
  EXPECT_TRUE(HasLine(dry.err,
                      "5 job(s) read through rest: 0 changed, 5 without the hook (dry "
                      "run: nothing written)"))
      << dry.err;

  RunResult dry_json = Agent({"guard", "--dry-run", "--json"});
  EXPECT_EQ(dry_json.exit_code, 1) << dry_json.err;
  json document = json::parse(dry_json.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(document.is_object()) << dry_json.out;
  EXPECT_EQ(At(document, "ok"), false);
  EXPECT_EQ(At(document, "dry_run"), true);
  EXPECT_EQ(At(document, "drift_left"), 5);
  EXPECT_EQ(At(document, "changes"), json::array());

  EXPECT_TRUE(pve_->PveshCalls().empty()) << json(pve_->PveshCalls()).dump(1);
  EXPECT_EQ(pve_->Requests().size(), 2u);
  ExpectRestOnlyRead();
  EXPECT_EQ(JobsCfgNow(), kRefJobsCfg);
  EXPECT_EQ(CronNow(), kRefCron);
  EXPECT_FALSE(std::filesystem::exists(state_dir_ + "/jobs.json"));
  EXPECT_FALSE(std::filesystem::exists(state_dir_)) << "a dry run writes nothing, not even a lock";
}

TEST_F(GuardBlackboxTest, TwoGuardsAtOnceDoEveryChangeOnce) {
  ASSERT_NO_FATAL_FAILURE(WriteConfig());
  // Slow enough that the first guard still holds the lock when the second starts.
  ASSERT_TRUE(pve_->SetPveshMode("slow:0.2"));

  BackgroundProcess guards[2];
  for (int i = 0; i < 2; ++i) {
    std::string err;
    ASSERT_TRUE(guards[i].Start(AgentArgv({"guard"}), nullptr,
                                dir_.Path("guard" + std::to_string(i) + ".out"),
                                dir_.Path("guard" + std::to_string(i) + ".err"), &err))
        << err;
  }
  std::string err_text[2];
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(guards[i].Wait(seconds(60))) << "guard " << i << " did not end";
    err_text[i] = ReadText(dir_.Path("guard" + std::to_string(i) + ".err"));
    outputs_.push_back(err_text[i]);
    outputs_.push_back(ReadText(dir_.Path("guard" + std::to_string(i) + ".out")));
    EXPECT_EQ(guards[i].exit_code(), 0) << err_text[i];
  }

  auto sets = PveshCalls("set");
  EXPECT_EQ(sets.size(), 5u) << json(pve_->PveshCalls()).dump(1);
  std::set<std::string> ids;
  for (const auto& call : sets) {
    ExpectSetCall(call, SetJobId(call));
    ids.insert(SetJobId(call));
  }
  EXPECT_EQ(ids.size(), sets.size()) << "a job was changed twice";

  const char kWaiting[] = "another guard is running; waiting for it";
  const int waited = static_cast<int>(HasLine(err_text[0], kWaiting)) +
                     static_cast<int>(HasLine(err_text[1], kWaiting));
  EXPECT_EQ(waited, 1) << err_text[0] << "---\n" << err_text[1];
  const std::string& waiter = HasLine(err_text[0], kWaiting) ? err_text[0] : err_text[1];
  const std::string& first = HasLine(err_text[0], kWaiting) ? err_text[1] : err_text[0];
  EXPECT_TRUE(HasLine(first, "5 job(s) read through rest: 5 changed, 0 without the hook")) << first;
  EXPECT_TRUE(HasLine(waiter, "5 job(s) read through rest: 0 changed, 0 without the hook"))
      << waiter;
  ASSERT_TRUE(pve_->SetPveshMode("normal"));
  ExpectEveryJobRunsTheHook(5);
}

TEST_F(GuardBlackboxTest, ExcludedJobKeepsItsOwnScript) {
  ASSERT_NO_FATAL_FAILURE(WriteJobFiles(MixedJobsCfg(hook_), kCronHead));
  AgentConfig config;
  config.exclude = {kJobUsb};
  ASSERT_NO_FATAL_FAILURE(WriteConfig(config));

  RunResult guard = Agent({"guard"});
  EXPECT_EQ(guard.exit_code, 0) << guard.err;
  auto sets = PveshCalls("set");
  ASSERT_EQ(sets.size(), 2u) << json(pve_->PveshCalls()).dump(1);
  ExpectSetCall(sets[0], kJobB);
  ExpectSetCall(sets[1], kJobNew);
  EXPECT_EQ(JobsCfgNow(), JobsCfg({SectionA(hook_), SectionB(hook_), SectionNew(hook_),
                                   SectionUsb(kMountUsb), kRealmSync}));
  EXPECT_FALSE(Contains(guard.err, std::string("job ") + kJobUsb + ":")) << guard.err;
  EXPECT_TRUE(
      HasLine(guard.err, "4 job(s) read through rest: 2 changed, 0 without the hook, 1 excluded"))
      << guard.err;
}

TEST_F(GuardBlackboxTest, JsonOutputListsTheChanges) {
  ASSERT_NO_FATAL_FAILURE(WriteJobFiles(MixedJobsCfg(hook_), kCronHead));
  ASSERT_NO_FATAL_FAILURE(WriteConfig());

  RunResult guard = Agent({"guard", "--json"});
  EXPECT_EQ(guard.exit_code, 0) << guard.err;
  json document = json::parse(guard.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(document.is_object()) << guard.out;
  EXPECT_EQ(At(document, "ok"), true) << document.dump(1);
  EXPECT_EQ(At(document, "dry_run"), false);
  EXPECT_EQ(At(document, "source"), "rest");
  EXPECT_EQ(At(document, "drift_left"), 0);
  EXPECT_EQ(At(document, "errors"), json::array());
  EXPECT_EQ(At(document, "changes"),
            json({{{"id", kJobB}, {"old_script", ""}, {"legacy", false}},
                  {{"id", kJobNew}, {"old_script", ""}, {"legacy", false}},
                  {{"id", kJobUsb}, {"old_script", kMountUsb}, {"legacy", false}}}))
      << document.dump(1);
  const json& jobs = At(document, "jobs");
  ASSERT_EQ(jobs.size(), 4u) << document.dump(1);
  for (const auto& job : jobs) {
    EXPECT_EQ(At(job, "carries_hook"), true) << job.dump();
    EXPECT_EQ(At(job, "script"), hook_) << job.dump();
  }
}

TEST_F(GuardBlackboxTest, CachesTheJobListInTheStateDir) {
  ASSERT_NO_FATAL_FAILURE(WriteJobFiles(MixedJobsCfg(hook_), kCronHead));
  ASSERT_NO_FATAL_FAILURE(WriteConfig());
  const auto before =
      std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();

  RunResult guard = Agent({"guard"});
  EXPECT_EQ(guard.exit_code, 0) << guard.err;
  const std::string text = ReadText(state_dir_ + "/jobs.json");
  json cache = json::parse(text, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(cache.is_object()) << text;
  EXPECT_EQ(At(cache, "format"), 1);
  EXPECT_EQ(At(cache, "source"), "rest");
  EXPECT_EQ(At(cache, "node"), "pve1");
  ASSERT_TRUE(At(cache, "written").is_number()) << text;
  EXPECT_GE(At(cache, "written").get<int64_t>(), before - 1000);
  // The jobs either written out ("jobs") or kept as PVE answered them
  // ("document": {"data": [...]} from the API, the bare list from pvesh).
  json list = At(cache, "jobs");
  if (list.is_null()) {
    list = At(cache, "document");
    if (list.is_object()) list = At(list, "data");
  }
  ASSERT_TRUE(list.is_array()) << text;
  std::vector<std::string> ids;
  for (const auto& job : list) {
    ids.push_back(Str(job, "id"));
    EXPECT_EQ(Str(job, "script"), hook_)
        << "the list as read back after the changes: " << job.dump();
  }
  EXPECT_EQ(ids, std::vector<std::string>({kJobA, kJobB, kJobNew, kJobUsb}));
}

// --- the guard: broken REST answers ----------------------------------------------

class GuardMalformedAnswerTest : public PveBlackboxTest,
                                 public ::testing::WithParamInterface<const char*> {};

TEST_P(GuardMalformedAnswerTest, FallsBackToPveshAndKeepsEveryOtherOption) {
  const std::string before =
      JobsCfg({SectionA(hook_), SectionRich(""), SectionUsb(kMountUsb), kRealmSync});
  ASSERT_NO_FATAL_FAILURE(WriteJobFiles(before, kCronHead));
  ASSERT_NO_FATAL_FAILURE(WriteConfig());
  ASSERT_TRUE(pve_->SetMode(GetParam()));

  RunResult guard = Agent({"guard"});
  EXPECT_EQ(guard.exit_code, 0) << guard.err;
  EXPECT_TRUE(Contains(guard.err, "warning: reading the jobs through rest failed: ")) << guard.err;
  if (std::string(GetParam()) == "malformed") {
    EXPECT_TRUE(Contains(guard.err, "not valid JSON")) << guard.err;
  }
  EXPECT_TRUE(HasLine(guard.err, "3 job(s) read through pvesh: 2 changed, 0 without the hook"))
      << guard.err;

  auto sets = PveshCalls("set");
  ASSERT_EQ(sets.size(), 2u) << json(pve_->PveshCalls()).dump(1);
  ExpectSetCall(sets[0], kJobRich);
  ExpectSetCall(sets[1], kJobUsb);
  EXPECT_EQ(pve_->Requests().size(), 1u);
  ExpectRestOnlyRead();

  const std::string after = JobsCfgNow();
  EXPECT_EQ(NonScriptLines(after), NonScriptLines(before)) << after;
  EXPECT_EQ(CountLinesContaining(after, "\tscript "), 3u) << after;
  EXPECT_EQ(CountLinesContaining(after, "\tscript " + hook_), 3u) << after;
  EXPECT_EQ(after, JobsCfg({SectionA(hook_), SectionRich(hook_), SectionUsb(hook_), kRealmSync}));
}

INSTANTIATE_TEST_SUITE_P(Modes, GuardMalformedAnswerTest,
                         ::testing::Values("malformed", "truncated"),
                         [](const ::testing::TestParamInfo<const char*>& param_info) {
                           return std::string(param_info.param) == "malformed" ? "Malformed"
                                                                               : "Truncated";
                         });

}  // namespace
}  // namespace pbk::testing::pve_blackbox
