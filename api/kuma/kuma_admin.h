// Uptime Kuma's management API, typed: the Socket.IO calls of its web UI
// (there is no REST API for monitors). Facts: uptime-kuma-management.md.
//
// Every call returns false with a KumaAdminError an admin can act on:
// wrong credentials, a two-factor code needed, the rate limit, a session
// Kuma no longer accepts, Kuma unreachable or its certificate refused (the
// same words as for pushes), or an answer this client does not understand
// (which names what was expected). No password, two-factor code or session
// token ever appears in an error or a log line.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "agent/core/config.h"
#include "api/kuma/socketio.h"

namespace pbk {

struct KumaAdminError {
  enum class Kind {
    kNone,
    kBadCredentials,   // wrong user name or password (or two-factor code)
    kTotpRequired,     // two-factor authentication is on: a code is needed
    kRateLimited,      // Kuma's login rate limit (20 a minute, all clients)
    kSessionRejected,  // the stored session is not accepted: `kuma login` again
    kTransport,        // unreachable, TLS refused, connection lost (see `transport`)
    kTimeout,          // no answer in time
    kUnexpected,       // an answer this client does not understand
    kRefused,          // Kuma answered the call with ok:false (its msg follows)
  };
  Kind kind = Kind::kNone;
  HttpErrorKind transport = HttpErrorKind::kOther;
  std::string message;
};

class KumaAdmin {
 public:
  // Takes an opened session (Open() done).
  KumaAdmin(std::unique_ptr<SocketIoSession> session, std::chrono::milliseconds call_timeout)
      : session_(std::move(session)), timeout_(call_timeout) {}

  // Connects to Kuma at CONFIG's url (wss://…/socket.io/?EIO=4&transport=
  // websocket, TLS per kuma.ca_file / kuma.server_name) and opens the
  // Socket.IO session. Null with *error when that fails.
  static std::unique_ptr<KumaAdmin> Connect(const KumaConfig& config, KumaAdminError* error);

  // login {username, password, token}: *session_token is Kuma's JWT.
  // kTotpRequired when TOTP is empty and Kuma wants a code.
  bool Login(const std::string& username, const std::string& password, const std::string& totp,
             std::string* session_token, KumaAdminError* error);
  // loginByToken: kSessionRejected when Kuma does not accept it.
  bool LoginByToken(const std::string& session_token, KumaAdminError* error);
  // setup: creates the first user of a fresh Kuma (it does not log in).
  bool Setup(const std::string& username, const std::string& password, KumaAdminError* error);

  // After a login. The pushed `monitorList`: {"<id>": {id, name, type,
  // pushToken, parent, active, …}, …}, as Kuma sent it most recently.
  bool MonitorList(nlohmann::json* monitors, KumaAdminError* error);
  // The pushed `notificationList`: [{id, name, active, isDefault, …}, …].
  bool NotificationList(nlohmann::json* notifications, KumaAdminError* error);
  bool GetMonitor(int64_t id, nlohmann::json* monitor, KumaAdminError* error);
  // add: *id is the new monitor's id.
  bool AddMonitor(const nlohmann::json& monitor, int64_t* id, KumaAdminError* error);
  // editMonitor: MONITOR is the whole monitor (getMonitor, change, edit).
  bool EditMonitor(const nlohmann::json& monitor, KumaAdminError* error);
  bool PauseMonitor(int64_t id, KumaAdminError* error);
  bool ResumeMonitor(int64_t id, KumaAdminError* error);
  // getTags: [{id, name, color}, …].
  bool Tags(nlohmann::json* tags, KumaAdminError* error);
  bool AddTag(const std::string& name, const std::string& color, int64_t* id,
              KumaAdminError* error);
  bool AddMonitorTag(int64_t tag_id, int64_t monitor_id, const std::string& value,
                     KumaAdminError* error);

  // Socket.IO calls made so far.
  int calls() const { return session_->calls(); }
  SocketIoSession* session() { return session_.get(); }

 private:
  // Calls EVENT and checks that the answer is an object; WHAT names the
  // call in errors ("adding a monitor").
  bool CallForObject(const char* what, const std::string& event, const nlohmann::json& args,
                     nlohmann::json* answer, KumaAdminError* error);
  // CallForObject, then ok:true required (else kRefused with Kuma's msg).
  bool CallForOk(const char* what, const std::string& event, const nlohmann::json& args,
                 nlohmann::json* answer, KumaAdminError* error);

  std::unique_ptr<SocketIoSession> session_;
  std::chrono::milliseconds timeout_;
};

}  // namespace pbk
