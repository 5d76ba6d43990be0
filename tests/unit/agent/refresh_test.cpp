#include "agent/refresh.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/test_dir.h"
#include "tests/support/test_time.h"
#include "hook/worker.h"

namespace pbk {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::ScopedTimeZone;
using ::testing::StartsWith;
using testing::TestDir;
using testing::Utc;

constexpr int64_t kMinute = 60;
constexpr int64_t kHour = 60 * kMinute;
constexpr int64_t kGrace = 30 * kMinute;  // refresh.start_grace_minutes' default
constexpr char kJobId[] = "backup-8d6f3a2c-1b4e";
constexpr char kNode[] = "pve1";

// Local times in Europe/Berlin, written out so no test leans on mktime().
int64_t Cest(int year, int month, int day, int hour, int minute = 0, int second = 0) {
  return Utc(year, month, day, hour, minute, second) - 2 * kHour;
}

// "UPID:pve1:0000A1B2:0012C3D4:6752F0A0:vzdump::root@pam:" for a worker started at START.
std::string UpidAt(int64_t start, unsigned pid = 0xA1B2) {
  char text[128];
  std::snprintf(text, sizeof text, "UPID:pve1:%08X:0012C3D4:%08llX:vzdump::root@pam:", pid,
                static_cast<unsigned long long>(start));
  return text;
}

// A run of the job on pve1 whose worker started at START: VM 100 (web01) ok,
// CT 101 (db01) with SECOND's result; END_PHASE "" while it has not ended.
RunRecord RunAt(int64_t start, const std::string& end_phase,
                GuestResult second = GuestResult::kOk) {
  RunRecord run;
  run.upid = UpidAt(start);
  run.key = FileNameKey(run.upid);
  run.worker_pid = 0xA1B2;
  run.node = kNode;
  run.storage = "pbs1";
  run.first_ms = (start + 2) * 1000;
  run.job_start_ms = run.first_ms + 1000;
  run.job_id = kJobId;
  run.job_source = "scheduler";
  GuestRecord& web = run.Guest(100);
  web.type = "qemu";
  web.name = "web01";
  web.mode = "snapshot";
  web.result = GuestResult::kOk;
  GuestRecord& db = run.Guest(101);
  db.type = "lxc";
  db.name = "db01";
  db.mode = "snapshot";
  db.result = end_phase.empty() ? GuestResult::kRunning : second;
  if (!end_phase.empty()) {
    run.end_ms = run.first_ms + 725'000;  // 12m 05s
    run.end_phase = end_phase;
  }
  return run;
}

// A state file as pvescheduler writes it.
SchedulerState Scheduler(const json& document) {
  SchedulerState state;
  std::string err;
  EXPECT_TRUE(ParseSchedulerState(document.dump(), &state, &err)) << err;
  return state;
}

json Config21() { return {{"schedule", "21:00"}, {"enabled", 1}}; }

void ExpectStatus(const JobStatus& status, JobState state, bool up,
                  std::initializer_list<std::string> words) {
  EXPECT_STREQ(JobStateName(status.state), JobStateName(state));
  EXPECT_EQ(status.up, up) << status.message;
  EXPECT_THAT(status.message, StartsWith(std::string(kNode) + ": "));
  for (const auto& word : words) EXPECT_THAT(status.message, HasSubstr(word));
}

#define EXPECT_STATUS(status, state, up, ...)     \
  do {                                            \
    SCOPED_TRACE("status of the job");            \
    ExpectStatus(status, state, up, __VA_ARGS__); \
  } while (false)

// One job of pve1, daily at 21:00, judged in Europe/Berlin in June 2026
// (CEST, UTC+2). pbk-agent first saw the job on 1 May.
class RefreshTest : public ::testing::Test {
 protected:
  RefreshTest() {
    job_.id = kJobId;
    job_.type = "vzdump";
    job_.schedule = "21:00";
    job_.storage = "pbs1";
    job_.all = true;
    job_.script = "/var/lib/vz/snippets/vzdump-uptime-kuma-hook.sh";
    facts_.job_id = kJobId;
    facts_.job = &job_;
    facts_.observed_change = Cest(2026, 5, 1, 9);
  }

  const RunRecord* AddRun(RunRecord run) {
    runs_.push_back(std::move(run));
    facts_.runs.push_back(&runs_.back());
    return &runs_.back();
  }

  // Runs newest start first, as refresh hands them over.
  JobStatus Judge(int64_t now) {
    std::stable_sort(
        facts_.runs.begin(), facts_.runs.end(),
        [](const RunRecord* a, const RunRecord* b) { return RunStart(*a) > RunStart(*b); });
    return JudgeJob(facts_, kNode, now, kGrace);
  }

