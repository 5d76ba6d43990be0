#include "api/kuma/kuma_client.h"

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string_view>

#include "agent/core/text.h"

namespace pbk {

std::string BuildPushTarget(const std::string& base_path, const std::string& token,
                            const KumaPush& push) {
  std::string target = base_path + "/api/push/" + UrlEncode(token);
  target += push.up ? "?status=up" : "?status=down";
  target += "&msg=" + UrlEncode(TruncateUtf8(OneLine(push.message), kMaxPushMessageBytes));
  if (push.ping_ms) target += "&ping=" + std::to_string(std::max<int64_t>(0, *push.ping_ms));
  return target;
}

namespace {

std::string ScrubOne(std::string text, const std::string& secret) {
  static constexpr std::string_view kMask = "****";
  // The search goes on after the mask: a secret such as "*" is found in it.
  for (size_t pos = text.find(secret); pos != std::string::npos;
       pos = text.find(secret, pos + kMask.size())) {
    text.replace(pos, secret.size(), kMask);
  }
  return text;
}

// The token as it is, and as it stands in the URL (percent-encoded), which
// is how an HTTP library's error repeats it.
std::string Scrub(std::string text, const std::string& secret) {
  if (secret.empty()) return text;
  text = ScrubOne(std::move(text), secret);
  const std::string encoded = UrlEncode(secret);
  return encoded == secret ? text : ScrubOne(std::move(text), encoded);
}

// Kuma answers {"ok":false,"msg":"…"}; anything else is shown on one line
// and shortened, SECRET scrubbed before the cut (which could leave part of it).
std::string KumaMessage(const std::string& body, const std::string& secret) {
  auto parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  // It ends up in vzdump's task log: one line, so that it cannot forge
  // a line of its own, and short.
  if (parsed.is_object() && parsed.contains("msg") && parsed["msg"].is_string()) {
    return TruncateUtf8(Scrub(OneLine(parsed["msg"].get<std::string>()), secret), 200);
  }
  return TruncateUtf8(Scrub(OneLine(body), secret), 200);
}

}  // namespace

bool KumaClient::Push(const std::string& token, const KumaPush& push, std::string* err,
                      PushFailure* failure) {
  PushFailure ignored;
  if (failure == nullptr) failure = &ignored;
  *failure = PushFailure::kNone;
  HttpRequest request;
  request.host = endpoint_.host;
  request.port = endpoint_.port;
  request.target = BuildPushTarget(endpoint_.base_path, token, push);
  request.deadline = endpoint_.timeout;
  HttpResponse response;
  HttpError error;
  if (!http_->Send(request, &response, &error)) {
    *err = Scrub(error.message, token);
    *failure = PushFailure::kTransport;
    return false;
  }
  *failure = PushFailure::kRefused;
  if (response.status == 200) {
    auto parsed = nlohmann::json::parse(response.body, nullptr, false);
    if (parsed.is_object() && parsed.contains("ok") && parsed["ok"] == true) {
      *failure = PushFailure::kNone;
      return true;
    }
    *err = "Kuma answered 200 but did not confirm the push: " + KumaMessage(response.body, token);
    return false;
  }
  // Only what came from outside is scrubbed, so the hints stay readable
  // even with a token that happens to be an ordinary word.
  std::string text = "Kuma answered HTTP " + std::to_string(response.status);
  if (!response.reason.empty()) {
    text += " " + TruncateUtf8(Scrub(OneLine(response.reason), token), 120);
  }
  if (!response.body.empty()) text += ": " + KumaMessage(response.body, token);
  if (response.status == 404) {
    text += " (check the job's push_token and that its push monitor exists and is active)";
  } else if (response.status >= 300 && response.status < 400) {
    text += " (redirects are not followed: kuma.url must point at Kuma itself)";
  }
  *err = text;
  return false;
}

std::string RandomToken() {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  unsigned char bytes[24] = {};
  if (FILE* random = std::fopen("/dev/urandom", "rb")) {
    const size_t got = std::fread(bytes, 1, sizeof bytes, random);
    std::fclose(random);
    (void)got;
  }
  std::string token = "pbkprobe";
  for (unsigned char byte : bytes) token += kAlphabet[byte % (sizeof kAlphabet - 1)];
  return token;
}

bool KumaClient::Probe(std::string* err) {
  // A push to a monitor that cannot exist: Uptime Kuma, and only Kuma,
  // answers 404 {"ok":false,"msg":"Monitor not found or not active."}, and
  // stores nothing. A web app or proxy in front answers otherwise.
  HttpRequest request;
  request.host = endpoint_.host;
  request.port = endpoint_.port;
  request.target = BuildPushTarget(endpoint_.base_path, RandomToken(),
                                   {true, "pbk-agent verify: a probe of a monitor that does not "
                                          "exist", std::nullopt});
  request.deadline = endpoint_.timeout;
  HttpResponse response;
  HttpError error;
  if (!http_->Send(request, &response, &error)) {
    *err = error.message;
    return false;
  }
  const auto parsed = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  const bool kuma_like = parsed.is_object() && parsed.contains("ok") && parsed["ok"] == false &&
                         parsed.contains("msg") && parsed["msg"].is_string();
  if (response.status == 404 && kuma_like) return true;
  std::string said = "HTTP " + std::to_string(response.status);
  if (!response.body.empty()) said += ": " + TruncateUtf8(OneLine(response.body), 80);
  *err = "this is not Uptime Kuma's push API: a push to a monitor that cannot exist got " + said +
         " instead of Kuma's 404 {\"ok\":false,…} (check that kuma.url is Kuma's own address and "
         "base path, not a page in front of it)";
  return false;
}

}  // namespace pbk
