// What the black-box tests of `pbk-agent refresh` share (see
// refresh_blackbox_test.cpp): jobs as PVE lists them, runs made by
// pbk-vzdump-sim, and the fixture that owns the fakes, the hook and the agent.
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

#include "tests/support/fake_kuma.h"
#include "tests/support/fake_pve.h"
#include "tests/support/process.h"
#include "tests/support/suite_log.h"
#include "tests/support/test_certs.h"
#include "tests/support/test_dir.h"
#include "tests/support/test_text.h"

namespace pbk::testing::refresh_blackbox {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

const std::string kBinDir = PBK_BIN_DIR;
const std::string kSourceDir = PBK_SOURCE_DIR;

constexpr char kTokenId[] = "pbk-agent@pve!guard";
constexpr char kNode[] = "pve1";

// The job most tests watch: all guests, daily at 21:00.
constexpr char kJob[] = "backup-8d6f3a2c-1b4e";
// All guests, daily at 03:00; its id sorts before kJob's, so refresh pushes
// it first.
constexpr char kJobEarly[] = "backup-1f0c7d42-9e31";
// Jobs whose part each test sets.
constexpr char kJobOther[] = "backup-7e2d5b10-a8f4";
constexpr char kJobMore[] = "backup-5c01e9aa-73d2";

// Push tokens as Kuma makes them: random letters and digits.
constexpr char kToken[] = "Tq3Vb8Nw2Kx6Hz9Lm4Rc";
constexpr char kTokenEarly[] = "Ya7Pd1Ge5Ju8Sf2Wn6Qk";
constexpr char kTokenOther[] = "Mb4Xr9Cv3Lt7Dh1Zp5Ae";
constexpr char kTokenMore[] = "Fs8Kw2Ny6Bq3Gm9Tj4Uo";
constexpr char kNodeToken[] = "Rn5Ec1Hx7Wa3Vk8Pi2Ld";
constexpr char kApiSecret[] = "3f9c1d7e-5a2b-4c8d-9e0f-a1b2c3d4e5f6";

// --- small helpers ------------------------------------------------------------

inline int64_t NowSeconds() { return static_cast<int64_t>(time(nullptr)); }

// As pbk-agent writes times in messages (FormatLocalTime): local time.
inline std::string LocalTime(int64_t epoch_seconds) {
  const time_t t = static_cast<time_t>(epoch_seconds);
  struct tm local {};
  localtime_r(&t, &local);
  char buffer[32];
  strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M:%S %z", &local);
  return buffer;
}

// The first local HOUR:MINUTE strictly after AFTER (seconds).
inline int64_t NextDaily(int64_t after, int hour, int minute) {
  const time_t t = static_cast<time_t>(after);
  struct tm local {};
  localtime_r(&t, &local);
  for (int day = 0; day < 3; ++day) {
    struct tm candidate = local;
    candidate.tm_mday += day;
    candidate.tm_hour = hour;
    candidate.tm_min = minute;
    candidate.tm_sec = 0;
    candidate.tm_isdst = -1;
    const int64_t at = static_cast<int64_t>(mktime(&candidate));
    if (at > after) return at;
  }
  return 0;
}

// A UPID as PVE writes it (hex fields).
inline std::string Upid(unsigned long long pid, unsigned long long pstart, int64_t start) {
  char fields[64];
  std::snprintf(fields, sizeof fields, "%08llX:%08llX:%08llX", pid, pstart,
                static_cast<unsigned long long>(start));
  return std::string("UPID:") + kNode + ":" + fields + ":vzdump::root@pam:";
}

// A worker that surely is not alive: a pid near the top of the range with a
// start time no process of this boot has.
inline std::string DeadUpid(int64_t start) { return Upid(4194000, 1, start); }

inline bool WaitUntil(const std::function<bool()>& done, milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return true;
}

inline bool Exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

inline std::vector<std::string> FilesIn(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (!entry.is_regular_file()) continue;
    const std::string name = entry.path().filename().string();
    if (!StartsWith(name, ".")) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

inline std::string Msg(const json& request) { return Str(At(request, "query"), "msg"); }
inline bool HasPing(const json& request) { return At(request, "query").contains("ping"); }

// A job's message without its "; next run …" tail (which moves with the clock).
inline std::string WithoutNextRun(const std::string& message) {
  return message.substr(0, message.find("; next run "));
}

inline std::string Describe(const std::vector<json>& pushes) {
  std::string text;
  for (size_t i = 0; i < pushes.size(); ++i) {
    text += "  #" + std::to_string(i + 1) + " " + Str(At(pushes[i], "query"), "status") +
            (HasPing(pushes[i]) ? " (ping)" : "") + ": " + Msg(pushes[i]) + "\n";
  }
  return text;
}

// A lock the test holds as another pbk-agent process would (flock, as
// FileLock does), e.g. on state_dir/locks/job-<id>.lock.
class HeldLock {
 public:
  ~HeldLock() { Release(); }
  bool Take(const std::string& path) {
    fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    return fd_ >= 0 && flock(fd_, LOCK_EX | LOCK_NB) == 0;
  }
  void Release() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// --- jobs as PVE lists them ------------------------------------------------------

struct JobSpec {
  std::string id;
  std::string schedule = "21:00";
  // Options besides the schedule, as jobs.cfg holds them; "script" empty
  // leaves the line out.
  std::map<std::string, std::string> options;
};

// --- the fixture --------------------------------------------------------------------

struct AgentSetup {
  std::map<std::string, std::string> jobs = {{kJob, kToken}};  // job id -> push token
  bool node_monitor = true;
  int timeout_seconds = 3;
  // hook.chain: the gate script, which can hold a run in backup-end of guest
  // 100 (see ArmGate).
  bool gate = false;
};

struct SimRun {
  RunResult process;
  json summary;

  json Call(const std::string& phase) const {
    for (const auto& call : At(summary, "calls")) {
      if (Str(call, "phase") == phase) return call;
    }
    return json();
  }
  // What PHASE wrote to the task log.
  std::string TaskLog(const std::string& phase) const {
    std::string text;
    const json call = Call(phase);
    for (const auto& line : At(call, "stdout")) {
      if (line.is_string()) text += line.get<std::string>() + "\n";
    }
    return text;
  }
  std::string Log() const { return process.out + process.err; }
};

class RefreshBlackboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string err;
    ASSERT_TRUE(MakeTestCertificates(dir_.Path("certs"), &err)) << err;
    hook_ = dir_.Path("vzdump-uptime-kuma-hook.sh");
    state_dir_ = dir_.Path("state");
    sched_dir_ = dir_.Path("sched");
    config_path_ = dir_.Path("config.json");
    std::filesystem::create_directories(sched_dir_);
    ASSERT_TRUE(RenderHookWrapper(kSourceDir, kBinDir + "/pbk-agent", config_path_, hook_, &err))
        << err;

    secrets_.insert(kApiSecret);
    RegisterSecret(kApiSecret);
    json tokens = {{kTokenId, {{"secret", kApiSecret}, {"privs", {"Sys.Audit"}}}}};
    tokens_path_ = dir_.Write("tokens.json", tokens.dump(2) + "\n");
    secret_file_ = dir_.Write("pve-token", std::string(kApiSecret) + "\n");

    FakePveOptions options;
    options.root = dir_.Path("root");
    options.cert = Cert("pve");
    options.key = Key("pve");
    options.tokens = tokens_path_;
    options.work_dir = dir_.path();
    pve_ = std::make_unique<FakePve>(options);
    ASSERT_NO_FATAL_FAILURE(WriteJobs({AllJob(kJob)}));
    ASSERT_TRUE(pve_->WriteRootFile("vzdump.cron", "")) << "vzdump.cron";
    // web01 and db01 live here, 110 on pve2.
    PlaceGuests(
        {{100, kNode, "web01", false}, {101, kNode, "db01", false}, {110, "pve2", "mail", false}});
    ASSERT_TRUE(pve_->Start(&err)) << err;
    pvesh_ = pve_->InstallPvesh(dir_.path());
    ASSERT_FALSE(pvesh_.empty());
  }

  void TearDown() override {
    // Nothing a gated run left behind may wait for the gate any longer.
    if (!gate_dir_.empty()) dir_.Write("gate/open", "");
    if (kuma_) kuma_->Stop();
    if (pve_) pve_->Stop();
    ExpectNoSecretLeaked();
  }

  std::string Cert(const std::string& name) const { return dir_.Path("certs/" + name + ".pem"); }
  std::string Key(const std::string& name) const { return dir_.Path("certs/" + name + ".key"); }

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
    std::string text;
    for (const auto& job : jobs) {
      if (!text.empty()) text += "\n";
      text += "vzdump: " + job.id + "\n\tschedule " + job.schedule + "\n";
      for (const auto& [key, value] : job.options) {
        if (!value.empty()) text += "\t" + key + " " + value + "\n";
      }
    }
    ASSERT_TRUE(pve_->WriteRootFile("jobs.cfg", text));
  }

