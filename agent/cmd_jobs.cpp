// `pbk-agent jobs`: the backup jobs as this node sees them, with their hook,
// whether they run here, their schedule and the Kuma interval their monitor
// needs (monitor_advice.h), and their last run. Push tokens are shown only
// as mapped or not.
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "fs.h"
#include "log.h"
#include "monitor_advice.h"
#include "placement.h"
#include "pve_access.h"
#include "run_record.h"
#include "schedule.h"
#include "text.h"

namespace pbk {

using nlohmann::json;

namespace {

std::string Guests(const BackupJob& job) {
  std::vector<std::string> parts;
  if (job.all) {
    parts.push_back("all");
    if (!job.exclude.empty()) {
      std::vector<std::string> excluded;
      for (int vmid : job.exclude) excluded.push_back(std::to_string(vmid));
      parts.back() += " but " + Join(excluded, ",");
    }
  }
  if (!job.vmids.empty()) {
    std::vector<std::string> ids;
    for (int vmid : job.vmids) ids.push_back(std::to_string(vmid));
    parts.push_back(Join(ids, ","));
  }
  if (!job.pool.empty()) parts.push_back("pool " + job.pool);
  return parts.empty() ? "-" : Join(parts, "; ");
}

}  // namespace

int CmdJobs(const Invocation& invocation) {
  InitLogging(LogStyle::kStderr, invocation.debug);
  std::set<std::string> flags;
  if (!ParseFlags(invocation, {"--json"}, "pbk-agent jobs [--json]", &flags)) return kExitUsage;
  const bool as_json = flags.count("--json") > 0;
  Config config;
  if (!LoadConfigForCommand(invocation, &config)) return kExitUsage;
  PveAccess pve;
  std::string err;
  if (!OpenPveAccess(config, &pve, &err)) {
    spdlog::error("{}", err);
    return kExitUsage;
  }
  std::vector<BackupJob> jobs;
  std::string source;
  std::vector<std::string> warnings;
  const bool listed = ReadJobs(pve, config.paths.state_dir, &jobs, &source, &warnings, &err);
  for (const auto& line : warnings) spdlog::warn("{}", line);
  if (!listed) {
    spdlog::error("{}", err);
    return kExitProblem;
  }

  // Where the guests are now, for whether each job runs on this node.
  std::vector<Guest> guests;
  const bool placed = ReadGuests(pve, &guests, &err);
  if (!placed) spdlog::warn("where the guests are could not be read: {}", err);

  std::vector<std::string> bad;
  const std::vector<RunRecord> runs = LoadAllRunRecords(config.paths.state_dir, &bad);
  for (const auto& file : bad) spdlog::warn("run record skipped: {}", file);
  const std::map<std::string, int64_t> longest_runs = LongestRunPerJob(runs);
  const std::map<std::string, RunRecord> last = LatestRunPerJob(runs);
  const int64_t now = time(nullptr);
  const GuestIndex index(guests);

  json list = json::array();
  std::vector<std::vector<std::string>> rows = {{"JOB", "ENABLED", "SCHEDULE", "NEXT RUN",
                                                 "KUMA INTERVAL", "STORAGE", "GUESTS", "HERE",
                                                 "HOOK", "MONITOR", "LAST RUN"}};
  // Many jobs share a schedule; its runs over a year are computed once.
  std::map<std::pair<std::string, bool>, MonitorAdvice> by_schedule;
  for (const auto& job : jobs) {
    auto longest_run = longest_runs.find(job.id);
    const std::optional<int64_t> run_time =
        longest_run == longest_runs.end() ? std::nullopt
                                          : std::optional<int64_t>(longest_run->second);
    MonitorAdvice advice;
    const auto key = std::make_pair(job.schedule, job.IsLegacy());
    auto cached = by_schedule.find(key);
    if (cached == by_schedule.end() || !job.enabled || run_time) {
      advice = AdviseMonitor(job, now, run_time, config.kuma.grace_minutes);
      if (job.enabled && !run_time) by_schedule.emplace(key, advice);
    } else {
      advice = cached->second;
    }
    Placement placement;
    if (placed) {
      placement = PlaceJob(job, index, config.node);
    } else {
      placement.runs_here = job.node.empty() || job.node == config.node;
      placement.why = "guest placement unknown; by the node option alone";
    }
    std::string interval_words = advice.interval > 0 ? FormatGap(advice.interval) : "-";
    if (advice.interval > 0 && !advice.run_seen) interval_words += " + run";
    if (advice.beyond_kuma_max) interval_words += " (beyond Kuma's 24d)";

    const bool hook = job.script == config.paths.hook_script;
    const bool mapped = config.jobs.count(job.id) > 0;
    auto run = last.find(job.id);
    std::string last_words = "-";
    json last_json = nullptr;
    if (run != last.end()) {
      const RunRecord& r = run->second;
      last_words = FormatLocalTime(r.end_ms) + " " + (r.push.up ? "up" : "down") + " (" +
                   PushStateName(r.push.state) + ")";
      last_json = {{"ended", r.end_ms},
                   {"status", r.push.up ? "up" : "down"},
                   {"push", PushStateName(r.push.state)},
                   {"message", r.push.message}};
    }
    std::string schedule_words = job.schedule.empty() ? "-" : job.schedule;
    if (!advice.schedule_error.empty()) schedule_words += " (INVALID)";
    std::string here_words = placement.runs_here ? "yes" : "no";
    if (!placed) here_words += "?";
    rows.push_back(
        {job.id, job.enabled ? "yes" : "no", schedule_words,
         advice.next_run && job.enabled ? FormatLocalTime(*advice.next_run * 1000) : "-",
         interval_words, job.storage.empty() ? "(default)" : job.storage,
         Guests(job) + (job.node.empty() ? "" : " on " + job.node), here_words,
         hook ? "yes" : (job.script.empty() ? "NO (none)" : "NO (" + job.script + ")"),
         mapped ? "mapped" : "NOT MAPPED", last_words});
    json timing_json = {
        {"error", advice.schedule_error.empty() ? json(nullptr) : json(advice.schedule_error)},
        {"next_run", advice.next_run ? json(*advice.next_run) : json(nullptr)},
        {"runs_in_year", advice.runs_in_year},
        {"longest_gap_seconds", advice.longest_gap},
        {"longest_gap_from", advice.longest_gap > 0 ? json(advice.gap_start) : json(nullptr)},
        {"longest_gap_to", advice.longest_gap > 0 ? json(advice.gap_end) : json(nullptr)}};
    json kuma_json = {
        {"interval_seconds", advice.interval > 0 ? json(advice.interval) : json(nullptr)},
        {"longest_run_seconds", advice.run_seen ? json(advice.longest_run) : json(nullptr)},
        {"grace_seconds", advice.grace},
        {"retries", 0},
        {"beyond_kuma_maximum", advice.beyond_kuma_max},
        {"problem", advice.problem.empty() ? json(nullptr) : json(advice.problem)}};
    json placement_json = {{"known", placed},
                           {"runs_here", placement.runs_here},
                           {"guests_here", placement.guests_here},
                           {"why", placement.why}};
    list.push_back({{"id", job.id},
                    {"legacy", job.IsLegacy()},
                    {"enabled", job.enabled},
                    {"schedule", job.schedule},
                    {"timing", std::move(timing_json)},
                    {"node", job.node},
                    {"storage", job.storage},
                    {"guests", Guests(job)},
                    {"placement", std::move(placement_json)},
                    {"script", job.script},
                    {"carries_hook", hook},
                    {"monitor", mapped ? "mapped" : "not mapped"},
                    {"kuma", std::move(kuma_json)},
                    {"last_run", last_json}});
  }
  if (as_json) {
    json document = {{"source", source}, {"node", config.node}, {"jobs", std::move(list)}};
    std::printf("%s\n", Redact(document.dump(2)).c_str());
    return kExitOk;
  }
  std::vector<size_t> widths(rows[0].size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    std::printf("%s\n", Redact(line).c_str());
  }
  std::printf("\n%zu job(s), read through %s; node %s\n", jobs.size(), source.c_str(),
              config.node.c_str());
  std::printf(
      "KUMA INTERVAL: the push monitor's heartbeat interval = longest gap between runs + "
      "longest run seen here + %d min grace; set Retries 0.%s\n",
      config.kuma.grace_minutes,
      longest_runs.size() < jobs.size() ? " \"+ run\": no run seen yet, add the longest run "
                                          "time you expect."
                                        : "");
  return kExitOk;
}

}  // namespace pbk
