// End-to-end tests against a real Uptime Kuma (see kuma_e2e_test.cpp):
// `pbk-agent kuma sync`. The environment's fresh "sync" Kuma gets its first
// user through KumaAdmin::Setup, the built program logs in (`kuma login`)
// and syncs an emulated three-node cluster: tests/fakes' pvesh on a folder
// playing /etc/pve (jobs.cfg, resources.json, and .members written by
// pmxcfs.py), with a job of every kind: all guests, vmids, a pool, one
// restricted to a node, a disabled one. What Kuma made is read back through
// the product's own Socket.IO client; pushes with the stored tokens go to
// Kuma's push API (curl) and are found in Kuma's heartbeat table.
//
// The cases run in this order (GoogleTest keeps a file's order) on one
// cluster folder: the cluster grows from case to case.
// The fixture: kuma_e2e_sync_fixture.h.

#include <gtest/gtest.h>

#include <cstdlib>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/e2e/kuma_e2e_sync_fixture.h"

namespace pbk::testing::kuma_e2e {
namespace {

TEST_F(KumaSyncE2eTest, A_TheFirstSyncMakesAGroupPerJobAndAMonitorPerNode) {
  ASSERT_NO_FATAL_FAILURE(MakeCluster());
  // Before `kuma login`: the timer's run does nothing (monitors made by
  // hand are all there is), the admin's run says what is missing.
  RunResult service = AdminAgent({"--config", Config(), "kuma", "sync", "--service"});
  EXPECT_EQ(service.exit_code, 0) << service.out << service.err;
  EXPECT_EQ(service.out + service.err, "");
  RunResult manual = AdminAgent({"--config", Config(), "kuma", "sync"});
  EXPECT_EQ(manual.exit_code, 1) << manual.out << manual.err;
  EXPECT_TRUE(Contains(manual.err, "no Kuma session in " + session_file() +
                                       ": run `pbk-agent kuma login` first"))
      << manual.err;
  EXPECT_FALSE(std::ifstream(monitors_file()).good());

  ASSERT_NO_FATAL_FAILURE(LogIn());
  {
    auto admin = Admin();
    ASSERT_TRUE(admin);
    default_notification_ = AddNotification(admin.get(), "e2e default", true);
    other_notification_ = AddNotification(admin.get(), "e2e other", false);
    ASSERT_NE(default_notification_, "");
    ASSERT_NE(other_notification_, "");
    // A monitor made by hand, with the name one of ours will have.
    RegisterSecret(kHandMadeToken);
    int64_t id = 0;
    KumaAdminError error;
    ASSERT_TRUE(admin->AddMonitor(
        {{"type", "push"}, {"name", "backup-vmid @ pve1"}, {"description", "by hand"},
         {"parent", nullptr}, {"interval", 60}, {"retryInterval", 60}, {"resendInterval", 0},
         {"maxretries", 2}, {"upsideDown", false}, {"pushToken", kHandMadeToken},
         {"active", true}, {"accepted_statuscodes", json::array({"200-299"})},
         {"notificationIDList", {{other_notification_, true}}}},
        &id, &error))
        << error.message;
    hand_made_ = At(Monitors(), std::to_string(id).c_str());
    ASSERT_TRUE(hand_made_.is_object());
  }

  // A dry run plans and makes nothing.
  const json dry = Sync({"--dry-run"});
  EXPECT_GE(At(dry, "plan").size(), 19u) << dry.dump(1);
  EXPECT_EQ(Monitors().size(), 1u) << "a dry run made monitors";
  EXPECT_FALSE(std::ifstream(monitors_file()).good()) << "a dry run wrote the monitors file";

  const auto start = SteadyClock::now();
  const json out = Sync();
  const double wall_ms =
      std::chrono::duration<double, std::milli>(SteadyClock::now() - start).count();
  // 5 job groups with 10 push monitors (all: 3, vmid: 2, pool: 1, node: 1,
  // the disabled one: 3), the nodes' group with 3 node monitors.
  EXPECT_EQ(Count(out, "added"), 19) << out.dump(1);
  std::cout << "e2e: first `kuma sync`, 5 jobs on 3 nodes: " << wall_ms << " ms wall, "
            << At(out, "socket_io_calls") << " Socket.IO calls, " << At(out, "added")
            << " monitors made" << std::endl;

  const json monitors = Monitors();
  EXPECT_EQ(CountOurs(monitors), 19u);
  const json group = Ours(monitors, "backup-all");
  ASSERT_TRUE(group.is_object()) << monitors.dump(1);
  EXPECT_EQ(At(group, "type"), "group");
  EXPECT_EQ(At(group, "name"), "every guest");
  const json nodes_group = Ours(monitors, "@");
  ASSERT_TRUE(nodes_group.is_object()) << monitors.dump(1);
  EXPECT_EQ(At(nodes_group, "name"), "pbk-agent nodes");
  for (const std::string node : {"pve1", "pve2", "pve3"}) {
    const json child = Ours(monitors, "backup-all@" + node);
    ASSERT_TRUE(child.is_object()) << node;
    EXPECT_EQ(At(child, "name"), "every guest @ " + node);
    EXPECT_EQ(At(child, "type"), "push");
    EXPECT_EQ(At(child, "parent"), At(group, "id"));
    EXPECT_EQ(At(child, "interval"), kIntervalMinutes * 60);
    EXPECT_EQ(At(child, "retryInterval"), kIntervalMinutes * 60);
    EXPECT_EQ(At(child, "maxretries"), 0);
    EXPECT_TRUE(Contains(Str(child, "description"), "schedule 21:00, storage local, node " + node + " (made by pbk-agent kuma sync)"))
        << At(child, "description");
    EXPECT_EQ(NotificationIds(child), std::set<std::string>{default_notification_})
        << "Kuma's default notifications, as its UI attaches them";
    const json node_monitor = Ours(monitors, "@" + node);
    ASSERT_TRUE(node_monitor.is_object()) << node;
    EXPECT_EQ(At(node_monitor, "name"), "pbk-agent @ " + node);
    EXPECT_EQ(At(node_monitor, "parent"), At(nodes_group, "id"));
  }
  EXPECT_EQ(NotificationIds(group), std::set<std::string>{default_notification_});
  const json vmid_group = Ours(monitors, "backup-vmid");
  ASSERT_TRUE(vmid_group.is_object());
  EXPECT_EQ(At(vmid_group, "name"), "backup-vmid") << "a job without comment is named by its id";
  EXPECT_EQ(At(Ours(monitors, "backup-vmid@pve1"), "parent"), At(vmid_group, "id"));
  EXPECT_TRUE(Ours(monitors, "backup-vmid@pve2").is_object());
  EXPECT_TRUE(Ours(monitors, "backup-vmid@pve3").is_null()) << "no guest of it there";
  EXPECT_TRUE(Ours(monitors, "backup-pool@pve3").is_object());
  EXPECT_TRUE(Ours(monitors, "backup-pool@pve1").is_null());
  EXPECT_TRUE(Ours(monitors, "backup-node@pve2").is_object());
  EXPECT_TRUE(Ours(monitors, "backup-node@pve1").is_null());
  // A disabled job keeps a monitor on every node it would run on: refresh
  // pushes `down` ("disabled: no backups are made") to it.
  ASSERT_TRUE(Ours(monitors, "backup-off").is_object()) << "a disabled job has no group";
  for (const char* node : {"pve1", "pve2", "pve3"}) {
    EXPECT_EQ(At(Ours(monitors, std::string("backup-off@") + node), "parent"),
              At(Ours(monitors, "backup-off"), "id"))
        << node;
  }
  ExpectHandMadeUntouched(monitors);

  struct stat st {};
  ASSERT_EQ(stat(monitors_file().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // Every token of the monitors file is its monitor's in Kuma, and a push
  // with it lands there.
  const auto entries = FileMonitors();
  EXPECT_EQ(entries.size(), 13u);
  for (const auto& [id, token] : entries) {
    const json& monitor = At(monitors, std::to_string(id).c_str());
    EXPECT_EQ(Str(monitor, "pushToken"), token) << "monitor " << id;
    EXPECT_EQ(token.size(), 20u);
    EXPECT_TRUE(Push(token)) << "a push with the token of monitor " << id;
    Monitor pushed;
    pushed.id = id;
    const std::vector<json> beats = g_env->Heartbeats(kuma(), pushed, 1);
    ASSERT_EQ(beats.size(), 1u) << "monitor " << id << " (" << Str(monitor, "name") << ")";
    EXPECT_EQ(At(beats[0], "status"), 1);
    EXPECT_EQ(At(beats[0], "msg"), "e2e");
  }
}

TEST_F(KumaSyncE2eTest, B_ASecondSyncChangesNothing) {
  const std::string before = ReadText(monitors_file());
  ASSERT_NE(before, "") << "the first case made no monitors file";
  const json monitors_before = Monitors();
  const auto start = SteadyClock::now();
  const json out = Sync();
  const double wall_ms =
      std::chrono::duration<double, std::milli>(SteadyClock::now() - start).count();
  EXPECT_EQ(Count(out, "added"), 0) << out.dump(1);
  EXPECT_EQ(Count(out, "edited"), 0) << out.dump(1);
  EXPECT_EQ(At(out, "done").size(), 0u) << out.dump(1);
  EXPECT_EQ(ReadText(monitors_file()), before);
  const json monitors = Monitors();
  EXPECT_EQ(monitors.size(), monitors_before.size());
  for (const auto& [id, monitor] : monitors_before.items()) {
    for (const char* key : {"name", "parent", "interval", "maxretries", "active", "pushToken",
                            "description", "notificationIDList"}) {
      EXPECT_EQ(At(At(monitors, id.c_str()), key), At(monitor, key)) << key << " of " << id;
    }
  }
  std::cout << "e2e: no-op `kuma sync`: " << wall_ms << " ms wall, "
            << At(out, "socket_io_calls") << " Socket.IO calls" << std::endl;

  // The timer's run: the monitors file was made from the cluster as it is,
  // so it does not connect at all (the configured Kuma here is a port
  // nobody listens on).
  std::string err;
  const std::vector<uint16_t> port = FreePorts(1, &err);
  ASSERT_EQ(port.size(), 1u) << err;
  const std::string nowhere = Config("https://127.0.0.1:" + std::to_string(port[0]));
  RunResult service = AdminAgent({"--config", nowhere, "kuma", "sync", "--service"});
  EXPECT_EQ(service.exit_code, 0) << service.out << service.err;
  EXPECT_EQ(service.out, "");
  // A sync that must connect there fails, and says why.
  RunResult manual = AdminAgent({"--config", nowhere, "kuma", "sync"});
  EXPECT_EQ(manual.exit_code, 1) << manual.out << manual.err;
  EXPECT_TRUE(Contains(manual.err, "127.0.0.1:" + std::to_string(port[0]))) << manual.err;
  EXPECT_EQ(ReadText(monitors_file()), before);
}

TEST_F(KumaSyncE2eTest, C_AJobAddedAndAGuestMigratedGetOneMonitorEach) {
  const size_t monitors_before = Monitors().size();
  // A new job for 102 (on pve3): its group and one push monitor, made by
  // the timer's run since the jobs changed.
  WriteText(pve() + "/jobs.cfg", std::string(kJobsCfg) +
                                     "vzdump: backup-new\n\tschedule 03:00\n\tvmid 102\n\t"
                                     "storage local\n\n");
  json out = Sync({"--service"});
  EXPECT_EQ(Count(out, "added"), 2) << out.dump(1);
  json monitors = Monitors();
  EXPECT_EQ(monitors.size(), monitors_before + 2);
  const json new_group = Ours(monitors, "backup-new");
  ASSERT_TRUE(new_group.is_object());
  EXPECT_EQ(At(Ours(monitors, "backup-new@pve3"), "parent"), At(new_group, "id"));

  // 101 moves from pve2 to pve3: backup-vmid now runs on pve1 and pve3.
  WriteText(pve() + "/resources.json", GuestsWith101On("pve3").dump());
  out = Sync({"--service"});
  EXPECT_EQ(Count(out, "added"), 1) << out.dump(1);
  monitors = Monitors();
  EXPECT_EQ(monitors.size(), monitors_before + 3);
  const json moved = Ours(monitors, "backup-vmid@pve3");
  ASSERT_TRUE(moved.is_object());
  EXPECT_EQ(At(moved, "parent"), At(Ours(monitors, "backup-vmid"), "id"));
  const std::map<int64_t, std::string> entries = FileMonitors();
  EXPECT_EQ(entries.count(At(moved, "id").get<int64_t>()), 1u) << "not in the monitors file";
  const json left = Ours(monitors, "backup-vmid@pve2");
  ASSERT_TRUE(left.is_object());
  EXPECT_TRUE(At(left, "active") == true || At(left, "active") == 1) << "paused only with --prune";

  const json pruned = Sync({"--prune"});
  EXPECT_EQ(Count(pruned, "paused"), 1) << pruned.dump(1);
  EXPECT_EQ(Count(pruned, "added"), 0) << pruned.dump(1);
  monitors = Monitors();
  const json after = At(monitors, std::to_string(At(left, "id").get<int64_t>()).c_str());
  EXPECT_TRUE(At(after, "active") == false || At(after, "active") == 0) << after.dump();
  EXPECT_EQ(monitors.size(), monitors_before + 3) << "never deleted";
  ExpectHandMadeUntouched(monitors);
}

// verify's word on the session and on a monitors file older than the jobs.
TEST_F(KumaSyncE2eTest, D_VerifyNamesTheSessionAndTheSyncToRun) {
  json checks = Verify();
  EXPECT_EQ(Str(Check(checks, "Kuma session"), "status"), "OK") << checks.dump(1);
  EXPECT_EQ(Str(Check(checks, "Kuma session"), "message"),
            "valid (user " + std::string(kAdminUser) + ")");
  EXPECT_EQ(Str(Check(checks, "monitors file"), "status"), "OK") << checks.dump(1);

  // A new job for 100, which is on this node (pve1): the monitors file is
  // older than the job until `kuma sync` runs.
  const std::string jobs = ReadText(pve() + "/jobs.cfg");
  WriteText(pve() + "/jobs.cfg",
            jobs + "vzdump: backup-here\n\tschedule 04:00\n\tvmid 100\n\tstorage local\n\n");
  checks = Verify();
  const json drift = Check(checks, "monitors file");
  EXPECT_EQ(Str(drift, "status"), "WARN") << checks.dump(1);
  EXPECT_TRUE(Contains(Str(drift, "message"), "job backup-here runs on pve1, which has no monitor"))
      << drift.dump();
  EXPECT_TRUE(StartsWith(Str(drift, "fix"), "pbk-agent kuma sync")) << drift.dump();
  const json missing = Check(checks, "monitor backup-here");
  EXPECT_EQ(Str(missing, "status"), "FAIL") << checks.dump(1);
  EXPECT_EQ(Str(missing, "fix"),
            "run `pbk-agent kuma sync`: the monitors file is older than this job");

  EXPECT_EQ(Count(Sync(), "added"), 2);
  checks = Verify();
  EXPECT_EQ(Str(Check(checks, "monitor backup-here"), "status"), "OK") << checks.dump(1);
  EXPECT_EQ(Str(Check(checks, "monitors file"), "status"), "OK") << checks.dump(1);
  EXPECT_EQ(Str(Check(checks, "monitors in Kuma"), "status"), "OK") << checks.dump(1);

  // A monitor of this node paused in Kuma never alarms: a FAIL naming it,
  // until it runs again.
  const json here = Ours(Monitors(), "backup-here@pve1");
  ASSERT_TRUE(here.is_object());
  const int64_t here_id = At(here, "id").get<int64_t>();
  auto pause = [here_id](bool paused) {
    auto admin = Admin();
    ASSERT_TRUE(admin);
    KumaAdminError error;
    ASSERT_TRUE(paused ? admin->PauseMonitor(here_id, &error) : admin->ResumeMonitor(here_id, &error))
        << error.message;
  };
  pause(true);
  checks = Verify();
  const json paused = Check(checks, "in Kuma: backup-here @ pve1");
  EXPECT_EQ(Str(paused, "status"), "FAIL") << checks.dump(1);
  EXPECT_TRUE(Contains(Str(paused, "message"), "is paused in Kuma: it never alarms"))
      << paused.dump();
  EXPECT_EQ(Str(paused, "fix"), "resume it in Kuma");
  pause(false);
  checks = Verify();
  EXPECT_TRUE(Check(checks, "in Kuma: backup-here @ pve1").is_null()) << checks.dump(1);
  EXPECT_EQ(Str(Check(checks, "monitors in Kuma"), "status"), "OK") << checks.dump(1);

  // A session Kuma does not take (signed with another secret).
  const std::string session = ReadText(session_file());
  const std::string forged =
      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1c2VybmFtZSI6InBiay1hZG1pbiJ9.c2lnbmF0dXJl";
  WriteText(session_file(), forged + "\n");
  checks = Verify();
  const json rejected = Check(checks, "Kuma session");
  EXPECT_EQ(Str(rejected, "status"), "FAIL") << checks.dump(1);
  EXPECT_TRUE(Contains(Str(rejected, "message"), "Kuma does not accept the session in " +
                                                     session_file()))
      << rejected.dump();
  EXPECT_EQ(Str(rejected, "fix"), "run `pbk-agent kuma login` again");
  WriteText(session_file(), session);
}

// Figures, not asserted beyond success: `kuma sync` for JOBS all-guests
// jobs on NODES members, first run and no-op run, on a cluster folder of
// its own against the same Kuma (whose earlier monitors stay). Run by
// tests/bench/kuma_sync_bench.py (PBK_KUMA_SYNC_BENCH="10x3 100x5").
TEST_F(KumaSyncE2eTest, E_Figures) {
  const char* sizes = std::getenv("PBK_KUMA_SYNC_BENCH");
  if (sizes == nullptr) GTEST_SKIP() << "set PBK_KUMA_SYNC_BENCH=\"10x3 100x5\" for the figures";
  if (!std::ifstream(session_file()).good()) {
    ASSERT_NO_FATAL_FAILURE(MakeCluster());
    ASSERT_NO_FATAL_FAILURE(LogIn());
  }
  std::istringstream words(sizes);
  std::string size;
  while (words >> size) {
    const int jobs = std::atoi(size.substr(0, size.find('x')).c_str());
    const int nodes = std::atoi(size.substr(size.find('x') + 1).c_str());
    ASSERT_GT(jobs, 0) << size;
    ASSERT_GT(nodes, 0) << size;
    std::string cfg, node_list;
    json guests = json::array();
    for (int n = 1; n <= nodes; ++n) {
      const std::string node = "bench" + std::to_string(n);
      node_list += (n > 1 ? "," : "") + node;
      guests.push_back({{"id", "qemu/" + std::to_string(1000 + n)},
                        {"vmid", 1000 + n},
                        {"node", node},
                        {"type", "qemu"}});
    }
    for (int j = 0; j < jobs; ++j) {
      cfg += "vzdump: bench-" + size + "-" + std::to_string(j) +
             "\n\tschedule 21:00\n\tall 1\n\tstorage local\n\n";
    }
    WriteText(pve() + "/jobs.cfg", cfg);
    WriteText(pve() + "/resources.json", guests.dump());
    ASSERT_NO_FATAL_FAILURE(Fake({"members", "--root", pve(), "--node", "bench1", "--cluster",
                                  "bench", "--nodes", node_list}));
    for (const char* run : {"first", "no-op"}) {
      const auto start = SteadyClock::now();
      // Kuma 2.0.0-dev.0 (as 1.23) sends the whole monitor list after every
      // monitor it adds, so a first sync grows with the square of the
      // monitors: hundreds take many minutes.
      const json out = Sync({}, seconds(3600));
      const double wall_s = std::chrono::duration<double>(SteadyClock::now() - start).count();
      std::cout << "bench: kuma sync " << jobs << " jobs x " << nodes << " nodes, " << run
                << " run: " << wall_s << " s wall, " << At(out, "socket_io_calls")
                << " Socket.IO calls, " << At(out, "added") << " monitors made, "
                << At(out, "edited") << " changed" << std::endl;
    }
  }
}

}  // namespace
}  // namespace pbk::testing::kuma_e2e
