#include "hook/spool.h"

#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <thread>
#include <nlohmann/json.hpp>

#include "hook/run_record.h"
#include "agent/core/text.h"

namespace pbk {

using nlohmann::json;

bool LockJob(const StateLayout& state, const std::string& job_id,
             std::chrono::milliseconds wait, FileLock* lock, std::string* err, bool* busy) {
  if (busy != nullptr) *busy = false;
  if (!MakeDirs(state.LocksDir(), 0700, err)) return false;
  const std::string path = state.JobLock(job_id);
  const auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    bool acquired = false;
    if (!lock->Acquire(path, FileLock::Mode::kTry, &acquired, err)) return false;
    if (acquired) return true;
    if (std::chrono::steady_clock::now() >= deadline) {
      if (busy != nullptr) *busy = true;
      *err = "job " + job_id + ": another pbk-agent process held its push lock (" + path +
             ") for more than " + std::to_string(wait.count() / 1000) + " s";
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::string SerializeSpooledPush(const SpooledPush& push) {
  json document = {{"format", 1},
                   {"job_id", push.job_id},
                   {"status", push.up ? "up" : "down"},
                   {"msg", push.message},
                   {"ping", push.ping_ms ? json(*push.ping_ms) : json()},
                   {"created", push.created_ms},
                   {"run", push.run_key},
                   {"attempts", push.attempts},
                   {"last_error", push.last_error}};
  return document.dump(1, ' ', false, json::error_handler_t::replace) + "\n";
}

bool ParseSpooledPush(const std::string& text, SpooledPush* push, std::string* err) {
  json document = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!document.is_object()) {
    *err = "not a JSON object";
    return false;
  }
  try {
    if (WholeNumber<int>(document.at("format"), "format") != 1) {
      *err = "unknown format";
      return false;
    }
    SpooledPush result;
    result.job_id = document.at("job_id").get<std::string>();
    const std::string status = document.at("status").get<std::string>();
    if (status != "up" && status != "down") {
      *err = "status must be up or down";
      return false;
    }
    result.up = status == "up";
    result.message = document.at("msg").get<std::string>();
    if (!document.at("ping").is_null()) {
      result.ping_ms = WholeNumber<int64_t>(document.at("ping"), "ping");
    }
    result.created_ms = WholeNumber<int64_t>(document.at("created"), "created");
    result.run_key = document.at("run").get<std::string>();
    result.attempts = WholeNumber<int>(document.at("attempts"), "attempts");
    result.last_error = document.at("last_error").get<std::string>();
    if (result.job_id.empty()) {
      *err = "no job id";
      return false;
    }
    *push = std::move(result);
    return true;
  } catch (const json::exception& e) {
    *err = std::string("malformed: ") + e.what();
    return false;
  } catch (const NotAWholeNumber& e) {
    *err = std::string("malformed: ") + e.what();
    return false;
  }
}

bool SpoolPush(const StateLayout& state, SpooledPush* push, UniqueFd* lock, std::string* err) {
  if (!MakeDirs(state.SpoolDir(), 0700, err)) return false;
  std::string name = push->run_key.empty() ? "push-" + std::to_string(push->created_ms) + "-" +
                                                  push->job_id
                                            : push->run_key;
  push->path = state.SpoolEntry(name);
  AtomicWriteOptions options;
  options.locked_fd = lock;
  return WriteFileAtomic(push->path, SerializeSpooledPush(*push), options, err);
}

bool MarkSent(const std::string& path, std::string* sent_path, std::string* err) {
  *sent_path = StateLayout::SentPathOf(path);
  if (rename(path.c_str(), sent_path->c_str()) != 0) {
    *err = "renaming " + path + ": " + ErrnoText(errno);
    return false;
  }
  return true;
}

bool SpooledOrSent(const StateLayout& state, const std::string& run_key) {
  return access(state.SpoolEntry(run_key).c_str(), F_OK) == 0 ||
         access(state.SentEntry(run_key).c_str(), F_OK) == 0;
}

namespace {

std::vector<SpooledPush> ListEntries(const std::string& dir, std::vector<std::string>* bad) {
  std::vector<SpooledPush> entries;
  std::vector<std::string> names;
  std::string err;
  if (!ListDir(dir, &names, &err)) {
    bad->push_back(err);
    return entries;
  }
  for (const auto& name : names) {
    // Temporary files of a write in progress (or killed) start with a dot.
    if (!StateLayout::IsEntryName(name)) continue;
    const std::string path = JoinPath(dir, name);
    std::string text;
    bool exists = false;
    if (!ReadFileIfExists(path, &text, &exists, &err)) {
      bad->push_back(err);
      continue;
    }
    if (!exists) continue;  // delivered by someone else meanwhile
    SpooledPush push;
    if (!ParseSpooledPush(text, &push, &err)) {
      bad->push_back(path + ": " + err + " (kept; inspect and remove it by hand)");
      continue;
    }
    push.path = path;
    entries.push_back(std::move(push));
  }
  std::stable_sort(entries.begin(), entries.end(), [](const SpooledPush& a, const SpooledPush& b) {
    return a.created_ms < b.created_ms;
  });
  return entries;
}

}  // namespace

std::vector<SpooledPush> ListSpool(const StateLayout& state, std::vector<std::string>* bad) {
  return ListEntries(state.SpoolDir(), bad);
}

std::vector<SpooledPush> ListFailedSpool(const StateLayout& state, std::vector<std::string>* bad) {
  return ListEntries(state.FailedDir(), bad);
}

// Whether the run's record says this push was delivered already: a hook
// killed between Kuma's answer and removing the spool entry leaves that.
bool AlreadyDelivered(const StateLayout& state, const SpooledPush& push) {
  if (push.run_key.empty()) return false;
  RunRecord record;
  bool exists = false;
  std::string err;
  return LoadRunRecord(state.RunFile(push.run_key), &record, &exists, &err) && exists &&
         record.push.state == PushState::kDelivered;
}

// Marks the run's record as delivered, if the record is still there.
void NoteDelivered(const StateLayout& state, const SpooledPush& push) {
  if (push.run_key.empty()) return;
  const std::string path = state.RunFile(push.run_key);
  RunRecord record;
  bool exists = false;
  std::string err;
  if (!LoadRunRecord(path, &record, &exists, &err) || !exists) return;
  record.push.state = PushState::kDelivered;
  record.push.at_ms = NowMs();
  record.push.detail = "delivered late by pbk-agent flush";
  SaveRunRecord(path, record, &err);
}

// Entries a hook marked as sent and then could not remove (it was killed).
void RemoveSentEntries(const StateLayout& state, FlushReport* report) {
  std::vector<std::string> names;
  std::string err;
  if (!ListDir(state.SpoolDir(), &names, &err)) return;
  for (const auto& name : names) {
    if (!StateLayout::IsSentName(name)) continue;
    const std::string path = JoinPath(state.SpoolDir(), name);
    std::string text;
    SpooledPush push;
    if (ReadFile(path, &text, &err) && ParseSpooledPush(text, &push, &err)) {
      NoteDelivered(state, push);
    }
    if (!RemoveFileDurably(path, &err)) report->errors.push_back(err);
  }
}

namespace {

// Moves an entry that can never be delivered to spool/failed/.
bool GiveUp(const StateLayout& state, const SpooledPush& entry, std::string* err) {
  if (!MakeDirs(state.FailedDir(), 0700, err)) return false;
  return RenameDurably(entry.path, state.FailedEntryFor(entry.path), err);
}

// An entry Kuma did not take: given up on (moved to spool/failed/) when Kuma
// refused it for good and it is old enough, else kept with the attempt noted.
// True when it was given up on.
bool NoteNotDelivered(const StateLayout& state, const std::string& job_id,
                      const std::string& err, bool permanent, SpooledPush* entry_pointer,
                      FlushReport* report) {
  SpooledPush& entry = *entry_pointer;
  entry.attempts += 1;
  entry.last_error = err;
  if (permanent && NowMs() - entry.created_ms >= kGiveUpAfterMs) {
    std::string move_err;
    if (GiveUp(state, entry, &move_err)) {
      ++report->given_up;
      report->errors.push_back("job " + job_id + ": push spooled " +
                               FormatLocalTime(entry.created_ms) + " can never be delivered (" +
                               err + "); moved to " + state.FailedDir() + "/ for you to inspect");
      return true;
    }
    report->errors.push_back(move_err);
  }
  ++report->failed;
  report->errors.push_back("job " + job_id + ": push spooled " +
                           FormatLocalTime(entry.created_ms) + " not delivered: " + err);
  std::string write_err;
  // The entry is rewritten under its lock; on failure the old one stays.
  if (!WriteFileAtomic(entry.path, SerializeSpooledPush(entry), &write_err)) {
    report->errors.push_back(write_err);
  }
  return false;
}

// Delivers the entries of one job, oldest first, with the job's lock held.
void FlushJob(const StateLayout& state, std::vector<SpooledPush*>& entries,
              const PushFunction& push_function, const AfterDelivery& after, bool* kuma_unreachable,
              FlushReport* report) {
  const std::string& job_id = entries.front()->job_id;
  int delivered = 0;
  for (SpooledPush* entry_pointer : entries) {
    SpooledPush& entry = *entry_pointer;
    if (*kuma_unreachable) {
      ++report->skipped;
      continue;
    }
    UniqueFd fd(open(entry.path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) continue;  // delivered meanwhile
    if (flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
      ++report->skipped;  // a hook is pushing it right now
      continue;
    }
    struct stat st {};
    if (fstat(fd.get(), &st) != 0 || st.st_nlink == 0) continue;  // removed after delivery

    std::string err;
    if (AlreadyDelivered(state, entry)) {
      if (RemoveFileDurably(entry.path, &err)) {
        report->lines.push_back("removed the push for job " + job_id + " spooled " +
                                FormatLocalTime(entry.created_ms) +
                                ": Kuma had confirmed it already");
      } else {
        report->errors.push_back(err);
      }
      continue;
    }
    bool transport_failed = false;
    bool permanent = false;
    if (push_function(job_id, entry, &err, &transport_failed, &permanent)) {
      // As the hook does: marked sent at once (one rename), so a process
      // killed right after Kuma's answer leaves nothing to send again.
      std::string sent, remove_err;
      if (!MarkSent(entry.path, &sent, &remove_err)) sent = entry.path;
      NoteDelivered(state, entry);
      if (!RemoveFileDurably(sent, &remove_err)) {
        report->errors.push_back("delivered, but " + remove_err +
                                 " (it would be sent again: remove it by hand)");
      }
      ++report->delivered;
      ++delivered;
      report->lines.push_back("delivered the " + std::string(entry.up ? "up" : "down") +
                              " push for job " + job_id + " spooled " +
                              FormatLocalTime(entry.created_ms) + " (marked late)");
      continue;
    }
    if (!NoteNotDelivered(state, job_id, err, permanent, &entry, report)) {
      *kuma_unreachable = transport_failed;
    }
  }
  if (delivered > 0 && after && !*kuma_unreachable) {
    std::string err;
    if (!after(job_id, &err)) {
      report->errors.push_back("job " + job_id + ": its current state was not pushed after " +
                               "the late results: " + err);
    }
  }
}

}  // namespace

bool DeliverSpooledForJob(const StateLayout& state, const std::string& job_id,
                          const PushFunction& push, FlushReport* report) {
  std::vector<std::string> bad;
  std::vector<SpooledPush> entries = ListSpool(state, &bad);
  std::vector<SpooledPush*> mine;
  for (auto& entry : entries) {
    if (entry.job_id == job_id) mine.push_back(&entry);
  }
  bool kuma_unreachable = false;
  if (!mine.empty()) FlushJob(state, mine, push, nullptr, &kuma_unreachable, report);
  return !kuma_unreachable;
}

KumaPush LatePush(const SpooledPush& entry) {
  KumaPush push;
  push.up = entry.up;
  push.message = TruncateUtf8(
      "delivered late, run ended " + FormatLocalTime(entry.created_ms) + ": " + entry.message,
      kMaxPushMessageBytes);
  push.ping_ms = entry.ping_ms;
  return push;
}

FlushReport FlushSpool(const StateLayout& state, const PushFunction& push_function,
                       const AfterDelivery& after, std::chrono::milliseconds job_lock_wait) {
  FlushReport report;
  RemoveSentEntries(state, &report);
  std::vector<std::string> bad;
  std::vector<SpooledPush> entries = ListSpool(state, &bad);
  for (auto& line : bad) report.errors.push_back(std::move(line));

  // Jobs in the order of their oldest entry; each job's entries oldest first.
  std::vector<std::string> order;
  std::map<std::string, std::vector<SpooledPush*>> by_job;
  for (auto& entry : entries) {
    auto& list = by_job[entry.job_id];
    if (list.empty()) order.push_back(entry.job_id);
    list.push_back(&entry);
  }
  bool kuma_unreachable = false;
  for (const auto& job_id : order) {
    auto& list = by_job[job_id];
    if (kuma_unreachable) {
      report.skipped += static_cast<int>(list.size());
      continue;
    }
    FileLock lock;
    std::string err;
    if (!LockJob(state, job_id, job_lock_wait, &lock, &err)) {
      report.skipped += static_cast<int>(list.size());
      report.errors.push_back(err);
      continue;
    }
    FlushJob(state, list, push_function, after, &kuma_unreachable, &report);
  }
  return report;
}

}  // namespace pbk
