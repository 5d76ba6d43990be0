#include "fake_kuma.h"

#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

namespace pbk::testing {
namespace {

using Clock = std::chrono::steady_clock;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

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
  unlink(port_file_.c_str());
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
  if (!process_.Start(argv, nullptr, stdout_path_, stderr_path_, err)) return false;

  const Clock::time_point deadline = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < deadline) {
    std::string text = ReadAll(port_file_);
    if (!text.empty()) {
      const int port = std::atoi(text.c_str());
      if (port <= 0 || port > 65535) {
        *err = "fake_kuma wrote a bad port file: " + text;
        process_.Stop();
        return false;
      }
      port_ = static_cast<uint16_t>(port);
      return true;
    }
    if (!process_.Running()) {
      *err = "fake_kuma ended before it listened (exit " + std::to_string(process_.exit_code()) +
             "): " + ReadAll(stderr_path_);
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  *err = "fake_kuma did not listen within 10 s: " + ReadAll(stderr_path_);
  process_.Stop();
  return false;
}

void FakeKuma::Stop() { process_.Stop(); }

std::vector<nlohmann::json> FakeKuma::Events() const {
  std::vector<nlohmann::json> events;
  std::istringstream lines(ReadAll(log_path_));
  std::string line;
  while (std::getline(lines, line)) {
    // A line being written right now has no newline yet and does not parse.
    auto event = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (event.is_object()) events.push_back(std::move(event));
  }
  return events;
}

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
