// `pbk-agent jobs`: the backup jobs as this node sees them, with their hook,
// whether they run here, their schedule and the Kuma interval their monitor
// needs (monitor_advice.h), and their last run. Push tokens are shown only
// as mapped or not.
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include "agent/commands/commands.h"
#include "agent/commands/common.h"
#include "agent/core/fs.h"
#include "agent/core/log.h"
#include "agent/hook_decision.h"
#include "agent/monitor_advice.h"
#include "agent/node_view.h"
#include "api/pve/placement.h"
#include "api/pve/vzdump_conf.h"
#include "agent/pve_access.h"
#include "hook/run_record.h"
#include "agent/schedule/runs.h"
#include "agent/core/text.h"

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
  if (!OpenPveAccessForCommand(config, &pve)) return kExitUsage;
  const int64_t now = time(nullptr);
  NodeView view(config, pve, now);
  for (const auto& line : view.warnings()) spdlog::warn("{}", line);
  if (!view.jobs_known()) {
    spdlog::error("{}", view.jobs_problem());
    return kExitProblem;
  }
  const std::vector<BackupJob>& jobs = view.jobs();
  const std::string& source = view.source();
  // Where the guests are now, for whether each job runs on this node.
  const std::vector<Guest>& guests = view.guests();
  const bool placed = view.guests_known();
  if (!placed) spdlog::warn("where the guests are could not be read: {}", view.guests_problem());
  const std::vector<RunRecord>& runs = view.runs();
  const std::map<std::string, int64_t> longest_runs = LongestRunPerJob(runs);
  const std::map<std::string, RunRecord> last = LatestRunPerJob(runs);
  const GuestIndex index(guests);
  const int interval_seconds = config.kuma.heartbeat_interval_minutes * 60;

  json list = json::array();
  std::vector<std::vector<std::string>> rows = {{"JOB", "ENABLED", "SCHEDULE", "NEXT RUN",
                                                 "LONGEST GAP", "STORAGE", "GUESTS", "HERE",
                                                 "HOOK", "MONITOR", "LAST RUN", "STATE"}};
  // Many jobs share a schedule; its runs over a year are computed once.
  std::map<std::pair<std::string, bool>, MonitorAdvice> by_schedule;
  // The node default vzdump applies to every job without a script of its own.
  VzdumpConfScript node_default;
  std::string conf_err;
  if (!ReadVzdumpConfScript(config.paths.vzdump_conf, &node_default, &conf_err)) {
    spdlog::warn("{}", conf_err);
  }
  const bool default_ours =
      node_default.present && node_default.value == config.paths.hook_script;
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
    const std::string gap_words =
        advice.longest_gap > 0 && job.enabled ? FormatGap(advice.longest_gap) : "-";
    const JobStatus state = view.StatusOf(job.id);

    const HookVia via = job.script.empty()                       ? (default_ours ? HookVia::kNodeDefault
                                                                                 : HookVia::kNone)
                        : job.script == config.paths.hook_script ? HookVia::kOwnScript
                                                                 : HookVia::kForeignScript;
    const bool hook = via == HookVia::kOwnScript || via == HookVia::kNodeDefault;
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
         gap_words, job.storage.empty() ? "(default)" : job.storage,
         Guests(job) + (job.node.empty() ? "" : " on " + job.node), here_words,
         via == HookVia::kNodeDefault ? "yes (node default)"
         : hook                       ? "yes"
                                      : (job.script.empty() ? "NO (none)" : "NO (" + job.script + ")"),
         mapped ? "mapped" : "NOT MAPPED", last_words,
         std::string(state.up ? "up" : "DOWN") + " (" + JobStateName(state.state) + ")"});
    json timing_json = {
        {"error", advice.schedule_error.empty() ? json(nullptr) : json(advice.schedule_error)},
        {"next_run", advice.next_run ? json(*advice.next_run) : json(nullptr)},
        {"runs_in_year", advice.runs_in_year},
        {"longest_gap_seconds", advice.longest_gap},
        {"longest_gap_from", advice.longest_gap > 0 ? json(advice.gap_start) : json(nullptr)},
        {"longest_gap_to", advice.longest_gap > 0 ? json(advice.gap_end) : json(nullptr)}};
    // Every monitor has the same interval: refresh pushes each job's state
    // every few minutes (refresh.h). What a monitor would need without
    // refresh is kept as information.
    json kuma_json = {
        {"interval_seconds", interval_seconds},
        {"retries", 0},
        {"without_refresh",
         {{"interval_seconds", advice.interval > 0 ? json(advice.interval) : json(nullptr)},
          {"longest_run_seconds", advice.run_seen ? json(advice.longest_run) : json(nullptr)},
          {"grace_seconds", advice.grace},
          {"beyond_kuma_maximum", advice.beyond_kuma_max},
          {"problem", advice.problem.empty() ? json(nullptr) : json(advice.problem)}}}};
    json state_json = {{"state", JobStateName(state.state)},
                       {"status", state.up ? "up" : "down"},
                       {"message", state.message}};
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
                    {"hook_via", HookViaName(via)},
                    {"monitor", mapped ? "mapped" : "not mapped"},
                    {"kuma", std::move(kuma_json)},
                    {"state", std::move(state_json)},
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
      "Kuma: every push monitor with heartbeat interval %d min (%d s) and Retries 0; refresh "
      "pushes each job's STATE every %d to %d minutes.\n",
      config.kuma.heartbeat_interval_minutes, interval_seconds, kTimerPeriodMinutes,
      kTimerPeriodMinutes + kTimerJitterMinutes);
  return kExitOk;
}

}  // namespace pbk
