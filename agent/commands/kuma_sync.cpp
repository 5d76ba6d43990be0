// `pbk-agent kuma sync [--dry-run] [--prune] [--json]` (agent/kuma_sync_run.h):
// prints the plan (a dry run) or what was done, never a token.
// `--service`, for the timer's unit: nothing without a stored session, and
// no connection to Kuma while the monitors file matches the cluster.
//
// Exit code: 0 done or nothing to do; 1 Kuma, PVE or the cluster lock failed
// (what was done is in the monitors file); 2 usage or configuration.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "agent/commands/commands.h"
#include "agent/commands/common.h"
#include "agent/core/log.h"
#include "agent/core/text.h"
#include "agent/kuma_sync_run.h"

namespace pbk {

using nlohmann::json;

namespace {

constexpr char kSyncUsage[] = "pbk-agent kuma sync [--dry-run] [--prune] [--json]";

void PrintResult(const KumaSyncResult& result, bool as_json, bool dry_run) {
  const SyncPlan& plan = result.plan;
  if (as_json) {
    json actions = json::array();
    for (const auto& action : plan.actions) actions.push_back(ActionToJson(action));
    json out = {{"dry_run", dry_run}, {"plan", actions}, {"errors", result.errors}};
    if (result.executed) {
      out["done"] = result.report.done_json;
      out["added"] = result.report.added;
      out["edited"] = result.report.edited;
      out["paused"] = result.report.paused;
    }
    out["socket_io_calls"] = result.socket_io_calls;
    out["session"] = result.session;
    std::printf("%s\n", Redact(out.dump(2)).c_str());
    return;
  }
  if (!result.planned) return;
  if (plan.actions.empty()) std::printf("Kuma's monitors are as the cluster needs them\n");
  for (const auto& action : plan.actions) {
    const bool listed = action.kind == SyncAction::Kind::kStale;
    std::printf("%s%s\n", dry_run && !listed ? "would " : "",
                Redact(DescribeAction(action)).c_str());
  }
}

}  // namespace

int KumaSyncCommand(const Invocation& invocation, const std::vector<std::string>& args) {
  KumaSyncOptions options;
  bool as_json = false;
  for (const auto& arg : args) {
    if (arg == "--dry-run") {
      options.dry_run = true;
    } else if (arg == "--prune") {
      options.prune = true;
    } else if (arg == "--json") {
      as_json = true;
    } else if (arg == "--service") {
      options.service = true;
    } else {
      spdlog::error("usage: {} (unknown argument {})", kSyncUsage, Quote(arg));
      return kExitUsage;
    }
  }
  Config config;
  if (!LoadConfigForCommand(invocation, &config)) return kExitUsage;
  const KumaSyncResult result = RunKumaSync(config, options);
  for (const auto& note : result.notes) spdlog::info("kuma sync: {}", note);
  if (result.planned || as_json) PrintResult(result, as_json, options.dry_run);
  if (result.executed) {
    spdlog::info("kuma sync: {} added, {} changed, {} paused; {} Socket.IO calls",
                 result.report.added, result.report.edited, result.report.paused,
                 result.socket_io_calls);
  }
  for (const auto& error : result.errors) spdlog::error("kuma sync: {}", error);
  return result.exit_code;
}

}  // namespace pbk
