// The node the refresh tests run on (RefreshRunsFixture): the fake PVE with
// the jobs as PVE lists them, the fake Kuma, the configuration, and runs
// made by pbk-vzdump-sim through the hook wrapper (held in the middle by a
// gate when a test needs one), and pbk-agent in the background.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/blackbox/refresh_blackbox_helpers.h"
#include "tests/support/pve_files.h"
#include "tests/support/pve_node_fixture.h"

namespace pbk::testing::refresh_blackbox {

class RefreshRunsFixture : public PveNodeFixture {
 protected:
  void SetUp() override {
    agent_timeout_ = seconds(60);
    ASSERT_NO_FATAL_FAILURE(SetUpNode(kApiSecret));
    sched_dir_ = dir_.Path("sched");
    std::filesystem::create_directories(sched_dir_);
    std::string err;
    ASSERT_TRUE(RenderHookWrapper(kSourceDir, kBinDir + "/pbk-agent", config_path_, hook_, &err))
        << err;
    pve_ = std::make_unique<FakePve>(PveOptions());
    ASSERT_NO_FATAL_FAILURE(WriteJobs({AllJob(kJob)}));
    ASSERT_TRUE(pve_->WriteRootFile("vzdump.cron", "")) << "vzdump.cron";
    // web01 and db01 live here, 110 on pve2.
    ASSERT_NO_FATAL_FAILURE(PlaceGuests(
        {{100, kNode, "web01", false}, {101, kNode, "db01", false}, {110, "pve2", "mail", false}}));
    ASSERT_NO_FATAL_FAILURE(StartPve());
  }

  void TearDown() override {
    // Nothing a gated run left behind may wait for the gate any longer.
    if (!gate_dir_.empty()) dir_.Write("gate/open", "");
    PveNodeFixture::TearDown();
  }

  // A job of all guests with the hook, as the guard leaves it.
  JobSpec AllJob(const std::string& id, const std::string& schedule = "21:00") const {
    return JobSpec{id,
                   schedule,
                   {{"all", "1"},
                    {"enabled", "1"},
                    {"mode", "snapshot"},
                    {"script", hook_},
                    {"storage", "pbs1"}}};
  }
  // A job of some guests with the hook.
  JobSpec VmidJob(const std::string& id, const std::string& vmids) const {
    JobSpec job = AllJob(id);
    job.options.erase("all");
    job.options["vmid"] = vmids;
    return job;
  }

  // jobs.cfg in PVE's order: schedule first, the other keys alphabetically.
  void WriteJobs(const std::vector<JobSpec>& jobs) {
    std::vector<std::string> sections;
    for (const auto& job : jobs) {
      sections.push_back(VzdumpSection(job.id, job.schedule, job.options));
    }
    ASSERT_TRUE(pve_->WriteRootFile("jobs.cfg", JobsCfg(sections)));
  }

  void StartKuma(std::optional<std::vector<std::string>> tokens = std::nullopt) {
    StartKumaWith("ip", std::move(tokens));
  }
  void RestartKuma() {
    const uint16_t port = kuma_->port();
    std::string err;
    ASSERT_TRUE(kuma_->Start(&err)) << err;
    ASSERT_EQ(kuma_->port(), port);
  }

  void WriteConfig(const AgentSetup& setup = {}) {
    ASSERT_TRUE(kuma_) << "start Kuma first: the configuration names its port";
    json config = {{"node", kNode},
                   {"kuma", KumaSection(setup.timeout_seconds)},
                   {"jobs", JobTokens(setup.jobs)},
                   {"refresh", {{"start_grace_minutes", 30}}},
                   {"pve", PveSection(pvesh_, 5)},
                   {"paths",
                    {{"hook_script", hook_},
                     {"state_dir", state_dir_},
                     {"scheduler_dir", sched_dir_},
                     {"jobs_cfg", pve_->RootPath("jobs.cfg")},
                     {"vzdump_cron", pve_->RootPath("vzdump.cron")},
                     {"proc", "/proc"}}}};
    if (setup.node_monitor) {
      config["node_monitor"] = {{"push_token", kNodeToken}};
      secrets_.insert(kNodeToken);
      RegisterSecret(kNodeToken);
    }
    if (setup.gate) config["hook"] = {{"chain", {WriteGateScript()}}};
    ASSERT_NO_FATAL_FAILURE(WriteConfigFile(config));
  }

