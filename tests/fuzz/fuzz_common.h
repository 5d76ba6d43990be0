// Shared by the fuzz targets: quiet logging and invariant checks.
#pragma once

#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

namespace pbk_fuzz {

// Every log line goes to a null sink. The level stays at trace so the
// messages are still formatted (a format string built from input would throw
// here as it would in production), but nothing is written.
inline void SilenceLogging() {
  auto logger =
      std::make_shared<spdlog::logger>("fuzz", std::make_shared<spdlog::sinks::null_sink_mt>());
  logger->set_level(spdlog::level::trace);
  spdlog::set_default_logger(std::move(logger));
}

// A broken invariant is a finding like a crash: libFuzzer saves the input.
[[noreturn]] inline void Violated(const std::string& what) {
  std::fprintf(stderr, "INVARIANT VIOLATED: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

inline std::string Text(const uint8_t* data, size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

}  // namespace pbk_fuzz
