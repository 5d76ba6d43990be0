#include "api/pve/backup_job.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <spdlog/fmt/fmt.h>

#include "agent/core/fs.h"
#include "agent/core/text.h"

namespace pbk {

using nlohmann::json;

std::optional<bool> LooseBool(const json& value) {
  if (value.is_boolean()) return value.get<bool>();
  if (value.is_number_integer() || value.is_number_unsigned()) return value.get<int64_t>() != 0;
  if (value.is_string()) {
    const std::string text = value.get<std::string>();
    if (text == "1" || text == "true" || text == "yes" || text == "on") return true;
    if (text.empty() || text == "0" || text == "false" || text == "no" || text == "off") {
      return false;
    }
  }
  return std::nullopt;
}

std::optional<int64_t> LooseInt(const json& value) {
  if (value.is_number_integer() || value.is_number_unsigned()) return value.get<int64_t>();
  if (value.is_string()) {
    std::string text = value.get<std::string>();
    bool negative = !text.empty() && text.front() == '-';
    auto number = ParseUnsigned(negative ? text.substr(1) : text);
    if (number && *number <= static_cast<uint64_t>(INT64_MAX)) {
      return negative ? -static_cast<int64_t>(*number) : static_cast<int64_t>(*number);
    }
  }
  return std::nullopt;
}

std::optional<std::string> LooseString(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number_integer() || value.is_number_unsigned()) {
    return std::to_string(value.get<int64_t>());
  }
  if (value.is_boolean()) return value.get<bool>() ? "1" : "0";
  return std::nullopt;
}

bool ParseVmidList(const std::string& text, std::vector<int>* vmids) {
  vmids->clear();
  std::string normalized = text;
  std::replace_if(
      normalized.begin(), normalized.end(),
      [](char c) { return c == ';' || c == ' ' || c == '\t' || c == '\n'; }, ',');
  for (const auto& part : Split(normalized, ',')) {
    if (part.empty()) continue;
    auto number = ParseUnsigned(part);
    // PVE's vmids run from 100 to 999999999.
    if (!number || *number < 100 || *number > 999999999) return false;
    vmids->push_back(static_cast<int>(*number));
  }
  return true;
}

namespace {

bool ReadString(const json& object, const char* key, std::string* out, std::string* err) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return true;
  auto text = LooseString(*it);
  if (!text) {
    *err = std::string("\"") + key + "\" is " + it->type_name() + ", expected a string";
    return false;
  }
  *out = *text;
  return true;
}

bool ReadBool(const json& object, const char* key, bool* out, std::string* err) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return true;
  auto flag = LooseBool(*it);
  if (!flag) {
    // Bytes that are not UTF-8 are shown as U+FFFD (dump()'s default throws).
    *err = std::string("\"") + key + "\" is " +
           it->dump(-1, ' ', false, json::error_handler_t::replace) + ", expected a boolean";
    return false;
  }
  *out = *flag;
  return true;
}

bool ReadVmids(const json& object, const char* key, std::vector<int>* out, std::string* err) {
  std::string text;
  if (!ReadString(object, key, &text, err)) return false;
  if (!ParseVmidList(text, out)) {
    *err = std::string("\"") + key + "\" is not a list of guest ids: " + Quote(text);
    return false;
  }
  return true;
}

}  // namespace

bool ParseBackupJob(const json& object, BackupJob* job, std::string* err) {
  if (!object.is_object()) {
    *err = std::string("a job must be an object, not ") + object.type_name();
    return false;
  }
  BackupJob result;
  std::string why;
  if (!ReadString(object, "id", &result.id, &why) || result.id.empty()) {
    *err = why.empty() ? "a job without \"id\"" : why;
    return false;
  }
  bool ok = ReadString(object, "type", &result.type, &why) &&
            ReadString(object, "schedule", &result.schedule, &why) &&
            ReadBool(object, "enabled", &result.enabled, &why) &&
            ReadString(object, "storage", &result.storage, &why) &&
            ReadString(object, "node", &result.node, &why) &&
            ReadString(object, "pool", &result.pool, &why) &&
            ReadBool(object, "all", &result.all, &why) &&
            ReadVmids(object, "vmid", &result.vmids, &why) &&
            ReadVmids(object, "exclude", &result.exclude, &why) &&
            ReadString(object, "script", &result.script, &why) &&
            ReadString(object, "comment", &result.comment, &why);
  if (!ok) {
    *err = "job " + Quote(result.id) + ": " + why;
    return false;
  }
  result.options = object;
  *job = std::move(result);
  return true;
}

const json* AnswerList(const json& document, const char* what, std::string* err) {
  const json* list = &document;
  if (document.is_object()) {
    auto data = document.find("data");
    if (data == document.end()) {
      *err = std::string("expected a list of ") + what +
             " or {\"data\": [...]}, got an object without \"data\"";
      return nullptr;
    }
    list = &*data;
  }
  if (!list->is_array()) {
    *err = std::string("expected a list of ") + what + ", got " + list->type_name();
    return nullptr;
  }
  return list;
}

