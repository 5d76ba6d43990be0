// The WebSocket on cpprestsdk's client (websocketpp inside), in the module
// pbk-http.so, and the module's pbk_ws_* entries.
//
// The TLS checks are those of the HTTP client (module_tls.h), pinned in
// OpenSSL: certificate verification stays on, only the configured CA is
// trusted, IP mode checks the iPAddress SAN and sends no SNI, name mode sends
// the name as SNI and checks the DNS SAN. The library's own host check
// (rfc2818 against the URI's host, the address) is left out, as it would
// refuse a name-mode certificate. The Host header is the address and port:
// websocketpp writes it from the URI after the caller's headers. No Origin
// header is sent (websocketpp adds none), no proxy is used.
//
// Messages arrive on the library's thread and wait in a queue for
// Receive(). A message over kMaxWebSocketMessageBytes closes the connection
// with an error that says so (websocketpp's own limit is 32 MB).
#include <condition_variable>
#include <cpprest/ws_client.h>
#include <deque>
#include <future>
#include <memory>
#include <mutex>

#include "api/http/http_module.h"
#include "api/http/module_tls.h"
#include "api/http/websocket.h"

namespace pbk {
namespace {

namespace ws = web::websockets::client;
using Clock = std::chrono::steady_clock;

// What the library's thread hands to Receive().
struct Inbox {
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<std::string> messages;
  bool closed = false;
  HttpErrorKind close_kind = HttpErrorKind::kConnectionClosed;
  std::string close_reason;  // without the "connecting to …: " prefix

  void Close(HttpErrorKind kind, const std::string& reason) {
    std::lock_guard<std::mutex> lock(mutex);
    if (closed) return;
    closed = true;
    close_kind = kind;
    close_reason = reason;
    changed.notify_all();
  }
};

// Waits for a library task until DEADLINE; false on timeout. A failure of the
// task is rethrown by get(). The continuation observes the task either way,
// so a failure after a timeout is never left unobserved.
template <typename T>
std::future<void> Watch(pplx::task<T> task) {
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> future = done->get_future();
  task.then([done](pplx::task<T> finished) {
    try {
      finished.get();
      done->set_value();
    } catch (...) {
      done->set_exception(std::current_exception());
    }
  });
  return future;
}

class WsConnection {
 public:
  WsConnection(TlsSettings tls, std::string host, uint16_t port)
      : tls_(std::move(tls)), host_(std::move(host)), port_(port),
        where_(Where(host_, port_, tls_)) {}
  ~WsConnection() { Close(); }
  WsConnection(const WsConnection&) = delete;
  WsConnection& operator=(const WsConnection&) = delete;

  bool Connect(std::shared_ptr<const TlsPolicy> policy, const pbk_ws_request& request,
               HttpError* error);
  bool SendText(const std::string& text, std::chrono::milliseconds deadline, HttpError* error);
  int Receive(std::string* message, std::chrono::milliseconds deadline, HttpError* error);
  void Close();

 private:
  HttpError ConnectFailure(std::exception_ptr failure, std::chrono::milliseconds left);

