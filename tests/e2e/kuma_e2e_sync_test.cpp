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
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/e2e/kuma_e2e_admin.h"

namespace pbk::testing::kuma_e2e {
namespace {

const std::string kFakesDir = PBK_FAKES_DIR;
// Kuma wants letters and digits, at least 6 characters.
constexpr char kPassword[] = "e2e-Sync-7Hq2Lm";
constexpr char kHandMadeToken[] = "handMadeE2eT0ken7Kq2";
constexpr int kIntervalMinutes = 10;

constexpr char kJobsCfg[] =
    "vzdump: backup-all\n\tschedule 21:00\n\tall 1\n\tstorage local\n\tcomment every guest\n\n"
    "vzdump: backup-vmid\n\tschedule 22:00\n\tvmid 100,101\n\tstorage local\n\n"
    "vzdump: backup-pool\n\tschedule 23:00\n\tpool web\n\tstorage local\n\n"
    "vzdump: backup-node\n\tschedule 01:00\n\tall 1\n\tnode pve2\n\tstorage local\n\n"
    "vzdump: backup-off\n\tschedule 02:00\n\tall 1\n\tstorage local\n\tenabled 0\n\n";

json GuestsWith101On(const std::string& node) {
  return json::array({
      {{"id", "qemu/100"}, {"vmid", 100}, {"node", "pve1"}, {"type", "qemu"}},
      {{"id", "qemu/101"}, {"vmid", 101}, {"node", node}, {"type", "qemu"}},
      {{"id", "lxc/102"}, {"vmid", 102}, {"node", "pve3"}, {"type", "lxc"}, {"pool", "web"}},
  });
}

// The first user of the sync Kuma, made once per run of the binary.
bool g_admin_made = false;

class KumaSyncE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { dir_ = new TestDir(); }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }

  static KumaServer& kuma() { return g_env->sync(); }
  static std::string pve() { return dir_->Path("pve"); }
  static std::string session_file() { return pve() + "/priv/pbk-agent/kuma-session"; }
  static std::string monitors_file() { return pve() + "/priv/pbk-agent/monitors.json"; }

