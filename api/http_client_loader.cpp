// Finds and loads the HTTP module: first beside the running binary (the build
// tree), then in the installed module folder.
#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <mutex>

#include "fs.h"
#include "http_client.h"

namespace pbk {
namespace {

std::string SelfDir() {
  char buffer[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buffer, sizeof buffer - 1);
  if (n <= 0) return {};
  return DirName(std::string(buffer, static_cast<size_t>(n)));
}

// Code is loaded only from files that nobody but root or us can replace.
bool SafeToLoad(const std::string& path, std::string* why) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    *why = path + ": " + ErrnoText(errno);
    return false;
  }
  if ((st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & 022) != 0) {
    *why = path + ": refusing to load a module that others can modify";
    return false;
  }
  return true;
}

NewHttpClientFunction LoadEntry(std::string* err) {
  static std::mutex mutex;
  static NewHttpClientFunction entry = nullptr;
  std::lock_guard<std::mutex> lock(mutex);
  if (entry != nullptr) return entry;

  std::vector<std::string> candidates;
  if (std::string dir = SelfDir(); !dir.empty()) candidates.push_back(JoinPath(dir, kHttpModuleName));
  candidates.push_back(JoinPath(PBK_MODULE_DIR, kHttpModuleName));

  std::string reasons;
  for (const auto& path : candidates) {
    if (access(path.c_str(), F_OK) != 0) continue;
    std::string why;
    if (!SafeToLoad(path, &why)) {
      reasons += "; " + why;
      continue;
    }
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      reasons += "; " + std::string(dlerror());
      continue;
    }
    void* symbol = dlsym(handle, kHttpModuleEntry);
    if (symbol == nullptr) {
      reasons += "; " + path + ": no entry point " + kHttpModuleEntry;
      continue;
    }
    entry = reinterpret_cast<NewHttpClientFunction>(symbol);
    return entry;
  }
  *err = std::string("cannot load the HTTP module ") + kHttpModuleName + " (looked in " +
         candidates.front() + (candidates.size() > 1 ? " and " + candidates.back() : "") + ")" +
         reasons + "; reinstall pbk-agent";
  return nullptr;
}

}  // namespace

std::unique_ptr<HttpClient> NewHttpClient(const TlsSettings& tls, std::string* err) {
  NewHttpClientFunction entry = LoadEntry(err);
  if (entry == nullptr) return nullptr;
  return std::unique_ptr<HttpClient>(entry(tls, err));
}

}  // namespace pbk
