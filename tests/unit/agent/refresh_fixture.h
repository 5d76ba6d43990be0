// What the refresh unit tests share: one job of pve1, daily at 21:00, its
// runs as the hook records them, the scheduler's state file, and the check of
// a judged status.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>

#include "agent/refresh.h"
#include "agent/core/state_layout.h"
#include "hook/worker.h"
#include "tests/support/test_time.h"

namespace pbk::testing {

inline constexpr int64_t kMinute = 60;
inline constexpr int64_t kHour = 60 * kMinute;
inline constexpr int64_t kGrace = 30 * kMinute;  // refresh.start_grace_minutes' default
inline constexpr char kJobId[] = "backup-8d6f3a2c-1b4e";
inline constexpr char kNode[] = "pve1";

// Local times in Europe/Berlin, written out so no test leans on mktime().
inline int64_t Cest(int year, int month, int day, int hour, int minute = 0, int second = 0) {
  return Utc(year, month, day, hour, minute, second) - 2 * kHour;
}

// "UPID:pve1:0000A1B2:0012C3D4:6752F0A0:vzdump::root@pam:" for a worker started at START.
inline std::string UpidAt(int64_t start, unsigned pid = 0xA1B2) {
  char text[128];
  std::snprintf(text, sizeof text, "UPID:pve1:%08X:0012C3D4:%08llX:vzdump::root@pam:", pid,
                static_cast<unsigned long long>(start));
  return text;
}

// A run of the job on pve1 whose worker started at START: VM 100 (web01) ok,
// CT 101 (db01) with SECOND's result; END_PHASE "" while it has not ended.
inline RunRecord RunAt(int64_t start, const std::string& end_phase,
                GuestResult second = GuestResult::kOk) {
  RunRecord run;
  run.upid = UpidAt(start);
  run.key = FileNameKey(run.upid);
  run.worker_pid = 0xA1B2;
  run.node = kNode;
  run.storage = "pbs1";
  run.first_ms = (start + 2) * 1000;
  run.job_start_ms = run.first_ms + 1000;
  run.job_id = kJobId;
  run.job_source = "scheduler";
  GuestRecord& web = run.Guest(100);
  web.type = "qemu";
  web.name = "web01";
  web.mode = "snapshot";
  web.result = GuestResult::kOk;
  GuestRecord& db = run.Guest(101);
  db.type = "lxc";
  db.name = "db01";
  db.mode = "snapshot";
  db.result = end_phase.empty() ? GuestResult::kRunning : second;
  if (!end_phase.empty()) {
    run.end_ms = run.first_ms + 725'000;  // 12m 05s
    run.end_phase = end_phase;
  }
  return run;
}

// A state file as pvescheduler writes it.
inline SchedulerState Scheduler(const nlohmann::json& document) {
  SchedulerState state;
  std::string err;
  EXPECT_TRUE(ParseSchedulerState(document.dump(), &state, &err)) << err;
  return state;
}

inline nlohmann::json Config21() { return {{"schedule", "21:00"}, {"enabled", 1}}; }

inline void ExpectStatus(const JobStatus& status, JobState state, bool up,
                  std::initializer_list<std::string> words) {
  EXPECT_STREQ(JobStateName(status.state), JobStateName(state));
  EXPECT_EQ(status.up, up) << status.message;
  EXPECT_THAT(status.message, ::testing::StartsWith(std::string(kNode) + ": "));
  for (const auto& word : words) EXPECT_THAT(status.message, ::testing::HasSubstr(word));
}

#define EXPECT_STATUS(status, state, up, ...)     \
  do {                                            \
    SCOPED_TRACE("status of the job");            \
    ::pbk::testing::ExpectStatus(status, state, up, __VA_ARGS__); \
  } while (false)

// One job of pve1, daily at 21:00, judged in Europe/Berlin in June 2026
// (CEST, UTC+2). pbk-agent first saw the job on 1 May.
class RefreshTest : public ::testing::Test {
 protected:
  RefreshTest() {
    job_.id = kJobId;
    job_.type = "vzdump";
    job_.schedule = "21:00";
    job_.storage = "pbs1";
    job_.all = true;
    job_.script = "/var/lib/vz/snippets/vzdump-uptime-kuma-hook.sh";
    facts_.job_id = kJobId;
    facts_.job = &job_;
    facts_.observed_change = Cest(2026, 5, 1, 9);
  }

  const RunRecord* AddRun(RunRecord run) {
    runs_.push_back(std::move(run));
    facts_.runs.push_back(&runs_.back());
    return &runs_.back();
  }

  // Runs newest start first, as refresh hands them over.
  JobStatus Judge(int64_t now) {
    std::stable_sort(
        facts_.runs.begin(), facts_.runs.end(),
        [](const RunRecord* a, const RunRecord* b) { return RunStart(*a) > RunStart(*b); });
    return JudgeJob(facts_, kNode, now, kGrace);
  }

  ScopedTimeZone zone_{"Europe/Berlin"};
  BackupJob job_;
  std::deque<RunRecord> runs_;
  JobFacts facts_;
};

}  // namespace pbk::testing
