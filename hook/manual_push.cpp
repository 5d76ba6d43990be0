#include "hook/manual_push.h"

#include <string>
#include <vector>

#include "agent/core/log.h"
#include "agent/core/text.h"

namespace pbk {

int ManualTestPush(const HookContext& context, const std::string& phase_name, int64_t now_ms) {
  const Config& config = *context.config;
  const auto& args = context.args;
  const std::string& word = args[1];
  bool up;
  if (word == "ok" || word == "up") {
    up = true;
  } else if (word == "fail" || word == "failed" || word == "down") {
    up = false;
  } else {
    spdlog::error("usage: {} ok|fail [JOB-ID]  (a manual test push; got {})", phase_name,
                  Quote(word));
    return 2;
  }
  if (args.size() > 3) {
    spdlog::error("usage: {} ok|fail [JOB-ID]  (too many arguments)", phase_name);
    return 2;
  }
  std::string job_id;
  if (args.size() == 3) {
    job_id = args[2];
  } else if (config.jobs.size() == 1) {
    job_id = config.jobs.begin()->first;
  } else {
    std::vector<std::string> ids;
    for (const auto& [id, job] : config.jobs) ids.push_back(id);
    spdlog::error("name the job to test: {} {} JOB-ID, one of: {}", phase_name, word,
                  ids.empty() ? "(none configured in " + config.path + ")" : Join(ids, ", "));
    return 2;
  }
  const std::string token = PushTokenFor(config, job_id);
  if (token.empty()) {
    spdlog::error("job {} has no push_token in {}", job_id, config.path);
    return 2;
  }
  KumaPush push;
  push.up = up;
  push.message = "manual test from node " + config.node + " at " + FormatLocalTime(now_ms) +
                 " (not a backup result)";
  std::string err;
  if (!context.send(token, push, &err, nullptr)) {
    spdlog::error("manual test push for job {} failed: {}", job_id, err);
    return 1;
  }
  spdlog::info("pushed {} to Uptime Kuma for job {} (manual test): {}", up ? "up" : "down",
               job_id, push.message);
  return 0;
}

}  // namespace pbk
