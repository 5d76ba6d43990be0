#include "api/kuma/socketio.h"

#include <gtest/gtest.h>

#include <deque>
#include <functional>

#include "api/kuma/kuma_admin.h"

namespace pbk {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

// A WebSocket that plays the server: frames queued for the client, and a
// script that answers what the client sends.
class FakeWebSocket : public WebSocket {
 public:
  bool SendText(const std::string& text, milliseconds, HttpError* error) override {
    if (closed) {
      *error = {HttpErrorKind::kConnectionClosed, "closed"};
      return false;
    }
    sent.push_back(text);
    if (on_send) on_send(text, this);
    return true;
  }
  WsReceived Receive(milliseconds, std::string* message, HttpError* error) override {
    if (!incoming.empty()) {
      *message = incoming.front();
      incoming.pop_front();
      return WsReceived::kMessage;
    }
    if (closed || close_when_empty) {
      closed = true;
      *error = {HttpErrorKind::kConnectionClosed, "the server closed the WebSocket (code 1000)"};
      return WsReceived::kClosed;
    }
    return WsReceived::kTimeout;
  }
  void Close() override { closed = true; }

  std::deque<std::string> incoming;
  std::vector<std::string> sent;
  std::function<void(const std::string&, FakeWebSocket*)> on_send;
  bool closed = false;
  bool close_when_empty = false;
};

const char kOpen[] =
    R"(0{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000})";

// A server that opens, accepts CONNECT, and answers each call with
// ANSWER(event, args) as its ACK.
FakeWebSocket* Server(std::function<json(const std::string&, const json&)> answer) {
  auto* socket = new FakeWebSocket;
  socket->incoming.push_back(kOpen);
  socket->on_send = [answer](const std::string& text, FakeWebSocket* self) {
    if (text == "40") {
      self->incoming.push_back(R"(40{"sid":"s1"})");
      return;
    }
    SioPacket packet;
    std::string err;
    if (text.rfind("42", 0) == 0 && ParseSioPacket(text.substr(1), &packet, &err)) {
      json args = packet.data;
      const std::string event = args[0];
      args.erase(0);
      self->incoming.push_back("43" + std::to_string(*packet.id) +
                               json::array({answer(event, args)}).dump());
    }
  };
  return socket;
}

TEST(SocketIoFramingTest, ParsesEngineIoPackets) {
  EioPacket packet;
  std::string err;
  ASSERT_TRUE(ParseEioPacket(kOpen, &packet, &err)) << err;
  EXPECT_EQ(packet.type, EioType::kOpen);
  EioOpen open;
  ASSERT_TRUE(ParseEioOpen(packet.data, &open, &err)) << err;
  EXPECT_EQ(open.sid, "abc");
  EXPECT_EQ(open.ping_interval_ms, 25000);
  EXPECT_EQ(open.ping_timeout_ms, 20000);
  EXPECT_EQ(open.max_payload, 1000000);
  ASSERT_TRUE(ParseEioPacket("2", &packet, &err));
  EXPECT_EQ(packet.type, EioType::kPing);
  ASSERT_TRUE(ParseEioPacket("1", &packet, &err));
  EXPECT_EQ(packet.type, EioType::kClose);
  ASSERT_TRUE(ParseEioPacket("42[\"x\"]", &packet, &err));
  EXPECT_EQ(packet.type, EioType::kMessage);
  EXPECT_EQ(packet.data, "2[\"x\"]");
}

TEST(SocketIoFramingTest, RefusesMalformedEngineIoPackets) {
  EioPacket packet;
  std::string err;
  EXPECT_FALSE(ParseEioPacket("", &packet, &err));
  EXPECT_EQ(err, "an empty Engine.IO frame");
  EXPECT_FALSE(ParseEioPacket("9x", &packet, &err));
  EXPECT_EQ(err, "an Engine.IO 2-byte frame of unknown type (not 0-6)");
  EioOpen open;
  EXPECT_FALSE(ParseEioOpen("{", &open, &err));
  EXPECT_EQ(err, "the Engine.IO open packet is not a JSON object");
  EXPECT_FALSE(ParseEioOpen(R"({"sid":"a","pingInterval":"25000","pingTimeout":1,"maxPayload":1})",
                            &open, &err));
  EXPECT_EQ(err, "the Engine.IO open packet has no positive integer \"pingInterval\"");
  EXPECT_FALSE(ParseEioOpen(R"({"pingInterval":1,"pingTimeout":1,"maxPayload":1})", &open, &err));
  EXPECT_EQ(err, "the Engine.IO open packet has no \"sid\"");
}

TEST(SocketIoFramingTest, ParsesSocketIoPackets) {
  SioPacket packet;
  std::string err;
  ASSERT_TRUE(ParseSioPacket(R"(0{"sid":"s"})", &packet, &err)) << err;
  EXPECT_EQ(packet.type, SioType::kConnect);
  EXPECT_EQ(packet.data["sid"], "s");
  ASSERT_TRUE(ParseSioPacket(R"(2["monitorList",{"1":{"id":1}}])", &packet, &err)) << err;
  EXPECT_EQ(packet.type, SioType::kEvent);
  EXPECT_FALSE(packet.id);
  ASSERT_TRUE(ParseSioPacket(R"(312[{"ok":true}])", &packet, &err)) << err;
  EXPECT_EQ(packet.type, SioType::kAck);
  EXPECT_EQ(packet.id, 12);
  EXPECT_EQ(packet.data[0]["ok"], true);
  ASSERT_TRUE(ParseSioPacket(R"(4{"message":"not allowed"})", &packet, &err)) << err;
  EXPECT_EQ(packet.type, SioType::kConnectError);
  ASSERT_TRUE(ParseSioPacket("1", &packet, &err)) << err;
  EXPECT_EQ(packet.type, SioType::kDisconnect);
}

TEST(SocketIoFramingTest, RefusesMalformedSocketIoPackets) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "an empty Socket.IO packet"},
      {"9", "a Socket.IO packet of unknown type in a 1-byte frame"},
      {"2[", "a Socket.IO packet whose payload is not JSON (2-byte frame)"},
      {"2{}", "a Socket.IO event that is not an array starting with its name"},
      {"2[1]", "a Socket.IO event that is not an array starting with its name"},
      {"3[1]", "a Socket.IO answer (ACK) without an id"},
      {"37{}", "a Socket.IO answer (ACK) that is not an array"},
      {"2/admin,[\"x\"]", "a Socket.IO packet for a namespace other than the default one"},
      {"51-[\"x\"]", "a binary Socket.IO packet (this client speaks text only)"},
      {"31234567890123456[]", "a Socket.IO packet id longer than 15 digits"},
      {"0[]", "a Socket.IO CONNECT answer that is not an object"},
  };
  for (const auto& [input, expected] : cases) {
    SioPacket packet;
    std::string err;
    EXPECT_FALSE(ParseSioPacket(input, &packet, &err)) << input;
    EXPECT_EQ(err, expected) << input;
  }
}