  ScopedTimeZone zone_{"Europe/Berlin"};
  BackupJob job_;
  std::deque<RunRecord> runs_;
  JobFacts facts_;
};

TEST(RefreshStateNameTest, EveryStateHasItsName) {
  EXPECT_STREQ(JobStateName(JobState::kOk), "ok");
  EXPECT_STREQ(JobStateName(JobState::kFailed), "failed");
  EXPECT_STREQ(JobStateName(JobState::kRunning), "running");
  EXPECT_STREQ(JobStateName(JobState::kVanished), "vanished");
  EXPECT_STREQ(JobStateName(JobState::kMissed), "missed");
  EXPECT_STREQ(JobStateName(JobState::kNotHere), "not-here");
  EXPECT_STREQ(JobStateName(JobState::kNoRunYet), "no-run-yet");
  EXPECT_STREQ(JobStateName(JobState::kDisabled), "disabled");
  EXPECT_STREQ(JobStateName(JobState::kGone), "gone");
  EXPECT_STREQ(JobStateName(JobState::kWithoutHook), "without-hook");
  EXPECT_STREQ(JobStateName(JobState::kNotStarted), "not-started");
  EXPECT_STREQ(JobStateName(JobState::kUnknown), "unknown");
}

TEST(RefreshRunStartTest, IsTheUpidStartElseTheFirstPhaseSeen) {
  RunRecord run = RunAt(Utc(2026, 6, 1, 19, 0, 5), "job-end");
  EXPECT_EQ(RunStart(run), Utc(2026, 6, 1, 19, 0, 5));
  run.upid.clear();
  run.first_ms = Utc(2026, 6, 1, 19, 0, 9) * 1000 + 750;
  EXPECT_EQ(RunStart(run), Utc(2026, 6, 1, 19, 0, 9));
}

// --- the state table -------------------------------------------------------

TEST_F(RefreshTest, LastRunOkAndNothingDueIsOkNamingLastAndNextRun) {
  AddRun(RunAt(Cest(2026, 6, 1, 21, 0, 5), "job-end"));
  facts_.scheduler = Scheduler({{"state", "stopped"},
                                {"msg", "OK"},
                                {"upid", UpidAt(Cest(2026, 6, 1, 21, 0, 5))},
                                {"config", Config21()}});
  const JobStatus status = Judge(Cest(2026, 6, 2, 12));
  EXPECT_STATUS(status, JobState::kOk, true,
                {"last run 2026-06-01 21:00:05: all 2 guests backed up in 12m 05s to pbs1; ok: "
                 "100 web01, 101 db01",
                 "; next run 2026-06-02 21:00:00"});
  // The node is named once, not again from the hook's own message.
  EXPECT_THAT(status.message, Not(HasSubstr("pve1: pve1")));
  EXPECT_EQ(status.last_start, Cest(2026, 6, 1, 21, 0, 5));
  EXPECT_EQ(status.next_run, Cest(2026, 6, 2, 21));
  EXPECT_FALSE(status.due.has_value());
}

TEST_F(RefreshTest, FailedGuestsAreFailedAndDown) {
  AddRun(RunAt(Cest(2026, 5, 31, 21, 0, 5), "job-end"));
  AddRun(RunAt(Cest(2026, 6, 1, 21, 0, 5), "job-end", GuestResult::kFailed));
  const JobStatus status = Judge(Cest(2026, 6, 2, 12));
  EXPECT_STATUS(status, JobState::kFailed, false,
                {"last run 2026-06-01 21:00:05: 1 of 2 guests FAILED, 12m 05s, storage pbs1",
                 "failed: 101 db01", "; next run 2026-06-02 21:00:00"});
}

TEST_F(RefreshTest, AbortedJobIsFailedAndDown) {
  AddRun(RunAt(Cest(2026, 6, 1, 21, 0, 5), "job-abort"));
  const JobStatus status = Judge(Cest(2026, 6, 2, 12));
  EXPECT_STATUS(status, JobState::kFailed, false,
                {"last run 2026-06-01 21:00:05: backup job ABORTED after 12m 05s",
                 "; next run 2026-06-02 21:00:00"});
}

TEST_F(RefreshTest, RunningAfterAnOkRunIsUpAndRunningSinceItsStart) {
  AddRun(RunAt(Cest(2026, 6, 1, 21, 0, 5), "job-end"));
  facts_.running = AddRun(RunAt(Cest(2026, 6, 2, 21, 0, 5), ""));
  facts_.scheduler = Scheduler(
      {{"state", "started"}, {"upid", UpidAt(Cest(2026, 6, 2, 21, 0, 5))}, {"config", Config21()}});
  facts_.scheduler_worker_alive = true;
  const JobStatus status = Judge(Cest(2026, 6, 2, 21, 10));
  EXPECT_STATUS(status, JobState::kRunning, true,
                {"running since 2026-06-02 21:00:05", "last run 2026-06-01 21:00:05: ok"});
}

TEST_F(RefreshTest, RunningAfterAFailedRunStaysDown) {
  AddRun(RunAt(Cest(2026, 6, 1, 21, 0, 5), "job-end", GuestResult::kFailed));
  facts_.running = AddRun(RunAt(Cest(2026, 6, 2, 21, 0, 5), ""));
  facts_.scheduler =
      Scheduler({{"state", "started"}, {"upid", UpidAt(Cest(2026, 6, 2, 21, 0, 5))}});
  facts_.scheduler_worker_alive = true;
  const JobStatus status = Judge(Cest(2026, 6, 2, 21, 10));
  EXPECT_STATUS(status, JobState::kRunning, false,
                {"running since 2026-06-02 21:00:05", "last run 2026-06-01 21:00:05: FAILED"});
}

TEST_F(RefreshTest, FirstRunOfANewJobGoingOnIsUp) {
  facts_.observed_change = Cest(2026, 6, 2, 9);  // created this morning
  facts_.running = AddRun(RunAt(Cest(2026, 6, 2, 21, 0, 5), ""));
  const JobStatus status = Judge(Cest(2026, 6, 2, 21, 10));
  EXPECT_STATUS(status, JobState::kRunning, true,
                {"running since 2026-06-02 21:00:05; no earlier run on record"});
}

TEST_F(RefreshTest, RunStartedAfterAMissedDueStartStaysDownWhileItRuns) {
  // 31 May ran; 1 June's 21:00 did not start; someone starts a run by hand
  // the next morning (not through the scheduler, whose file still names 31 May).
  AddRun(RunAt(Cest(2026, 5, 31, 21, 0, 5), "job-end"));
  facts_.scheduler = Scheduler(
      {{"state", "stopped"}, {"msg", "OK"}, {"upid", UpidAt(Cest(2026, 5, 31, 21, 0, 5))}});
  facts_.running = AddRun(RunAt(Cest(2026, 6, 2, 10, 0, 0), ""));
  const JobStatus status = Judge(Cest(2026, 6, 2, 10, 5));
  EXPECT_STATUS(status, JobState::kRunning, false,
                {"running since 2026-06-02 10:00:00",
                 "before it, the run due 2026-06-01 21:00:00 did not start"});
}

TEST_F(RefreshTest, RunThatWaitedForTheLockWithinTheGraceIsNoMissedRun) {
  AddRun(RunAt(Cest(2026, 6, 1, 21, 0, 5), "job-end"));
  facts_.running = AddRun(RunAt(Cest(2026, 6, 2, 21, 29, 59), ""));
  facts_.scheduler =
      Scheduler({{"state", "started"}, {"upid", UpidAt(Cest(2026, 6, 2, 21, 29, 59))}});
  JobStatus status = Judge(Cest(2026, 6, 2, 21, 40));
  EXPECT_STATUS(status, JobState::kRunning, true,
                {"running since 2026-06-02 21:29:59", "last run 2026-06-01 21:00:05: ok"});

  // Started the moment the grace ran out: the due start was missed.
  runs_.back() = RunAt(Cest(2026, 6, 2, 21, 30, 0), "");
  facts_.scheduler =
      Scheduler({{"state", "started"}, {"upid", UpidAt(Cest(2026, 6, 2, 21, 30, 0))}});
  status = Judge(Cest(2026, 6, 2, 21, 40));
  EXPECT_STATUS(status, JobState::kRunning, false,
                {"running since 2026-06-02 21:30:00",
                 "before it, the run due 2026-06-02 21:00:00 did not start"});
}

TEST_F(RefreshTest, RunTheSchedulerStartedBeforeTheHookSawItIsRunning) {
  AddRun(RunAt(Cest(2026, 6, 1, 21, 0, 5), "job-end"));
  facts_.scheduler =
      Scheduler({{"state", "started"}, {"upid", UpidAt(Cest(2026, 6, 2, 21, 0, 5))}});
  facts_.scheduler_worker_alive = true;
  const JobStatus status = Judge(Cest(2026, 6, 2, 21, 1));
  EXPECT_STATUS(status, JobState::kRunning, true,
                {"running since 2026-06-02 21:00:05 (started by the scheduler)",
                 "last run 2026-06-01 21:00:05: ok"});
}

TEST_F(RefreshTest, AWorkerFinishingItsTaskLogAfterJobEndIsNoRunGoingOn) {
  AddRun(RunAt(Cest(2026, 6, 2, 21, 0, 5), "job-end"));
  // The hook judged the run; its worker still writes "TASK OK" and the
  // scheduler has not noted the end yet.
  facts_.scheduler =
      Scheduler({{"state", "started"}, {"upid", UpidAt(Cest(2026, 6, 2, 21, 0, 5))}});
  facts_.scheduler_worker_alive = true;
  const JobStatus status = Judge(Cest(2026, 6, 2, 21, 13));
  EXPECT_STATUS(status, JobState::kOk, true, {"last run 2026-06-02 21:00:05: "});
}

TEST_F(RefreshTest, WorkerGoneWithoutJobEndIsVanished) {
  AddRun(RunAt(Cest(2026, 5, 31, 21, 0, 5), "job-end"));
  AddRun(RunAt(Cest(2026, 6, 1, 21, 0, 5), ""));
  // pvescheduler saw the worker end and noted its task status.
  facts_.scheduler = Scheduler({{"state", "stopped"},
                                {"msg", "unexpected status"},
                                {"upid", UpidAt(Cest(2026, 6, 1, 21, 0, 5))}});
  const JobStatus status = Judge(Cest(2026, 6, 2, 12));
  EXPECT_STATUS(
      status, JobState::kVanished, false,
      {"the run started 2026-06-01 21:00:05 never ended", "gone without job-end or job-abort",
       "task " + UpidAt(Cest(2026, 6, 1, 21, 0, 5))});
  EXPECT_EQ(status.last_start, Cest(2026, 6, 1, 21, 0, 5));
}

TEST_F(RefreshTest, MissedDailyRunIsDownNamingTheDueTime) {
  AddRun(RunAt(Cest(2026, 5, 31, 21, 0, 5), "job-end"));
  facts_.scheduler = Scheduler({{"state", "stopped"},
                                {"msg", "OK"},
                                {"upid", UpidAt(Cest(2026, 5, 31, 21, 0, 5))},
                                {"config", Config21()}});
  const JobStatus status = Judge(Cest(2026, 6, 2, 12));
  EXPECT_STATUS(status, JobState::kMissed, false,
                {"run due 2026-06-01 21:00:00 did not start (last run 2026-05-31 21:00:05: ok)"});
  EXPECT_EQ(status.due, Cest(2026, 6, 1, 21));
  EXPECT_EQ(status.last_start, Cest(2026, 5, 31, 21, 0, 5));
}

TEST_F(RefreshTest, MissedRunNamesAFailedLastRun) {
  AddRun(RunAt(Cest(2026, 5, 31, 21, 0, 5), "job-end", GuestResult::kFailed));
  const JobStatus status = Judge(Cest(2026, 6, 2, 12));
  EXPECT_STATUS(status, JobState::kMissed, false,
                {"run due 2026-06-01 21:00:00 did not start (last run 2026-05-31 21:00:05: "
                 "FAILED)"});
}

TEST_F(RefreshTest, JobThatNeverRanIsMissedOnceItsFirstRunIsDue) {
  facts_.observed_change = Cest(2026, 6, 1, 9);
  facts_.scheduler = Scheduler({{"state", "created"}, {"time", Cest(2026, 6, 1, 8, 59)}});
  const JobStatus status = Judge(Cest(2026, 6, 2, 12));
  EXPECT_STATUS(status, JobState::kMissed, false,
                {"run due 2026-06-01 21:00:00 did not start (no run on record)"});
  EXPECT_EQ(status.due, Cest(2026, 6, 1, 21));
}

TEST_F(RefreshTest, JustInsideTheGraceIsNotMissed) {
  AddRun(RunAt(Cest(2026, 6, 1, 21, 0, 5), "job-end"));
  JobStatus status = Judge(Cest(2026, 6, 2, 21, 29, 59));
  EXPECT_STATUS(status, JobState::kOk, true, {"last run 2026-06-01 21:00:05: all 2 guests"});

  status = Judge(Cest(2026, 6, 2, 21, 30, 0));
  EXPECT_STATUS(status, JobState::kMissed, false,
                {"run due 2026-06-02 21:00:00 did not start (last run 2026-06-01 21:00:05: ok)"});
  EXPECT_EQ(status.due, Cest(2026, 6, 2, 21));
}

TEST_F(RefreshTest, MissedRunStaysMissedUntilALaterRunEnds) {
  AddRun(RunAt(Cest(2026, 5, 31, 21, 0, 5), "job-end"));
  // Days later, still the first missed start is named.
  JobStatus status = Judge(Cest(2026, 6, 4, 12));
  EXPECT_STATUS(status, JobState::kMissed, false, {"run due 2026-06-01 21:00:00 did not start"});

  // A run by hand on 4 June ends well: nothing is due until that evening.
  AddRun(RunAt(Cest(2026, 6, 4, 12, 30), "job-end"));
  status = Judge(Cest(2026, 6, 4, 13));
  EXPECT_STATUS(
      status, JobState::kOk, true,
      {"last run 2026-06-04 12:30:00: all 2 guests backed up", "; next run 2026-06-04 21:00:00"});
}

TEST_F(RefreshTest, SchedulerRunWithNoGuestHereIsNotHere) {
  AddRun(RunAt(Cest(2026, 5, 31, 21, 0, 5), "job-end"));
  facts_.scheduler = Scheduler({{"state", "stopped"},
                                {"msg", "OK"},
                                {"time", Cest(2026, 6, 1, 21, 0, 1)},
                                {"config", Config21()}});
  const JobStatus status = Judge(Cest(2026, 6, 2, 12));
  EXPECT_STATUS(status, JobState::kNotHere, true,
                {"the scheduler ran it at 2026-06-01 21:00:01 with no guest of the job on this "
                 "node",
                 "; next run 2026-06-02 21:00:00"});
  EXPECT_EQ(status.last_start, Cest(2026, 6, 1, 21, 0, 1));
}

TEST_F(RefreshTest, JobBoundToAnotherNodeIsNotHereAndNeverMissed) {
  job_.node = "pve2";
  AddRun(RunAt(Cest(2026, 5, 10, 21, 0, 5), "job-end"));  // before it was bound to pve2
  const JobStatus status = Judge(Cest(2026, 6, 2, 12));
  EXPECT_STATUS(status, JobState::kNotHere, true,
                {"nothing to back up on this node: the job runs on node pve2 only"});
}

TEST_F(RefreshTest, JobBoundToThisNodeIsDueHere) {
  job_.node = kNode;
  AddRun(RunAt(Cest(2026, 5, 31, 21, 0, 5), "job-end"));
  const JobStatus status = Judge(Cest(2026, 6, 2, 12));
  EXPECT_STATUS(status, JobState::kMissed, false, {"run due 2026-06-01 21:00:00 did not start"});
}

TEST_F(RefreshTest, JobWithNoGuestOnThisNodeIsNotHere) {
  job_.all = false;
  job_.vmids = {100, 101};
  Placement placement;
  placement.runs_here = false;
  placement.guests_elsewhere = {{100, "pve2"}, {101, "pve3"}};
  placement.why = "its guests 100, 101 are on other nodes";
  facts_.placement = placement;
  AddRun(RunAt(Cest(2026, 5, 10, 21, 0, 5), "job-end"));  // before they migrated
  const JobStatus status = Judge(Cest(2026, 6, 2, 12));
  EXPECT_STATUS(status, JobState::kNotHere, true,
                {"nothing to back up on this node: its guests 100, 101 are on other nodes"});
}

TEST_F(RefreshTest, DisabledJobIsDown) {
  job_.enabled = false;
  AddRun(RunAt(Cest(2026, 5, 10, 21, 0, 5), "job-end"));
  const JobStatus status = Judge(Cest(2026, 6, 2, 12));
  EXPECT_STATUS(status, JobState::kDisabled, false, {"disabled: no backups are made"});
}

TEST_F(RefreshTest, JobNoLongerInPveIsGone) {
  facts_.job = nullptr;
  facts_.observed_change.reset();
  AddRun(RunAt(Cest(2026, 6, 1, 21, 0, 5), "job-end"));
  const JobStatus status = Judge(Cest(2026, 6, 2, 12));
  EXPECT_STATUS(status, JobState::kGone, false,
                {"no such job any more: backup job backup-8d6f3a2c-1b4e has a monitor here"});
}

TEST_F(RefreshTest, SchedulerRunTheHookNeverSawIsWithoutHook) {
  AddRun(RunAt(Cest(2026, 5, 31, 21, 0, 5), "job-end"));
  facts_.scheduler = Scheduler({{"state", "stopped"},
                                {"msg", "OK"},
                                {"upid", UpidAt(Cest(2026, 6, 1, 21, 0, 5), 0xB00C)},
                                {"config", Config21()}});
  facts_.scheduler_worker_alive = false;
  const JobStatus status = Judge(Cest(2026, 6, 2, 12));
  EXPECT_STATUS(status, JobState::kWithoutHook, false,
                {"ran without the hook: the scheduler started a run at 2026-06-01 21:00:05 that "
                 "pbk-agent's hook never saw"});
  EXPECT_EQ(status.last_start, Cest(2026, 6, 1, 21, 0, 5));
}

TEST_F(RefreshTest, SchedulerRunTheHookSawIsNoRunWithoutHook) {
  // The scheduler's UPID is the one the hook recorded: the record decides.
  AddRun(RunAt(Cest(2026, 6, 1, 21, 0, 5), "job-end"));
  facts_.scheduler = Scheduler(
      {{"state", "stopped"}, {"msg", "OK"}, {"upid", UpidAt(Cest(2026, 6, 1, 21, 0, 5))}});
  const JobStatus status = Judge(Cest(2026, 6, 2, 12));
  EXPECT_STATUS(status, JobState::kOk, true, {"last run 2026-06-01 21:00:05"});
}

TEST_F(RefreshTest, SchedulerCouldNotStartItIsNotStarted) {
  AddRun(RunAt(Cest(2026, 5, 31, 21, 0, 5), "job-end"));
  facts_.scheduler = Scheduler({{"state", "stopped"},
                                {"msg", "unable to activate storage 'pbs1'"},
                                {"time", Cest(2026, 6, 1, 21, 0, 1)}});
  const JobStatus status = Judge(Cest(2026, 6, 2, 12));
  EXPECT_STATUS(status, JobState::kNotStarted, false,
                {"the scheduler could not start it at 2026-06-01 21:00:01: unable to activate "
                 "storage 'pbs1'"});
}

TEST_F(RefreshTest, NeverRanAndNothingDueIsNoRunYet) {
  facts_.observed_change = Cest(2026, 6, 2, 9, 5);
  facts_.scheduler = Scheduler({{"state", "created"}, {"time", Cest(2026, 6, 2, 9)}});
  const JobStatus status = Judge(Cest(2026, 6, 2, 12));
  EXPECT_STATUS(status, JobState::kNoRunYet, true,
                {"no run on record yet; next run 2026-06-02 21:00:00"});
  EXPECT_EQ(status.next_run, Cest(2026, 6, 2, 21));
}

TEST_F(RefreshTest, UnreadableScheduleIsUnknown) {
  job_.schedule = "mon..xyz 21:00";
  AddRun(RunAt(Cest(2026, 6, 1, 21, 0, 5), "job-end"));
  const JobStatus status = Judge(Cest(2026, 6, 2, 12));
  EXPECT_STATUS(status, JobState::kUnknown, false,
                {"cannot tell when the job is due: invalid schedule \"mon..xyz 21:00\": unknown "
                 "weekday \"xyz\""});
}

// --- when a run is due ------------------------------------------------------

// 29 March 2026: Europe/Berlin jumps from 02:00 CET to 03:00 CEST, so 02:30
// does not exist that night. pvescheduler finds no 02:30 that day and runs
// the job 47 hours after the one before.
TEST_F(RefreshTest, SpringForwardNightHasNoRunForADailyJobInTheSkippedHour) {
  job_.schedule = "02:30";
  facts_.observed_change = Utc(2026, 3, 1);
  AddRun(RunAt(Utc(2026, 3, 28, 1, 30, 5), "job-end"));  // Sat 02:30:05 CET

  // Sun 03:30 CEST, an hour after the 02:30 that never came: not missed.
  JobStatus status = Judge(Utc(2026, 3, 29, 1, 30));
  EXPECT_STATUS(status, JobState::kOk, true,
                {"last run 2026-03-28 02:30:05", "; next run 2026-03-30 02:30:00"});
  EXPECT_EQ(status.next_run, Utc(2026, 3, 30, 0, 30));
  status = Judge(Utc(2026, 3, 29, 20));
  EXPECT_STATUS(status, JobState::kOk, true, {"; next run 2026-03-30 02:30:00"});

  // Mon 03:00 CEST, the grace after Monday's 02:30 gone: that one is missed.
  status = Judge(Utc(2026, 3, 30, 1, 0));
  EXPECT_STATUS(status, JobState::kMissed, false,
                {"run due 2026-03-30 02:30:00 did not start (last run 2026-03-28 02:30:05: ok)"});
  EXPECT_EQ(status.due, Utc(2026, 3, 30, 0, 30));
}

// 25 October 2026: 03:00 CEST falls back to 02:00 CET, so 02:30 comes twice.
// The job is due once, at the first 02:30 (CEST).
TEST_F(RefreshTest, FallBackNightRunsADailyJobOnceAtTheFirstOfTheTwoTimes) {
  job_.schedule = "02:30";
  facts_.observed_change = Utc(2026, 10, 1);
  AddRun(RunAt(Utc(2026, 10, 24, 0, 30, 5), "job-end"));  // Sat 02:30:05 CEST

  // Half an hour after the first 02:30 (now 02:00 CET): missed.
  JobStatus status = Judge(Utc(2026, 10, 25, 1, 0));
  EXPECT_STATUS(status, JobState::kMissed, false, {"run due 2026-10-25 02:30:00 did not start"});
  EXPECT_EQ(status.due, Utc(2026, 10, 25, 0, 30));

  // It ran at the first 02:30; the second 02:30 (CET) and its grace pass
  // without another run due.
  AddRun(RunAt(Utc(2026, 10, 25, 0, 30, 5), "job-end"));
  status = Judge(Utc(2026, 10, 25, 2, 0));
  EXPECT_STATUS(status, JobState::kOk, true,
                {"last run 2026-10-25 02:30:05", "; next run 2026-10-26 02:30:00"});
  EXPECT_EQ(status.next_run, Utc(2026, 10, 26, 1, 30));
}

// A legacy vzdump.cron job runs by cron's rule: a skipped 02:30 runs right
// after the jump, at 03:00 CEST.
TEST_F(RefreshTest, LegacyJobRunsRightAfterTheSkippedHour) {
  job_.id = "5e1f9d0c7a3b2e4d6f8a0b1c2d3e4f5a6b7c8d9e:1";
  job_.type.clear();
  job_.schedule = "02:30";
  ASSERT_TRUE(job_.IsLegacy());
  facts_.job_id = job_.id;
  facts_.observed_change = Utc(2026, 3, 1);
  AddRun(RunAt(Utc(2026, 3, 28, 1, 30, 5), "job-end"));

  JobStatus status = Judge(Utc(2026, 3, 29, 1, 29, 59));
  EXPECT_STATUS(status, JobState::kOk, true, {"last run 2026-03-28 02:30:05"});
  status = Judge(Utc(2026, 3, 29, 1, 30));
  EXPECT_STATUS(status, JobState::kMissed, false, {"run due 2026-03-29 03:00:00 did not start"});
  EXPECT_EQ(status.due, Utc(2026, 3, 29, 1, 0));
}

// Disabled from 29 May to 2 June 09:00: no run was due while it was off,
// and the first due start after re-enabling is that evening's.
TEST_F(RefreshTest, ReEnabledJobIsNotMissedForTheDaysItWasDisabled) {
  AddRun(RunAt(Cest(2026, 5, 28, 21, 0, 5), "job-end"));
  RefreshMemory memory;
  memory.jobs[kJobId] = ObservedJob{"21:00", false, Cest(2026, 5, 29, 8)};
  EXPECT_TRUE(ObserveJobs({job_}, Cest(2026, 6, 2, 9), &memory));
  facts_.observed_change = memory.jobs.at(kJobId).since;
  EXPECT_EQ(facts_.observed_change, Cest(2026, 6, 2, 9));

  JobStatus status = Judge(Cest(2026, 6, 2, 12));
  EXPECT_STATUS(status, JobState::kOk, true,
                {"last run 2026-05-28 21:00:05", "; next run 2026-06-02 21:00:00"});
  EXPECT_EQ(status.last_start, Cest(2026, 6, 2, 9));

  status = Judge(Cest(2026, 6, 2, 21, 30));
  EXPECT_STATUS(status, JobState::kMissed, false, {"run due 2026-06-02 21:00:00 did not start"});

  // Without the observed change the days it was off would count as missed.
  facts_.observed_change = Cest(2026, 5, 1, 9);
  status = Judge(Cest(2026, 6, 2, 12));
  EXPECT_STATUS(status, JobState::kMissed, false, {"run due 2026-05-29 21:00:00 did not start"});
}

// Moved from 21:00 to 03:00 on 2 June at 09:00: pvescheduler counts from the
// change, so the first 03:00 due is 3 June's, not 2 June's.
TEST_F(RefreshTest, ScheduleChangeObservedLaterMovesTheBase) {
  job_.schedule = "03:00";
  AddRun(RunAt(Cest(2026, 6, 1, 21, 0, 5), "job-end"));
  RefreshMemory memory;
  memory.jobs[kJobId] = ObservedJob{"21:00", true, Cest(2026, 5, 1, 9)};
  EXPECT_TRUE(ObserveJobs({job_}, Cest(2026, 6, 2, 9), &memory));
  facts_.observed_change = memory.jobs.at(kJobId).since;

  JobStatus status = Judge(Cest(2026, 6, 2, 12));
  EXPECT_STATUS(status, JobState::kOk, true, {"; next run 2026-06-03 03:00:00"});
  status = Judge(Cest(2026, 6, 3, 3, 30));
  EXPECT_STATUS(status, JobState::kMissed, false, {"run due 2026-06-03 03:00:00 did not start"});
}

// The node was off from 1 June 20:00 to 2 June 08:00, over the 21:00 start.
// Without repeat-missed pvescheduler writes `updated` when it starts again
// and skips the run; the monitor must still call it missed.
TEST_F(RefreshTest, RunMissedWhileTheNodeWasDownStaysMissedDespiteUpdated) {
  AddRun(RunAt(Cest(2026, 5, 31, 21, 0, 5), "job-end"));
  SchedulerState state;
  std::string err;
  ASSERT_TRUE(ParseSchedulerState(R"({"state":"stopped","msg":"OK","upid":")" +
                                      UpidAt(Cest(2026, 5, 31, 21, 0, 5)) + R"(","updated":)" +
                                      std::to_string(Cest(2026, 6, 2, 8, 0, 31)) +
                                      R"(,"config":{"schedule":"21:00","enabled":1}})",
                                  &state, &err))
      << err;
  EXPECT_EQ(state.LastStart(), Cest(2026, 5, 31, 21, 0, 5));
  facts_.scheduler = state;

  const JobStatus status = Judge(Cest(2026, 6, 2, 9));
  EXPECT_STATUS(status, JobState::kMissed, false,
                {"run due 2026-06-01 21:00:00 did not start (last run 2026-05-31 21:00:05: ok)"});
  EXPECT_EQ(status.due, Cest(2026, 6, 1, 21));
}

