// Judging a finished run: up only when every guest of the run ended with
// backup-end and the job was not aborted; and the words Kuma shows for it.
#pragma once

#include <cstdint>
#include <string>

#include "hook/run_record.h"

namespace pbk {

struct Outcome {
  bool up = false;
  int ok = 0;
  int failed = 0;
  int unfinished = 0;  // started, but neither backup-end nor backup-abort came
  int64_t duration_ms = 0;
  std::string message;  // one line, capped for Kuma
};

// RECORD must have its end phase set.
Outcome JudgeRun(const RunRecord& record);

// The outcome when a chained hook failed at the end of the run (PROBLEM:
// "chained hook /root/offsite-sync.sh exited 3"): vzdump fails the task, so
// the push is down too, and says why first.
Outcome WithChainFailure(Outcome outcome, const std::string& node, const std::string& problem);

}  // namespace pbk
