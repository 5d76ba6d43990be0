// The job list as the PVE API or pvesh answers it, and the guard's cache.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "backup_job.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  pbk_fuzz::SilenceLogging();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text = pbk_fuzz::Text(data, size);
  const nlohmann::json document = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  std::vector<pbk::BackupJob> jobs;
  std::string err;
  if (pbk::ParseBackupJobList(document, &jobs, &err)) {
    // What was read is written to the cache and must read back the same.
    pbk::JobCache cache;
    cache.source = "rest";
    cache.jobs = jobs;
    pbk::JobCache loaded;
    std::string why;
    if (!pbk::ParseJobCache(pbk::SerializeJobCache(cache), &loaded, &why)) {
      pbk_fuzz::Violated("the cache written from an accepted list does not read back: " + why);
    }
    if (loaded.jobs.size() != jobs.size()) pbk_fuzz::Violated("the cache lost jobs");
  } else if (err.empty()) {
    pbk_fuzz::Violated("ParseBackupJobList failed without saying why");
  }
  pbk::JobCache cache;
  err.clear();
  if (!pbk::ParseJobCache(text, &cache, &err) && err.empty()) {
    pbk_fuzz::Violated("ParseJobCache failed without saying why");
  }
  return 0;
}
