#include "agent/core/config.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <nlohmann/json.hpp>
#include <set>

#include "agent/core/fs.h"
#include "agent/core/text.h"

namespace pbk {

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

bool IsPlainKey(std::string_view key) {
  if (key.empty()) return false;
  for (char c : key) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string ChildPath(const std::string& parent, const std::string& key) {
  std::string part = IsPlainKey(key) ? key : Quote(key);
  return parent.empty() ? part : parent + "." + part;
}

// 1-based line and column of byte OFFSET in TEXT.
std::pair<size_t, size_t> LineColumn(const std::string& text, size_t offset) {
  size_t line = 1, column = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return {line, column};
}

// Where the number starts that json::parse found too large for a double: its
// out_of_range exception carries no position, so the text is read once more
// by a SAX parser that only notes where the error is.
size_t NumberOverflowOffset(const std::string& text) {
  struct Finder : json::json_sax_t {
    size_t offset = 0;
    bool null() override { return true; }
    bool boolean(bool) override { return true; }
    bool number_integer(number_integer_t) override { return true; }
    bool number_unsigned(number_unsigned_t) override { return true; }
    bool number_float(number_float_t, const string_t&) override { return true; }
    bool string(string_t&) override { return true; }
    bool binary(binary_t&) override { return true; }
    bool start_object(std::size_t) override { return true; }
    bool key(string_t&) override { return true; }
    bool end_object() override { return true; }
    bool start_array(std::size_t) override { return true; }
    bool end_array() override { return true; }
    bool parse_error(std::size_t position, const std::string& token,
                     const nlohmann::detail::exception&) override {
      offset = position >= token.size() ? position - token.size() : 0;
      return false;
    }
  } finder;
  json::sax_parse(text, &finder, json::input_format_t::json, /*strict=*/true,
                  /*ignore_comments=*/true);
  return finder.offset;
}

// Collects problems, prefixed with where they are. A key's position is found
// by looking for its quoted name in the text: when it occurs exactly once the
// message carries its line and column, which is what an editor needs.
class Problems {
 public:
  Problems(const std::string& text, const std::string& origin) : text_(text), origin_(origin) {}

  void Add(const std::string& key_path, const std::string& leaf_key, const std::string& message) {
    std::string where = origin_;
    if (!leaf_key.empty()) {
      std::string needle = json(leaf_key).dump();
      size_t first = text_.find(needle);
      if (first != std::string::npos && text_.find(needle, first + 1) == std::string::npos) {
        auto [line, column] = LineColumn(text_, first);
        where += ":" + std::to_string(line) + ":" + std::to_string(column);
      }
    }
    lines_.push_back(where + ": " + (key_path.empty() ? "" : key_path + ": ") + message);
  }
  void AddGlobal(const std::string& message) { lines_.push_back(origin_ + ": " + message); }
  bool empty() const { return lines_.empty(); }
  std::vector<std::string>& lines() { return lines_; }

 private:
  const std::string& text_;
  const std::string& origin_;
  std::vector<std::string> lines_;
};

std::string TypeName(const json& value) {
  if (value.is_number_integer() || value.is_number_unsigned()) return "a whole number";
  if (value.is_number_float()) return "a fractional number";
  if (value.is_string()) return "a string";
  if (value.is_boolean()) return "a boolean";
  if (value.is_null()) return "null";
  if (value.is_array()) return "a list";
  return "an object";
}

// Reads the keys of one JSON object, checking each value's type; whatever
// was not asked for is reported as unknown when the reader is finished.
class ObjectReader {
 public:
  ObjectReader(const json& object, std::string path, Problems* problems)
      : object_(object), path_(std::move(path)), problems_(problems) {}

  // Returns the value when KEY is present and has the right type.
  const json* Get(const std::string& key, json::value_t type, const char* expected) {
    known_.push_back(key);
    auto it = object_.find(key);
    if (it == object_.end()) return nullptr;
    bool ok = it->type() == type ||
              (type == json::value_t::number_integer && it->is_number_unsigned());
    if (!ok) {
      problems_->Add(ChildPath(path_, key), key,
                     std::string("must be ") + expected + ", not " + TypeName(*it));
      return nullptr;
    }
    return &*it;
  }

  void String(const std::string& key, std::string* out) {
    if (const json* value = Get(key, json::value_t::string, "a string")) {
      *out = value->get<std::string>();
    }
  }

  void Int(const std::string& key, int* out, int min, int max) {
    if (const json* value = Get(key, json::value_t::number_integer, "a whole number")) {
      int64_t number = value->is_number_unsigned()
                           ? static_cast<int64_t>(std::min<uint64_t>(value->get<uint64_t>(),
                                                                     INT64_MAX))
                           : value->get<int64_t>();
      if (number < min || number > max) {
        problems_->Add(ChildPath(path_, key), key,
                       "must be between " + std::to_string(min) + " and " + std::to_string(max) +
                           ", not " + std::to_string(number));
        return;
      }
      *out = static_cast<int>(number);
    }
  }

  const json* Object(const std::string& key) {
    return Get(key, json::value_t::object, "an object");
  }

  void Finish() {
    for (const auto& [key, value] : object_.items()) {
      if (std::find(known_.begin(), known_.end(), key) != known_.end()) continue;
      std::string message = "unknown key";
      if (auto hint = ClosestMatch(key, known_)) message += " (did you mean " + Quote(*hint) + "?)";
      problems_->Add(ChildPath(path_, key), key, message);
    }
  }

 private:
  const json& object_;
  std::string path_;
  Problems* problems_;
  std::vector<std::string> known_;
};

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

bool IsDnsName(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  for (const auto& label : Split(name, '.')) {
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (char c : label) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '-';
      if (!ok) return false;
    }
  }
  return true;
}

bool IsIpv4(const std::string& text) {
  in_addr address{};
  return inet_pton(AF_INET, text.c_str(), &address) == 1;
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

}  // namespace

bool ParseIpUrl(const std::string& url, const std::string& who, IpUrl* out, std::string* err) {
  static const std::string kScheme = "https://";
  if (!StartsWith(url, kScheme)) {
    *err = StartsWith(url, "http://")
               ? "must use https:// (pushes travel over validated TLS only)"
               : "must start with https://, as in \"https://192.0.2.10:3001\"";
    return false;
  }
  std::string rest = url.substr(kScheme.size());
  std::string authority = rest.substr(0, rest.find('/'));
  std::string path = authority.size() < rest.size() ? rest.substr(authority.size()) : "";
  if (path.find_first_of("?#") != std::string::npos) {
    *err = "must not carry a query or fragment";
    return false;
  }
  while (!path.empty() && path.back() == '/') path.pop_back();
  if (authority.find('@') != std::string::npos) {
    *err = "must not carry user credentials";
    return false;
  }
  if (!authority.empty() && authority.front() == '[') {
    *err = "IPv6 addresses are not supported; use " + who + "'s IPv4 address";
    return false;
  }
  std::string host = authority;
  uint16_t port = 443;
  if (size_t colon = authority.rfind(':'); colon != std::string::npos) {
    host = authority.substr(0, colon);
    auto number = ParseUnsigned(authority.substr(colon + 1));
    if (!number || *number == 0 || *number > 65535) {
      *err = "has an invalid port " + Quote(authority.substr(colon + 1));
      return false;
    }
    port = static_cast<uint16_t>(*number);
  }
  if (!IsIpv4(host)) {
    *err = "must address " + who + " by its IP address, as in \"https://192.0.2.10:3001\" (" +
           Quote(host) + " is not one)";
    if (who == "Kuma") *err += "; a certificate that names a host goes with kuma.server_name";
    return false;
  }
  out->host = host;
  out->port = port;
  out->base_path = path;
  return true;
}

bool ParseConfig(const std::string& text, const std::string& origin, Config* config,
                 std::vector<std::string>* errors) {
  errors->clear();
  Problems problems(text, origin);

  // nlohmann/json keeps the last of two equal keys; a repeated job id would
  // silently lose a push token, so duplicates are found while parsing.
  std::vector<std::set<std::string>> keys_seen;
  std::vector<std::string> duplicates;
  auto on_event = [&](int /*depth*/, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) {
      keys_seen.emplace_back();
    } else if (event == json::parse_event_t::object_end) {
      if (!keys_seen.empty()) keys_seen.pop_back();
    } else if (event == json::parse_event_t::key && !keys_seen.empty()) {
      std::string key = parsed.get<std::string>();
      if (!keys_seen.back().insert(key).second) duplicates.push_back(std::move(key));
    }
    return true;
  };