TEST(SocketIoFramingTest, EncodesWhatAClientSends) {
  EXPECT_EQ(EncodeSioConnect(), "40");
  EXPECT_EQ(EncodeEioPong(), "3");
  EXPECT_EQ(EncodeSioCall(7, "getMonitor", json::array({5})), R"(427["getMonitor",5])");
  EXPECT_EQ(EncodeSioCall(0, "getTags", json::array()), R"(420["getTags"])");
}

TEST(SocketIoSessionTest, OpensConnectsAndCallsWithIncreasingIds) {
  auto* socket = Server([](const std::string& event, const json& args) {
    return json{{"ok", true}, {"event", event}, {"args", args}};
  });
  SocketIoSession session{std::unique_ptr<WebSocket>(socket)};
  SocketIoError error;
  ASSERT_TRUE(session.Open(milliseconds(1000), &error)) << error.message;
  EXPECT_EQ(session.open_packet().ping_interval_ms, 25000);
  ASSERT_EQ(socket->sent.size(), 1u);
  EXPECT_EQ(socket->sent[0], "40");

  json ack;
  ASSERT_TRUE(session.Call("getMonitor", json::array({3}), milliseconds(1000), &ack, &error))
      << error.message;
  EXPECT_EQ(ack["event"], "getMonitor");
  EXPECT_EQ(ack["args"], json::array({3}));
  ASSERT_TRUE(session.Call("getTags", json::array(), milliseconds(1000), &ack, &error));
  EXPECT_EQ(socket->sent[1], R"(420["getMonitor",3])");
  EXPECT_EQ(socket->sent[2], R"(421["getTags"])");
  EXPECT_EQ(session.calls(), 2);

  session.Close();
  EXPECT_EQ(socket->sent.back(), "1");
  EXPECT_TRUE(socket->closed);
}

