// What every command does first: read its flags, load the configuration,
// open the ways to PVE. Each logs its problems; the command picks the exit code.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "agent/commands/cli.h"
#include "agent/core/config.h"

namespace pbk {

struct PveAccess;

// Reads a command's flags: each argument must be one of ALLOWED. On an
// unknown one, logs USAGE and returns false.
bool ParseFlags(const Invocation& invocation, const std::vector<std::string>& allowed,
                const char* usage, std::set<std::string>* flags);

// Loads the configuration for a command, logging each problem. On success the
// configuration's secrets are registered with the log scrubber.
bool LoadConfigForCommand(const Invocation& invocation, Config* config);

// Opens the ways to PVE for a command; a configuration problem (an
// unreadable or unprivate token secret) is logged and gives false.
bool OpenPveAccessForCommand(const Config& config, PveAccess* pve);

}  // namespace pbk