// No run record (the hook was not in place, or its records were pruned):
// the scheduler's state file tells when the job last ran.
TEST_F(RefreshTest, SchedulerStateFileAloneGivesTheLastRunFromTheUpid) {
  facts_.scheduler = Scheduler({{"state", "stopped"},
                                {"msg", "OK"},
                                {"upid", UpidAt(Cest(2026, 5, 31, 21, 0, 5))},
                                {"updated", Cest(2026, 6, 2, 8)},
                                {"config", Config21()}});
  JobStatus status = Judge(Cest(2026, 6, 2, 12));
  EXPECT_STATUS(status, JobState::kMissed, false,
                {"run due 2026-06-01 21:00:00 did not start (last run 2026-05-31 21:00:05 (by "
                 "the scheduler's record))"});
  EXPECT_EQ(status.last_start, Cest(2026, 5, 31, 21, 0, 5));

  // A day later in the file: nothing due, and that run went without the hook.
  facts_.scheduler = Scheduler(
      {{"state", "stopped"}, {"msg", "OK"}, {"upid", UpidAt(Cest(2026, 6, 1, 21, 0, 5))}});
  status = Judge(Cest(2026, 6, 2, 12));
  EXPECT_STATUS(status, JobState::kWithoutHook, false,
                {"the scheduler started a run at 2026-06-01 21:00:05"});
  EXPECT_EQ(status.last_start, Cest(2026, 6, 1, 21, 0, 5));
}

