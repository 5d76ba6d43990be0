#include "tests/support/test_certs.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <system_error>
#include <utility>
#include <vector>

namespace pbk::testing {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct ExtensionFree {
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free_all(p); }
};
struct BignumFree {
  void operator()(BIGNUM* p) const { BN_free(p); }
};

using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using ExtensionPtr = std::unique_ptr<X509_EXTENSION, ExtensionFree>;
using BioPtr = std::unique_ptr<BIO, BioFree>;
using BignumPtr = std::unique_ptr<BIGNUM, BignumFree>;

struct CertSpec {
  const char* name;  // file stem: <name>.pem and <name>.key
  const char* common_name;
  const char* alt_names;  // subjectAltName in openssl config syntax; null for a CA
  const char* issuer;     // stem of the signing CA; null for a self-signed CA
  int not_before_days;    // relative to now
  int not_after_days;
};

// CAs come first so that every leaf finds its issuer already made.
constexpr CertSpec kSpecs[] = {
    {"ca", "pbk test CA", nullptr, nullptr, -1, 3650},
    {"other-ca", "pbk other test CA", nullptr, nullptr, -1, 3650},
    {"ip", "127.0.0.1", "IP:127.0.0.1", "ca", -1, 730},
    {"name", "kuma.test", "DNS:kuma.test", "ca", -1, 730},
    // A client that falls back to the CN when no SAN matches would accept this
    // for 127.0.0.1; RFC 6125 clients must not.
    {"lax-cn", "127.0.0.1", "DNS:other.test", "ca", -1, 730},
    {"wrong-ip", "127.0.0.2", "IP:127.0.0.2", "ca", -1, 730},
    // Names match 127.0.0.1 and kuma.test, so only the trust chain is at fault.
    {"untrusted", "127.0.0.1", "IP:127.0.0.1,DNS:kuma.test", "other-ca", -1, 730},
    // Names and chain are right, so only the validity period is at fault.
    {"expired", "127.0.0.1", "IP:127.0.0.1,DNS:kuma.test", "ca", -30, -1},
    {"pve", "localhost", "IP:127.0.0.1,DNS:localhost", "ca", -1, 730},
};

constexpr mode_t kKeyMode = 0600;
constexpr mode_t kCertMode = 0644;

struct Issued {
  PkeyPtr key;
  X509Ptr cert;
};

// Drains the whole queue so a later failure never reports a stale error.
std::string TakeOpenSslErrors() {
  std::string out;
  unsigned long code = 0;
  while ((code = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "no OpenSSL error reported" : out;
}

bool Fail(std::string* err, const std::string& what, const std::string& step,
          const std::string& detail) {
  if (err != nullptr) *err = what + ": " + step + ": " + detail;
  return false;
}

bool FailOpenSsl(std::string* err, const std::string& what, const std::string& step) {
  return Fail(err, what, step, TakeOpenSslErrors());
}

PkeyPtr GenerateKey() {
  // EVP_EC_gen is a macro whose expansion in OpenSSL's header uses a C cast.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wold-style-cast"
  return PkeyPtr(EVP_EC_gen("P-256"));
#pragma GCC diagnostic pop
}

bool AddExtension(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value));
  return ext != nullptr && X509_add_ext(cert, ext.get(), -1) == 1;
}

bool SetRandomSerial(X509* cert) {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return false;
  // A clear top bit keeps the DER INTEGER positive, so it stays 16 octets;
  // the set next bit keeps it from being zero or shrinking.
  bytes[0] = static_cast<unsigned char>((bytes[0] & 0x7f) | 0x40);
  BignumPtr bn(BN_bin2bn(bytes, sizeof bytes, nullptr));
  return bn != nullptr && BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)) != nullptr;
}

// On failure returns false and names the step in `step`; the OpenSSL error
// queue then holds the cause.
bool BuildCertificate(const CertSpec& spec, const Issued* issuer, Issued* out, std::string* step) {
  *step = "generating EC P-256 key";
  PkeyPtr key = GenerateKey();
  if (key == nullptr) return false;

  *step = "allocating certificate";
  X509Ptr cert(X509_new());
  if (cert == nullptr) return false;

  *step = "setting version, serial, validity and public key";
  if (X509_set_version(cert.get(), X509_VERSION_3) != 1 || !SetRandomSerial(cert.get()) ||
      X509_time_adj_ex(X509_getm_notBefore(cert.get()), spec.not_before_days, 0, nullptr) ==
          nullptr ||
      X509_time_adj_ex(X509_getm_notAfter(cert.get()), spec.not_after_days, 0, nullptr) ==
          nullptr ||
      X509_set_pubkey(cert.get(), key.get()) != 1) {
    return false;
  }

  *step = "setting subject and issuer names";
  X509_NAME* subject = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(spec.common_name), -1, -1,
                                 0) != 1) {
    return false;
  }
  X509* issuer_cert = issuer != nullptr ? issuer->cert.get() : cert.get();
  EVP_PKEY* issuer_key = issuer != nullptr ? issuer->key.get() : key.get();
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer_cert)) != 1) return false;

  // Zero-initialised, so the context has no config database, which the
  // literal extension values below do not need.
  X509V3_CTX ctx{};
  X509V3_set_ctx(&ctx, issuer_cert, cert.get(), nullptr, nullptr, 0);
  const bool is_ca = issuer == nullptr;
  struct Extension {
    int nid;
    const char* value;
  };
  const std::vector<Extension> extensions =
      is_ca ? std::vector<Extension>{
                  {NID_basic_constraints, "critical,CA:TRUE"},
                  {NID_key_usage, "critical,keyCertSign,cRLSign"},
                  {NID_subject_key_identifier, "hash"},
              }
            : std::vector<Extension>{
                  {NID_basic_constraints, "critical,CA:FALSE"},
                  {NID_key_usage, "critical,digitalSignature,keyEncipherment"},
                  {NID_ext_key_usage, "serverAuth"},
                  {NID_subject_key_identifier, "hash"},
                  // "always" turns a missing issuer SKI into an error instead
                  // of a certificate that quietly lacks the AKI.
                  {NID_authority_key_identifier, "keyid:always"},
                  {NID_subject_alt_name, spec.alt_names},
              };
  for (const Extension& ext : extensions) {
    *step = std::string("adding extension ") + OBJ_nid2sn(ext.nid) + "=" + ext.value;
    if (!AddExtension(cert.get(), &ctx, ext.nid, ext.value)) return false;
  }

  *step = "signing with SHA-256";
  if (X509_sign(cert.get(), issuer_key, EVP_sha256()) <= 0) return false;

  out->key = std::move(key);
  out->cert = std::move(cert);
  return true;
}

