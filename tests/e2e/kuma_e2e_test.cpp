// End-to-end tests: the built pbk-agent, reached only through the generated
// hook wrapper and run by pbk-vzdump-sim exactly as vzdump runs a hook,
// pushing over TLS to a REAL Uptime Kuma (2.0.0-dev.0 from the npm registry,
// installed by tests/e2e/kuma.sh). What is asserted is what Kuma made of each
// push: the rows of its SQLite `heartbeat` table.
//
// A GoogleTest global Environment installs Kuma (kuma.sh, a no-op once the
// cache is complete) and starts four Kuma servers once for all cases, in
// parallel:
//   ip       certificate with IP SAN 127.0.0.1 (the product's IP mode)
//   name     certificate with only DNS SAN kuma.test (server_name "kuma.test")
//   late     IP mode; the cases with Kuma down stop and restart it
//   restart  IP mode; the Kuma-restart case restarts it and times its
//            missed-heartbeat checker (the only monitors with short intervals)
// Each case has its own push monitor (and job), so "exactly one new
// heartbeat" is a plain count. Monitors are rows inserted into Kuma's
// `monitor` table while it is stopped: Kuma starts its missed-heartbeat
// checker only for monitors present at boot, so each server is started once
// to create its database, stopped, given its monitors, and started again.
//
// The agent reads its job list from files (a jobs.cfg the case writes; no
// PVE API token, pvesh pointed at nothing), as on a node without either.
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

