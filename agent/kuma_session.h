// The Kuma session `kuma login` stores in kuma.session_file: reading it
// (`kuma sync`) and checking it against Kuma (`verify`).
#pragma once

#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "agent/core/config.h"

namespace pbk {

// Reads the stored session, trimmed, and registers it as a secret. *exists
// is false when there is none. False with *err when the file cannot be read
// or is not private.
bool ReadKumaSession(const Config& config, std::string* session, bool* exists,
                     std::string* err);

// The user a session is for: Kuma's session is a JWT whose payload carries
// {"username": …}. "" when SESSION does not say.
std::string KumaSessionUser(const std::string& session);

// verify's line about the session, in the words of its checks.
struct KumaSessionCheck {
  enum class Level { kOk, kWarn, kFail };
  KumaSessionCheck() = default;
  KumaSessionCheck(Level level_, std::string message_, std::string fix_)
      : level(level_), message(std::move(message_)), fix(std::move(fix_)) {}
  Level level = Level::kOk;
  std::string message;
  std::string fix;
  // Kuma's monitorList ({"<id>": {…}}) when the session is valid and the
  // list was read; null otherwise.
  nlohmann::json monitors;
};

// Logs in to Kuma with the stored session and reads its monitor list (one
// Socket.IO session, no change in Kuma). SYNCED: a monitors file exists, so
// the timer's `kuma sync` needs the session.
KumaSessionCheck CheckKumaSession(const Config& config, bool synced);

}  // namespace pbk
