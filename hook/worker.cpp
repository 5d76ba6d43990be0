#include "hook/worker.h"

#include "agent/core/fs.h"
#include "agent/core/state_layout.h"
#include "agent/core/text.h"

namespace pbk {

bool ParseUpid(std::string_view text, Upid* upid) {
  if (!StartsWith(text, "UPID:") || text.size() > 512) return false;
  auto fields = Split(text.substr(5), ':');
  // node, pid, pstart, starttime, type, id, user, and the empty rest after
  // the trailing colon.
  if (fields.size() != 8 || !fields[7].empty() || fields[0].empty()) return false;
  Upid result;
  result.node = fields[0];
  auto pid = ParseUnsigned(fields[1], 16);
  auto pstart = ParseUnsigned(fields[2], 16);
  auto starttime = ParseUnsigned(fields[3], 16);
  if (!pid || !pstart || !starttime || *pid == 0) return false;
  result.pid = *pid;
  result.pstart = *pstart;
  result.starttime = *starttime;
  result.type = fields[4];
  result.id = fields[5];
  result.user = fields[6];
  if (result.type.empty() || result.user.empty()) return false;
  *upid = std::move(result);
  return true;
}

std::string UpidFromCmdline(std::string_view cmdline) {
  std::string_view first = cmdline.substr(0, cmdline.find('\0'));
  static constexpr std::string_view kPrefix = "task ";
  if (!StartsWith(first, kPrefix)) return {};
  std::string_view candidate = first.substr(kPrefix.size());
  // Perl pads a rewritten $0 with spaces on some systems.
  candidate = Trim(candidate);
  Upid upid;
  return ParseUpid(candidate, &upid) ? std::string(candidate) : std::string();
}

bool StartTimeFromStat(std::string_view stat, uint64_t* start_ticks) {
  // Field 2 is "(comm)" and may itself hold spaces and parentheses.
  size_t close = stat.rfind(')');
  if (close == std::string_view::npos) return false;
  auto fields = Split(Trim(stat.substr(close + 1)), ' ');
  // fields[0] is field 3 (state), so field 22 is fields[19].
  if (fields.size() < 20) return false;
  auto value = ParseUnsigned(fields[19]);
  if (!value) return false;
  *start_ticks = *value;
  return true;
}

bool IdentifyWorker(const std::string& proc_root, pid_t ppid, WorkerIdentity* worker,
                    std::string* err) {
  const std::string dir = JoinPath(proc_root, std::to_string(ppid));
  std::string cmdline, why;
  if (ReadFile(JoinPath(dir, "cmdline"), &cmdline, &why)) {
    std::string upid_text = UpidFromCmdline(cmdline);
    Upid upid;
    if (!upid_text.empty() && ParseUpid(upid_text, &upid)) {
      worker->upid = upid_text;
      worker->pid = ppid;
      worker->key = FileNameKey("upid-" + upid.node + "-" + Split(upid_text, ':')[2] + "-" +
                                Split(upid_text, ':')[3] + "-" + Split(upid_text, ':')[4]);
      return true;
    }
  }
  std::string stat;
  uint64_t start_ticks = 0;
  if (!ReadFile(JoinPath(dir, "stat"), &stat, &why) || !StartTimeFromStat(stat, &start_ticks)) {
    *err = "cannot identify the calling vzdump process " + std::to_string(ppid) + ": " +
           (why.empty() ? "unreadable " + JoinPath(dir, "stat") : why);
    return false;
  }
  worker->upid.clear();
  worker->pid = ppid;
  worker->key = "pid-" + std::to_string(ppid) + "-" + std::to_string(start_ticks);
  return true;
}

bool WorkerAlive(const std::string& proc_root, uint64_t pid, uint64_t start_ticks) {
  std::string stat, err;
  uint64_t ticks = 0;
  return pid > 0 &&
         ReadFile(JoinPath(JoinPath(proc_root, std::to_string(pid)), "stat"), &stat, &err) &&
         StartTimeFromStat(stat, &ticks) && ticks == start_ticks;
}

bool RunWorker(const std::string& upid_text, const std::string& key, uint64_t* pid,
               uint64_t* start_ticks) {
  Upid upid;
  if (!upid_text.empty() && ParseUpid(upid_text, &upid)) {
    *pid = upid.pid;
    *start_ticks = upid.pstart;
    return true;
  }
  const std::vector<std::string> parts = Split(key, '-');
  if (parts.size() != 3 || parts[0] != "pid") return false;
  auto parsed_pid = ParseUnsigned(parts[1]);
  auto parsed_ticks = ParseUnsigned(parts[2]);
  if (!parsed_pid || !parsed_ticks) return false;
  *pid = *parsed_pid;
  *start_ticks = *parsed_ticks;
  return true;
}

}  // namespace pbk
