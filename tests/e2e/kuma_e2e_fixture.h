// What the end-to-end cases share: simulator scenarios and the fixture that
// gives each case its own monitor and job on a Kuma server of the environment.
#pragma once

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/e2e/kuma_e2e_environment.h"
#include "tests/support/sim_run.h"

namespace pbk::testing::kuma_e2e {

// --- simulator scenarios (as in the black-box tier) ---------------------------------

inline json Guest(int vmid, const std::string& type, const std::string& name, const std::string& run,
           double archive_seconds = 0.0) {
  json guest = {{"vmid", vmid}, {"type", type}, {"name", name}, {"run", run}};
  if (archive_seconds > 0) guest["archive_seconds"] = archive_seconds;
  return guest;
}

// A scheduled job JOB_ID on the PBS storage "pbs1".
inline json Scenario(std::vector<json> guests, const std::string& job_id) {
  return {{"storage", "pbs1"},
          {"guests", std::move(guests)},
          {"job_id", job_id},
          {"job_config", {{"storage", "pbs1"}, {"all", 1}, {"mode", "snapshot"}}}};
}

// VM 100 web01 and CT 101 db01, 0.3 s of archiving each.
inline json TwoGuests(const std::string& job_id, const std::string& run_101 = "snapshot") {
  return Scenario(
      {Guest(100, "qemu", "web01", "snapshot", 0.3), Guest(101, "lxc", "db01", run_101, 0.3)},
      job_id);
}

// What the simulator reports about one run (tests/support/sim_run.h), with
// the wall clock of its start, to place its calls in Kuma's time.
struct SimRun : testing::SimRun {
  int64_t wall_start_ms = 0;  // wall clock just before the simulator started