  struct Placed {
    int vmid;
    std::string node;
    std::string name;
    bool is_template;
  };
  // The cluster's guests, as /cluster/resources lists them.
  void PlaceGuests(const std::vector<Placed>& guests) {
    json list = json::array();
    for (const auto& guest : guests) {
      list.push_back({{"vmid", guest.vmid},
                      {"node", guest.node},
                      {"type", "qemu"},
                      {"name", guest.name},
                      {"status", "running"},
                      {"template", guest.is_template ? 1 : 0},
                      {"id", "qemu/" + std::to_string(guest.vmid)}});
    }
    ASSERT_TRUE(pve_->WriteRootFile("resources.json", list.dump()));
  }

  void StartKuma(std::optional<std::vector<std::string>> tokens = std::nullopt) {
    FakeKumaOptions options;
    options.cert = Cert("ip");
    options.key = Key("ip");
    options.tokens = std::move(tokens);
    options.work_dir = dir_.path();
    kuma_ = std::make_unique<FakeKuma>(options);
    std::string err;
    ASSERT_TRUE(kuma_->Start(&err)) << err;
  }
  void RestartKuma() {
    const uint16_t port = kuma_->port();
    std::string err;
    ASSERT_TRUE(kuma_->Start(&err)) << err;
    ASSERT_EQ(kuma_->port(), port);
  }

