// Black-box tests of `pbk-agent guard`: nothing to do, drift in jobs.cfg and
// vzdump.cron, the REST API not usable, pvesh failing or missing.
// What is asserted is what an admin and PVE can see: exit codes, the lines
// printed, the requests and pvesh calls the fakes logged, and jobs.cfg /
// vzdump.cron read back byte for byte.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "tests/blackbox/pve_blackbox_fixture.h"

namespace pbk::testing::pve_blackbox {
namespace {

// --- the guard: nothing to do -----------------------------------------------

TEST_F(GuardBlackboxTest, NothingToDoReadsOnceAndWritesNothing) {
  const std::string jobs_cfg = JobsCfg({SectionA(hook_), SectionB(hook_), kRealmSync});
  const std::string cron = Cron({kCron1 + " --script " + hook_, kCron2 + " --script " + hook_,
                                 kCron3 + " --script " + hook_});
  ASSERT_NO_FATAL_FAILURE(WriteJobFiles(jobs_cfg, cron));
  ASSERT_NO_FATAL_FAILURE(WriteConfig());

  RunResult guard = Agent({"guard"});
  EXPECT_EQ(guard.exit_code, 0) << guard.err;
  EXPECT_EQ(guard.out, "");
  EXPECT_TRUE(HasLine(guard.err, "5 job(s) read through rest: 0 changed, 0 without the hook"))
      << guard.err;
  EXPECT_EQ(CountLinesContaining(guard.err, "script set to"), 0u) << guard.err;

  auto requests = pve_->Requests();
  ASSERT_EQ(requests.size(), 1u) << json(requests).dump(1);
  EXPECT_EQ(Str(requests[0], "method"), "GET");
  EXPECT_EQ(Str(requests[0], "path"), kBackupPath);
  EXPECT_EQ(At(requests[0], "auth"), kTokenId);
  EXPECT_EQ(At(requests[0], "status"), 200);
  EXPECT_TRUE(pve_->PveshCalls().empty()) << json(pve_->PveshCalls()).dump(1);
  EXPECT_EQ(JobsCfgNow(), jobs_cfg);
  EXPECT_EQ(CronNow(), cron);
}

TEST_F(GuardBlackboxTest, SecondRunAfterAFixIsOneReadAndNoPvesh) {
  ASSERT_NO_FATAL_FAILURE(WriteConfig());
  RunResult first = Agent({"guard"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const std::string jobs_cfg = JobsCfgNow();
  const std::string cron = CronNow();
  const size_t requests_before = pve_->Requests().size();
  const size_t calls_before = pve_->PveshCalls().size();

  RunResult second = Agent({"guard"});
  EXPECT_EQ(second.exit_code, 0) << second.err;
  EXPECT_TRUE(HasLine(second.err, "5 job(s) read through rest: 0 changed, 0 without the hook"))
      << second.err;
  EXPECT_EQ(pve_->Requests().size(), requests_before + 1);
  EXPECT_EQ(pve_->PveshCalls().size(), calls_before);
  EXPECT_EQ(JobsCfgNow(), jobs_cfg);
  EXPECT_EQ(CronNow(), cron);
}

TEST_F(GuardBlackboxTest, AnUnchangedListIsNotParsedOrCachedAgainAndAChangeIs) {
  ASSERT_NO_FATAL_FAILURE(WriteConfig());
  RunResult first = Agent({"guard"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  RunResult clean = Agent({"guard"});  // the run that finds nothing to change
  ASSERT_EQ(clean.exit_code, 0) << clean.err;
  const std::string cache = state_dir_ + "/jobs.json";
  struct stat before {};
  ASSERT_EQ(stat(cache.c_str(), &before), 0);

  // Same answer, same configuration: one read, the same summary, and the
  // job cache is left as it is (same file, not rewritten).
  const size_t requests_before = pve_->Requests().size();
  RunResult same = Agent({"--debug", "guard"});
  EXPECT_EQ(same.exit_code, 0) << same.err;
  EXPECT_TRUE(Contains(same.err, "5 job(s) read through rest: 0 changed, 0 without the hook"))
      << same.err;
  EXPECT_TRUE(Contains(same.err, "the job list is the one the last clean run read")) << same.err;
  EXPECT_EQ(pve_->Requests().size(), requests_before + 1);
  struct stat after {};
  ASSERT_EQ(stat(cache.c_str(), &after), 0);
  EXPECT_EQ(after.st_ino, before.st_ino);
  EXPECT_EQ(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
  EXPECT_EQ(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);

  // A job loses the hook: the answer differs, the run is a full one.
  ASSERT_NO_FATAL_FAILURE(WriteJobFiles(
      JobsCfg({SectionA(hook_), SectionB(""), kRealmSync}), CronNow()));
  RunResult changed = Agent({"guard"});
  EXPECT_EQ(changed.exit_code, 0) << changed.err;
  EXPECT_TRUE(Contains(changed.err, std::string("job ") + kJobB + ": script set to"))
      << changed.err;
  EXPECT_FALSE(Contains(changed.err, "the last clean run read")) << changed.err;

  // So does a change of the configuration (a job excluded).
  AgentConfig excluded;
  excluded.exclude = {kJobB};
  ASSERT_NO_FATAL_FAILURE(WriteConfig(excluded));
  RunResult reconfigured = Agent({"--debug", "guard"});
  EXPECT_EQ(reconfigured.exit_code, 0) << reconfigured.err;
  EXPECT_TRUE(Contains(reconfigured.err, ", 1 excluded")) << reconfigured.err;
  EXPECT_FALSE(Contains(reconfigured.err, "the last clean run read")) << reconfigured.err;
}

// --- the guard: drift in jobs.cfg ---------------------------------------------

TEST_F(GuardBlackboxTest, EveryDriftedJobGetsTheHookThroughOnePveshSetEach) {
  ASSERT_NO_FATAL_FAILURE(WriteJobFiles(MixedJobsCfg(hook_), kCronHead));
  ASSERT_NO_FATAL_FAILURE(WriteConfig());

  RunResult guard = Agent({"guard"});
  EXPECT_EQ(guard.exit_code, 0) << guard.err;
  EXPECT_EQ(guard.out, "");

  // One set per drifted job, exactly the hook, nothing read through pvesh.
  auto sets = PveshCalls("set");
  ASSERT_EQ(sets.size(), 3u) << json(pve_->PveshCalls()).dump(1);
  ExpectSetCall(sets[0], kJobB);
  ExpectSetCall(sets[1], kJobNew);
  ExpectSetCall(sets[2], kJobUsb);
  EXPECT_EQ(pve_->PveshCalls().size(), 3u) << json(pve_->PveshCalls()).dump(1);

  // One line per change, with the old value.
  EXPECT_TRUE(HasLine(guard.err, ChangeLine(kJobB, "none"))) << guard.err;
  EXPECT_TRUE(HasLine(guard.err, ChangeLine(kJobNew, "none"))) << guard.err;
  EXPECT_TRUE(HasLine(guard.err, ChangeLine(kJobUsb, "\"/root/mount-usb.sh\""))) << guard.err;
  EXPECT_EQ(CountLinesContaining(guard.err, "script set to"), 3u) << guard.err;
  EXPECT_TRUE(HasLine(guard.err, "4 job(s) read through rest: 3 changed, 0 without the hook"))
      << guard.err;
  // None of them has a monitor on this node (the configuration maps none),
  // and each line of change says so right after.
  EXPECT_EQ(CountLinesContaining(guard.err, "no push monitor on node pve1"), 3u) << guard.err;
  EXPECT_TRUE(Contains(guard.err, std::string("job ") + kJobNew + ": no push monitor on node pve1"))
      << guard.err;

  // The token only read: no PUT ever reached the API.
  auto requests = pve_->Requests();
  EXPECT_GE(requests.size(), 1u);
  ExpectRestOnlyRead();
  for (const auto& request : requests) EXPECT_EQ(At(request, "auth"), kTokenId) << request.dump();

  // jobs.cfg holds the hook on every job and nothing else changed.
  EXPECT_EQ(JobsCfgNow(), JobsCfg({SectionA(hook_), SectionB(hook_), SectionNew(hook_),
                                   SectionUsb(hook_), kRealmSync}));
  EXPECT_EQ(CronNow(), kCronHead);
}

// --- the guard: legacy vzdump.cron jobs --------------------------------------

TEST_F(GuardBlackboxTest, LegacyJobsAreAllFixedAlthoughTheirIdsMove) {
  const std::string jobs_cfg = JobsCfg({SectionA(hook_), kRealmSync});
  ASSERT_NO_FATAL_FAILURE(WriteJobFiles(jobs_cfg, kRefCron));
  ASSERT_NO_FATAL_FAILURE(WriteConfig());

  RunResult guard = Agent({"guard"});
  EXPECT_EQ(guard.exit_code, 0) << guard.err;

  auto sets = PveshCalls("set");
  ASSERT_EQ(sets.size(), 3u) << json(pve_->PveshCalls()).dump(1);
  std::set<std::string> ids;
  for (const auto& call : sets) {
    const std::string id = SetJobId(call);
    // PVE answers "no such vzdump job" (exit 255) to an id that is stale.
    ExpectSetCall(call, id);
    ids.insert(id);
    EXPECT_TRUE(Contains(id, ":")) << id;
  }
  EXPECT_EQ(ids.size(), 3u) << "each change needs the id current at that time";
  EXPECT_EQ(SetJobId(sets[0]), Sha1Hex(kRefCron) + ":1");
  for (const auto& id : ids) {
    EXPECT_TRUE(HasLine(guard.err, ChangeLine(id, "none", /*legacy=*/true))) << guard.err;
  }

  // The list was read again after each change, before the next one.
  auto requests = pve_->Requests();
  ExpectRestOnlyRead();
  for (size_t i = 0; i < sets.size(); ++i) {
    const double after = At(sets[i], "time").get<double>();
    const double before = i + 1 < sets.size() ? At(sets[i + 1], "time").get<double>() : 1e18;
    const bool listed = std::any_of(requests.begin(), requests.end(), [&](const json& r) {
      const double t = At(r, "time").get<double>();
      return t > after && t < before;
    });
    EXPECT_TRUE(listed) << "no list between set #" << i + 1 << " and the next step:\n"
                        << json(requests).dump(1) << json(sets).dump(1);
  }

  // Every job runs the hook; the disabled one is still disabled.
  json jobs;
  std::string err;
  ASSERT_TRUE(pve_->ListJobs(&jobs, &err)) << err;
  ASSERT_EQ(jobs.size(), 4u) << jobs.dump(1);
  int disabled = 0;
  for (const auto& job : jobs) {
    EXPECT_EQ(Str(job, "script"), hook_) << job.dump();
    if (Str(job, "id") != kJobA) {
      EXPECT_EQ(ids.count(Str(job, "id")), 1u)
          << "moved into jobs.cfg under its id: " << job.dump();
    }
    if (At(job, "vmid") == "200") {
      ++disabled;
      EXPECT_EQ(At(job, "enabled"), 0) << job.dump();
    }
  }
  EXPECT_EQ(disabled, 1) << jobs.dump(1);
  EXPECT_TRUE(HasLine(guard.err, "4 job(s) read through rest: 3 changed, 0 without the hook"))
      << guard.err;
}

// --- the guard: the REST API is not usable ------------------------------------

struct RestDownCase {
  const char* label;
  const char* reason;  // what stderr must say about why REST failed
};

void PrintTo(const RestDownCase& c, std::ostream* out) { *out << c.label; }

class GuardRestDownTest : public PveBlackboxTest,
                          public ::testing::WithParamInterface<RestDownCase> {};

TEST_P(GuardRestDownTest, ReadsThroughPveshAndStillFixesEveryJob) {
  const std::string label = GetParam().label;
  AgentConfig config;
  if (label == "ApiHangs") config.pve_timeout = 2;
  ASSERT_NO_FATAL_FAILURE(WriteConfig(config));
  if (label == "ApiHangs") {
    ASSERT_TRUE(pve_->SetMode("hang"));
  } else if (label == "Http500") {
    ASSERT_TRUE(pve_->SetMode("500"));
  } else if (label == "WrongSecret") {
    const std::string wrong = RandomSecret(24);
    secrets_.insert(wrong);
    RegisterSecret(wrong);
    dir_.Write("pve-token", wrong + "\n");
  } else {
    pve_->Stop();
  }

  RunResult guard = Agent({"guard"});
  EXPECT_EQ(guard.exit_code, 0) << guard.err;
  if (label == "ApiHangs") {
    // pve.timeout_seconds bounds the request; ten quick pvesh calls follow.
    EXPECT_LE(guard.wall_ms, 2000 + 4000) << guard.err;
  }
  bool named = false;
  for (const auto& line : Lines(guard.err)) {
    if (StartsWith(line, "warning: reading the jobs through rest failed: ") &&
        Contains(line, GetParam().reason)) {
      named = true;
    }
  }
  EXPECT_TRUE(named) << "expected why REST failed (" << GetParam().reason << "):\n" << guard.err;
  EXPECT_TRUE(HasLine(guard.err, "5 job(s) read through pvesh: 5 changed, 0 without the hook"))
      << guard.err;

  auto calls = pve_->PveshCalls();
  ASSERT_FALSE(calls.empty());
  EXPECT_EQ(At(calls[0], "argv"), json({"get", "/cluster/backup", "--output-format", "json"}));
  auto sets = PveshCalls("set");
  EXPECT_EQ(sets.size(), 5u) << json(calls).dump(1);
  for (const auto& call : sets) ExpectSetCall(call, SetJobId(call));
  // REST was tried once and not again after it failed.
  EXPECT_LE(pve_->Requests().size(), label == "ApiStopped" ? 0u : 1u);
  ExpectRestOnlyRead();
  ExpectEveryJobRunsTheHook(5);
}

INSTANTIATE_TEST_SUITE_P(Failures, GuardRestDownTest,
                         ::testing::Values(RestDownCase{"Http500", "HTTP 500"},
                                           RestDownCase{"WrongSecret", "refused the token"},
                                           RestDownCase{"ApiStopped", "connection refused"},
                                           RestDownCase{"ApiHangs",
                                                        "no complete answer within 2 s"}),
                         [](const ::testing::TestParamInfo<RestDownCase>& param_info) {
                           return std::string(param_info.param.label);
                         });

// --- the guard: pvesh fails ------------------------------------------------------

TEST_F(GuardBlackboxTest, NoQuorumFailsWithPveshsMessageAndChangesNothing) {
  ASSERT_NO_FATAL_FAILURE(WriteConfig());
  ASSERT_TRUE(pve_->SetNoQuorum(true));

  RunResult guard = Agent({"guard"});
  EXPECT_EQ(guard.exit_code, 1) << guard.err;
  EXPECT_TRUE(Contains(guard.err, "cfs-lock 'file-jobs_cfg' error: no quorum!")) << guard.err;
  EXPECT_EQ(JobsCfgNow(), kRefJobsCfg);
  EXPECT_EQ(CronNow(), kRefCron);

  // Every job is named as still without the hook; nothing was patched.
  const std::string digest = Sha1Hex(kRefCron);
  for (const std::string& id :
       {digest + ":1", digest + ":2", digest + ":3", std::string(kJobA), std::string(kJobB)}) {
    bool named = false;
    for (const auto& line : Lines(guard.err)) {
      if (StartsWith(line, "error: job " + id + " does not run the hook") &&
          Contains(line, "no quorum")) {
        named = true;
      }
    }
    EXPECT_TRUE(named) << id << ":\n" << guard.err;
  }
  auto sets = PveshCalls("set");
  EXPECT_GE(sets.size(), 1u);
  EXPECT_LE(sets.size(), 5u) << "one attempt per job at most";
  for (const auto& call : sets) EXPECT_NE(At(call, "exit"), 0) << call.dump();
  EXPECT_EQ(CountLinesContaining(guard.err, "script set to"), 0u) << guard.err;
  ExpectRestOnlyRead();
}

TEST_F(GuardBlackboxTest, HangingPveshIsKilledWithinTheTimeout) {
  const std::string jobs_cfg = JobsCfg({SectionA(hook_), SectionNew(""), kRealmSync});
  ASSERT_NO_FATAL_FAILURE(WriteJobFiles(jobs_cfg, kCronHead));
  AgentConfig config;
  config.pve_timeout = 2;
  ASSERT_NO_FATAL_FAILURE(WriteConfig(config));
  ASSERT_TRUE(pve_->SetPveshMode("hang"));

  RunResult guard = Agent({"guard"}, seconds(20));
  auto calls = pve_->PveshCalls();
  ASSERT_EQ(calls.size(), 1u) << json(calls).dump(1);
  EXPECT_TRUE(At(calls[0], "exit").is_null()) << calls[0].dump();
  EXPECT_EQ(guard.exit_code, 1) << guard.err;
  // Bounded: at most 2 s per pvesh call, plus start-up and the REST read.
  EXPECT_LE(guard.wall_ms, 2000 * static_cast<int64_t>(calls.size()) + 2000) << guard.err;
  EXPECT_GE(guard.wall_ms, 1900) << "the timeout is pve.timeout_seconds: " << guard.err;
  EXPECT_TRUE(Contains(guard.err, "pvesh set /cluster/backup/" + std::string(kJobNew) +
                                      " --script " + hook_ +
                                      " gave no result within 2 s and was killed"))
      << guard.err;
  EXPECT_TRUE(Contains(guard.err, "error: job " + std::string(kJobNew) + " does not run the hook"))
      << guard.err;
  EXPECT_EQ(JobsCfgNow(), jobs_cfg);
  // Nothing of the killed pvesh is left running.
  std::vector<std::string> left;
  for (const auto& process : ProcessesMentioning(pve_->root())) {
    if (Contains(process, "fake_pvesh")) left.push_back(process);
  }
  std::string listing;
  for (const auto& process : left) listing += process + "\n";
  EXPECT_TRUE(left.empty()) << listing;
}

TEST_F(GuardBlackboxTest, FailingPveshWithTheApiDownPatchesNothingBehindItsBack) {
  // pvesh is there but fails, and the API is down: the jobs are read from
  // the files, and vzdump.cron is still not patched by hand.
  ASSERT_NO_FATAL_FAILURE(WriteConfig());
  ASSERT_TRUE(pve_->SetPveshMode("fail"));
  ASSERT_TRUE(pve_->SetMode("500"));

  RunResult guard = Agent({"guard"});
  EXPECT_EQ(guard.exit_code, 1) << guard.err;
  EXPECT_TRUE(HasLine(guard.err, "5 job(s) read through files: 0 changed, 5 without the hook"))
      << guard.err;
  EXPECT_TRUE(Contains(guard.err, "exited with code 2: unexpected failure")) << guard.err;
  EXPECT_EQ(CountLinesContaining(guard.err, "script set to"), 0u) << guard.err;
  EXPECT_EQ(JobsCfgNow(), kRefJobsCfg);
  EXPECT_EQ(CronNow(), kRefCron);
}

// --- the guard without pvesh ------------------------------------------------------

class GuardWithoutPveshTest : public PveBlackboxTest, public ::testing::WithParamInterface<bool> {};

TEST_P(GuardWithoutPveshTest, PatchesOnlyTheDriftedVzdumpCronLines) {
  const bool api_up = GetParam();
  const std::string jobs_cfg = JobsCfg({SectionA(hook_), SectionNew(""), kRealmSync});
  const std::string cron = Cron({kCron1, kCron2 + " --script " + hook_, kCron3});
  ASSERT_NO_FATAL_FAILURE(WriteJobFiles(jobs_cfg, cron));
  ASSERT_EQ(chmod(pve_->RootPath("vzdump.cron").c_str(), 0640), 0);
  AgentConfig config;
  config.pvesh = dir_.Path("missing/pvesh");
  ASSERT_NO_FATAL_FAILURE(WriteConfig(config));
  if (!api_up) pve_->Stop();

  RunResult guard = Agent({"guard"});
  EXPECT_EQ(guard.exit_code, 1) << guard.err;

  // The original bytes with " --script HOOK" after exactly the drifted lines.
  std::string expected = cron;
  for (const std::string& line : {kCron1, kCron3}) {
    const size_t at = expected.find(line + "\n");
    ASSERT_NE(at, std::string::npos);
    expected.insert(at + line.size(), " --script " + hook_);
  }
  EXPECT_EQ(CronNow(), expected);
  struct stat st {};
  ASSERT_EQ(stat(pve_->RootPath("vzdump.cron").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(JobsCfgNow(), jobs_cfg);

  EXPECT_TRUE(
      Contains(guard.err, "warning: pvesh is not available at " + dir_.Path("missing/pvesh")))
      << guard.err;
  EXPECT_EQ(CountLinesContaining(guard.err, "script set to " + hook_ +
                                                " (was none) (a legacy "
                                                "vzdump.cron job)"),
            2u)
      << guard.err;
  EXPECT_TRUE(HasLine(guard.err, "error: job " + std::string(kJobNew) +
                                     " does not run the hook (script none): job " + kJobNew +
                                     " lives in jobs.cfg, which only PVE itself may write (pvesh "
                                     "is needed)"))
      << guard.err;
  EXPECT_TRUE(Contains(guard.err, std::string("read through ") + (api_up ? "rest" : "files") +
                                      ": 2 changed, 1 without the hook"))
      << guard.err;
  EXPECT_TRUE(pve_->PveshCalls().empty());
  ExpectRestOnlyRead();
}

INSTANTIATE_TEST_SUITE_P(Api, GuardWithoutPveshTest, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& param_info) {
                           return std::string(param_info.param ? "ApiUp" : "ApiDownReadsTheFiles");
                         });

}  // namespace
}  // namespace pbk::testing::pve_blackbox
