// ParseJobsCfg on arbitrary text (what pmxcfs serves as /etc/pve/jobs.cfg).
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_common.h"
#include "api/pve/job_files.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  pbk_fuzz::SilenceLogging();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text = pbk_fuzz::Text(data, size);
  std::vector<pbk::BackupJob> jobs;
  std::string err;
  if (pbk::ParseJobsCfg(text, &jobs, &err)) {
    for (const auto& job : jobs) {
      if (job.id.empty() || job.type != "vzdump") pbk_fuzz::Violated("a job without id or type");
      (void)pbk::BackupJobToJson(job);
    }
  } else if (err.rfind("jobs.cfg", 0) != 0) {
    pbk_fuzz::Violated("an error that does not name jobs.cfg: " + err);
  }
  return 0;
}
