// ParseVzdumpCron on arbitrary text, and the guard's one write: setting
// --script on each legacy job must keep every job a job (PVE numbers the
// jobs by position, so a line that stops parsing renames all the others),
// make that job run the hook, and change nothing else: every job's other
// settings (as BackupJob holds them) read as before.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "api/pve/backup_job.h"
#include "tests/fuzz/fuzz_common.h"
#include "api/pve/job_files.h"

namespace {

const char kHook[] = "/var/lib/vz/snippets/vzdump-uptime-kuma-hook.sh";

// A job's settings; the id is left out (it holds the file's SHA-1, which
// any patch changes), and the script too when WITH_SCRIPT is false.
std::string Settings(const pbk::BackupJob& job, bool with_script) {
  nlohmann::json object = pbk::BackupJobToJson(job);
  object.erase("id");
  if (!with_script) object.erase("script");
  return object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

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
    const pbk::CronJob& cron = jobs[i];
    if (cron.line_begin > cron.line_end || cron.line_end > text.size()) {
      pbk_fuzz::Violated("a job line outside the text");
    }
    std::string patched, err;
    if (!pbk::PatchVzdumpCronScript(text, cron.job.id, kHook, &patched, &err)) {
      pbk_fuzz::Violated("cannot patch job " + cron.job.id + " it just listed: " + err);
    }
    std::vector<pbk::CronJob> again;
    std::vector<std::string> again_warnings;
    pbk::ParseVzdumpCron(patched, &again, &again_warnings);
    const std::string which = "patching job " + std::to_string(i + 1);
    if (again.size() != jobs.size()) {
      pbk_fuzz::Violated(which + " changed the job count from " + std::to_string(jobs.size()) +
                         " to " + std::to_string(again.size()));
    }
    // The patch took: the job (same place, new id) now runs the hook.
    if (again[i].job.script != kHook) {
      pbk_fuzz::Violated(which + " left its script \"" + again[i].job.script + "\"");
    }
    for (size_t j = 0; j < jobs.size(); ++j) {
      if (Settings(again[j].job, j != i) != Settings(jobs[j].job, j != i)) {
        pbk_fuzz::Violated(which + " changed the settings of job " + std::to_string(j + 1));
      }
    }
  }
  return 0;
}
