#include "tests/support/suite_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace pbk::testing {
namespace {

void Append(const char* prefix, std::string_view text) {
  const char* dir = std::getenv("PBK_TEST_OUTPUT_DIR");
  if (dir == nullptr || *dir == '\0' || text.empty()) return;
  const std::string path =
      std::string(dir) + "/" + prefix + "." + std::to_string(getpid()) + ".txt";
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return;
  while (!text.empty()) {
    ssize_t n = write(fd, text.data(), text.size());
    if (n <= 0) break;
    text.remove_prefix(static_cast<size_t>(n));
  }
  close(fd);
}

}  // namespace

void RecordSuiteOutput(std::string_view text) { Append("output", text); }

void RegisterSecret(const std::string& secret) { Append("secrets", secret + "\n"); }

}  // namespace pbk::testing
