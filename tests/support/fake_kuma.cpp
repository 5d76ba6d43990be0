#include "tests/support/fake_kuma.h"

#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "tests/support/test_text.h"

namespace pbk::testing {
namespace {

using Clock = std::chrono::steady_clock;

// The "event" field of a log entry; "" if it has none.
std::string EventName(const nlohmann::json& entry) {
  if (!entry.is_object() || !entry.contains("event")) return {};
  const nlohmann::json& value = entry.at("event");
  return value.is_string() ? value.get<std::string>() : std::string();
}

}  // namespace

FakeKuma::FakeKuma(FakeKumaOptions options) : options_(std::move(options)) {
  if (options_.script.empty()) options_.script = PBK_FAKE_KUMA_SCRIPT;
  if (options_.work_dir.empty()) options_.work_dir = ".";
  port_ = options_.port;
  port_file_ = options_.work_dir + "/kuma.port";
  log_path_ = options_.work_dir + "/kuma-events.jsonl";
  stdout_path_ = options_.work_dir + "/kuma.stdout";
  stderr_path_ = options_.work_dir + "/kuma.stderr";
}

FakeKuma::~FakeKuma() { Stop(); }

bool FakeKuma::Start(std::string* err) {
  process_.Stop();
  std::vector<std::string> argv = {
      options_.python, options_.script,       "--cert",   options_.cert, "--key",
      options_.key,    "--port-file",         port_file_, "--log",       log_path_,
      "--port",        std::to_string(port_), "--mode",   options_.mode};
  if (options_.tokens) {
    std::string list;
    for (const auto& token : *options_.tokens) list += (list.empty() ? "" : ",") + token;
    argv.push_back("--tokens");
    argv.push_back(list);
  }
  if (options_.status) {
    argv.push_back("--status");
    argv.push_back(std::to_string(*options_.status));
  }
  return StartListening(&process_, argv, "fake_kuma", port_file_, stdout_path_, stderr_path_,
                        &port_, err);
}

void FakeKuma::Stop() { process_.Stop(); }

std::vector<nlohmann::json> FakeKuma::Events() const { return JsonLines(log_path_); }

std::vector<nlohmann::json> FakeKuma::Requests() const {
  std::vector<nlohmann::json> requests;
  for (auto& event : Events()) {
    if (EventName(event) == "request") requests.push_back(std::move(event));
  }
  return requests;
}

size_t FakeKuma::WaitForEvents(const std::string& event, size_t count,
                               std::chrono::milliseconds timeout) const {
  const Clock::time_point deadline = Clock::now() + timeout;
  for (;;) {
    size_t found = 0;
    for (const auto& entry : Events()) {
      if (EventName(entry) == event) ++found;
    }
    if (found >= count || Clock::now() >= deadline) return found;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace pbk::testing
