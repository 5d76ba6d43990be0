#include "api/pve/monitors_file.h"

#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "agent/core/fs.h"
#include "agent/core/state_layout.h"
#include "api/pve/sha1.h"

namespace pbk {

using nlohmann::json;

namespace {

json EntryToJson(const PushMonitorEntry& entry) {
  return {{"monitor_id", entry.monitor_id}, {"push_token", entry.push_token}};
}

// Every reader below names the key path of what is wrong.
class Reader {
 public:
  explicit Reader(std::string* err) : err_(err) {}

  bool Fail(const std::string& path, const std::string& what) {
    *err_ = path + ": " + what;
    return false;
  }

  bool Int(const json& object, const std::string& path, const char* key, int* out) {
    auto it = object.find(key);
    if (it == object.end()) return Fail(path, std::string("\"") + key + "\" is missing");
    if (!it->is_number_integer() || it->get<int64_t>() < 0 || it->get<int64_t>() > INT32_MAX) {
      return Fail(path + "." + key, "must be a whole number, not " + it->dump());
    }
    *out = it->get<int>();
    return true;
  }

  bool String(const json& object, const std::string& path, const char* key, std::string* out) {
    auto it = object.find(key);
    if (it == object.end()) return Fail(path, std::string("\"") + key + "\" is missing");
    if (!it->is_string()) return Fail(path + "." + key, "must be a string");
    *out = it->get<std::string>();
    return true;
  }

  bool Entry(const json& value, const std::string& path, PushMonitorEntry* entry) {
    if (!value.is_object()) return Fail(path, "must be an object");
    if (!Int(value, path, "monitor_id", &entry->monitor_id)) return false;
    if (!String(value, path, "push_token", &entry->push_token)) return false;
    if (entry->monitor_id <= 0) return Fail(path + ".monitor_id", "must be a monitor's id");
    if (entry->push_token.empty()) return Fail(path + ".push_token", "is empty");
    return true;
  }

  bool Entries(const json& value, const std::string& path,
               std::map<std::string, PushMonitorEntry>* entries) {
    if (!value.is_object()) return Fail(path, "must be an object keyed by node");
    for (const auto& [node, entry] : value.items()) {
      if (!Entry(entry, path + "." + node, &(*entries)[node])) return false;
    }
    return true;
  }

 private:
  std::string* err_;
};

}  // namespace

std::vector<std::string> MonitorsFile::Tokens() const {
  std::vector<std::string> tokens;
  for (const auto& [key, job] : jobs) {
    for (const auto& [node, entry] : job.nodes) tokens.push_back(entry.push_token);
  }
  for (const auto& [node, entry] : node_monitors) tokens.push_back(entry.push_token);
  return tokens;
}

std::string JobKey(const BackupJob& job) {
  if (!job.IsLegacy()) return job.id;
  // What the job does, without what may change under it: its id (the
  // file's digest), the hook the guard sets and the flags an admin toggles.
  json what = BackupJobToJson(job);
  for (const char* key : {"id", "type", "script", "enabled", "comment"}) what.erase(key);
  return "legacy-" + Sha1Hex(what.dump()).substr(0, 16);
}

std::string MonitorsFilePath(const std::string& pve_dir) {
  return JoinPath(pve_dir, "priv/pbk-agent/monitors.json");
}

std::string SerializeMonitorsFile(const MonitorsFile& file) {
  json jobs = json::object();
  for (const auto& [key, job] : file.jobs) {
    json nodes = json::object();
    for (const auto& [node, entry] : job.nodes) nodes[node] = EntryToJson(entry);
    jobs[key] = {{"job_id", job.job_id},
                 {"name", job.name},
                 {"group_id", job.group_id},
                 {"nodes", nodes}};
  }
  json node_monitors = json::object();
  for (const auto& [node, entry] : file.node_monitors) node_monitors[node] = EntryToJson(entry);
  json document = {{"version", kMonitorsFileVersion},
                   {"digest", file.digest},
                   {"jobs", jobs},
                   {"node_group_id", file.node_group_id},
                   {"node_monitors", node_monitors}};
  return document.dump(1, ' ', false, json::error_handler_t::replace) + "\n";
}

bool ParseMonitorsFile(const std::string& text, const std::string& origin, MonitorsFile* file,
                       std::string* err) {
  std::string why;
  Reader reader(&why);
  auto fail = [&](const std::string& what) {
    *err = origin + ": " + what + " (the file is left as it is; `pbk-agent kuma sync` writes it "
                                  "again once it is moved away)";
    return false;
  };
  json document = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) return fail("not valid JSON");
  if (!document.is_object()) return fail("must be a JSON object");
  MonitorsFile result;
  if (!reader.Int(document, "monitors file", "version", &result.version)) return fail(why);
  if (result.version != kMonitorsFileVersion) {
    return fail("version " + std::to_string(result.version) + " is not known (this pbk-agent "
                "reads version " + std::to_string(kMonitorsFileVersion) + ")");
  }
  if (!reader.String(document, "monitors file", "digest", &result.digest) ||
      !reader.Int(document, "monitors file", "node_group_id", &result.node_group_id)) {
    return fail(why);
  }
  auto jobs = document.find("jobs");
  if (jobs == document.end() || !jobs->is_object()) return fail("\"jobs\" must be an object");
  for (const auto& [key, value] : jobs->items()) {
    const std::string path = "jobs." + key;
    JobMonitors& job = result.jobs[key];
    if (!value.is_object()) return fail(path + ": must be an object");
    if (!reader.String(value, path, "job_id", &job.job_id) ||
        !reader.String(value, path, "name", &job.name) ||
        !reader.Int(value, path, "group_id", &job.group_id)) {
      return fail(why);
    }
    auto nodes = value.find("nodes");
    if (nodes == value.end()) return fail(path + ": \"nodes\" is missing");
    if (!reader.Entries(*nodes, path + ".nodes", &job.nodes)) return fail(why);
  }
  auto node_monitors = document.find("node_monitors");
  if (node_monitors == document.end()) return fail("\"node_monitors\" is missing");
  if (!reader.Entries(*node_monitors, "node_monitors", &result.node_monitors)) return fail(why);
  *file = std::move(result);
  return true;
}

