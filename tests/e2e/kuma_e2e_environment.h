// The end-to-end tests' global environment (see kuma_e2e_test.cpp): the Kuma
// install and its database, one Kuma server, and the GoogleTest Environment
// that installs Kuma and runs the servers once for all cases.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/support/process.h"
#include "tests/support/suite_log.h"
#include "tests/support/test_certs.h"
#include "tests/support/test_dir.h"
#include "tests/support/test_text.h"
#include "tests/support/test_time.h"

namespace pbk::testing::kuma_e2e {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using SteadyClock = std::chrono::steady_clock;

const std::string kBinDir = PBK_BIN_DIR;
const std::string kSourceDir = PBK_SOURCE_DIR;
const std::string kKumaScript = PBK_KUMA_SCRIPT;
const std::string kKumaDbScript = PBK_KUMA_DB_SCRIPT;
const std::string kDefaultCache = PBK_KUMA_CACHE_DEFAULT;

constexpr auto kStartTimeout = seconds(90);
constexpr auto kStopGrace = seconds(10);
// The restart case's two push monitors (see KumaEnvironment::SetUp).
constexpr int kShortIntervalSeconds = 20;
constexpr int kLongIntervalSeconds = 90;
// Every job's schedule in the jobs.cfg the cases write (daily).
constexpr char kDailyAt[] = "21:00";

// --- small helpers ------------------------------------------------------------

inline void WriteText(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

// The last LINES lines of TEXT.
inline std::string Tail(const std::string& text, size_t lines) {
  size_t pos = text.size();
  for (size_t n = 0; n <= lines && pos > 0; ++n) {
    pos = text.rfind('\n', pos - 1);
    if (pos == std::string::npos) return text;
  }
  return text.substr(pos + 1);
}

inline double Num(const json& object, const char* key) {
  const json& value = At(object, key);
  return value.is_number() ? value.get<double>() : -1.0;
}

inline std::vector<std::string> FilesIn(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (!StartsWith(name, ".")) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

// Milliseconds since the epoch, wall clock (what Kuma stamps heartbeats with).
inline int64_t WallMs() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Kuma's heartbeat `time`, "2026-06-01 19:00:02.714" in UTC, as epoch ms;
// -1 when it does not parse.
inline int64_t ParseKumaTime(const std::string& text) {
  std::tm tm{};
  int millis = 0;
  if (std::sscanf(text.c_str(), "%d-%d-%d %d:%d:%d.%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &millis) < 6) {
    return -1;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm)) * 1000 + millis;
}

// PROGRAM's absolute path from PATH, or "".
inline std::string FindProgram(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr && *path != '\0' ? path : "/usr/local/bin:/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) continue;
    const std::string candidate = dir + "/" + program;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

// Letters and digits, as Kuma makes push tokens.
inline std::string RandomToken(size_t length) {
  static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::random_device device;
  std::uniform_int_distribution<size_t> pick(0, sizeof kAlphabet - 2);
  std::string token;
  for (size_t i = 0; i < length; ++i) token += kAlphabet[pick(device)];
  RegisterSecret(token);
  return token;
}

// COUNT distinct free TCP ports on 127.0.0.1 (all bound at once, then released).
inline std::vector<uint16_t> FreePorts(size_t count, std::string* err) {
  std::vector<int> fds;
  std::vector<uint16_t> ports;
  for (size_t i = 0; i < count; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      *err = "cannot find a free port on 127.0.0.1";
      if (fd >= 0) close(fd);
      break;
    }
    fds.push_back(fd);
    ports.push_back(ntohs(address.sin_port));
  }
  for (int fd : fds) close(fd);
  if (ports.size() != count) ports.clear();
  return ports;
}

inline double Median(std::vector<int64_t> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t mid = values.size() / 2;
  return values.size() % 2 == 1 ? static_cast<double>(values[mid])
                                : static_cast<double>(values[mid - 1] + values[mid]) / 2.0;
}

// --- the Kuma install and its database -------------------------------------------

struct KumaInstall {
  std::string cache;        // kuma.sh's CACHE_DIR
  std::string modules;      // CACHE/node_modules
  std::string package_dir;  // CACHE/node_modules/uptime-kuma: Kuma's working directory
  std::string node;         // absolute path of node
};

// Runs SQL on Kuma's database through tests/e2e/kuma_db.js, i.e. with the
// SQLite binding Kuma itself uses (no sqlite3 CLI needed). Kuma keeps the
// database in WAL mode, so reading while it runs is fine.
inline json KumaSql(const KumaInstall& kuma, const std::string& db, const std::string& verb,
             const std::string& sql, const json& params, std::string* err) {
  RunResult result = Run({kuma.node, kKumaDbScript, kuma.modules, db, verb, sql, params.dump()},
                         nullptr, seconds(30));
  json rows = json::parse(result.out, nullptr, /*allow_exceptions=*/false);
  if (result.exit_code != 0 || rows.is_discarded()) {
    *err = "kuma_db.js " + verb + " failed (" + result.Describe() + "): " + result.err + result.out;
    return json();
  }
  return rows;
}

// --- one Kuma server ------------------------------------------------------------------

// A push monitor of one Kuma server, and the backup job that reports to it.
struct Monitor {
  std::string key;  // which case uses it
  std::string job_id;
  std::string token;
  int64_t id = 0;        // monitor.id in Kuma's database
  int interval = 86400;  // seconds without a push before Kuma marks it DOWN
};

// A monitor to create: case KEY, its job, its interval in seconds (86400
// unless the case times Kuma's missed-heartbeat checker).
struct MonitorSpec {
  std::string key;
  std::string job_id;
  int interval = 86400;
};

class KumaServer {
 public:
  // CERT: the certificate (certs/CERT.pem/.key) it serves; SERVER_NAME: the
  // name the readiness probe asks for ("" = by IP).
  KumaServer(std::string label, std::string cert, std::string server_name)
      : label_(std::move(label)), cert_(std::move(cert)), server_name_(std::move(server_name)) {}
  ~KumaServer() { Stop(); }
  KumaServer(const KumaServer&) = delete;
  KumaServer& operator=(const KumaServer&) = delete;

  void Configure(const KumaInstall* install, const std::string& dir, const std::string& certs_dir,
                 uint16_t port) {
    install_ = install;
    dir_ = dir;
    certs_dir_ = certs_dir;
    port_ = port;
    std::filesystem::create_directories(data_dir());
    // Without it Kuma waits at its database setup page.
    WriteText(data_dir() + "db-config.json", "{\"type\":\"sqlite\"}\n");
  }

  const std::string& label() const { return label_; }
  const std::string& server_name() const { return server_name_; }
  uint16_t port() const { return port_; }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(port_); }
  std::string data_dir() const { return dir_ + "/data/"; }
  std::string db_path() const { return data_dir() + "kuma.db"; }
  std::string log_path() const { return dir_ + "/kuma.log"; }
  std::string LogTail(size_t lines = 40) const { return Tail(ReadText(log_path()), lines); }
  std::vector<Monitor>& monitors() { return monitors_; }
  bool running() { return process_.Running(); }

  // Starts `node server/server.js` in the package folder (not waiting for it).
  bool Launch(std::string* err) {
    std::ofstream(log_path(), std::ios::app)
        << "=== pbk e2e: starting Kuma '" << label_ << "' on port " << port_ << "\n";
    const std::map<std::string, std::string> env = {
        {"PATH", std::filesystem::path(install_->node).parent_path().string() +
                     ":/usr/local/bin:/usr/bin:/bin"},
        {"HOME", dir_},
        {"LANG", "C.UTF-8"},
        {"DATA_DIR", data_dir()},  // with its trailing slash
        {"UPTIME_KUMA_HOST", "127.0.0.1"},
        {"UPTIME_KUMA_PORT", std::to_string(port_)},
        {"UPTIME_KUMA_SSL_CERT", certs_dir_ + "/" + cert_ + ".pem"},
        {"UPTIME_KUMA_SSL_KEY", certs_dir_ + "/" + cert_ + ".key"},
    };
    std::vector<std::string> argv;
    // If this test binary dies without its TearDown, Kuma goes with it.
    if (access("/usr/bin/setpriv", X_OK) == 0) {
      argv = {"/usr/bin/setpriv", "--pdeathsig", "TERM", "--"};
    }
    const std::vector<std::string> node = {"/usr/bin/env", "-C", install_->package_dir,
                                           install_->node, "server/server.js"};
    argv.insert(argv.end(), node.begin(), node.end());
    started_ = SteadyClock::now();
    return process_.Start(argv, &env, log_path(), log_path(), err);
  }

  // One readiness probe: a TLS request to GET / validated against our CA.
  bool Answers(const std::string& curl, const std::string& ca_file) {
    const std::string host = server_name_.empty() ? "127.0.0.1" : server_name_;
    std::vector<std::string> argv = {curl,           "-sS",       "-o", "/dev/null",  "-w",
                                     "%{http_code}", "--noproxy", "*",  "--max-time", "5",
                                     "--cacert",     ca_file};
    if (!server_name_.empty()) {
      argv.insert(argv.end(),
                  {"--resolve", server_name_ + ":" + std::to_string(port_) + ":127.0.0.1"});
    }
    argv.push_back("https://" + host + ":" + std::to_string(port_) + "/");
    RunResult result = Run(argv, nullptr, seconds(10));
    last_probe_ = result.out + result.err;
    return result.exit_code == 0 && !result.out.empty() && result.out != "000";
  }
  const std::string& last_probe() const { return last_probe_; }

  double SecondsSinceLaunch() const {
    return std::chrono::duration<double>(SteadyClock::now() - started_).count();
  }

  // SIGTERM by pid, without waiting.
  void Terminate() {
    if (process_.Running()) kill(process_.pid(), SIGTERM);
  }
  // Waits for the end after Terminate(): SIGKILL when the grace is over.
  void AwaitStopped() {
    if (!process_.Wait(kStopGrace) && process_.Running()) {
      std::cerr << "e2e: Kuma '" << label_ << "' ignored SIGTERM for 10 s: SIGKILL\n";
      kill(process_.pid(), SIGKILL);
      process_.Wait(seconds(10));
    }
    process_.Stop();  // reaps it; nothing left to signal by now
  }
  void Stop() {
    Terminate();
    AwaitStopped();
  }

 private:
  const std::string label_;
  const std::string cert_;
  const std::string server_name_;
  const KumaInstall* install_ = nullptr;
  std::string dir_;
  std::string certs_dir_;
  uint16_t port_ = 0;
  BackgroundProcess process_;
  SteadyClock::time_point started_;
  std::string last_probe_;
  std::vector<Monitor> monitors_;
};

// --- the global environment: Kuma installed, four servers running ---------------------

struct LatencySample {
  std::string label;
  int64_t ms;  // from the hook's call (or flush) start to Kuma's heartbeat time
};

class KumaEnvironment : public ::testing::Environment {
 public:
  void SetUp() override;
  void TearDown() override;

  const KumaInstall& install() const { return install_; }
  KumaServer& ip() { return *ip_; }
  KumaServer& name() { return *name_; }
  KumaServer& late() { return *late_; }
  KumaServer& restart() { return *restart_; }
  // Fresh Kumas without a user and without monitors, for `kuma login` and
  // `kuma sync` (each case file makes the first user itself).
  KumaServer& login() { return *login_; }
  KumaServer& sync() { return *sync_; }
  std::string ca_file() const { return dir_->Path("certs/ca.pem"); }
  // A CA that signed none of the servers' certificates.
  std::string other_ca_file() const { return dir_->Path("certs/other-ca.pem"); }
  std::string curl() const { return curl_; }

  // The monitor for case KEY, with the server it lives on.
  std::pair<KumaServer*, const Monitor*> MonitorFor(const std::string& key) {
    for (KumaServer* server : Servers()) {
      for (const Monitor& monitor : server->monitors()) {
        if (monitor.key == key) return {server, &monitor};
      }
    }
    return {nullptr, nullptr};
  }
  std::set<std::string> Tokens() {
    std::set<std::string> tokens;
    for (KumaServer* server : Servers()) {
      for (const Monitor& monitor : server->monitors()) tokens.insert(monitor.token);
    }
    return tokens;
  }

  // The heartbeats of MONITOR, oldest first; polls up to TIMEOUT until there
  // are at least MIN_COUNT (Kuma stores the row before it answers, so this is
  // only a safety margin).
  std::vector<json> Heartbeats(KumaServer& server, const Monitor& monitor, size_t min_count,
                               milliseconds timeout = milliseconds(5000)) {
    const auto deadline = SteadyClock::now() + timeout;
    std::vector<json> rows;
    for (;;) {
      std::string err;
      json result = KumaSql(install_, server.db_path(), "query",
                            "SELECT id, status, msg, time, ping, important FROM heartbeat "
                            "WHERE monitor_id = ? ORDER BY id",
                            json::array({monitor.id}), &err);
      if (!result.is_array()) {
        ADD_FAILURE() << err;
        return {};
      }
      rows = result.get<std::vector<json>>();
      if (rows.size() >= min_count || SteadyClock::now() >= deadline) return rows;
      std::this_thread::sleep_for(milliseconds(100));
    }
  }

  void RecordLatency(const std::string& label, int64_t call_start_ms, const json& heartbeat) {
    const int64_t at = ParseKumaTime(Str(heartbeat, "time"));
    if (at < 0) {
      ADD_FAILURE() << "heartbeat time does not parse: " << heartbeat.dump();
      return;
    }
    latencies_.push_back({label, at - call_start_ms});
  }

  // (Re)starts SERVERS at once and waits until all answer; "" or what failed.
  std::string StartAndWait(const std::vector<KumaServer*>& servers);

 private:
  std::vector<KumaServer*> Servers() {
    std::vector<KumaServer*> servers = PushServers();
    for (auto* server : {login_.get(), sync_.get()}) {
      if (server != nullptr) servers.push_back(server);
    }
    return servers;
  }
  // The servers whose monitors are rows inserted while they are stopped.
  std::vector<KumaServer*> PushServers() {
    std::vector<KumaServer*> servers;
    for (auto* server : {ip_.get(), name_.get(), late_.get(), restart_.get()}) {
      if (server != nullptr) servers.push_back(server);
    }
    return servers;
  }
  void InstallKuma();
  void AddMonitors(KumaServer& server, const std::vector<MonitorSpec>& specs);
  void ReportLatencies();
  void ScanEnvironmentForTokens();

  KumaInstall install_;
  std::string curl_;
  std::unique_ptr<TestDir> dir_;
  std::unique_ptr<KumaServer> ip_, name_, late_, restart_, login_, sync_;
  std::vector<LatencySample> latencies_;
  std::vector<std::string> outputs_;
};


// Set by KumaEnvironment::SetUp; the cases reach the servers through it.
extern KumaEnvironment* g_env;

}  // namespace pbk::testing::kuma_e2e
