// Which vzdump run is calling the hook.
//
// vzdump passes no run or job id. The hook's parent is the vzdump worker,
// whose /proc/<pid>/cmdline starts with "task UPID:…"; the UPID names the
// run uniquely and is what the scheduler writes into its job file. When the
// parent is not a task worker, its pid and start time name the run instead.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace pbk {

struct Upid {
  std::string node;
  uint64_t pid = 0;
  uint64_t pstart = 0;
  uint64_t starttime = 0;  // epoch seconds
  std::string type;        // "vzdump"
  std::string id;
  std::string user;
};

// Parses "UPID:node:PID:PSTART:STARTTIME:TYPE:ID:USER:" (hex numbers).
bool ParseUpid(std::string_view text, Upid* upid);

// The UPID in a task worker's cmdline ("task UPID:…\0…"), or "".
std::string UpidFromCmdline(std::string_view cmdline);

// The start time (field 22, clock ticks) from /proc/<pid>/stat content.
bool StartTimeFromStat(std::string_view stat, uint64_t* start_ticks);

struct WorkerIdentity {
  std::string key;   // names the run record; safe as a file name, at most 200 bytes
  std::string upid;  // empty when the parent is not a task worker
  pid_t pid = 0;
};

// Identifies the run of the process PPID, reading PROC_ROOT (normally /proc).
bool IdentifyWorker(const std::string& proc_root, pid_t ppid, WorkerIdentity* worker,
                    std::string* err);

// Whether the worker of a run still runs: the process PID exists under
// PROC_ROOT and started at START_TICKS (clock ticks since boot, as in the
// UPID's PSTART), so a recycled pid is not taken for the worker.
bool WorkerAlive(const std::string& proc_root, uint64_t pid, uint64_t start_ticks);

// The worker of a run record: from its UPID, else from a key the hook made
// for a parent that is no task worker ("pid-<pid>-<ticks>"). False when
// neither names one.
bool RunWorker(const std::string& upid, const std::string& key, uint64_t* pid,
               uint64_t* start_ticks);

}  // namespace pbk
