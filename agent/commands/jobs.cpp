// `pbk-agent jobs`: the backup jobs as this node sees them, with their hook,
// whether they run here, their schedule and the Kuma interval their monitor
// needs (monitor_advice.h), and their last run. Push tokens are shown only
// as mapped or not.
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <spdlog/fmt/fmt.h>

#include "agent/commands/commands.h"
#include "agent/commands/common.h"
#include "agent/core/fs.h"
#include "agent/core/log.h"
#include "agent/core/text.h"
#include "agent/hook_decision.h"
#include "agent/monitor_advice.h"
#include "agent/node_view.h"
#include "agent/pve_access.h"
#include "agent/schedule/runs.h"
#include "api/pve/placement.h"
#include "api/pve/vzdump_conf.h"
#include "hook/run_record.h"

namespace pbk {

using nlohmann::json;

namespace {

std::string Guests(const BackupJob& job) {
  std::vector<std::string> parts;
  if (job.all) {
    parts.push_back("all");
    if (!job.exclude.empty()) {
      parts.back() += fmt::format(" but {}", fmt::join(job.exclude, ","));
    }
  }
  if (!job.vmids.empty()) {
    parts.push_back(fmt::format("{}", fmt::join(job.vmids, ",")));
  }
  if (!job.pool.empty()) parts.push_back("pool " + job.pool);
  return parts.empty() ? "-" : Join(parts, "; ");
}

// One job as `jobs` shows it, gathered once for the table and for --json.
struct JobLine {
  const BackupJob* job = nullptr;
  MonitorAdvice advice;
  bool placed = false;  // where the guests are was read
  Placement placement;
  HookVia via = HookVia::kNone;
  bool mapped = false;  // the configuration has a monitor for the job
  const RunRecord* last_run = nullptr;
  JobStatus state;

  bool CarriesHook() const { return via == HookVia::kOwnScript || via == HookVia::kNodeDefault; }
};

// Gathers each job's line from what the node view read.
class JobLines {
 public:
  JobLines(const Config& config, NodeView* view, int64_t now)
      : config_(config),
        view_(*view),
        now_(now),
        index_(view->guests()),
        longest_runs_(LongestRunPerJob(view->runs())),
        last_(LatestRunPerJob(view->runs())) {
    // The node default vzdump applies to every job without a script of its own.
    VzdumpConfScript node_default;
    std::string conf_err;
    if (!ReadVzdumpConfScript(config.paths.vzdump_conf, &node_default, &conf_err)) {
      spdlog::warn("{}", conf_err);
    }
    default_ours_ = node_default.present && node_default.value == config.paths.hook_script;
  }

  JobLine LineOf(const BackupJob& job) {
    JobLine line;
    line.job = &job;
    line.advice = AdviceFor(job);
    line.placed = view_.guests_known();
    if (line.placed) {
      line.placement = PlaceJob(job, index_, config_.node);
    } else {
      line.placement.runs_here = job.node.empty() || job.node == config_.node;
      line.placement.why = "guest placement unknown; by the node option alone";
    }
    line.state = view_.StatusOf(job.id);
    line.via = job.script.empty() ? (default_ours_ ? HookVia::kNodeDefault : HookVia::kNone)
               : job.script == config_.paths.hook_script ? HookVia::kOwnScript
                                                         : HookVia::kForeignScript;
    line.mapped = config_.jobs.count(job.id) > 0;
    if (auto run = last_.find(job.id); run != last_.end()) line.last_run = &run->second;
    return line;
  }

 private:
  MonitorAdvice AdviceFor(const BackupJob& job) {
    auto longest_run = longest_runs_.find(job.id);
    const std::optional<int64_t> run_time = longest_run == longest_runs_.end()
                                                ? std::nullopt
                                                : std::optional<int64_t>(longest_run->second);
    // Many jobs share a schedule; its runs over a year are computed once.
    const auto key = std::make_pair(job.schedule, job.IsLegacy());
    auto cached = by_schedule_.find(key);
    if (cached != by_schedule_.end() && job.enabled && !run_time) return cached->second;
    MonitorAdvice advice = AdviseMonitor(job, now_, run_time, config_.kuma.grace_minutes);
    if (job.enabled && !run_time) by_schedule_.emplace(key, advice);
    return advice;
  }

