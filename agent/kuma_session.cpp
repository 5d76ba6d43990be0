#include "agent/kuma_session.h"

#include <nlohmann/json.hpp>

#include "agent/core/fs.h"
#include "agent/core/log.h"
#include "agent/core/text.h"
#include "api/kuma/kuma_admin.h"

namespace pbk {

namespace {

// Base64url without padding (a JWT's parts); "" when TEXT is not that.
std::string DecodeBase64Url(const std::string& text) {
  static const std::string kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    const size_t value = kAlphabet.find(c);
    if (value == std::string::npos) return "";
    buffer = (buffer << 6) | static_cast<uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xffu));
    }
  }
  return out;
}

constexpr char kLoginAgain[] = "run `pbk-agent kuma login` again";

}  // namespace

bool ReadKumaSession(const Config& config, std::string* session, bool* exists,
                     std::string* err) {
  if (!ReadFileIfExists(config.kuma.session_file, session, exists, err)) return false;
  if (!*exists) return true;
  *session = std::string(Trim(*session));
  AddSecrets({*session});
  return CheckPrivateFile(config.kuma.session_file, "Kuma's session", err);
}

std::string KumaSessionUser(const std::string& session) {
  const size_t first = session.find('.');
  const size_t second = first == std::string::npos ? first : session.find('.', first + 1);
  if (second == std::string::npos) return "";
  const nlohmann::json payload = nlohmann::json::parse(
      DecodeBase64Url(session.substr(first + 1, second - first - 1)), nullptr,
      /*allow_exceptions=*/false);
  if (!payload.is_object()) return "";
  for (const auto& [key, value] : payload.items()) {
    if (key == "username" && value.is_string()) return value.get<std::string>();
  }
  return "";
}

KumaSessionCheck CheckKumaSession(const Config& config, bool synced) {
  using Level = KumaSessionCheck::Level;
  const std::string& path = config.kuma.session_file;
  std::string session, err;
  bool exists = false;
  if (!ReadKumaSession(config, &session, &exists, &err)) {
    return {Level::kFail, err, "chmod 600 and chown root " + path + ", or " + kLoginAgain};
  }
  if (!exists) {
    if (!synced) {
      return {Level::kOk, "none stored in " + path + " (the monitors are kept by hand)", ""};
    }
    return {Level::kWarn,
            "none stored in " + path + ": `kuma sync` made the monitors, but the timer cannot "
            "keep them when jobs, nodes or guests change",
            "run `pbk-agent kuma login` once"};
  }
  if (session.empty()) return {Level::kFail, path + " is empty", kLoginAgain};
  KumaAdminError error;
  std::unique_ptr<KumaAdmin> admin = KumaAdmin::Connect(config.kuma, &error);
  if (admin) admin->LoginByToken(session, &error);
  if (error.kind == KumaAdminError::Kind::kNone) {
    const std::string user = KumaSessionUser(session);
    KumaSessionCheck check(Level::kOk, "valid (user " + (user.empty() ? "unknown" : user) + ")",
                           "");
    if (synced && !admin->MonitorList(&check.monitors, &error)) {
      check.monitors = nullptr;
      check.message += "; Kuma's monitor list cannot be read: " + error.message;
    }
    return check;
  }
  if (error.kind == KumaAdminError::Kind::kSessionRejected) {
    return {Level::kFail,
            "Kuma does not accept the session in " + path +
                " (a changed password, or another Kuma): `kuma sync` cannot log in",
            kLoginAgain};
  }
  return {Level::kWarn, "not checked: " + error.message,
          "check kuma.url, kuma.ca_file and kuma.server_name, and that Kuma runs"};
}

}  // namespace pbk
