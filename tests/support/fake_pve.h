// The fake Proxmox VE (tests/fakes/fake_pve.py, the REST API over TLS, and
// tests/fakes/fake_pvesh.py, pvesh acting as root@pam) as servers and
// programs a test owns. Both work on one folder ROOT that plays /etc/pve:
// jobs.cfg, vzdump.cron, the pmxcfs tree (.members, nodes/<node>/, priv/,
// priv/lock/; tests/fakes/pmxcfs.py), the node's /etc/vzdump.conf (at
// ROOT/node-etc/vzdump.conf unless moved), and the fault switches api-mode,
// pvesh-mode and no-quorum, which the fakes read on every request or call.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/process.h"

namespace pbk::testing {

struct FakePveOptions {
  std::string root;    // the folder that plays /etc/pve; created when missing
  std::string cert;    // server certificate (PEM), e.g. pve.pem of MakeTestCertificates
  std::string key;     // its key
  // JSON file of credentials, read at every request:
  //   {"USER@REALM!TOKEN": {"secret": …, "privs": [...]},       an API token
  //    "USER@REALM": {"ticket": …, "csrf": …, "privs": [...]}}  a user logged in
  // A token has VM.Audit on every guest unless "vm_audit": false (none) or
  // a list of vmids; only the user root@pam (a ticket) is root. See
  // tests/fakes/fake_pve.py.
  std::string tokens;
  std::string node = "pve1";  // this node's name
  // The file that plays /etc/vzdump.conf; empty: ROOT/node-etc/vzdump.conf.
  // Created with PVE's shipped default when missing.
  std::string vzdump_conf;
  // Where the port file, the REST event log, the pvesh call log and the
  // server's stdout/stderr go.
  std::string work_dir;
  // Seconds before a 401, as PVE waits about 3 s; 0 keeps tests fast.
  double auth_fail_delay = 0;
  std::string python = "/usr/bin/python3";
  std::string script;        // empty: tests/fakes/fake_pve.py of this source tree
  std::string pvesh_script;  // empty: tests/fakes/fake_pvesh.py of this source tree
  std::string pmxcfs_script;  // empty: tests/fakes/pmxcfs.py of this source tree
};

class FakePve {
 public:
  explicit FakePve(FakePveOptions options);
  ~FakePve();
  FakePve(const FakePve&) = delete;
  FakePve& operator=(const FakePve&) = delete;

  // Starts the REST server on 127.0.0.1 and waits up to 10 s until it
  // listens. After a Stop(), starts it again on the same port.
  bool Start(std::string* err);
  // Ends it by its pid (SIGTERM, then SIGKILL after 5 s).
  void Stop();
  bool running() { return process_.Running(); }

  uint16_t port() const { return port_; }
  pid_t pid() const { return process_.pid(); }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(port_); }
  const std::string& root() const { return options_.root; }
  std::string RootPath(const std::string& name) const { return options_.root + "/" + name; }

  // The REST event log (JSON lines) and the server's own stdout/stderr.
  const std::string& log_path() const { return log_path_; }
  const std::string& stdout_path() const { return stdout_path_; }
  const std::string& stderr_path() const { return stderr_path_; }
  // Every REST event so far, across restarts, oldest first; only "request" ones.
  std::vector<nlohmann::json> Events() const;
  std::vector<nlohmann::json> Requests() const;

  // The fault switches in ROOT. "" or "normal" removes the file.
  bool SetMode(const std::string& mode) const;       // ROOT/api-mode
  bool SetPveshMode(const std::string& mode) const;  // ROOT/pvesh-mode
  // Without quorum: ROOT/no-quorum exists (the fakes refuse job writes as
  // PVE does), .members of a cluster says "quorate": 0, and nodes/ and
  // priv/ refuse every write at the file system
  // (immutable when the tests run as root, read-only otherwise), while
  // reads work. The destructor gives the quorum back.
  bool SetNoQuorum(bool on);

  // ROOT/.members: standalone (CLUSTER empty: only nodename and version)
  // or a cluster of NODES (this node among them) with OFFLINE ones.
  bool SetMembers(const std::string& cluster, const std::vector<std::string>& nodes,
                  const std::vector<std::string>& offline = {}) const;
  // The file that plays /etc/vzdump.conf on this node.
  std::string vzdump_conf_path() const;
  // Every POST /nodes/{node}/vzdump ("Run now"): {"node", "user", "params",
  // "status", "result", "error", "errors"}, oldest first.
  std::vector<nlohmann::json> VzdumpCalls() const;
  // Writes ROOT/NAME with exactly CONTENT.
  bool WriteRootFile(const std::string& name, const std::string& content) const;
  std::string ReadRootFile(const std::string& name) const;

  // Writes DIR/pvesh (mode 0755), the two-line wrapper that runs the fake
  // pvesh on ROOT with the call log; returns its path ("" on failure).
  std::string InstallPvesh(const std::string& dir) const;
  const std::string& pvesh_log_path() const { return pvesh_log_path_; }
  // Every call the installed pvesh logged: {"argv": [...], "exit": N|null, "time": T}.
  std::vector<nlohmann::json> PveshCalls() const;

  // The jobs as PVE sees them now (`pvesh get /cluster/backup`), read with a
  // log of its own so that it never shows up in PveshCalls(). Needs
  // pvesh-mode normal.
  bool ListJobs(nlohmann::json* jobs, std::string* err) const;

 private:
  FakePveOptions options_;
  uint16_t port_ = 0;
  std::string port_file_;
  std::string log_path_;
  std::string pvesh_log_path_;
  std::string probe_log_path_;
  std::string stdout_path_;
  std::string stderr_path_;
  bool no_quorum_ = false;
  BackgroundProcess process_;

  bool RunPmxcfs(const std::vector<std::string>& args, std::string* err) const;
};

}  // namespace pbk::testing
