// The commands of the table in cli.cpp, one function each.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "agent/commands/cli.h"
#include "agent/core/config.h"
#include "hook/hook.h"
#include "agent/refresh.h"

namespace pbk {

struct PveAccess;

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

// Reads a command's flags: each argument must be one of ALLOWED. On an
// unknown one, logs USAGE and returns false.
bool ParseFlags(const Invocation& invocation, const std::vector<std::string>& allowed,
                const char* usage, std::set<std::string>* flags);

// Opens the ways to PVE for a command; a configuration problem (an
// unreadable or unprivate token secret) is logged and gives false.
bool OpenPveAccessForCommand(const Config& config, PveAccess* pve);

// Loads the configuration for a command, logging each problem. On success the
// configuration's secrets are registered with the log scrubber.
bool LoadConfigForCommand(const Invocation& invocation, Config* config);

}  // namespace pbk
