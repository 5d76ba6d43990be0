// The commands of the table in cli.cpp, one function each.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "cli.h"
#include "config.h"

namespace pbk {

int CmdHook(const Invocation& invocation);
int CmdFlush(const Invocation& invocation);
int CmdGuard(const Invocation& invocation);
int CmdJobs(const Invocation& invocation);
int CmdVerify(const Invocation& invocation);
int CmdCheckConfig(const Invocation& invocation);

// Reads a command's flags: each argument must be one of ALLOWED. On an
// unknown one, logs USAGE and returns false.
bool ParseFlags(const Invocation& invocation, const std::vector<std::string>& allowed,
                const char* usage, std::set<std::string>* flags);

// Loads the configuration for a command, logging each problem. On success the
// configuration's secrets are registered with the log scrubber.
bool LoadConfigForCommand(const Invocation& invocation, Config* config);

}  // namespace pbk