namespace pbk::testing {
namespace {

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

void WriteText(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

// The last LINES lines of TEXT.
std::string Tail(const std::string& text, size_t lines) {
  size_t pos = text.size();
  for (size_t n = 0; n <= lines && pos > 0; ++n) {
    pos = text.rfind('\n', pos - 1);
    if (pos == std::string::npos) return text;
  }
  return text.substr(pos + 1);
}

double Num(const json& object, const char* key) {
  const json& value = At(object, key);
  return value.is_number() ? value.get<double>() : -1.0;
}

std::vector<std::string> FilesIn(const std::string& dir) {
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
int64_t WallMs() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Kuma's heartbeat `time`, "2026-06-01 19:00:02.714" in UTC, as epoch ms;
// -1 when it does not parse.
int64_t ParseKumaTime(const std::string& text) {
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

// EPOCH_SECONDS in local time, as pbk-agent writes times in its
// messages ("2026-06-01 21:00:00").
std::string LocalTime(int64_t epoch_seconds) {
  const time_t t = static_cast<time_t>(epoch_seconds);
  std::tm local{};
  localtime_r(&t, &local);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M:%S", &local);
  return buffer;
}

// The first local HOUR:MINUTE strictly after AFTER (seconds since the epoch).
int64_t NextDailyAt(int64_t after, int hour, int minute) {
  for (int days = 0; days < 3; ++days) {
    const time_t t = static_cast<time_t>(after);
    std::tm local{};
    localtime_r(&t, &local);
    local.tm_mday += days;
    local.tm_hour = hour;
    local.tm_min = minute;
    local.tm_sec = 0;
    local.tm_isdst = -1;
    const int64_t candidate = static_cast<int64_t>(mktime(&local));
    if (candidate > after) return candidate;
  }
  return -1;
}

// PROGRAM's absolute path from PATH, or "".
std::string FindProgram(const std::string& program) {
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
std::string RandomToken(size_t length) {
  static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::random_device device;
  std::uniform_int_distribution<size_t> pick(0, sizeof kAlphabet - 2);
  std::string token;
  for (size_t i = 0; i < length; ++i) token += kAlphabet[pick(device)];
  RegisterSecret(token);
  return token;
}

// COUNT distinct free TCP ports on 127.0.0.1 (all bound at once, then released).
std::vector<uint16_t> FreePorts(size_t count, std::string* err) {
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

double Median(std::vector<int64_t> values) {
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
json KumaSql(const KumaInstall& kuma, const std::string& db, const std::string& verb,
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
  std::string ca_file() const { return dir_->Path("certs/ca.pem"); }
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
  std::unique_ptr<KumaServer> ip_, name_, late_, restart_;
  std::vector<LatencySample> latencies_;
  std::vector<std::string> outputs_;
};

KumaEnvironment* g_env = nullptr;

void KumaEnvironment::InstallKuma() {
  const char* cache = std::getenv("PBK_KUMA_CACHE");
  install_.cache =
      std::filesystem::absolute(cache != nullptr && *cache != '\0' ? cache : kDefaultCache)
          .lexically_normal()
          .string();
  install_.modules = install_.cache + "/node_modules";
  install_.package_dir = install_.modules + "/uptime-kuma";
  std::cout << "e2e: kuma.sh install " << install_.cache << std::endl;
  const auto start = SteadyClock::now();
  RunResult result =
      Run({"/bin/bash", kKumaScript, "install", install_.cache}, nullptr, seconds(1000));
  outputs_.push_back(result.out);
  outputs_.push_back(result.err);
  std::cout << result.out << result.err << "e2e: kuma.sh took "
            << std::chrono::duration<double>(SteadyClock::now() - start).count() << " s"
            << std::endl;
  ASSERT_EQ(result.exit_code, 0) << "kuma.sh install " << install_.cache << " failed ("
                                 << result.Describe() << "):\n"
                                 << result.out << result.err;
  install_.node = FindProgram("node");
  ASSERT_FALSE(install_.node.empty()) << "node is not in PATH";
  ASSERT_EQ(access((install_.package_dir + "/server/server.js").c_str(), R_OK), 0)
      << install_.package_dir << "/server/server.js is missing after kuma.sh install";
}

std::string KumaEnvironment::StartAndWait(const std::vector<KumaServer*>& servers) {
  for (KumaServer* server : servers) {
    std::string err;
    if (!server->Launch(&err)) return "cannot start Kuma '" + server->label() + "': " + err;
  }
  std::vector<KumaServer*> waiting = servers;
  const auto deadline = SteadyClock::now() + kStartTimeout;
  while (!waiting.empty()) {
    for (auto it = waiting.begin(); it != waiting.end();) {
      KumaServer* server = *it;
      if (!server->running()) {
        return "Kuma '" + server->label() + "' exited during start-up; its log ends:\n" +
               server->LogTail();
      }
      if (server->Answers(curl_, ca_file())) {
        std::cout << "e2e: Kuma '" << server->label() << "' answers on " << server->url()
                  << " after " << server->SecondsSinceLaunch() << " s" << std::endl;
        it = waiting.erase(it);
      } else {
        ++it;
      }
    }
    if (waiting.empty()) break;
    if (SteadyClock::now() >= deadline) {
      return "Kuma '" + waiting.front()->label() +
             "' did not answer within 90 s (last probe: " + waiting.front()->last_probe() +
             "); its log ends:\n" + waiting.front()->LogTail();
    }
    std::this_thread::sleep_for(milliseconds(250));
  }
  return "";
}

void KumaEnvironment::AddMonitors(KumaServer& server, const std::vector<MonitorSpec>& specs) {
  for (const auto& spec : specs) {
    Monitor monitor{spec.key, spec.job_id, RandomToken(32)};
    monitor.interval = spec.interval;
    // Only what a push monitor needs; every other NOT NULL column has a
    // default. No user row is needed: the push route looks the token up
    // alone, and user_id may be NULL.
    std::string err;
    json result = KumaSql(
        install_, server.db_path(), "exec",
        "INSERT INTO monitor (name, type, push_token, active, interval, "
        "retry_interval, maxretries, accepted_statuscodes_json) "
        "VALUES (?, 'push', ?, 1, ?, ?, 0, '[\"200-299\"]')",
        json::array({"pbk e2e " + spec.key, monitor.token, spec.interval, spec.interval}), &err);
    ASSERT_TRUE(result.is_object()) << err;
    monitor.id = At(result, "lastID").get<int64_t>();
    ASSERT_GT(monitor.id, 0) << result.dump();
    server.monitors().push_back(monitor);
  }
}

void KumaEnvironment::SetUp() {
  g_env = this;
  ASSERT_NO_FATAL_FAILURE(InstallKuma());
  curl_ = FindProgram("curl");
  ASSERT_FALSE(curl_.empty()) << "curl is not in PATH (it probes Kuma's start-up)";

  dir_ = std::make_unique<TestDir>();
  std::string err;
  ASSERT_TRUE(MakeTestCertificates(dir_->Path("certs"), &err)) << err;
  std::vector<uint16_t> ports = FreePorts(4, &err);
  ASSERT_EQ(ports.size(), 4u) << err;
  ip_ = std::make_unique<KumaServer>("ip", "ip", "");
  name_ = std::make_unique<KumaServer>("name", "name", "kuma.test");
  late_ = std::make_unique<KumaServer>("late", "ip", "");
  restart_ = std::make_unique<KumaServer>("restart", "ip", "");
  ip_->Configure(&install_, dir_->Path("kuma-ip"), dir_->Path("certs"), ports[0]);
  name_->Configure(&install_, dir_->Path("kuma-name"), dir_->Path("certs"), ports[1]);
  late_->Configure(&install_, dir_->Path("kuma-late"), dir_->Path("certs"), ports[2]);
  restart_->Configure(&install_, dir_->Path("kuma-restart"), dir_->Path("certs"), ports[3]);

  // First start: Kuma creates and migrates its database.
  auto phase_start = SteadyClock::now();
  std::string failure = StartAndWait(Servers());
  ASSERT_EQ(failure, "") << failure;
  const double first_start =
      std::chrono::duration<double>(SteadyClock::now() - phase_start).count();
  phase_start = SteadyClock::now();
  for (KumaServer* server : Servers()) server->Terminate();
  for (KumaServer* server : Servers()) server->AwaitStopped();
  const double stop = std::chrono::duration<double>(SteadyClock::now() - phase_start).count();

  // The monitors, while no Kuma runs.
  ASSERT_NO_FATAL_FAILURE(AddMonitors(*ip_, {{"snapshot-ok", "backup-e2e1a001-0001"},
                                             {"guest-fails", "backup-e2e1a002-0002"},
                                             {"job-abort", "backup-e2e1a003-0003"},
                                             {"three-runs", "backup-e2e1a004-0004"},
                                             {"manual", "backup-e2e1a005-0005"},
                                             {"many-guests", "backup-e2e1a006-0006"},
                                             {"missed-run", "backup-e2e1a007-0007"},
                                             {"missed-first", "backup-e2e1a008-0008"}}));
  ASSERT_NO_FATAL_FAILURE(AddMonitors(*name_, {{"name-mode", "backup-e2e2b001-0001"}}));
  ASSERT_NO_FATAL_FAILURE(AddMonitors(
      *late_, {{"kuma-down", "backup-e2e3c001-0001"}, {"late-twice", "backup-e2e3c002-0002"}}));
  // Scaled time for the restart case: 20 s (Kuma's shortest interval)
  // stands for refresh's 15-minute kuma.heartbeat_interval_minutes, 90 s for
  // a per-job interval of 26 h (a daily job pushed only at its end).
  ASSERT_NO_FATAL_FAILURE(
      AddMonitors(*restart_, {{"restart-short", "backup-e2e4d001-0001", kShortIntervalSeconds},
                              {"restart-long", "backup-e2e4d002-0002", kLongIntervalSeconds}}));

  phase_start = SteadyClock::now();
  failure = StartAndWait(Servers());
  ASSERT_EQ(failure, "") << failure;
  const double second_start =
      std::chrono::duration<double>(SteadyClock::now() - phase_start).count();
  std::cout << "e2e: four Kuma servers: first start " << first_start << " s, stop " << stop
            << " s, start with the monitors " << second_start << " s" << std::endl;
}

void KumaEnvironment::ReportLatencies() {
  if (latencies_.empty()) return;
  std::vector<int64_t> values;
  std::cout << "e2e: latency from the hook's call start (job-end/job-abort, manual test, flush)"
               " to the heartbeat time Kuma stored:\n";
  for (const auto& sample : latencies_) {
    std::cout << "  " << sample.label << ": " << sample.ms << " ms\n";
    values.push_back(sample.ms);
  }
  std::cout << "e2e: latency over " << values.size() << " pushes: median " << Median(values)
            << " ms, max " << *std::max_element(values.begin(), values.end()) << " ms" << std::endl;
}

void KumaEnvironment::ScanEnvironmentForTokens() {
  // kuma.sh's output, and the environment's own files except
  // Kuma's data (its database holds the tokens by design) and Kuma's logs.
  std::vector<std::pair<std::string, std::string>> texts;
  for (size_t i = 0; i < outputs_.size(); ++i) {
    texts.emplace_back("environment output #" + std::to_string(i), outputs_[i]);
  }
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir_->path(), ec);
       it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    const std::string path = it->path().string();
    if (Contains(path, "/data/") || it->path().filename() == "kuma.log") continue;
    if (it->is_regular_file()) texts.emplace_back(path, ReadText(path));
  }
  for (const auto& token : Tokens()) {
    for (const auto& [where, text] : texts) {
      EXPECT_FALSE(Contains(text, token)) << "a push token leaked into " << where;
    }
  }
  // Not asserted (Kuma's log is Kuma's business), but worth knowing.
  for (KumaServer* server : Servers()) {
    const std::string log = ReadText(server->log_path());
    for (const auto& token : Tokens()) {
      if (Contains(log, token)) {
        std::cout << "e2e: note: Kuma '" << server->label() << "' logged a push token\n";
        break;
      }
    }
  }
}

void KumaEnvironment::TearDown() {
  ReportLatencies();
  for (KumaServer* server : Servers()) server->Terminate();
  for (KumaServer* server : Servers()) server->AwaitStopped();
  if (dir_) {
    ScanEnvironmentForTokens();
    if (::testing::UnitTest::GetInstance()->Failed()) {
      for (KumaServer* server : Servers()) {
        std::cout << "e2e: the log of Kuma '" << server->label() << "' ends:\n"
                  << server->LogTail(25) << std::endl;
      }
    }
  }
  ip_.reset();
  name_.reset();
  late_.reset();
  restart_.reset();
  dir_.reset();
}

::testing::Environment* const kKumaEnvironment =
    ::testing::AddGlobalTestEnvironment(new KumaEnvironment);

// --- simulator scenarios (as in the black-box tier) ---------------------------------

json Guest(int vmid, const std::string& type, const std::string& name, const std::string& run,
           double archive_seconds = 0.0) {
  json guest = {{"vmid", vmid}, {"type", type}, {"name", name}, {"run", run}};
  if (archive_seconds > 0) guest["archive_seconds"] = archive_seconds;
  return guest;
}

// A scheduled job JOB_ID on the PBS storage "pbs1".
json Scenario(std::vector<json> guests, const std::string& job_id) {
  return {{"storage", "pbs1"},
          {"guests", std::move(guests)},
          {"job_id", job_id},
          {"job_config", {{"storage", "pbs1"}, {"all", 1}, {"mode", "snapshot"}}}};
}

// VM 100 web01 and CT 101 db01, 0.3 s of archiving each.
json TwoGuests(const std::string& job_id, const std::string& run_101 = "snapshot") {
  return Scenario(
      {Guest(100, "qemu", "web01", "snapshot", 0.3), Guest(101, "lxc", "db01", run_101, 0.3)},
      job_id);
}

// What the simulator reports about one run.
struct SimRun {
  RunResult process;
  json summary;
  int64_t wall_start_ms = 0;  // wall clock just before the simulator started

  json Call(const std::string& phase) const {
    for (const auto& call : At(summary, "calls")) {
      if (Str(call, "phase") == phase) return call;
    }
    return json();
  }
  size_t CallCount(const std::string& phase) const {
    size_t count = 0;
    for (const auto& call : At(summary, "calls")) count += Str(call, "phase") == phase ? 1 : 0;
    return count;
  }
  // The first task-log line of PHASE starting with PREFIX, or "".
  std::string Line(const std::string& phase, const std::string& prefix) const {
    const json call = Call(phase);  // kept alive: At() returns a reference into it
    for (const auto& line : At(call, "stdout")) {
      if (line.is_string() && StartsWith(line.get<std::string>(), prefix)) return line;
    }
    return "";
  }
  // The wall-clock time PHASE's hook call started.
  int64_t CallStartMs(const std::string& phase) const {
    return wall_start_ms + static_cast<int64_t>(Num(Call(phase), "start_ms"));
  }
  std::string TaskStatus() const { return Str(summary, "task_status"); }
  std::string Log() const { return process.out + process.err; }
};

// --- the cases ------------------------------------------------------------------------

class KumaE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(g_env, nullptr);
    std::filesystem::create_directories(dir_.Path("jobs"));
    state_dir_ = dir_.Path("state");
    config_path_ = dir_.Path("config.json");
    ASSERT_NO_FATAL_FAILURE(RenderWrapper());
  }

  void TearDown() override { ExpectNoTokenLeaked(); }

  // The wrapper as the package installs it, pointing at the build's binary
  // and this test's configuration.
  void RenderWrapper() {
    wrapper_ = dir_.Path("vzdump-uptime-kuma-hook.sh");
    std::string err;
    ASSERT_TRUE(RenderHookWrapper(kSourceDir, kBinDir + "/pbk-agent", config_path_, wrapper_, &err))
        << err;
  }

  // Uses the monitors of cases KEYS, all on one Kuma server (monitor_ is
  // the first): config.json holds their jobs, and jobs.cfg lists the same
  // jobs, daily at 21:00 (so none is due during a test, and refresh and
  // flush see live jobs, not gone ones).
  void UseMonitors(const std::vector<std::string>& keys) {
    ASSERT_FALSE(keys.empty());
    monitors_.clear();
    std::string jobs_cfg;
    for (const auto& key : keys) {
      auto [server, monitor] = g_env->MonitorFor(key);
      ASSERT_NE(server, nullptr) << "no monitor for " << key;
      ASSERT_TRUE(server_ == nullptr || server_ == server) << key << " is on another Kuma";
      server_ = server;
      monitors_.push_back(*monitor);
      jobs_cfg += "vzdump: " + monitor->job_id + "\n\tschedule " + kDailyAt +
                  "\n\tall 1\n\tenabled 1\n\tmode snapshot\n\tstorage pbs1\n\n";
    }
    monitor_ = monitors_.front();
    dir_.Write("jobs.cfg", jobs_cfg);
    ASSERT_NO_FATAL_FAILURE(WriteConfig("config.json", monitors_));
  }
  void UseMonitor(const std::string& key) { UseMonitors({key}); }

  // A configuration (mode 0600) pushing for the jobs of MONITORS to the
  // server in use. The job list comes from the files alone: no PVE API
  // token, pvesh pointed at a path that does not exist (on a real PVE node
  // the test must not read the node's own jobs), vzdump.cron absent.
  void WriteConfig(const std::string& name, const std::vector<Monitor>& monitors) {
    json kuma = {{"url", server_->url()}, {"ca_file", g_env->ca_file()}, {"timeout_seconds", 10}};
    if (!server_->server_name().empty()) kuma["server_name"] = server_->server_name();
    json jobs = json::object();
    for (const auto& monitor : monitors) jobs[monitor.job_id] = {{"push_token", monitor.token}};
    json config = {{"node", "pve1"},
                   {"kuma", kuma},
                   {"jobs", jobs},
                   {"pve", {{"pvesh", dir_.Path("no-pvesh")}}},
                   {"paths",
                    {{"state_dir", state_dir_},
                     {"scheduler_dir", dir_.Path("jobs")},
                     {"jobs_cfg", dir_.Path("jobs.cfg")},
                     {"vzdump_cron", dir_.Path("vzdump.cron")},
                     {"proc", "/proc"}}}};
    const std::string path = dir_.Write(name, config.dump(2) + "\n");  // mode 0600
    ASSERT_EQ(chmod(path.c_str(), 0600), 0);
    config_paths_.insert(path);
  }

  std::vector<std::string> SimArgs(const json& scenario, std::string* summary_path) {
    const std::string n = std::to_string(++runs_);
    const std::string scenario_path = dir_.Write("scenario-" + n + ".json", scenario.dump(2));
    *summary_path = dir_.Path("summary-" + n + ".json");
    return {kBinDir + "/pbk-vzdump-sim",
            "--hook",
            wrapper_,
            "--scenario",
            scenario_path,
            "--summary",
            *summary_path,
            "--scheduler-dir",
            dir_.Path("jobs"),
            "--hook-timeout",
            "60"};
  }

  SimRun ReadSummary(RunResult process, const std::string& summary_path, int64_t wall_start_ms) {
    SimRun run;
    run.process = std::move(process);
    run.wall_start_ms = wall_start_ms;
    Remember(run.process);
    const std::string text = ReadText(summary_path);
    outputs_.push_back(text);
    run.summary = json::parse(text, nullptr, /*allow_exceptions=*/false);
    EXPECT_TRUE(run.summary.is_object())
        << "no summary from the simulator (" << run.process.Describe() << "): " << run.Log();
    if (!run.summary.is_object()) run.summary = json{{"calls", json::array()}};
    return run;
  }

  // One vzdump run of SCENARIO through the wrapper.
  SimRun RunSim(const json& scenario) {
    std::string summary_path;
    std::vector<std::string> argv = SimArgs(scenario, &summary_path);
    const int64_t wall_start = WallMs();
    RunResult process = pbk::testing::Run(argv, nullptr, seconds(120));
    EXPECT_FALSE(process.timed_out) << process.out << process.err;
    return ReadSummary(std::move(process), summary_path, wall_start);
  }

  // pbk-agent ARGS with config.json, or with CONFIG_PATH when given.
  RunResult Agent(const std::vector<std::string>& args, const std::string& config_path = "") {
    std::vector<std::string> argv = {kBinDir + "/pbk-agent", "--config",
                                     config_path.empty() ? config_path_ : config_path};
    argv.insert(argv.end(), args.begin(), args.end());
    RunResult result = pbk::testing::Run(argv, nullptr, seconds(60));
    Remember(result);
    return result;
  }

  void Remember(const RunResult& result) {
    outputs_.push_back(result.out);
    outputs_.push_back(result.err);
  }

  std::vector<std::string> SpoolFiles() const { return FilesIn(state_dir_ + "/spool"); }

  std::vector<json> Heartbeats(size_t min_count = 1) {
    return g_env->Heartbeats(*server_, monitor_, min_count);
  }

  // The push message the hook reported in the task log of PHASE
  // ("pbk-agent: pushed up to Uptime Kuma for job <id>: <message>").
  std::string PushedMessage(const SimRun& run, const std::string& phase,
                            const std::string& status) {
    const std::string prefix =
        "pbk-agent: pushed " + status + " to Uptime Kuma for job " + monitor_.job_id + ": ";
    const std::string line = run.Line(phase, prefix);
    EXPECT_NE(line, "") << "no '" << prefix << "' line in the task log:\n" << run.Log();
    return line.empty() ? "" : line.substr(prefix.size());
  }

  // ping is the run's duration as the hook measured it: from its job-init
  // call to its end-phase call. The hook reads its clock inside those calls,
  // so the duration lies between the two calls' start gaps, widened by each
  // call's own run time.
  static void ExpectPingIsTheRunsDuration(const json& heartbeat, const SimRun& run,
                                          const std::string& end_phase, double archive_ms) {
    const json& ping = At(heartbeat, "ping");
    ASSERT_TRUE(ping.is_number_integer()) << heartbeat.dump();
    const double value = ping.get<double>();
    const json init = run.Call("job-init");
    const json end = run.Call(end_phase);
    const double low = Num(end, "start_ms") - Num(init, "start_ms") - Num(init, "exit_ms") - 2;
    const double high = Num(end, "start_ms") + Num(end, "exit_ms") - Num(init, "start_ms") + 2;
    EXPECT_GE(value, low) << heartbeat.dump() << "\n" << init.dump() << "\n" << end.dump();
    EXPECT_LE(value, high) << heartbeat.dump() << "\n" << init.dump() << "\n" << end.dump();
    EXPECT_GE(value, archive_ms) << heartbeat.dump();
  }

  // Push tokens must not show up in anything the tests or the hook printed
  // or wrote: task logs, stdout/stderr, summaries, run records, spool. The
  // configuration holds them by design (and Kuma's database and log are
  // elsewhere, in the environment's folder).
  void ExpectNoTokenLeaked() {
    const auto texts = TextsToScan(outputs_, dir_.path(), config_paths_);
    EXPECT_GT(texts.size(), 0u);
    for (const auto& token : g_env->Tokens()) {
      for (const auto& [where, text] : texts) {
        EXPECT_FALSE(Contains(text, token)) << "a push token leaked into " << where << ":\n"
                                            << text;
      }
    }
  }

  // Starts KUMA again when an earlier case left it stopped.
  static void EnsureRunning(KumaServer& kuma) {
    if (kuma.running()) return;
    const std::string failure = g_env->StartAndWait({&kuma});
    ASSERT_EQ(failure, "") << failure;
  }

  // One restart of a Kuma server: wall-clock times in ms.
  struct KumaRestart {
    int64_t term_ms = 0;    // SIGTERM sent
    int64_t launch_ms = 0;  // node started again (Kuma's monitors start after this)
    int64_t ready_ms = 0;   // first answer (Kuma starts its monitors as it starts listening)
  };

  // SIGTERM by pid, wait for the end, start again on the same port with the
  // same data folder, wait until it answers.
  static void RestartKuma(KumaServer& kuma, KumaRestart* restart) {
    restart->term_ms = WallMs();
    kuma.Stop();
    ASSERT_FALSE(kuma.running());
    restart->launch_ms = WallMs();
    const std::string failure = g_env->StartAndWait({&kuma});
    restart->ready_ms = WallMs();
    ASSERT_EQ(failure, "") << failure;
  }

  // MONITOR's newest heartbeat (null when it has none).
  static json LastHeartbeat(KumaServer& kuma, const Monitor& monitor) {
    std::vector<json> beats = g_env->Heartbeats(kuma, monitor, 0, milliseconds(0));
    return beats.empty() ? json() : beats.back();
  }

  // Polls MONITOR's heartbeats until one with id above AFTER_ID is DOWN, or
  // the wall clock passes DEADLINE_MS; that heartbeat, or null.
  static json AwaitDown(KumaServer& kuma, const Monitor& monitor, int64_t after_id,
                        int64_t deadline_ms) {
    for (;;) {
      for (const json& beat : g_env->Heartbeats(kuma, monitor, 0, milliseconds(0))) {
        if (At(beat, "id").get<int64_t>() > after_id && At(beat, "status") == 0) return beat;
      }
      if (WallMs() >= deadline_ms) return json();
      std::this_thread::sleep_for(milliseconds(250));
    }
  }

  // The scheduler's state file of MONITOR's job: stopped, OK, with a UPID
  // (of a worker long gone) that started at START (seconds).
  void WriteSchedulerState(const Monitor& monitor, int64_t start) {
    char fields[64];
    std::snprintf(fields, sizeof fields, "%08X:%08X:%08llX", 0x3FFFF0u, 0x1234u,
                  static_cast<unsigned long long>(start));
    const json state = {{"state", "stopped"},
                        {"msg", "OK"},
                        {"upid", "UPID:pve1:" + std::string(fields) + ":vzdump::root@pam:"}};
    dir_.Write("jobs/vzdump-" + monitor.job_id + ".json", state.dump());
  }

  TestDir dir_;
  std::string state_dir_;
  std::string config_path_;
  std::string wrapper_;
  std::set<std::string> config_paths_;  // exempt from the token scan: they hold tokens by design
  KumaServer* server_ = nullptr;
  Monitor monitor_;
  std::vector<Monitor> monitors_;
  std::vector<std::string> outputs_;
  int runs_ = 0;
};

TEST_F(KumaE2eTest, SnapshotJobWithTwoGuestsOkIsOneUpHeartbeat) {
  ASSERT_NO_FATAL_FAILURE(UseMonitor("snapshot-ok"));
  ASSERT_EQ(Heartbeats(0).size(), 0u);
  SimRun run = RunSim(TwoGuests(monitor_.job_id));

  EXPECT_EQ(run.process.exit_code, 0) << run.Log();
  EXPECT_EQ(run.TaskStatus(), "OK") << run.Log();
  EXPECT_EQ(At(run.Call("job-end"), "exit"), 0) << run.Log();
  const std::string msg = PushedMessage(run, "job-end", "up");
  EXPECT_TRUE(Contains(msg, "all 2 guests backed up")) << msg;

  std::vector<json> beats = Heartbeats();
  ASSERT_EQ(beats.size(), 1u) << json(beats).dump(1);
  EXPECT_EQ(At(beats[0], "status"), 1) << beats[0].dump();
  EXPECT_EQ(Str(beats[0], "msg"), msg);
  ExpectPingIsTheRunsDuration(beats[0], run, "job-end", 600);
  EXPECT_TRUE(SpoolFiles().empty());
  g_env->RecordLatency("snapshot-ok job-end", run.CallStartMs("job-end"), beats[0]);
}

TEST_F(KumaE2eTest, JobWithAFailingGuestIsOneDownHeartbeatNamingIt) {
  ASSERT_NO_FATAL_FAILURE(UseMonitor("guest-fails"));
  SimRun run = RunSim(TwoGuests(monitor_.job_id, "fail-archive"));

  EXPECT_EQ(run.TaskStatus(), "job errors") << run.Log();
  EXPECT_EQ(At(run.Call("job-end"), "exit"), 0) << run.Log();
  const std::string msg = PushedMessage(run, "job-end", "down");

  std::vector<json> beats = Heartbeats();
  ASSERT_EQ(beats.size(), 1u) << json(beats).dump(1);
  EXPECT_EQ(At(beats[0], "status"), 0) << beats[0].dump();
  EXPECT_EQ(Str(beats[0], "msg"), msg);
  EXPECT_TRUE(Contains(Str(beats[0], "msg"), "failed: 101 db01")) << beats[0].dump();
  EXPECT_TRUE(Contains(Str(beats[0], "msg"), "ok: 100 web01")) << beats[0].dump();
  ExpectPingIsTheRunsDuration(beats[0], run, "job-end", 300);
  g_env->RecordLatency("guest-fails job-end", run.CallStartMs("job-end"), beats[0]);
}

TEST_F(KumaE2eTest, AbortedJobIsOneDownHeartbeat) {
  ASSERT_NO_FATAL_FAILURE(UseMonitor("job-abort"));
  json scenario = TwoGuests(monitor_.job_id);
  scenario["abort_after_guest"] = 1;
  SimRun run = RunSim(scenario);

  EXPECT_NE(run.TaskStatus(), "OK") << run.Log();
  EXPECT_EQ(run.CallCount("job-end"), 0u) << run.Log();
  ASSERT_EQ(run.CallCount("job-abort"), 1u) << run.Log();
  EXPECT_EQ(At(run.Call("job-abort"), "exit"), 0) << run.Log();
  const std::string msg = PushedMessage(run, "job-abort", "down");

  std::vector<json> beats = Heartbeats();
  ASSERT_EQ(beats.size(), 1u) << json(beats).dump(1);
  EXPECT_EQ(At(beats[0], "status"), 0) << beats[0].dump();
  EXPECT_EQ(Str(beats[0], "msg"), msg);
  EXPECT_TRUE(Contains(Str(beats[0], "msg"), "ABORTED")) << beats[0].dump();
  ExpectPingIsTheRunsDuration(beats[0], run, "job-abort", 300);
  g_env->RecordLatency("job-abort", run.CallStartMs("job-abort"), beats[0]);
}

TEST_F(KumaE2eTest, ThreeConsecutiveRunsAreThreeHeartbeatsInOrder) {
  ASSERT_NO_FATAL_FAILURE(UseMonitor("three-runs"));
  const std::vector<std::pair<json, std::string>> runs = {
      {TwoGuests(monitor_.job_id), "up"},
      {TwoGuests(monitor_.job_id, "fail-archive"), "down"},
      {Scenario({Guest(100, "qemu", "web01", "snapshot", 0.1)}, monitor_.job_id), "up"},
  };
  std::vector<std::string> messages;
  for (size_t i = 0; i < runs.size(); ++i) {
    SimRun run = RunSim(runs[i].first);
    messages.push_back(PushedMessage(run, "job-end", runs[i].second));
    std::vector<json> beats = Heartbeats(i + 1);
    ASSERT_EQ(beats.size(), i + 1) << "after run " << i + 1 << ": " << json(beats).dump(1);
    g_env->RecordLatency("three-runs #" + std::to_string(i + 1) + " job-end",
                         run.CallStartMs("job-end"), beats.back());
  }
  std::vector<json> beats = Heartbeats(runs.size());
  ASSERT_EQ(beats.size(), runs.size()) << json(beats).dump(1);
  for (size_t i = 0; i < runs.size(); ++i) {
    EXPECT_EQ(At(beats[i], "status"), runs[i].second == "up" ? 1 : 0) << beats[i].dump();
    EXPECT_EQ(Str(beats[i], "msg"), messages[i]) << "run " << i + 1;
    if (i > 0) {
      EXPECT_GT(At(beats[i], "id").get<int64_t>(), At(beats[i - 1], "id").get<int64_t>());
      EXPECT_GE(ParseKumaTime(Str(beats[i], "time")), ParseKumaTime(Str(beats[i - 1], "time")));
    }
  }
  // Three runs, three run records: the runs were told apart.
  EXPECT_EQ(FilesIn(state_dir_ + "/runs").size(), runs.size());
}

TEST_F(KumaE2eTest, LongestMessageArrivesWhole) {
  // 61 guests: the hook cuts the guest list to stay within its message
  // budget; Kuma must store exactly what the task log shows.
  ASSERT_NO_FATAL_FAILURE(UseMonitor("many-guests"));
  std::vector<json> guests;
  for (int vmid = 200; vmid < 260; ++vmid) {
    guests.push_back(Guest(
        vmid, "lxc", "container-with-a-rather-long-host-name-" + std::to_string(vmid), "stopped"));
  }
  guests.push_back(Guest(900, "qemu", "the-one-that-failed", "fail-archive"));
  SimRun run = RunSim(Scenario(guests, monitor_.job_id));

  EXPECT_EQ(run.TaskStatus(), "job errors") << run.Log();
  const std::string msg = PushedMessage(run, "job-end", "down");
  EXPECT_TRUE(Contains(msg, "failed: 900 the-one-that-failed")) << msg;
  EXPECT_GT(msg.size(), 1000u) << msg;

  std::vector<json> beats = Heartbeats();
  ASSERT_EQ(beats.size(), 1u) << json(beats).dump(1);
  EXPECT_EQ(At(beats[0], "status"), 0) << beats[0].dump();
  EXPECT_EQ(Str(beats[0], "msg"), msg);
  g_env->RecordLatency("many-guests job-end", run.CallStartMs("job-end"), beats[0]);
}

TEST_F(KumaE2eTest, NameModeAgainstTheNameOnlyCertificateIsOneUpHeartbeat) {
  ASSERT_NO_FATAL_FAILURE(UseMonitor("name-mode"));
  ASSERT_EQ(server_->server_name(), "kuma.test");
  SimRun run = RunSim(TwoGuests(monitor_.job_id));

  EXPECT_EQ(run.TaskStatus(), "OK") << run.Log();
  EXPECT_EQ(At(run.Call("job-end"), "exit"), 0) << run.Log();
  EXPECT_EQ(run.Line("job-end", "ERROR"), "") << run.Log();
  const std::string msg = PushedMessage(run, "job-end", "up");

  std::vector<json> beats = Heartbeats();
  ASSERT_EQ(beats.size(), 1u) << json(beats).dump(1);
  EXPECT_EQ(At(beats[0], "status"), 1) << beats[0].dump();
  EXPECT_EQ(Str(beats[0], "msg"), msg);
  EXPECT_TRUE(SpoolFiles().empty());
  g_env->RecordLatency("name-mode job-end", run.CallStartMs("job-end"), beats[0]);
}

TEST_F(KumaE2eTest, ManualTestThroughTheWrapperWithAnEmptyEnvironmentIsOneUpHeartbeat) {
  ASSERT_NO_FATAL_FAILURE(UseMonitor("manual"));
  const std::map<std::string, std::string> empty;
  const int64_t start = WallMs();
  RunResult ok =
      pbk::testing::Run({wrapper_, "job-end", "ok", monitor_.job_id}, &empty, seconds(30));
  Remember(ok);

  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  const std::string prefix =
      "pushed up to Uptime Kuma for job " + monitor_.job_id + " (manual test): ";
  const size_t at = ok.out.find(prefix);
  ASSERT_NE(at, std::string::npos) << ok.out << ok.err;
  std::string printed = ok.out.substr(at + prefix.size());
  printed = printed.substr(0, printed.find('\n'));

  std::vector<json> beats = Heartbeats();
  ASSERT_EQ(beats.size(), 1u) << json(beats).dump(1);
  EXPECT_EQ(At(beats[0], "status"), 1) << beats[0].dump();
  EXPECT_TRUE(Contains(Str(beats[0], "msg"), "manual test")) << beats[0].dump();
  EXPECT_EQ(Str(beats[0], "msg"), printed);
  EXPECT_TRUE(SpoolFiles().empty());
  g_env->RecordLatency("manual test", start, beats[0]);
}

TEST_F(KumaE2eTest, KumaDownDuringTheRunIsSpooledAndFlushDeliversItOnce) {
  ASSERT_NO_FATAL_FAILURE(UseMonitor("kuma-down"));
  KumaServer& kuma = *server_;
  ASSERT_TRUE(kuma.running());

  // A run long enough for Kuma to shut down (about 4 s) before job-end.
  std::string summary_path;
  std::vector<std::string> argv = SimArgs(Scenario({Guest(100, "qemu", "web01", "snapshot", 4.0),
                                                    Guest(101, "lxc", "db01", "stop", 4.0)},
                                                   monitor_.job_id),
                                          &summary_path);
  BackgroundProcess sim;
  std::string err;
  const int64_t wall_start = WallMs();
  ASSERT_TRUE(sim.Start(argv, nullptr, dir_.Path("sim.stdout"), dir_.Path("sim.stderr"), &err))
      << err;
  const auto deadline = SteadyClock::now() + seconds(20);
  while (FilesIn(state_dir_ + "/runs").empty() && SteadyClock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  ASSERT_FALSE(FilesIn(state_dir_ + "/runs").empty()) << "the run never started";
  kuma.Stop();
  const int64_t kuma_down_at = WallMs();
  ASSERT_FALSE(kuma.running());
  ASSERT_TRUE(sim.Wait(seconds(90)));
  RunResult process;
  process.started = true;
  process.exit_code = sim.exit_code();
  process.out = ReadText(dir_.Path("sim.stdout"));
  process.err = ReadText(dir_.Path("sim.stderr"));
  SimRun run = ReadSummary(process, summary_path, wall_start);
  ASSERT_GT(run.CallStartMs("job-end"), kuma_down_at)
      << "inconclusive: job-end ran before Kuma was down; " << run.Log();
  std::cout << "e2e: Kuma 'late' was down " << run.CallStartMs("job-end") - kuma_down_at
            << " ms before job-end" << std::endl;

  EXPECT_EQ(At(run.Call("job-end"), "exit"), 0) << run.Log();
  EXPECT_EQ(run.TaskStatus(), "OK") << run.Log();
  const std::string line = run.Line("job-end", "ERROR: ");
  EXPECT_TRUE(StartsWith(
      line, "ERROR: pbk-agent: push of up to Uptime Kuma for job " + monitor_.job_id + " failed: "))
      << run.Log();
  EXPECT_TRUE(Contains(line, "The result is spooled")) << line;
  ASSERT_EQ(SpoolFiles().size(), 1u);

  // Still down: flush keeps it.
  RunResult early = Agent({"flush"});
  EXPECT_EQ(early.exit_code, 1) << early.out << early.err;
  EXPECT_EQ(SpoolFiles().size(), 1u);

  // Kuma back, same port, same data: flush delivers it, once, and then
  // pushes the job's current state.
  const std::string failure = g_env->StartAndWait({&kuma});
  ASSERT_EQ(failure, "") << failure;
  EXPECT_EQ(Heartbeats(0).size(), 0u);
  const int64_t flush_start = WallMs();
  RunResult flush = Agent({"flush"});
  EXPECT_EQ(flush.exit_code, 0) << flush.out << flush.err;
  EXPECT_TRUE(Contains(flush.err, "delivered the up push for job " + monitor_.job_id))
      << flush.out << flush.err;
  EXPECT_TRUE(SpoolFiles().empty());

  std::vector<json> beats = Heartbeats(2);
  ASSERT_EQ(beats.size(), 2u) << json(beats).dump(1);
  EXPECT_EQ(At(beats[1], "status"), 1) << beats[1].dump();
  EXPECT_TRUE(StartsWith(Str(beats[1], "msg"), "pve1: last run ")) << beats[1].dump();
  EXPECT_EQ(At(beats[0], "status"), 1) << beats[0].dump();
  EXPECT_TRUE(StartsWith(Str(beats[0], "msg"), "delivered late")) << beats[0].dump();
  EXPECT_TRUE(Contains(Str(beats[0], "msg"), "all 2 guests backed up")) << beats[0].dump();
  // The late push still carries the run's duration, not the flush's.
  ExpectPingIsTheRunsDuration(beats[0], run, "job-end", 8000);
  g_env->RecordLatency("kuma-down flush", flush_start, beats[0]);

  RunResult again = Agent({"flush"});
  EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(Heartbeats(2).size(), 2u);
}

// --- refresh, a missed run, late results then the current state --------------------

// Kuma's missed-heartbeat checker restarts with Kuma (reference/uptime-kuma.md,
// "The missed-heartbeat timer does not survive a Kuma restart"): at start-up
// it checks a push monitor a full interval after the START, not after the
// last push. Scaled time: the short monitor's 20 s stand for refresh's
// 15 minutes, the long one's 90 s for a per-job interval of 26 h (a daily
// job's monitor pushed only at the run's end). A restart of Kuma takes 5 to
// 25 s here, so each falls in the middle of the long interval.
//
// Timeline (t = 0 at refresh's push to both monitors):
//   restart 1 at once: the short monitor goes DOWN one interval after Kuma is
//     back (the start is later than the push);
//   restart 2 right after that DOWN, then a push to the short monitor alone:
//     DOWN one interval after the push (the push is later than the start);
//   the long monitor, pushed at t = 0 only: no DOWN although it is silent
//     beyond its interval (+ tolerance), until one interval after restart 2.
// About 2 to 2.5 minutes. The measured delays are printed as figures.
TEST_F(KumaE2eTest, KumaRestartDelaysTheMissedHeartbeatAlarmByAFullInterval) {
  ASSERT_NO_FATAL_FAILURE(UseMonitors({"restart-short", "restart-long"}));
  const Monitor short_monitor = monitors_[0];
  const Monitor long_monitor = monitors_[1];
  ASSERT_EQ(short_monitor.interval, kShortIntervalSeconds);
  ASSERT_EQ(long_monitor.interval, kLongIntervalSeconds);
  ASSERT_NO_FATAL_FAILURE(WriteConfig("config-short.json", {short_monitor}));
  KumaServer& kuma = *server_;
  ASSERT_NO_FATAL_FAILURE(EnsureRunning(kuma));
  const int64_t short_ms = int64_t{kShortIntervalSeconds} * 1000;
  const int64_t long_ms = int64_t{kLongIntervalSeconds} * 1000;
  // Kuma checks a push monitor at interval + 1 s after the last push (or at
  // interval after its start); it starts the monitors of a server one after
  // another, 0.3 to 1 s apart, as it starts listening; our probe polls every
  // 0.25 s. 5 s covers all of it with room for a busy machine.
  constexpr int64_t kTolerance = 5000;

  // t = 0: refresh pushes both jobs' current state (up, no run yet).
  RunResult refresh = Agent({"refresh"});
  ASSERT_EQ(refresh.exit_code, 0) << refresh.out << refresh.err;
  const json short_push = LastHeartbeat(kuma, short_monitor);
  const json long_push = LastHeartbeat(kuma, long_monitor);
  ASSERT_TRUE(short_push.is_object() && long_push.is_object()) << refresh.err;
  for (const json* push : {&short_push, &long_push}) {
    EXPECT_EQ(At(*push, "status"), 1) << push->dump();
    EXPECT_TRUE(StartsWith(Str(*push, "msg"), "pve1: no run on record yet")) << push->dump();
  }
  const int64_t short_pushed = ParseKumaTime(Str(short_push, "time"));
  const int64_t long_pushed = ParseKumaTime(Str(long_push, "time"));

  // Restart 1, at once.
  KumaRestart first;
  ASSERT_NO_FATAL_FAILURE(RestartKuma(kuma, &first));
  // Without the restart the long monitor would have been checked at
  // long_pushed + interval + 1 s; Kuma must have gone before that.
  ASSERT_LT(first.term_ms, long_pushed + long_ms) << "inconclusive: Kuma stopped too late";

  const json down1 =
      AwaitDown(kuma, short_monitor, At(short_push, "id").get<int64_t>(),
                std::max(short_pushed, first.ready_ms) + short_ms + kTolerance + 10000);
  ASSERT_TRUE(down1.is_object()) << "the short monitor never went DOWN after restart 1; "
                                 << json(g_env->Heartbeats(kuma, short_monitor, 0)).dump(1);
  EXPECT_EQ(Str(down1, "msg"), "No heartbeat in the time window") << down1.dump();
  const int64_t down1_at = ParseKumaTime(Str(down1, "time"));
  EXPECT_GE(down1_at, short_pushed + short_ms) << down1.dump();
  EXPECT_GE(down1_at, first.launch_ms + short_ms) << down1.dump();
  EXPECT_LE(down1_at, std::max(short_pushed, first.ready_ms) + short_ms + kTolerance)
      << down1.dump();

  // Restart 2, right after that DOWN; then refresh pushes the short monitor
  // alone, a little after Kuma is back.
  KumaRestart second;
  ASSERT_NO_FATAL_FAILURE(RestartKuma(kuma, &second));
  std::this_thread::sleep_for(seconds(3));
  RunResult refresh2 = Agent({"refresh"}, dir_.Path("config-short.json"));
  ASSERT_EQ(refresh2.exit_code, 0) << refresh2.out << refresh2.err;
  const json short_push2 = LastHeartbeat(kuma, short_monitor);
  ASSERT_TRUE(short_push2.is_object());
  ASSERT_EQ(At(short_push2, "status"), 1) << short_push2.dump();
  const int64_t short_pushed2 = ParseKumaTime(Str(short_push2, "time"));
  ASSERT_GT(short_pushed2, second.ready_ms - 1000) << short_push2.dump();

  const json down2 =
      AwaitDown(kuma, short_monitor, At(short_push2, "id").get<int64_t>(),
                std::max(short_pushed2, second.ready_ms) + short_ms + kTolerance + 10000);
  ASSERT_TRUE(down2.is_object()) << "the short monitor never went DOWN after its second push; "
                                 << json(g_env->Heartbeats(kuma, short_monitor, 0)).dump(1);
  EXPECT_EQ(Str(down2, "msg"), "No heartbeat in the time window") << down2.dump();
  const int64_t down2_at = ParseKumaTime(Str(down2, "time"));
  EXPECT_GE(down2_at, short_pushed2 + short_ms) << down2.dump();
  EXPECT_GE(down2_at, second.launch_ms + short_ms) << down2.dump();
  EXPECT_LE(down2_at, std::max(short_pushed2, second.ready_ms) + short_ms + kTolerance)
      << down2.dump();

  // The long monitor: silent since t = 0, past its interval + tolerance, and
  // still no DOWN, because Kuma restarted in between.
  const int64_t silent_until = long_pushed + long_ms + 2 * kTolerance;
  ASSERT_LT(silent_until, second.launch_ms + long_ms)
      << "inconclusive: restart 2 came too early to tell";
  while (WallMs() < silent_until) std::this_thread::sleep_for(milliseconds(250));
  std::vector<json> long_beats = g_env->Heartbeats(kuma, long_monitor, 0);
  for (const json& beat : long_beats) {
    if (At(beat, "id").get<int64_t>() > At(long_push, "id").get<int64_t>()) {
      ADD_FAILURE() << "the long monitor had a heartbeat within "
                    << (silent_until - long_pushed) / 1000 << " s of its push: " << beat.dump();
    }
  }
  // ... until one interval after the last start.
  const json long_down = AwaitDown(kuma, long_monitor, At(long_push, "id").get<int64_t>(),
                                   second.ready_ms + long_ms + kTolerance + 10000);
  ASSERT_TRUE(long_down.is_object()) << "the long monitor never went DOWN; "
                                     << json(g_env->Heartbeats(kuma, long_monitor, 0)).dump(1);
  EXPECT_EQ(Str(long_down, "msg"), "No heartbeat in the time window") << long_down.dump();
  const int64_t long_down_at = ParseKumaTime(Str(long_down, "time"));
  EXPECT_GE(long_down_at, second.launch_ms + long_ms) << long_down.dump();
  EXPECT_LE(long_down_at, second.ready_ms + long_ms + kTolerance) << long_down.dump();

  auto s = [](int64_t ms) {
    return std::to_string(ms / 1000) + "." + std::to_string(ms % 1000 / 100) + " s";
  };
  std::cout << "e2e: Kuma restart figures (short interval " << kShortIntervalSeconds
            << " s, long interval " << kLongIntervalSeconds << " s, scaled):\n"
            << "  restart 1: SIGTERM " << s(first.term_ms - short_pushed) << " after the push, "
            << "stopped and started again in " << s(first.ready_ms - first.term_ms) << "\n"
            << "  short, start later than push: push->DOWN " << s(down1_at - short_pushed)
            << ", restart->DOWN " << s(down1_at - first.ready_ms) << " (from the launch "
            << s(down1_at - first.launch_ms) << ")\n"
            << "  restart 2: stopped and started again in " << s(second.ready_ms - second.term_ms)
            << "\n"
            << "  short, push later than start: push->DOWN " << s(down2_at - short_pushed2)
            << ", restart->DOWN " << s(down2_at - second.ready_ms) << "\n"
            << "  long: no DOWN while silent for " << s(silent_until - long_pushed)
            << " (its interval " << kLongIntervalSeconds << " s); DOWN at push+"
            << s(long_down_at - long_pushed) << " = restart 2+" << s(long_down_at - second.ready_ms)
            << std::endl;
}

// A due run that did not start. The job runs daily at 21:00; the scheduler's
// state file says its last run started 2 days ago (and ended OK); pbk-agent
// has known the job, with this schedule, for 3 days (its refresh.json, as an
// earlier refresh left it). So the run due the first 21:00 after that start
// did not happen: refresh pushes down, naming that time.
TEST_F(KumaE2eTest, MissedRunIsOneDownHeartbeatNamingTheDueTime) {
  ASSERT_NO_FATAL_FAILURE(UseMonitor("missed-run"));
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  const int64_t last_start = now - 2 * 86400 - 17;
  WriteSchedulerState(monitor_, last_start);
  std::filesystem::create_directories(state_dir_);
  ASSERT_EQ(chmod(state_dir_.c_str(), 0700), 0);
  const json memory = {
      {"format", 1},
      {"jobs",
       {{monitor_.job_id,
         {{"schedule", kDailyAt}, {"enabled", true}, {"since", now - 3 * 86400}}}}}};
  dir_.Write("state/refresh.json", memory.dump(1) + "\n");
  const int64_t due = NextDailyAt(last_start, 21, 0);
  ASSERT_GT(due, last_start);

  RunResult refresh = Agent({"refresh", "--json"});
  EXPECT_EQ(refresh.exit_code, 1) << refresh.out << refresh.err;
  const json report = json::parse(refresh.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(report.is_object()) << refresh.out << refresh.err;
  ASSERT_EQ(At(report, "monitors").size(), 1u) << report.dump(1);
  const json entry = At(report, "monitors")[0];
  EXPECT_EQ(Str(entry, "state"), "missed") << entry.dump();
  EXPECT_EQ(Str(entry, "status"), "down") << entry.dump();
  EXPECT_EQ(At(entry, "pushed"), true) << entry.dump();

  std::vector<json> beats = Heartbeats();
  ASSERT_EQ(beats.size(), 1u) << json(beats).dump(1);
  EXPECT_EQ(At(beats[0], "status"), 0) << beats[0].dump();
  EXPECT_EQ(Str(beats[0], "msg"), Str(entry, "message"));
  EXPECT_EQ(Str(beats[0], "msg"), "pve1: run due " + LocalTime(due) + " did not start (last run " +
                                      LocalTime(last_start) + " (by the scheduler's record))")
      << beats[0].dump();
  std::cout << "e2e: missed run: " << Str(beats[0], "msg") << std::endl;
}

// The same on a node where pbk-agent has never run refresh before (no
// refresh.json): the scheduler's state file alone shows the run that was
// due and did not start.
TEST_F(KumaE2eTest, MissedRunOnTheFirstRefreshIsOneDownHeartbeatNamingTheDueTime) {
  ASSERT_NO_FATAL_FAILURE(UseMonitor("missed-first"));
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  const int64_t last_start = now - 2 * 86400 - 17;
  WriteSchedulerState(monitor_, last_start);
  const int64_t due = NextDailyAt(last_start, 21, 0);

  RunResult refresh = Agent({"refresh"});
  EXPECT_EQ(refresh.exit_code, 1) << refresh.out << refresh.err;
  std::vector<json> beats = Heartbeats();
  ASSERT_EQ(beats.size(), 1u) << json(beats).dump(1);
  EXPECT_EQ(At(beats[0], "status"), 0) << beats[0].dump();
  EXPECT_EQ(Str(beats[0], "msg"), "pve1: run due " + LocalTime(due) + " did not start (last run " +
                                      LocalTime(last_start) + " (by the scheduler's record))")
      << beats[0].dump();
}

// Two runs while Kuma is down: both results spooled. Kuma back, flush: both
// arrive, oldest first, each marked late, and then the job's current state,
// so the monitor's last heartbeat is the present truth.
TEST_F(KumaE2eTest, TwoResultsSpooledWhileKumaWasDownArriveOldestFirstThenTheCurrentState) {
  ASSERT_NO_FATAL_FAILURE(UseMonitor("late-twice"));
  KumaServer& kuma = *server_;
  ASSERT_NO_FATAL_FAILURE(EnsureRunning(kuma));
  kuma.Stop();
  ASSERT_FALSE(kuma.running());

  SimRun failed = RunSim(TwoGuests(monitor_.job_id, "fail-archive"));
  // A run's start is the UPID's, in whole seconds: the second run starts in
  // a later second, as two runs of one job do on a real node.
  std::this_thread::sleep_for(milliseconds(1100));
  SimRun ok = RunSim(TwoGuests(monitor_.job_id));
  for (const auto& [run, status] : {std::make_pair(&failed, "down"), std::make_pair(&ok, "up")}) {
    EXPECT_EQ(At(run->Call("job-end"), "exit"), 0) << run->Log();
    const std::string line = run->Line("job-end", "ERROR: ");
    EXPECT_TRUE(StartsWith(line, std::string("ERROR: pbk-agent: push of ") + status +
                                     " to Uptime Kuma for job " + monitor_.job_id + " failed: "))
        << run->Log();
    EXPECT_TRUE(Contains(line, "The result is spooled")) << line;
  }
  ASSERT_EQ(SpoolFiles().size(), 2u);

  const std::string failure = g_env->StartAndWait({&kuma});
  ASSERT_EQ(failure, "") << failure;
  EXPECT_EQ(Heartbeats(0).size(), 0u);
  const int64_t flush_start = WallMs();
  RunResult flush = Agent({"flush"});
  EXPECT_EQ(flush.exit_code, 0) << flush.out << flush.err;
  EXPECT_TRUE(Contains(flush.err, "pushed the current state of job " + monitor_.job_id + ": up"))
      << flush.err;
  EXPECT_TRUE(SpoolFiles().empty());

  std::vector<json> beats = Heartbeats(3);
  ASSERT_EQ(beats.size(), 3u) << json(beats).dump(1);
  const std::string late = "delivered late, run ended ";
  // Oldest first: the failed run, then the good one.
  EXPECT_EQ(At(beats[0], "status"), 0) << beats[0].dump();
  EXPECT_TRUE(StartsWith(Str(beats[0], "msg"), late)) << beats[0].dump();
  EXPECT_TRUE(Contains(Str(beats[0], "msg"), "failed: 101 db01")) << beats[0].dump();
  ExpectPingIsTheRunsDuration(beats[0], failed, "job-end", 300);
  EXPECT_EQ(At(beats[1], "status"), 1) << beats[1].dump();
  EXPECT_TRUE(StartsWith(Str(beats[1], "msg"), late)) << beats[1].dump();
  EXPECT_TRUE(Contains(Str(beats[1], "msg"), "all 2 guests backed up")) << beats[1].dump();
  ExpectPingIsTheRunsDuration(beats[1], ok, "job-end", 600);
  // "run ended YYYY-MM-DD HH:MM:SS": the same format, so text order is time order.
  EXPECT_LE(Str(beats[0], "msg").substr(late.size(), 19),
            Str(beats[1], "msg").substr(late.size(), 19));
  // Last: the current state, not a late result, without a duration.
  EXPECT_EQ(At(beats[2], "status"), 1) << beats[2].dump();
  EXPECT_FALSE(Contains(Str(beats[2], "msg"), "delivered late")) << beats[2].dump();
  EXPECT_TRUE(StartsWith(Str(beats[2], "msg"), "pve1: last run ")) << beats[2].dump();
  EXPECT_TRUE(Contains(Str(beats[2], "msg"), "all 2 guests backed up")) << beats[2].dump();
  EXPECT_TRUE(Contains(Str(beats[2], "msg"), "; next run ")) << beats[2].dump();
  EXPECT_TRUE(At(beats[2], "ping").is_null()) << beats[2].dump();
  for (size_t i = 1; i < beats.size(); ++i) {
    EXPECT_GT(At(beats[i], "id").get<int64_t>(), At(beats[i - 1], "id").get<int64_t>());
    EXPECT_GE(ParseKumaTime(Str(beats[i], "time")), ParseKumaTime(Str(beats[i - 1], "time")));
  }
  g_env->RecordLatency("late-twice flush, first late result", flush_start, beats[0]);
  g_env->RecordLatency("late-twice flush, current state", flush_start, beats[2]);

  RunResult again = Agent({"flush"});
  EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(Heartbeats(3).size(), 3u);
}

}  // namespace
}  // namespace pbk::testing