TEST(SocketIoSessionTest, AnswersPingsAndKeepsEventsWhileWaiting) {
  auto* socket = Server([](const std::string&, const json&) { return json{{"ok", true}}; });
  SocketIoSession session{std::unique_ptr<WebSocket>(socket)};
  SocketIoError error;
  ASSERT_TRUE(session.Open(milliseconds(1000), &error)) << error.message;
  // Before the answer: a ping, an event, an answer to an older call.
  auto answer = socket->on_send;
  socket->on_send = [answer](const std::string& text, FakeWebSocket* self) {
    if (text.rfind("42", 0) == 0) {
      self->incoming.push_back("2");
      self->incoming.push_back(R"(42["monitorList",{"7":{"id":7,"name":"job"}}])");
      self->incoming.push_back(R"(4399[{"ok":false}])");
    }
    answer(text, self);
  };
  json ack;
  ASSERT_TRUE(session.Call("login", json::array({json::object()}), milliseconds(1000), &ack,
                           &error))
      << error.message;
  EXPECT_EQ(ack["ok"], true);
  EXPECT_EQ(std::count(socket->sent.begin(), socket->sent.end(), "3"), 1);
  json monitors;
  ASSERT_TRUE(session.WaitEvent("monitorList", milliseconds(10), &monitors, &error));
  EXPECT_EQ(monitors["7"]["name"], "job");

  // A later event of the same name replaces it; a missing one times out.
  socket->incoming.push_back(R"(42["monitorList",{}])");
  socket->incoming.push_back("2");
  session.ForgetEvent("monitorList");
  ASSERT_TRUE(session.WaitEvent("monitorList", milliseconds(10), &monitors, &error));
  EXPECT_TRUE(monitors.empty());
  EXPECT_FALSE(session.WaitEvent("notificationList", milliseconds(10), &monitors, &error));
  EXPECT_EQ(error.kind, SocketIoError::Kind::kTimeout);
  EXPECT_EQ(error.message, "Uptime Kuma sent no \"notificationList\" within 1 s");
  EXPECT_EQ(std::count(socket->sent.begin(), socket->sent.end(), "3"), 2);
}

// A server that opens and accepts CONNECT, then, when the client calls,
// does ON_CALL to the connection instead of answering.
FakeWebSocket* ServerThatOnCall(std::function<void(FakeWebSocket*)> on_call) {
  auto* socket = new FakeWebSocket;
  socket->incoming.push_back(kOpen);
  socket->on_send = [on_call](const std::string& text, FakeWebSocket* self) {
    if (text == "40") self->incoming.push_back(R"(40{"sid":"s"})");
    if (text.rfind("42", 0) == 0) on_call(self);
  };
  return socket;
}

// A session on SOCKET (which it owns), opened.
void OpenSession(FakeWebSocket* socket, std::unique_ptr<SocketIoSession>* session) {
  *session = std::make_unique<SocketIoSession>(std::unique_ptr<WebSocket>(socket));
  SocketIoError error;
  ASSERT_TRUE((*session)->Open(milliseconds(1000), &error)) << error.message;
}

// A call that must fail: what it failed with.
SocketIoError FailedCall(SocketIoSession* session) {
  json ack;
  SocketIoError error;
  EXPECT_FALSE(session->Call("getTags", json::array(), milliseconds(1000), &ack, &error));
  return error;
}

// Opening a session on a server that sends FRAMES and then nothing, which
// must fail: what it failed with.
SocketIoError FailedOpen(const std::vector<std::string>& frames, milliseconds timeout) {
  auto* socket = new FakeWebSocket;
  for (const auto& frame : frames) socket->incoming.push_back(frame);
  SocketIoSession session{std::unique_ptr<WebSocket>(socket)};
  SocketIoError error;
  EXPECT_FALSE(session.Open(timeout, &error));
  return error;
}

