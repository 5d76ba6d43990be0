// Uptime Kuma's push API: GET /api/push/<token>?status=…&msg=…&ping=….
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "api/http/http_client.h"

namespace pbk {

struct KumaEndpoint {
  std::string host;  // IPv4 literal
  uint16_t port = 443;
  std::string base_path;  // "" or "/prefix"
  std::chrono::milliseconds timeout{10000};
};

struct KumaPush {
  bool up = false;
  std::string message;
  std::optional<int64_t> ping_ms;  // Kuma graphs it; we send the job's duration
};

// Kuma refuses request heads over 16 KiB; messages are cut well below that.
inline constexpr size_t kMaxPushMessageBytes = 1500;

// The request target for a push, message capped and encoded. Holds the token.
std::string BuildPushTarget(const std::string& base_path, const std::string& token,
                            const KumaPush& push);

enum class PushFailure {
  kNone,
  kTransport,  // no answer from Kuma: down, unreachable, TLS refused, timeout
  kRefused,    // Kuma answered, but not with success
};

class KumaClient {
 public:
  KumaClient(HttpClient* http, KumaEndpoint endpoint) : http_(http), endpoint_(std::move(endpoint)) {}

  // Sends one push. On failure *err says why in words (TLS, connection,
  // timeout, or Kuma's status and its own "msg"); it never holds the token.
  bool Push(const std::string& token, const KumaPush& push, std::string* err,
            PushFailure* failure = nullptr);

  // Proves, without a push that lands, that Kuma is reachable, its
  // certificate valid, and that it IS Kuma's push API: a push to a random
  // token that no monitor has must get Kuma's own 404 JSON answer.
  bool Probe(std::string* err);

 private:
  HttpClient* http_;
  KumaEndpoint endpoint_;
};

}  // namespace pbk
