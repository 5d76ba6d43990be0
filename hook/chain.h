// Other hook scripts, kept running: an admin's own vzdump hook (mounting a
// backup disk, pausing a service) that the guard replaced with ours is
// listed in hook.chain and run by our hook in every phase, exactly as
// vzdump would run it: the same arguments, the same environment, its output
// into the task log, its exit code back to vzdump.
#pragma once

#include <string>
#include <vector>

namespace pbk {

struct ChainOutcome {
  int exit_code = 0;                // of the first script that failed; 0 when none did
  std::string failed_script;        // which one
  std::vector<std::string> errors;  // scripts that could not be run at all
};

// Runs SCRIPTS in order with ARGS (PHASE [MODE VMID]) and ENV ("NAME=value"
// strings), stopping at the first that fails, as `a && b` would. Their
// stdout and stderr are passed on to ours line by line. A script that is
// missing or not executable is reported in errors and skipped: it must not
// fail a backup, and the rest of the hook goes on. There is no time limit,
// as vzdump sets none; a background child a script leaves holding its
// output is not waited for once the script itself has ended.
ChainOutcome RunChain(const std::vector<std::string>& scripts,
                      const std::vector<std::string>& args, const std::vector<std::string>& env);

}  // namespace pbk