TEST(SocketIoSessionTest, TellsAServerCloseFromAMalformedFrame) {
  std::unique_ptr<SocketIoSession> session;
  ASSERT_NO_FATAL_FAILURE(OpenSession(
      ServerThatOnCall([](FakeWebSocket* self) { self->incoming.push_back("1"); }), &session));
  SocketIoError error = FailedCall(session.get());
  EXPECT_EQ(error.kind, SocketIoError::Kind::kTransport);
  EXPECT_EQ(error.message, "Uptime Kuma closed the session");
  EXPECT_EQ(FailedCall(session.get()).kind, SocketIoError::Kind::kTransport);

  ASSERT_NO_FATAL_FAILURE(OpenSession(
      ServerThatOnCall([](FakeWebSocket* self) { self->incoming.push_back("43x"); }), &session));
  error = FailedCall(session.get());
  EXPECT_EQ(error.kind, SocketIoError::Kind::kProtocol);
  EXPECT_EQ(error.message, "a Socket.IO packet whose payload is not JSON (2-byte frame)");

  // The connection ends under the call.
  ASSERT_NO_FATAL_FAILURE(OpenSession(
      ServerThatOnCall([](FakeWebSocket* self) { self->close_when_empty = true; }), &session));
  error = FailedCall(session.get());
  EXPECT_EQ(error.kind, SocketIoError::Kind::kTransport);
  EXPECT_EQ(error.message, "the server closed the WebSocket (code 1000)");
}

TEST(SocketIoSessionTest, RefusesAHandshakeItDoesNotKnow) {
  SocketIoError error = FailedOpen({"40"}, milliseconds(1000));  // no open packet first
  EXPECT_EQ(error.kind, SocketIoError::Kind::kProtocol);
  EXPECT_EQ(error.message, "expected the Engine.IO open packet (0{…}) first");

  error = FailedOpen({kOpen, R"(44{"message":"Invalid namespace"})"}, milliseconds(1000));
  EXPECT_EQ(error.kind, SocketIoError::Kind::kRefused);
  EXPECT_EQ(error.message, "Uptime Kuma refused the Socket.IO connection: Invalid namespace");

  error = FailedOpen({}, milliseconds(10));  // says nothing
  EXPECT_EQ(error.kind, SocketIoError::Kind::kTimeout);
}

// --- KumaAdmin on the scripted server ------------------------------------------

std::unique_ptr<KumaAdmin> Admin(std::function<json(const std::string&, const json&)> answer,
                                 FakeWebSocket** socket_out = nullptr) {
  auto* socket = Server(std::move(answer));
  if (socket_out != nullptr) *socket_out = socket;
  auto session = std::make_unique<SocketIoSession>(std::unique_ptr<WebSocket>(socket));
  SocketIoError error;
  EXPECT_TRUE(session->Open(milliseconds(1000), &error)) << error.message;
  return std::make_unique<KumaAdmin>(std::move(session), milliseconds(1000));
}

TEST(KumaAdminTest, LogsInAndReturnsKumasSessionToken) {
  FakeWebSocket* socket = nullptr;
  auto admin = Admin(
      [](const std::string& event, const json& args) {
        EXPECT_EQ(event, "login");
        EXPECT_EQ(args[0]["username"], "admin");
        EXPECT_EQ(args[0]["password"], "s3cret-Pass");
        EXPECT_EQ(args[0]["token"], "");
        return json{{"ok", true}, {"token", "eyJ.session.jwt"}};
      },
      &socket);
  std::string token;
  KumaAdminError error;
  ASSERT_TRUE(admin->Login("admin", "s3cret-Pass", "", &token, &error)) << error.message;
  EXPECT_EQ(token, "eyJ.session.jwt");
  EXPECT_EQ(admin->calls(), 1);
}

