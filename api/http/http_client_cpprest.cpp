// HttpClient on cpprestsdk: the only file that includes it. Built as the
// module pbk-http.so (see http_client.h for why).
//
// cpprestsdk's own certificate handling is not strict enough, so the checks
// are pinned in OpenSSL from the context callback:
//  - the trust store is replaced: only the configured CA file, or the
//    system's CA folder;
//  - IP mode: X509_VERIFY_PARAM_set1_ip_asc, SNI off (boost's rfc2818 check
//    would fall back to the subject CN for an IP, which is not acceptable);
//  - name mode: X509_VERIFY_PARAM_set1_host with NEVER_CHECK_SUBJECT, the
//    name sent as Host (cpprestsdk also uses it for SNI);
//  - a certificate-verify callback records OpenSSL's verdict, so a failure
//    can be told in words instead of "Error in SSL handshake".
// cpprestsdk's timeout is per phase, so the total deadline is enforced here
// by cancelling the request.
//
// One client keeps its connection: a process that pushes to many monitors
// in a row (refresh, flush) makes one TLS handshake, not one per push.
// cpprestsdk keeps kept-alive connections in the pool of each http_client,
// so one http_client per server is kept and used for every request to it.
// A connection the server has closed while it idled is detected on its
// next use, and that request is sent once more on a new connection.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cpprest/http_client.h>
#include <cstdlib>
#include <cstring>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <pplx/threadpool.h>
#include <thread>
#include <tuple>

#include "api/http/http_client.h"
#include "api/http/http_module.h"

namespace pbk {
namespace {

using Clock = std::chrono::steady_clock;

// What OpenSSL concluded about the server's certificate chain.
struct TlsVerdict {
  bool checked = false;
  int error = X509_V_OK;
  std::string subject;      // of the certificate the error is about
  std::string names;        // the leaf's subject alternative names
  std::string not_after;    // of the certificate the error is about
};

// What the set-up of new connections tells the request they were made for.
// The context callback runs only when a connection is made, not when one is
// reused, and on a library thread; a kept http_client makes its connections
// with one callback, so the callback writes here and Send() empties the
// report before each request it sends on that http_client.
struct ConnectionReport {
  std::mutex mutex;
  int new_connections = 0;
  TlsVerdict verdict;  // of the last handshake
};

std::string NameOf(X509_NAME* name) {
  if (name == nullptr) return {};
  char buffer[512];
  X509_NAME_oneline(name, buffer, sizeof buffer);
  return buffer;
}

std::string AsnTime(const ASN1_TIME* time) {
  if (time == nullptr) return {};
  BIO* bio = BIO_new(BIO_s_mem());
  ASN1_TIME_print(bio, time);
  char* data = nullptr;
  long length = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(length));
  BIO_free(bio);
  return out;
}

std::string SubjectAltNames(X509* cert) {
  std::string out;
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr,
                                                             nullptr));
  if (names == nullptr) return "none";
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    std::string entry;
    if (name->type == GEN_DNS) {
      const ASN1_IA5STRING* dns = name->d.dNSName;
      entry = "DNS:" + std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                                   static_cast<size_t>(ASN1_STRING_length(dns)));
    } else if (name->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* ip = name->d.iPAddress;
      char text[INET6_ADDRSTRLEN] = "?";
      int family = ASN1_STRING_length(ip) == 4 ? AF_INET : AF_INET6;
      inet_ntop(family, ASN1_STRING_get0_data(ip), text, sizeof text);
      entry = std::string("IP:") + text;
    } else {
      continue;
    }
    out += (out.empty() ? "" : ", ") + entry;
  }
  GENERAL_NAMES_free(names);
  return out.empty() ? "none" : out;
}

int VerifyChain(X509_STORE_CTX* store_ctx, void* arg) {
  auto* report = static_cast<ConnectionReport*>(arg);
  int ok = X509_verify_cert(store_ctx);
  std::lock_guard<std::mutex> lock(report->mutex);
  TlsVerdict* verdict = &report->verdict;
  verdict->checked = true;
  if (X509* leaf = X509_STORE_CTX_get0_cert(store_ctx)) verdict->names = SubjectAltNames(leaf);
  if (ok == 1) {
    verdict->error = X509_V_OK;
    return ok;
  }
  verdict->error = X509_STORE_CTX_get_error(store_ctx);
  // The library's own host check may refuse what OpenSSL accepted.
  if (verdict->error == X509_V_OK) verdict->error = X509_V_ERR_APPLICATION_VERIFICATION;
  if (X509* current = X509_STORE_CTX_get_current_cert(store_ctx)) {
    verdict->subject = NameOf(X509_get_subject_name(current));
    verdict->not_after = AsnTime(X509_get0_notAfter(current));
  }
  return ok;
}

