#include "agent/core/log.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <spdlog/sinks/base_sink.h>

#include "agent/core/text.h"

namespace pbk {
namespace {

std::mutex secrets_mutex;
std::vector<std::string>& SecretList() {
  static std::vector<std::string> secrets;
  return secrets;
}

class RedactingSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  RedactingSink(LogStyle style) : style_(style) {
    out_ = style == LogStyle::kTaskLog ? stdout : stderr;
    journal_ = style == LogStyle::kStderr && std::getenv("JOURNAL_STREAM") != nullptr;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    std::string line = Prefix(msg.level);
    line.append(Redact(std::string_view(msg.payload.data(), msg.payload.size())));
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), out_);
    // Lines must reach the task log or journal even if the process dies next.
    std::fflush(out_);
  }
  void flush_() override { std::fflush(out_); }

 private:
  std::string Prefix(spdlog::level::level_enum level) const {
    using spdlog::level::level_enum;
    if (journal_) {
      switch (level) {
        case level_enum::critical: return "<2>";
        case level_enum::err: return "<3>";
        case level_enum::warn: return "<4>";
        case level_enum::info: return "<6>";
        default: return "<7>";
      }
    }
    bool task_log = style_ == LogStyle::kTaskLog;
    switch (level) {
      case level_enum::critical:
      case level_enum::err: return task_log ? "ERROR: " : "error: ";
      case level_enum::warn: return task_log ? "WARNING: " : "warning: ";
      case level_enum::debug:
      case level_enum::trace: return "debug: ";
      default: return "";
    }
  }

  LogStyle style_;
  FILE* out_;
  bool journal_ = false;
};

}  // namespace

void InitLogging(LogStyle style, bool debug) {
  auto logger = std::make_shared<spdlog::logger>("pbk", std::make_shared<RedactingSink>(style));
  logger->set_level(debug ? spdlog::level::debug : spdlog::level::info);
  spdlog::set_default_logger(std::move(logger));
}

void AddSecrets(const std::vector<std::string>& secrets) {
  std::lock_guard<std::mutex> lock(secrets_mutex);
  for (const auto& secret : secrets) {
    if (secret.empty()) continue;
    SecretList().push_back(secret);
    // An HTTP library's error repeats a URL as it was sent: percent-encoded.
    if (std::string encoded = UrlEncode(secret); encoded != secret) {
      SecretList().push_back(std::move(encoded));
    }
  }
}

std::string Redact(std::string_view text) {
  std::string out(text);
  std::lock_guard<std::mutex> lock(secrets_mutex);
  for (const auto& secret : SecretList()) {
    for (size_t pos = out.find(secret); pos != std::string::npos;
         pos = out.find(secret, pos + 4)) {
      out.replace(pos, secret.size(), "****");
    }
  }
  return out;
}

}  // namespace pbk