  json root;
  try {
    root = json::parse(text, on_event, /*allow_exceptions=*/true, /*ignore_comments=*/true);
  } catch (const json::parse_error& e) {
    auto [line, column] = LineColumn(text, e.byte > 0 ? e.byte - 1 : 0);
    std::string what = e.what();
    // "[json.exception.parse_error.101] parse error at line 3, column 5: syntax error ..."
    if (size_t colon = what.find(": "); colon != std::string::npos) what = what.substr(colon + 2);
    errors->push_back(origin + ":" + std::to_string(line) + ":" + std::to_string(column) +
                      ": invalid JSON: " + what);
    return false;
  } catch (const json::out_of_range& e) {
    // A number beyond a double: "[json.exception.out_of_range.406] number
    // overflow parsing '1e400'", pointed at where the number starts.
    auto [line, column] = LineColumn(text, NumberOverflowOffset(text));
    std::string what = e.what();
    if (size_t bracket = what.find("] "); bracket != std::string::npos) {
      what = what.substr(bracket + 2);
    }
    errors->push_back(origin + ":" + std::to_string(line) + ":" + std::to_string(column) +
                      ": invalid JSON: " + what);
    return false;
  }
  for (const auto& key : duplicates) {
    problems.AddGlobal("key " + Quote(key) + " appears twice in the same object");
  }
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