TEST_F(RefreshTest, SchedulerStateFileAloneGivesTheLastRunFromItsTime) {
  facts_.scheduler =
      Scheduler({{"state", "stopped"}, {"msg", "OK"}, {"time", Cest(2026, 5, 31, 21, 0, 1)}});
  JobStatus status = Judge(Cest(2026, 6, 2, 12));
  EXPECT_STATUS(status, JobState::kMissed, false,
                {"run due 2026-06-01 21:00:00 did not start (last run 2026-05-31 21:00:01 (by "
                 "the scheduler's record))"});

  facts_.scheduler =
      Scheduler({{"state", "stopped"}, {"msg", "OK"}, {"time", Cest(2026, 6, 1, 21, 0, 1)}});
  status = Judge(Cest(2026, 6, 2, 12));
  EXPECT_STATUS(status, JobState::kNotHere, true, {"the scheduler ran it at 2026-06-01 21:00:01"});
  EXPECT_EQ(status.last_start, Cest(2026, 6, 1, 21, 0, 1));
}

// pbk-agent sees the job for the first time now: that sighting is the base,
// so a start due before it is not called missed.
TEST_F(RefreshTest, JobFirstSeenNowCountsFromThatSighting) {
  RefreshMemory memory;
  EXPECT_TRUE(ObserveJobs({job_}, Cest(2026, 6, 2, 12), &memory));
  facts_.observed_change = memory.jobs.at(kJobId).since;
  facts_.scheduler = Scheduler(
      {{"state", "stopped"}, {"msg", "OK"}, {"upid", UpidAt(Cest(2026, 5, 31, 21, 0, 5))}});
  JobStatus status = Judge(Cest(2026, 6, 2, 12));
  EXPECT_STATUS(status, JobState::kWithoutHook, false,
                {"the scheduler started a run at 2026-05-31 21:00:05"});
  EXPECT_EQ(status.last_start, Cest(2026, 6, 2, 12));

  status = Judge(Cest(2026, 6, 2, 21, 30));
  EXPECT_STATUS(status, JobState::kMissed, false,
                {"run due 2026-06-02 21:00:00 did not start (last run 2026-05-31 21:00:05 (by "
                 "the scheduler's record))"});
}

