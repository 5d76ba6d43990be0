// HttpClient on cpprestsdk, in the module pbk-http.so (see http_client.h for
// why), and the module's pbk_http_* entries. The TLS checks it pins are in
// module_tls.h.
//
// cpprestsdk's timeout is per phase, so the total deadline is enforced here
// by cancelling the request. An answer's body is read up to
// kMaxHttpBodyBytes; a longer one is an error that says so.
//
// One client keeps its connection: a process that pushes to many monitors
// in a row (refresh, flush) makes one TLS handshake, not one per push.
// cpprestsdk keeps kept-alive connections in the pool of each http_client,
// so one http_client per server is kept and used for every request to it.
// A connection the server has closed while it idled is detected on its
// next use, and that request is sent once more on a new connection.
#include <openssl/err.h>

#include <cerrno>
#include <cpprest/http_client.h>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <tuple>

#include "api/http/http_client.h"
#include "api/http/http_module.h"
#include "api/http/module_tls.h"

namespace pbk {
namespace {

using Clock = std::chrono::steady_clock;

// No answer of Kuma's or PVE's comes near this; a server sending more is not
// one of them.
constexpr uint64_t kMaxHttpBodyBytes = 4u << 20;

std::string TooLarge(uint64_t size) {
  return "the answer's body is " + std::to_string(size) + " bytes, more than the " +
         std::to_string(kMaxHttpBodyBytes >> 20) + " MiB allowed";
}

// A server as requests reach it. cpprestsdk's timeout belongs to the
// http_client, so a request with another deadline gets an http_client (and
// a connection) of its own.
struct ServerKey {
  std::string host;
  uint16_t port = 0;
  std::chrono::milliseconds deadline{0};

  bool operator<(const ServerKey& other) const {
    return std::tie(host, port, deadline) < std::tie(other.host, other.port, other.deadline);
  }
};

// The http_client kept for one server; the connection it keeps alive is in
// its pool.
struct Channel {
  std::shared_ptr<web::http::client::http_client> client;
  std::shared_ptr<ConnectionReport> report;
  // The last request sent on it. cpprestsdk puts the connection back into
  // the pool when that request's context ends, which can be a moment after
  // the answer was handed over, on a library thread.
  std::weak_ptr<web::http::details::_http_request> last_request;
};

// State shared with the request's continuation, which may outlive Send()
// when a request ignores its cancellation.
struct Exchange {
  std::promise<void> done;
  int status = 0;
  std::string reason;
  std::string body;
  std::exception_ptr failure;
};

// How one try of a request ended.
struct Attempt {
  enum class Result { kAnswered, kFailed, kTimedOut, kNotSent };
  Result result = Result::kNotSent;
  std::shared_ptr<Exchange> exchange;
  std::string not_sent;         // kNotSent: why
  bool new_connection = false;  // a connection was made for it, not only reused
  TlsVerdict verdict;           // of that connection's handshake
};

// Whether ATTEMPT failed only because the kept-alive connection it was sent
// on had been closed by the server meanwhile (idle, or restarted): no new
// connection was made for it, and writing the request, or waiting for the
// first line of an answer, found the connection closed or reset. cpprestsdk
// itself resends a request whose status line could not be read on a reused
// connection; that resend makes a new connection, so it is never resent a
// second time here.
bool FailedOnClosedKeptConnection(const Attempt& attempt) {
  if (attempt.result != Attempt::Result::kFailed || attempt.new_connection) return false;
  try {
    std::rethrow_exception(attempt.exchange->failure);
  } catch (const web::http::http_exception& e) {
    const std::string what = e.what();
    const bool before_answer = what == "Failed to write request headers" ||
                               what == "Failed to write request body" ||
                               what == "Failed to read HTTP status line";
    switch (e.error_code().value()) {
      case ECONNRESET:
      case ECONNABORTED:
      case EPIPE:
      case EHOSTUNREACH:  // cpprestsdk's name for EPIPE while writing the request
        return before_answer;
      default:
        return false;
    }
  } catch (...) {
    return false;
  }
}

class CpprestHttpClient final : public HttpClient {
 public:
  CpprestHttpClient(TlsSettings tls, std::shared_ptr<const TlsPolicy> policy)
      : tls_(std::move(tls)), policy_(std::move(policy)) {}
  CpprestHttpClient(const CpprestHttpClient&) = delete;
  CpprestHttpClient& operator=(const CpprestHttpClient&) = delete;