  static void Fake(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"/usr/bin/python3", kFakesDir + "/pmxcfs.py"};
    argv.insert(argv.end(), args.begin(), args.end());
    RunResult result = pbk::testing::Run(argv, nullptr, seconds(30));
    ASSERT_EQ(result.exit_code, 0) << result.Describe() << result.out << result.err;
  }

  // The cluster pve1, pve2, pve3 with kJobsCfg's jobs; 100 on pve1, 101 on
  // pve2, 102 (pool web) on pve3. The agent runs on pve1.
  static void MakeCluster() {
    ASSERT_NO_FATAL_FAILURE(Fake({"init", "--root", pve(), "--node", "pve1"}));
    ASSERT_NO_FATAL_FAILURE(Fake({"members", "--root", pve(), "--node", "pve1", "--cluster", "e2e",
                                  "--nodes", "pve1,pve2,pve3"}));
    WriteText(pve() + "/jobs.cfg", kJobsCfg);
    WriteText(pve() + "/resources.json", GuestsWith101On("pve2").dump());
    const std::string pvesh = dir_->Path("pvesh");
    WriteText(pvesh, "#!/bin/sh\nexec /usr/bin/python3 " + kFakesDir + "/fake_pvesh.py --root " +
                         pve() + " --log " + dir_->Path("pvesh.log") + " \"$@\"\n");
    ASSERT_EQ(chmod(pvesh.c_str(), 0755), 0);
  }

  // The configuration (mode 0600); URL: another Kuma address.
  static std::string Config(const std::string& url = "") {
    const json config = {
        {"node", "pve1"},
        {"kuma",
         {{"url", url.empty() ? kuma().url() : url},
          {"ca_file", g_env->ca_file()},
          {"timeout_seconds", 15},
          {"heartbeat_interval_minutes", kIntervalMinutes},
          {"session_file", session_file()}}},
        {"pve", {{"pvesh", dir_->Path("pvesh")}}},
        {"paths",
         {{"state_dir", dir_->Path("state")},
          {"pve_dir", pve()},
          {"jobs_cfg", pve() + "/jobs.cfg"},
          {"vzdump_cron", pve() + "/vzdump.cron"},
          {"scheduler_dir", dir_->Path("scheduler")},
          {"hook_script", dir_->Path("hook.sh")}}},
    };
    const std::string path = dir_->Path(url.empty() ? "config.json" : "config-elsewhere.json");
    WriteText(path, config.dump(2));
    EXPECT_EQ(chmod(path.c_str(), 0600), 0);
    return path;
  }

  // The first user, and `kuma login` as the admin runs it.
  static void LogIn() {
    if (!g_admin_made) {
      auto admin = ConnectAdmin(kuma());
      ASSERT_TRUE(admin);
      KumaAdminError error;
      ASSERT_TRUE(admin->Setup(kAdminUser, kPassword, &error)) << error.message;
      g_admin_made = true;
    }
    RegisterSecret(kPassword);
    WriteText(dir_->Path("password"), std::string(kPassword) + "\n");
    ASSERT_EQ(chmod(dir_->Path("password").c_str(), 0600), 0);
    RunResult login = AdminAgent({"--config", Config(), "kuma", "login", "--username", kAdminUser,
                                  "--password-file", dir_->Path("password")});
    ASSERT_EQ(login.exit_code, 0) << login.out << login.err;
    RegisterSecret(Trimmed(ReadText(session_file())));
  }

  // A session with the sync Kuma, logged in with the stored session.
  static std::unique_ptr<KumaAdmin> Admin() {
    auto admin = ConnectAdmin(kuma());
    if (!admin) return nullptr;
    KumaAdminError error;
    EXPECT_TRUE(admin->LoginByToken(Trimmed(ReadText(session_file())), &error)) << error.message;
    return admin;
  }

  // Kuma's monitors as its monitor list gives them, by id.
  static json Monitors() {
    auto admin = Admin();
    json monitors = json::object();
    KumaAdminError error;
    if (admin) {
      EXPECT_TRUE(admin->MonitorList(&monitors, &error)) << error.message;
    }
    return monitors;
  }

  // The value of our tag on MONITOR, "" without it.
  static std::string OwnTag(const json& monitor) {
    const json& tags = At(monitor, "tags");
    if (!tags.is_array()) return "";
    for (const auto& tag : tags) {
      if (Str(tag, "name") == "pbk-agent") return Str(tag, "value");
    }
    return "";
  }

  // Our monitor whose tag has VALUE ("<job>", "<job>@<node>", "@<node>",
  // "@"); null when there is none, a failure when there are several.
  static json Ours(const json& monitors, const std::string& value) {
    json found;
    for (const auto& [id, monitor] : monitors.items()) {
      if (OwnTag(monitor) != value) continue;
      EXPECT_TRUE(found.is_null()) << "two monitors tagged pbk-agent=" << value;
      found = monitor;
    }
    return found;
  }

  static size_t CountOurs(const json& monitors) {
    size_t count = 0;
    for (const auto& [id, monitor] : monitors.items()) count += OwnTag(monitor).empty() ? 0 : 1;
    return count;
  }

  // Notification ids attached to MONITOR.
  static std::set<std::string> NotificationIds(const json& monitor) {
    std::set<std::string> ids;
    const json& list = At(monitor, "notificationIDList");
    if (!list.is_object()) return ids;
    for (const auto& [id, on] : list.items()) {
      if (on == true || on == 1) ids.insert(id);
    }
    return ids;
  }

  // Adds a webhook notification (nobody listens on port 9) and returns its id.
  static std::string AddNotification(KumaAdmin* admin, const std::string& name, bool is_default) {
    const json notification = {{"name", name},
                               {"type", "webhook"},
                               {"isDefault", is_default},
                               {"applyExisting", false},
                               {"webhookURL", "http://127.0.0.1:9/"},
                               {"webhookContentType", "json"}};
    json answer;
    SocketIoError failure;
    EXPECT_TRUE(admin->session()->Call("addNotification", json::array({notification, nullptr}),
                                       seconds(15), &answer, &failure))
        << failure.message;
    EXPECT_EQ(At(answer, "ok"), json(true)) << answer.dump();
    const json& id = At(answer, "id");
    return id.is_number_integer() ? std::to_string(id.get<int64_t>()) : "";
  }

  // The monitors file's push monitors: monitor id -> token.
  static std::map<int64_t, std::string> FileMonitors() {
    std::map<int64_t, std::string> entries;
    const json file = json::parse(ReadText(monitors_file()), nullptr, /*allow_exceptions=*/false);
    auto add = [&entries](const json& by_node) {
      if (!by_node.is_object()) return;
      for (const auto& [node, entry] : by_node.items()) {
        const json& token = At(entry, "push_token");
        if (!token.is_string()) continue;
        RegisterSecret(token.get<std::string>());
        entries[At(entry, "monitor_id").get<int64_t>()] = token.get<std::string>();
      }
    };
    if (!file.is_object()) return entries;
    for (const auto& [key, job] : At(file, "jobs").items()) add(At(job, "nodes"));
    add(At(file, "node_monitors"));
    return entries;
  }

  // `kuma sync --json ARGS`: its output.
  static json Sync(const std::vector<std::string>& extra = {}, seconds timeout = seconds(120)) {
    std::vector<std::string> args = {"--config", Config(), "kuma", "sync", "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    RunResult result = AdminAgent(args, timeout);
    EXPECT_FALSE(result.timed_out) << "kuma sync took longer than " << timeout.count() << " s";
    EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
    ExpectNoSecretIn(result);
    json out = json::parse(result.out, nullptr, /*allow_exceptions=*/false);
    EXPECT_TRUE(out.is_object()) << result.out << result.err;
    return out.is_object() ? out : json::object();
  }

  static void ExpectNoSecretIn(const RunResult& result) {
    std::vector<std::string> secrets = {Trimmed(ReadText(session_file())), kPassword,
                                        kHandMadeToken};
    for (const auto& [id, token] : FileMonitors()) secrets.push_back(token);
    for (const auto& secret : secrets) {
      if (secret.empty()) continue;
      EXPECT_FALSE(Contains(result.out + result.err, secret)) << "a secret was printed";
    }
  }

  // `verify --json`: its checks.
  static json Verify() {
    RunResult result = AdminAgent({"--config", Config(), "verify", "--json"});
    ExpectNoSecretIn(result);
    const json out = json::parse(result.out, nullptr, /*allow_exceptions=*/false);
    EXPECT_TRUE(At(out, "checks").is_array()) << result.out << result.err;
    return At(out, "checks");
  }

  // The check NAME of CHECKS, null when verify has none.
  static json Check(const json& checks, const std::string& name) {
    if (!checks.is_array()) return json();
    for (const auto& check : checks) {
      if (Str(check, "check") == name) return check;
    }
    return json();
  }

  static int Count(const json& out, const char* key) {
    const json& value = At(out, key);
    return value.is_number_integer() ? value.get<int>() : -1;
  }

  // A push with TOKEN to Kuma's push API; true when Kuma took it.
  static bool Push(const std::string& token) {
    RunResult result = pbk::testing::Run(
        {g_env->curl(), "-sS", "--noproxy", "*", "--cacert", g_env->ca_file(),
         kuma().url() + "/api/push/" + token + "?status=up&msg=e2e"},
        nullptr, seconds(30));
    return result.exit_code == 0 && Contains(result.out, "\"ok\":true");
  }

  // The hand-made monitor is as it was: the sync changed nothing of it.
  static void ExpectHandMadeUntouched(const json& monitors) {
    const json& now = At(monitors, std::to_string(At(hand_made_, "id").get<int64_t>()).c_str());
    for (const char* key : {"name", "type", "parent", "interval", "maxretries", "active",
                            "pushToken", "description", "tags", "notificationIDList"}) {
      EXPECT_EQ(At(now, key), At(hand_made_, key)) << key << " of the hand-made monitor";
    }
  }

  static TestDir* dir_;
  static json hand_made_;  // the monitor made by hand, as Kuma listed it before any sync
  static std::string default_notification_;
  static std::string other_notification_;
};

TestDir* KumaSyncE2eTest::dir_ = nullptr;
json KumaSyncE2eTest::hand_made_;
std::string KumaSyncE2eTest::default_notification_;
std::string KumaSyncE2eTest::other_notification_;

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
