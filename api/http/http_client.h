// The project's own HTTP interface. Everything else in the program sees only
// these types; the implementation (cpprestsdk) lives in one file that is built
// as a module and loaded on first use, so processes that never talk to the
// network (the hook's guest phases) never load a TLS stack.
//
// TLS is always validated and there is no switch to turn that off:
//  - only the configured CA file is trusted (the system store when none);
//  - IP mode (no server name): the certificate must carry the address as an
//    iPAddress SAN; the subject CN is never considered and no SNI is sent;
//  - name mode: the client connects to the address, sends the name as SNI and
//    Host, and the certificate must carry that name as a DNS SAN.
// Requests have a total deadline, follow no redirects and use no proxy.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace pbk {

struct TlsSettings {
  std::string ca_file;      // PEM file of trusted CAs; empty: the system store
  std::string server_name;  // empty: IP mode
};

struct HttpRequest {
  std::string method = "GET";
  std::string host;  // an IPv4 address literal
  uint16_t port = 443;
  // Path and query, already percent-encoded. It may carry secrets (a push
  // token), so no error message ever repeats it.
  std::string target = "/";
  std::vector<std::pair<std::string, std::string>> headers;  // values may be secret
  std::string body;
  std::chrono::milliseconds deadline{10000};  // for the whole exchange
};

struct HttpResponse {
  int status = 0;
  std::string reason;
  std::string body;
};

enum class HttpErrorKind {
  kUntrustedCertificate,  // not signed by a trusted CA
  kNameMismatch,          // the certificate does not carry the IP or name
  kCertificateExpired,    // or not yet valid
  kCertificateInvalid,    // any other certificate problem
  kTlsHandshake,          // the handshake failed for another reason
  kConnectionRefused,
  kUnreachable,
  kTimeout,
  kConnectionClosed,  // the peer closed or reset the connection
  kOther,
};

struct HttpError {
  HttpErrorKind kind = HttpErrorKind::kOther;
  // "connecting to 192.0.2.10:3001: the certificate is not trusted: …".
  // Names the server, never the target or a header value.
  std::string message;
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // Sends one request. Any HTTP status is a response; false means there was
  // none, and *error says why.
  virtual bool Send(const HttpRequest& request, HttpResponse* response, HttpError* error) = 0;
};

// Makes the TLS client. Returns null with *err when the module cannot be
// loaded or the TLS settings cannot be used (an unreadable CA file, say).
std::unique_ptr<HttpClient> NewHttpClient(const TlsSettings& tls, std::string* err);

// The module's file; its plain C boundary is http_module.h.
inline constexpr char kHttpModuleName[] = "pbk-http.so";

}  // namespace pbk
