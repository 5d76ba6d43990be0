// End-to-end tests against a real Uptime Kuma (see kuma_e2e_test.cpp):
// refresh, a missed run, late results then the current state.
#include <gtest/gtest.h>

#include "tests/e2e/kuma_e2e_fixture.h"

namespace pbk::testing::kuma_e2e {
namespace {

// --- refresh, a missed run, late results then the current state --------------------

// Kuma's missed-heartbeat checker restarts with Kuma (reference/uptime-kuma.md,
// "The missed-heartbeat timer does not survive a Kuma restart"): at start-up
// it checks a push monitor a full interval after the START, not after the
// last push. Scaled time: the short monitor's 20 s stand for refresh's
// 15 minutes, the long one's 90 s for a per-job interval of 26 h (a daily
// job's monitor pushed only at the run's end). A restart of Kuma takes 5 to
// 25 s here, so each falls in the middle of the long interval.
//
// Timeline (t = 0 at refresh's push to both monitors):
//   restart 1 at once: the short monitor goes DOWN one interval after Kuma is
//     back (the start is later than the push);
//   restart 2 right after that DOWN, then a push to the short monitor alone:
//     DOWN one interval after the push (the push is later than the start);
//   the long monitor, pushed at t = 0 only: no DOWN although it is silent
//     beyond its interval (+ tolerance), until one interval after restart 2.
// About 2 to 2.5 minutes. The measured delays are printed as figures.
TEST_F(KumaE2eTest, KumaRestartDelaysTheMissedHeartbeatAlarmByAFullInterval) {
  ASSERT_NO_FATAL_FAILURE(UseMonitors({"restart-short", "restart-long"}));
  const Monitor short_monitor = monitors_[0];
  const Monitor long_monitor = monitors_[1];
  ASSERT_EQ(short_monitor.interval, kShortIntervalSeconds);
  ASSERT_EQ(long_monitor.interval, kLongIntervalSeconds);
  ASSERT_NO_FATAL_FAILURE(WriteConfig("config-short.json", {short_monitor}));
  KumaServer& kuma = *server_;
  ASSERT_NO_FATAL_FAILURE(EnsureRunning(kuma));
  const int64_t short_ms = int64_t{kShortIntervalSeconds} * 1000;
  const int64_t long_ms = int64_t{kLongIntervalSeconds} * 1000;
  // Kuma checks a push monitor at interval + 1 s after the last push (or at
  // interval after its start); it starts the monitors of a server one after
  // another, 0.3 to 1 s apart, as it starts listening; our probe polls every
  // 0.25 s. 5 s covers all of it with room for a busy machine.
  constexpr int64_t kTolerance = 5000;

  // t = 0: refresh pushes both jobs' current state (up, no run yet).
  RunResult refresh = Agent({"refresh"});
  ASSERT_EQ(refresh.exit_code, 0) << refresh.out << refresh.err;
  const json short_push = LastHeartbeat(kuma, short_monitor);
  const json long_push = LastHeartbeat(kuma, long_monitor);
  ASSERT_TRUE(short_push.is_object() && long_push.is_object()) << refresh.err;
  for (const json* push : {&short_push, &long_push}) {
    EXPECT_EQ(At(*push, "status"), 1) << push->dump();
    EXPECT_TRUE(StartsWith(Str(*push, "msg"), "pve1: no run on record yet")) << push->dump();
  }
  const int64_t short_pushed = ParseKumaTime(Str(short_push, "time"));
  const int64_t long_pushed = ParseKumaTime(Str(long_push, "time"));

  // Restart 1, at once.
  KumaRestart first;
  ASSERT_NO_FATAL_FAILURE(RestartKuma(kuma, &first));
  // Without the restart the long monitor would have been checked at
  // long_pushed + interval + 1 s; Kuma must have gone before that.
  ASSERT_LT(first.term_ms, long_pushed + long_ms) << "inconclusive: Kuma stopped too late";

  const json down1 =
      AwaitDown(kuma, short_monitor, At(short_push, "id").get<int64_t>(),
                std::max(short_pushed, first.ready_ms) + short_ms + kTolerance + 10000);
  ASSERT_TRUE(down1.is_object()) << "the short monitor never went DOWN after restart 1; "
                                 << json(g_env->Heartbeats(kuma, short_monitor, 0)).dump(1);
  EXPECT_EQ(Str(down1, "msg"), "No heartbeat in the time window") << down1.dump();
  const int64_t down1_at = ParseKumaTime(Str(down1, "time"));
  EXPECT_GE(down1_at, short_pushed + short_ms) << down1.dump();
  EXPECT_GE(down1_at, first.launch_ms + short_ms) << down1.dump();
  EXPECT_LE(down1_at, std::max(short_pushed, first.ready_ms) + short_ms + kTolerance)
      << down1.dump();

  // Restart 2, right after that DOWN; then refresh pushes the short monitor
  // alone, a little after Kuma is back.
  KumaRestart second;
  ASSERT_NO_FATAL_FAILURE(RestartKuma(kuma, &second));
  std::this_thread::sleep_for(seconds(3));
  RunResult refresh2 = Agent({"refresh"}, dir_.Path("config-short.json"));
  ASSERT_EQ(refresh2.exit_code, 0) << refresh2.out << refresh2.err;
  const json short_push2 = LastHeartbeat(kuma, short_monitor);
  ASSERT_TRUE(short_push2.is_object());
  ASSERT_EQ(At(short_push2, "status"), 1) << short_push2.dump();
  const int64_t short_pushed2 = ParseKumaTime(Str(short_push2, "time"));
  ASSERT_GT(short_pushed2, second.ready_ms - 1000) << short_push2.dump();

  const json down2 =
      AwaitDown(kuma, short_monitor, At(short_push2, "id").get<int64_t>(),
                std::max(short_pushed2, second.ready_ms) + short_ms + kTolerance + 10000);
  ASSERT_TRUE(down2.is_object()) << "the short monitor never went DOWN after its second push; "
                                 << json(g_env->Heartbeats(kuma, short_monitor, 0)).dump(1);
  EXPECT_EQ(Str(down2, "msg"), "No heartbeat in the time window") << down2.dump();
  const int64_t down2_at = ParseKumaTime(Str(down2, "time"));
  EXPECT_GE(down2_at, short_pushed2 + short_ms) << down2.dump();
  EXPECT_GE(down2_at, second.launch_ms + short_ms) << down2.dump();
  EXPECT_LE(down2_at, std::max(short_pushed2, second.ready_ms) + short_ms + kTolerance)
      << down2.dump();

  // The long monitor: silent since t = 0, past its interval + tolerance, and
  // still no DOWN, because Kuma restarted in between.
  const int64_t silent_until = long_pushed + long_ms + 2 * kTolerance;
  ASSERT_LT(silent_until, second.launch_ms + long_ms)
      << "inconclusive: restart 2 came too early to tell";
  while (WallMs() < silent_until) std::this_thread::sleep_for(milliseconds(250));
  std::vector<json> long_beats = g_env->Heartbeats(kuma, long_monitor, 0);
  for (const json& beat : long_beats) {
    if (At(beat, "id").get<int64_t>() > At(long_push, "id").get<int64_t>()) {
      ADD_FAILURE() << "the long monitor had a heartbeat within "
                    << (silent_until - long_pushed) / 1000 << " s of its push: " << beat.dump();
    }
  }
  // ... until one interval after the last start.
  const json long_down = AwaitDown(kuma, long_monitor, At(long_push, "id").get<int64_t>(),
                                   second.ready_ms + long_ms + kTolerance + 10000);
  ASSERT_TRUE(long_down.is_object()) << "the long monitor never went DOWN; "
                                     << json(g_env->Heartbeats(kuma, long_monitor, 0)).dump(1);
  EXPECT_EQ(Str(long_down, "msg"), "No heartbeat in the time window") << long_down.dump();
  const int64_t long_down_at = ParseKumaTime(Str(long_down, "time"));
  EXPECT_GE(long_down_at, second.launch_ms + long_ms) << long_down.dump();
  EXPECT_LE(long_down_at, second.ready_ms + long_ms + kTolerance) << long_down.dump();

  auto s = [](int64_t ms) {
    return std::to_string(ms / 1000) + "." + std::to_string(ms % 1000 / 100) + " s";
  };
  std::cout << "e2e: Kuma restart figures (short interval " << kShortIntervalSeconds
            << " s, long interval " << kLongIntervalSeconds << " s, scaled):\n"
            << "  restart 1: SIGTERM " << s(first.term_ms - short_pushed) << " after the push, "
            << "stopped and started again in " << s(first.ready_ms - first.term_ms) << "\n"
            << "  short, start later than push: push->DOWN " << s(down1_at - short_pushed)
            << ", restart->DOWN " << s(down1_at - first.ready_ms) << " (from the launch "
            << s(down1_at - first.launch_ms) << ")\n"
            << "  restart 2: stopped and started again in " << s(second.ready_ms - second.term_ms)
            << "\n"
            << "  short, push later than start: push->DOWN " << s(down2_at - short_pushed2)
            << ", restart->DOWN " << s(down2_at - second.ready_ms) << "\n"
            << "  long: no DOWN while silent for " << s(silent_until - long_pushed)
            << " (its interval " << kLongIntervalSeconds << " s); DOWN at push+"
            << s(long_down_at - long_pushed) << " = restart 2+" << s(long_down_at - second.ready_ms)
            << std::endl;
}

// A due run that did not start. The job runs daily at 21:00; the scheduler's
// state file says its last run started 2 days ago (and ended OK); pbk-agent
// has known the job, with this schedule, for 3 days (its refresh.json, as an
// earlier refresh left it). So the run due the first 21:00 after that start
// did not happen: refresh pushes down, naming that time.
TEST_F(KumaE2eTest, MissedRunIsOneDownHeartbeatNamingTheDueTime) {
  ASSERT_NO_FATAL_FAILURE(UseMonitor("missed-run"));
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  const int64_t last_start = now - 2 * 86400 - 17;
  WriteSchedulerState(monitor_, last_start);
  std::filesystem::create_directories(state_dir_);
  ASSERT_EQ(chmod(state_dir_.c_str(), 0700), 0);
  const json memory = {
      {"format", 1},
      {"jobs",
       {{monitor_.job_id,
         {{"schedule", kDailyAt}, {"enabled", true}, {"since", now - 3 * 86400}}}}}};
  dir_.Write("state/refresh.json", memory.dump(1) + "\n");
  const int64_t due = NextDailyAt(last_start, 21, 0);
  ASSERT_GT(due, last_start);

  RunResult refresh = Agent({"refresh", "--json"});
  EXPECT_EQ(refresh.exit_code, 1) << refresh.out << refresh.err;
  const json report = json::parse(refresh.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(report.is_object()) << refresh.out << refresh.err;
  ASSERT_EQ(At(report, "monitors").size(), 1u) << report.dump(1);
  const json entry = At(report, "monitors")[0];
  EXPECT_EQ(Str(entry, "state"), "missed") << entry.dump();
  EXPECT_EQ(Str(entry, "status"), "down") << entry.dump();
  EXPECT_EQ(At(entry, "pushed"), true) << entry.dump();

  std::vector<json> beats = Heartbeats();
  ASSERT_EQ(beats.size(), 1u) << json(beats).dump(1);
  EXPECT_EQ(At(beats[0], "status"), 0) << beats[0].dump();
  EXPECT_EQ(Str(beats[0], "msg"), Str(entry, "message"));
  EXPECT_EQ(Str(beats[0], "msg"), "pve1: run due " + LocalTime(due) + " did not start (last run " +
                                      LocalTime(last_start) + " (by the scheduler's record))")
      << beats[0].dump();
  std::cout << "e2e: missed run: " << Str(beats[0], "msg") << std::endl;
}

// The same on a node where pbk-agent has never run refresh before (no
// refresh.json): the scheduler's state file alone shows the run that was
// due and did not start.
TEST_F(KumaE2eTest, MissedRunOnTheFirstRefreshIsOneDownHeartbeatNamingTheDueTime) {
  ASSERT_NO_FATAL_FAILURE(UseMonitor("missed-first"));
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  const int64_t last_start = now - 2 * 86400 - 17;
  WriteSchedulerState(monitor_, last_start);
  const int64_t due = NextDailyAt(last_start, 21, 0);

  RunResult refresh = Agent({"refresh"});
  EXPECT_EQ(refresh.exit_code, 1) << refresh.out << refresh.err;
  std::vector<json> beats = Heartbeats();
  ASSERT_EQ(beats.size(), 1u) << json(beats).dump(1);
  EXPECT_EQ(At(beats[0], "status"), 0) << beats[0].dump();
  EXPECT_EQ(Str(beats[0], "msg"), "pve1: run due " + LocalTime(due) + " did not start (last run " +
                                      LocalTime(last_start) + " (by the scheduler's record))")
      << beats[0].dump();
}

// Two runs while Kuma is down: both results spooled. Kuma back, flush: both
// arrive, oldest first, each marked late, and then the job's current state,
// so the monitor's last heartbeat is the present truth.
TEST_F(KumaE2eTest, TwoResultsSpooledWhileKumaWasDownArriveOldestFirstThenTheCurrentState) {
  ASSERT_NO_FATAL_FAILURE(UseMonitor("late-twice"));
  KumaServer& kuma = *server_;
  ASSERT_NO_FATAL_FAILURE(EnsureRunning(kuma));
  kuma.Stop();
  ASSERT_FALSE(kuma.running());

  SimRun failed = RunSim(TwoGuests(monitor_.job_id, "fail-archive"));
  // A run's start is the UPID's, in whole seconds: the second run starts in
  // a later second, as two runs of one job do on a real node.
  std::this_thread::sleep_for(milliseconds(1100));
  SimRun ok = RunSim(TwoGuests(monitor_.job_id));
  for (const auto& [run, status] : {std::make_pair(&failed, "down"), std::make_pair(&ok, "up")}) {
    EXPECT_EQ(At(run->Call("job-end"), "exit"), 0) << run->Log();
    const std::string line = run->Line("job-end", "ERROR: ");
    EXPECT_TRUE(StartsWith(line, std::string("ERROR: pbk-agent: push of ") + status +
                                     " to Uptime Kuma for job " + monitor_.job_id + " failed: "))
        << run->Log();
    EXPECT_TRUE(Contains(line, "The result is spooled")) << line;
  }
  ASSERT_EQ(SpoolFiles().size(), 2u);

  const std::string failure = g_env->StartAndWait({&kuma});
  ASSERT_EQ(failure, "") << failure;
  EXPECT_EQ(Heartbeats(0).size(), 0u);
  const int64_t flush_start = WallMs();
  RunResult flush = Agent({"flush"});
  EXPECT_EQ(flush.exit_code, 0) << flush.out << flush.err;
  EXPECT_TRUE(Contains(flush.err, "pushed the current state of job " + monitor_.job_id + ": up"))
      << flush.err;
  EXPECT_TRUE(SpoolFiles().empty());

  std::vector<json> beats = Heartbeats(3);
  ASSERT_EQ(beats.size(), 3u) << json(beats).dump(1);
  const std::string late = "delivered late, run ended ";
  // Oldest first: the failed run, then the good one.
  EXPECT_EQ(At(beats[0], "status"), 0) << beats[0].dump();
  EXPECT_TRUE(StartsWith(Str(beats[0], "msg"), late)) << beats[0].dump();
  EXPECT_TRUE(Contains(Str(beats[0], "msg"), "failed: 101 db01")) << beats[0].dump();
  ExpectPingIsTheRunsDuration(beats[0], failed, "job-end", 300);
  EXPECT_EQ(At(beats[1], "status"), 1) << beats[1].dump();
  EXPECT_TRUE(StartsWith(Str(beats[1], "msg"), late)) << beats[1].dump();
  EXPECT_TRUE(Contains(Str(beats[1], "msg"), "all 2 guests backed up")) << beats[1].dump();
  ExpectPingIsTheRunsDuration(beats[1], ok, "job-end", 600);
  // "run ended YYYY-MM-DD HH:MM:SS": the same format, so text order is time order.
  EXPECT_LE(Str(beats[0], "msg").substr(late.size(), 19),
            Str(beats[1], "msg").substr(late.size(), 19));
  // Last: the current state, not a late result, without a duration.
  EXPECT_EQ(At(beats[2], "status"), 1) << beats[2].dump();
  EXPECT_FALSE(Contains(Str(beats[2], "msg"), "delivered late")) << beats[2].dump();
  EXPECT_TRUE(StartsWith(Str(beats[2], "msg"), "pve1: last run ")) << beats[2].dump();
  EXPECT_TRUE(Contains(Str(beats[2], "msg"), "all 2 guests backed up")) << beats[2].dump();
  EXPECT_TRUE(Contains(Str(beats[2], "msg"), "; next run ")) << beats[2].dump();
  EXPECT_TRUE(At(beats[2], "ping").is_null()) << beats[2].dump();
  for (size_t i = 1; i < beats.size(); ++i) {
    EXPECT_GT(At(beats[i], "id").get<int64_t>(), At(beats[i - 1], "id").get<int64_t>());
    EXPECT_GE(ParseKumaTime(Str(beats[i], "time")), ParseKumaTime(Str(beats[i - 1], "time")));
  }
  g_env->RecordLatency("late-twice flush, first late result", flush_start, beats[0]);
  g_env->RecordLatency("late-twice flush, current state", flush_start, beats[2]);

  RunResult again = Agent({"flush"});
  EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(Heartbeats(3).size(), 3u);
}

}  // namespace
}  // namespace pbk::testing::kuma_e2e
