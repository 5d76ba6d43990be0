// The fake Uptime Kuma (tests/fakes/fake_kuma.py) as a server a test owns:
// started on 127.0.0.1 with a given certificate, stopped by its pid in the
// destructor, and its JSON-lines event log read back as JSON.
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/process.h"

namespace pbk::testing {

struct FakeKumaOptions {
  std::string cert;  // server certificate (PEM)
  std::string key;   // its key
  // "normal", "hang-accept" (never starts TLS) or "hang-response" (reads the
  // request, never answers).
  std::string mode = "normal";
  // Push tokens that exist; unset: every token exists.
  std::optional<std::vector<std::string>> tokens;
  // Answer every push with this HTTP status and an error body.
  std::optional<int> status;
  // 0: the system picks a free port at the first start; later starts reuse
  // the port of the first.
  uint16_t port = 0;
  // Where its port file, event log and stdout/stderr go.
  std::string work_dir;
  std::string python = "/usr/bin/python3";
  std::string script;  // empty: tests/fakes/fake_kuma.py of this source tree
};

class FakeKuma {
 public:
  explicit FakeKuma(FakeKumaOptions options);
  ~FakeKuma();
  FakeKuma(const FakeKuma&) = delete;
  FakeKuma& operator=(const FakeKuma&) = delete;

  // Starts it and waits up to 10 s until it listens. After a Stop(), starts
  // it again on the same port. False with *err on failure.
  bool Start(std::string* err);
  // Ends it by its pid (SIGTERM, then SIGKILL after 5 s).
  void Stop();
  bool running() { return process_.Running(); }

  uint16_t port() const { return port_; }
  pid_t pid() const { return process_.pid(); }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(port_); }
  // The event log (it holds push tokens: tests must not treat it as output).
  const std::string& log_path() const { return log_path_; }
  // Its own stdout and stderr.
  const std::string& stdout_path() const { return stdout_path_; }
  const std::string& stderr_path() const { return stderr_path_; }

  // Every event logged so far, across restarts, oldest first.
  std::vector<nlohmann::json> Events() const;
  // Only the "request" events.
  std::vector<nlohmann::json> Requests() const;
  // Waits up to TIMEOUT until at least COUNT events named EVENT are logged;
  // returns how many there are.
  size_t WaitForEvents(const std::string& event, size_t count,
                       std::chrono::milliseconds timeout) const;

 private:
  FakeKumaOptions options_;
  uint16_t port_ = 0;
  std::string port_file_;
  std::string log_path_;
  std::string stdout_path_;
  std::string stderr_path_;
  BackgroundProcess process_;
};

}  // namespace pbk::testing
