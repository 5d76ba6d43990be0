// A PVE backup job as /cluster/backup lists it, read loosely: the API gives
// booleans and numbers from jobs.cfg as numbers, legacy vzdump.cron jobs may
// say "1" or "", and object-valued options may carry numbers as strings.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace pbk {

struct BackupJob {
  std::string id;
  std::string type;  // "vzdump" for jobs.cfg entries; empty for legacy ones
  std::string schedule;
  bool enabled = true;
  std::string storage;
  std::string node;
  std::string pool;
  bool all = false;
  std::vector<int> vmids;
  std::vector<int> exclude;
  std::string script;  // the hook this job runs; empty when none
  std::string comment;
  // Every option of the job as PVE listed it (the fields above included):
  // what a run of the job is compared with (hook/run_options.h).
  nlohmann::json options = nlohmann::json::object();

  // Legacy vzdump.cron jobs have ids "<sha1 of the file>:<n>".
  bool IsLegacy() const { return type.empty() || id.find(':') != std::string::npos; }
};

// Reads one job object. Returns false with *err naming the field.
bool ParseBackupJob(const nlohmann::json& object, BackupJob* job, std::string* err);

// Reads a list of jobs: the bare array pvesh prints, or {"data": [...]}.
// Entries whose type is set and is not "vzdump" are skipped.
bool ParseBackupJobList(const nlohmann::json& document, std::vector<BackupJob>* jobs,
                        std::string* err);

// The list in a PVE answer: the bare array pvesh prints, or the "data" of
// the API's {"data": [...]}. WHAT names the entries in *err ("jobs").
const nlohmann::json* AnswerList(const nlohmann::json& document, const char* what,
                                 std::string* err);

// Loose readers for PVE's values.
std::optional<bool> LooseBool(const nlohmann::json& value);
std::optional<int64_t> LooseInt(const nlohmann::json& value);
std::optional<std::string> LooseString(const nlohmann::json& value);
// "100,101 102" -> {100, 101, 102}; false on anything that is not a vmid.
bool ParseVmidList(const std::string& text, std::vector<int>* vmids);

// The job list the guard last read, kept in state_dir (StateLayout::JobCache)
// for the hook (to tell which job a run without a scheduler file belongs to)
// and for verify.
struct JobCache {
  int64_t written_ms = 0;
  std::string source;  // "rest", "pvesh" or "files"
  std::string node;
  std::vector<BackupJob> jobs;
  // The list exactly as PVE answered it, when there is such an answer: the
  // cache keeps it as it is instead of writing the jobs out again.
  std::string document;
};

// The fields pbk-agent reads, as a job object of the API.
nlohmann::json BackupJobToJson(const BackupJob& job);

std::string SerializeJobCache(const JobCache& cache);
bool ParseJobCache(const std::string& text, JobCache* cache, std::string* err);
bool SaveJobCache(const std::string& path, const JobCache& cache, std::string* err);
bool LoadJobCache(const std::string& path, JobCache* cache, bool* exists, std::string* err);

}  // namespace pbk