  // --- a run held in the middle ---------------------------------------------
  //
  // The gate script runs (through hook.chain) in every phase; once armed, it
  // holds the run in backup-end of guest 100 (after the hook recorded that
  // phase) until the test opens the gate. No clock decides where a run is.
  std::string WriteGateScript() {
    gate_dir_ = dir_.Path("gate");
    std::filesystem::create_directories(gate_dir_);
    std::string script =
        "#!/bin/sh\n"
        "if [ \"$1\" = backup-end ] && [ \"$3\" = 100 ] && [ -e GATE/armed ]; then\n"
        "  : >GATE/waiting\n"
        "  while [ ! -e GATE/open ]; do /bin/sleep 0.05; done\n"
        "  /bin/rm -f GATE/armed GATE/waiting\n"
        "fi\n"
        "exit 0\n";
    for (size_t at = script.find("GATE"); at != std::string::npos;
         at = script.find("GATE", at + gate_dir_.size())) {
      script.replace(at, 4, gate_dir_);
    }
    const std::string path = dir_.Write("gate.sh", script);
    EXPECT_EQ(chmod(path.c_str(), 0755), 0);
    return path;
  }
  void ArmGate() {
    std::filesystem::remove(gate_dir_ + "/open");
    dir_.Write("gate/armed", "");
  }
  // Waits until a run stands at the gate.
  bool AtGate() {
    return WaitUntil([&] { return Exists(gate_dir_ + "/waiting"); }, seconds(30));
  }
  // Opens it and waits until the held run went on.
  bool OpenGate() {
    dir_.Write("gate/open", "");
    return WaitUntil([&] { return !Exists(gate_dir_ + "/armed"); }, seconds(30));
  }

  // --- runs -------------------------------------------------------------------

  struct SimGuest {
    int vmid;
    std::string name;
    std::string run;
    double archive_seconds;
  };
  // A scheduled run of JOB_ID to STORAGE (a word that names the run in
  // every message about it).
  static json Scenario(const std::string& job_id, const std::string& storage,
                       const std::vector<SimGuest>& guests) {
    json list = json::array();
    for (const auto& guest : guests) {
      json entry = {
          {"vmid", guest.vmid}, {"type", "qemu"}, {"name", guest.name}, {"run", guest.run}};
      if (guest.archive_seconds > 0) entry["archive_seconds"] = guest.archive_seconds;
      list.push_back(entry);
    }
    return {{"storage", storage},
            {"guests", list},
            {"job_id", job_id},
            {"job_config", {{"storage", storage}, {"all", 1}, {"mode", "snapshot"}}}};
  }
  static json TwoGuests(const std::string& job_id, const std::string& storage,
                        const std::string& run_101 = "snapshot", double archive_seconds = 0) {
    return Scenario(
        job_id, storage,
        {{100, "web01", "snapshot", archive_seconds}, {101, "db01", run_101, archive_seconds}});
  }

  std::vector<std::string> SimArgv(const json& scenario, std::string* summary_path) {
    const std::string n = std::to_string(++runs_);
    const std::string scenario_path = dir_.Write("scenario-" + n + ".json", scenario.dump(2));
    *summary_path = dir_.Path("summary-" + n + ".json");
    return {kBinDir + "/pbk-vzdump-sim",
            "--hook",
            hook_,
            "--scenario",
            scenario_path,
            "--summary",
            *summary_path,
            "--scheduler-dir",
            sched_dir_,
            "--hook-timeout",
            "30"};
  }

