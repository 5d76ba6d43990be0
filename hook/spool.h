// Pushes that are owed but not yet confirmed by Kuma, one file each in
// state_dir/spool/.
//
// The hook writes the entry BEFORE it pushes and removes it only after Kuma
// confirmed, so a crash, a hang or a dead Kuma at any point leaves the push
// owed, never lost. While the hook pushes, it holds a lock on the entry, so
// `flush` running at the same moment skips it instead of sending it twice.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "agent/core/fs.h"
#include "agent/core/state_layout.h"
#include "api/kuma/kuma_client.h"

namespace pbk {

struct SpooledPush {
  std::string path;  // where it is stored
  std::string job_id;
  bool up = false;
  std::string message;
  std::optional<int64_t> ping_ms;
  int64_t created_ms = 0;
  std::string run_key;  // the run record it belongs to, if any
  int attempts = 0;
  std::string last_error;
};

// Entries that can never be delivered (their job has no monitor any more, or
// Kuma refuses the token) go to spool/failed/ after kGiveUpAfterMs, kept for
// the admin.
inline constexpr int64_t kGiveUpAfterMs = 24LL * 3600 * 1000;

// One lock per job (state_dir/locks/job-<id>.lock). The hook, flush and
// refresh push to a job's monitor only while they hold it, so pushes of one
// job never overtake each other. Waits at most WAIT; false with *err when
// the lock was not had by then (*busy set, if given) or cannot be taken at
// all (a full or read-only disk: *busy false).
bool LockJob(const StateLayout& state, const std::string& job_id, std::chrono::milliseconds wait,
             FileLock* lock, std::string* err, bool* busy = nullptr);

std::string SerializeSpooledPush(const SpooledPush& push);
bool ParseSpooledPush(const std::string& text, SpooledPush* push, std::string* err);

// Writes the entry for a run (state_dir/spool/<run_key>.json), locked; the
// lock is held in *lock until the caller lets go.
bool SpoolPush(const StateLayout& state, SpooledPush* push, UniqueFd* lock, std::string* err);

// Right after Kuma confirmed a push, its entry is renamed from <key>.json
// to <key>.sent: one system call, so a hook killed just after the answer
// almost never leaves an entry that flush would send a second time. Flush
// removes .sent entries (noting the delivery in the run record).
bool MarkSent(const std::string& path, std::string* sent_path, std::string* err);

// Whether a push for run RUN_KEY is spooled or was just sent.
bool SpooledOrSent(const StateLayout& state, const std::string& run_key);

// Entries oldest first; unreadable files are named in *bad, never removed.
std::vector<SpooledPush> ListSpool(const StateLayout& state, std::vector<std::string>* bad);
// The entries given up on, in spool/failed/, oldest first.
std::vector<SpooledPush> ListFailedSpool(const StateLayout& state, std::vector<std::string>* bad);

// Sends one push for JOB_ID; false with *err when it was not confirmed.
// *transport_failed tells a dead or unreachable Kuma from a refusal.
// *permanent tells that it can never succeed as things are (the job has no
// monitor, or Kuma refuses the token): such an entry is given up on once it
// is older than kGiveUpAfterMs.
using PushFunction = std::function<bool(const std::string& job_id, const SpooledPush& push,
                                        std::string* err, bool* transport_failed,
                                        bool* permanent)>;

// Called once per job after something of it was delivered, with that job's
// lock held: pushes the job's current state, so the last heartbeat is the
// present truth and not an old result. False with *err when that failed.
using AfterDelivery = std::function<bool(const std::string& job_id, std::string* err)>;

struct FlushReport {
  int delivered = 0;
  int failed = 0;   // tried and not confirmed
  int skipped = 0;  // not tried (Kuma down, or a hook is pushing it right now)
  int given_up = 0;  // moved to spool/failed/ this time
  std::vector<std::string> lines;  // one per entry, for the log
  std::vector<std::string> errors;
};

// Delivers what the spool owes JOB_ID, oldest first, with that job's lock
// already held by the caller (the hook before its own push, refresh before
// the job's current state): a newer push must never overtake an older one.
// Entries locked by someone else (the calling hook's own) are left alone.
// Counts into *REPORT; false when Kuma could not be reached.
bool DeliverSpooledForJob(const StateLayout& state, const std::string& job_id,
                          const PushFunction& push, FlushReport* report);

// The push a spooled result is delivered as: marked late, with its run time.
KumaPush LatePush(const SpooledPush& entry);

// Delivers the spool oldest first, job by job under each job's lock,
// removing each entry only after Kuma confirmed it; then AFTER (if given)
// for every job something was delivered for. Stops trying once Kuma cannot
// be reached at all. JOB_LOCK_WAIT bounds the wait for a job's lock.
FlushReport FlushSpool(const StateLayout& state, const PushFunction& push,
                       const AfterDelivery& after = nullptr,
                       std::chrono::milliseconds job_lock_wait = std::chrono::seconds(30));

}  // namespace pbk
