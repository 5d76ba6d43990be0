// Where pbk-agent keeps its state: every file and folder under
// paths.state_dir, named here and nowhere else.
//
//   runs/<key>.json              the record of one vzdump run (hook/run_record)
//   spool/<name>.json            a push owed to Kuma (hook/spool)
//   spool/<name>.sent            a push Kuma confirmed, not yet removed
//   spool/failed/<name>.json     a push given up on, kept for the admin
//   locks/job-<id>.lock          one job's push lock
//   guard.lock, flush.lock       one guard, one flush at a time
//   jobs.json                    the job list the guard last read
//   guard-clean.json             what the last clean guard run saw
//   replaced-scripts.json        the scripts the guard replaced
//   refresh.json                 what refresh remembers between runs
//
// A changed name here changes the files on every node: the unit test
// state_layout_test pins each of them.
#pragma once

#include <string>
#include <string_view>

namespace pbk {

class StateLayout {
 public:
  explicit StateLayout(std::string state_dir);

  const std::string& StateDir() const { return state_dir_; }

  std::string RunsDir() const;
  // KEY is a run key (FileNameKey).
  std::string RunFile(std::string_view key) const;

  std::string SpoolDir() const;
  // NAME is the entry's name without its ending: a run key, or a name of
  // a push that belongs to no run.
  std::string SpoolEntry(std::string_view name) const;
  std::string SentEntry(std::string_view name) const;
  std::string FailedDir() const;
  // Where an entry of the spool (its path) goes when it is given up on.
  std::string FailedEntryFor(std::string_view entry_path) const;

  std::string LocksDir() const;
  std::string JobLock(std::string_view job_id) const;
  std::string GuardLock() const;
  std::string FlushLock() const;

  std::string JobCache() const;
  std::string GuardClean() const;
  std::string ReplacedScripts() const;
  std::string RefreshState() const;

  // The sent twin of a spool entry's path: <name>.json -> <name>.sent.
  static std::string SentPathOf(std::string_view entry_path);
  // Whether FILE_NAME (in spool/, spool/failed/ or runs/) is an entry or a
  // record, or a sent entry. Names starting with a dot (a write in
  // progress) are neither.
  static bool IsEntryName(std::string_view file_name);
  static bool IsSentName(std::string_view file_name);

 private:
  std::string state_dir_;
};

// TEXT as a file name: characters other than [A-Za-z0-9.@-] become '_', and
// a name over 200 bytes is cut with a hash of all of it (NAME_MAX).
std::string FileNameKey(std::string_view text);

}  // namespace pbk
