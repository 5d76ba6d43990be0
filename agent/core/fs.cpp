#include "agent/core/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>

namespace pbk {

std::string ErrnoText(int error_number) {
  char buffer[256];
  // The GNU variant returns a pointer that may or may not be the buffer.
  return strerror_r(error_number, buffer, sizeof buffer);
}

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) Reset(other.Release());
  return *this;
}

UniqueFd::~UniqueFd() { Reset(); }

int UniqueFd::Release() {
  int fd = fd_;
  fd_ = -1;
  return fd;
}

void UniqueFd::Reset(int fd) {
  if (fd_ >= 0) close(fd_);
  fd_ = fd;
}

bool ReadFileIfExists(const std::string& path, std::string* content, bool* exists,
                      std::string* err) {
  content->clear();
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) {
      *exists = false;
      return true;
    }
    *err = "reading " + path + ": " + ErrnoText(errno);
    return false;
  }
  *exists = true;
  char buffer[65536];
  for (;;) {
    ssize_t n = read(fd.get(), buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      *err = "reading " + path + ": " + ErrnoText(errno);
      return false;
    }
    if (n == 0) break;
    content->append(buffer, static_cast<size_t>(n));
  }
  return true;
}

bool ReadFile(const std::string& path, std::string* content, std::string* err) {
  bool exists = false;
  if (!ReadFileIfExists(path, content, &exists, err)) return false;
  if (!exists) {
    *err = "reading " + path + ": " + ErrnoText(ENOENT);
    return false;
  }
  return true;
}

std::string JoinPath(std::string_view a, std::string_view b) {
  if (a.empty()) return std::string(b);
  std::string out(a);
  if (out.back() != '/') out += '/';
  while (!b.empty() && b.front() == '/') b.remove_prefix(1);
  out += b;
  return out;
}

std::string DirName(std::string_view path) {
  size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return ".";
  if (slash == 0) return "/";
  return std::string(path.substr(0, slash));
}

namespace {

std::string BaseName(std::string_view path) {
  size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

bool SyncDir(const std::string& dir) {
  UniqueFd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return false;
  return fsync(fd.get()) == 0;
}

bool RenameDurably(const std::string& from, const std::string& to, std::string* err) {
  if (rename(from.c_str(), to.c_str()) != 0) {
    *err = "renaming " + from + " to " + to + ": " + ErrnoText(errno);
    return false;
  }
  SyncDir(DirName(to));
  if (DirName(from) != DirName(to)) SyncDir(DirName(from));
  return true;
}

bool RemoveFileDurably(const std::string& path, std::string* err) {
  if (!RemoveFile(path, err)) return false;
  SyncDir(DirName(path));
  return true;
}

bool WriteFileAtomic(const std::string& path, std::string_view data, std::string* err) {
  return WriteFileAtomic(path, data, AtomicWriteOptions{}, err);
}

bool WriteFileAtomic(const std::string& path, std::string_view data,
                     const AtomicWriteOptions& options, std::string* err) {
  static std::atomic<unsigned> counter{0};
  const std::string dir = DirName(path);
  const std::string temp = JoinPath(dir, "." + BaseName(path) + ".tmp." +
                                             std::to_string(getpid()) + "." +
                                             std::to_string(counter++));
  UniqueFd fd(open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, options.mode));
  if (!fd.valid()) {
    *err = "writing " + path + ": creating a temporary file: " + ErrnoText(errno);
    return false;
  }
  auto fail = [&](const char* step) {
    int saved = errno;
    unlink(temp.c_str());
    *err = "writing " + path + ": " + step + ": " + ErrnoText(saved);
    return false;
  };
  // The mode given to open() is filtered by the umask; set it exactly.
  if (fchmod(fd.get(), options.mode) != 0 && options.exact_mode) return fail("setting the mode");
  if (!WriteAll(fd.get(), data)) return fail("writing");
  if (fsync(fd.get()) != 0) return fail("flushing to disk");
  if (options.locked_fd != nullptr && flock(fd.get(), LOCK_EX) != 0) return fail("locking");
  if (rename(temp.c_str(), path.c_str()) != 0) return fail("renaming into place");
  // The new content is in place from here on. A failed fsync of the folder
  // only risks the rename itself across a power cut; reporting a failure now
  // would make callers believe the old content is still there.
  if (options.sync_dir) SyncDir(dir);
  if (options.locked_fd != nullptr) *options.locked_fd = std::move(fd);
  return true;
}

bool MakeDirs(const std::string& path, mode_t mode, std::string* err) {
  if (path.empty()) return true;
  struct stat st {};
  if (stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return true;
    *err = "creating folder " + path + ": a file of that name is in the way";
    return false;
  }
  const std::string parent = DirName(path);
  if (parent != path && !MakeDirs(parent, mode, err)) return false;
  if (mkdir(path.c_str(), mode) != 0 && errno != EEXIST) {
    *err = "creating folder " + path + ": " + ErrnoText(errno);
    return false;
  }
  return true;
}

bool ListDir(const std::string& dir, std::vector<std::string>* names, std::string* err) {
  names->clear();
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return true;
    *err = "listing " + dir + ": " + ErrnoText(errno);
    return false;
  }
  errno = 0;
  while (dirent* entry = readdir(d)) {
    std::string name = entry->d_name;
    if (name != "." && name != "..") names->push_back(std::move(name));
  }
  int saved = errno;
  closedir(d);
  if (saved != 0) {
    *err = "listing " + dir + ": " + ErrnoText(saved);
    return false;
  }
  std::sort(names->begin(), names->end());
  return true;
}

bool RemoveFile(const std::string& path, std::string* err) {
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    *err = "removing " + path + ": " + ErrnoText(errno);
    return false;
  }
  return true;
}

bool FileLock::Acquire(const std::string& path, Mode mode, bool* acquired, std::string* err) {
  *acquired = false;
  UniqueFd fd(open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd.valid()) {
    *err = "opening lock file " + path + ": " + ErrnoText(errno);
    return false;
  }
  int operation = LOCK_EX | (mode == Mode::kTry ? LOCK_NB : 0);
  while (flock(fd.get(), operation) != 0) {
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK) return true;
    *err = "locking " + path + ": " + ErrnoText(errno);
    return false;
  }
  fd_ = std::move(fd);
  *acquired = true;
  return true;
}

}  // namespace pbk
