// The HTTP module's shared TLS checks and boundary helpers (module_tls.h).
#include "api/http/module_tls.h"

#include <memory>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <pplx/threadpool.h>
#include <stdexcept>

namespace pbk {
namespace {

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

// The same, with the library's per-certificate callback left out: the
// pinned host or address in the verify parameters decides.
int KeepVerdict(int ok, X509_STORE_CTX*) { return ok; }

int VerifyChainPinned(X509_STORE_CTX* store_ctx, void* arg) {
  // OpenSSL calls the per-certificate callback unconditionally: one that
  // keeps its verdict replaces the library's.
  X509_STORE_CTX_set_verify_cb(store_ctx, KeepVerdict);
  return VerifyChain(store_ctx, arg);
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

}  // namespace

HttpError DiagnoseConnect(const std::string& host, uint16_t port,
                          std::chrono::milliseconds budget, const std::string& where) {
  HttpError error{HttpErrorKind::kUnreachable, where + "cannot connect"};
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return error;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  inet_pton(AF_INET, host.c_str(), &address.sin_addr);
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

HttpError CertificateError(const TlsVerdict& verdict, const std::string& host,
                           const TlsSettings& tls, const std::string& where) {
  const std::string reason = X509_verify_cert_error_string(verdict.error);
  const std::string trusted =
      tls.ca_file.empty() ? "the system's CA store" : "only " + tls.ca_file + " is trusted";
  switch (verdict.error) {
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return {HttpErrorKind::kNameMismatch,
              where + "the certificate is not valid for IP address " + host +
                  ": it must carry IP:" + host +
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

std::string Where(const std::string& host, uint16_t port, const TlsSettings& tls) {
  return "connecting to " + host + ":" + std::to_string(port) +
         (tls.server_name.empty() ? "" : " (" + tls.server_name + ")") + ": ";
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

void TlsPolicy::SetUpContext(boost::asio::ssl::context& context, const std::string& host,
                             ConnectionReport* report, bool pinned_only) const {
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
  SSL_CTX_set_cert_verify_callback(native, pinned_only ? VerifyChainPinned : VerifyChain, report);
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

void Fill(pbk_http_error* error, const std::string& text) {
  if (error == nullptr || error->text == nullptr || error->capacity == 0) return;
  const size_t n = std::min(text.size(), error->capacity - 1);
  std::memcpy(error->text, text.data(), n);
  error->text[n] = '\0';
}

void FillInternalError(pbk_http_error* error) noexcept {
  try {
    throw;
  } catch (const std::exception& e) {
    try {
      Fill(error, std::string("internal error in the HTTP module: ") + e.what());
    } catch (...) {
      // No memory for the words: the caller still gets the failure code.
    }
  } catch (...) {
    try {
      Fill(error, "internal error in the HTTP module: unknown exception");
    } catch (...) {
    }
  }
}

std::shared_ptr<const TlsPolicy> PreparePolicy(const pbk_http_tls* tls_c, TlsSettings* tls,
                                               std::string* err) {
  *tls = TlsSettings{Text(tls_c->ca_file), Text(tls_c->server_name)};
  X509_STORE* store = LoadTrustStore(*tls, err);
  if (store == nullptr) return nullptr;
  auto policy = std::make_shared<const TlsPolicy>(tls->server_name, store);
  InitializeOnce();
  return policy;
}

void MaybeThrowForTest() {
  const char* fault = std::getenv("PBK_HTTP_MODULE_TEST_FAULT");
  if (fault == nullptr) return;
  if (std::strcmp(fault, "std") == 0) throw std::runtime_error("test fault inside the module");
  if (std::strcmp(fault, "other") == 0) throw 42;
}

}  // namespace pbk
