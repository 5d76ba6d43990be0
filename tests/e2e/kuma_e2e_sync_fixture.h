// The fixture of the `pbk-agent kuma sync` end-to-end tests
// (kuma_e2e_sync_test.cpp): the emulated three-node cluster on one folder
// for the whole suite, the configuration, `kuma login`, and reading back
// what Kuma made.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/e2e/kuma_e2e_admin.h"

namespace pbk::testing::kuma_e2e {

inline const std::string kFakesDir = PBK_FAKES_DIR;
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

inline json GuestsWith101On(const std::string& node) {
  return json::array({
      {{"id", "qemu/100"}, {"vmid", 100}, {"node", "pve1"}, {"type", "qemu"}},
      {{"id", "qemu/101"}, {"vmid", 101}, {"node", node}, {"type", "qemu"}},
      {{"id", "lxc/102"}, {"vmid", 102}, {"node", "pve3"}, {"type", "lxc"}, {"pool", "web"}},
  });
}

// The first user of the sync Kuma, made once per run of the binary.
inline bool g_admin_made = false;

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

  static inline TestDir* dir_ = nullptr;
  static inline json hand_made_;  // the monitor made by hand, as Kuma listed it before any sync
  static inline std::string default_notification_;
  static inline std::string other_notification_;
};

}  // namespace pbk::testing::kuma_e2e
