// The manual test at a shell: `vzdump-uptime-kuma-hook.sh job-end ok|fail
// [JOB-ID]` pushes up or down to the job's monitor, saying that it is a test.
#pragma once

#include <cstdint>
#include <string>

#include "hook/hook.h"

namespace pbk {

// CONTEXT.args is PHASE ok|fail [JOB-ID]; exit 0, 1 (the push failed) or 2
// (usage, or no such job).
int ManualTestPush(const HookContext& context, const std::string& phase_name, int64_t now_ms);

}  // namespace pbk
