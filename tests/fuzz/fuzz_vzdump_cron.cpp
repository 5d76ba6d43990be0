// ParseVzdumpCron on arbitrary text, and the guard's one write: setting
// --script on each legacy job must keep every job a job (PVE numbers the
// jobs by position, so a line that stops parsing renames all the others).
#include <string>
#include <vector>

#include "fuzz_common.h"
#include "job_files.h"

namespace {
const char kHook[] = "/var/lib/vz/snippets/vzdump-uptime-kuma-hook.sh";
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  pbk_fuzz::SilenceLogging();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text = pbk_fuzz::Text(data, size);
  std::vector<pbk::CronJob> jobs;
  std::vector<std::string> warnings;
  pbk::ParseVzdumpCron(text, &jobs, &warnings);
  for (const auto& warning : warnings) {
    if (warning.rfind("vzdump.cron line ", 0) != 0) {
      pbk_fuzz::Violated("a warning without its line: " + warning);
    }
  }
  for (size_t i = 0; i < jobs.size(); ++i) {
    const auto& cron = jobs[i];
    if (cron.line_begin > cron.line_end || cron.line_end > text.size()) {
      pbk_fuzz::Violated("a job line outside the text");
    }
    std::string patched, err;
    if (!pbk::PatchVzdumpCronScript(text, cron.job.id, kHook, &patched, &err)) {
      pbk_fuzz::Violated("cannot patch job " + cron.job.id + " it just listed: " + err);
    }
    std::vector<pbk::CronJob> again;
    std::vector<std::string> warnings_again;
    pbk::ParseVzdumpCron(patched, &again, &warnings_again);
    if (again.size() != jobs.size()) {
      pbk_fuzz::Violated("patching job " + std::to_string(i + 1) + " changed the job count from " +
                         std::to_string(jobs.size()) + " to " + std::to_string(again.size()));
    }
  }
  return 0;
}
