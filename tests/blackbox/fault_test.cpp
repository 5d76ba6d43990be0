// Faults the product must survive without losing what it owes: the process
// killed with SIGKILL at random moments while it writes run records, spool
// entries and vzdump.cron, and a state folder on a full disk.
//
// Rounds are driven from here, as vzdump would drive them: this process
// plays the vzdump worker (a fake /proc entry gives it a task worker's
// cmdline, and each round a new UPID), runs the guest phases, starts
// job-end, kills it after a random delay, and, when job-end died, calls
// job-abort as vzdump does when a job-end hook fails.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "tests/support/fake_kuma.h"
#include "tests/support/process.h"
#include "tests/support/pve_files.h"
#include "tests/support/suite_log.h"
#include "tests/support/test_certs.h"
#include "tests/support/test_dir.h"
#include "tests/support/test_text.h"

namespace pbk::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

const std::string kBinDir = PBK_BIN_DIR;
const std::string kSourceDir = PBK_SOURCE_DIR;
constexpr char kJob[] = "backup-8d6f3a2c-1b4e";
constexpr char kToken[] = "fR7kW2qN9xT4mB6vL1cZ";
// How many times each kind of write is interrupted.
constexpr int kJobEndRounds = 150;
constexpr int kGuestRounds = 100;
constexpr int kCronRounds = 100;

// REQUEST's query parameter KEY, or "".
std::string QueryValue(const json& request, const char* key) {
  auto query = request.find("query");
  if (query == request.end() || !query->is_object()) return {};
  auto value = query->find(key);
  return value != query->end() && value->is_string() ? value->get<std::string>() : std::string();
}

std::string Upid(int round) {
  char text[96];
  std::snprintf(text, sizeof text, "UPID:pve1:%08X:%08X:%08X:vzdump::root@pam:",
                static_cast<unsigned>(getpid()), 0x100000u + static_cast<unsigned>(round),
                0x67000000u + static_cast<unsigned>(round));
  return text;
}

// Every file the product keeps in STATE must parse; temporary files of an
// interrupted write (".name.tmp.…") are allowed and ignored by its readers.
void ExpectStateParses(const std::string& state) {
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(state, ec);
       it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (!it->is_regular_file()) continue;
    const std::string name = it->path().filename().string();
    if (name[0] == '.' || name.size() < 5 || name.substr(name.size() - 5) != ".json") continue;
    json parsed = json::parse(ReadText(it->path().string()), nullptr, false);
    EXPECT_TRUE(parsed.is_object()) << it->path() << " does not parse:\n"
                                    << ReadText(it->path().string());
  }
}

class FaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string err;
    ASSERT_TRUE(MakeTestCertificates(dir_.Path("certs"), &err)) << err;
    state_ = dir_.Path("state");
    std::filesystem::create_directories(dir_.Path("jobs"));
    RegisterSecret(kToken);
  }

  void StartKuma() {
    FakeKumaOptions options;
    options.cert = dir_.Path("certs/ip.pem");
    options.key = dir_.Path("certs/ip.key");
    options.work_dir = dir_.path();
    kuma_ = std::make_unique<FakeKuma>(options);
    std::string err;
    ASSERT_TRUE(kuma_->Start(&err)) << err;
  }

  void WriteConfig(const std::string& state, json extra_paths = json::object()) {
    json paths = {{"state_dir", state},
                  {"scheduler_dir", dir_.Path("jobs")},
                  {"vzdump_conf", dir_.Path("vzdump.conf")},
                  {"pve_dir", dir_.Path("pve")},
                  {"proc", dir_.Path("proc")}};
    for (auto& [key, value] : extra_paths.items()) paths[key] = value;
    json config = {{"node", "pve1"},
                   {"kuma",
                    {{"url", kuma_ ? kuma_->url() : "https://127.0.0.1:9"},
                     {"ca_file", dir_.Path("certs/ca.pem")},
                     {"timeout_seconds", 3}}},
                   {"jobs", {{kJob, {{"push_token", kToken}}}}},
                   {"pve", {{"pvesh", dir_.Path("no-pvesh")}}},
                   // The guard test here patches vzdump.cron: the hook on each job.
                   {"guard", {{"placement", "job"}}},
                   {"paths", paths}};
    config_ = dir_.Write("config.json", config.dump(2));
  }

  // This process becomes the vzdump worker of run ROUND.
  void BecomeWorker(int round) {
    dir_.Write("proc/" + std::to_string(getpid()) + "/cmdline",
               "task " + Upid(round) + std::string(1, '\0'));
    dir_.Write(std::string("jobs/vzdump-") + kJob + ".json",
               json({{"state", "started"}, {"upid", Upid(round)}}).dump());
  }

  std::vector<std::string> Hook(const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {kBinDir + "/pbk-agent", "--config", config_, "hook"};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }

  static std::map<std::string, std::string> Env(const std::string& guest) {
    return {{"STOREID", "pbs1"}, {"VMTYPE", "qemu"}, {"HOSTNAME", guest},
            {"TARGET", "vm/100/x"}, {"LC_ALL", "C"}};
  }

  RunResult Call(const std::vector<std::string>& args, const std::string& guest) {
    auto env = Env(guest);
    RunResult result = pbk::testing::Run(Hook(args), &env, seconds(30));
    EXPECT_FALSE(result.timed_out) << result.Describe();
    return result;
  }

  // Starts ARGS and kills it with SIGKILL after a random 0..MAX_US; returns
  // true when it was killed, false when it had finished by then.
  bool CallAndKill(const std::vector<std::string>& args, const std::string& guest,
                   int max_us) {
    auto env = Env(guest);
    BackgroundProcess process;
    std::string err;
    const std::string out = dir_.Path("killed.out");
    EXPECT_TRUE(process.Start(Hook(args), &env, out, out, &err)) << err;
    std::uniform_int_distribution<int> delay(0, max_us);
    std::this_thread::sleep_for(std::chrono::microseconds(delay(random_)));
    const bool killed = kill(process.pid(), SIGKILL) == 0 && process.Wait(seconds(10)) &&
                        process.term_signal() == SIGKILL;
    process.Wait(seconds(10));
    RecordSuiteOutput(ReadText(out));
    return killed;
  }

  // The pushes Kuma accepted, per guest name (each round has its own guest).
  std::map<std::string, std::vector<json>> PushesByGuest() {
    std::map<std::string, std::vector<json>> pushes;
    for (const auto& request : kuma_->Requests()) {
      const std::string msg = QueryValue(request, "msg");
      size_t at = msg.find("100 g");
      if (at == std::string::npos) continue;
      size_t end = msg.find_first_of(",; ", at + 4);
      pushes[msg.substr(at + 4, end == std::string::npos ? std::string::npos : end - at - 4)]
          .push_back(request);
    }
    return pushes;
  }

  TestDir dir_;
  std::string state_;
  std::string config_;
  std::unique_ptr<FakeKuma> kuma_;
  std::mt19937 random_{std::random_device{}()};
};

TEST_F(FaultTest, KillingJobEndAnywhereLosesNoPush) {
  ASSERT_NO_FATAL_FAILURE(StartKuma());
  WriteConfig(state_);
  int killed_rounds = 0, duplicates = 0;
  std::map<std::string, bool> killed_in;  // guest -> whether job-end was killed
  for (int round = 1; round <= kJobEndRounds; ++round) {
    const std::string guest = "g" + std::to_string(round);
    BecomeWorker(round);
    for (const char* phase : {"job-init", "job-start"}) Call({phase}, guest);
    Call({"backup-start", "snapshot", "100"}, guest);
    Call({"backup-end", "snapshot", "100"}, guest);
    // A job-end takes about 15 ms here; the kills land anywhere in it.
    const bool killed = CallAndKill({"job-end"}, guest, 25000);
    killed_in[guest] = killed;
    if (killed) {
      ++killed_rounds;
      // vzdump calls job-abort when the job-end hook failed.
      Call({"job-abort"}, guest);
    }
  }
  // Whatever a killed hook left owed is delivered now.
  RunResult flush = pbk::testing::Run({kBinDir + "/pbk-agent", "--config", config_, "flush"}, nullptr,
                        seconds(60));
  EXPECT_EQ(flush.exit_code, 0) << flush.out << flush.err;
  ExpectStateParses(state_);

  auto pushes = PushesByGuest();
  int extra_copies = 0;
  for (const auto& [guest, killed] : killed_in) {
    const auto& got = pushes[guest];
    ASSERT_FALSE(got.empty()) << "the run with guest " << guest << " was never reported"
                              << (killed ? " (its job-end was killed)" : "");
    if (!killed) {
      EXPECT_EQ(got.size(), 1u) << guest;
    } else if (got.size() > 1) {
      // Only possible when the kill fell after Kuma confirmed the push and
      // before the hook could note it: the first copy was then accepted.
      // A later run's job-end delivers what is owed before its own push, and
      // may be killed in the same window again: at least once, never lost.
      ++duplicates;
      extra_copies += static_cast<int>(got.size()) - 1;
      EXPECT_EQ(got[0].value("answered", json()), json(200)) << guest;
      // Every copy repeats the first's status: no false alarm.
      for (const auto& copy : got) {
        EXPECT_EQ(QueryValue(got[0], "status"), QueryValue(copy, "status")) << guest;
      }
    }
  }
  // A kill leaves at most one entry confirmed but not yet noted, so each kill
  // can cause at most one copy more; a run is never repeated on its own.
  EXPECT_LE(extra_copies, killed_rounds);
  std::printf("SIGKILL during job-end: %d rounds, %d killed mid-run, %d reported more than once "
              "(%d copies more in all)\n",
              kJobEndRounds, killed_rounds, duplicates, extra_copies);
  EXPECT_GT(killed_rounds, kJobEndRounds / 4) << "the kills should mostly land inside job-end";
}

