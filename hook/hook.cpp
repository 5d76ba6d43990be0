#include "hook/hook.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <memory>

#include "hook/chain.h"
#include "hook/deadline.h"
#include "hook/job_identity.h"
#include "hook/manual_push.h"
#include "agent/core/log.h"
#include "agent/core/state_layout.h"
#include "hook/outcome.h"
#include "hook/run_record.h"
#include "hook/spool.h"
#include "agent/core/text.h"
#include "hook/worker.h"

namespace pbk {
namespace {

constexpr int64_t kKeepRunRecordsMs = 60LL * 24 * 3600 * 1000;

enum class Phase { kJobInit, kJobStart, kJobEnd, kJobAbort, kGuest, kUnknown };

Phase Classify(const std::string& phase) {
  if (phase == "job-init") return Phase::kJobInit;
  if (phase == "job-start") return Phase::kJobStart;
  if (phase == "job-end") return Phase::kJobEnd;
  if (phase == "job-abort") return Phase::kJobAbort;
  static const char* kGuestPhases[] = {"backup-start", "pre-stop",     "pre-restart", "post-restart",
                                       "backup-end",   "backup-abort", "log-end"};
  for (const char* guest_phase : kGuestPhases) {
    if (phase == guest_phase) return Phase::kGuest;
  }
  return Phase::kUnknown;
}

std::optional<std::string> Env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

class Hook {
 public:
  explicit Hook(const HookContext& context)
      : context_(context),
        config_(*context.config),
        state_(context.config->paths.state_dir),
        phase_name_(context.args.front()) {}

  int Run();

 private:
  int RunOwn(Phase phase);
  int RecordPhase(Phase phase);
  int EndRun();
  int Unreported(RunRecord* record, const JobIdentity& identity);
  bool AlarmNodeMonitor(const std::string& message);
  void RunChains();
  JobIdentity Identify(const RunRecord& record, bool may_ask_pve) const;
  int64_t Now() const { return context_.now_ms ? context_.now_ms() : NowMs(); }

