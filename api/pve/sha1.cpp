#include "api/pve/sha1.h"

#include <algorithm>
#include <cstring>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

namespace pbk {
namespace {

inline uint32_t Rotate(uint32_t value, int bits) {
  return (value << bits) | (value >> (32 - bits));
}

inline uint32_t LoadBigEndian(const unsigned char* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
         static_cast<uint32_t>(p[2]) << 8 | static_cast<uint32_t>(p[3]);
}

// The message schedule in 16 words, each computed when its round needs it.
class Schedule {
 public:
  explicit Schedule(const unsigned char* block) {
    for (int i = 0; i < 16; ++i) w_[i] = LoadBigEndian(block + 4 * i);
  }
  uint32_t operator()(int i) {
    if (i < 16) return w_[i];
    const uint32_t next =
        Rotate(w_[(i + 13) & 15] ^ w_[(i + 8) & 15] ^ w_[(i + 2) & 15] ^ w_[i & 15], 1);
    w_[i & 15] = next;
    return next;
  }

 private:
  uint32_t w_[16];
};

// One round of quarter Q (0..3): E takes the new value, B is rotated; the
// caller renames the five words instead of moving them.
template <int Q>
inline void Round(uint32_t a, uint32_t& b, uint32_t c, uint32_t d, uint32_t& e, uint32_t w) {
  uint32_t f = 0;
  uint32_t k = 0;
  if constexpr (Q == 0) {
    f = d ^ (b & (c ^ d));
    k = 0x5A827999;
  } else if constexpr (Q == 1) {
    f = b ^ c ^ d;
    k = 0x6ED9EBA1;
  } else if constexpr (Q == 2) {
    f = ((b | c) & d) | (b & c);
    k = 0x8F1BBCDC;
  } else {
    f = b ^ c ^ d;
    k = 0xCA62C1D6;
  }
  e += Rotate(a, 5) + f + k + w;
  b = Rotate(b, 30);
}

// Twenty rounds of quarter Q, five at a time with the words renamed.
template <int Q>
inline void Quarter(uint32_t& a, uint32_t& b, uint32_t& c, uint32_t& d, uint32_t& e,
                    Schedule& w) {
  for (int i = 20 * Q; i < 20 * Q + 20; i += 5) {
    Round<Q>(a, b, c, d, e, w(i));
    Round<Q>(e, a, b, c, d, w(i + 1));
    Round<Q>(d, e, a, b, c, w(i + 2));
    Round<Q>(c, d, e, a, b, w(i + 3));
    Round<Q>(b, c, d, e, a, w(i + 4));
  }
}

void CompressPortable(uint32_t state[5], const unsigned char* block, size_t blocks) {
  for (; blocks > 0; --blocks, block += 64) {
    Schedule w(block);
    uint32_t a = state[0], b = state[1], c = state[2], d = state[3], e = state[4];
    Quarter<0>(a, b, c, d, e, w);
    Quarter<1>(a, b, c, d, e, w);
    Quarter<2>(a, b, c, d, e, w);
    Quarter<3>(a, b, c, d, e, w);
    state[0] += a;
    state[1] += b;
    state[2] += c;
    state[3] += d;
    state[4] += e;
  }
}

#if defined(__x86_64__)
// The same with the CPU's SHA extensions (Intel SHA-NI, also in AMD Zen):
// 4 rounds per instruction. Each group G of four rounds takes its message
// words from MSG[G % 4], which the groups before it extended (msg1, xor,
// msg2) from the words of the block.
template <int F>
__attribute__((target("sha,sse4.1"))) inline __m128i Rounds4(__m128i abcd, __m128i e) {
  return _mm_sha1rnds4_epu32(abcd, e, F);
}

__attribute__((target("sha,sse4.1"))) void CompressShaNi(uint32_t state[5],
                                                       const unsigned char* block,
                                                       size_t blocks) {
  const __m128i kByteSwap = _mm_set_epi64x(0x0001020304050607LL, 0x08090a0b0c0d0e0fLL);
  __m128i abcd = _mm_shuffle_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(state)), 0x1B);
  __m128i e0 = _mm_set_epi32(static_cast<int>(state[4]), 0, 0, 0);
  for (; blocks > 0; --blocks, block += 64) {
    const __m128i abcd_before = abcd;
    const __m128i e_before = e0;
    __m128i msg[4];
    __m128i saved = abcd;
    // Unrolled, so that every index and the round function are constants.
#pragma GCC unroll 20
    for (int g = 0; g < 20; ++g) {
      if (g < 4) {
        msg[g] = _mm_shuffle_epi8(
            _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 16 * g)), kByteSwap);
      }
      const __m128i e = g == 0 ? _mm_add_epi32(e0, msg[0]) : _mm_sha1nexte_epu32(saved, msg[g % 4]);
      saved = abcd;
      if (g >= 3 && g <= 18) msg[(g + 1) % 4] = _mm_sha1msg2_epu32(msg[(g + 1) % 4], msg[g % 4]);
      switch (g / 5) {
        case 0: abcd = Rounds4<0>(abcd, e); break;
        case 1: abcd = Rounds4<1>(abcd, e); break;
        case 2: abcd = Rounds4<2>(abcd, e); break;
        default: abcd = Rounds4<3>(abcd, e); break;
      }
      if (g >= 1 && g <= 16) msg[(g + 3) % 4] = _mm_sha1msg1_epu32(msg[(g + 3) % 4], msg[g % 4]);
      if (g >= 2 && g <= 17) msg[(g + 2) % 4] = _mm_xor_si128(msg[(g + 2) % 4], msg[g % 4]);
    }
    e0 = _mm_sha1nexte_epu32(saved, e_before);
    abcd = _mm_add_epi32(abcd, abcd_before);
  }
  _mm_storeu_si128(reinterpret_cast<__m128i*>(state), _mm_shuffle_epi32(abcd, 0x1B));
  state[4] = static_cast<uint32_t>(_mm_extract_epi32(e0, 3));
}

