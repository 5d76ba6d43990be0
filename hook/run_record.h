// The record of one vzdump run, kept in state_dir/runs/ while the run goes
// on: which guests started, which ended and which aborted. job-end judges
// the run from it. Written atomically after every phase.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "agent/core/state_layout.h"

namespace pbk {

enum class GuestResult { kRunning, kOk, kFailed };

struct GuestRecord {
  int vmid = 0;
  std::string type;  // qemu or lxc; may be unknown for guests that failed early
  std::string name;  // the guest's name (HOSTNAME)
  std::string mode;  // snapshot, suspend or stop
  std::string target;
  GuestResult result = GuestResult::kRunning;
  int64_t started_ms = 0;
  int64_t ended_ms = 0;
};

// What the run's end phase did about Kuma.
enum class PushState {
  kNone,          // not decided yet
  kDelivered,     // Kuma confirmed the push
  kSpooled,       // owed: waiting in the spool for `pbk-agent flush`
  kUnattributed,  // no job could be identified: an ERROR in the task log
  kNoToken,       // the job has no push token on this node: an ERROR
  kNotAJob,       // a run of no backup job (a guest's "Backup now", the CLI): not reported
  kLost,          // neither delivered nor spooled: an ERROR
};

struct PushRecord {
  PushState state = PushState::kNone;
  bool up = false;
  std::string message;
  int64_t ping_ms = 0;
  int64_t at_ms = 0;
  std::string detail;  // why it was not delivered
};

struct RunRecord {
  std::string key;
  std::string upid;
  int worker_pid = 0;
  std::string node;
  std::string storage;
  std::string dumpdir;
  int64_t first_ms = 0;      // the first phase the hook saw
  int64_t job_start_ms = 0;  // job-start, when seen
  int64_t end_ms = 0;
  std::string end_phase;  // "job-end" or "job-abort" once the run ended
  std::vector<GuestRecord> guests;
  std::string job_id;
  std::string job_source;  // how the job was identified
  PushRecord push;

  GuestRecord& Guest(int vmid);
  const GuestRecord* FindGuest(int vmid) const;
};

const char* GuestResultName(GuestResult result);
const char* PushStateName(PushState state);

std::string SerializeRunRecord(const RunRecord& record);
bool ParseRunRecord(const std::string& text, RunRecord* record, std::string* err);

// PATH is the record's file, StateLayout::RunFile.
bool LoadRunRecord(const std::string& path, RunRecord* record, bool* exists, std::string* err);
bool SaveRunRecord(const std::string& path, const RunRecord& record, std::string* err);

// Removes records of runs that ended (or were last seen) before CUTOFF_MS.
// Returns how many were removed.
int PruneRunRecords(const StateLayout& state, int64_t cutoff_ms, std::string* err);

// All records in runs/, unreadable ones skipped and named in *bad.
std::vector<RunRecord> LoadAllRunRecords(const StateLayout& state, std::vector<std::string>* bad);

// The last finished run of each job in RUNS, by job id.
std::map<std::string, RunRecord> LatestRunPerJob(const std::vector<RunRecord>& runs);

}  // namespace pbk
