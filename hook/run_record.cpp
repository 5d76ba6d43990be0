#include "hook/run_record.h"

#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "agent/core/fs.h"
#include "agent/core/text.h"

namespace pbk {

using nlohmann::json;

GuestRecord& RunRecord::Guest(int vmid) {
  for (auto& guest : guests) {
    if (guest.vmid == vmid) return guest;
  }
  guests.push_back(GuestRecord{});
  guests.back().vmid = vmid;
  return guests.back();
}

const GuestRecord* RunRecord::FindGuest(int vmid) const {
  for (const auto& guest : guests) {
    if (guest.vmid == vmid) return &guest;
  }
  return nullptr;
}

const char* GuestResultName(GuestResult result) {
  switch (result) {
    case GuestResult::kOk: return "ok";
    case GuestResult::kFailed: return "failed";
    case GuestResult::kRunning: break;
  }
  return "running";
}

const char* PushStateName(PushState state) {
  switch (state) {
    case PushState::kDelivered: return "delivered";
    case PushState::kSpooled: return "spooled";
    case PushState::kUnattributed: return "unattributed";
    case PushState::kNoToken: return "no-token";
    case PushState::kNotAJob: return "not-a-job";
    case PushState::kLost: return "lost";
    case PushState::kNone: break;
  }
  return "none";
}

namespace {

std::optional<GuestResult> GuestResultFromName(const std::string& name) {
  for (auto result : {GuestResult::kRunning, GuestResult::kOk, GuestResult::kFailed}) {
    if (name == GuestResultName(result)) return result;
  }
  return std::nullopt;
}

std::optional<PushState> PushStateFromName(const std::string& name) {
  for (auto state : {PushState::kNone, PushState::kDelivered, PushState::kSpooled,
                     PushState::kUnattributed, PushState::kNoToken, PushState::kNotAJob,
                     PushState::kLost}) {
    if (name == PushStateName(state)) return state;
  }
  return std::nullopt;
}

constexpr int kFormat = 1;

}  // namespace

std::string SerializeRunRecord(const RunRecord& record) {
  json guests = json::array();
  for (const auto& guest : record.guests) {
    guests.push_back({{"vmid", guest.vmid},
                      {"type", guest.type},
                      {"name", guest.name},
                      {"mode", guest.mode},
                      {"target", guest.target},
                      {"result", GuestResultName(guest.result)},
                      {"started", guest.started_ms},
                      {"ended", guest.ended_ms}});
  }
  json document = {
      {"format", kFormat},
      {"key", record.key},
      {"upid", record.upid},
      {"worker_pid", record.worker_pid},
      {"node", record.node},
      {"storage", record.storage},
      {"dumpdir", record.dumpdir},
      {"first", record.first_ms},
      {"job_start", record.job_start_ms},
      {"end", record.end_ms},
      {"end_phase", record.end_phase},
      {"guests", std::move(guests)},
      {"job_id", record.job_id},
      {"job_source", record.job_source},
      {"push",
       {{"state", PushStateName(record.push.state)},
        {"up", record.push.up},
        {"message", record.push.message},
        {"ping", record.push.ping_ms},
        {"at", record.push.at_ms},
        {"detail", record.push.detail}}},
  };
  // Invalid UTF-8 from a guest name must not make the record unwritable.
  return document.dump(1, ' ', false, json::error_handler_t::replace) + "\n";
}

bool ParseRunRecord(const std::string& text, RunRecord* record, std::string* err) {
  json document = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!document.is_object()) {
    *err = "not a JSON object";
    return false;
  }
  try {
    if (WholeNumber<int>(document.at("format"), "format") != kFormat) {
      *err = "unknown format " + document.at("format").dump();
      return false;
    }
    RunRecord result;
    result.key = document.at("key").get<std::string>();
    result.upid = document.at("upid").get<std::string>();
    result.worker_pid = WholeNumber<int>(document.at("worker_pid"), "worker_pid");
    result.node = document.at("node").get<std::string>();
    result.storage = document.at("storage").get<std::string>();
    result.dumpdir = document.at("dumpdir").get<std::string>();
    result.first_ms = WholeNumber<int64_t>(document.at("first"), "first");
    result.job_start_ms = WholeNumber<int64_t>(document.at("job_start"), "job_start");
    result.end_ms = WholeNumber<int64_t>(document.at("end"), "end");
    result.end_phase = document.at("end_phase").get<std::string>();
    for (const auto& item : document.at("guests")) {
      GuestRecord guest;
      guest.vmid = WholeNumber<int>(item.at("vmid"), "vmid");
      guest.type = item.at("type").get<std::string>();
      guest.name = item.at("name").get<std::string>();
      guest.mode = item.at("mode").get<std::string>();
      guest.target = item.at("target").get<std::string>();
      auto guest_result = GuestResultFromName(item.at("result").get<std::string>());
      if (!guest_result) {
        *err = "guest " + std::to_string(guest.vmid) + " has an unknown result";
        return false;
      }
      guest.result = *guest_result;
      guest.started_ms = WholeNumber<int64_t>(item.at("started"), "started");
      guest.ended_ms = WholeNumber<int64_t>(item.at("ended"), "ended");
      result.guests.push_back(std::move(guest));
    }
    result.job_id = document.at("job_id").get<std::string>();
    result.job_source = document.at("job_source").get<std::string>();
    const json& push = document.at("push");
    auto state = PushStateFromName(push.at("state").get<std::string>());
    if (!state) {
      *err = "unknown push state";
      return false;
    }
    result.push.state = *state;
    result.push.up = push.at("up").get<bool>();
    result.push.message = push.at("message").get<std::string>();
    result.push.ping_ms = WholeNumber<int64_t>(push.at("ping"), "ping");
    result.push.at_ms = WholeNumber<int64_t>(push.at("at"), "at");
    result.push.detail = push.at("detail").get<std::string>();
    *record = std::move(result);
    return true;
  } catch (const json::exception& e) {
    *err = std::string("malformed run record: ") + e.what();
    return false;
  } catch (const NotAWholeNumber& e) {
    *err = std::string("malformed run record: ") + e.what();
    return false;
  }
}