std::string OpenSslErrors() {
  std::string out;
  while (unsigned long code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    out += (out.empty() ? "" : "; ") + std::string(buffer);
  }
  return out;
}

// cpprestsdk reports a refused connection as "host unreachable"; one plain
// connect() tells which it really was. It sends nothing but a SYN.
HttpError DiagnoseConnect(const HttpRequest& request, std::chrono::milliseconds budget,
                          const std::string& where) {
  HttpError error{HttpErrorKind::kUnreachable, where + "cannot connect"};
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return error;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(request.port);
  inet_pton(AF_INET, request.host.c_str(), &address.sin_addr);
  int result = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  int code = result == 0 ? 0 : errno;
  if (code == EINPROGRESS) {
    pollfd pfd{fd, POLLOUT, 0};
    int timeout = static_cast<int>(std::max<long long>(1, std::min<long long>(budget.count(), 2000)));
    if (poll(&pfd, 1, timeout) == 1) {
      socklen_t length = sizeof code;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &code, &length);
    } else {
      code = ETIMEDOUT;
    }
  }
  close(fd);
  switch (code) {
    case ECONNREFUSED:
      return {HttpErrorKind::kConnectionRefused,
              where + "connection refused (nothing listens on that port)"};
    case ETIMEDOUT:
      return {HttpErrorKind::kTimeout, where + "no answer to the connection attempt"};
    case EHOSTUNREACH:
    case ENETUNREACH:
      return {HttpErrorKind::kUnreachable, where + std::strerror(code)};
    case 0:
      return {HttpErrorKind::kConnectionClosed,
              where + "the connection failed, but the port accepts connections now"};
    default:
      return {HttpErrorKind::kUnreachable, where + std::strerror(code)};
  }
}

HttpError CertificateError(const TlsVerdict& verdict, const HttpRequest& request,
                           const TlsSettings& tls, const std::string& where) {
  const std::string reason = X509_verify_cert_error_string(verdict.error);
  const std::string trusted =
      tls.ca_file.empty() ? "the system's CA store" : "only " + tls.ca_file + " is trusted";
  switch (verdict.error) {
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return {HttpErrorKind::kNameMismatch,
              where + "the certificate is not valid for IP address " + request.host +
                  ": it must carry IP:" + request.host +
                  " as a subject alternative name (it carries " + verdict.names + ")"};
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_APPLICATION_VERIFICATION:
      return {HttpErrorKind::kNameMismatch,
              where + "the certificate is not valid for the name " + tls.server_name +
                  ": it must carry DNS:" + tls.server_name +
                  " as a subject alternative name (it carries " + verdict.names + ")"};
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return {HttpErrorKind::kCertificateExpired, where + "the certificate " + verdict.subject +
                                                      " expired on " + verdict.not_after};
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return {HttpErrorKind::kCertificateExpired,
              where + "the certificate " + verdict.subject + " is not valid yet"};
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_CERT_UNTRUSTED:
      return {HttpErrorKind::kUntrustedCertificate,
              where + "the certificate is not signed by a trusted CA (" + reason + "; " + trusted +
                  ")"};
    default:
      return {HttpErrorKind::kCertificateInvalid,
              where + "the certificate was refused: " + reason};
  }
}

// The trusted CAs. Parsing a certificate is costly in OpenSSL 3, so this is
// done once per client and shared by its connections. Without a CA file the
// system's hashed certificate folder is used, which loads only the issuer a
// server actually needs instead of the whole bundle.
X509_STORE* LoadTrustStore(const TlsSettings& tls, std::string* err) {
  X509_STORE* store = X509_STORE_new();
  if (store == nullptr) {
    *err = "cannot allocate a certificate store";
    return nullptr;
  }
  int loaded = tls.ca_file.empty() ? X509_STORE_load_path(store, X509_get_default_cert_dir())
                                   : X509_STORE_load_file(store, tls.ca_file.c_str());
  if (loaded != 1) {
    *err = tls.ca_file.empty()
               ? std::string("cannot use the system's CA folder ") + X509_get_default_cert_dir() +
                     ": " + OpenSslErrors()
               : "cannot use CA file " + tls.ca_file + ": " + OpenSslErrors();
    X509_STORE_free(store);
    return nullptr;
  }
  return store;
}

// What every new connection's TLS context is set up with. Shared with the
// context callbacks, which can outlive the client: a request it gave up on
// may still be running.
class TlsPolicy {
 public:
  // Takes ownership of STORE, the trusted CAs.
  TlsPolicy(std::string server_name, X509_STORE* store)
      : server_name_(std::move(server_name)), store_(store) {}
  ~TlsPolicy() { X509_STORE_free(store_); }
  TlsPolicy(const TlsPolicy&) = delete;
  TlsPolicy& operator=(const TlsPolicy&) = delete;