  if (const json* kuma = top.Object("kuma")) {
    ObjectReader reader(*kuma, "kuma", &problems);
    reader.String("url", &result.kuma.url);
    reader.String("ca_file", &result.kuma.ca_file);
    reader.String("server_name", &result.kuma.server_name);
    reader.Int("timeout_seconds", &result.kuma.timeout_seconds, 1, 300);
    reader.Int("grace_minutes", &result.kuma.grace_minutes, 0, 7 * 24 * 60);
    reader.Int("heartbeat_interval_minutes", &result.kuma.heartbeat_interval_minutes, 5, 1440);
    reader.String("session_file", &result.kuma.session_file);
    if (const json* names = reader.Get("notifications", json::value_t::array,
                                       "a list of notification names")) {
      for (const auto& name : *names) {
        if (!name.is_string() || name.get<std::string>().empty()) {
          problems.Add("kuma.notifications", "notifications",
                       "must hold notification names (strings), not " + TypeName(name));
          break;
        }
        result.kuma.notifications.push_back(name.get<std::string>());
      }
    }
    reader.Finish();
    if (kuma->contains("session_file") && kuma->at("session_file").is_string()) {
      CheckAbsolute(&problems, "kuma.session_file", "session_file", result.kuma.session_file);
    }
    if (!kuma->contains("url")) {
      problems.Add("kuma.url", "", "is required (Kuma's address, as in \"https://192.0.2.10:3001\")");
    } else if (kuma->at("url").is_string()) {
      std::string why;
      if (!ParseIpUrl(result.kuma.url, "Kuma", &result.kuma.endpoint, &why)) {
        problems.Add("kuma.url", "url", why);
      }
    }
    if (kuma->contains("ca_file") && kuma->at("ca_file").is_string()) {
      CheckAbsolute(&problems, "kuma.ca_file", "ca_file", result.kuma.ca_file);
    }
    if (kuma->contains("server_name") && kuma->at("server_name").is_string()) {
      if (IsIpv4(result.kuma.server_name)) {
        problems.Add("kuma.server_name", "server_name",
                     "must be a DNS name; an IP address belongs in kuma.url");
      } else if (!IsDnsName(result.kuma.server_name)) {
        problems.Add("kuma.server_name", "server_name",
                     "is not a valid DNS name: " + Quote(result.kuma.server_name) +
                         " (no port, no scheme)");
      }
    }
  } else if (!root.contains("kuma")) {
    problems.AddGlobal("kuma: is required (where to push: {\"url\": \"https://192.0.2.10:3001\"})");
  }