  const Config& config_;
  NodeView& view_;
  const int64_t now_;
  const GuestIndex index_;
  const std::map<std::string, int64_t> longest_runs_;
  const std::map<std::string, RunRecord> last_;
  bool default_ours_ = false;
  std::map<std::pair<std::string, bool>, MonitorAdvice> by_schedule_;
};

std::vector<std::string> TableRow(const JobLine& line) {
  const BackupJob& job = *line.job;
  const MonitorAdvice& advice = line.advice;
  std::string last_words = "-";
  if (line.last_run != nullptr) {
    const RunRecord& r = *line.last_run;
    last_words = FormatLocalTime(r.end_ms) + " " + (r.push.up ? "up" : "down") + " (" +
                 PushStateName(r.push.state) + ")";
  }
  std::string schedule_words = job.schedule.empty() ? "-" : job.schedule;
  if (!advice.schedule_error.empty()) schedule_words += " (INVALID)";
  std::string here_words = line.placement.runs_here ? "yes" : "no";
  if (!line.placed) here_words += "?";
  return {job.id,
          job.enabled ? "yes" : "no",
          schedule_words,
          advice.next_run && job.enabled ? FormatLocalTime(*advice.next_run * 1000) : "-",
          advice.longest_gap > 0 && job.enabled ? FormatGap(advice.longest_gap) : "-",
          job.storage.empty() ? "(default)" : job.storage,
          Guests(job) + (job.node.empty() ? "" : " on " + job.node),
          here_words,
          line.via == HookVia::kNodeDefault ? "yes (node default)"
          : line.CarriesHook()              ? "yes"
                               : (job.script.empty() ? "NO (none)" : "NO (" + job.script + ")"),
          line.mapped ? "mapped" : "NOT MAPPED",
          last_words,
          std::string(line.state.up ? "up" : "DOWN") + " (" + JobStateName(line.state.state) + ")"};
}

json TimingJson(const MonitorAdvice& advice) {
  return {{"error", advice.schedule_error.empty() ? json(nullptr) : json(advice.schedule_error)},
          {"next_run", advice.next_run ? json(*advice.next_run) : json(nullptr)},
          {"runs_in_year", advice.runs_in_year},
          {"longest_gap_seconds", advice.longest_gap},
          {"longest_gap_from", advice.longest_gap > 0 ? json(advice.gap_start) : json(nullptr)},
          {"longest_gap_to", advice.longest_gap > 0 ? json(advice.gap_end) : json(nullptr)}};
}

// Every monitor has the same interval: refresh pushes each job's state
// every few minutes (refresh.h). What a monitor would need without
// refresh is kept as information.
json KumaJson(const MonitorAdvice& advice, int interval_seconds) {
  return {{"interval_seconds", interval_seconds},
          {"retries", 0},
          {"without_refresh",
           {{"interval_seconds", advice.interval > 0 ? json(advice.interval) : json(nullptr)},
            {"longest_run_seconds", advice.run_seen ? json(advice.longest_run) : json(nullptr)},
            {"grace_seconds", advice.grace},
            {"beyond_kuma_maximum", advice.beyond_kuma_max},
            {"problem", advice.problem.empty() ? json(nullptr) : json(advice.problem)}}}};
}

json LineJson(const JobLine& line, int interval_seconds) {
  const BackupJob& job = *line.job;
  json last_json = nullptr;
  if (line.last_run != nullptr) {
    const RunRecord& r = *line.last_run;
    last_json = {{"ended", r.end_ms},
                 {"status", r.push.up ? "up" : "down"},
                 {"push", PushStateName(r.push.state)},
                 {"message", r.push.message}};
  }
  json state_json = {{"state", JobStateName(line.state.state)},
                     {"status", line.state.up ? "up" : "down"},
                     {"message", line.state.message}};
  json placement_json = {{"known", line.placed},
                         {"runs_here", line.placement.runs_here},
                         {"guests_here", line.placement.guests_here},
                         {"why", line.placement.why}};
  return {{"id", job.id},
          {"legacy", job.IsLegacy()},
          {"enabled", job.enabled},
          {"schedule", job.schedule},
          {"timing", TimingJson(line.advice)},
          {"node", job.node},
          {"storage", job.storage},
          {"guests", Guests(job)},
          {"placement", std::move(placement_json)},
          {"script", job.script},
          {"carries_hook", line.CarriesHook()},
          {"hook_via", HookViaName(line.via)},
          {"monitor", line.mapped ? "mapped" : "not mapped"},
          {"kuma", KumaJson(line.advice, interval_seconds)},
          {"state", std::move(state_json)},
          {"last_run", last_json}};
}

// The rows in columns two spaces apart.
void PrintTable(const std::vector<std::vector<std::string>>& rows) {
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
  // Where the guests are now, for whether each job runs on this node.
  if (!view.guests_known()) {
    spdlog::warn("where the guests are could not be read: {}", view.guests_problem());
  }
  const int interval_seconds = config.kuma.heartbeat_interval_minutes * 60;
  JobLines lines(config, &view, now);
  json list = json::array();
  std::vector<std::vector<std::string>> rows = {{"JOB", "ENABLED", "SCHEDULE", "NEXT RUN",
                                                 "LONGEST GAP", "STORAGE", "GUESTS", "HERE", "HOOK",
                                                 "MONITOR", "LAST RUN", "STATE"}};
  for (const auto& job : view.jobs()) {
    const JobLine line = lines.LineOf(job);
    rows.push_back(TableRow(line));
    list.push_back(LineJson(line, interval_seconds));
  }
  if (as_json) {
    json document = {{"source", view.source()}, {"node", config.node}, {"jobs", std::move(list)}};
    std::printf("%s\n", Redact(document.dump(2)).c_str());
    return kExitOk;
  }
  PrintTable(rows);
  std::printf("\n%zu job(s), read through %s; node %s\n", view.jobs().size(), view.source().c_str(),
              config.node.c_str());
  std::printf(
      "Kuma: every push monitor with heartbeat interval %d min (%d s) and Retries 0; refresh "
      "pushes each job's STATE every %d to %d minutes.\n",
      config.kuma.heartbeat_interval_minutes, interval_seconds, kTimerPeriodMinutes,
      kTimerPeriodMinutes + kTimerJitterMinutes);
  return kExitOk;
}

}  // namespace pbk