  // Replaces the trust store and pins the peer identity of a connection to
  // HOST. Runs for every new connection; a failure here makes the handshake
  // fail closed. The verdict goes to REPORT.
  void SetUpContext(boost::asio::ssl::context& context, const std::string& host,
                    ConnectionReport* report) const {
    SSL_CTX* native = context.native_handle();
    SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
    X509_STORE_up_ref(store_);
    SSL_CTX_set_cert_store(native, store_);  // takes a reference, frees the default store

    X509_VERIFY_PARAM* param = SSL_CTX_get0_param(native);
    if (server_name_.empty()) {
      X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
    } else {
      X509_VERIFY_PARAM_set_hostflags(
          param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS | X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
      X509_VERIFY_PARAM_set1_host(param, server_name_.c_str(), 0);
    }
    SSL_CTX_set_verify(native, SSL_VERIFY_PEER, nullptr);
    SSL_CTX_set_cert_verify_callback(native, VerifyChain, report);
  }

 private:
  std::string server_name_;
  X509_STORE* store_;
};

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

    web::http::http_request message(request.method);
    message.set_request_uri(web::uri(request.target));
    message.headers().add("User-Agent", "pbk-agent/" PBK_VERSION);
    if (!tls_.server_name.empty()) message.headers().add("Host", tls_.server_name);
    for (const auto& [name, value] : request.headers) message.headers().add(name, value);
    if (!request.body.empty()) message.set_body(request.body);
    channel.last_request = message._get_impl();

    auto client = channel.client;
    client->request(message, cancel.get_token())
        .then([exchange](web::http::http_response answer) {
          exchange->status = answer.status_code();
          exchange->reason = answer.reason_phrase();
          return answer.extract_utf8string(true);
        })
        .then([exchange, client](pplx::task<std::string> body) {
          try {
            exchange->body = body.get();
          } catch (...) {
            exchange->failure = std::current_exception();
          }
          exchange->done.set_value();
        });
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
  const std::string where = "connecting to " + request.host + ":" + std::to_string(request.port) +
                            (tls_.server_name.empty() ? "" : " (" + tls_.server_name + ")") + ": ";
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
    *error = CertificateError(attempt.verdict, request, tls_, where);
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
      *error = DiagnoseConnect(request, request.deadline - elapsed, where);
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

void InitializeOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    // cpprestsdk loads the whole system CA bundle for every connection
    // before our callback replaces the store (tens of ms per push). Pointing
    // OpenSSL's default file at an empty one makes that step free; the store
    // we install names its CAs explicitly. This runs before the library
    // starts its threads.
    setenv("SSL_CERT_FILE", "/dev/null", 1);
    setenv("SSL_CERT_DIR", "/nonexistent", 1);
    // The library starts 40 threads by default; one push needs two.
    crossplat::threadpool::initialize_with_threads(2);
  });
}

}  // namespace
}  // namespace pbk

// --- the plain C boundary (http_module.h) ----------------------------------
// Everything below catches everything: no exception may leave the module,
// whose C++ runtime is not the program's.

namespace pbk {
namespace {

std::string Text(pbk_bytes bytes) {
  return bytes.size == 0 ? std::string() : std::string(bytes.data, bytes.size);
}

void Fill(pbk_http_error* error, const std::string& text) {
  if (error == nullptr || error->text == nullptr || error->capacity == 0) return;
  const size_t n = std::min(text.size(), error->capacity - 1);
  std::memcpy(error->text, text.data(), n);
  error->text[n] = '\0';
}

// Only for the test that proves a fault inside the module is reported, not
// an abort: PBK_HTTP_MODULE_TEST_FAULT=std or =other makes every send throw.
void MaybeThrowForTest() {
  const char* fault = std::getenv("PBK_HTTP_MODULE_TEST_FAULT");
  if (fault == nullptr) return;
  if (std::strcmp(fault, "std") == 0) throw std::runtime_error("test fault inside the module");
  if (std::strcmp(fault, "other") == 0) throw 42;
}

}  // namespace
}  // namespace pbk

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
    pbk::TlsSettings tls{pbk::Text(tls_c->ca_file), pbk::Text(tls_c->server_name)};
    std::string err;
    // A CA file that cannot be used fails here, in words, rather than as an
    // untrusted certificate later.
    X509_STORE* store = pbk::LoadTrustStore(tls, &err);
    if (store == nullptr) {
      pbk::Fill(error, err);
      return nullptr;
    }
    auto policy = std::make_shared<const pbk::TlsPolicy>(tls.server_name, store);
    pbk::InitializeOnce();
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
  } catch (const std::exception& e) {
    pbk::Fill(error, std::string("internal error in the HTTP module: ") + e.what());
  } catch (...) {
    pbk::Fill(error, "internal error in the HTTP module: unknown exception");
  }
  return PBK_HTTP_OTHER;
}

}  // extern "C"
