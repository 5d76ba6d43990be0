// The small parsers and checks of single configuration values: https URLs
// with an IP address, DNS names, CA certificate files, advice on settings.
#include <arpa/inet.h>

#include <cstdint>

#include "agent/core/config.h"
#include "agent/core/text.h"

namespace pbk {

bool IsDnsName(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  for (const auto& label : Split(name, '.')) {
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (char c : label) {
      bool ok =
          (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
      if (!ok) return false;
    }
  }
  return true;
}

bool IsIpv4Address(const std::string& text) {
  in_addr address{};
  return inet_pton(AF_INET, text.c_str(), &address) == 1;
}

bool ParseIpUrl(const std::string& url, const std::string& who, IpUrl* out, std::string* err) {
  static const std::string kScheme = "https://";
  if (!StartsWith(url, kScheme)) {
    *err = StartsWith(url, "http://")
               ? "must use https:// (pushes travel over validated TLS only)"
               : "must start with https://, as in \"https://192.0.2.10:3001\"";
    return false;
  }
  std::string rest = url.substr(kScheme.size());
  std::string authority = rest.substr(0, rest.find('/'));
  std::string path = authority.size() < rest.size() ? rest.substr(authority.size()) : "";
  if (path.find_first_of("?#") != std::string::npos) {
    *err = "must not carry a query or fragment";
    return false;
  }
  while (!path.empty() && path.back() == '/') path.pop_back();
  if (authority.find('@') != std::string::npos) {
    *err = "must not carry user credentials";
    return false;
  }
  if (!authority.empty() && authority.front() == '[') {
    *err = "IPv6 addresses are not supported; use " + who + "'s IPv4 address";
    return false;
  }
  std::string host = authority;
  uint16_t port = 443;
  if (size_t colon = authority.rfind(':'); colon != std::string::npos) {
    host = authority.substr(0, colon);
    auto number = ParseUnsigned(authority.substr(colon + 1));
    if (!number || *number == 0 || *number > 65535) {
      *err = "has an invalid port " + Quote(authority.substr(colon + 1));
      return false;
    }
    port = static_cast<uint16_t>(*number);
  }
  if (!IsIpv4Address(host)) {
    *err = "must address " + who + " by its IP address, as in \"https://192.0.2.10:3001\" (" +
           Quote(host) + " is not one)";
    if (who == "Kuma") *err += "; a certificate that names a host goes with kuma.server_name";
    return false;
  }
  out->host = host;
  out->port = port;
  out->base_path = path;
  return true;
}

namespace {

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// The first bytes of a base64 text (whitespace skipped); false on a
// character that is not base64.
bool Base64Head(std::string_view text, std::string* head) {
  uint32_t bits = 0;
  int count = 0;
  for (char c : text) {
    if (c == '=' || c == '\n' || c == '\r' || c == ' ' || c == '\t') continue;
    const int value = Base64Value(c);
    if (value < 0) return false;
    bits = (bits << 6) | static_cast<uint32_t>(value);
    count += 6;
    if (count >= 8) {
      count -= 8;
      if (head->size() < 4) head->push_back(static_cast<char>((bits >> count) & 0xFF));
    }
  }
  return true;
}

}  // namespace

bool CheckCertificateText(const std::string& text, const std::string& what, std::string* err) {
  if (Trim(text).empty()) {
    *err = what + " is empty: it must hold the CA certificate(s) in PEM form";
    return false;
  }
  static const std::string kBegin = "-----BEGIN ";
  int certificates = 0;
  for (size_t at = text.find(kBegin); at != std::string::npos; at = text.find(kBegin, at + 1)) {
    const size_t label_end = text.find("-----", at + kBegin.size());
    if (label_end == std::string::npos) break;
    const std::string label = text.substr(at + kBegin.size(), label_end - at - kBegin.size());
    if (label.find("PRIVATE KEY") != std::string::npos) {
      *err = what + " holds a private key (" + label +
             "), not a certificate: point it at the "
             "CA's certificate, and keep the key off this node";
      return false;
    }
    if (label != "CERTIFICATE" && label != "TRUSTED CERTIFICATE" && label != "X509 CERTIFICATE") {
      *err = what + " holds a " + label + ", not a certificate";
      return false;
    }
    const size_t body = label_end + 5;
    const size_t end = text.find("-----END ", body);
    std::string head;
    if (end == std::string::npos ||
        !Base64Head(std::string_view(text).substr(body, end - body), &head) || head.empty() ||
        static_cast<unsigned char>(head[0]) != 0x30) {
      *err = what + " has a broken certificate block (its base64 content is not a certificate)";
      return false;
    }
    ++certificates;
  }
  if (certificates == 0) {
    *err = what + " is not a PEM certificate: no \"-----BEGIN CERTIFICATE-----\" line; it begins " +
           Quote(TruncateUtf8(OneLine(std::string(Trim(text))), 40));
    return false;
  }
  return true;
}

std::string ConfigAdvice(const Config& config) {
  // refresh pushes every monitor once per timer run; a monitor must wait at
  // least two of those, or one late start of the timer is an alarm.
  const int needed = 2 * (kTimerPeriodMinutes + kTimerJitterMinutes);
  if (config.kuma.heartbeat_interval_minutes < needed) {
    return "kuma.heartbeat_interval_minutes is " +
           std::to_string(config.kuma.heartbeat_interval_minutes) + ": refresh pushes every " +
           std::to_string(kTimerPeriodMinutes) + " to " +
           std::to_string(kTimerPeriodMinutes + kTimerJitterMinutes) +
           " minutes, so one late timer run turns monitors DOWN; use at least " +
           std::to_string(needed) + " (default 15)";
  }
  return "";
}

}  // namespace pbk