bool ParseBackupJobList(const json& document, std::vector<BackupJob>* jobs, std::string* err) {
  const json* list = AnswerList(document, "jobs", err);
  if (list == nullptr) return false;
  std::vector<BackupJob> result;
  result.reserve(list->size());
  for (size_t i = 0; i < list->size(); ++i) {
    BackupJob job;
    std::string why;
    if (!ParseBackupJob((*list)[i], &job, &why)) {
      *err = "entry " + std::to_string(i + 1) + ": " + why;
      return false;
    }
    if (!job.type.empty() && job.type != "vzdump") continue;
    result.push_back(std::move(job));
  }
  *jobs = std::move(result);
  return true;
}

json BackupJobToJson(const BackupJob& job) {
  auto list = [](const std::vector<int>& vmids) {
    return fmt::format("{}", fmt::join(vmids, ","));
  };
  // The other options pass through as PVE gave them.
  json object = job.options.is_object() ? job.options : json::object();
  object["id"] = job.id;
  object["enabled"] = job.enabled ? 1 : 0;
  auto put = [&](const char* key, const std::string& value) {
    if (value.empty()) {
      object.erase(key);
    } else {
      object[key] = value;
    }
  };
  put("type", job.type);
  put("schedule", job.schedule);
  put("storage", job.storage);
  put("node", job.node);
  put("pool", job.pool);
  put("vmid", list(job.vmids));
  put("exclude", list(job.exclude));
  put("script", job.script);
  put("comment", job.comment);
  if (job.all) {
    object["all"] = 1;
  } else {
    object.erase("all");
  }
  return object;
}

std::string SerializeJobCache(const JobCache& cache) {
  json header = {{"format", 1},
                 {"written", cache.written_ms},
                 {"source", cache.source},
                 {"node", cache.node}};
  std::string text = header.dump();
  text.pop_back();  // the closing brace; the job list follows
  if (!cache.document.empty()) {
    // PVE's own answer, kept as it is: writing a thousand jobs out again
    // would cost more than the whole rest of a guard run.
    text += ",\"document\":" + cache.document + "}\n";
    return text;
  }
  json jobs = json::array();
  for (const auto& job : cache.jobs) jobs.push_back(BackupJobToJson(job));
  return text + ",\"jobs\":" + jobs.dump(-1, ' ', false, json::error_handler_t::replace) + "}\n";
}

bool ParseJobCache(const std::string& text, JobCache* cache, std::string* err) {
  json document = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!document.is_object() || document.value("format", json()) != 1 ||
      (!document.contains("jobs") && !document.contains("document"))) {
    *err = "not a job list written by pbk-agent guard";
    return false;
  }
  JobCache result;
  result.written_ms = LooseInt(document.value("written", json())).value_or(0);
  result.source = LooseString(document.value("source", json())).value_or("");
  result.node = LooseString(document.value("node", json())).value_or("");
  const json& jobs = document.contains("document") ? document["document"] : document["jobs"];
  if (!ParseBackupJobList(jobs, &result.jobs, err)) return false;
  *cache = std::move(result);
  return true;
}

namespace {

// The cache's text without the value of "written", which changes each run.
std::string WithoutWrittenTime(const std::string& text) {
  static constexpr std::string_view kKey = "\"written\":";
  const size_t key = text.find(kKey);
  if (key == std::string::npos) return text;
  size_t end = key + kKey.size();
  while (end < text.size() && text[end] >= '0' && text[end] <= '9') ++end;
  return text.substr(0, key + kKey.size()) + text.substr(end);
}

}  // namespace

bool SaveJobCache(const std::string& path, const JobCache& cache, std::string* err) {
  const std::string text = SerializeJobCache(cache);
  // Most guard runs find the list as it was: the file is then only touched
  // (its time says when the list was last read), not written and flushed.
  std::string old, ignored;
  bool exists = false;
  if (ReadFileIfExists(path, &old, &exists, &ignored) && exists &&
      WithoutWrittenTime(old) == WithoutWrittenTime(text) &&
      utimensat(AT_FDCWD, path.c_str(), nullptr, 0) == 0) {
    return true;
  }
  return WriteFileAtomic(path, text, err);
}

bool LoadJobCache(const std::string& path, JobCache* cache, bool* exists, std::string* err) {
  std::string text;
  if (!ReadFileIfExists(path, &text, exists, err)) return false;
  if (!*exists) return true;
  std::string why;
  if (!ParseJobCache(text, cache, &why)) {
    *err = path + ": " + why;
    return false;
  }
  // An unchanged list is only touched by the guard (SaveJobCache).
  struct stat st {};
  if (stat(path.c_str(), &st) == 0) {
    const int64_t touched_ms = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 +
                               st.st_mtim.tv_nsec / 1000000;
    cache->written_ms = std::max(cache->written_ms, touched_ms);
  }
  return true;
}

}  // namespace pbk
