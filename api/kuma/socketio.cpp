#include "api/kuma/socketio.h"

#include <cctype>

namespace pbk {
namespace {

using nlohmann::json;

// What a frame was, for an error: its length and kind, never its text
// (a login answer carries the session token).
std::string Describe(const std::string& frame) {
  return std::to_string(frame.size()) + "-byte frame";
}

bool Fail(std::string* err, const std::string& text) {
  *err = text;
  return false;
}

}  // namespace

bool ParseEioPacket(const std::string& frame, EioPacket* packet, std::string* err) {
  if (frame.empty()) return Fail(err, "an empty Engine.IO frame");
  switch (frame[0]) {
    case '0': packet->type = EioType::kOpen; break;
    case '1': packet->type = EioType::kClose; break;
    case '2': packet->type = EioType::kPing; break;
    case '3': packet->type = EioType::kPong; break;
    case '4': packet->type = EioType::kMessage; break;
    case '5': packet->type = EioType::kUpgrade; break;
    case '6': packet->type = EioType::kNoop; break;
    default:
      return Fail(err, "an Engine.IO " + Describe(frame) + " of unknown type (not 0-6)");
  }
  packet->data = frame.substr(1);
  return true;
}

bool ParseEioOpen(const std::string& data, EioOpen* open, std::string* err) {
  const json parsed = json::parse(data, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return Fail(err, "the Engine.IO open packet is not a JSON object");
  }
  auto number = [&](const char* key, int64_t* out) {
    auto it = parsed.find(key);
    if (it == parsed.end() || !it->is_number_integer() || it->get<int64_t>() <= 0) {
      *err = std::string("the Engine.IO open packet has no positive integer \"") + key + "\"";
      return false;
    }
    *out = it->get<int64_t>();
    return true;
  };
  auto sid = parsed.find("sid");
  if (sid == parsed.end() || !sid->is_string() || sid->get<std::string>().empty()) {
    return Fail(err, "the Engine.IO open packet has no \"sid\"");
  }
  open->sid = sid->get<std::string>();
  return number("pingInterval", &open->ping_interval_ms) &&
         number("pingTimeout", &open->ping_timeout_ms) && number("maxPayload", &open->max_payload);
}

bool ParseSioPacket(const std::string& data, SioPacket* packet, std::string* err) {
  if (data.empty()) return Fail(err, "an empty Socket.IO packet");
  switch (data[0]) {
    case '0': packet->type = SioType::kConnect; break;
    case '1': packet->type = SioType::kDisconnect; break;
    case '2': packet->type = SioType::kEvent; break;
    case '3': packet->type = SioType::kAck; break;
    case '4': packet->type = SioType::kConnectError; break;
    case '5':
    case '6':
      return Fail(err, "a binary Socket.IO packet (this client speaks text only)");
    default:
      return Fail(err, "a Socket.IO packet of unknown type in a " + Describe(data));
  }
  size_t pos = 1;
  if (pos < data.size() && data[pos] == '/') {
    return Fail(err, "a Socket.IO packet for a namespace other than the default one");
  }
  packet->id.reset();
  if (pos < data.size() && std::isdigit(static_cast<unsigned char>(data[pos]))) {
    int64_t id = 0;
    const size_t start = pos;
    while (pos < data.size() && std::isdigit(static_cast<unsigned char>(data[pos]))) {
      if (pos - start >= 15) return Fail(err, "a Socket.IO packet id longer than 15 digits");
      id = id * 10 + (data[pos] - '0');
      ++pos;
    }
    packet->id = id;
  }
  packet->data = json();
  if (pos < data.size()) {
    packet->data = json::parse(data.begin() + static_cast<std::ptrdiff_t>(pos), data.end(),
                               nullptr, false);
    if (packet->data.is_discarded()) {
      return Fail(err, "a Socket.IO packet whose payload is not JSON (" + Describe(data) + ")");
    }
  }
  switch (packet->type) {
    case SioType::kEvent:
      if (!packet->data.is_array() || packet->data.empty() || !packet->data[0].is_string()) {
        return Fail(err, "a Socket.IO event that is not an array starting with its name");
      }
      break;
    case SioType::kAck:
      if (!packet->id) return Fail(err, "a Socket.IO answer (ACK) without an id");
      if (!packet->data.is_array()) return Fail(err, "a Socket.IO answer (ACK) that is not an array");
      break;
    case SioType::kConnect:
      if (packet->id) return Fail(err, "a Socket.IO CONNECT with an id");
      if (!packet->data.is_null() && !packet->data.is_object()) {
        return Fail(err, "a Socket.IO CONNECT answer that is not an object");
      }
      break;
    case SioType::kDisconnect:
    case SioType::kConnectError:
      if (packet->id) return Fail(err, "a Socket.IO DISCONNECT or CONNECT_ERROR with an id");
      break;
  }
  return true;
}

std::string EncodeSioConnect() { return "40"; }
std::string EncodeEioPong() { return "3"; }

std::string EncodeSioCall(int64_t id, const std::string& event, const json& args) {
  json packet = json::array({event});
  for (const auto& arg : args) packet.push_back(arg);
  return "42" + std::to_string(id) + packet.dump();
}

// --- session ----------------------------------------------------------------

namespace {

std::chrono::milliseconds Left(std::chrono::steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return left.count() > 0 ? left : std::chrono::milliseconds(0);
}

bool Protocol(SocketIoError* error, const std::string& text) {
  *error = {SocketIoError::Kind::kProtocol, HttpErrorKind::kOther, text};
  return false;
}

}  // namespace

bool SocketIoSession::ReceiveEio(Clock::time_point deadline, const char* timeout_words,
                                 EioPacket* eio, SocketIoError* error) {
  std::string frame;
  HttpError transport;
  switch (socket_->Receive(Left(deadline), &frame, &transport)) {
    case WsReceived::kTimeout:
      *error = {SocketIoError::Kind::kTimeout, HttpErrorKind::kTimeout, timeout_words};
      return false;
    case WsReceived::kClosed:
      closed_ = true;
      *error = {SocketIoError::Kind::kTransport, transport.kind,
                transport.message.empty() ? "Uptime Kuma closed the connection" : transport.message};
      return false;
    case WsReceived::kMessage:
      break;
  }
  std::string err;
  if (!ParseEioPacket(frame, eio, &err)) return Protocol(error, err);
  return true;
}

bool SocketIoSession::Pump(Clock::time_point deadline, std::optional<SioPacket>* packet,
                           SocketIoError* error) {
  packet->reset();
  if (closed_) {
    *error = {SocketIoError::Kind::kTransport, HttpErrorKind::kConnectionClosed,
              "the connection to Uptime Kuma is closed"};
    return false;
  }
  EioPacket eio;
  if (!ReceiveEio(deadline, "no answer in time", &eio, error)) return false;
  HttpError transport;
  std::string err;
  switch (eio.type) {
    case EioType::kPing:
      if (!socket_->SendText(EncodeEioPong(), Left(deadline) + std::chrono::seconds(1),
                             &transport)) {
        *error = {SocketIoError::Kind::kTransport, transport.kind, transport.message};
        return false;
      }
      return true;
    case EioType::kNoop:
    case EioType::kPong:
      return true;
    case EioType::kClose:
      closed_ = true;
      *error = {SocketIoError::Kind::kTransport, HttpErrorKind::kConnectionClosed,
                "Uptime Kuma closed the session"};
      return false;
    case EioType::kOpen:
      return Protocol(error, "a second Engine.IO open packet");
    case EioType::kUpgrade:
      return Protocol(error, "an Engine.IO upgrade packet on a WebSocket");
    case EioType::kMessage:
      break;
  }
  SioPacket sio;
  if (!ParseSioPacket(eio.data, &sio, &err)) return Protocol(error, err);
  if (sio.type == SioType::kDisconnect) {
    closed_ = true;
    *error = {SocketIoError::Kind::kTransport, HttpErrorKind::kConnectionClosed,
              "Uptime Kuma ended the Socket.IO session"};
    return false;
  }
  if (sio.type == SioType::kEvent && !sio.id) {
    // Kept by name, the latest only: Kuma re-sends whole lists.
    const std::string name = sio.data[0].get<std::string>();
    events_[name] = sio.data.size() > 1 ? std::move(sio.data[1]) : json();
    return true;
  }
  *packet = std::move(sio);
  return true;
}

bool SocketIoSession::Open(std::chrono::milliseconds deadline, SocketIoError* error) {
  const auto until = Clock::now() + deadline;
  EioPacket eio;
  if (!ReceiveEio(until, "no Engine.IO open packet in time", &eio, error)) return false;
  HttpError transport;
  std::string err;
  if (eio.type != EioType::kOpen) {
    return Protocol(error, "expected the Engine.IO open packet (0{…}) first");
  }
  if (!ParseEioOpen(eio.data, &open_, &err)) return Protocol(error, err);
  if (!socket_->SendText(EncodeSioConnect(), Left(until), &transport)) {
    *error = {SocketIoError::Kind::kTransport, transport.kind, transport.message};
    return false;
  }
  while (true) {
    std::optional<SioPacket> packet;
    if (!Pump(until, &packet, error)) return false;
    if (!packet) continue;
    if (packet->type == SioType::kConnectError) {
      const json& data = packet->data;
      std::string why = data.is_object() && data.contains("message") && data["message"].is_string()
                            ? data["message"].get<std::string>()
                            : "no reason given";
      *error = {SocketIoError::Kind::kRefused, HttpErrorKind::kOther,
                "Uptime Kuma refused the Socket.IO connection: " + why};
      return false;
    }
    if (packet->type != SioType::kConnect) {
      return Protocol(error, "expected the Socket.IO CONNECT answer (40{…})");
    }
    connected_ = true;
    return true;
  }
}

bool SocketIoSession::Call(const std::string& event, const json& args,
                           std::chrono::milliseconds deadline, json* ack, SocketIoError* error) {
  if (!connected_) return Protocol(error, "the Socket.IO session is not open");
  if (!args.is_array()) return Protocol(error, "the arguments of \"" + event + "\" are not a list");
  const auto until = Clock::now() + deadline;
  const int64_t id = next_id_++;
  HttpError transport;
  if (!socket_->SendText(EncodeSioCall(id, event, args), Left(until), &transport)) {
    *error = {SocketIoError::Kind::kTransport, transport.kind, transport.message};
    return false;
  }
  while (true) {
    std::optional<SioPacket> packet;
    if (!Pump(until, &packet, error)) {
      if (error->kind == SocketIoError::Kind::kTimeout) {
        error->message = "no answer to \"" + event + "\" within " +
                         std::to_string((deadline.count() + 999) / 1000) + " s";
      }
      return false;
    }
    if (!packet) continue;
    if (packet->type == SioType::kAck && packet->id == id) {
      *ack = packet->data.empty() ? json() : std::move(packet->data[0]);
      return true;
    }
    if (packet->type == SioType::kAck) continue;  // an answer to a call given up on
    if (packet->type == SioType::kEvent) continue;  // a server's call: Kuma makes none
    return Protocol(error, "an unexpected Socket.IO packet while waiting for \"" + event + "\"");
  }
}

bool SocketIoSession::WaitEvent(const std::string& name, std::chrono::milliseconds deadline,
                                json* data, SocketIoError* error) {
  const auto until = Clock::now() + deadline;
  while (true) {
    if (auto it = events_.find(name); it != events_.end()) {
      *data = it->second;
      return true;
    }
    std::optional<SioPacket> packet;
    if (!Pump(until, &packet, error)) {
      if (error->kind == SocketIoError::Kind::kTimeout) {
        error->message = "Uptime Kuma sent no \"" + name + "\" within " +
                         std::to_string((deadline.count() + 999) / 1000) + " s";
      }
      return false;
    }
  }
}

void SocketIoSession::Close() {
  if (!socket_) return;
  if (!closed_) {
    HttpError ignored;
    socket_->SendText("1", std::chrono::milliseconds(500), &ignored);
  }
  closed_ = true;
  connected_ = false;
  socket_->Close();
}

}  // namespace pbk
