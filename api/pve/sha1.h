// SHA-1, for two purposes: PVE names legacy vzdump.cron jobs "<sha1 of the
// file>:<n>", and the guard must compute the same names from the file; and
// the digests that tell the guard and `kuma sync` whether anything changed.
// It is not used for anything that needs a secure hash. A local
// implementation keeps OpenSSL out of processes that never talk to the
// network.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace pbk {

// Incremental: Update with the parts in order, then HexDigest once.
class Sha1 {
 public:
  void Update(std::string_view data);
  // Lower-case hex digest of everything given to Update.
  std::string HexDigest();

 private:
  uint32_t state_[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
  unsigned char buffer_[64] = {};
  size_t buffered_ = 0;
  uint64_t length_ = 0;
};

// Lower-case hex digest of DATA. Uses the CPU's SHA instructions where it
// has them (x86-64 SHA extensions), else portable code.
std::string Sha1Hex(std::string_view data);

// For tests that compare both ways: whether this CPU has the instructions,
// and the digest computed without them (not thread-safe).
bool Sha1UsesCpuInstructions();
std::string Sha1HexPortable(std::string_view data);

}  // namespace pbk
