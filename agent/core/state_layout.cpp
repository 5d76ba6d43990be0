#include "agent/core/state_layout.h"

#include <cstdint>
#include <cstdio>
#include <utility>

#include "agent/core/fs.h"
#include "agent/core/text.h"

namespace pbk {

namespace {

constexpr std::string_view kEntryEnding = ".json";
constexpr std::string_view kSentEnding = ".sent";

std::string Named(std::string_view name, std::string_view ending) {
  std::string file(name);
  file += ending;
  return file;
}

std::string SafeFileName(std::string_view text) {
  std::string out;
  for (char c : text) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '@';
    out += ok ? c : '_';
  }
  return out;
}

// A run key names files: "<key>.json" in runs/ and spool/, and the atomic
// writer's ".<key>.json.tmp.<pid>.<n>" beside them. A UPID's node name can be
// long enough to take those past NAME_MAX (255 bytes), so a longer key is cut
// and ends in a hash of all of it instead: the same run always gets the same
// key, and two runs that differ only after the cut still get two.
constexpr size_t kMaxKeyBytes = 200;

std::string CapKey(const std::string& key) {
  if (key.size() <= kMaxKeyBytes) return key;
  uint64_t hash = 14695981039346656037u;  // 64-bit FNV-1a
  for (char c : key) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211u;
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
  return key.substr(0, kMaxKeyBytes - 17) + "-" + hex;
}

}  // namespace

std::string FileNameKey(std::string_view text) { return CapKey(SafeFileName(text)); }

StateLayout::StateLayout(std::string state_dir) : state_dir_(std::move(state_dir)) {}

std::string StateLayout::RunsDir() const { return JoinPath(state_dir_, "runs"); }

std::string StateLayout::RunFile(std::string_view key) const {
  return JoinPath(RunsDir(), Named(key, kEntryEnding));
}

std::string StateLayout::SpoolDir() const { return JoinPath(state_dir_, "spool"); }

std::string StateLayout::SpoolEntry(std::string_view name) const {
  return JoinPath(SpoolDir(), Named(name, kEntryEnding));
}

std::string StateLayout::SentEntry(std::string_view name) const {
  return JoinPath(SpoolDir(), Named(name, kSentEnding));
}

std::string StateLayout::FailedDir() const { return JoinPath(SpoolDir(), "failed"); }

std::string StateLayout::FailedEntryFor(std::string_view entry_path) const {
  const size_t slash = entry_path.rfind('/');
  return JoinPath(FailedDir(), entry_path.substr(slash + 1));
}

std::string StateLayout::LocksDir() const { return JoinPath(state_dir_, "locks"); }

std::string StateLayout::JobLock(std::string_view job_id) const {
  return JoinPath(LocksDir(), "job-" + FileNameKey(job_id) + ".lock");
}

std::string StateLayout::GuardLock() const { return JoinPath(state_dir_, "guard.lock"); }

std::string StateLayout::FlushLock() const { return JoinPath(state_dir_, "flush.lock"); }

std::string StateLayout::JobCache() const { return JoinPath(state_dir_, "jobs.json"); }

std::string StateLayout::GuardClean() const { return JoinPath(state_dir_, "guard-clean.json"); }

std::string StateLayout::ReplacedScripts() const {
  return JoinPath(state_dir_, "replaced-scripts.json");
}

std::string StateLayout::RefreshState() const { return JoinPath(state_dir_, "refresh.json"); }

std::string StateLayout::SentPathOf(std::string_view entry_path) {
  std::string sent(entry_path.substr(0, entry_path.size() - kEntryEnding.size()));
  sent += kSentEnding;
  return sent;
}

bool StateLayout::IsEntryName(std::string_view file_name) {
  return !StartsWith(file_name, ".") && EndsWith(file_name, kEntryEnding);
}

bool StateLayout::IsSentName(std::string_view file_name) {
  return !StartsWith(file_name, ".") && EndsWith(file_name, kSentEnding);
}

}  // namespace pbk