  if (const json* jobs = top.Object("jobs")) {
    for (const auto& [id, value] : jobs->items()) {
      const std::string job_path = ChildPath("jobs", id);
      if (id.empty() || Trim(id) != id) {
        problems.Add(job_path, id, "is not a valid job id");
        continue;
      }
      if (!value.is_object()) {
        problems.Add(job_path, id,
                     "must be an object like {\"push_token\": \"…\"}, not " + TypeName(value));
        continue;
      }
      JobConfig job;
      ObjectReader reader(value, job_path, &problems);
      reader.String("push_token", &job.push_token);
      ReadChain(&reader, &problems, job_path + ".chain", &job.chain);
      reader.Finish();
      // A job entry that only chains scripts takes its token from the
      // monitors file of `kuma sync`.
      if (!value.contains("chain")) {
        CheckPushToken(&problems, value, job_path, job.push_token, "the job's");
      }
      result.jobs[id] = job;
    }
  }

  if (const json* node_monitor = top.Object("node_monitor")) {
    ObjectReader reader(*node_monitor, "node_monitor", &problems);
    reader.String("push_token", &result.node_monitor.push_token);
    reader.Finish();
    CheckPushToken(&problems, *node_monitor, "node_monitor", result.node_monitor.push_token,
                   "the node's");
  }

  if (const json* refresh = top.Object("refresh")) {
    ObjectReader reader(*refresh, "refresh", &problems);
    reader.Int("start_grace_minutes", &result.refresh.start_grace_minutes, 1, 1440);
    reader.Finish();
  }

  if (const json* pve = top.Object("pve")) {
    ObjectReader reader(*pve, "pve", &problems);
    reader.String("api_url", &result.pve.api_url);
    reader.String("ca_file", &result.pve.ca_file);
    reader.String("token_id", &result.pve.token_id);
    reader.String("token_secret_file", &result.pve.token_secret_file);
    reader.String("pvesh", &result.pve.pvesh);
    reader.Int("timeout_seconds", &result.pve.timeout_seconds, 1, 600);
    reader.Finish();
    CheckAbsolute(&problems, "pve.ca_file", "ca_file", result.pve.ca_file);
    CheckAbsolute(&problems, "pve.token_secret_file", "token_secret_file",
                  result.pve.token_secret_file);
    CheckAbsolute(&problems, "pve.pvesh", "pvesh", result.pve.pvesh);
    const std::string& id = result.pve.token_id;
    if (!id.empty()) {
      size_t at = id.find('@'), bang = id.find('!');
      if (at == std::string::npos || bang == std::string::npos || at == 0 || bang < at + 2 ||
          bang + 1 == id.size()) {
        problems.Add("pve.token_id", "token_id",
                     "must look like USER@REALM!TOKENID (for example \"pbk-agent@pve!guard\"), not " +
                         Quote(id));
      }
    }
  }

  {
    std::string why;
    if (!ParseIpUrl(result.pve.api_url, "the PVE API", &result.pve.api, &why)) {
      problems.Add("pve.api_url", "api_url", why);
    }
  }

  if (const json* guard = top.Object("guard")) {
    ObjectReader reader(*guard, "guard", &problems);
    std::string placement;
    reader.String("placement", &placement);
    if (placement == "job") {
      result.guard.placement = HookPlacement::kJob;
    } else if (guard->contains("placement") && placement != "node") {
      problems.Add("guard.placement", "placement",
                   "must be \"node\" (the hook in this node's vzdump.conf) or \"job\" (on each "
                   "job), not " + Quote(placement));
    }
    if (const json* exclude = reader.Get("exclude", json::value_t::array, "a list of job ids")) {
      for (const auto& id : *exclude) {
        if (!id.is_string() || id.get<std::string>().empty()) {
          problems.Add("guard.exclude", "exclude", "must hold job ids (strings), not " + TypeName(id));
          break;
        }
        result.guard.exclude.push_back(id.get<std::string>());
      }
    }
    reader.Finish();
  }

  if (const json* hook = top.Object("hook")) {
    ObjectReader reader(*hook, "hook", &problems);
    ReadChain(&reader, &problems, "hook.chain", &result.hook.chain);
    reader.Finish();
  }