  const HookContext& context_;
  const Config& config_;
  const StateLayout state_;
  const std::string phase_name_;
  WorkerIdentity worker_;
  std::string record_path_;
  std::string job_id_;  // the run's job, when known: whose chain runs
  bool chains_ran_ = false;
  ChainOutcome chain_;
};

// The chained hooks of this phase: hook.chain, then the chain of the run's
// job. Which job a guest phase belongs to comes from the run record, where
// job-init and job-start put it when the job could be told then (the
// scheduler's file, or the run's options in its task log; never the
// network). A job told only at job-end runs its chain at job-end and
// job-abort alone.
void Hook::RunChains() {
  chains_ran_ = true;
  std::vector<std::string> scripts = config_.hook.chain;
  if (!job_id_.empty()) {
    auto job = config_.jobs.find(job_id_);
    if (job != config_.jobs.end()) {
      scripts.insert(scripts.end(), job->second.chain.begin(), job->second.chain.end());
    }
  }
  if (scripts.empty() || !context_.run_chain) return;
  chain_ = context_.run_chain(scripts, context_.args);
  for (const auto& error : chain_.errors) {
    spdlog::error("pbk-agent hook {}: {}; skipped", phase_name_, error);
  }
  if (chain_.exit_code != 0) {
    spdlog::info("pbk-agent hook {}: chained hook {} exited with code {}", phase_name_,
                 chain_.failed_script, chain_.exit_code);
  }
}

JobIdentity Hook::Identify(const RunRecord& record, bool may_ask_pve) const {
  return IdentifyJob(config_.paths.scheduler_dir, state_.JobCache(), record, config_.node,
                     may_ask_pve ? context_.list_guests : GuestLister(), config_.paths.tasks_dir);
}

int Hook::Run() {
  const Phase phase = Classify(phase_name_);
  const bool ends_run = phase == Phase::kJobEnd || phase == Phase::kJobAbort;
  if (ends_run && context_.args.size() > 1) return ManualTestPush(context_, phase_name_, Now());
  // Our own part first: the record is written whatever the chained hooks
  // then do. At the end of a run the chains run inside EndRun, before the
  // push, so that a failing one is in the push.
  const int own = RunOwn(phase);
  if (!chains_ran_) RunChains();
  if (own != 0) return own;
  // A chained hook may fail a guest on purpose, as it could without us.
  if (chain_.exit_code != 0) return chain_.exit_code;
  // A chained hook that could not run is no reason to fail a backup; at the
  // end of the run the task shows it.
  return ends_run && !chain_.errors.empty() ? 1 : 0;
}

int Hook::RunOwn(Phase phase) {
  const bool ends_run = phase == Phase::kJobEnd || phase == Phase::kJobAbort;
  if (phase == Phase::kUnknown) {
    spdlog::warn("pbk-agent hook: unknown phase {}; ignored", Quote(phase_name_));
    return 0;
  }

  std::string err;
  if (!IdentifyWorker(config_.paths.proc, context_.parent_pid, &worker_, &err)) {
    spdlog::error("pbk-agent hook {}: {}", phase_name_, err);
    return ends_run ? 1 : 0;
  }
  record_path_ = state_.RunFile(worker_.key);
  return ends_run ? EndRun() : RecordPhase(phase);
}

int Hook::RecordPhase(Phase phase) {
  RunRecord record;
  bool exists = false;
  std::string err;
  if (!LoadRunRecord(record_path_, &record, &exists, &err)) {
    // Overwriting would forget the guests recorded so far; job-end will
    // report the run as unknown instead.
    spdlog::error("pbk-agent hook {}: {}; this run's result will be reported as unknown",
                  phase_name_, err);
    return 0;
  }
  const int64_t now = Now();
  // Most guest phases (pre-stop, log-end, …) change nothing the judgement
  // needs; such a call only reads, which keeps it cheap.
  const std::string before = exists ? SerializeRunRecord(record) : std::string();
  if (!exists) {
    record.key = worker_.key;
    record.upid = worker_.upid;
    record.worker_pid = static_cast<int>(worker_.pid);
    record.first_ms = now;
  }
  record.node = config_.node;
  if (context_.env.storeid) record.storage = *context_.env.storeid;
  if (context_.env.dumpdir) record.dumpdir = *context_.env.dumpdir;
  if (phase == Phase::kJobStart) record.job_start_ms = now;
  if (phase != Phase::kGuest && record.job_id.empty()) {
    // Told early, the job's chain runs in the guest phases too. Only a job
    // the run names (scheduler file, task log) counts: a guess from the
    // guests seen so far could be wrong.
    JobIdentity identity = Identify(record, /*may_ask_pve=*/false);
    if (identity.found && !identity.inferred) {
      record.job_id = identity.job_id;
      record.job_source = identity.source;
    }
  }
  job_id_ = record.job_id;

  if (phase == Phase::kGuest) {
    const auto& args = context_.args;
    std::optional<uint64_t> vmid = args.size() == 3 ? ParseUnsigned(args[2]) : std::nullopt;
    if (!vmid || *vmid == 0 || *vmid > 999999999) {
      spdlog::warn("pbk-agent hook {}: expected MODE VMID, got {} argument(s); ignored",
                   phase_name_, args.size() - 1);
      return 0;
    }
    GuestRecord& guest = record.Guest(static_cast<int>(*vmid));
    guest.mode = args[1];
    if (context_.env.vmtype) guest.type = *context_.env.vmtype;
    if (context_.env.hostname) guest.name = *context_.env.hostname;
    if (context_.env.target) guest.target = *context_.env.target;
    if (phase_name_ == "backup-start" && guest.started_ms == 0) {
      guest.started_ms = now;
    } else if (phase_name_ == "backup-end") {
      // An abort is final: vzdump may still run backup-end's neighbours.
      if (guest.result != GuestResult::kFailed) guest.result = GuestResult::kOk;
      guest.ended_ms = now;
    } else if (phase_name_ == "backup-abort") {
      guest.result = GuestResult::kFailed;
      guest.ended_ms = now;
    }
  }
  if (exists && SerializeRunRecord(record) == before) return 0;
  if (!SaveRunRecord(record_path_, record, &err)) {
    spdlog::error("pbk-agent hook {}: cannot record this phase: {}", phase_name_, err);
  }
  return 0;
}

// One function on purpose (~165 lines): it is the ordered at-least-once
// protocol of a run's push (record, identity, chains, verdict, spool, job
// lock, backlog, push, sent mark, record, release), whose order is what the
// fault tests check; split, the order would be spread over several places.
int Hook::EndRun() {
  RunRecord record;
  bool exists = false;
  std::string err;
  std::string record_problem;
  if (!LoadRunRecord(record_path_, &record, &exists, &err)) {
    record_problem = "the run record is unreadable (" + err + ")";
    record = RunRecord{};
    exists = false;
  } else if (!exists) {
    record_problem = "no earlier phase of this run was recorded";
  }
  if (!exists) {
    record.key = worker_.key;
    record.upid = worker_.upid;
    record.worker_pid = static_cast<int>(worker_.pid);
    record.first_ms = Now();
    record.storage = context_.env.storeid.value_or("");
  }
  record.node = config_.node;
  job_id_ = record.job_id;

  // Exactly one push per run: a second end phase (job-abort after a job-end,
  // or a repeated call) reports what was done instead of pushing again.
  if (record.push.state != PushState::kNone || SpooledOrSent(state_, worker_.key)) {
    if (record.push.state == PushState::kDelivered || record.push.state == PushState::kSpooled) {
      spdlog::info("pbk-agent: {} after {}: this run was already reported to Kuma as {} ({})",
                   phase_name_, record.end_phase.empty() ? "an earlier end phase" : record.end_phase,
                   record.push.up ? "up" : "down", PushStateName(record.push.state));
    }
    return 0;
  }

  record.end_phase = phase_name_;
  record.end_ms = Now();

  JobIdentity identity = Identify(record, /*may_ask_pve=*/true);
  job_id_ = identity.found ? identity.job_id : std::string();
  // The chained hooks run before the push: one that fails the task makes
  // the push down, so PVE and Kuma never disagree.
  RunChains();
  const std::string push_token = identity.found ? PushTokenFor(config_, identity.job_id) : "";
  if (push_token.empty()) return Unreported(&record, identity);
  record.job_id = identity.job_id;
  record.job_source = identity.source;

  Outcome outcome = JudgeRun(record);
  // (A chained hook that could not be run at all leaves the push as it is:
  // it is an ERROR line in every phase and job-end's exit code.)
  if (chain_.exit_code != 0) {
    outcome = WithChainFailure(outcome, config_.node,
                               "chained hook " + chain_.failed_script + " exited " +
                                   std::to_string(chain_.exit_code));
  }
  if (!record_problem.empty()) {
    outcome.up = false;
    outcome.message = TruncateUtf8(config_.node + ": backup job result UNKNOWN: " +
                                       record_problem + " (storage " +
                                       (record.storage.empty() ? "unknown" : record.storage) + ")",
                                   kMaxPushMessageBytes);
  }

  SpooledPush owed;
  owed.job_id = identity.job_id;
  owed.up = outcome.up;
  owed.message = outcome.message;
  owed.ping_ms = outcome.duration_ms;
  owed.created_ms = record.end_ms;
  owed.run_key = worker_.key;
  UniqueFd spool_lock;
  std::string spool_err;
  const bool spooled = SpoolPush(state_, &owed, &spool_lock, &spool_err);
  SetResultSpooled(spooled);

  // The record is saved once, after the push: until then the spool entry
  // is what says that this run's push is owed.
  record.push.state = spooled ? PushState::kSpooled : PushState::kLost;
  record.push.up = outcome.up;
  record.push.message = outcome.message;
  record.push.ping_ms = outcome.duration_ms;
  record.push.at_ms = record.end_ms;

  // The wait for the job's lock (a flush or refresh pushing for the same
  // job) and the push share one deadline.
  ArmDeadline(2 * config_.kuma.timeout_seconds + 15);
  KumaPush push{outcome.up, outcome.message, outcome.duration_ms};
  std::string push_err;
  FileLock job_lock;
  bool busy = false;
  bool may_push =
      LockJob(state_, identity.job_id, std::chrono::seconds(config_.kuma.timeout_seconds),
              &job_lock, &push_err, &busy);
  if (!may_push && !busy) {
    // No lock can be had at all (a full or read-only disk): the result
    // matters more than the order of pushes.
    spdlog::warn("pbk-agent: {}; pushing without the job's lock", push_err);
    push_err.clear();
    may_push = true;
  } else if (may_push) {
    // Results of earlier runs still owed go first: a newer result must not
    // be followed by an older one.
    FlushReport backlog;
    const bool reachable = DeliverSpooledForJob(state_, identity.job_id,
                                                SpoolPusher(config_, context_.send), &backlog);
    for (const auto& line : backlog.lines) spdlog::info("pbk-agent: {}", line);
    if (!reachable) {
      may_push = false;
      push_err = backlog.errors.empty() ? "Kuma cannot be reached" : backlog.errors.back();
    }
  }
  const bool delivered =
      may_push && context_.send(push_token, push, &push_err, nullptr);
  alarm(0);

  const char* status = outcome.up ? "up" : "down";
  int exit_code = 0;
  if (delivered) {
    // Mark the entry sent at once (a rename), then record the delivery,
    // then remove the entry: a crash at any point in between leaves
    // something that says the push was made, never one that flush would
    // send again.
    std::string sent;
    if (spooled && !MarkSent(owed.path, &sent, &err)) {
      spdlog::warn("pbk-agent: {} (flush would send this push a second time)", err);
      sent.clear();
    }
    record.push.state = PushState::kDelivered;
    if (!SaveRunRecord(record_path_, record, &err)) spdlog::error("pbk-agent: {}", err);
    if (!sent.empty() && !RemoveFile(sent, &err)) spdlog::warn("pbk-agent: {}", err);
    if (!spooled) {
      spdlog::warn("pbk-agent: the push could not be spooled before sending ({}); it was "
                   "delivered all the same",
                   spool_err);
    }
    spdlog::info("pbk-agent: pushed {} to Uptime Kuma for job {}: {}", status, identity.job_id,
                 outcome.message);
  } else if (spooled) {
    record.push.detail = push_err;
    spdlog::error(
        "pbk-agent: push of {} to Uptime Kuma for job {} failed: {}. The result is spooled in {} "
        "and `pbk-agent flush` will deliver it; until then Kuma alarms by missed heartbeat",
        status, identity.job_id, push_err, owed.path);
  } else {
    record.push.detail = push_err + "; " + spool_err;
    spdlog::error(
        "pbk-agent: push of {} to Uptime Kuma for job {} failed: {}, and it could not be spooled "
        "either: {}. This result is lost; Kuma will alarm by missed heartbeat",
        status, identity.job_id, push_err, spool_err);
    exit_code = 1;
  }
  // Saved before the spool entry's lock goes: a flush that delivers the
  // entry in between would otherwise have its note overwritten.
  if (!delivered && !SaveRunRecord(record_path_, record, &err)) {
    spdlog::error("pbk-agent: {}", err);
  }
  spool_lock.Reset();
  job_lock.Release();
  PruneRunRecords(state_, Now() - kKeepRunRecordsMs, &err);
  return exit_code;
}

// A run whose result no job monitor will hear: a run of no job is only
// noted; for the others (a job without a push token on this node, a run
// that cannot be told apart) the node monitor goes down, naming what is
// wrong. Exit 0 but when no monitor at all hears about it.
int Hook::Unreported(RunRecord* record, const JobIdentity& identity) {
  std::string err;
  std::string alarm;
  bool fails_task = false;
  record->job_id.clear();
  record->job_source.clear();
  if (identity.match == JobMatch::kNoJob) {
    record->push.state = PushState::kNotAJob;
    record->push.detail = identity.problem;
    spdlog::info("pbk-agent: not a backup job: not reported to Kuma ({})", identity.problem);
  } else if (identity.found) {
    record->job_id = identity.job_id;
    record->job_source = identity.source;
    record->push.state = PushState::kNoToken;
    record->push.detail = "no push token configured";
    spdlog::error(
        "pbk-agent: backup job {} has no push monitor on node {}: add \"jobs\": {{\"{}\": "
        "{{\"push_token\": \"…\"}}}} to {}. No Kuma monitor will hear about this run",
        identity.job_id, config_.node, identity.job_id, config_.path);
    alarm = "backup job " + identity.job_id + " ran without a push monitor on this node; its " +
            "result was not reported";
    fails_task = true;
  } else {
    record->push.state = PushState::kUnattributed;
    record->push.detail = identity.problem;
    spdlog::error(
        "pbk-agent: cannot tell which backup job this run belongs to: {}. No job monitor will "
        "hear about this run; run `pbk-agent guard` to refresh the job list, or make the job "
        "scheduled",
        identity.problem);
    alarm = identity.candidates.empty()
                ? "a backup run could not be told apart: " + identity.problem
                : "a backup run could not be told apart: it may be a run of " +
                      Join(identity.candidates, " or ") + "; not reported";
    // Several jobs fit: not knowing which is no reason to fail the backup.
    fails_task = identity.match != JobMatch::kAmbiguous;
  }
  if (!SaveRunRecord(record_path_, *record, &err)) spdlog::error("pbk-agent: {}", err);
  if (alarm.empty()) return 0;
  if (config_.node_monitor.push_token.empty()) {
    if (fails_task) return 1;
    spdlog::error("pbk-agent: no node monitor is configured to report this either");
    return 0;
  }
  AlarmNodeMonitor(alarm + " (run " + (worker_.upid.empty() ? worker_.key : worker_.upid) + ")");
  return 0;
}

bool Hook::AlarmNodeMonitor(const std::string& message) {
  KumaPush push{false, TruncateUtf8(config_.node + ": " + message, kMaxPushMessageBytes),
                std::nullopt};
  std::string err;
  SetNodeAlarm(true);
  ArmDeadline(config_.kuma.timeout_seconds + 15);
  const bool sent = context_.send(config_.node_monitor.push_token, push, &err, nullptr);
  alarm(0);
  SetNodeAlarm(false);
  if (sent) {
    spdlog::info("pbk-agent: pushed down to the node monitor of {}: {}", config_.node,
                 push.message);
  } else {
    spdlog::error("pbk-agent: the push of down to the node monitor of {} failed: {}",
                  config_.node, err);
  }
  return sent;
}

}  // namespace

HookEnvironment HookEnvironment::FromProcess() {
  HookEnvironment env;
  env.storeid = Env("STOREID");
  env.dumpdir = Env("DUMPDIR");
  env.vmtype = Env("VMTYPE");
  env.hostname = Env("HOSTNAME");
  env.target = Env("TARGET");
  env.logfile = Env("LOGFILE");
  return env;
}

int RunHook(const HookContext& context) {
  if (context.args.empty()) {
    spdlog::error("usage: pbk-agent hook PHASE [MODE VMID]");
    return 2;
  }
  return Hook(context).Run();
}

int HookExitForBrokenConfig(const std::vector<std::string>& args) {
  if (args.empty()) return 2;
  const Phase phase = Classify(args.front());
  const bool ends_run = phase == Phase::kJobEnd || phase == Phase::kJobAbort;
  // The manual test is an admin at a shell: a configuration error is 2.
  // vzdump's calls are never failed: the backup itself went fine, and a
  // node that cannot push goes silent, which every Kuma monitor of the
  // node turns into DOWN within its heartbeat interval.
  return ends_run && args.size() > 1 ? 2 : 0;
}

}  // namespace pbk