  TlsSettings tls_;
  std::string host_;
  uint16_t port_;
  std::string where_;
  std::shared_ptr<Inbox> inbox_ = std::make_shared<Inbox>();
  std::shared_ptr<ConnectionReport> report_ = std::make_shared<ConnectionReport>();
  std::unique_ptr<ws::websocket_callback_client> client_;
  bool open_ = false;
};

bool WsConnection::Connect(std::shared_ptr<const TlsPolicy> policy, const pbk_ws_request& request,
                           HttpError* error) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(request.deadline_ms);
  ws::websocket_client_config config;
  config.set_validate_certificates(true);
  if (tls_.server_name.empty()) {
    config.disable_sni();
  } else {
    config.set_server_name(tls_.server_name);
  }
  config.set_ssl_context_callback(
      [policy, host = host_, report = report_](boost::asio::ssl::context& context) {
        policy->SetUpContext(context, host, report.get(), /*pinned_only=*/true);
      });
  config.headers().add("User-Agent", "pbk-agent/" PBK_VERSION);
  for (size_t i = 0; i < request.header_count; ++i) {
    config.headers().add(Text(request.headers[i].name), Text(request.headers[i].value));
  }
  client_ = std::make_unique<ws::websocket_callback_client>(config);
  std::weak_ptr<Inbox> weak_inbox = inbox_;
  client_->set_message_handler([weak_inbox](const ws::websocket_incoming_message& message) {
    auto inbox = weak_inbox.lock();
    if (!inbox) return;
    if (message.message_type() == ws::websocket_message_type::binary_message) {
      inbox->Close(HttpErrorKind::kOther, "the server sent a binary message (text only here)");
      return;
    }
    if (message.message_type() != ws::websocket_message_type::text_message) return;
    if (message.length() > kMaxWebSocketMessageBytes) {
      inbox->Close(HttpErrorKind::kOther,
                   "the server sent a message of " + std::to_string(message.length()) +
                       " bytes, more than the " +
                       std::to_string(kMaxWebSocketMessageBytes >> 20) + " MiB allowed");
      return;
    }
    // Nothing may escape into the library's thread.
    try {
      std::string text = message.extract_string().get();
      std::lock_guard<std::mutex> lock(inbox->mutex);
      inbox->messages.push_back(std::move(text));
      inbox->changed.notify_all();
    } catch (const std::exception& e) {
      inbox->Close(HttpErrorKind::kOther, std::string("cannot read a message: ") + e.what());
    }
  });
  client_->set_close_handler([weak_inbox](ws::websocket_close_status status,
                                          const utility::string_t& reason,
                                          const std::error_code& code) {
    auto inbox = weak_inbox.lock();
    if (!inbox) return;
    if (code) {
      inbox->Close(HttpErrorKind::kConnectionClosed, "the connection broke: " + code.message());
    } else {
      inbox->Close(HttpErrorKind::kConnectionClosed,
                   "the server closed the WebSocket (code " +
                       std::to_string(static_cast<int>(status)) +
                       (reason.empty() ? "" : ", " + reason) + ")");
    }
  });

  const std::string uri = "wss://" + host_ + ":" + std::to_string(port_) + Text(request.target);
  std::future<void> connected = Watch(client_->connect(web::uri(uri)));
  if (connected.wait_until(deadline) == std::future_status::timeout) {
    // The library ends its own attempt within its phase timeouts (5 s
    // each); the client's destructor waits for that.
    *error = {HttpErrorKind::kTimeout,
              where_ + "no WebSocket within " +
                  std::to_string((request.deadline_ms + 999) / 1000) + " s"};
    return false;
  }
  try {
    connected.get();
  } catch (...) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    *error = ConnectFailure(std::current_exception(), left);
    return false;
  }
  open_ = true;
  return true;
}

// Why the WebSocket could not be opened, in the words a push would use.
HttpError WsConnection::ConnectFailure(std::exception_ptr failure, std::chrono::milliseconds left) {
  TlsVerdict verdict;
  {
    std::lock_guard<std::mutex> lock(report_->mutex);
    verdict = report_->verdict;
  }
  if (verdict.checked && verdict.error != X509_V_OK) {
    return CertificateError(verdict, host_, tls_, where_);
  }
  std::string what = "unknown failure";
  try {
    std::rethrow_exception(failure);
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
  }
  // A port that does not take connections is told as for pushes.
  HttpError diagnosis = DiagnoseConnect(host_, port_, std::max(left, std::chrono::milliseconds(500)),
                                        where_);
  if (diagnosis.kind != HttpErrorKind::kConnectionClosed) return diagnosis;
  if (what.find("TLS") != std::string::npos || what.find("SSL") != std::string::npos ||
      what.find("handshake") != std::string::npos) {
    if (!verdict.checked) {
      return {HttpErrorKind::kTlsHandshake, where_ + "TLS handshake failed: " + what};
    }
  }
  if (what.find("HTTP status") != std::string::npos || what.find("upgrade") != std::string::npos) {
    return {HttpErrorKind::kOther,
            where_ + "the server did not accept a WebSocket at that address (" + what + ")"};
  }
  return {HttpErrorKind::kOther, where_ + "cannot open a WebSocket: " + what};
}

bool WsConnection::SendText(const std::string& text, std::chrono::milliseconds deadline,
                            HttpError* error) {
  if (!open_) {
    *error = {HttpErrorKind::kConnectionClosed, where_ + "the WebSocket is closed"};
    return false;
  }
  {
    std::lock_guard<std::mutex> lock(inbox_->mutex);
    if (inbox_->closed) {
      *error = {inbox_->close_kind, where_ + inbox_->close_reason};
      return false;
    }
  }
  ws::websocket_outgoing_message message;
  message.set_utf8_message(text);
  std::future<void> sent = Watch(client_->send(message));
  if (sent.wait_for(deadline) == std::future_status::timeout) {
    *error = {HttpErrorKind::kTimeout, where_ + "could not send within " +
                                           std::to_string((deadline.count() + 999) / 1000) + " s"};
    return false;
  }
  try {
    sent.get();
  } catch (const std::exception& e) {
    *error = {HttpErrorKind::kConnectionClosed, where_ + "sending failed: " + e.what()};
    return false;
  }
  return true;
}