  void WriteConfig(const AgentSetup& setup = {}) {
    ASSERT_TRUE(kuma_) << "start Kuma first: the configuration names its port";
    json jobs = json::object();
    for (const auto& [id, token] : setup.jobs) {
      jobs[id] = {{"push_token", token}};
      secrets_.insert(token);
      RegisterSecret(token);
    }
    json config = {{"node", kNode},
                   {"kuma",
                    {{"url", kuma_->url()},
                     {"ca_file", Cert("ca")},
                     {"timeout_seconds", setup.timeout_seconds}}},
                   {"jobs", jobs},
                   {"refresh", {{"start_grace_minutes", 30}}},
                   {"pve",
                    {{"api_url", pve_->url()},
                     {"ca_file", Cert("ca")},
                     {"token_id", kTokenId},
                     {"token_secret_file", secret_file_},
                     {"pvesh", pvesh_},
                     {"timeout_seconds", 5}}},
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
    dir_.Write("config.json", config.dump(2) + "\n");
    ASSERT_EQ(chmod(config_path_.c_str(), 0600), 0);
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

  std::vector<std::string> AgentArgv(const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {kBinDir + "/pbk-agent", "--config", config_path_};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }

  RunResult Agent(const std::vector<std::string>& args) {
    RunResult result = pbk::testing::Run(AgentArgv(args), nullptr, seconds(60));
    Remember(result);
    EXPECT_TRUE(result.started) << result.error;
    EXPECT_FALSE(result.timed_out) << result.Describe() << "\n" << result.out << result.err;
    return result;
  }

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

  void Remember(const RunResult& result) {
    Remember(result.out);
    Remember(result.err);
  }
  void Remember(const std::string& text) {
    outputs_.push_back(text);
    RecordSuiteOutput(text);
  }

  // The job (or node) entry of a `refresh --json` document; null when missing.
  static json MonitorEntry(const json& document, const std::string& monitor) {
    for (const auto& entry : At(document, "monitors")) {
      if (Str(entry, "monitor") == monitor) return entry;
    }
    return json();
  }
  // What refresh says now, pushing nothing: the job's (or node's) entry.
  json CurrentState(const std::string& monitor) {
    RunResult now = Agent({"refresh", "--dry-run", "--json"});
    json document = json::parse(now.out, nullptr, /*allow_exceptions=*/false);
    EXPECT_TRUE(document.is_object()) << now.out << now.err;
    json entry = MonitorEntry(document, monitor);
    EXPECT_FALSE(entry.is_null()) << monitor << " missing:\n" << now.out;
    return entry;
  }

  // --- what Kuma received -----------------------------------------------------------

  size_t Mark() const { return kuma_->Requests().size(); }
  std::vector<json> RequestsSince(size_t mark) const {
    auto requests = kuma_->Requests();
    return std::vector<json>(requests.begin() + static_cast<long>(std::min(mark, requests.size())),
                             requests.end());
  }
  std::vector<json> PushesSince(size_t mark, const std::string& token) const {
    std::vector<json> pushes;
    for (auto& request : RequestsSince(mark)) {
      if (Str(request, "token") == token) pushes.push_back(std::move(request));
    }
    return pushes;
  }

  // --- files ---------------------------------------------------------------------

  std::string SpoolDir() const { return state_dir_ + "/spool"; }
  std::string FailedDir() const { return state_dir_ + "/spool/failed"; }
  std::vector<std::string> SpoolEntries() const {
    std::vector<std::string> entries;
    for (const auto& name : FilesIn(SpoolDir())) {
      if (name.size() > 5 && name.compare(name.size() - 5, 5, ".json") == 0) {
        entries.push_back(name);
      }
    }
    return entries;
  }

  // A spool entry as hook/spool.cpp SerializeSpooledPush writes it, in
  // state_dir/SUBDIR/KEY.json.
  std::string WriteSpoolEntry(const std::string& subdir, const std::string& key,
                              const std::string& job_id, bool up, const std::string& message,
                              int64_t created_ms) {
    const json entry = {{"format", 1},    {"job_id", job_id}, {"status", up ? "up" : "down"},
                        {"msg", message}, {"ping", 725000},   {"created", created_ms},
                        {"run", key},     {"attempts", 1},    {"last_error", "connection refused"}};
    return dir_.Write("state/" + subdir + "/" + key + ".json", entry.dump(1) + "\n");
  }

  // A finished run as the hook records it (hook/run_record.cpp).
  // Its job-start comes JOB_START_AFTER seconds after the worker started
  // (a run waits there for the node's vzdump lock), its end DURATION later.
  void WriteRunRecord(const std::string& job_id, const std::string& upid, int64_t start, bool up,
                      const std::string& message, int64_t job_start_after = 0,
                      int64_t duration = 300) {
    const std::vector<std::string> fields = [&] {
      std::vector<std::string> parts;
      size_t from = 0;
      for (size_t at = upid.find(':'); at != std::string::npos; at = upid.find(':', from)) {
        parts.push_back(upid.substr(from, at - from));
        from = at + 1;
      }
      return parts;
    }();
    const std::string key =
        "upid-" + std::string(kNode) + "-" + fields[2] + "-" + fields[3] + "-" + fields[4];
    const int64_t start_ms = start * 1000;
    const int64_t job_start_ms = start_ms + job_start_after * 1000;
    const int64_t end_ms = job_start_ms + duration * 1000;
    json guests = json::array();
    for (const auto& [vmid, name] :
         std::vector<std::pair<int, std::string>>{{100, "web01"}, {101, "db01"}}) {
      guests.push_back({{"vmid", vmid},
                        {"type", "qemu"},
                        {"name", name},
                        {"mode", "snapshot"},
                        {"target", "vm/" + std::to_string(vmid) + "/x"},
                        {"result", up ? "ok" : "failed"},
                        {"started", job_start_ms + 1000},
                        {"ended", end_ms - 1000}});
    }
    const json record = {{"format", 1},
                         {"key", key},
                         {"upid", upid},
                         {"worker_pid", 4194000},
                         {"node", kNode},
                         {"storage", "pbs1"},
                         {"dumpdir", ""},
                         {"first", start_ms},
                         {"job_start", job_start_ms},
                         {"end", end_ms},
                         {"end_phase", "job-end"},
                         {"guests", guests},
                         {"job_id", job_id},
                         {"job_source", "scheduler"},
                         {"push",
                          {{"state", "delivered"},
                           {"up", up},
                           {"message", message},
                           {"ping", end_ms - job_start_ms},
                           {"at", end_ms},
                           {"detail", ""}}}};
    dir_.Write("state/runs/" + key + ".json", record.dump(1) + "\n");
  }

  void WriteSchedulerState(const std::string& job_id, const json& state) {
    dir_.Write("sched/vzdump-" + job_id + ".json", state.dump());
  }

  // What refresh remembers (agent/refresh.cpp SaveRefreshMemory): that it
  // has seen each job, as it is now, since SINCE.
  void WriteRefreshMemory(const std::map<std::string, std::string>& schedules, int64_t since) {
    json jobs = json::object();
    for (const auto& [id, schedule] : schedules) {
      jobs[id] = {{"schedule", schedule}, {"enabled", true}, {"since", since}};
    }
    dir_.Write("state/refresh.json", json({{"format", 1}, {"jobs", jobs}}).dump(1) + "\n");
  }

  std::string LockPath(const std::string& job_id) const {
    return state_dir_ + "/locks/job-" + job_id + ".lock";
  }

  // --- refresh, every way, for one picture of the node -------------------------

  struct Want {
    std::string job;  // "" for the node monitor
    std::string token;
    std::string state;  // refresh's state name; for the node "ok" or "problems"
    bool up = true;
    std::vector<std::string> words;   // each must be in the message
    std::vector<std::string> absent;  // none may be
  };
  static Want Node(bool up, std::vector<std::string> words, std::vector<std::string> absent = {}) {
    return Want{"", kNodeToken, up ? "ok" : "problems", up, std::move(words), std::move(absent)};
  }
  static std::string MonitorName(const Want& want) {
    return want.job.empty() ? std::string("node ") + kNode : "job " + want.job;
  }

  static void ExpectPushSays(const json& push, const Want& want) {
    const std::string status = want.up ? "up" : "down";
    EXPECT_EQ(Str(push, "method"), "GET") << push.dump();
    EXPECT_EQ(Str(push, "path"), "/api/push/" + want.token) << push.dump();
    EXPECT_EQ(Str(At(push, "query"), "status"), status) << MonitorName(want) << ": " << Msg(push);
    EXPECT_EQ(Str(At(push, "kuma"), "status"), status) << push.dump();
    EXPECT_EQ(At(push, "answered"), 200) << push.dump();
    EXPECT_FALSE(HasPing(push)) << "refresh sends no ping: " << push.dump();
    for (const auto& word : want.words) {
      EXPECT_TRUE(Contains(Msg(push), word))
          << MonitorName(want) << ": no \"" << word << "\" in: " << Msg(push);
    }
    for (const auto& word : want.absent) {
      EXPECT_FALSE(Contains(Msg(push), word))
          << MonitorName(want) << ": \"" << word << "\" in: " << Msg(push);
    }
  }

  // Runs refresh, refresh --service and refresh --dry-run --json, and checks
  // each against WANTS: one push per monitor (none in a dry run), what each
  // says, the exit codes, the JSON.
  void ExpectRefresh(const std::vector<Want>& wants) {
    const bool any_down =
        std::any_of(wants.begin(), wants.end(), [](const Want& want) { return !want.up; });
    const size_t downs = static_cast<size_t>(
        std::count_if(wants.begin(), wants.end(), [](const Want& want) { return !want.up; }));

    size_t mark = Mark();
    RunResult refresh = Agent({"refresh"});
    EXPECT_EQ(refresh.exit_code, any_down ? 1 : 0) << refresh.out << refresh.err;
    auto pushes = RequestsSince(mark);
    EXPECT_EQ(pushes.size(), wants.size()) << Describe(pushes);
    for (const auto& want : wants) {
      auto mine = PushesSince(mark, want.token);
      EXPECT_EQ(mine.size(), 1u) << MonitorName(want) << ":\n" << Describe(mine);
      if (!mine.empty()) ExpectPushSays(mine.front(), want);
      const std::string verdict = std::string(want.up ? "up" : "DOWN") + " (" + want.state + "): ";
      EXPECT_TRUE(Contains(refresh.err, MonitorName(want) + " pushed: " + verdict))
          << MonitorName(want) << " pushed: " << verdict << "\nin:\n"
          << refresh.err;
    }
    EXPECT_TRUE(Contains(refresh.err, "refresh: " + std::to_string(wants.size()) +
                                          " monitor(s) pushed, " + std::to_string(downs) +
                                          " down, 0 push(es) failed"))
        << refresh.err;

    // As a service, a monitor pushed down is Kuma's news, not a failure.
    mark = Mark();
    RunResult service = Agent({"refresh", "--service"});
    EXPECT_EQ(service.exit_code, 0) << service.out << service.err;
    EXPECT_EQ(RequestsSince(mark).size(), wants.size()) << Describe(RequestsSince(mark));
    for (const auto& want : wants) {
      auto mine = PushesSince(mark, want.token);
      EXPECT_EQ(mine.size(), 1u) << MonitorName(want) << " (--service):\n" << Describe(mine);
      if (!mine.empty()) ExpectPushSays(mine.front(), want);
    }

    // A dry run pushes nothing and tells the same in JSON, without a token.
    mark = Mark();
    RunResult dry = Agent({"refresh", "--dry-run", "--json"});
    EXPECT_EQ(dry.exit_code, any_down ? 1 : 0) << dry.out << dry.err;
    EXPECT_TRUE(RequestsSince(mark).empty()) << Describe(RequestsSince(mark));
    json document = json::parse(dry.out, nullptr, /*allow_exceptions=*/false);
    ASSERT_TRUE(document.is_object()) << dry.out << dry.err;
    EXPECT_EQ(At(document, "node"), kNode);
    EXPECT_EQ(At(document, "dry_run"), true);
    EXPECT_EQ(At(document, "pushed"), 0);
    EXPECT_EQ(At(document, "failed"), 0);
    EXPECT_EQ(At(document, "down"), downs);
    EXPECT_EQ(At(document, "source"), "rest");
    EXPECT_EQ(At(document, "monitors").size(), wants.size()) << document.dump(1);
    for (const auto& want : wants) {
      const json entry = MonitorEntry(document, MonitorName(want));
      ASSERT_FALSE(entry.is_null()) << MonitorName(want) << " missing:\n" << document.dump(1);
      EXPECT_EQ(Str(entry, "state"), want.state) << entry.dump();
      EXPECT_EQ(Str(entry, "status"), want.up ? "up" : "down") << entry.dump();
      EXPECT_EQ(At(entry, "pushed"), false) << entry.dump();
      EXPECT_TRUE(At(entry, "error").is_null()) << entry.dump();
      for (const auto& word : want.words) {
        EXPECT_TRUE(Contains(Str(entry, "message"), word)) << word << " / " << entry.dump();
      }
    }
    for (const auto& secret : secrets_) {
      EXPECT_FALSE(Contains(dry.out, secret)) << "a secret in refresh --json:\n" << dry.out;
    }
  }

  // Push tokens and the API token secret must not show up in anything the
  // product printed or wrote. The configuration, the token files and the
  // fakes' own logs hold them by design.
  void ExpectNoSecretLeaked() {
    std::set<std::string> exempt = {config_path_, tokens_path_, secret_file_};
    if (pve_) {
      exempt.insert(pve_->log_path());
      exempt.insert(pve_->pvesh_log_path());
      exempt.insert(dir_.Path("pvesh-probe.jsonl"));
    }
    if (kuma_) exempt.insert(kuma_->log_path());
    const auto texts = TextsToScan(outputs_, dir_.path(), exempt);
    for (const auto& secret : secrets_) {
      for (const auto& [where, text] : texts) {
        EXPECT_FALSE(Contains(text, secret)) << "a secret leaked into " << where << ":\n" << text;
      }
    }
  }

  TestDir dir_;
  std::string hook_;
  std::string state_dir_;
  std::string sched_dir_;
  std::string config_path_;
  std::string tokens_path_;
  std::string secret_file_;
  std::string pvesh_;
  std::string gate_dir_;
  std::unique_ptr<FakePve> pve_;
  std::unique_ptr<FakeKuma> kuma_;
  std::vector<std::string> outputs_;
  std::set<std::string> secrets_;
  int runs_ = 0;
  int agents_ = 0;
  int64_t last_start_ = 0;  // when the last simulated run was started, in seconds
};

using RefreshStateTest = RefreshBlackboxTest;
using RefreshNodeMonitorTest = RefreshBlackboxTest;
using RefreshInterleavedTest = RefreshBlackboxTest;
using RefreshUndeliverableTest = RefreshBlackboxTest;

const std::vector<std::string> kNodeOk = {"pve1: pbk-agent OK: ", "all monitored",
                                          "the hook in effect for each", "spool empty"};

}  // namespace pbk::testing::refresh_blackbox
