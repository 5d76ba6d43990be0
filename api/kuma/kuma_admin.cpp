#include "api/kuma/kuma_admin.h"

namespace pbk {
namespace {

using nlohmann::json;
using Kind = KumaAdminError::Kind;

bool Set(KumaAdminError* error, Kind kind, const std::string& message) {
  *error = {kind, HttpErrorKind::kOther, message};
  return false;
}

// A Socket.IO failure as an admin reads it, WHAT being what was done.
bool FromSession(const SocketIoError& failure, const std::string& what, KumaAdminError* error) {
  switch (failure.kind) {
    case SocketIoError::Kind::kTransport:
      *error = {Kind::kTransport, failure.transport, what + ": " + failure.message};
      return false;
    case SocketIoError::Kind::kTimeout:
      return Set(error, Kind::kTimeout, what + ": " + failure.message);
    case SocketIoError::Kind::kRefused:
      return Set(error, Kind::kRefused, what + ": " + failure.message);
    case SocketIoError::Kind::kProtocol:
      break;
  }
  return Set(error, Kind::kUnexpected,
             what + ": Uptime Kuma's answer is not understood (" + failure.message + ")");
}

// Kuma's own words in an answer, or a stand-in. Kuma's messages carry no
// secret (they are fixed texts and exception messages of its own).
std::string MessageOf(const json& answer) {
  auto it = answer.find("msg");
  if (it != answer.end() && it->is_string() && !it->get<std::string>().empty()) {
    return it->get<std::string>();
  }
  return "no reason given";
}

bool IdOf(const json& value, int64_t* id) {
  if (value.is_number_integer()) {
    *id = value.get<int64_t>();
    return true;
  }
  return false;
}

constexpr char kRateLimitText[] = "Too frequently, try again later.";

}  // namespace

std::unique_ptr<KumaAdmin> KumaAdmin::Connect(const KumaConfig& config, KumaAdminError* error) {
  const auto timeout = std::chrono::milliseconds(config.timeout_seconds * 1000LL);
  WebSocketRequest request;
  request.host = config.endpoint.host;
  request.port = config.endpoint.port;
  request.target = config.endpoint.base_path + "/socket.io/?EIO=4&transport=websocket";
  request.deadline = timeout;
  HttpError transport;
  auto socket = ConnectWebSocket({config.ca_file, config.server_name}, request, &transport);
  if (!socket) {
    *error = {Kind::kTransport, transport.kind, transport.message};
    return nullptr;
  }
  auto session = std::make_unique<SocketIoSession>(std::move(socket));
  SocketIoError failure;
  if (!session->Open(timeout, &failure)) {
    FromSession(failure, "opening Uptime Kuma's Socket.IO session", error);
    return nullptr;
  }
  return std::make_unique<KumaAdmin>(std::move(session), timeout);
}

bool KumaAdmin::CallForObject(const char* what, const std::string& event, const json& args,
                              json* answer, KumaAdminError* error) {
  SocketIoError failure;
  if (!session_->Call(event, args, timeout_, answer, &failure)) {
    return FromSession(failure, what, error);
  }
  if (!answer->is_object()) {
    return Set(error, Kind::kUnexpected,
               std::string(what) + ": Uptime Kuma's answer to \"" + event +
                   "\" is not an object with \"ok\" (is this Uptime Kuma 1.23 or later?)");
  }
  return true;
}

bool KumaAdmin::CallForOk(const char* what, const std::string& event, const json& args,
                          json* answer, KumaAdminError* error) {
  if (!CallForObject(what, event, args, answer, error)) return false;
  auto ok = answer->find("ok");
  if (ok == answer->end() || !ok->is_boolean()) {
    return Set(error, Kind::kUnexpected,
               std::string(what) + ": Uptime Kuma's answer to \"" + event + "\" has no \"ok\"");
  }
  if (!ok->get<bool>()) {
    const std::string message = MessageOf(*answer);
    if (message == kRateLimitText) {
      return Set(error, Kind::kRateLimited,
                 std::string(what) + ": Uptime Kuma's rate limit was hit (" + message + ")");
    }
    if (message == "You are not logged in.") {
      return Set(error, Kind::kSessionRejected,
                 std::string(what) + ": Uptime Kuma says the session is not logged in");
    }
    return Set(error, Kind::kRefused, std::string(what) + ": Uptime Kuma said: " + message);
  }
  return true;
}

bool KumaAdmin::Login(const std::string& username, const std::string& password,
                      const std::string& totp, std::string* session_token,
                      KumaAdminError* error) {
  const char* what = "logging in to Uptime Kuma";
  json answer;
  const json args = json::array({{{"username", username}, {"password", password}, {"token", totp}}});
  if (!CallForObject(what, "login", args, &answer, error)) return false;
  if (auto required = answer.find("tokenRequired");
      required != answer.end() && required->is_boolean() && required->get<bool>()) {
    return Set(error, Kind::kTotpRequired,
               std::string(what) + ": two-factor authentication is on, a code is needed");
  }
  auto ok = answer.find("ok");
  if (ok == answer.end() || !ok->is_boolean()) {
    return Set(error, Kind::kUnexpected,
               std::string(what) + ": the answer has neither \"ok\" nor \"tokenRequired\"");
  }
  if (!ok->get<bool>()) {
    const std::string message = MessageOf(answer);
    if (message == kRateLimitText) {
      return Set(error, Kind::kRateLimited,
                 std::string(what) + ": too many login attempts (Uptime Kuma allows 20 a " +
                     "minute in all); wait a minute and try again");
    }
    if (message == "Invalid Token!") {
      return Set(error, Kind::kBadCredentials,
                 std::string(what) + ": the two-factor code was not accepted (wrong, expired or " +
                     "used already; wait for the next one)");
    }
    return Set(error, Kind::kBadCredentials, std::string(what) + ": " + message);
  }
  auto token = answer.find("token");
  if (token == answer.end() || !token->is_string() || token->get<std::string>().empty()) {
    return Set(error, Kind::kUnexpected,
               std::string(what) + ": the answer says ok but carries no session token");
  }
  *session_token = token->get<std::string>();
  return true;
}

bool KumaAdmin::LoginByToken(const std::string& session_token, KumaAdminError* error) {
  const char* what = "logging in to Uptime Kuma with the stored session";
  json answer;
  if (!CallForObject(what, "loginByToken", json::array({session_token}), &answer, error)) {
    return false;
  }
  auto ok = answer.find("ok");
  if (ok == answer.end() || !ok->is_boolean()) {
    return Set(error, Kind::kUnexpected, std::string(what) + ": the answer has no \"ok\"");
  }
  if (!ok->get<bool>()) {
    return Set(error, Kind::kSessionRejected,
               std::string(what) + ": Uptime Kuma does not accept it (" + MessageOf(answer) +
                   "); run `pbk-agent kuma login` again");
  }
  return true;
}

bool KumaAdmin::Setup(const std::string& username, const std::string& password,
                      KumaAdminError* error) {
  json answer;
  return CallForOk("creating Uptime Kuma's first user", "setup", json::array({username, password}),
                   &answer, error);
}

bool KumaAdmin::MonitorList(json* monitors, KumaAdminError* error) {
  SocketIoError failure;
  if (!session_->WaitEvent("monitorList", timeout_, monitors, &failure)) {
    return FromSession(failure, "reading Uptime Kuma's monitor list", error);
  }
  if (!monitors->is_object()) {
    return Set(error, Kind::kUnexpected,
               "reading Uptime Kuma's monitor list: expected an object of monitors by id");
  }
  return true;
}

bool KumaAdmin::NotificationList(json* notifications, KumaAdminError* error) {
  SocketIoError failure;
  if (!session_->WaitEvent("notificationList", timeout_, notifications, &failure)) {
    return FromSession(failure, "reading Uptime Kuma's notifications", error);
  }
  if (!notifications->is_array()) {
    return Set(error, Kind::kUnexpected,
               "reading Uptime Kuma's notifications: expected a list of notifications");
  }
  return true;
}

bool KumaAdmin::GetMonitor(int64_t id, json* monitor, KumaAdminError* error) {
  const std::string what = "reading monitor " + std::to_string(id) + " from Uptime Kuma";
  json answer;
  if (!CallForOk(what.c_str(), "getMonitor", json::array({id}), &answer, error)) return false;
  auto it = answer.find("monitor");
  if (it == answer.end() || !it->is_object()) {
    return Set(error, Kind::kUnexpected, what + ": the answer has no \"monitor\" object");
  }
  *monitor = std::move(*it);
  return true;
}

bool KumaAdmin::AddMonitor(const json& monitor, int64_t* id, KumaAdminError* error) {
  const char* what = "adding a monitor to Uptime Kuma";
  json answer;
  if (!CallForOk(what, "add", json::array({monitor}), &answer, error)) return false;
  if (!IdOf(answer.value("monitorID", json()), id)) {
    return Set(error, Kind::kUnexpected,
               std::string(what) + ": the answer has no integer \"monitorID\"");
  }
  return true;
}

bool KumaAdmin::EditMonitor(const json& monitor, KumaAdminError* error) {
  json answer;
  const std::string what =
      "changing monitor " + (monitor.contains("id") ? monitor["id"].dump() : "?") + " in Uptime Kuma";
  return CallForOk(what.c_str(), "editMonitor", json::array({monitor}), &answer, error);
}

bool KumaAdmin::PauseMonitor(int64_t id, KumaAdminError* error) {
  json answer;
  const std::string what = "pausing monitor " + std::to_string(id) + " in Uptime Kuma";
  return CallForOk(what.c_str(), "pauseMonitor", json::array({id}), &answer, error);
}

bool KumaAdmin::ResumeMonitor(int64_t id, KumaAdminError* error) {
  json answer;
  const std::string what = "resuming monitor " + std::to_string(id) + " in Uptime Kuma";
  return CallForOk(what.c_str(), "resumeMonitor", json::array({id}), &answer, error);
}

bool KumaAdmin::Tags(json* tags, KumaAdminError* error) {
  const char* what = "reading Uptime Kuma's tags";
  json answer;
  if (!CallForOk(what, "getTags", json::array(), &answer, error)) return false;
  auto it = answer.find("tags");
  if (it == answer.end() || !it->is_array()) {
    return Set(error, Kind::kUnexpected, std::string(what) + ": the answer has no \"tags\" list");
  }
  *tags = std::move(*it);
  return true;
}

bool KumaAdmin::AddTag(const std::string& name, const std::string& color, int64_t* id,
                       KumaAdminError* error) {
  const std::string what = "adding the tag \"" + name + "\" to Uptime Kuma";
  json answer;
  if (!CallForOk(what.c_str(), "addTag", json::array({{{"name", name}, {"color", color}}}),
                 &answer, error)) {
    return false;
  }
  auto tag = answer.find("tag");
  if (tag == answer.end() || !tag->is_object() || !IdOf(tag->value("id", json()), id)) {
    return Set(error, Kind::kUnexpected, what + ": the answer has no \"tag\" with an integer id");
  }
  return true;
}

bool KumaAdmin::AddMonitorTag(int64_t tag_id, int64_t monitor_id, const std::string& value,
                              KumaAdminError* error) {
  json answer;
  const std::string what = "tagging monitor " + std::to_string(monitor_id) + " in Uptime Kuma";
  return CallForOk(what.c_str(), "addMonitorTag", json::array({tag_id, monitor_id, value}),
                   &answer, error);
}

}  // namespace pbk