TEST(KumaAdminTest, NamesEachLoginFailureAnAdminCanActOn) {
  struct Case {
    json answer;
    KumaAdminError::Kind kind;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{{"tokenRequired", true}},
       KumaAdminError::Kind::kTotpRequired,
       "logging in to Uptime Kuma: two-factor authentication is on, a code is needed"},
      {{{"ok", false}, {"msg", "Incorrect username or password."}},
       KumaAdminError::Kind::kBadCredentials,
       "logging in to Uptime Kuma: Incorrect username or password."},
      {{{"ok", false}, {"msg", "Invalid Token!"}},
       KumaAdminError::Kind::kBadCredentials,
       "logging in to Uptime Kuma: the two-factor code was not accepted (wrong, expired or used "
       "already; wait for the next one)"},
      {{{"ok", false}, {"msg", "Too frequently, try again later."}},
       KumaAdminError::Kind::kRateLimited,
       "logging in to Uptime Kuma: too many login attempts (Uptime Kuma allows 20 a minute in "
       "all); wait a minute and try again"},
      {{{"ok", true}},
       KumaAdminError::Kind::kUnexpected,
       "logging in to Uptime Kuma: the answer says ok but carries no session token"},
      {json::array(),
       KumaAdminError::Kind::kUnexpected,
       "logging in to Uptime Kuma: Uptime Kuma's answer to \"login\" is not an object with \"ok\" "
       "(is this Uptime Kuma 1.23 or later?)"},
      {{{"tokenRequired", "yes"}},
       KumaAdminError::Kind::kUnexpected,
       "logging in to Uptime Kuma: the answer has neither \"ok\" nor \"tokenRequired\""},
  };
  for (const auto& c : cases) {
    auto admin = Admin([&](const std::string&, const json&) { return c.answer; });
    std::string token;
    KumaAdminError error;
    EXPECT_FALSE(admin->Login("admin", "s3cret-Pass", "123456", &token, &error));
    EXPECT_EQ(error.kind, c.kind) << c.answer.dump();
    EXPECT_EQ(error.message, c.message);
    EXPECT_EQ(error.message.find("s3cret-Pass"), std::string::npos);
    EXPECT_EQ(error.message.find("123456"), std::string::npos);
    EXPECT_TRUE(token.empty());
  }
}

TEST(KumaAdminTest, ASessionKumaRefusesSaysToLogInAgain) {
  auto admin = Admin([](const std::string& event, const json& args) {
    EXPECT_EQ(event, "loginByToken");
    EXPECT_EQ(args[0], "eyJ.old.jwt");
    return json{{"ok", false}, {"msg", "Invalid token."}};
  });
  KumaAdminError error;
  EXPECT_FALSE(admin->LoginByToken("eyJ.old.jwt", &error));
  EXPECT_EQ(error.kind, KumaAdminError::Kind::kSessionRejected);
  EXPECT_EQ(error.message,
            "logging in to Uptime Kuma with the stored session: Uptime Kuma does not accept it "
            "(Invalid token.); run `pbk-agent kuma login` again");
  EXPECT_EQ(error.message.find("eyJ.old.jwt"), std::string::npos);
}

TEST(KumaAdminTest, TypedMonitorCalls) {
  auto admin = Admin([](const std::string& event, const json& args) -> json {
    if (event == "add") return {{"ok", true}, {"msg", "Added Successfully."}, {"monitorID", 42}};
    if (event == "getMonitor") return {{"ok", true}, {"monitor", {{"id", args[0]}}}};
    if (event == "pauseMonitor") return {{"ok", false}, {"msg", "You are not logged in."}};
    if (event == "getTags") return {{"ok", true}, {"tags", json::array({{{"id", 1}}})}};
    if (event == "addTag") return {{"ok", true}, {"tag", {{"id", 9}, {"name", args[0]["name"]}}}};
    if (event == "editMonitor") return {{"ok", false}, {"msg", "Interval cannot be less than 20 seconds"}};
    return {{"ok", true}};
  });
  KumaAdminError error;
  int64_t id = 0;
  ASSERT_TRUE(admin->AddMonitor({{"type", "push"}}, &id, &error)) << error.message;
  EXPECT_EQ(id, 42);
  json monitor;
  ASSERT_TRUE(admin->GetMonitor(42, &monitor, &error)) << error.message;
  EXPECT_EQ(monitor["id"], 42);
  EXPECT_FALSE(admin->PauseMonitor(42, &error));
  EXPECT_EQ(error.kind, KumaAdminError::Kind::kSessionRejected);
  EXPECT_FALSE(admin->EditMonitor({{"id", 42}}, &error));
  EXPECT_EQ(error.kind, KumaAdminError::Kind::kRefused);
  EXPECT_EQ(error.message,
            "changing monitor 42 in Uptime Kuma: Uptime Kuma said: Interval cannot be less than 20 "
            "seconds");
  json tags;
  ASSERT_TRUE(admin->Tags(&tags, &error));
  EXPECT_EQ(tags.size(), 1u);
  ASSERT_TRUE(admin->AddTag("pbk-agent", "#2563eb", &id, &error));
  EXPECT_EQ(id, 9);
  EXPECT_TRUE(admin->AddMonitorTag(9, 42, "pve1", &error)) << error.message;
  EXPECT_TRUE(admin->ResumeMonitor(42, &error)) << error.message;
  EXPECT_EQ(admin->calls(), 8);
}

}  // namespace
}  // namespace pbk