  size_t CallCount(const std::string& phase) const { return Calls(phase).size(); }
  // The wall-clock time PHASE's hook call started.
  int64_t CallStartMs(const std::string& phase) const {
    return wall_start_ms + static_cast<int64_t>(Num(Call(phase), "start_ms"));
  }
};

// --- the cases ------------------------------------------------------------------------

class KumaE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(g_env, nullptr);
    std::filesystem::create_directories(dir_.Path("jobs"));
    state_dir_ = dir_.Path("state");
    config_path_ = dir_.Path("config.json");
    ASSERT_NO_FATAL_FAILURE(RenderWrapper());
  }

  void TearDown() override { ExpectNoTokenLeaked(); }

  // The wrapper as the package installs it, pointing at the build's binary
  // and this test's configuration.
  void RenderWrapper() {
    wrapper_ = dir_.Path("vzdump-uptime-kuma-hook.sh");
    std::string err;
    ASSERT_TRUE(RenderHookWrapper(kSourceDir, kBinDir + "/pbk-agent", config_path_, wrapper_, &err))
        << err;
  }

  // Uses the monitors of cases KEYS, all on one Kuma server (monitor_ is
  // the first): config.json holds their jobs, and jobs.cfg lists the same
  // jobs, daily at 21:00 (so none is due during a test, and refresh and
  // flush see live jobs, not gone ones).
  void UseMonitors(const std::vector<std::string>& keys) {
    ASSERT_FALSE(keys.empty());
    monitors_.clear();
    std::string jobs_cfg;
    for (const auto& key : keys) {
      auto [server, monitor] = g_env->MonitorFor(key);
      ASSERT_NE(server, nullptr) << "no monitor for " << key;
      ASSERT_TRUE(server_ == nullptr || server_ == server) << key << " is on another Kuma";
      server_ = server;
      monitors_.push_back(*monitor);
      jobs_cfg += "vzdump: " + monitor->job_id + "\n\tschedule " + kDailyAt +
                  "\n\tall 1\n\tenabled 1\n\tmode snapshot\n\tstorage pbs1\n\n";
    }
    monitor_ = monitors_.front();
    dir_.Write("jobs.cfg", jobs_cfg);
    ASSERT_NO_FATAL_FAILURE(WriteConfig("config.json", monitors_));
    // The guard puts the hook into vzdump.conf (it reads the jobs from the
    // files here); the simulated vzdump takes it from there.
    std::filesystem::create_directories(dir_.Path("pve/nodes/pve1"));
    RunResult guard = pbk::testing::Run({kBinDir + "/pbk-agent", "--config", config_path_, "guard"},
                                        nullptr, seconds(60));
    Remember(guard);
    ASSERT_EQ(guard.exit_code, 0) << guard.Describe() << guard.err;
    ASSERT_TRUE(Contains(ReadText(dir_.Path("vzdump.conf")), "script: " + wrapper_ + "\n"))
        << ReadText(dir_.Path("vzdump.conf"));
  }
  void UseMonitor(const std::string& key) { UseMonitors({key}); }

  // A configuration (mode 0600) pushing for the jobs of MONITORS to the
  // server in use. The job list comes from the files alone: no PVE API
  // token, pvesh pointed at a path that does not exist (on a real PVE node
  // the test must not read the node's own jobs), vzdump.cron absent.
  void WriteConfig(const std::string& name, const std::vector<Monitor>& monitors) {
    json kuma = {{"url", server_->url()}, {"ca_file", g_env->ca_file()}, {"timeout_seconds", 10}};
    if (!server_->server_name().empty()) kuma["server_name"] = server_->server_name();
    json jobs = json::object();
    for (const auto& monitor : monitors) jobs[monitor.job_id] = {{"push_token", monitor.token}};
    // The default placement: the hook is this node's vzdump.conf default.
    json config = {{"node", "pve1"},
                   {"kuma", kuma},
                   {"jobs", jobs},
                   {"guard", {{"placement", "node"}}},
                   {"pve", {{"pvesh", dir_.Path("no-pvesh")}}},
                   {"paths",
                    {{"hook_script", wrapper_},
                     {"vzdump_conf", dir_.Path("vzdump.conf")},
                     {"pve_dir", dir_.Path("pve")},
                     {"state_dir", state_dir_},
                     {"scheduler_dir", dir_.Path("jobs")},
                     {"jobs_cfg", dir_.Path("jobs.cfg")},
                     {"vzdump_cron", dir_.Path("vzdump.cron")},
                     {"proc", "/proc"}}}};
    const std::string path = dir_.Write(name, config.dump(2) + "\n");  // mode 0600
    ASSERT_EQ(chmod(path.c_str(), 0600), 0);
    config_paths_.insert(path);
  }

  std::vector<std::string> SimArgs(const json& scenario, std::string* summary_path) {
    const std::string n = std::to_string(++runs_);
    const std::string scenario_path = dir_.Write("scenario-" + n + ".json", scenario.dump(2));
    *summary_path = dir_.Path("summary-" + n + ".json");
    return {kBinDir + "/pbk-vzdump-sim",
            "--vzdump-conf",
            dir_.Path("vzdump.conf"),
            "--scenario",
            scenario_path,
            "--summary",
            *summary_path,
            "--scheduler-dir",
            dir_.Path("jobs"),
            "--hook-timeout",
            "60"};
  }

  SimRun ReadSummary(RunResult process, const std::string& summary_path, int64_t wall_start_ms) {
    SimRun run;
    run.process = std::move(process);
    run.wall_start_ms = wall_start_ms;
    Remember(run.process);
    const std::string text = ReadText(summary_path);
    outputs_.push_back(text);
    run.summary = json::parse(text, nullptr, /*allow_exceptions=*/false);
    EXPECT_TRUE(run.summary.is_object())
        << "no summary from the simulator (" << run.process.Describe() << "): " << run.Log();
    if (!run.summary.is_object()) run.summary = json{{"calls", json::array()}};
    return run;
  }

  // One vzdump run of SCENARIO through the wrapper.
  SimRun RunSim(const json& scenario) {
    std::string summary_path;
    std::vector<std::string> argv = SimArgs(scenario, &summary_path);
    const int64_t wall_start = WallMs();
    RunResult process = pbk::testing::Run(argv, nullptr, seconds(120));
    EXPECT_FALSE(process.timed_out) << process.out << process.err;
    return ReadSummary(std::move(process), summary_path, wall_start);
  }

  // pbk-agent ARGS with config.json, or with CONFIG_PATH when given.
  RunResult Agent(const std::vector<std::string>& args, const std::string& config_path = "") {
    std::vector<std::string> argv = {kBinDir + "/pbk-agent", "--config",
                                     config_path.empty() ? config_path_ : config_path};
    argv.insert(argv.end(), args.begin(), args.end());
    RunResult result = pbk::testing::Run(argv, nullptr, seconds(60));
    Remember(result);
    return result;
  }

  void Remember(const RunResult& result) {
    outputs_.push_back(result.out);
    outputs_.push_back(result.err);
  }

  std::vector<std::string> SpoolFiles() const { return FilesIn(state_dir_ + "/spool"); }

  std::vector<json> Heartbeats(size_t min_count = 1) {
    return g_env->Heartbeats(*server_, monitor_, min_count);
  }

  // The push message the hook reported in the task log of PHASE
  // ("pbk-agent: pushed up to Uptime Kuma for job <id>: <message>").
  std::string PushedMessage(const SimRun& run, const std::string& phase,
                            const std::string& status) {
    const std::string prefix =
        "pbk-agent: pushed " + status + " to Uptime Kuma for job " + monitor_.job_id + ": ";
    const std::string line = run.Line(phase, prefix);
    EXPECT_NE(line, "") << "no '" << prefix << "' line in the task log:\n" << run.Log();
    return line.empty() ? "" : line.substr(prefix.size());
  }

  // ping is the run's duration as the hook measured it: from its job-init
  // call to its end-phase call. The hook reads its clock inside those calls,
  // so the duration lies between the two calls' start gaps, widened by each
  // call's own run time.
  static void ExpectPingIsTheRunsDuration(const json& heartbeat, const SimRun& run,
                                          const std::string& end_phase, double archive_ms) {
    const json& ping = At(heartbeat, "ping");
    ASSERT_TRUE(ping.is_number_integer()) << heartbeat.dump();
    const double value = ping.get<double>();
    const json init = run.Call("job-init");
    const json end = run.Call(end_phase);
    const double low = Num(end, "start_ms") - Num(init, "start_ms") - Num(init, "exit_ms") - 2;
    const double high = Num(end, "start_ms") + Num(end, "exit_ms") - Num(init, "start_ms") + 2;
    EXPECT_GE(value, low) << heartbeat.dump() << "\n" << init.dump() << "\n" << end.dump();
    EXPECT_LE(value, high) << heartbeat.dump() << "\n" << init.dump() << "\n" << end.dump();
    EXPECT_GE(value, archive_ms) << heartbeat.dump();
  }

  // Push tokens must not show up in anything the tests or the hook printed
  // or wrote: task logs, stdout/stderr, summaries, run records, spool. The
  // configuration holds them by design (and Kuma's database and log are
  // elsewhere, in the environment's folder).
  void ExpectNoTokenLeaked() {
    const auto texts = TextsToScan(outputs_, dir_.path(), config_paths_);
    EXPECT_GT(texts.size(), 0u);
    for (const auto& token : g_env->Tokens()) {
      for (const auto& [where, text] : texts) {
        EXPECT_FALSE(Contains(text, token)) << "a push token leaked into " << where << ":\n"
                                            << text;
      }
    }
  }

  // Starts KUMA again when an earlier case left it stopped.
  static void EnsureRunning(KumaServer& kuma) {
    if (kuma.running()) return;
    const std::string failure = g_env->StartAndWait({&kuma});
    ASSERT_EQ(failure, "") << failure;
  }

  // One restart of a Kuma server: wall-clock times in ms.
  struct KumaRestart {
    int64_t term_ms = 0;    // SIGTERM sent
    int64_t launch_ms = 0;  // node started again (Kuma's monitors start after this)
    int64_t ready_ms = 0;   // first answer (Kuma starts its monitors as it starts listening)
  };

  // SIGTERM by pid, wait for the end, start again on the same port with the
  // same data folder, wait until it answers.
  static void RestartKuma(KumaServer& kuma, KumaRestart* restart) {
    restart->term_ms = WallMs();
    kuma.Stop();
    ASSERT_FALSE(kuma.running());
    restart->launch_ms = WallMs();
    const std::string failure = g_env->StartAndWait({&kuma});
    restart->ready_ms = WallMs();
    ASSERT_EQ(failure, "") << failure;
  }

  // MONITOR's newest heartbeat (null when it has none).
  static json LastHeartbeat(KumaServer& kuma, const Monitor& monitor) {
    std::vector<json> beats = g_env->Heartbeats(kuma, monitor, 0, milliseconds(0));
    return beats.empty() ? json() : beats.back();
  }

  // Polls MONITOR's heartbeats until one with id above AFTER_ID is DOWN, or
  // the wall clock passes DEADLINE_MS; that heartbeat, or null.
  static json AwaitDown(KumaServer& kuma, const Monitor& monitor, int64_t after_id,
                        int64_t deadline_ms) {
    for (;;) {
      for (const json& beat : g_env->Heartbeats(kuma, monitor, 0, milliseconds(0))) {
        if (At(beat, "id").get<int64_t>() > after_id && At(beat, "status") == 0) return beat;
      }
      if (WallMs() >= deadline_ms) return json();
      std::this_thread::sleep_for(milliseconds(250));
    }
  }

  // The scheduler's state file of MONITOR's job: stopped, OK, with a UPID
  // (of a worker long gone) that started at START (seconds).
  void WriteSchedulerState(const Monitor& monitor, int64_t start) {
    char fields[64];
    std::snprintf(fields, sizeof fields, "%08X:%08X:%08llX", 0x3FFFF0u, 0x1234u,
                  static_cast<unsigned long long>(start));
    const json state = {{"state", "stopped"},
                        {"msg", "OK"},
                        {"upid", "UPID:pve1:" + std::string(fields) + ":vzdump::root@pam:"}};
    dir_.Write("jobs/vzdump-" + monitor.job_id + ".json", state.dump());
  }

  TestDir dir_;
  std::string state_dir_;
  std::string config_path_;
  std::string wrapper_;
  std::set<std::string> config_paths_;  // exempt from the token scan: they hold tokens by design
  KumaServer* server_ = nullptr;
  Monitor monitor_;
  std::vector<Monitor> monitors_;
  std::vector<std::string> outputs_;
  int runs_ = 0;
};

}  // namespace pbk::testing::kuma_e2e