// SHA extensions (CPUID 7.0 EBX bit 29), SSSE3 and SSE4.1 (CPUID 1 ECX
// bits 9 and 19).
bool CpuHasSha() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid(1, &a, &b, &c, &d) == 0 || (c & (1u << 9)) == 0 || (c & (1u << 19)) == 0) {
    return false;
  }
  return __get_cpuid_count(7, 0, &a, &b, &c, &d) != 0 && (b & (1u << 29)) != 0;
}
#else
bool CpuHasSha() { return false; }
void CompressShaNi(uint32_t state[5], const unsigned char* block, size_t blocks) {
  CompressPortable(state, block, blocks);
}
#endif

bool g_portable_only = false;  // tests compare both ways

void Compress(uint32_t state[5], const unsigned char* block, size_t blocks) {
  static const bool has_sha = CpuHasSha();
  if (blocks == 0) return;
  if (has_sha && !g_portable_only) {
    CompressShaNi(state, block, blocks);
  } else {
    CompressPortable(state, block, blocks);
  }
}

}  // namespace

bool Sha1UsesCpuInstructions() { return CpuHasSha(); }

std::string Sha1HexPortable(std::string_view data) {
  g_portable_only = true;
  std::string hex = Sha1Hex(data);
  g_portable_only = false;
  return hex;
}

void Sha1::Update(std::string_view data) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  size_t size = data.size();
  length_ += size;
  if (buffered_ > 0) {
    const size_t take = std::min(size, sizeof buffer_ - buffered_);
    std::memcpy(buffer_ + buffered_, bytes, take);
    buffered_ += take;
    bytes += take;
    size -= take;
    if (buffered_ < sizeof buffer_) return;
    Compress(state_, buffer_, 1);
    buffered_ = 0;
  }
  Compress(state_, bytes, size / 64);
  bytes += size / 64 * 64;
  size %= 64;
  std::memcpy(buffer_, bytes, size);
  buffered_ = size;
}

std::string Sha1::HexDigest() {
  // The 0x80 marker and the length in bits fill one or two blocks.
  unsigned char tail[128] = {};
  std::memcpy(tail, buffer_, buffered_);
  tail[buffered_] = 0x80;
  const size_t blocks = buffered_ + 1 + 8 <= 64 ? 1 : 2;
  const uint64_t bits = length_ * 8;
  for (int i = 0; i < 8; ++i) {
    tail[64 * blocks - 1 - i] = static_cast<unsigned char>(bits >> (8 * i));
  }
  Compress(state_, tail, blocks);
  buffered_ = 0;

  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(40);
  for (uint32_t word : state_) {
    for (int shift = 28; shift >= 0; shift -= 4) hex += kHex[(word >> shift) & 15];
  }
  return hex;
}

std::string Sha1Hex(std::string_view data) {
  Sha1 sha1;
  sha1.Update(data);
  return sha1.HexDigest();
}

}  // namespace pbk