  if (const json* paths = top.Object("paths")) {
    ObjectReader reader(*paths, "paths", &problems);
    struct Entry {
      const char* key;
      std::string* value;
    } entries[] = {
        {"hook_script", &result.paths.hook_script},     {"state_dir", &result.paths.state_dir},
        {"scheduler_dir", &result.paths.scheduler_dir}, {"jobs_cfg", &result.paths.jobs_cfg},
        {"vzdump_cron", &result.paths.vzdump_cron},     {"proc", &result.paths.proc},
        {"vzdump_conf", &result.paths.vzdump_conf},     {"pve_dir", &result.paths.pve_dir},
        {"tasks_dir", &result.paths.tasks_dir},
    };
    for (auto& entry : entries) {
      reader.String(entry.key, entry.value);
      if (paths->contains(entry.key) && paths->at(entry.key).is_string()) {
        CheckAbsolute(&problems, std::string("paths.") + entry.key, entry.key, *entry.value);
      }
    }
    reader.Finish();
  }

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

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// The first bytes of a base64 text (whitespace skipped); false on a
// character that is not base64.
bool Base64Head(std::string_view text, std::string* head) {
  uint32_t bits = 0;
  int count = 0;
  for (char c : text) {
    if (c == '=' || c == '\n' || c == '\r' || c == ' ' || c == '\t') continue;
    const int value = Base64Value(c);
    if (value < 0) return false;
    bits = (bits << 6) | static_cast<uint32_t>(value);
    count += 6;
    if (count >= 8) {
      count -= 8;
      if (head->size() < 4) head->push_back(static_cast<char>((bits >> count) & 0xFF));
    }
  }
  return true;
}

}  // namespace

bool CheckCertificateText(const std::string& text, const std::string& what, std::string* err) {
  if (Trim(text).empty()) {
    *err = what + " is empty: it must hold the CA certificate(s) in PEM form";
    return false;
  }
  static const std::string kBegin = "-----BEGIN ";
  int certificates = 0;
  for (size_t at = text.find(kBegin); at != std::string::npos; at = text.find(kBegin, at + 1)) {
    const size_t label_end = text.find("-----", at + kBegin.size());
    if (label_end == std::string::npos) break;
    const std::string label = text.substr(at + kBegin.size(), label_end - at - kBegin.size());
    if (label.find("PRIVATE KEY") != std::string::npos) {
      *err = what + " holds a private key (" + label + "), not a certificate: point it at the "
             "CA's certificate, and keep the key off this node";
      return false;
    }
    if (label != "CERTIFICATE" && label != "TRUSTED CERTIFICATE" && label != "X509 CERTIFICATE") {
      *err = what + " holds a " + label + ", not a certificate";
      return false;
    }
    const size_t body = label_end + 5;
    const size_t end = text.find("-----END ", body);
    std::string head;
    if (end == std::string::npos || !Base64Head(std::string_view(text).substr(body, end - body), &head) ||
        head.empty() || static_cast<unsigned char>(head[0]) != 0x30) {
      *err = what + " has a broken certificate block (its base64 content is not a certificate)";
      return false;
    }
    ++certificates;
  }
  if (certificates == 0) {
    *err = what + " is not a PEM certificate: no \"-----BEGIN CERTIFICATE-----\" line; it begins " +
           Quote(TruncateUtf8(OneLine(std::string(Trim(text))), 40));
    return false;
  }
  return true;
}

std::string ConfigAdvice(const Config& config) {
  // refresh pushes every monitor once per timer run; a monitor must wait at
  // least two of those, or one late start of the timer is an alarm.
  const int needed = 2 * (kTimerPeriodMinutes + kTimerJitterMinutes);
  if (config.kuma.heartbeat_interval_minutes < needed) {
    return "kuma.heartbeat_interval_minutes is " +
           std::to_string(config.kuma.heartbeat_interval_minutes) +
           ": refresh pushes every " + std::to_string(kTimerPeriodMinutes) + " to " +
           std::to_string(kTimerPeriodMinutes + kTimerJitterMinutes) +
           " minutes, so one late timer run turns monitors DOWN; use at least " +
           std::to_string(needed) + " (default 15)";
  }
  return "";
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
