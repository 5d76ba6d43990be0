// systemd-analyze as an independent oracle for the runs of a schedule.
#include "agent/schedule/calendar_event.h"
#include "agent/schedule/cron_schedule.h"
#include "agent/schedule/runs.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <regex>
#include <string>
#include <vector>

#include "tests/support/test_time.h"
#include "tests/unit/agent/schedule/schedule_test_support.h"

namespace pbk {
namespace {

using testing::Parse;
using testing::Runs;
using testing::ScopedTimeZone;
using testing::Utc;
using testing::UtcText;

std::string RunCommand(const std::string& command) {
  std::string output;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return output;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, n);
  pclose(pipe);
  return output;
}

// The UTC instants systemd-analyze prints for each of EXPRESSIONS, in order:
// a block per expression starts with "Normalized form:", and of its lines
// "Next elapse:", "Iter. #k:" and their "(in UTC):" lines exactly one per run
// ends in "UTC". One process for all expressions, as spawning one for each
// made this test take seconds.
std::vector<std::vector<int64_t>> SystemdRuns(const char* zone,
                                              const std::vector<std::string>& expressions,
                                              int64_t base, int iterations, std::string* output) {
  std::string command = "TZ=" + std::string(zone) + " systemd-analyze calendar --base-time=@" +
                        std::to_string(base) + " --iterations=" + std::to_string(iterations);
  for (const std::string& expression : expressions) command += " '" + expression + "'";
  *output = RunCommand(command + " 2>&1");
  static const std::regex kLine(
      R"((Next elapse|Iter\. #\d+|\(in UTC\)): \w+ (\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d) UTC$)");
  std::vector<std::vector<int64_t>> runs;
  size_t start = 0;
  while (start < output->size()) {
    size_t end = output->find('\n', start);
    if (end == std::string::npos) end = output->size();
    const std::string line = output->substr(start, end - start);
    std::smatch m;
    if (line.find("Normalized form:") != std::string::npos) {
      runs.emplace_back();
    } else if (!runs.empty() && std::regex_search(line, m, kLine)) {
      runs.back().push_back(Utc(std::stoi(m[2]), std::stoi(m[3]), std::stoi(m[4]), std::stoi(m[5]),
                                std::stoi(m[6]), std::stoi(m[7])));
    }
    start = end + 1;
  }
  return runs;
}

TEST(ScheduleOracleTest, RunsMatchSystemdAnalyze) {
  if (RunCommand("command -v systemd-analyze").empty()) {
    GTEST_SKIP() << "systemd-analyze is not installed: no oracle to compare with";
  }
  if (RunCommand("systemd-analyze calendar --help 2>&1").find("--base-time") == std::string::npos) {
    GTEST_SKIP() << "this systemd-analyze has no --base-time (systemd < 247): it can only "
                    "compute from 'now', which makes its output unrepeatable";
  }
  // PVE schedule -> the same schedule in systemd's spelling. systemd has no
  // time without ":" (PVE's minutes of every hour: "*/5" is "*:0/5") and no
  // weekday range that wraps around Sunday ("fri..mon"), so those are
  // respelled; everything else in this list systemd reads as PVE does. Not
  // compared: what only one of them has (PVE's "a/0", which this parser
  // rejects; systemd's "~" days, time zone names, fractions of seconds) and
  // schedules so sparse that 120 runs pass 2199, where systemd stops.
  const struct {
    const char* pve;
    const char* systemd;
  } kSchedules[] = {
      {"mon..fri 21:00", "Mon..Fri *-*-* 21:00:00"},
      {"mon,tue,wed,thu,fri", "mon,tue,wed,thu,fri"},
      {"sat..sun", "Sat..Sun"},
      {"mon,wed,fri", "mon,wed,fri"},
      {"12:05", "12:05"},
      {"*/5", "*:0/5"},
      {"0/5", "*:0/5"},
      {"mon..wed 30/10", "Mon..Wed *:30/10"},
      {"mon..fri 8..17,22:0/15", "mon..fri 8..17,22:0/15"},
      {"fri 12..13:5/20", "fri 12..13:5/20"},
      {"12,14,16,18,20,22:5", "12,14,16,18,20,22:5"},
      {"12/2:5", "12/2:5"},
      {"*", "*:*"},
      {"*-05", "*-05"},
      {"Sat *-1..7 15:00", "Sat *-1..7 15:00"},
      {"2015-10-21", "2015-10-21"},
      {"minutely", "minutely"},
      {"hourly", "hourly"},
      {"daily", "daily"},
      {"weekly", "weekly"},
      {"monthly", "monthly"},
      {"quarterly", "quarterly"},
      {"semiannually", "semiannually"},
      {"yearly", "yearly"},
      {"02:30", "02:30"},
      {"*/30", "*:0/30"},
      {"2:*", "2:*"},
      {"1..3:15", "1..3:15"},
      {"6,18:00", "6,18:00"},
      {"sun 02:00", "Sun 02:00"},
      {"*:*:0/20", "*:*:0/20"},
      {"fri..mon 12:00", "Fri,Sat,Sun,Mon 12:00"},
      {"daily UTC", "daily UTC"},
      {"2026..2027-1..3-* 6:00", "2026..2027-1..3-* 6:00"},
      {"*-*-1/3 0:0", "*-*-1/3 0:0"},
      {"annually", "annually"},
      {"semi-annually", "semi-annually"},
      {"*:*:*", "*:*:*"},
      {"Mon..Fri *-1..7 9..17:0/15", "Mon..Fri *-1..7 9..17:0/15"},
      // The nights of the changes in Europe: the last Sunday of March and October.
      {"sun *-3,10-25..31 *:0/30", "Sun *-3,10-25..31 *:0/30"},
  };
  constexpr int kIterations = 120;
  // A new year's start, and the evenings before both changes of 2026.
  const int64_t kBases[] = {Utc(2026, 1, 1), Utc(2026, 3, 28, 20), Utc(2026, 10, 24, 20)};
  std::vector<std::string> expressions;
  for (const auto& row : kSchedules) expressions.push_back(row.systemd);
  int compared = 0;
  for (const char* name : {"Europe/Berlin", "UTC", "America/New_York"}) {
    ScopedTimeZone zone(name);
    for (int64_t base : kBases) {
      std::string output;
      const auto expected = SystemdRuns(name, expressions, base, kIterations, &output);
      ASSERT_EQ(output.find("Failed to parse"), std::string::npos) << output;
      ASSERT_EQ(expected.size(), expressions.size()) << output;
      for (size_t i = 0; i < expected.size(); ++i) {
        SCOPED_TRACE(std::string(name) + " '" + kSchedules[i].pve + "' from " + UtcText(base));
        // Fewer runs only for a schedule that ends; none for "2015-10-21".
        EXPECT_EQ(expected[i].empty(), std::string(kSchedules[i].pve) == "2015-10-21");
        EXPECT_EQ(Runs(Parse(kSchedules[i].pve), base, kIterations), expected[i]);
        compared += static_cast<int>(expected[i].size());
      }
    }
  }
  RecordProperty("runs_compared", compared);
  EXPECT_GT(compared, 30000);
}

}  // namespace
}  // namespace pbk