// Writes through a temporary file and rename, so a reader never sees a
// half-written file and a key is never readable by others, even briefly.
bool WriteFile(const std::filesystem::path& path, const char* data, size_t size, mode_t mode,
               std::string* err) {
  const std::string target = path.string();
  const std::string temp = target + ".tmp";
  const int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Fail(err, target, "opening " + temp, std::strerror(errno));
  // open() applies the umask and leaves an existing file's mode alone.
  if (fchmod(fd, mode) != 0) {
    const int saved = errno;
    close(fd);
    unlink(temp.c_str());
    return Fail(err, target, "setting mode", std::strerror(saved));
  }
  size_t done = 0;
  while (done < size) {
    const ssize_t n = write(fd, data + done, size - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int saved = errno;
      close(fd);
      unlink(temp.c_str());
      return Fail(err, target, "writing", std::strerror(saved));
    }
    done += static_cast<size_t>(n);
  }
  if (close(fd) != 0) {
    const int saved = errno;
    unlink(temp.c_str());
    return Fail(err, target, "closing", std::strerror(saved));
  }
  if (rename(temp.c_str(), target.c_str()) != 0) {
    const int saved = errno;
    unlink(temp.c_str());
    return Fail(err, target, "renaming " + temp, std::strerror(saved));
  }
  return true;
}

// `encode` writes one PEM object into the memory BIO it is given.
template <typename Encode>
bool WritePem(const std::filesystem::path& path, mode_t mode, Encode encode, std::string* err) {
  const std::string target = path.string();
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || !encode(bio.get())) {
    return FailOpenSsl(err, target, "PEM encoding");
  }
  char* data = nullptr;
  // BIO_get_mem_data is a macro whose expansion in OpenSSL's header uses a C cast.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wold-style-cast"
  const long size = BIO_get_mem_data(bio.get(), &data);
#pragma GCC diagnostic pop
  if (size <= 0 || data == nullptr) return FailOpenSsl(err, target, "reading PEM buffer");
  return WriteFile(path, data, static_cast<size_t>(size), mode, err);
}

}  // namespace

std::vector<std::string> TestCertificateFileNames() {
  std::vector<std::string> names;
  for (const CertSpec& spec : kSpecs) {
    names.push_back(std::string(spec.name) + ".pem");
    names.push_back(std::string(spec.name) + ".key");
  }
  return names;
}

bool MakeTestCertificates(const std::string& dir, std::string* err) {
  if (dir.empty()) return Fail(err, "(empty path)", "checking output directory", "no path given");
  const std::filesystem::path base(dir);
  std::error_code ec;
  std::filesystem::create_directories(base, ec);
  if (ec) return Fail(err, dir, "creating directory", ec.message());
  if (!std::filesystem::is_directory(base, ec)) {
    return Fail(err, dir, "creating directory", ec ? ec.message() : "not a directory");
  }

  ERR_clear_error();
  std::map<std::string, Issued> authorities;
  for (const CertSpec& spec : kSpecs) {
    const std::filesystem::path cert_path = base / (std::string(spec.name) + ".pem");
    const std::filesystem::path key_path = base / (std::string(spec.name) + ".key");

    const Issued* issuer = nullptr;
    if (spec.issuer != nullptr) {
      const auto found = authorities.find(spec.issuer);
      if (found == authorities.end()) {
        return Fail(err, cert_path.string(), "finding issuer",
                    std::string("no CA named ") + spec.issuer);
      }
      issuer = &found->second;
    }

    Issued made;
    std::string step;
    if (!BuildCertificate(spec, issuer, &made, &step)) {
      return FailOpenSsl(err, cert_path.string(), step);
    }

    EVP_PKEY* key = made.key.get();
    X509* cert = made.cert.get();
    // Unencrypted PKCS#8, which both OpenSSL and Python's ssl module load as is.
    if (!WritePem(
            cert_path, kCertMode, [cert](BIO* bio) { return PEM_write_bio_X509(bio, cert) == 1; },
            err) ||
        !WritePem(
            key_path, kKeyMode,
            [key](BIO* bio) {
              return PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
            },
            err)) {
      return false;
    }

    if (spec.issuer == nullptr) authorities.emplace(spec.name, std::move(made));
  }
  return true;
}

}  // namespace pbk::testing
