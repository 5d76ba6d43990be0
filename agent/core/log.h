// Logging: where lines go and how they look.
//
// The hook writes to stdout, which vzdump copies into the task log, so its
// problems are plain "ERROR: …" lines an admin sees in the web UI. Commands
// write to stderr, which systemd hands to the journal with the priority
// taken from a "<N>" prefix. Every line passes through the secret scrubber.
#pragma once

#include <spdlog/spdlog.h>

#include <string>
#include <string_view>
#include <vector>

namespace pbk {

enum class LogStyle {
  kTaskLog,  // stdout; "ERROR: " / "WARNING: " prefixes, info lines bare
  kStderr,   // stderr; "<3>" priorities under systemd, "error: " on a terminal
};

void InitLogging(LogStyle style, bool debug);

// Registers values that must never be printed (push tokens, API secrets).
void AddSecrets(const std::vector<std::string>& secrets);

// TEXT with every registered secret replaced by "****".
std::string Redact(std::string_view text);

}  // namespace pbk