TEST_F(RefreshTest, WeekdayJobIsNotDueOverTheWeekend) {
  job_.schedule = "mon..fri 21:00";
  AddRun(RunAt(Cest(2026, 6, 5, 21, 0, 5), "job-end"));  // Friday
  JobStatus status = Judge(Cest(2026, 6, 7, 22));        // Sunday night
  EXPECT_STATUS(status, JobState::kOk, true,
                {"last run 2026-06-05 21:00:05", "; next run 2026-06-08 21:00:00"});
  status = Judge(Cest(2026, 6, 8, 21, 30));  // Monday
  EXPECT_STATUS(status, JobState::kMissed, false,
                {"run due 2026-06-08 21:00:00 did not start (last run 2026-06-05 21:00:05: ok)"});
}

TEST_F(RefreshTest, WeeklyJobIsMissedAWeekAfterItsLastRun) {
  job_.schedule = "sun 01:00";
  AddRun(RunAt(Cest(2026, 6, 7, 1, 0, 5), "job-end"));  // Sunday
  JobStatus status = Judge(Cest(2026, 6, 13, 12));      // Saturday
  EXPECT_STATUS(status, JobState::kOk, true,
                {"last run 2026-06-07 01:00:05", "; next run 2026-06-14 01:00:00"});
  status = Judge(Cest(2026, 6, 14, 1, 29, 59));
  EXPECT_STATUS(status, JobState::kOk, true, {"last run 2026-06-07 01:00:05"});
  status = Judge(Cest(2026, 6, 14, 1, 30));
  EXPECT_STATUS(status, JobState::kMissed, false, {"run due 2026-06-14 01:00:00 did not start"});
  EXPECT_EQ(status.due, Cest(2026, 6, 14, 1));
}

