// The configuration file (JSON with comments), its defaults and its checks.
//
// Every key is known: an unknown or misspelled key is an error naming its key
// path, never silently ignored, because a misspelled "push_token" would
// otherwise leave a job without monitoring.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace pbk {

inline constexpr char kDefaultConfigPath[] = PBK_DEFAULT_CONFIG;

// An https URL that names its server by IPv4 address.
struct IpUrl {
  std::string host;       // an IPv4 address literal
  uint16_t port = 443;
  std::string base_path;  // "" or "/prefix" without a trailing slash
};

struct KumaConfig {
  std::string url;
  IpUrl endpoint;           // url, taken apart
  std::string ca_file;      // empty: the system's CA store
  std::string server_name;  // empty: the certificate must carry the IP
  int timeout_seconds = 10;
  // The heartbeat interval of every push monitor: `pbk-agent refresh` pushes
  // each job's current state every few minutes, so one short interval fits
  // every job whatever its schedule, and survives Kuma's restarts (a
  // restart re-arms Kuma's missed-heartbeat timer a full interval later).
  int heartbeat_interval_minutes = 15;
  // Only for `jobs`: added to a job's longest gap and longest run when it
  // shows what a monitor WITHOUT refresh would need (information only).
  int grace_minutes = 60;
  // Where `kuma login` keeps Kuma's session token (replicated by pmxcfs to
  // every node, readable by root only); `kuma sync` logs in with it.
  std::string session_file = "/etc/pve/priv/pbk-agent/kuma-session";
  // Names of Kuma notifications `kuma sync` attaches to the monitors it
  // makes; empty: those Kuma marks as default, as Kuma's own UI does.
  std::vector<std::string> notifications;
};

// How often the timer starts guard, flush and refresh (units/*.timer:
// OnUnitActiveSec=5min, RandomizedDelaySec=1min), for the interval check.
inline constexpr int kTimerPeriodMinutes = 5;
inline constexpr int kTimerJitterMinutes = 1;

struct RefreshConfig {
  // How long after a due start a run may take to begin (the scheduler checks
  // once a minute; the node-wide vzdump lock may hold it back) before
  // refresh reports the run as missed.
  int start_grace_minutes = 30;
};

struct NodeMonitorConfig {
  std::string push_token;  // empty: no node monitor
};

struct JobConfig {
  std::string push_token;  // empty: the monitors file of `kuma sync` has it
  // The job's own hook scripts, run in every phase of this job's runs after
  // hook.chain; at job-end and job-abort before the push, and a chained
  // script that fails makes the push `down`.
  std::vector<std::string> chain;
};

struct PveConfig {
  std::string api_url = "https://127.0.0.1:8006";
  IpUrl api;  // api_url, taken apart
  std::string ca_file = "/etc/pve/pve-root-ca.pem";
  std::string token_id;
  std::string token_secret_file = "/etc/pbk-agent/pve-token";
  std::string pvesh = "/usr/bin/pvesh";
  int timeout_seconds = 30;  // for one API request or one pvesh call
};

// Where the guard sets the hook (DESIGN.md, "Where the hook is set").
enum class HookPlacement {
  kNode,  // `script:` in this node's vzdump.conf; no job carries our hook
  kJob,   // `script` on each job, only where every node of the job is marked
};

struct GuardConfig {
  HookPlacement placement = HookPlacement::kNode;
  std::vector<std::string> exclude;  // job ids the guard leaves alone
};

struct HookConfig {
  // Other hook scripts, run by ours in every phase with vzdump's arguments
  // and environment (the admin's own hooks the guard replaced).
  std::vector<std::string> chain;
};

struct PathsConfig {
  std::string hook_script = "/var/lib/vz/snippets/vzdump-uptime-kuma-hook.sh";
  std::string state_dir = "/var/lib/pbk-agent";
  std::string scheduler_dir = "/var/lib/pve-manager/jobs";
  std::string jobs_cfg = "/etc/pve/jobs.cfg";
  std::string vzdump_cron = "/etc/pve/vzdump.cron";
  std::string vzdump_conf = "/etc/vzdump.conf";
  std::string pve_dir = "/etc/pve";
  std::string tasks_dir = "/var/log/pve/tasks";
  std::string proc = "/proc";
};

struct Config {
  std::string path;  // the file it was read from
  std::string node;  // this node's name; defaults to the short host name
  KumaConfig kuma;
  std::map<std::string, JobConfig> jobs;  // job id -> its monitor on this node
  PveConfig pve;
  PathsConfig paths;
  GuardConfig guard;
  HookConfig hook;
  RefreshConfig refresh;
  NodeMonitorConfig node_monitor;

  // Every secret value the configuration holds, so output can be scrubbed.
  std::vector<std::string> Secrets() const;
};

// Parses configuration TEXT read from ORIGIN (used in messages only).
// Returns false and fills *errors with one line per problem found.
bool ParseConfig(const std::string& text, const std::string& origin, Config* config,
                 std::vector<std::string>* errors);

// Reads, parses and checks the file at PATH, including that a file holding
// secrets is readable by its owner only.
bool LoadConfig(const std::string& path, Config* config, std::vector<std::string>* errors);

// Checks that a file holding secrets is private: owned by root or by us, and
// not readable or writable by group or others. WHAT says what it holds.
bool CheckPrivateFile(const std::string& path, const std::string& what, std::string* err);

// Whether TEXT is an IPv4 address literal ("192.0.2.10").
bool IsIpv4Address(const std::string& text);

// Whether NAME is a DNS name: dot-separated labels of letters, digits and
// inner hyphens, 63 bytes each, 253 in all.
bool IsDnsName(std::string_view name);

// Parses "https://IPv4[:port][/base]"; WHO names the server in messages
// ("Kuma"); *err names the problem.
bool ParseIpUrl(const std::string& url, const std::string& who, IpUrl* out, std::string* err);

// Whether TEXT (the content of the file WHAT names) holds at least one PEM
// certificate and nothing that is not: a private key, an empty file or any
// other text gives false and *err says what the file is instead. Only the
// form is checked (PEM armour, base64, a DER sequence); the TLS stack judges
// the rest when it loads the file.
bool CheckCertificateText(const std::string& text, const std::string& what, std::string* err);

// A warning about settings that are valid but unwise (check-config prints
// them), or "" when there is none.
std::string ConfigAdvice(const Config& config);

}  // namespace pbk
