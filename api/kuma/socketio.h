// A Socket.IO 4 client (Engine.IO 4 over a WebSocket, the protocol of Uptime
// Kuma's management API): the framing as pure functions, and a session on
// top of a WebSocket.
//
// Engine.IO: one packet per text frame, its type a digit: 0 open
// ({"sid","pingInterval","pingTimeout","maxPayload",…}), 1 close, 2 ping,
// 3 pong, 4 message. Socket.IO rides in messages, its type a digit too:
// "40" CONNECT (answered "40{"sid":…}"), "42[…]" an EVENT, "42<id>[…]" an
// event that wants an answer, "43<id>[…]" that answer (ACK), "44{…}"
// CONNECT_ERROR, "41" DISCONNECT. Only the default namespace is used.
// The server pings ("2") and the client answers "3"; a client never pings.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "api/http/websocket.h"

namespace pbk {

// --- framing ------------------------------------------------------------------

enum class EioType { kOpen, kClose, kPing, kPong, kMessage, kUpgrade, kNoop };

struct EioPacket {
  EioType type = EioType::kNoop;
  std::string data;  // what follows the type digit
};

struct EioOpen {
  std::string sid;
  int64_t ping_interval_ms = 0;
  int64_t ping_timeout_ms = 0;
  int64_t max_payload = 0;
};

enum class SioType { kConnect, kDisconnect, kEvent, kAck, kConnectError };

struct SioPacket {
  SioType type = SioType::kConnect;
  std::optional<int64_t> id;  // kEvent that wants an answer, kAck
  // kConnect: the object (or null); kEvent: the array ["name", args…];
  // kAck: the array of results; kConnectError: the object (or string).
  nlohmann::json data;
};

// Each returns false with *err naming what is wrong (never the whole frame,
// which may carry a secret: only its length and first bytes' kind).
bool ParseEioPacket(const std::string& frame, EioPacket* packet, std::string* err);
bool ParseEioOpen(const std::string& data, EioOpen* open, std::string* err);
// DATA is an Engine.IO message's payload.
bool ParseSioPacket(const std::string& data, SioPacket* packet, std::string* err);

// The frames a client sends.
std::string EncodeSioConnect();                                   // "40"
std::string EncodeEioPong();                                      // "3"
std::string EncodeSioCall(int64_t id, const std::string& event,  // "42<id>["event",args…]"
                          const nlohmann::json& args);

// --- session ------------------------------------------------------------------

struct SocketIoError {
  enum class Kind {
    kTransport,  // the connection could not be made or broke: see `transport`
    kTimeout,    // no answer before the deadline
    kProtocol,   // the server said something this client does not understand
    kRefused,    // the server refused the Socket.IO connection (CONNECT_ERROR)
  };
  Kind kind = Kind::kProtocol;
  HttpErrorKind transport = HttpErrorKind::kOther;
  std::string message;
};

class SocketIoSession {
 public:
  explicit SocketIoSession(std::unique_ptr<WebSocket> socket) : socket_(std::move(socket)) {}
  ~SocketIoSession() { Close(); }
  SocketIoSession(const SocketIoSession&) = delete;
  SocketIoSession& operator=(const SocketIoSession&) = delete;

  // The handshake: reads the server's open packet, sends CONNECT, reads its
  // answer. Events the server sends meanwhile are kept for WaitEvent().
  bool Open(std::chrono::milliseconds deadline, SocketIoError* error);

  // Emits EVENT with ARGS (a JSON array) and waits for its answer: *ack is
  // the answer's first value (null when it has none). Pings are answered
  // and events kept while it waits.
  bool Call(const std::string& event, const nlohmann::json& args,
            std::chrono::milliseconds deadline, nlohmann::json* ack, SocketIoError* error);

  // The latest event NAME the server sent (its first argument), received
  // already or before DEADLINE.
  bool WaitEvent(const std::string& name, std::chrono::milliseconds deadline,
                 nlohmann::json* data, SocketIoError* error);
  // Forgets what was received of event NAME, so WaitEvent() waits for a new one.
  void ForgetEvent(const std::string& name) { events_.erase(name); }

  // Sends Engine.IO's close and closes the WebSocket. Idempotent.
  void Close();

  int calls() const { return static_cast<int>(next_id_); }
  const EioOpen& open_packet() const { return open_; }

 private:
  using Clock = std::chrono::steady_clock;
  // Reads one frame and handles it. *packet is set for a Socket.IO packet
  // other than a kept event. False: error set (or timeout).
  bool Pump(Clock::time_point deadline, std::optional<SioPacket>* packet, SocketIoError* error);
  // Reads one frame as an Engine.IO packet; a timeout is told in TIMEOUT_WORDS.
  bool ReceiveEio(Clock::time_point deadline, const char* timeout_words, EioPacket* eio,
                  SocketIoError* error);

  std::unique_ptr<WebSocket> socket_;
  EioOpen open_;
  bool connected_ = false;
  bool closed_ = false;
  int64_t next_id_ = 0;
  std::map<std::string, nlohmann::json> events_;
};

}  // namespace pbk
