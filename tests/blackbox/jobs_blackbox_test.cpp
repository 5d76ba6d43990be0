// Black-box tests of `pbk-agent jobs`.
// What is asserted is what an admin and PVE can see: exit codes, the lines
// printed, the requests and pvesh calls the fakes logged, and jobs.cfg /
// vzdump.cron read back byte for byte.
#include <gtest/gtest.h>

#include "tests/blackbox/pve_blackbox_fixture.h"

namespace pbk::testing::pve_blackbox {
namespace {

// --- jobs ----------------------------------------------------------------------------

class JobsBlackboxTest : public VerifyBlackboxTest {
 protected:
  void SetUp() override {
    VerifyBlackboxTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_NO_FATAL_FAILURE(WriteJobFiles(JobsCfg({SectionA(hook_), SectionNew(""), SectionB(hook_),
                                                   SectionUsb(kMountUsb), kRealmSync}),
                                          kCronHead));
    AgentConfig config;
    config.jobs = {{kJobA, kTokenA}, {kJobUsb, kTokenNew}};
    ASSERT_NO_FATAL_FAILURE(WriteConfig(config));
  }

  // job id -> {column -> cell}, from the table's header positions.
  static std::map<std::string, std::map<std::string, std::string>> ParseTable(
      const std::string& out) {
    std::map<std::string, std::map<std::string, std::string>> rows;
    auto lines = Lines(out);
    if (lines.empty()) return rows;
    const std::string& header = lines[0];
    const std::vector<std::string> names = {
        "JOB",    "ENABLED", "SCHEDULE", "NEXT RUN", "LONGEST GAP", "STORAGE",
        "GUESTS", "HERE",    "HOOK",     "MONITOR",  "LAST RUN",    "STATE"};
    std::vector<size_t> starts;
    for (const auto& name : names) starts.push_back(header.find(name));
    for (size_t l = 1; l < lines.size() && !lines[l].empty(); ++l) {
      std::map<std::string, std::string> cells;
      for (size_t i = 0; i < names.size(); ++i) {
        if (starts[i] == std::string::npos || starts[i] >= lines[l].size()) continue;
        const size_t end = i + 1 < names.size() ? starts[i + 1] : std::string::npos;
        std::string cell = lines[l].substr(
            starts[i], end == std::string::npos ? std::string::npos : end - starts[i]);
        cell.erase(cell.find_last_not_of(' ') + 1);
        cells[names[i]] = cell;
      }
      rows[cells["JOB"]] = cells;
    }
    return rows;
  }
};

TEST_F(JobsBlackboxTest, TableShowsHookAndMonitorOfEveryJob) {
  ScopedTimeZone zone("Europe/Berlin");
  RunResult jobs = Agent({"jobs"});
  EXPECT_EQ(jobs.exit_code, 0) << jobs.out << jobs.err;
  auto rows = ParseTable(jobs.out);
  ASSERT_EQ(rows.size(), 4u) << jobs.out;
  const std::map<std::string, std::pair<std::string, std::string>> expected = {
      {kJobA, {"yes", "mapped"}},
      {kJobNew, {"NO (none)", "NOT MAPPED"}},
      {kJobB, {"yes", "NOT MAPPED"}},
      {kJobUsb, {std::string("NO (") + kMountUsb + ")", "mapped"}}};
  for (const auto& [id, cells] : expected) {
    ASSERT_EQ(rows.count(id), 1u) << id << " missing:\n" << jobs.out;
    EXPECT_EQ(rows[id]["HOOK"], cells.first) << jobs.out;
    EXPECT_EQ(rows[id]["MONITOR"], cells.second) << jobs.out;
  }
  EXPECT_EQ(rows[kJobB]["ENABLED"], "no");
  EXPECT_EQ(rows[kJobB]["GUESTS"], "110,111 on pve2");
  EXPECT_EQ(rows[kJobNew]["GUESTS"], "100");
  EXPECT_EQ(rows[kJobUsb]["GUESTS"], "all but 105");
  // Where the jobs run: guest 100 is on pve2, the disabled job is pve2's.
  EXPECT_EQ(rows[kJobA]["HERE"], "yes");
  EXPECT_EQ(rows[kJobNew]["HERE"], "no");
  EXPECT_EQ(rows[kJobB]["HERE"], "no");
  // Schedules: a daily job's longest gap is the 25 hours of the night the
  // clock goes back, a weekly one's a week and an hour.
  EXPECT_EQ(rows[kJobA]["LONGEST GAP"], "1d 01h");
  EXPECT_EQ(rows[kJobUsb]["LONGEST GAP"], "7d 01h");
  EXPECT_EQ(rows[kJobB]["LONGEST GAP"], "-");
  // What refresh would push now: no run yet, nothing due; the disabled job down.
  EXPECT_EQ(rows[kJobA]["STATE"], "up (no-run-yet)");
  EXPECT_EQ(rows[kJobB]["STATE"], "DOWN (disabled)");
  EXPECT_TRUE(Contains(jobs.out, "every push monitor with heartbeat interval 15 min (900 s) and "
                                 "Retries 0")) << jobs.out;
  EXPECT_EQ(rows[kJobB]["NEXT RUN"], "-");
  EXPECT_TRUE(Contains(rows[kJobA]["NEXT RUN"], " 21:00:00")) << jobs.out;
  EXPECT_TRUE(Contains(rows[kJobUsb]["NEXT RUN"], " 04:00:00")) << jobs.out;
  EXPECT_TRUE(Contains(jobs.out, "4 job(s), read through rest; node pve1")) << jobs.out;
  ExpectRestOnlyRead();
}

TEST_F(JobsBlackboxTest, JsonListsTheSameAsTheTable) {
  RunResult jobs = Agent({"jobs", "--json"});
  EXPECT_EQ(jobs.exit_code, 0) << jobs.out << jobs.err;
  json document = json::parse(jobs.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(document.is_object()) << jobs.out;
  EXPECT_EQ(At(document, "source"), "rest");
  EXPECT_EQ(At(document, "node"), "pve1");
  std::map<std::string, json> by_id;
  for (const auto& job : At(document, "jobs")) by_id[Str(job, "id")] = job;
  ASSERT_EQ(by_id.size(), 4u) << document.dump(1);
  const std::map<std::string, std::pair<bool, std::string>> expected = {
      {kJobA, {true, "mapped"}},
      {kJobNew, {false, "not mapped"}},
      {kJobB, {true, "not mapped"}},
      {kJobUsb, {false, "mapped"}}};
  for (const auto& [id, want] : expected) {
    ASSERT_EQ(by_id.count(id), 1u) << id;
    EXPECT_EQ(At(by_id[id], "carries_hook"), want.first) << by_id[id].dump();
    EXPECT_EQ(At(by_id[id], "monitor"), want.second) << by_id[id].dump();
  }
  EXPECT_EQ(At(by_id[kJobUsb], "script"), kMountUsb);
  EXPECT_EQ(At(by_id[kJobNew], "script"), "");
  EXPECT_EQ(At(by_id[kJobA], "schedule"), "21:00");
  EXPECT_EQ(At(At(by_id[kJobA], "placement"), "runs_here"), true);
  EXPECT_EQ(At(At(by_id[kJobNew], "placement"), "runs_here"), false);
  EXPECT_EQ(At(At(by_id[kJobA], "kuma"), "retries"), 0);
  // One interval for every monitor: refresh pushes each job's state.
  EXPECT_EQ(At(At(by_id[kJobA], "kuma"), "interval_seconds"), 900);
  EXPECT_EQ(At(At(by_id[kJobB], "kuma"), "interval_seconds"), 900);
  EXPECT_EQ(At(At(At(by_id[kJobB], "kuma"), "without_refresh"), "interval_seconds"), nullptr);
  EXPECT_EQ(At(At(by_id[kJobB], "state"), "state"), "disabled");
  EXPECT_EQ(At(At(by_id[kJobB], "state"), "status"), "down");
}

TEST_F(JobsBlackboxTest, TheLongestRunSeenHereLengthensTheInterval) {
  ScopedTimeZone zone("Europe/Berlin");
  // A finished run of job A that took 45 minutes, as the hook records it.
  const int64_t start_ms = 1'790'000'000'000;
  const json record = {{"format", 1},
                       {"key", "1234-5678"},
                       {"upid", ""},
                       {"worker_pid", 1234},
                       {"node", "pve1"},
                       {"storage", "local"},
                       {"dumpdir", ""},
                       {"first", start_ms},
                       {"job_start", start_ms},
                       {"end", start_ms + 45 * 60 * 1000},
                       {"end_phase", "job-end"},
                       {"guests", json::array()},
                       {"job_id", kJobA},
                       {"job_source", "scheduler"},
                       {"push",
                        {{"state", "delivered"},
                         {"up", true},
                         {"message", "ok"},
                         {"ping", 45 * 60 * 1000},
                         {"at", start_ms + 45 * 60 * 1000},
                         {"detail", ""}}}};
  std::filesystem::create_directories(state_dir_ + "/runs");
  std::ofstream(state_dir_ + "/runs/1234-5678.json") << record.dump(1);
  RunResult jobs = Agent({"jobs", "--json"});
  EXPECT_EQ(jobs.exit_code, 0) << jobs.out << jobs.err;
  json document = json::parse(jobs.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(document.is_object()) << jobs.out;
  for (const auto& job : At(document, "jobs")) {
    if (Str(job, "id") != kJobA) continue;
    // What a monitor would need without refresh, as information.
    const json& kuma = At(At(job, "kuma"), "without_refresh");
    EXPECT_EQ(At(kuma, "longest_run_seconds"), 45 * 60);
    EXPECT_EQ(At(At(job, "timing"), "longest_gap_seconds"), 25 * 3600);
    EXPECT_EQ(At(kuma, "interval_seconds"), 25 * 3600 + 45 * 60 + 60 * 60);
    return;
  }
  ADD_FAILURE() << "job " << kJobA << " missing:\n" << jobs.out;
}

}  // namespace
}  // namespace pbk::testing::pve_blackbox
