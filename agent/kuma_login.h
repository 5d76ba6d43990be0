// `pbk-agent kuma login`: logs in to Uptime Kuma once, with the password (and
// the two-factor code when Kuma asks for one), and keeps ONLY the session
// token Kuma returns in kuma.session_file (root-only; replicated by pmxcfs
// when it lies under /etc/pve). The password is never stored; `kuma sync`
// logs in with the token.
#pragma once

#include <functional>
#include <string>

#include "agent/core/config.h"

namespace pbk {

struct KumaLoginOptions {
  std::string username;
  std::string password;  // read from --password-file, or asked for
  std::string totp;      // --totp, or asked for when Kuma wants one
};

// Asks the admin for PROMPT's answer on the terminal, without echo when
// SECRET. False when there is no terminal or the answer was not given.
using KumaPrompt = std::function<bool(const std::string& prompt, bool secret, std::string* answer)>;

struct KumaLoginResult {
  int exit_code = 0;    // 0, 1 (Kuma refused, unreachable, …), 2 (usage, configuration)
  std::string message;  // what happened, in words; never a secret
  int socket_io_calls = 0;
};

// Logs in as OPTIONS say; PROMPT (may be empty) is asked for the two-factor
// code when Kuma wants one and OPTIONS has none. On success the session
// token is in config.kuma.session_file (mode 0600, written atomically, its
// folder made 0700 when missing).
KumaLoginResult KumaLogin(const Config& config, KumaLoginOptions options, const KumaPrompt& prompt);

// Reads the password file: its first line, without the line end; an empty
// or unreadable file is an error that names it.
bool ReadPasswordFile(const std::string& path, std::string* password, std::string* err);

// The terminal prompt (/dev/tty), with echo off for secrets.
bool PromptOnTerminal(const std::string& prompt, bool secret, std::string* answer);

}  // namespace pbk
