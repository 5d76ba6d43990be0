// What the black-box tests of `pbk-agent refresh` share besides their
// fixture (refresh_blackbox_fixture.h): the jobs, tokens and guests they
// use, times and UPIDs as PVE writes them, pushes as the fake Kuma logs them,
// a lock held as another pbk-agent holds it, and a simulated run's summary.
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

#include "tests/support/process.h"
#include "tests/support/test_text.h"
#include "tests/support/test_time.h"
#include "tests/support/sim_run.h"

namespace pbk::testing::refresh_blackbox {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

const std::string kBinDir = PBK_BIN_DIR;
const std::string kSourceDir = PBK_SOURCE_DIR;

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

struct AgentSetup {
  std::map<std::string, std::string> jobs = {{kJob, kToken}};  // job id -> push token
  bool node_monitor = true;
  int timeout_seconds = 3;
  // hook.chain: the gate script, which can hold a run in backup-end of guest
  // 100 (see ArmGate).
  bool gate = false;
};

}  // namespace pbk::testing::refresh_blackbox
