// What the HTTP module's clients share (module_http.cpp, module_ws.cpp):
// the pinned TLS checks, the words for a refused certificate or connection,
// and the helpers of the plain C boundary. Included only by the module.
//
// cpprestsdk's own certificate handling is not strict enough, so the checks
// are pinned in OpenSSL from the context callback:
//  - the trust store is replaced: only the configured CA file, or the
//    system's CA folder;
//  - IP mode: X509_VERIFY_PARAM_set1_ip_asc, SNI off (boost's rfc2818 check
//    would fall back to the subject CN for an IP, which is not acceptable);
//  - name mode: X509_VERIFY_PARAM_set1_host with NEVER_CHECK_SUBJECT, the
//    name sent as SNI;
//  - a certificate-verify callback records OpenSSL's verdict, so a failure
//    can be told in words instead of "Error in SSL handshake".
#pragma once

#include <openssl/ssl.h>

#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "api/http/http_client.h"
#include "api/http/http_module.h"

namespace pbk {

// What OpenSSL concluded about the server's certificate chain.
struct TlsVerdict {
  bool checked = false;
  int error = X509_V_OK;
  std::string subject;    // of the certificate the error is about
  std::string names;      // the leaf's subject alternative names
  std::string not_after;  // of the certificate the error is about
};

// What the set-up of new connections tells the request they were made for.
// The context callback runs only when a connection is made, not when one is
// reused, and on a library thread: it writes here, under the mutex.
struct ConnectionReport {
  std::mutex mutex;
  int new_connections = 0;
  TlsVerdict verdict;  // of the last handshake
};

// A refused connection as cpprestsdk reports it is "host unreachable"; one
// plain connect() tells which it really was. It sends nothing but a SYN.
HttpError DiagnoseConnect(const std::string& host, uint16_t port,
                          std::chrono::milliseconds budget, const std::string& where);

// A certificate OpenSSL refused, in words.
HttpError CertificateError(const TlsVerdict& verdict, const std::string& host,
                           const TlsSettings& tls, const std::string& where);

// "connecting to 192.0.2.10:3001 (kuma.example): ".
std::string Where(const std::string& host, uint16_t port, const TlsSettings& tls);

// The trusted CAs, loaded once per client. Null with *err when unusable.
X509_STORE* LoadTrustStore(const TlsSettings& tls, std::string* err);

// What every new connection's TLS context is set up with. Shared with the
// context callbacks, which can outlive the client.
class TlsPolicy {
 public:
  // Takes ownership of STORE, the trusted CAs.
  TlsPolicy(std::string server_name, X509_STORE* store)
      : server_name_(std::move(server_name)), store_(store) {}
  ~TlsPolicy() { X509_STORE_free(store_); }
  TlsPolicy(const TlsPolicy&) = delete;
  TlsPolicy& operator=(const TlsPolicy&) = delete;

  // Replaces the trust store and pins the peer identity of a connection to
  // HOST (or the server name). Runs for every new connection; a failure here
  // makes the handshake fail closed. The verdict goes to REPORT. With
  // PINNED_ONLY, OpenSSL's pinned checks are the only ones: the library's own
  // per-certificate callback (the WebSocket client's compares the URI's host,
  // the address, even in name mode) is not consulted.
  void SetUpContext(boost::asio::ssl::context& context, const std::string& host,
                    ConnectionReport* report, bool pinned_only = false) const;
  const std::string& server_name() const { return server_name_; }

 private:
  std::string server_name_;
  X509_STORE* store_;
};

// Once per process, before the library starts its threads.
void InitializeOnce();

// What every client and WebSocket of the module starts with: the caller's
// TLS settings into *TLS, the trusted CAs loaded, the policy built and the
// library initialised. Null with *err in words when the CA file cannot be
// used, so that this fails here rather than as an untrusted certificate later.
std::shared_ptr<const TlsPolicy> PreparePolicy(const pbk_http_tls* tls_c, TlsSettings* tls,
                                               std::string* err);

// --- the plain C boundary -------------------------------------------------------

inline std::string Text(pbk_bytes bytes) {
  return bytes.size == 0 ? std::string() : std::string(bytes.data, bytes.size);
}

// Writes TEXT into the caller's buffer, cut to its capacity.
void Fill(pbk_http_error* error, const std::string& text);

// Only inside a catch block: the exception being handled, as "internal error
// in the HTTP module: …" into ERROR. Nothing leaves it.
void FillInternalError(pbk_http_error* error) noexcept;

// Only for the test that proves a fault inside the module is reported, not
// an abort: PBK_HTTP_MODULE_TEST_FAULT=std or =other makes every send throw.
void MaybeThrowForTest();

}  // namespace pbk