TEST_F(FaultTest, KillingGuestPhasesLeavesRecordsThatParse) {
  ASSERT_NO_FATAL_FAILURE(StartKuma());
  WriteConfig(state_);
  int killed_rounds = 0;
  for (int round = 1; round <= kGuestRounds; ++round) {
    const std::string guest = "g" + std::to_string(round);
    BecomeWorker(1000 + round);
    Call({"job-init"}, guest);
    Call({"job-start"}, guest);
    // The record is rewritten at backup-start and backup-end: kill one.
    const char* killed_phase = round % 2 == 0 ? "backup-start" : "backup-end";
    if (round % 2 == 1) Call({"backup-start", "snapshot", "100"}, guest);
    if (CallAndKill({killed_phase, "snapshot", "100"}, guest, 4000)) ++killed_rounds;
    if (round % 2 == 0) Call({"backup-end", "snapshot", "100"}, guest);
    ExpectStateParses(state_);
    RunResult end = Call({"job-end"}, guest);
    EXPECT_EQ(end.exit_code, 0) << end.out << end.err;
  }
  auto pushes = PushesByGuest();
  for (int round = 1; round <= kGuestRounds; ++round) {
    EXPECT_EQ(pushes["g" + std::to_string(round)].size(), 1u) << "round " << round;
  }
  std::printf("SIGKILL during guest phases: %d rounds, %d killed mid-run\n", kGuestRounds,
              killed_rounds);
}

TEST_F(FaultTest, KillingTheVzdumpCronPatchLeavesAWholeFile) {
  // Without pvesh the guard patches legacy jobs in vzdump.cron; a kill at
  // any moment must leave the old file or the new one, never a broken one.
  const std::string original = kRefCron;
  const std::string hook = "/var/lib/vz/snippets/vzdump-uptime-kuma-hook.sh";
  WriteConfig(state_, {{"vzdump_cron", dir_.Path("pve/vzdump.cron")},
                       {"jobs_cfg", dir_.Path("pve/jobs.cfg")},
                       {"hook_script", hook}});
  int killed_rounds = 0;
  for (int round = 1; round <= kCronRounds; ++round) {
    dir_.Write("pve/vzdump.cron", original);
    BackgroundProcess guard;
    std::string err;
    const std::string out = dir_.Path("guard.out");
    ASSERT_TRUE(guard.Start({kBinDir + "/pbk-agent", "--config", config_, "guard"}, nullptr, out,
                            out, &err))
        << err;
    std::uniform_int_distribution<int> delay(0, 12000);
    std::this_thread::sleep_for(std::chrono::microseconds(delay(random_)));
    if (kill(guard.pid(), SIGKILL) == 0 && guard.Wait(seconds(10)) &&
        guard.term_signal() == SIGKILL) {
      ++killed_rounds;
    }
    guard.Wait(seconds(10));
    // Each of the three lines is either as it was or carries the hook once.
    const std::string text = ReadText(dir_.Path("pve/vzdump.cron"));
    std::istringstream lines(text), before(original);
    std::string line, old;
    int patched = 0;
    while (std::getline(before, old)) {
      ASSERT_TRUE(static_cast<bool>(std::getline(lines, line))) << "file cut short:\n" << text;
      if (line == old + " --script " + hook) {
        ++patched;
      } else {
        ASSERT_EQ(line, old) << "round " << round << ":\n" << text;
      }
    }
    EXPECT_FALSE(static_cast<bool>(std::getline(lines, line))) << text;
    EXPECT_EQ(text.back(), '\n');
  }
  std::printf("SIGKILL during the vzdump.cron patch: %d rounds, %d killed mid-run\n", kCronRounds,
              killed_rounds);
}

