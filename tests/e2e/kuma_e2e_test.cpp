// End-to-end tests: the built pbk-agent, reached only through the generated
// hook wrapper and run by pbk-vzdump-sim exactly as vzdump runs a hook,
// pushing over TLS to a REAL Uptime Kuma (2.0.0-dev.0 from the npm registry,
// installed by tests/e2e/kuma.sh). What is asserted is what Kuma made of each
// push: the rows of its SQLite `heartbeat` table.
//
// A GoogleTest global Environment installs Kuma (kuma.sh, a no-op once the
// cache is complete) and starts six Kuma servers once for all cases, in
// parallel:
//   ip       certificate with IP SAN 127.0.0.1 (the product's IP mode)
//   name     certificate with only DNS SAN kuma.test (server_name "kuma.test")
//   late     IP mode; the cases with Kuma down stop and restart it
//   restart  IP mode; the Kuma-restart case restarts it and times its
//            missed-heartbeat checker (the only monitors with short intervals)
//   login    fresh, no user: `kuma login` (kuma_e2e_login_test.cpp)
//   sync     fresh, no user: `kuma sync` (kuma_e2e_sync_test.cpp)
// Each push case has its own push monitor (and job), so "exactly one new
// heartbeat" is a plain count. Monitors are rows inserted into Kuma's
// `monitor` table while it is stopped: Kuma starts its missed-heartbeat
// checker only for monitors present at boot, so each of the first four is
// started once to create its database, stopped, given its monitors, and
// started again.
//
// The agent reads its job list from files (a jobs.cfg the case writes; no
// PVE API token, pvesh pointed at nothing), as on a node without either.
//
// This file: the hook's pushes, one heartbeat each.
#include <gtest/gtest.h>

#include "tests/e2e/kuma_e2e_fixture.h"