  // Not thread-safe: one thread at a time may call Send() on a client. Each
  // request is sent once the previous one has ended, on the connection the
  // previous one used when the server kept it open.
  bool Send(const HttpRequest& request, HttpResponse* response, HttpError* error) override;

 private:
  // Sends REQUEST once on the kept connection to its server, or on a new one,
  // and waits until DEADLINE. Forgets the server's http_client (and its
  // connection) unless there was an answer.
  Attempt SendOnce(const HttpRequest& request, Clock::time_point deadline);
  Channel& ChannelFor(const ServerKey& key);
  // REQUEST as cpprestsdk sends it, with our User-Agent and Host.
  web::http::http_request MessageFor(const HttpRequest& request) const;

  TlsSettings tls_;
  std::shared_ptr<const TlsPolicy> policy_;
  std::map<ServerKey, Channel> channels_;
};

Channel& CpprestHttpClient::ChannelFor(const ServerKey& key) {
  Channel& channel = channels_[key];
  if (channel.client) return channel;
  web::http::client::http_client_config config;
  config.set_timeout(key.deadline);
  config.set_max_redirects(0);
  config.set_validate_certificates(true);
  config.set_tlsext_sni_enabled(!tls_.server_name.empty());
  auto report = std::make_shared<ConnectionReport>();
  config.set_ssl_context_callback(
      [policy = policy_, host = key.host, report](boost::asio::ssl::context& context) {
        {
          std::lock_guard<std::mutex> lock(report->mutex);
          ++report->new_connections;
        }
        policy->SetUpContext(context, host, report.get());
      });
  channel.client = std::make_shared<web::http::client::http_client>(
      web::uri("https://" + key.host + ":" + std::to_string(key.port)), config);
  channel.report = std::move(report);
  return channel;
}

// Waits until the previous request on CHANNEL has put its connection back
// into the pool, so that the next one finds it there instead of opening
// another. That is a matter of microseconds after its answer; should it take
// longer, the next request simply makes a new connection.
void AwaitRelease(const Channel& channel) {
  const auto limit = Clock::now() + std::chrono::milliseconds(100);
  while (!channel.last_request.expired() && Clock::now() < limit) {
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

web::http::http_request CpprestHttpClient::MessageFor(const HttpRequest& request) const {
  web::http::http_request message(request.method);
  message.set_request_uri(web::uri(request.target));
  message.headers().add("User-Agent", "pbk-agent/" PBK_VERSION);
  if (!tls_.server_name.empty()) message.headers().add("Host", tls_.server_name);
  for (const auto& [name, value] : request.headers) message.headers().add(name, value);
  if (!request.body.empty()) message.set_body(request.body);
  return message;
}

// Sends MESSAGE on CLIENT; what comes back (or the failure) lands in
// EXCHANGE, whose promise is kept in every case.
void StartExchange(const std::shared_ptr<web::http::client::http_client>& client,
                   web::http::http_request message, const pplx::cancellation_token& token,
                   const std::shared_ptr<Exchange>& exchange) {
  client->request(message, token)
      .then([exchange](web::http::http_response answer) {
        exchange->status = answer.status_code();
        exchange->reason = answer.reason_phrase();
        // A declared length past the bound is refused unread; a chunked
        // body is checked once read (the deadline bounds its reading).
        if (answer.headers().has(web::http::header_names::content_length) &&
            answer.headers().content_length() > kMaxHttpBodyBytes) {
          throw std::runtime_error(TooLarge(answer.headers().content_length()));
        }
        return answer.extract_utf8string(true);
      })
      .then([exchange, client](pplx::task<std::string> body) {
        try {
          exchange->body = body.get();
          if (const size_t size = exchange->body.size(); size > kMaxHttpBodyBytes) {
            exchange->body.clear();
            throw std::runtime_error(TooLarge(size));
          }
        } catch (...) {
          exchange->failure = std::current_exception();
        }
        exchange->done.set_value();
      });
}

Attempt CpprestHttpClient::SendOnce(const HttpRequest& request, Clock::time_point deadline) {
  Attempt attempt;
  const ServerKey key{request.host, request.port, request.deadline};
  auto exchange = std::make_shared<Exchange>();
  attempt.exchange = exchange;
  pplx::cancellation_token_source cancel;
  std::shared_ptr<ConnectionReport> report;
  try {
    Channel& channel = ChannelFor(key);
    AwaitRelease(channel);
    report = channel.report;
    {
      // Send() runs in one thread at a time, and a channel whose request
      // failed is dropped, so nothing else writes to the report now but the
      // set-up of a connection for this request.
      std::lock_guard<std::mutex> lock(report->mutex);
      report->new_connections = 0;
      report->verdict = TlsVerdict();
    }
    web::http::http_request message = MessageFor(request);
    channel.last_request = message._get_impl();
    StartExchange(channel.client, std::move(message), cancel.get_token(), exchange);
  } catch (const std::exception& e) {
    channels_.erase(key);
    attempt.not_sent = e.what();
    return attempt;
  }

  auto finished = exchange->done.get_future();
  if (finished.wait_until(deadline) == std::future_status::timeout) {
    attempt.result = Attempt::Result::kTimedOut;
    // Cancelling closes this request's connection, which ends every pending
    // operation; the wait is bounded so a misbehaving library cannot hold
    // the caller.
    cancel.cancel();
    finished.wait_for(std::chrono::seconds(2));
  } else if (exchange->failure) {
    attempt.result = Attempt::Result::kFailed;
  } else {
    attempt.result = Attempt::Result::kAnswered;
  }
  {
    std::lock_guard<std::mutex> lock(report->mutex);
    attempt.new_connection = report->new_connections > 0;
    attempt.verdict = report->verdict;
  }
  // After any failure the next request starts afresh: the connection may
  // be half-used or dead.
  if (attempt.result != Attempt::Result::kAnswered) channels_.erase(key);
  return attempt;
}

bool CpprestHttpClient::Send(const HttpRequest& request, HttpResponse* response,
                             HttpError* error) {
  const auto start = Clock::now();
  const auto deadline = start + request.deadline;
  const std::string where = Where(request.host, request.port, tls_);
  Attempt attempt = SendOnce(request, deadline);
  // The server closed the connection while it was kept, before it read the
  // request: sent once more, on a new connection, within the same deadline.
  if (FailedOnClosedKeptConnection(attempt) && Clock::now() < deadline) {
    attempt = SendOnce(request, deadline);
  }
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);

  switch (attempt.result) {
    case Attempt::Result::kNotSent:
      *error = {HttpErrorKind::kOther, where + "cannot send the request: " + attempt.not_sent};
      return false;
    case Attempt::Result::kTimedOut:
      *error = {HttpErrorKind::kTimeout,
                where + "no complete answer within " +
                    std::to_string((request.deadline.count() + 999) / 1000) + " s"};
      return false;
    case Attempt::Result::kAnswered:
      response->status = attempt.exchange->status;
      response->reason = attempt.exchange->reason;
      response->body = std::move(attempt.exchange->body);
      return true;
    case Attempt::Result::kFailed:
      break;
  }

  if (attempt.verdict.checked && attempt.verdict.error != X509_V_OK) {
    *error = CertificateError(attempt.verdict, request.host, tls_, where);
    return false;
  }
  try {
    std::rethrow_exception(attempt.exchange->failure);
  } catch (const web::http::http_exception& e) {
    const std::string what = e.what();
    const int code = e.error_code().value();
    if (code == ETIMEDOUT) {
      *error = {HttpErrorKind::kTimeout, where + "no answer within " +
                                             std::to_string((request.deadline.count() + 999) / 1000) +
                                             " s"};
    } else if (what.find("connect") != std::string::npos &&
               what.find("SSL") == std::string::npos) {
      *error = DiagnoseConnect(request.host, request.port, request.deadline - elapsed, where);
    } else if (what.find("SSL handshake") != std::string::npos) {
      const char* reason = ERR_reason_error_string(static_cast<unsigned long>(code));
      *error = {HttpErrorKind::kTlsHandshake,
                where + "TLS handshake failed: " + (reason != nullptr ? reason : what)};
    } else if (code == ECONNRESET || code == ECONNABORTED || code == EPIPE) {
      *error = {HttpErrorKind::kConnectionClosed, where + "the server closed the connection"};
    } else {
      *error = {HttpErrorKind::kOther, where + what};
    }
  } catch (const std::exception& e) {
    *error = {HttpErrorKind::kOther, where + e.what()};
  } catch (...) {
    *error = {HttpErrorKind::kOther, where + "unknown failure"};
  }
  return false;
}

}  // namespace
}  // namespace pbk

// --- the plain C boundary (http_module.h) ----------------------------------
// Everything below catches everything: no exception may leave the module,
// whose C++ runtime is not the program's.

struct pbk_http_client {
  std::unique_ptr<pbk::HttpClient> client;
};

extern "C" {

__attribute__((visibility("default"))) uint32_t pbk_http_abi_version(void) noexcept {
  return PBK_HTTP_ABI_VERSION;
}

__attribute__((visibility("default"))) pbk_http_client* pbk_http_client_new(
    const pbk_http_tls* tls_c, pbk_http_error* error) noexcept {
  try {
    pbk::TlsSettings tls;
    std::string err;
    auto policy = pbk::PreparePolicy(tls_c, &tls, &err);
    if (!policy) {
      pbk::Fill(error, err);
      return nullptr;
    }
    auto handle = std::make_unique<pbk_http_client>();
    handle->client = std::make_unique<pbk::CpprestHttpClient>(tls, std::move(policy));
    return handle.release();
  } catch (const std::exception& e) {
    pbk::Fill(error, std::string("cannot set up the HTTP client: ") + e.what());
  } catch (...) {
    pbk::Fill(error, "cannot set up the HTTP client: unknown failure");
  }
  return nullptr;
}

__attribute__((visibility("default"))) void pbk_http_client_free(pbk_http_client* client) noexcept {
  try {
    delete client;
  } catch (...) {
    // A destructor that throws is a bug of the library; the process goes on.
  }
}

__attribute__((visibility("default"))) int pbk_http_send(pbk_http_client* client,
                                                         const pbk_http_request* request_c,
                                                         pbk_http_response* response_c,
                                                         pbk_http_error* error) noexcept {
  try {
    pbk::MaybeThrowForTest();
    pbk::HttpRequest request;
    request.method = pbk::Text(request_c->method);
    request.host = pbk::Text(request_c->host);
    request.port = request_c->port;
    request.target = pbk::Text(request_c->target);
    for (size_t i = 0; i < request_c->header_count; ++i) {
      request.headers.emplace_back(pbk::Text(request_c->headers[i].name),
                                   pbk::Text(request_c->headers[i].value));
    }
    request.body = pbk::Text(request_c->body);
    request.deadline = std::chrono::milliseconds(request_c->deadline_ms);
    pbk::HttpResponse response;
    pbk::HttpError failure;
    if (!client->client->Send(request, &response, &failure)) {
      pbk::Fill(error, failure.message);
      return static_cast<int>(failure.kind);
    }
    response_c->status = response.status;
    response_c->append(response_c->context, 0, response.reason.data(), response.reason.size());
    response_c->append(response_c->context, 1, response.body.data(), response.body.size());
    return PBK_HTTP_OK;
  } catch (...) {
    pbk::FillInternalError(error);
  }
  return PBK_HTTP_OTHER;
}

}  // extern "C"