bool LoadRunRecord(const std::string& path, RunRecord* record, bool* exists, std::string* err) {
  std::string text;
  if (!ReadFileIfExists(path, &text, exists, err)) return false;
  if (!*exists) return true;
  std::string why;
  if (!ParseRunRecord(text, record, &why)) {
    *err = path + ": " + why;
    return false;
  }
  return true;
}

bool SaveRunRecord(const std::string& path, const RunRecord& record, std::string* err) {
  if (!MakeDirs(DirName(path), 0700, err)) return false;
  // A run record matters while its vzdump run goes on, and a power cut ends
  // that run: the record is written atomically, but its folder is not
  // flushed each phase. What is owed to Kuma lives in the spool, which is.
  AtomicWriteOptions options;
  options.sync_dir = false;
  return WriteFileAtomic(path, SerializeRunRecord(record), options, err);
}

std::vector<RunRecord> LoadAllRunRecords(const StateLayout& state, std::vector<std::string>* bad) {
  std::vector<RunRecord> records;
  const std::string dir = state.RunsDir();
  std::vector<std::string> names;
  std::string err;
  if (!ListDir(dir, &names, &err)) {
    bad->push_back(err);
    return records;
  }
  for (const auto& name : names) {
    if (!StateLayout::IsEntryName(name)) continue;
    RunRecord record;
    bool exists = false;
    if (!LoadRunRecord(JoinPath(dir, name), &record, &exists, &err)) {
      bad->push_back(err);
    } else if (exists) {
      records.push_back(std::move(record));
    }
  }
  return records;
}

std::map<std::string, RunRecord> LatestRunPerJob(const std::vector<RunRecord>& runs) {
  std::map<std::string, RunRecord> last;
  for (const auto& run : runs) {
    if (run.job_id.empty() || run.end_phase.empty()) continue;
    auto it = last.find(run.job_id);
    if (it == last.end() || it->second.end_ms < run.end_ms) last[run.job_id] = run;
  }
  return last;
}

int PruneRunRecords(const StateLayout& state, int64_t cutoff_ms, std::string* err) {
  const std::string dir = state.RunsDir();
  std::vector<std::string> names;
  if (!ListDir(dir, &names, err)) return 0;
  int removed = 0;
  for (const auto& name : names) {
    const std::string path = JoinPath(dir, name);
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) continue;
    int64_t modified_ms = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000;
    bool stale_temp = StartsWith(name, ".") && modified_ms < NowMs() - 3600 * 1000;
    if ((modified_ms < cutoff_ms || stale_temp) && RemoveFile(path, err)) ++removed;
  }
  return removed;
}

}  // namespace pbk
