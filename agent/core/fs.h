// File-system primitives shared by the hook, the guard and the commands.
//
// Every state or spool file is replaced atomically: the new content goes to a
// temporary file in the same folder, is flushed to disk, and is renamed over
// the old name, so a crash at any point leaves either the old or the new file.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

namespace pbk {

// "No such file or directory" for errno values, without the locale's surprises.
std::string ErrnoText(int error_number);

// Reads a whole file. On failure *err says "reading PATH: REASON".
bool ReadFile(const std::string& path, std::string* content, std::string* err);

// Like ReadFile, but a missing file is not an error: *exists tells.
bool ReadFileIfExists(const std::string& path, std::string* content, bool* exists,
                      std::string* err);

// An owned file descriptor, closed on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.Release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int Release();
  void Reset(int fd = -1);

 private:
  int fd_ = -1;
};

struct AtomicWriteOptions {
  mode_t mode = 0600;
  // When false, a file system that refuses chmod (pmxcfs) is accepted.
  bool exact_mode = true;
  // When false, the folder is not flushed after the rename: a power cut
  // may then bring back the previous version (never a broken one). For
  // files whose last version only matters while the machine runs.
  bool sync_dir = true;
  // When set, the new file is locked (flock, exclusive) before it becomes
  // visible under its final name, and the locked descriptor is handed back.
  UniqueFd* locked_fd = nullptr;
};

// Replaces PATH with DATA atomically and durably (temp file, fsync, rename,
// fsync of the folder unless options say otherwise). On failure the old file is untouched and no
// temporary file is left behind.
bool WriteFileAtomic(const std::string& path, std::string_view data, std::string* err);
bool WriteFileAtomic(const std::string& path, std::string_view data,
                     const AtomicWriteOptions& options, std::string* err);

// mkdir -p with MODE for the folders it creates.
bool MakeDirs(const std::string& path, mode_t mode, std::string* err);

// The names in DIR (without "." and ".."), sorted. A missing folder is empty.
bool ListDir(const std::string& dir, std::vector<std::string>* names, std::string* err);

// Removes PATH; a missing file is fine.
bool RemoveFile(const std::string& path, std::string* err);

// The same, and the folder flushed to disk afterwards, so that the removal
// survives a power cut (the spool: an entry that came back would be sent again).
bool RemoveFileDurably(const std::string& path, std::string* err);

// rename(2), then both folders flushed to disk.
bool RenameDurably(const std::string& from, const std::string& to, std::string* err);

// fsync of a folder; false when it cannot be opened or flushed.
bool SyncDir(const std::string& dir);

// An advisory lock (flock) on a lock file, created if missing.
class FileLock {
 public:
  enum class Mode { kWait, kTry };
  // Returns false with *err on an error; *acquired is false when kTry found
  // the lock taken (not an error).
  bool Acquire(const std::string& path, Mode mode, bool* acquired, std::string* err);
  bool held() const { return fd_.valid(); }
  void Release() { fd_.Reset(); }

 private:
  UniqueFd fd_;
};

// Joins two path parts with exactly one slash.
std::string JoinPath(std::string_view a, std::string_view b);

// The folder part of PATH ("." when there is none).
std::string DirName(std::string_view path);

}  // namespace pbk
