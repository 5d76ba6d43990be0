// The options a vzdump run was started with, and whether they are a job's.
//
// vzdump logs every run's own options near the top of its task log:
//   INFO: starting new backup job: vzdump 100 101 --mode snapshot --storage pbs1 …
// (PVE::VZDump::Common::command_line: the guests first, then every option
// but id vmid starttime dow stdout enabled job-id, in Perl hash order; values
// shell-quoted; mailto once per address; prune-backups, performance and
// fleecing printed as property strings). A "Run now" from the web UI posts
// the job's options minus enabled starttime dow id schedule type node
// comment next-run repeat-missed, with `all` always given as 0 or 1, so a
// run whose options equal a job's (after those differences) is that job's.
// A guest's "Backup now" or a `vzdump` on the command line has options of
// its own and matches no job.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pbk {

struct RunOptions {
  std::vector<std::string> vmids;                            // the guests named first
  std::vector<std::pair<std::string, std::string>> options;  // --key value, in order
};

// Parses "vzdump 100 101 --key value …" (shell words). False with *err
// naming the problem when it is no such command line.
bool ParseVzdumpCommand(std::string_view command, RunOptions* run, std::string* err);

// Finds the "starting new backup job" line in the first lines of a task
// log and parses it. False with *err when there is none or it is malformed.
bool FindRunOptions(std::string_view task_log, RunOptions* run, std::string* err);

// <tasks_dir>/<last hex digit of the UPID's starttime>/<UPID>; "" when UPID
// is not a UPID.
std::string TaskLogPath(const std::string& tasks_dir, const std::string& upid);

// Reads the run's options from the head of its task log.
bool ReadRunOptions(const std::string& tasks_dir, const std::string& upid, RunOptions* run,
                    std::string* err);

// Options made comparable: key -> canonical value. Keys a "Run now" drops
// are left out, `all` is always there ("0" or "1"), guest lists and mail
// addresses are sorted, property strings become sorted key=value lists.
using OptionSet = std::map<std::string, std::string>;

OptionSet NormalizeRunOptions(const RunOptions& run);
// JOB is a job object as /cluster/backup lists it.
OptionSet NormalizeJobOptions(const nlohmann::json& job);

// "" when RUN and JOB are the same options; else the first difference in
// words ("mode: snapshot here, stop in the job").
std::string OptionDifference(const OptionSet& run, const OptionSet& job);

}  // namespace pbk