  SimRun ReadSummary(RunResult process, const std::string& summary_path) {
    SimRun run;
    run.process = std::move(process);
    Remember(run.process);
    const std::string text = ReadText(summary_path);
    Remember(text);
    run.summary = json::parse(text, nullptr, /*allow_exceptions=*/false);
    EXPECT_TRUE(run.summary.is_object())
        << "no summary from the simulator (" << run.process.Describe() << "): " << run.Log();
    // UPID:node:PID:PSTART:STARTTIME:…
    const std::string upid = Str(run.summary, "upid");
    size_t field = 0;
    for (int colons = 0; colons < 4 && field != std::string::npos; ++colons) {
      field = upid.find(':', field == 0 ? 0 : field + 1);
    }
    if (field != std::string::npos && !upid.empty()) {
      last_start_ = std::max<int64_t>(
          last_start_, static_cast<int64_t>(std::stoll(upid.substr(field + 1, 8), nullptr, 16)));
    }
    return run;
  }

  // A UPID's start is in whole seconds. Each run here starts in a second of
  // its own, so that the order of runs is never a tie (for ties see
  // RunsStartingInTheSameSecond…).
  void NextSecond() {
    EXPECT_TRUE(WaitUntil([&] { return NowSeconds() > last_start_; }, seconds(3)));
    last_start_ = NowSeconds();
  }

  SimRun RunSim(const json& scenario) {
    NextSecond();
    std::string summary_path;
    RunResult process = pbk::testing::Run(SimArgv(scenario, &summary_path), nullptr, seconds(60));
    EXPECT_FALSE(process.timed_out) << process.out << process.err;
    return ReadSummary(std::move(process), summary_path);
  }

  // A run in the background; FinishSim() collects it.
  struct Background {
    BackgroundProcess process;
    std::string out, err, summary;
  };
  void StartSim(const json& scenario, Background* sim) {
    NextSecond();
    sim->out = dir_.Path("sim-" + std::to_string(runs_ + 1) + ".out");
    sim->err = dir_.Path("sim-" + std::to_string(runs_ + 1) + ".err");
    std::string err;
    ASSERT_TRUE(
        sim->process.Start(SimArgv(scenario, &sim->summary), nullptr, sim->out, sim->err, &err))
        << err;
  }
  SimRun FinishSim(Background* sim) {
    EXPECT_TRUE(sim->process.Wait(seconds(60))) << "the simulated run did not end";
    RunResult process;
    process.started = true;
    process.exit_code = sim->process.exit_code();
    process.signal = sim->process.term_signal();
    process.out = ReadText(sim->out);
    process.err = ReadText(sim->err);
    return ReadSummary(std::move(process), sim->summary);
  }

  // --- pbk-agent ----------------------------------------------------------------

  // pbk-agent in the background; FinishAgent() collects it.
  void StartAgent(const std::vector<std::string>& args, Background* agent) {
    const std::string n = std::to_string(++agents_);
    agent->out = dir_.Path("agent-" + n + ".out");
    agent->err = dir_.Path("agent-" + n + ".err");
    std::string err;
    ASSERT_TRUE(agent->process.Start(AgentArgv(args), nullptr, agent->out, agent->err, &err))
        << err;
  }
  RunResult FinishAgent(Background* agent) {
    EXPECT_TRUE(agent->process.Wait(seconds(60))) << "pbk-agent did not end";
    RunResult result;
    result.started = true;
    result.exit_code = agent->process.exit_code();
    result.signal = agent->process.term_signal();
    result.out = ReadText(agent->out);
    result.err = ReadText(agent->err);
    Remember(result);
    return result;
  }

  std::string sched_dir_;
  std::string gate_dir_;
  int runs_ = 0;
  int agents_ = 0;
  int64_t last_start_ = 0;  // when the last simulated run was started, in seconds
};

}  // namespace pbk::testing::refresh_blackbox