TEST_F(RefreshTest, MonthlyJobIsMissedOnTheFirstAfterTheGrace) {
  job_.schedule = "*-01 00:00";
  AddRun(RunAt(Cest(2026, 5, 1, 0, 0, 5), "job-end"));
  JobStatus status = Judge(Cest(2026, 5, 31, 23, 59));
  EXPECT_STATUS(status, JobState::kOk, true,
                {"last run 2026-05-01 00:00:05", "; next run 2026-06-01 00:00:00"});
  status = Judge(Cest(2026, 6, 1, 0, 29, 59));
  EXPECT_STATUS(status, JobState::kOk, true, {"last run 2026-05-01 00:00:05"});
  status = Judge(Cest(2026, 6, 1, 0, 30));
  EXPECT_STATUS(status, JobState::kMissed, false,
                {"run due 2026-06-01 00:00:00 did not start (last run 2026-05-01 00:00:05: ok)"});
  EXPECT_EQ(status.due, Cest(2026, 6, 1, 0));
}

// --- the scheduler's state file -------------------------------------------

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

// --- what refresh remembers -------------------------------------------------

BackupJob Job(const std::string& id, const std::string& schedule, bool enabled = true) {
  BackupJob job;
  job.id = id;
  job.type = "vzdump";
  job.schedule = schedule;
  job.enabled = enabled;
  return job;
}

