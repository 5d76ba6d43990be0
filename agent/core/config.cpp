#include "agent/core/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <nlohmann/json.hpp>

#include "agent/core/config_reader.h"
#include "agent/core/fs.h"
#include "agent/core/text.h"

namespace pbk {

using config_json::ChildPath;
using config_json::ObjectReader;
using config_json::Problems;
using config_json::TypeName;
using nlohmann::json;

std::vector<std::string> Config::Secrets() const {
  std::vector<std::string> secrets;
  for (const auto& [id, job] : jobs) {
    if (!job.push_token.empty()) secrets.push_back(job.push_token);
  }
  if (!node_monitor.push_token.empty()) secrets.push_back(node_monitor.push_token);
  return secrets;
}

namespace {

// A push token is required where its object is given, and must fit in a URL
// path as it is. The message never repeats the token: it is a secret.
void CheckPushToken(Problems* problems, const json& object, const std::string& object_path,
                    const std::string& token, const char* whose) {
  const std::string token_path = object_path + ".push_token";
  if (!object.contains("push_token")) {
    problems->Add(token_path, "",
                  std::string("is required (the token of ") + whose + " Kuma push monitor)");
  } else if (object.at("push_token").is_string()) {
    bool clean = !token.empty() && token.size() <= 256;
    for (unsigned char c : token) clean = clean && c > 0x20 && c < 0x7F;
    if (!clean) {
      problems->Add(token_path, "", "must be 1 to 256 printable ASCII characters without spaces");
    }
  }
}

void CheckAbsolute(Problems* problems, const std::string& path, const std::string& key,
                   const std::string& value) {
  if (value.empty() || value.front() != '/') {
    problems->Add(path, key, "must be an absolute path, not " + Quote(value));
  }
}

// A list of absolute script paths (hook.chain, jobs.<id>.chain).
void ReadChain(ObjectReader* reader, Problems* problems, const std::string& path,
               std::vector<std::string>* chain) {
  const json* list = reader->Get("chain", json::value_t::array, "a list of script paths");
  if (!list) return;
  for (const auto& script : *list) {
    if (!script.is_string()) {
      problems->Add(path, "chain", "must hold script paths (strings), not " + TypeName(script));
      return;
    }
    const std::string value = script.get<std::string>();
    CheckAbsolute(problems, path, "chain", value);
    chain->push_back(value);
  }
}

std::string ShortHostName() {
  char buffer[256] = {};
  if (gethostname(buffer, sizeof buffer - 1) != 0) return "localhost";
  std::string name = buffer;
  return name.substr(0, name.find('.'));
}

// kuma: where to push, and how.
void ReadKuma(ObjectReader* top, const json& root, Problems* problems, Config* result) {
  if (const json* kuma = top->Object("kuma")) {
    ObjectReader reader(*kuma, "kuma", problems);
    reader.String("url", &result->kuma.url);
    reader.String("ca_file", &result->kuma.ca_file);
    reader.String("server_name", &result->kuma.server_name);
    reader.Int("timeout_seconds", &result->kuma.timeout_seconds, 1, 300);
    reader.Int("grace_minutes", &result->kuma.grace_minutes, 0, 7 * 24 * 60);
    reader.Int("heartbeat_interval_minutes", &result->kuma.heartbeat_interval_minutes, 5, 1440);
    reader.String("session_file", &result->kuma.session_file);
    if (const json* names =
            reader.Get("notifications", json::value_t::array, "a list of notification names")) {
      for (const auto& name : *names) {
        if (!name.is_string() || name.get<std::string>().empty()) {
          problems->Add("kuma.notifications", "notifications",
                        "must hold notification names (strings), not " + TypeName(name));
          break;
        }
        result->kuma.notifications.push_back(name.get<std::string>());
      }
    }
    reader.Finish();
    if (kuma->contains("session_file") && kuma->at("session_file").is_string()) {
      CheckAbsolute(problems, "kuma.session_file", "session_file", result->kuma.session_file);
    }
    if (!kuma->contains("url")) {
      problems->Add("kuma.url", "",
                    "is required (Kuma's address, as in \"https://192.0.2.10:3001\")");
    } else if (kuma->at("url").is_string()) {
      std::string why;
      if (!ParseIpUrl(result->kuma.url, "Kuma", &result->kuma.endpoint, &why)) {
        problems->Add("kuma.url", "url", why);
      }
    }
    if (kuma->contains("ca_file") && kuma->at("ca_file").is_string()) {
      CheckAbsolute(problems, "kuma.ca_file", "ca_file", result->kuma.ca_file);
    }
    if (kuma->contains("server_name") && kuma->at("server_name").is_string()) {
      if (IsIpv4Address(result->kuma.server_name)) {
        problems->Add("kuma.server_name", "server_name",
                      "must be a DNS name; an IP address belongs in kuma.url");
      } else if (!IsDnsName(result->kuma.server_name)) {
        problems->Add("kuma.server_name", "server_name",
                      "is not a valid DNS name: " + Quote(result->kuma.server_name) +
                          " (no port, no scheme)");
      }
    }
  } else if (!root.contains("kuma")) {
    problems->AddGlobal(
        "kuma: is required (where to push: {\"url\": \"https://192.0.2.10:3001\"})");
  }
}

// jobs: the monitored jobs, by job id.
void ReadJobs(ObjectReader* top, Problems* problems, Config* result) {
  if (const json* jobs = top->Object("jobs")) {
    for (const auto& [id, value] : jobs->items()) {
      const std::string job_path = ChildPath("jobs", id);
      if (id.empty() || Trim(id) != id) {
        problems->Add(job_path, id, "is not a valid job id");
        continue;
      }
      if (!value.is_object()) {
        problems->Add(job_path, id,
                      "must be an object like {\"push_token\": \"…\"}, not " + TypeName(value));
        continue;
      }
      JobConfig job;
      ObjectReader reader(value, job_path, problems);
      reader.String("push_token", &job.push_token);
      ReadChain(&reader, problems, job_path + ".chain", &job.chain);
      reader.Finish();
      // A job entry that only chains scripts takes its token from the
      // monitors file of `kuma sync`.
      if (!value.contains("chain")) {
        CheckPushToken(problems, value, job_path, job.push_token, "the job's");
      }
      result->jobs[id] = job;
    }
  }
}

// node_monitor: the node's own monitor.
void ReadNodeMonitor(ObjectReader* top, Problems* problems, Config* result) {
  if (const json* node_monitor = top->Object("node_monitor")) {
    ObjectReader reader(*node_monitor, "node_monitor", problems);
    reader.String("push_token", &result->node_monitor.push_token);
    reader.Finish();
    CheckPushToken(problems, *node_monitor, "node_monitor", result->node_monitor.push_token,
                   "the node's");
  }
}

// refresh: refresh's timing.
void ReadRefresh(ObjectReader* top, Problems* problems, Config* result) {
  if (const json* refresh = top->Object("refresh")) {
    ObjectReader reader(*refresh, "refresh", problems);
    reader.Int("start_grace_minutes", &result->refresh.start_grace_minutes, 1, 1440);
    reader.Finish();
  }
}

// pve: the ways to PVE; pve.api_url is taken apart even when the object is absent.
void ReadPve(ObjectReader* top, Problems* problems, Config* result) {
  if (const json* pve = top->Object("pve")) {
    ObjectReader reader(*pve, "pve", problems);
    reader.String("api_url", &result->pve.api_url);
    reader.String("ca_file", &result->pve.ca_file);
    reader.String("token_id", &result->pve.token_id);
    reader.String("token_secret_file", &result->pve.token_secret_file);
    reader.String("pvesh", &result->pve.pvesh);
    reader.Int("timeout_seconds", &result->pve.timeout_seconds, 1, 600);
    reader.Finish();
    CheckAbsolute(problems, "pve.ca_file", "ca_file", result->pve.ca_file);
    CheckAbsolute(problems, "pve.token_secret_file", "token_secret_file",
                  result->pve.token_secret_file);
    CheckAbsolute(problems, "pve.pvesh", "pvesh", result->pve.pvesh);
    const std::string& id = result->pve.token_id;
    if (!id.empty()) {
      size_t at = id.find('@'), bang = id.find('!');
      if (at == std::string::npos || bang == std::string::npos || at == 0 || bang < at + 2 ||
          bang + 1 == id.size()) {
        problems->Add(
            "pve.token_id", "token_id",
            "must look like USER@REALM!TOKENID (for example \"pbk-agent@pve!guard\"), not " +
                Quote(id));
      }
    }
  }

  {
    std::string why;
    if (!ParseIpUrl(result->pve.api_url, "the PVE API", &result->pve.api, &why)) {
      problems->Add("pve.api_url", "api_url", why);
    }
  }
}

// guard: where the guard sets the hook, and which jobs it leaves alone.
void ReadGuard(ObjectReader* top, Problems* problems, Config* result) {
  if (const json* guard = top->Object("guard")) {
    ObjectReader reader(*guard, "guard", problems);
    std::string placement;
    reader.String("placement", &placement);
    if (placement == "job") {
      result->guard.placement = HookPlacement::kJob;
    } else if (guard->contains("placement") && placement != "node") {
      problems->Add("guard.placement", "placement",
                    "must be \"node\" (the hook in this node's vzdump.conf) or \"job\" (on each "
                    "job), not " +
                        Quote(placement));
    }
    if (const json* exclude = reader.Get("exclude", json::value_t::array, "a list of job ids")) {
      for (const auto& id : *exclude) {
        if (!id.is_string() || id.get<std::string>().empty()) {
          problems->Add("guard.exclude", "exclude",
                        "must hold job ids (strings), not " + TypeName(id));
          break;
        }
        result->guard.exclude.push_back(id.get<std::string>());
      }
    }
    reader.Finish();
  }
}

// hook: the admin's own hooks.
void ReadHook(ObjectReader* top, Problems* problems, Config* result) {
  if (const json* hook = top->Object("hook")) {
    ObjectReader reader(*hook, "hook", problems);
    ReadChain(&reader, problems, "hook.chain", &result->hook.chain);
    reader.Finish();
  }
}

// paths: the files and folders of PVE and of the agent.
void ReadPaths(ObjectReader* top, Problems* problems, Config* result) {
  if (const json* paths = top->Object("paths")) {
    ObjectReader reader(*paths, "paths", problems);
    struct Entry {
      const char* key;
      std::string* value;
    } entries[] = {
        {"hook_script", &result->paths.hook_script},     {"state_dir", &result->paths.state_dir},
        {"scheduler_dir", &result->paths.scheduler_dir}, {"jobs_cfg", &result->paths.jobs_cfg},
        {"vzdump_cron", &result->paths.vzdump_cron},     {"proc", &result->paths.proc},
        {"vzdump_conf", &result->paths.vzdump_conf},     {"pve_dir", &result->paths.pve_dir},
        {"tasks_dir", &result->paths.tasks_dir},
    };
    for (auto& entry : entries) {
      reader.String(entry.key, entry.value);
      if (paths->contains(entry.key) && paths->at(entry.key).is_string()) {
        CheckAbsolute(problems, std::string("paths.") + entry.key, entry.key, *entry.value);
      }
    }
    reader.Finish();
  }
}

}  // namespace

bool ParseConfig(const std::string& text, const std::string& origin, Config* config,
                 std::vector<std::string>* errors) {
  errors->clear();
  Problems problems(text, origin);

  json root;
  if (!config_json::ParseDocument(text, origin, &root, &problems, errors)) return false;
  if (!root.is_object()) {
    problems.AddGlobal("the configuration must be a JSON object, not " + TypeName(root));
    *errors = std::move(problems.lines());
    return false;
  }

  Config result;
  result.path = origin;
  ObjectReader top(root, "", &problems);

  top.String("node", &result.node);
  if (root.contains("node") && !IsDnsName(result.node)) {
    problems.Add("node", "node", "is not a valid node name: " + Quote(result.node));
  }
  if (result.node.empty()) result.node = ShortHostName();

  ReadKuma(&top, root, &problems, &result);
  ReadJobs(&top, &problems, &result);
  ReadNodeMonitor(&top, &problems, &result);
  ReadRefresh(&top, &problems, &result);
  ReadPve(&top, &problems, &result);
  ReadGuard(&top, &problems, &result);
  ReadHook(&top, &problems, &result);
  ReadPaths(&top, &problems, &result);

  for (const auto& script : result.hook.chain) {
    if (script == result.paths.hook_script) {
      problems.Add("hook.chain", "chain",
                   "holds this hook itself (" + script + "): it would call itself forever");
    }
  }

  top.Finish();
  if (!problems.empty()) {
    *errors = std::move(problems.lines());
    return false;
  }
  *config = std::move(result);
  return true;
}

namespace {

bool CheckPrivateStat(const struct stat& st, const std::string& path, const std::string& what,
                      std::string* err) {
  if (st.st_uid != 0 && st.st_uid != geteuid()) {
    *err = "refusing " + path + ": it holds " + what + " but belongs to user id " +
           std::to_string(st.st_uid) + "; run: chown root: " + path;
    return false;
  }
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    *err = "refusing " + path + ": it holds " + what + " but group or others may access it (mode " +
           mode + "); run: chmod 600 " + path;
    return false;
  }
  return true;
}

}  // namespace

