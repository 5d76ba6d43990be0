// The project's WebSocket: one text message per frame, over the same
// validated TLS as HttpClient (http_client.h: only the configured CA, IP
// mode with an iPAddress SAN and no SNI, name mode with SNI, Host and a DNS
// SAN; no proxy, no redirects). Implemented in the HTTP module (pbk_ws_* in
// http_module.h); Kuma's management API (Socket.IO) runs on it.
//
// No Origin header is sent: Kuma refuses an Origin that does not match the
// Host. Messages larger than kMaxWebSocketMessageBytes close the connection.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "api/http/http_client.h"

namespace pbk {

inline constexpr size_t kMaxWebSocketMessageBytes = 4u << 20;

struct WebSocketRequest {
  std::string host;  // an IPv4 address literal
  uint16_t port = 443;
  std::string target = "/";  // path and query; may be secret, never repeated in an error
  std::vector<std::pair<std::string, std::string>> headers;  // values may be secret
  std::chrono::milliseconds deadline{10000};                  // for the opening handshake
};

enum class WsReceived {
  kMessage,  // one text message
  kClosed,   // the server closed the connection (or it broke: see the error)
  kTimeout,  // nothing came before the deadline; the connection is still open
};

class WebSocket {
 public:
  virtual ~WebSocket() = default;
  // Sends one text message. False: it was not sent, *error says why.
  virtual bool SendText(const std::string& text, std::chrono::milliseconds deadline,
                        HttpError* error) = 0;
  // Waits at most DEADLINE for the next text message. kClosed fills *error
  // with how the connection ended.
  virtual WsReceived Receive(std::chrono::milliseconds deadline, std::string* message,
                             HttpError* error) = 0;
  // Closes the connection (a close frame, then the socket). Idempotent.
  virtual void Close() = 0;
};

// Opens a WebSocket to REQUEST's server. Returns null with *error (kind and
// words, the same as for an HTTP request: an untrusted certificate, a
// refused connection, …) when it cannot.
std::unique_ptr<WebSocket> ConnectWebSocket(const TlsSettings& tls, const WebSocketRequest& request,
                                            HttpError* error);

}  // namespace pbk