TEST(RefreshMemoryTest, NewJobIsNotedAtNow) {
  RefreshMemory memory;
  EXPECT_TRUE(
      ObserveJobs({Job("backup-1", "21:00"), Job("backup-2", "sat 01:00", false)}, 1000, &memory));
  ASSERT_EQ(memory.jobs.size(), 2u);
  EXPECT_EQ(memory.jobs.at("backup-1").schedule, "21:00");
  EXPECT_TRUE(memory.jobs.at("backup-1").enabled);
  EXPECT_EQ(memory.jobs.at("backup-1").since, 1000);
  EXPECT_EQ(memory.jobs.at("backup-2").schedule, "sat 01:00");
  EXPECT_FALSE(memory.jobs.at("backup-2").enabled);
  EXPECT_EQ(memory.jobs.at("backup-2").since, 1000);
}

TEST(RefreshMemoryTest, UnchangedJobKeepsItsTime) {
  RefreshMemory memory;
  ObserveJobs({Job("backup-1", "21:00")}, 1000, &memory);
  EXPECT_FALSE(ObserveJobs({Job("backup-1", "21:00")}, 2000, &memory));
  EXPECT_EQ(memory.jobs.at("backup-1").since, 1000);
}

TEST(RefreshMemoryTest, ScheduleOrEnabledChangeResetsToNow) {
  RefreshMemory memory;
  ObserveJobs({Job("backup-1", "21:00"), Job("backup-2", "21:00")}, 1000, &memory);
  EXPECT_TRUE(ObserveJobs({Job("backup-1", "22:00"), Job("backup-2", "21:00")}, 2000, &memory));
  EXPECT_EQ(memory.jobs.at("backup-1").schedule, "22:00");
  EXPECT_EQ(memory.jobs.at("backup-1").since, 2000);
  EXPECT_EQ(memory.jobs.at("backup-2").since, 1000);

  EXPECT_TRUE(
      ObserveJobs({Job("backup-1", "22:00"), Job("backup-2", "21:00", false)}, 3000, &memory));
  EXPECT_EQ(memory.jobs.at("backup-1").since, 2000);
  EXPECT_FALSE(memory.jobs.at("backup-2").enabled);
  EXPECT_EQ(memory.jobs.at("backup-2").since, 3000);

  EXPECT_TRUE(
      ObserveJobs({Job("backup-1", "22:00"), Job("backup-2", "21:00", true)}, 4000, &memory));
  EXPECT_EQ(memory.jobs.at("backup-2").since, 4000);
}

