// Socket.IO frames from a server: the input, split at each newline into
// frames, fed to the pure parsers and to a session over a scripted
// WebSocket (open, CONNECT, one call, a wait for an event). Whatever the
// frames, the parsers and the session end with an answer or an error in
// words, and an error never repeats a frame (it may carry a session token:
// the marker "SeCrEt" placed in the frames must never show).
#include <nlohmann/json.hpp>
#include <deque>
#include <string>
#include <vector>

#include "api/kuma/socketio.h"
#include "tests/fuzz/fuzz_common.h"

namespace {

class ScriptedSocket : public pbk::WebSocket {
 public:
  explicit ScriptedSocket(std::deque<std::string> frames) : frames_(std::move(frames)) {}
  bool SendText(const std::string&, std::chrono::milliseconds, pbk::HttpError*) override {
    return true;
  }
  pbk::WsReceived Receive(std::chrono::milliseconds, std::string* message,
                          pbk::HttpError* error) override {
    if (frames_.empty()) {
      *error = {pbk::HttpErrorKind::kConnectionClosed, "closed"};
      return pbk::WsReceived::kClosed;
    }
    *message = frames_.front();
    frames_.pop_front();
    return pbk::WsReceived::kMessage;
  }
  void Close() override {}

 private:
  std::deque<std::string> frames_;
};

void CheckError(const std::string& message) {
  if (message.empty()) pbk_fuzz::Violated("a failure without a reason");
  if (message.find("SeCrEt") != std::string::npos) {
    pbk_fuzz::Violated("an error repeats a frame: " + message);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  pbk_fuzz::SilenceLogging();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text = pbk_fuzz::Text(data, size);
  std::deque<std::string> frames;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = text.find('\n', start);
    frames.push_back(text.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  for (const auto& frame : frames) {
    std::string err;
    pbk::EioPacket eio;
    if (!pbk::ParseEioPacket(frame, &eio, &err)) {
      CheckError(err);
      continue;
    }
    pbk::EioOpen open;
    if (eio.type == pbk::EioType::kOpen && !pbk::ParseEioOpen(eio.data, &open, &err)) {
      CheckError(err);
    }
    pbk::SioPacket sio;
    if (eio.type == pbk::EioType::kMessage && !pbk::ParseSioPacket(eio.data, &sio, &err)) {
      CheckError(err);
    }
  }

  pbk::SocketIoSession session{std::make_unique<ScriptedSocket>(frames)};
  pbk::SocketIoError error;
  if (!session.Open(std::chrono::milliseconds(0), &error)) {
    CheckError(error.message);
    return 0;
  }
  nlohmann::json answer;
  if (!session.Call("login", nlohmann::json::array({"SeCrEt"}), std::chrono::milliseconds(0),
                    &answer, &error)) {
    CheckError(error.message);
  }
  if (!session.WaitEvent("monitorList", std::chrono::milliseconds(0), &answer, &error)) {
    CheckError(error.message);
  }
  return 0;
}
