// Loads the HTTP module and wraps its plain C boundary (http_module.h) in
// the project's HttpClient and WebSocket.
//
// Where from: the installed module folder, and nowhere else, when this is
// the installed program. A program run from anywhere else (the build tree,
// under test) loads the module beside itself, as the build puts them
// together. The file is opened once; owner and mode are checked on that
// descriptor, and the very file checked is what dlopen() maps.
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <mutex>

#include "agent/core/fs.h"
#include "api/http/http_client.h"
#include "api/http/http_module.h"
#include "api/http/websocket.h"

namespace pbk {
namespace {

struct Module {
  pbk_http_client_new_fn client_new = nullptr;
  pbk_http_client_free_fn client_free = nullptr;
  pbk_http_send_fn send = nullptr;
  pbk_ws_connect_fn ws_connect = nullptr;
  pbk_ws_send_text_fn ws_send_text = nullptr;
  pbk_ws_receive_fn ws_receive = nullptr;
  pbk_ws_close_fn ws_close = nullptr;
};

std::string SelfPath() {
  char buffer[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buffer, sizeof buffer - 1);
  if (n <= 0) return {};
  return std::string(buffer, static_cast<size_t>(n));
}

std::string ModulePath() {
  const std::string self = SelfPath();
  if (self.empty() || self == PBK_BINARY_PATH) return JoinPath(PBK_MODULE_DIR, kHttpModuleName);
  return JoinPath(DirName(self), kHttpModuleName);
}

// Code is loaded only from a file that nobody but root or we can replace.
bool OpenSafely(const std::string& path, UniqueFd* fd, std::string* why) {
  fd->Reset(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st {};
  if (!fd->valid() || fstat(fd->get(), &st) != 0) {
    *why = path + ": " + ErrnoText(errno);
    return false;
  }
  if (!S_ISREG(st.st_mode)) {
    *why = path + ": not a regular file";
    return false;
  }
  if ((st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & 022) != 0) {
    *why = path + ": refusing to load a module that others can modify";
    return false;
  }
  return true;
}

template <typename T>
bool Resolve(void* handle, const char* name, T* out, std::string* why) {
  void* symbol = dlsym(handle, name);
  if (symbol == nullptr) {
    *why = std::string("no entry point ") + name;
    return false;
  }
  *out = reinterpret_cast<T>(symbol);
  return true;
}

const Module* LoadModule(std::string* err) {
  static std::mutex mutex;
  static Module module;
  static bool loaded = false;
  std::lock_guard<std::mutex> lock(mutex);
  if (loaded) return &module;

  const std::string path = ModulePath();
  auto fail = [&](const std::string& why) -> const Module* {
    *err = std::string("cannot load the HTTP module ") + path + ": " + why + "; reinstall pbk-agent";
    return nullptr;
  };
  UniqueFd fd;
  std::string why;
  if (!OpenSafely(path, &fd, &why)) return fail(why);
  const std::string mapped = "/proc/self/fd/" + std::to_string(fd.get());
  void* handle = dlopen(mapped.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) return fail(dlerror());
  pbk_http_abi_version_fn version = nullptr;
  Module candidate;
  // The version first: a module of another version may lack the others.
  if (!Resolve(handle, PBK_HTTP_SYMBOL_ABI_VERSION, &version, &why)) return fail(why);
  if (const uint32_t found = version(); found != PBK_HTTP_ABI_VERSION) {
    return fail("it speaks version " + std::to_string(found) + " of the module interface, not " +
                std::to_string(PBK_HTTP_ABI_VERSION));
  }
  if (!Resolve(handle, PBK_HTTP_SYMBOL_CLIENT_NEW, &candidate.client_new, &why) ||
      !Resolve(handle, PBK_HTTP_SYMBOL_CLIENT_FREE, &candidate.client_free, &why) ||
      !Resolve(handle, PBK_HTTP_SYMBOL_SEND, &candidate.send, &why) ||
      !Resolve(handle, PBK_WS_SYMBOL_CONNECT, &candidate.ws_connect, &why) ||
      !Resolve(handle, PBK_WS_SYMBOL_SEND_TEXT, &candidate.ws_send_text, &why) ||
      !Resolve(handle, PBK_WS_SYMBOL_RECEIVE, &candidate.ws_receive, &why) ||
      !Resolve(handle, PBK_WS_SYMBOL_CLOSE, &candidate.ws_close, &why)) {
    return fail(why);
  }
  module = candidate;
  loaded = true;
  return &module;
}

pbk_bytes Bytes(const std::string& text) { return {text.data(), text.size()}; }

HttpErrorKind KindOf(int code) {
  const bool known = code >= PBK_HTTP_UNTRUSTED_CERTIFICATE && code <= PBK_HTTP_OTHER;
  return known ? static_cast<HttpErrorKind>(code) : HttpErrorKind::kOther;
}

// The answer as the module hands it over: copied into our own strings.
struct Sink {
  std::string reason;
  std::string body;
  static void Append(void* context, int part, const char* data, size_t size) {
    auto* sink = static_cast<Sink*>(context);
    (part == 0 ? sink->reason : sink->body).append(data, size);
  }
};

class ModuleHttpClient final : public HttpClient {
 public:
  ModuleHttpClient(const Module* module, pbk_http_client* client)
      : module_(module), client_(client) {}
  ~ModuleHttpClient() override { module_->client_free(client_); }
  ModuleHttpClient(const ModuleHttpClient&) = delete;
  ModuleHttpClient& operator=(const ModuleHttpClient&) = delete;

  bool Send(const HttpRequest& request, HttpResponse* response, HttpError* error) override {
    std::vector<pbk_header> headers;
    for (const auto& [name, value] : request.headers) headers.push_back({Bytes(name), Bytes(value)});
    const pbk_http_request c_request{Bytes(request.method), Bytes(request.host), request.port,
                                     Bytes(request.target), headers.data(),     headers.size(),
                                     Bytes(request.body),   request.deadline.count()};
    Sink sink;
    pbk_http_response c_response{&sink, &Sink::Append, 0};
    char text[1024] = "";
    pbk_http_error c_error{text, sizeof text};
    const int code = module_->send(client_, &c_request, &c_response, &c_error);
    if (code == PBK_HTTP_OK) {
      response->status = c_response.status;
      response->reason = std::move(sink.reason);
      response->body = std::move(sink.body);
      return true;
    }
    error->kind = KindOf(code);
    error->message = text;
    return false;
  }

 private:
  const Module* module_;
  pbk_http_client* client_;
};

class ModuleWebSocket final : public WebSocket {
 public:
  ModuleWebSocket(const Module* module, pbk_ws* ws) : module_(module), ws_(ws) {}
  ~ModuleWebSocket() override { Close(); }
  ModuleWebSocket(const ModuleWebSocket&) = delete;
  ModuleWebSocket& operator=(const ModuleWebSocket&) = delete;

  bool SendText(const std::string& text, std::chrono::milliseconds deadline,
                HttpError* error) override {
    if (ws_ == nullptr) {
      *error = {HttpErrorKind::kConnectionClosed, "the WebSocket is closed"};
      return false;
    }
    char message[1024] = "";
    pbk_http_error c_error{message, sizeof message};
    const int code = module_->ws_send_text(ws_, Bytes(text), deadline.count(), &c_error);
    if (code == PBK_HTTP_OK) return true;
    *error = {KindOf(code), message};
    return false;
  }

  WsReceived Receive(std::chrono::milliseconds deadline, std::string* message,
                     HttpError* error) override {
    if (ws_ == nullptr) {
      *error = {HttpErrorKind::kConnectionClosed, "the WebSocket is closed"};
      return WsReceived::kClosed;
    }
    message->clear();
    const pbk_ws_sink sink{message, [](void* context, const char* data, size_t size) {
                             static_cast<std::string*>(context)->append(data, size);
                           }};
    char text[1024] = "";
    pbk_http_error c_error{text, sizeof text};
    const int code = module_->ws_receive(ws_, &sink, deadline.count(), &c_error);
    if (code == PBK_WS_MESSAGE) return WsReceived::kMessage;
    if (code == PBK_WS_TIMEOUT) return WsReceived::kTimeout;
    *error = {code == PBK_WS_CLOSED ? HttpErrorKind::kConnectionClosed : KindOf(code), text};
    return WsReceived::kClosed;
  }

  void Close() override {
    if (ws_ != nullptr) module_->ws_close(ws_);
    ws_ = nullptr;
  }

 private:
  const Module* module_;
  pbk_ws* ws_;
};

}  // namespace

std::unique_ptr<WebSocket> ConnectWebSocket(const TlsSettings& tls, const WebSocketRequest& request,
                                            HttpError* error) {
  std::string err;
  const Module* module = LoadModule(&err);
  if (module == nullptr) {
    *error = {HttpErrorKind::kOther, err};
    return nullptr;
  }
  std::vector<pbk_header> headers;
  for (const auto& [name, value] : request.headers) headers.push_back({Bytes(name), Bytes(value)});
  const pbk_http_tls c_tls{Bytes(tls.ca_file), Bytes(tls.server_name)};
  const pbk_ws_request c_request{Bytes(request.host), request.port,   Bytes(request.target),
                                 headers.data(),      headers.size(), request.deadline.count()};
  char text[1024] = "";
  pbk_http_error c_error{text, sizeof text};
  int code = PBK_HTTP_OTHER;
  pbk_ws* ws = module->ws_connect(&c_tls, &c_request, &code, &c_error);
  if (ws == nullptr) {
    *error = {KindOf(code), text};
    return nullptr;
  }
  return std::make_unique<ModuleWebSocket>(module, ws);
}

std::unique_ptr<HttpClient> NewHttpClient(const TlsSettings& tls, std::string* err) {
  const Module* module = LoadModule(err);
  if (module == nullptr) return nullptr;
  const pbk_http_tls c_tls{Bytes(tls.ca_file), Bytes(tls.server_name)};
  char text[1024] = "";
  pbk_http_error c_error{text, sizeof text};
  pbk_http_client* client = module->client_new(&c_tls, &c_error);
  if (client == nullptr) {
    *err = text;
    return nullptr;
  }
  return std::make_unique<ModuleHttpClient>(module, client);
}

}  // namespace pbk