// --- a full disk -------------------------------------------------------

// A small tmpfs, filled up; false when this machine does not allow mounts.
bool MountFullTmpfs(const std::string& dir) {
  std::filesystem::create_directories(dir);
  if (mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=256k") != 0) return false;
  std::ofstream fill(dir + "/filler", std::ios::binary);
  std::string block(4096, 'x');
  while (fill.write(block.data(), static_cast<std::streamsize>(block.size()))) {
  }
  return true;
}

TEST_F(FaultTest, AFullDiskGivesAClearErrorAndNoHalfWrittenFile) {
  const std::string disk = dir_.Path("disk");
  if (!MountFullTmpfs(disk)) GTEST_SKIP() << "mounting a tmpfs is not allowed here";
  struct Unmount {
    std::string path;
    ~Unmount() { umount2(path.c_str(), MNT_DETACH); }
  } unmount{disk};
  ASSERT_NO_FATAL_FAILURE(StartKuma());
  WriteConfig(disk + "/state");
  BecomeWorker(1);

  // Guest phases cannot record anything, say so, and let the backup go on.
  RunResult init = Call({"job-init"}, "g1");
  EXPECT_EQ(init.exit_code, 0);
  EXPECT_TRUE(Contains(init.out, "ERROR: pbk-agent hook job-init: cannot record this phase"))
      << init.out;
  EXPECT_TRUE(Contains(init.out, "No space left on device")) << init.out;
  RunResult guest = Call({"backup-start", "snapshot", "100"}, "g1");
  EXPECT_EQ(guest.exit_code, 0) << guest.out;

  // job-end cannot spool, so it pushes straight away, and says what it lost.
  RunResult end = Call({"job-end"}, "g1");
  EXPECT_EQ(end.exit_code, 0) << end.out;
  EXPECT_EQ(kuma_->Requests().size(), 1u);
  EXPECT_TRUE(Contains(end.out, "pbk-agent: pushed down to Uptime Kuma")) << end.out;

  // With Kuma down as well, the result is lost, and job-end fails loudly.
  kuma_->Stop();
  BecomeWorker(2);
  RunResult lost = Call({"job-end"}, "g2");
  EXPECT_EQ(lost.exit_code, 1) << lost.out;
  EXPECT_TRUE(Contains(lost.out, "could not be spooled either")) << lost.out;
  EXPECT_TRUE(Contains(lost.out, "No space left on device")) << lost.out;

  // Nothing half-written was left behind (an empty lock file holds nothing).
  std::error_code ec;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(disk, ec)) {
    const bool empty_lock = entry.path().extension() == ".lock" && entry.file_size(ec) == 0;
    if (entry.is_regular_file() && entry.path().filename() != "filler" && !empty_lock) {
      ADD_FAILURE() << "left behind on the full disk: " << entry.path();
    }
  }
}

TEST_F(FaultTest, AFileSizeLimitGivesAClearErrorInsteadOfAKill) {
  // Where mounts are not allowed, a file-size limit plays the full disk.
  ASSERT_NO_FATAL_FAILURE(StartKuma());
  WriteConfig(state_);
  BecomeWorker(1);
  Call({"job-init"}, "g1");
  Call({"backup-start", "snapshot", "100"}, "g1");
  Call({"backup-end", "snapshot", "100"}, "g1");
  auto env = Env("g1");
  std::vector<std::string> argv = {"/usr/bin/prlimit", "--fsize=64", "--"};
  for (const auto& arg : Hook({"job-end"})) argv.push_back(arg);
  RunResult end = pbk::testing::Run(argv, &env, seconds(30));
  EXPECT_EQ(end.signal, 0) << "killed by a signal: " << end.Describe();
  EXPECT_EQ(end.exit_code, 0) << end.out << end.err;
  EXPECT_TRUE(Contains(end.out, "File too large")) << end.out;
  EXPECT_EQ(kuma_->Requests().size(), 1u);
  ExpectStateParses(state_);
}

}  // namespace
}  // namespace pbk::testing