bool LoadMonitorsFile(const std::string& path, MonitorsFile* file, bool* exists,
                      std::string* err) {
  std::string text;
  *file = MonitorsFile();
  if (!ReadFileIfExists(path, &text, exists, err)) return false;
  if (!*exists) return true;
  return ParseMonitorsFile(text, path, file, err);
}

bool SaveMonitorsFile(const std::string& path, const MonitorsFile& file, std::string* err) {
  const std::string dir = DirName(path);
  if (!MakeDirs(dir, 0700, err)) return false;
  struct stat st {};
  if (stat(dir.c_str(), &st) == 0 && (st.st_mode & 0077) != 0 && chmod(dir.c_str(), 0700) != 0) {
    // pmxcfs refuses chmod and keeps priv/ root-only by itself.
    if (errno != EPERM && errno != ENOSYS) {
      *err = "making " + dir + " readable by its owner only: " + ErrnoText(errno);
      return false;
    }
  }
  AtomicWriteOptions options;
  options.mode = 0600;
  options.exact_mode = false;  // pmxcfs sets the modes of priv/ itself
  return WriteFileAtomic(path, SerializeMonitorsFile(file), options, err);
}

void AddSyncedTokens(const MonitorsFile& file, const std::vector<BackupJob>& jobs,
                     Config* config) {
  std::map<std::string, std::string> id_of_key;
  for (const auto& job : jobs) id_of_key[JobKey(job)] = job.id;
  for (const auto& [key, job] : file.jobs) {
    auto here = job.nodes.find(config->node);
    if (here == job.nodes.end()) continue;
    auto id = id_of_key.find(key);
    const std::string& job_id = id != id_of_key.end() ? id->second : job.job_id;
    if (job_id.empty()) continue;
    JobConfig& entry = config->jobs[job_id];
    if (entry.push_token.empty()) entry.push_token = here->second.push_token;
  }
  auto node = file.node_monitors.find(config->node);
  if (node != file.node_monitors.end() && config->node_monitor.push_token.empty()) {
    config->node_monitor.push_token = node->second.push_token;
  }
}

bool LoadSyncedTokens(Config* config, std::string* err) {
  MonitorsFile file;
  bool exists = false;
  if (!LoadMonitorsFile(MonitorsFilePath(config->paths.pve_dir), &file, &exists, err)) {
    return false;
  }
  if (!exists) return true;
  JobCache cache;
  bool cached = false;
  std::string cache_err;
  // Without the guard's list, legacy jobs are found by the id they had
  // when the file was written.
  LoadJobCache(StateLayout(config->paths.state_dir).JobCache(), &cache, &cached, &cache_err);
  AddSyncedTokens(file, cached ? cache.jobs : std::vector<BackupJob>(), config);
  return true;
}

}  // namespace pbk