TEST(RefreshMemoryTest, RemovedJobIsForgotten) {
  RefreshMemory memory;
  ObserveJobs({Job("backup-1", "21:00"), Job("backup-2", "21:00")}, 1000, &memory);
  EXPECT_TRUE(ObserveJobs({Job("backup-2", "21:00")}, 2000, &memory));
  EXPECT_EQ(memory.jobs.count("backup-1"), 0u);
  EXPECT_EQ(memory.jobs.at("backup-2").since, 1000);
  // Back again later, it is a new job.
  EXPECT_TRUE(ObserveJobs({Job("backup-1", "21:00"), Job("backup-2", "21:00")}, 3000, &memory));
  EXPECT_EQ(memory.jobs.at("backup-1").since, 3000);
}

TEST(RefreshMemoryTest, SavesAndLoadsWhatItSaw) {
  TestDir dir;
  const std::string path = dir.Path(kRefreshMemoryFile);
  RefreshMemory memory;
  memory.jobs["backup-1"] = ObservedJob{"mon..fri 21:00", true, 1780000000};
  memory.jobs["5e1f9d0c7a3b2e4d6f8a0b1c2d3e4f5a6b7c8d9e:1"] = ObservedJob{"sat 01:00", false, 7};
  std::string err;
  ASSERT_TRUE(SaveRefreshMemory(path, memory, &err)) << err;

  RefreshMemory loaded;
  loaded.jobs["stale"] = ObservedJob{};
  ASSERT_TRUE(LoadRefreshMemory(path, &loaded, &err)) << err;
  ASSERT_EQ(loaded.jobs.size(), 2u);
  for (const auto& [id, observed] : memory.jobs) {
    ASSERT_EQ(loaded.jobs.count(id), 1u) << id;
    EXPECT_EQ(loaded.jobs.at(id).schedule, observed.schedule) << id;
    EXPECT_EQ(loaded.jobs.at(id).enabled, observed.enabled) << id;
    EXPECT_EQ(loaded.jobs.at(id).since, observed.since) << id;
  }
  // Loading it back and observing the same jobs changes nothing.
  EXPECT_FALSE(ObserveJobs({Job("backup-1", "mon..fri 21:00"),
                            Job("5e1f9d0c7a3b2e4d6f8a0b1c2d3e4f5a6b7c8d9e:1", "sat 01:00", false)},
                           1790000000, &loaded));
}

TEST(RefreshMemoryTest, MissingFileIsAnEmptyMemory) {
  TestDir dir;
  RefreshMemory memory;
  memory.jobs["stale"] = ObservedJob{};
  std::string err;
  ASSERT_TRUE(LoadRefreshMemory(dir.Path(kRefreshMemoryFile), &memory, &err)) << err;
  EXPECT_TRUE(memory.jobs.empty());
}

TEST(RefreshMemoryTest, CorruptFileIsAnError) {
  TestDir dir;
  for (const char* text : {"{\"jobs\": {\"backup-1\": {\"since\": 5", "[]", "{\"jobs\": []}"}) {
    const std::string path = dir.Write(kRefreshMemoryFile, text);
    RefreshMemory memory;
    memory.jobs["stale"] = ObservedJob{};
    std::string err;
    EXPECT_FALSE(LoadRefreshMemory(path, &memory, &err)) << text;
    EXPECT_EQ(err, path + ": not what pbk-agent writes (no \"jobs\" object); it is rebuilt")
        << text;
    EXPECT_TRUE(memory.jobs.empty()) << text;
  }
}

}  // namespace
}  // namespace pbk