namespace pbk::testing::kuma_e2e {
namespace {

TEST_F(KumaE2eTest, SnapshotJobWithTwoGuestsOkIsOneUpHeartbeat) {
  ASSERT_NO_FATAL_FAILURE(UseMonitor("snapshot-ok"));
  ASSERT_EQ(Heartbeats(0).size(), 0u);
  SimRun run = RunSim(TwoGuests(monitor_.job_id));

  EXPECT_EQ(run.process.exit_code, 0) << run.Log();
  EXPECT_EQ(run.TaskStatus(), "OK") << run.Log();
  EXPECT_EQ(At(run.Call("job-end"), "exit"), 0) << run.Log();
  const std::string msg = PushedMessage(run, "job-end", "up");
  EXPECT_TRUE(Contains(msg, "all 2 guests backed up")) << msg;

  std::vector<json> beats = Heartbeats();
  ASSERT_EQ(beats.size(), 1u) << json(beats).dump(1);
  EXPECT_EQ(At(beats[0], "status"), 1) << beats[0].dump();
  EXPECT_EQ(Str(beats[0], "msg"), msg);
  ExpectPingIsTheRunsDuration(beats[0], run, "job-end", 600);
  EXPECT_TRUE(SpoolFiles().empty());
  g_env->RecordLatency("snapshot-ok job-end", run.CallStartMs("job-end"), beats[0]);
}

TEST_F(KumaE2eTest, JobWithAFailingGuestIsOneDownHeartbeatNamingIt) {
  ASSERT_NO_FATAL_FAILURE(UseMonitor("guest-fails"));
  SimRun run = RunSim(TwoGuests(monitor_.job_id, "fail-archive"));

  EXPECT_EQ(run.TaskStatus(), "job errors") << run.Log();
  EXPECT_EQ(At(run.Call("job-end"), "exit"), 0) << run.Log();
  const std::string msg = PushedMessage(run, "job-end", "down");

  std::vector<json> beats = Heartbeats();
  ASSERT_EQ(beats.size(), 1u) << json(beats).dump(1);
  EXPECT_EQ(At(beats[0], "status"), 0) << beats[0].dump();
  EXPECT_EQ(Str(beats[0], "msg"), msg);
  EXPECT_TRUE(Contains(Str(beats[0], "msg"), "failed: 101 db01")) << beats[0].dump();
  EXPECT_TRUE(Contains(Str(beats[0], "msg"), "ok: 100 web01")) << beats[0].dump();
  ExpectPingIsTheRunsDuration(beats[0], run, "job-end", 300);
  g_env->RecordLatency("guest-fails job-end", run.CallStartMs("job-end"), beats[0]);
}

TEST_F(KumaE2eTest, AbortedJobIsOneDownHeartbeat) {
  ASSERT_NO_FATAL_FAILURE(UseMonitor("job-abort"));
  json scenario = TwoGuests(monitor_.job_id);
  scenario["abort_after_guest"] = 1;
  SimRun run = RunSim(scenario);

  EXPECT_NE(run.TaskStatus(), "OK") << run.Log();
  EXPECT_EQ(run.CallCount("job-end"), 0u) << run.Log();
  ASSERT_EQ(run.CallCount("job-abort"), 1u) << run.Log();
  EXPECT_EQ(At(run.Call("job-abort"), "exit"), 0) << run.Log();
  const std::string msg = PushedMessage(run, "job-abort", "down");

  std::vector<json> beats = Heartbeats();
  ASSERT_EQ(beats.size(), 1u) << json(beats).dump(1);
  EXPECT_EQ(At(beats[0], "status"), 0) << beats[0].dump();
  EXPECT_EQ(Str(beats[0], "msg"), msg);
  EXPECT_TRUE(Contains(Str(beats[0], "msg"), "ABORTED")) << beats[0].dump();
  ExpectPingIsTheRunsDuration(beats[0], run, "job-abort", 300);
  g_env->RecordLatency("job-abort", run.CallStartMs("job-abort"), beats[0]);
}

TEST_F(KumaE2eTest, ThreeConsecutiveRunsAreThreeHeartbeatsInOrder) {
  ASSERT_NO_FATAL_FAILURE(UseMonitor("three-runs"));
  const std::vector<std::pair<json, std::string>> runs = {
      {TwoGuests(monitor_.job_id), "up"},
      {TwoGuests(monitor_.job_id, "fail-archive"), "down"},
      {Scenario({Guest(100, "qemu", "web01", "snapshot", 0.1)}, monitor_.job_id), "up"},
  };
  std::vector<std::string> messages;
  for (size_t i = 0; i < runs.size(); ++i) {
    SimRun run = RunSim(runs[i].first);
    messages.push_back(PushedMessage(run, "job-end", runs[i].second));
    std::vector<json> beats = Heartbeats(i + 1);
    ASSERT_EQ(beats.size(), i + 1) << "after run " << i + 1 << ": " << json(beats).dump(1);
    g_env->RecordLatency("three-runs #" + std::to_string(i + 1) + " job-end",
                         run.CallStartMs("job-end"), beats.back());
  }
  std::vector<json> beats = Heartbeats(runs.size());
  ASSERT_EQ(beats.size(), runs.size()) << json(beats).dump(1);
  for (size_t i = 0; i < runs.size(); ++i) {
    EXPECT_EQ(At(beats[i], "status"), runs[i].second == "up" ? 1 : 0) << beats[i].dump();
    EXPECT_EQ(Str(beats[i], "msg"), messages[i]) << "run " << i + 1;
    if (i > 0) {
      EXPECT_GT(At(beats[i], "id").get<int64_t>(), At(beats[i - 1], "id").get<int64_t>());
      EXPECT_GE(ParseKumaTime(Str(beats[i], "time")), ParseKumaTime(Str(beats[i - 1], "time")));
    }
  }
  // Three runs, three run records: the runs were told apart.
  EXPECT_EQ(FilesIn(state_dir_ + "/runs").size(), runs.size());
}

TEST_F(KumaE2eTest, LongestMessageArrivesWhole) {
  // 61 guests: the hook cuts the guest list to stay within its message
  // budget; Kuma must store exactly what the task log shows.
  ASSERT_NO_FATAL_FAILURE(UseMonitor("many-guests"));
  std::vector<json> guests;
  for (int vmid = 200; vmid < 260; ++vmid) {
    guests.push_back(Guest(
        vmid, "lxc", "container-with-a-rather-long-host-name-" + std::to_string(vmid), "stopped"));
  }
  guests.push_back(Guest(900, "qemu", "the-one-that-failed", "fail-archive"));
  SimRun run = RunSim(Scenario(guests, monitor_.job_id));

  EXPECT_EQ(run.TaskStatus(), "job errors") << run.Log();
  const std::string msg = PushedMessage(run, "job-end", "down");
  EXPECT_TRUE(Contains(msg, "failed: 900 the-one-that-failed")) << msg;
  EXPECT_GT(msg.size(), 1000u) << msg;

  std::vector<json> beats = Heartbeats();
  ASSERT_EQ(beats.size(), 1u) << json(beats).dump(1);
  EXPECT_EQ(At(beats[0], "status"), 0) << beats[0].dump();
  EXPECT_EQ(Str(beats[0], "msg"), msg);
  g_env->RecordLatency("many-guests job-end", run.CallStartMs("job-end"), beats[0]);
}

TEST_F(KumaE2eTest, NameModeAgainstTheNameOnlyCertificateIsOneUpHeartbeat) {
  ASSERT_NO_FATAL_FAILURE(UseMonitor("name-mode"));
  ASSERT_EQ(server_->server_name(), "kuma.test");
  SimRun run = RunSim(TwoGuests(monitor_.job_id));

  EXPECT_EQ(run.TaskStatus(), "OK") << run.Log();
  EXPECT_EQ(At(run.Call("job-end"), "exit"), 0) << run.Log();
  EXPECT_EQ(run.Line("job-end", "ERROR"), "") << run.Log();
  const std::string msg = PushedMessage(run, "job-end", "up");

  std::vector<json> beats = Heartbeats();
  ASSERT_EQ(beats.size(), 1u) << json(beats).dump(1);
  EXPECT_EQ(At(beats[0], "status"), 1) << beats[0].dump();
  EXPECT_EQ(Str(beats[0], "msg"), msg);
  EXPECT_TRUE(SpoolFiles().empty());
  g_env->RecordLatency("name-mode job-end", run.CallStartMs("job-end"), beats[0]);
}

TEST_F(KumaE2eTest, ManualTestThroughTheWrapperWithAnEmptyEnvironmentIsOneUpHeartbeat) {
  ASSERT_NO_FATAL_FAILURE(UseMonitor("manual"));
  const std::map<std::string, std::string> empty;
  const int64_t start = WallMs();
  RunResult ok =
      pbk::testing::Run({wrapper_, "job-end", "ok", monitor_.job_id}, &empty, seconds(30));
  Remember(ok);

  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  const std::string prefix =
      "pushed up to Uptime Kuma for job " + monitor_.job_id + " (manual test): ";
  const size_t at = ok.out.find(prefix);
  ASSERT_NE(at, std::string::npos) << ok.out << ok.err;
  std::string printed = ok.out.substr(at + prefix.size());
  printed = printed.substr(0, printed.find('\n'));

  std::vector<json> beats = Heartbeats();
  ASSERT_EQ(beats.size(), 1u) << json(beats).dump(1);
  EXPECT_EQ(At(beats[0], "status"), 1) << beats[0].dump();
  EXPECT_TRUE(Contains(Str(beats[0], "msg"), "manual test")) << beats[0].dump();
  EXPECT_EQ(Str(beats[0], "msg"), printed);
  EXPECT_TRUE(SpoolFiles().empty());
  g_env->RecordLatency("manual test", start, beats[0]);
}

TEST_F(KumaE2eTest, KumaDownDuringTheRunIsSpooledAndFlushDeliversItOnce) {
  ASSERT_NO_FATAL_FAILURE(UseMonitor("kuma-down"));
  KumaServer& kuma = *server_;
  ASSERT_TRUE(kuma.running());

  // A run long enough for Kuma to shut down (about 4 s) before job-end.
  std::string summary_path;
  std::vector<std::string> argv = SimArgs(Scenario({Guest(100, "qemu", "web01", "snapshot", 4.0),
                                                    Guest(101, "lxc", "db01", "stop", 4.0)},
                                                   monitor_.job_id),
                                          &summary_path);
  BackgroundProcess sim;
  std::string err;
  const int64_t wall_start = WallMs();
  ASSERT_TRUE(sim.Start(argv, nullptr, dir_.Path("sim.stdout"), dir_.Path("sim.stderr"), &err))
      << err;
  const auto deadline = SteadyClock::now() + seconds(20);
  while (FilesIn(state_dir_ + "/runs").empty() && SteadyClock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  ASSERT_FALSE(FilesIn(state_dir_ + "/runs").empty()) << "the run never started";
  kuma.Stop();
  const int64_t kuma_down_at = WallMs();
  ASSERT_FALSE(kuma.running());
  ASSERT_TRUE(sim.Wait(seconds(90)));
  RunResult process;
  process.started = true;
  process.exit_code = sim.exit_code();
  process.out = ReadText(dir_.Path("sim.stdout"));
  process.err = ReadText(dir_.Path("sim.stderr"));
  SimRun run = ReadSummary(process, summary_path, wall_start);
  ASSERT_GT(run.CallStartMs("job-end"), kuma_down_at)
      << "inconclusive: job-end ran before Kuma was down; " << run.Log();
  std::cout << "e2e: Kuma 'late' was down " << run.CallStartMs("job-end") - kuma_down_at
            << " ms before job-end" << std::endl;

  EXPECT_EQ(At(run.Call("job-end"), "exit"), 0) << run.Log();
  EXPECT_EQ(run.TaskStatus(), "OK") << run.Log();
  const std::string line = run.Line("job-end", "ERROR: ");
  EXPECT_TRUE(StartsWith(
      line, "ERROR: pbk-agent: push of up to Uptime Kuma for job " + monitor_.job_id + " failed: "))
      << run.Log();
  EXPECT_TRUE(Contains(line, "The result is spooled")) << line;
  ASSERT_EQ(SpoolFiles().size(), 1u);

  // Still down: flush keeps it.
  RunResult early = Agent({"flush"});
  EXPECT_EQ(early.exit_code, 1) << early.out << early.err;
  EXPECT_EQ(SpoolFiles().size(), 1u);

  // Kuma back, same port, same data: flush delivers it, once, and then
  // pushes the job's current state.
  const std::string failure = g_env->StartAndWait({&kuma});
  ASSERT_EQ(failure, "") << failure;
  EXPECT_EQ(Heartbeats(0).size(), 0u);
  const int64_t flush_start = WallMs();
  RunResult flush = Agent({"flush"});
  EXPECT_EQ(flush.exit_code, 0) << flush.out << flush.err;
  EXPECT_TRUE(Contains(flush.err, "delivered the up push for job " + monitor_.job_id))
      << flush.out << flush.err;
  EXPECT_TRUE(SpoolFiles().empty());

  std::vector<json> beats = Heartbeats(2);
  ASSERT_EQ(beats.size(), 2u) << json(beats).dump(1);
  EXPECT_EQ(At(beats[1], "status"), 1) << beats[1].dump();
  EXPECT_TRUE(StartsWith(Str(beats[1], "msg"), "pve1: last run ")) << beats[1].dump();
  EXPECT_EQ(At(beats[0], "status"), 1) << beats[0].dump();
  EXPECT_TRUE(StartsWith(Str(beats[0], "msg"), "delivered late")) << beats[0].dump();
  EXPECT_TRUE(Contains(Str(beats[0], "msg"), "all 2 guests backed up")) << beats[0].dump();
  // The late push still carries the run's duration, not the flush's.
  ExpectPingIsTheRunsDuration(beats[0], run, "job-end", 8000);
  g_env->RecordLatency("kuma-down flush", flush_start, beats[0]);

  RunResult again = Agent({"flush"});
  EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(Heartbeats(2).size(), 2u);
}

}  // namespace
}  // namespace pbk::testing::kuma_e2e