bool CheckPrivateFile(const std::string& path, const std::string& what, std::string* err) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    *err = path + ": " + ErrnoText(errno);
    return false;
  }
  return CheckPrivateStat(st, path, what, err);
}

bool LoadConfig(const std::string& path, Config* config, std::vector<std::string>* errors) {
  errors->clear();
  // One open file: its owner and mode are checked on what was read, not on
  // whatever the path names a moment later.
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st {};
  if (!fd.valid() || fstat(fd.get(), &st) != 0) {
    errors->push_back("reading " + path + ": " + ErrnoText(errno));
    return false;
  }
  std::string text;
  char buffer[65536];
  for (;;) {
    const ssize_t n = read(fd.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      errors->push_back("reading " + path + ": " + ErrnoText(errno));
      return false;
    }
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
  }
  if (!ParseConfig(text, path, config, errors)) return false;
  std::string err;
  if ((!config->jobs.empty() || !config->node_monitor.push_token.empty()) &&
      !CheckPrivateStat(st, path, "push tokens", &err)) {
    errors->push_back(err);
    return false;
  }
  if (!config->kuma.ca_file.empty() && access(config->kuma.ca_file.c_str(), R_OK) != 0) {
    errors->push_back(path + ": kuma.ca_file: cannot read " + config->kuma.ca_file + ": " +
                      ErrnoText(errno));
    return false;
  }
  return true;
}

}  // namespace pbk
