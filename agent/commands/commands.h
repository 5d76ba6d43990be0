// The commands of the table in cli.cpp, one function each.
#pragma once

#include <string>
#include <vector>

#include "agent/commands/cli.h"
#include "agent/core/config.h"
#include "hook/hook.h"
#include "agent/refresh.h"

namespace pbk {

int CmdHook(const Invocation& invocation);
int CmdFlush(const Invocation& invocation);
int CmdGuard(const Invocation& invocation);
int CmdJobs(const Invocation& invocation);
int CmdVerify(const Invocation& invocation);
int CmdCheckConfig(const Invocation& invocation);
int CmdRefresh(const Invocation& invocation);
int CmdKuma(const Invocation& invocation);
// `kuma sync`, with the arguments after "sync" (kuma_sync.cpp).
int KumaSyncCommand(const Invocation& invocation, const std::vector<std::string>& args);

// Pushes a job's current state (refresh.h) to its monitor, without `ping`.
// The caller holds the job's lock.
bool PushJobStatus(const PushSender& send, const std::string& token, const JobStatus& status,
                   std::string* err);

}  // namespace pbk
