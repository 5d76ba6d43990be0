// pbk-test-certs OUTDIR: writes the test CA, keys and leaf certificates into
// OUTDIR, so fake servers and manual checks can use the same files the tests do.
#include <filesystem>
#include <iostream>
#include <string>

#include "tests/support/test_certs.h"

namespace {

constexpr char kUsage[] = "usage: pbk-test-certs OUTDIR\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && (std::string(argv[1]) == "-h" || std::string(argv[1]) == "--help")) {
    std::cout << kUsage;
    return 0;
  }
  // Anything that looks like an option is more likely a mistake than a
  // directory name; refusing it avoids littering a folder called "-v".
  if (argc != 2 || argv[1][0] == '\0' || argv[1][0] == '-') {
    std::cerr << kUsage;
    return 2;
  }

  const std::string dir = argv[1];
  std::string err;
  if (!pbk::testing::MakeTestCertificates(dir, &err)) {
    std::cerr << "pbk-test-certs: " << err << '\n';
    return 1;
  }
  for (const std::string& name : pbk::testing::TestCertificateFileNames()) {
    std::cout << (std::filesystem::path(dir) / name).string() << '\n';
  }
  std::cout.flush();
  return std::cout ? 0 : 1;
}