int WsConnection::Receive(std::string* message, std::chrono::milliseconds deadline,
                          HttpError* error) {
  std::unique_lock<std::mutex> lock(inbox_->mutex);
  inbox_->changed.wait_for(lock, deadline,
                           [&] { return !inbox_->messages.empty() || inbox_->closed; });
  if (!inbox_->messages.empty()) {
    *message = std::move(inbox_->messages.front());
    inbox_->messages.pop_front();
    return PBK_WS_MESSAGE;
  }
  if (inbox_->closed) {
    *error = {inbox_->close_kind, where_ + inbox_->close_reason};
    return PBK_WS_CLOSED;
  }
  return PBK_WS_TIMEOUT;
}

void WsConnection::Close() {
  if (!client_) return;
  if (open_) {
    open_ = false;
    std::future<void> closed = Watch(client_->close());
    closed.wait_for(std::chrono::seconds(2));
  }
  inbox_->Close(HttpErrorKind::kConnectionClosed, "the WebSocket was closed");
  client_.reset();
}

}  // namespace
}  // namespace pbk

// --- the plain C boundary (http_module.h) ----------------------------------
// Everything below catches everything: no exception may leave the module.

struct pbk_ws {
  std::unique_ptr<pbk::WsConnection> connection;
};

extern "C" {

__attribute__((visibility("default"))) pbk_ws* pbk_ws_connect(const pbk_http_tls* tls_c,
                                                               const pbk_ws_request* request,
                                                               int* code,
                                                               pbk_http_error* error) noexcept {
  *code = PBK_HTTP_OTHER;
  try {
    pbk::MaybeThrowForTest();
    pbk::TlsSettings tls;
    std::string err;
    auto policy = pbk::PreparePolicy(tls_c, &tls, &err);
    if (!policy) {
      pbk::Fill(error, err);
      return nullptr;
    }
    auto handle = std::make_unique<pbk_ws>();
    handle->connection =
        std::make_unique<pbk::WsConnection>(tls, pbk::Text(request->host), request->port);
    pbk::HttpError failure;
    if (!handle->connection->Connect(std::move(policy), *request, &failure)) {
      *code = static_cast<int>(failure.kind);
      pbk::Fill(error, failure.message);
      return nullptr;
    }
    *code = PBK_HTTP_OK;
    return handle.release();
  } catch (...) {
    pbk::FillInternalError(error);
  }
  return nullptr;
}

__attribute__((visibility("default"))) int pbk_ws_send_text(pbk_ws* ws, pbk_bytes text,
                                                            int64_t deadline_ms,
                                                            pbk_http_error* error) noexcept {
  try {
    pbk::MaybeThrowForTest();
    pbk::HttpError failure;
    if (ws->connection->SendText(pbk::Text(text), std::chrono::milliseconds(deadline_ms),
                                 &failure)) {
      return PBK_HTTP_OK;
    }
    pbk::Fill(error, failure.message);
    return static_cast<int>(failure.kind);
  } catch (...) {
    pbk::FillInternalError(error);
  }
  return PBK_HTTP_OTHER;
}

__attribute__((visibility("default"))) int pbk_ws_receive(pbk_ws* ws, const pbk_ws_sink* sink,
                                                          int64_t deadline_ms,
                                                          pbk_http_error* error) noexcept {
  try {
    pbk::MaybeThrowForTest();
    std::string message;
    pbk::HttpError failure;
    const int result =
        ws->connection->Receive(&message, std::chrono::milliseconds(deadline_ms), &failure);
    if (result == PBK_WS_MESSAGE) sink->append(sink->context, message.data(), message.size());
    if (result == PBK_WS_CLOSED) pbk::Fill(error, failure.message);
    return result;
  } catch (...) {
    pbk::FillInternalError(error);
  }
  return PBK_HTTP_OTHER;
}

__attribute__((visibility("default"))) void pbk_ws_close(pbk_ws* ws) noexcept {
  try {
    delete ws;
  } catch (...) {
    // A destructor that throws is a bug of the library; the process goes on.
  }
}

}  // extern "C"
