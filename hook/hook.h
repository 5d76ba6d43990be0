// The vzdump hook: `pbk-agent hook PHASE [MODE VMID]`, run by vzdump through
// the wrapper script for every phase of every backup job.
//
// Rules it lives by:
//  - backups come first: every phase but job-end/job-abort exits 0 whatever
//    happens, and no phase but those touches the network;
//  - exactly one push per run, at the first of job-end / job-abort;
//  - a push owed is never dropped: it is spooled before it is sent;
//  - a run of no backup job (a guest's "Backup now", the CLI) is noted and
//    never failed;
//  - every problem is an "ERROR:" line in the task log; a run no job monitor
//    can hear about (a job without push token, a run that cannot be told
//    apart) is a `down` push on the node monitor, and job-end exits 1 only
//    when there is no node monitor either;
//  - chained hooks (hook.chain, then the job's jobs.<id>.chain) run in every
//    phase; at job-end/job-abort before the push, and one that fails makes
//    the push `down`.
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "hook/chain.h"
#include "agent/core/config.h"
#include "hook/job_identity.h"
#include "hook/push_sender.h"
#include "api/kuma/kuma_client.h"
#include "hook/spool.h"

namespace pbk {

// What vzdump put in the (otherwise empty) environment.
struct HookEnvironment {
  std::optional<std::string> storeid;
  std::optional<std::string> dumpdir;
  std::optional<std::string> vmtype;
  std::optional<std::string> hostname;  // the guest's name
  std::optional<std::string> target;
  std::optional<std::string> logfile;

  static HookEnvironment FromProcess();
};


struct HookContext {
  const Config* config = nullptr;
  std::vector<std::string> args;  // PHASE [MODE VMID], or job-end ok [JOB-ID]
  HookEnvironment env;
  pid_t parent_pid = 0;
  PushSender send;
  // Where the guests are now; used only to tell apart several jobs that fit
  // a run without a scheduler file.
  GuestLister list_guests;
  // Runs chained hook SCRIPTS with these arguments (see RunChain).
  std::function<ChainOutcome(const std::vector<std::string>& scripts,
                             const std::vector<std::string>& args)>
      run_chain;
  std::function<int64_t()> now_ms;  // the clock, replaceable in tests
};

// Runs one hook call and returns its exit code. Lines for the task log go
// through spdlog (see log.h).
int RunHook(const HookContext& context);

// Exit code for a hook call whose configuration could not be loaded: 0 for
// every phase vzdump runs (the backup is not failed for the monitoring's
// sake; the node's monitors go DOWN by silence), 2 for the manual test and
// for no arguments at all.
int HookExitForBrokenConfig(const std::vector<std::string>& args);

}  // namespace pbk
