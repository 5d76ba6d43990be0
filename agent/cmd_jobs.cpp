// `pbk-agent jobs`: the backup jobs as this node sees them, with their hook
// and monitor. Push tokens are shown only as mapped or not.
#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "fs.h"
#include "log.h"
#include "pve_access.h"
#include "run_record.h"
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
  for (JobReader* reader : pve.readers) {
    if (reader->List(&jobs, &err)) {
      source = reader->Name();
      break;
    }
    spdlog::warn("reading the jobs through {} failed: {}", reader->Name(), err);
  }
  if (source.empty()) {
    JobCache cache;
    bool exists = false;
    if (!LoadJobCache(JoinPath(config.paths.state_dir, kJobCacheFile), &cache, &exists, &err) ||
        !exists) {
      spdlog::error("no job list available (and none cached by the guard)");
      return kExitProblem;
    }
    jobs = cache.jobs;
    source = "the guard's cache from " + FormatLocalTime(cache.written_ms);
  }

  const std::map<std::string, RunRecord> last = LatestRunPerJob(config.paths.state_dir);

  json list = json::array();
  std::vector<std::vector<std::string>> rows = {
      {"JOB", "ENABLED", "SCHEDULE", "NODE", "STORAGE", "GUESTS", "HOOK", "MONITOR", "LAST RUN"}};
  for (const auto& job : jobs) {
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
    rows.push_back({job.id, job.enabled ? "yes" : "no", job.schedule.empty() ? "-" : job.schedule,
                    job.node.empty() ? "all" : job.node,
                    job.storage.empty() ? "(default)" : job.storage, Guests(job),
                    hook ? "yes" : (job.script.empty() ? "NO (none)" : "NO (" + job.script + ")"),
                    mapped ? "mapped" : "NOT MAPPED", last_words});
    list.push_back({{"id", job.id},
                    {"legacy", job.IsLegacy()},
                    {"enabled", job.enabled},
                    {"schedule", job.schedule},
                    {"node", job.node},
                    {"storage", job.storage},
                    {"guests", Guests(job)},
                    {"script", job.script},
                    {"carries_hook", hook},
                    {"monitor", mapped ? "mapped" : "not mapped"},
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
  return kExitOk;
}

}  // namespace pbk
