// The configuration file (JSON with comments), its defaults and its checks.
//
// Every key is known: an unknown or misspelled key is an error naming its key
// path, never silently ignored, because a misspelled "push_token" would
// otherwise leave a job without monitoring.
#pragma once

#include <cstdint>
#include <map>
#include <string>
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
  // Added to a job's longest gap and longest run for the recommended
  // heartbeat interval of its monitor.
  int grace_minutes = 60;
};

struct JobConfig {
  std::string push_token;
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

struct GuardConfig {
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

// Parses "https://IPv4[:port][/base]"; WHO names the server in messages
// ("Kuma"); *err names the problem.
bool ParseIpUrl(const std::string& url, const std::string& who, IpUrl* out, std::string* err);

}  // namespace pbk
