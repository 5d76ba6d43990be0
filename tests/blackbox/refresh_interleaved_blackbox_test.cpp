// Black-box tests of how `pbk-agent refresh`, `flush` and the hook's job-end
// push share a job's monitor: no push ever takes a job back in time.
#include <gtest/gtest.h>

#include "tests/blackbox/refresh_blackbox_fixture.h"

namespace pbk::testing::refresh_blackbox {
namespace {

// --- 3. hook, flush and refresh on one job's monitor --------------------------------------
//
// A job's pushes must never go back in time: a late result (a run's result
// that flush delivers) comes before any push of a newer state, and the last
// push is the job's state now. Each push is placed on the job's time line:
//   1 the late result of the earlier run (spooled while Kuma was down)
//   2 a current state that knows that run ("last run …" of it)
//   3 a current state "running since …" (the next run goes on)
//   4 the next run's result (the hook's push, or late)
//   5 a current state that knows the next run's result

struct OnTimeLine {
  int level = 0;  // 0: not a push of this story
  std::string what;
};

OnTimeLine PlaceOnTimeLine(const json& push, const std::string& earlier, const std::string& later) {
  const std::string msg = Msg(push);
  if (StartsWith(msg, "delivered late, run ended ")) {
    if (Contains(msg, earlier)) return {1, "late result of the earlier run"};
    if (Contains(msg, later)) return {4, "late result of the later run"};
    return {0, "late result of an unknown run"};
  }
  if (HasPing(push)) {
    if (Contains(msg, later)) return {4, "the hook's result of the later run"};
    return {0, "a run result of an unknown run"};
  }
  if (Contains(msg, "running since ")) return {3, "current state: running"};
  if (Contains(msg, "last run ") && Contains(msg, later)) {
    return {5, "current state: the later run's result"};
  }
  if (Contains(msg, "last run ") && Contains(msg, earlier)) {
    return {2, "current state: the earlier run's result"};
  }
  return {0, "current state of no known run"};
}

// Whether PUSH tells the job's state as TRUTH (refresh's dry-run entry for
// the job) does: the same current state, or the hook's push of the very
// result the state is made of ("last run …: <that result>").
bool SaysTheStateNow(const json& push, const json& truth) {
  if (Str(At(push, "query"), "status") != Str(truth, "status")) return false;
  const std::string msg = Msg(push);
  const std::string state = Str(truth, "message");
  if (WithoutNextRun(msg) == WithoutNextRun(state)) return true;
  const std::string node_prefix = std::string(kNode) + ": ";
  return HasPing(push) && !StartsWith(msg, "delivered late") && StartsWith(msg, node_prefix) &&
         Contains(state, ": last run ") && Contains(state, ": " + msg.substr(node_prefix.size()));
}

// What is wrong with PUSHES (one job's, oldest first) as a time line; TRUTH
// is refresh's dry-run entry for the job afterwards. Empty when all is right.
std::vector<std::string> TimeLineProblems(const std::vector<json>& pushes,
                                          const std::string& earlier, const std::string& later,
                                          const json& truth) {
  std::vector<std::string> problems;
  std::vector<OnTimeLine> placed;
  for (const auto& push : pushes) placed.push_back(PlaceOnTimeLine(push, earlier, later));
  int late = 0;
  for (size_t i = 0; i < placed.size(); ++i) {
    if (placed[i].level == 0) {
      problems.push_back("push #" + std::to_string(i + 1) + " is " + placed[i].what);
    }
    if (placed[i].level == 1) ++late;
    for (size_t j = 0; j < i; ++j) {
      if (placed[j].level > placed[i].level && placed[i].level > 0) {
        problems.push_back("back in time: push #" + std::to_string(i + 1) + " (" + placed[i].what +
                           ") came after push #" + std::to_string(j + 1) + " (" + placed[j].what +
                           ")");
        break;
      }
    }
  }
  if (late != 1) {
    problems.push_back(std::to_string(late) + " late result(s) of the earlier run, not 1");
  }
  const auto first_late =
      std::find_if(placed.begin(), placed.end(), [](const OnTimeLine& p) { return p.level == 1; });
  const bool state_after_late = first_late != placed.end() &&
                                std::any_of(first_late + 1, placed.end(), [](const OnTimeLine& p) {
                                  // The hook's own result of the later run
                                  // is the present truth as well.
                                  return p.level == 2 || p.level == 3 || p.level == 5 ||
                                         p.what == "the hook's result of the later run";
                                });
  if (!state_after_late) {
    problems.push_back("no current state (nor the hook's newer result) was pushed after the late "
                       "result");
  }
  if (pushes.empty()) return problems;
  const json& last = pushes.back();
  if (!SaysTheStateNow(last, truth)) {
    problems.push_back("the last push is not the job's state now: it says " +
                       Str(At(last, "query"), "status") + " \"" + Msg(last) +
                       "\", refresh --dry-run says " + Str(truth, "status") + " (" +
                       Str(truth, "state") + ") \"" + Str(truth, "message") + "\"");
  }
  return problems;
}

TEST_F(RefreshInterleavedTest, FlushRefreshAndAnEndingRunNeverPushAJobBackInTime) {
  ASSERT_NO_FATAL_FAILURE(StartKuma());
  ASSERT_NO_FATAL_FAILURE(WriteConfig());
  std::vector<std::string> failures;
  for (int round = 1; round <= 5; ++round) {
    const std::string earlier = "store-late-" + std::to_string(round);
    const std::string later = "store-now-" + std::to_string(round);
    // Kuma is down while a run ends: its result is spooled.
    kuma_->Stop();
    SimRun spooled = RunSim(TwoGuests(kJob, earlier));
    ASSERT_EQ(At(spooled.Call("job-end"), "exit"), 0) << spooled.Log();
    ASSERT_EQ(SpoolEntries().size(), 1u) << "round " << round;
    ASSERT_NO_FATAL_FAILURE(RestartKuma());

    // Kuma is back: the next run of the job ends while flush and refresh run.
    const size_t mark = Mark();
    Background sim, flush, refresh;
    ASSERT_NO_FATAL_FAILURE(StartSim(TwoGuests(kJob, later, "snapshot", 0.2), &sim));
    // A different overlap each round: from the run's start to after its end.
    std::this_thread::sleep_for(milliseconds(200 * (round - 1)));
    ASSERT_NO_FATAL_FAILURE(StartAgent({"flush"}, &flush));
    ASSERT_NO_FATAL_FAILURE(StartAgent({"refresh"}, &refresh));
    SimRun run = FinishSim(&sim);
    RunResult flushed = FinishAgent(&flush);
    RunResult refreshed = FinishAgent(&refresh);
    EXPECT_EQ(At(run.Call("job-end"), "exit"), 0) << run.Log();
    EXPECT_EQ(flushed.exit_code, 0) << "round " << round << ": " << flushed.err;
    EXPECT_EQ(refreshed.exit_code, 0) << "round " << round << ": " << refreshed.err;
    EXPECT_TRUE(SpoolEntries().empty()) << "round " << round;

    const json truth = CurrentState("job " + std::string(kJob));
    EXPECT_EQ(Str(truth, "state"), "ok") << truth.dump();
    const auto pushes = PushesSince(mark, kToken);
    for (const auto& problem : TimeLineProblems(pushes, earlier, later, truth)) {
      failures.push_back("round " + std::to_string(round) + ": " + problem + "\n" +
                         Describe(pushes));
    }
  }
  for (const auto& failure : failures) ADD_FAILURE() << failure;
}

// The same rules, each order forced.

TEST_F(RefreshInterleavedTest, RefreshBeforeFlushPushesNoCurrentStateAheadOfALateResult) {
  ASSERT_NO_FATAL_FAILURE(StartKuma());
  ASSERT_NO_FATAL_FAILURE(WriteConfig());
  kuma_->Stop();
  SimRun spooled = RunSim(TwoGuests(kJob, "store-late", "fail-archive"));
  ASSERT_EQ(SpoolEntries().size(), 1u) << spooled.Log();
  ASSERT_NO_FATAL_FAILURE(RestartKuma());

  // Kuma came back between the timer's flush and its refresh.
  const size_t mark = Mark();
  RunResult refresh = Agent({"refresh"});
  RunResult flush = Agent({"flush"});
  EXPECT_EQ(flush.exit_code, 0) << flush.err;
  EXPECT_TRUE(SpoolEntries().empty());
  const json truth = CurrentState("job " + std::string(kJob));
  const auto pushes = PushesSince(mark, kToken);
  for (const auto& problem : TimeLineProblems(pushes, "store-late", "store-now", truth)) {
    ADD_FAILURE() << problem << "\n" << Describe(pushes);
  }
}

TEST_F(RefreshInterleavedTest, HooksResultOfALaterRunIsNotFollowedByAnEarlierLateResult) {
  ASSERT_NO_FATAL_FAILURE(StartKuma());
  ASSERT_NO_FATAL_FAILURE(WriteConfig());
  kuma_->Stop();
  SimRun spooled = RunSim(TwoGuests(kJob, "store-late", "fail-archive"));
  ASSERT_EQ(SpoolEntries().size(), 1u) << spooled.Log();
  ASSERT_NO_FATAL_FAILURE(RestartKuma());

  // The next run ends before any flush: the hook pushes its result at once.
  const size_t mark = Mark();
  SimRun run = RunSim(TwoGuests(kJob, "store-now"));
  ASSERT_EQ(At(run.Call("job-end"), "exit"), 0) << run.Log();
  RunResult flush = Agent({"flush"});
  EXPECT_EQ(flush.exit_code, 0) << flush.err;
  const json truth = CurrentState("job " + std::string(kJob));
  const auto pushes = PushesSince(mark, kToken);
  for (const auto& problem : TimeLineProblems(pushes, "store-late", "store-now", truth)) {
    ADD_FAILURE() << problem << "\n" << Describe(pushes);
  }
}

// Refresh reads every job's facts once, then pushes job after job, each
// under its lock. A job whose run ends while refresh waits for an earlier
// job's lock must not get a state older than the hook's push.
TEST_F(RefreshInterleavedTest, RefreshWaitingForAnotherJobsLockPushesNoStaleState) {
  ASSERT_NO_FATAL_FAILURE(StartKuma());
  ASSERT_NO_FATAL_FAILURE(WriteJobs({AllJob(kJobEarly, "03:00"), AllJob(kJob)}));
  AgentSetup setup;
  setup.jobs = {{kJobEarly, kTokenEarly}, {kJob, kToken}};
  setup.gate = true;
  setup.timeout_seconds = 10;  // refresh waits up to 15 s for a lock
  ASSERT_NO_FATAL_FAILURE(WriteConfig(setup));

  // A run of kJob goes on; another pbk-agent process pushes for kJobEarly.
  ArmGate();
  Background sim;
  ASSERT_NO_FATAL_FAILURE(StartSim(TwoGuests(kJob, "store-now"), &sim));
  ASSERT_TRUE(AtGate()) << ReadText(sim.out) << ReadText(sim.err);
  std::filesystem::create_directories(state_dir_ + "/locks");
  HeldLock early;
  ASSERT_TRUE(early.Take(LockPath(kJobEarly)));

  // Refresh has read the node (it remembers the jobs right after) and waits.
  const size_t mark = Mark();
  ASSERT_FALSE(Exists(state_dir_ + "/refresh.json"));
  Background refresh;
  ASSERT_NO_FATAL_FAILURE(StartAgent({"refresh"}, &refresh));
  ASSERT_TRUE(WaitUntil([&] { return Exists(state_dir_ + "/refresh.json"); }, seconds(20)))
      << ReadText(refresh.err);
  // Meanwhile the run ends and the hook pushes its result.
  ASSERT_TRUE(OpenGate());
  SimRun run = FinishSim(&sim);
  ASSERT_EQ(At(run.Call("job-end"), "exit"), 0) << run.Log();
  ASSERT_EQ(PushesSince(mark, kToken).size(), 1u) << Describe(PushesSince(mark, kToken));
  EXPECT_TRUE(refresh.process.Running()) << "refresh should still wait for " << kJobEarly;
  early.Release();
  RunResult refreshed = FinishAgent(&refresh);
  // The lock the test held is the one pbk-agent takes.
  EXPECT_EQ(FilesIn(state_dir_ + "/locks"),
            std::vector<std::string>(
                {"job-" + std::string(kJobEarly) + ".lock", "job-" + std::string(kJob) + ".lock"}));

  const json truth = CurrentState("job " + std::string(kJob));
  EXPECT_EQ(Str(truth, "state"), "ok") << truth.dump();
  const auto pushes = PushesSince(mark, kToken);
  ASSERT_FALSE(pushes.empty());
  EXPECT_TRUE(SaysTheStateNow(pushes.back(), truth))
      << "the last push of " << kJob << " is not its state now (" << Str(truth, "status") << ", "
      << Str(truth, "state") << ": " << Str(truth, "message") << "):\n"
      << Describe(pushes);
  EXPECT_EQ(refreshed.exit_code, 0) << "every job is up, yet refresh says:\n" << refreshed.err;
}

// Flush reads the node once, at its first job's current state, and pushes
// later jobs' current states from that. A later job whose run ended while
// flush waited for its lock must not get a state older than that run.
TEST_F(RefreshInterleavedTest, FlushPushesEachJobsStateAsOfHavingItsLock) {
  ASSERT_NO_FATAL_FAILURE(StartKuma());
  ASSERT_NO_FATAL_FAILURE(WriteJobs({AllJob(kJobEarly, "03:00"), AllJob(kJob)}));
  AgentSetup setup;
  setup.jobs = {{kJobEarly, kTokenEarly}, {kJob, kToken}};
  setup.gate = true;
  // The hook waits 4 s for the job's lock, flush 9 s.
  setup.timeout_seconds = 4;
  ASSERT_NO_FATAL_FAILURE(WriteConfig(setup));

  // Kuma is down while a run of each job ends, kJobEarly's first.
  kuma_->Stop();
  SimRun first = RunSim(TwoGuests(kJobEarly, "store-early"));
  SimRun second = RunSim(TwoGuests(kJob, "store-late"));
  ASSERT_EQ(SpoolEntries().size(), 2u) << first.Log() << second.Log();
  ASSERT_NO_FATAL_FAILURE(RestartKuma());

  // The next run of kJob goes on; another process holds kJob's push lock.
  ArmGate();
  Background sim;
  ASSERT_NO_FATAL_FAILURE(StartSim(TwoGuests(kJob, "store-now"), &sim));
  ASSERT_TRUE(AtGate()) << ReadText(sim.out) << ReadText(sim.err);
  std::filesystem::create_directories(state_dir_ + "/locks");
  HeldLock held;
  ASSERT_TRUE(held.Take(LockPath(kJob)));

  // Flush delivers kJobEarly's result and state, then waits for kJob's lock.
  const size_t mark = Mark();
  Background flush;
  ASSERT_NO_FATAL_FAILURE(StartAgent({"flush"}, &flush));
  ASSERT_TRUE(WaitUntil([&] { return PushesSince(mark, kTokenEarly).size() >= 2; }, seconds(20)))
      << ReadText(flush.err);
  // The run ends; its hook cannot have the lock in time and spools.
  ASSERT_TRUE(OpenGate());
  SimRun run = FinishSim(&sim);
  ASSERT_EQ(At(run.Call("job-end"), "exit"), 0) << run.Log();
  EXPECT_TRUE(Contains(run.TaskLog("job-end"), "another pbk-agent process held its push lock"))
      << run.TaskLog("job-end");
  EXPECT_TRUE(Contains(run.TaskLog("job-end"), "The result is spooled")) << run.TaskLog("job-end");
  EXPECT_TRUE(flush.process.Running()) << "flush should still wait for " << kJob;
  held.Release();
  RunResult flushed = FinishAgent(&flush);
  EXPECT_TRUE(Contains(flushed.err, std::string("delivered the up push for job ") + kJob))
      << flushed.err;

  const json truth = CurrentState("job " + std::string(kJob));
  EXPECT_EQ(Str(truth, "state"), "ok") << truth.dump();
  const auto pushes = PushesSince(mark, kToken);
  ASSERT_FALSE(pushes.empty());
  EXPECT_FALSE(HasPing(pushes.back())) << "flush ends with the job's current state:\n"
                                       << Describe(pushes);
  EXPECT_TRUE(SaysTheStateNow(pushes.back(), truth))
      << "the last push of " << kJob << " is not its state now (" << Str(truth, "status") << ", "
      << Str(truth, "state") << ": " << Str(truth, "message") << "):\n"
      << Describe(pushes);
}

}  // namespace
}  // namespace pbk::testing::refresh_blackbox
