// Certificates for tests that exercise the HTTPS client against local fake
// servers. Every trust and name-matching case the client must get right has
// its own leaf, so a test only picks a file instead of building certificates.
#ifndef PBK_TESTS_SUPPORT_TEST_CERTS_H_
#define PBK_TESTS_SUPPORT_TEST_CERTS_H_

#include <string>
#include <vector>

namespace pbk::testing {

// Creates `dir` (with parents) if needed and writes, with EC P-256 keys and
// SHA-256 signatures:
//   ca.pem, ca.key                 trusted CA "pbk test CA"
//   other-ca.pem, other-ca.key     a second CA that tests never trust
//   ip.pem/.key          CN=127.0.0.1, SAN IP:127.0.0.1                  (ca)
//   name.pem/.key        CN=kuma.test, SAN DNS:kuma.test                 (ca)
//   lax-cn.pem/.key      CN=127.0.0.1, SAN DNS:other.test only           (ca)
//   wrong-ip.pem/.key    CN=127.0.0.2, SAN IP:127.0.0.2                  (ca)
//   untrusted.pem/.key   CN=127.0.0.1, SAN IP:127.0.0.1, DNS:kuma.test   (other-ca)
//   expired.pem/.key     as untrusted but signed by ca, expired yesterday
//   pve.pem/.key         CN=localhost, SAN IP:127.0.0.1, DNS:localhost   (ca)
// Existing files are replaced. Keys are written mode 0600, certificates 0644.
// On failure returns false and, if `err` is not null, stores a message that
// names the file and the step that failed.
bool MakeTestCertificates(const std::string& dir, std::string* err);

// The file names MakeTestCertificates writes, in the order it writes them.
std::vector<std::string> TestCertificateFileNames();

}  // namespace pbk::testing

#endif  // PBK_TESTS_SUPPORT_TEST_CERTS_H_
