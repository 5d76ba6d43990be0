#include "hook/run_options.h"

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <set>

#include "agent/core/fs.h"
#include "agent/core/text.h"
#include "api/pve/backup_job.h"
#include "hook/worker.h"

namespace pbk {
namespace {

constexpr std::string_view kStartLine = "INFO: starting new backup job: ";
// The line comes within the first few lines; a task log is read no further.
constexpr size_t kTaskLogHeadBytes = 64 * 1024;
constexpr int kTaskLogHeadLines = 50;

// Options that say nothing about which job ran: scheduling and bookkeeping
// keys "Run now" drops or vzdump does not print, and `node` (an API run
// always names the node it runs on; a job may restrict itself to one, which
// the caller checks on its own).
bool Ignored(const std::string& key) {
  static const std::set<std::string> kIgnored = {
      "enabled", "starttime", "dow",     "id",        "schedule",      "type", "node",
      "comment", "next-run",  "repeat-missed", "stdout", "job-id"};
  return kIgnored.count(key) != 0;
}

bool IsPropertyString(const std::string& key) {
  return key == "prune-backups" || key == "performance" || key == "fleecing";
}

// Splits shell words as String::ShellQuote writes them: 'single quoted',
// "double quoted" with backslash escapes, and backslash outside quotes.
bool ShellWords(std::string_view text, std::vector<std::string>* words, std::string* err) {
  words->clear();
  std::string word;
  bool in_word = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == ' ' || c == '\t') {
      if (in_word) words->push_back(word);
      word.clear();
      in_word = false;
      continue;
    }
    in_word = true;
    if (c == '\'') {
      const size_t end = text.find('\'', i + 1);
      if (end == std::string_view::npos) {
        *err = "an unterminated ' quote";
        return false;
      }
      word.append(text.substr(i + 1, end - i - 1));
      i = end;
    } else if (c == '"') {
      size_t j = i + 1;
      for (; j < text.size() && text[j] != '"'; ++j) {
        if (text[j] == '\\' && j + 1 < text.size()) ++j;
        word += text[j];
      }
      if (j >= text.size()) {
        *err = "an unterminated \" quote";
        return false;
      }
      i = j;
    } else if (c == '\\' && i + 1 < text.size()) {
      word += text[++i];
    } else {
      word += c;
    }
  }
  if (in_word) words->push_back(word);
  return true;
}

std::string SortedList(std::vector<std::string> items) {
  items.erase(std::remove(items.begin(), items.end(), std::string()), items.end());
  std::sort(items.begin(), items.end());
  items.erase(std::unique(items.begin(), items.end()), items.end());
  return Join(items, ",");
}

// PVE's split_list: commas, semicolons and white space separate.
std::vector<std::string> SplitList(const std::string& text) {
  std::string normalized = text;
  std::replace_if(
      normalized.begin(), normalized.end(),
      [](char c) { return c == ';' || c == ' ' || c == '\t' || c == '\n' || c == '\0'; }, ',');
  return Split(normalized, ',');
}

// "keep-daily=7,keep-last=3" -> the same, sorted; a part without a key is
// fleecing's default key, `enabled`.
std::string CanonicalPropertyString(const std::string& key, const std::string& text) {
  std::vector<std::string> parts;
  for (const auto& part : Split(text, ',')) {
    if (part.empty()) continue;
    if (part.find('=') == std::string::npos) {
      parts.push_back((key == "fleecing" ? "enabled=" : "=") + part);
    } else {
      parts.push_back(part);
    }
  }
  return SortedList(parts);
}

std::string CanonicalObject(const nlohmann::json& object) {
  std::vector<std::string> parts;
  for (const auto& item : object.items()) {
    parts.push_back(item.key() + "=" + LooseString(item.value()).value_or(item.value().dump()));
  }
  return SortedList(parts);
}

// Puts one option into SET in its canonical form.
void AddOption(OptionSet* set, const std::string& key, const std::string& value) {
  if (Ignored(key)) return;
  if (key == "vmid" || key == "exclude" || key == "mailto") {
    std::vector<std::string> items = SplitList(value);
    const auto old = set->find(key);
    if (old != set->end()) {
      for (auto& item : Split(old->second, ',')) items.push_back(item);
    }
    (*set)[key] = SortedList(items);
  } else if (key == "all") {
    const auto flag = LooseBool(nlohmann::json(value));
    (*set)[key] = flag.value_or(false) ? "1" : (flag ? "0" : value);
  } else if (IsPropertyString(key)) {
    (*set)[key] = CanonicalPropertyString(key, value);
  } else {
    (*set)[key] = value;
  }
}

}  // namespace

bool ParseVzdumpCommand(std::string_view command, RunOptions* run, std::string* err) {
  std::vector<std::string> words;
  std::string why;
  if (!ShellWords(command, &words, &why)) {
    *err = "the vzdump command line has " + why;
    return false;
  }
  if (words.empty() || words.front() != "vzdump") {
    *err = "the command line does not start with vzdump";
    return false;
  }
  RunOptions result;
  size_t i = 1;
  for (; i < words.size() && !StartsWith(words[i], "--"); ++i) result.vmids.push_back(words[i]);
  for (; i < words.size(); i += 2) {
    if (!StartsWith(words[i], "--") || words[i].size() < 3) {
      *err = "expected --option, got " + Quote(words[i]);
      return false;
    }
    if (i + 1 >= words.size()) {
      *err = "option " + words[i] + " has no value";
      return false;
    }
    result.options.emplace_back(words[i].substr(2), words[i + 1]);
  }
  *run = std::move(result);
  return true;
}

bool FindRunOptions(std::string_view task_log, RunOptions* run, std::string* err) {
  int line_number = 0;
  size_t start = 0;
  while (start < task_log.size() && line_number++ < kTaskLogHeadLines) {
    size_t end = task_log.find('\n', start);
    if (end == std::string_view::npos) end = task_log.size();
    std::string_view line = task_log.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.substr(0, kStartLine.size()) == kStartLine) {
      std::string why;
      if (ParseVzdumpCommand(line.substr(kStartLine.size()), run, &why)) return true;
      *err = "line " + std::to_string(line_number) + ": " + why;
      return false;
    }
    start = end + 1;
  }
  *err = "no \"starting new backup job\" line in its first " + std::to_string(kTaskLogHeadLines) +
         " lines";
  return false;
}

std::string TaskLogPath(const std::string& tasks_dir, const std::string& upid) {
  Upid parsed;
  if (!ParseUpid(upid, &parsed) || upid.find('/') != std::string::npos) return {};
  const std::vector<std::string> fields = Split(upid, ':');
  if (fields.size() < 5 || fields[4].empty()) return {};
  return JoinPath(JoinPath(tasks_dir, fields[4].substr(fields[4].size() - 1)), upid);
}

bool ReadRunOptions(const std::string& tasks_dir, const std::string& upid, RunOptions* run,
                    std::string* err) {
  const std::string path = TaskLogPath(tasks_dir, upid);
  if (path.empty()) {
    *err = "the run has no task UPID";
    return false;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *err = "cannot read the task log " + path + ": " + ErrnoText(errno);
    return false;
  }
  std::string head(kTaskLogHeadBytes, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(in.gcount()));
  std::string why;
  if (!FindRunOptions(head, run, &why)) {
    *err = "the task log " + path + ": " + why;
    return false;
  }
  return true;
}

OptionSet NormalizeRunOptions(const RunOptions& run) {
  OptionSet set;
  set["all"] = "0";
  for (const auto& vmid : run.vmids) AddOption(&set, "vmid", vmid);
  for (const auto& [key, value] : run.options) AddOption(&set, key, value);
  return set;
}

OptionSet NormalizeJobOptions(const nlohmann::json& job) {
  OptionSet set;
  set["all"] = "0";
  if (!job.is_object()) return set;
  for (const auto& item : job.items()) {
    const nlohmann::json& value = item.value();
    if (value.is_null()) continue;
    if (value.is_object()) {
      if (!Ignored(item.key())) set[item.key()] = CanonicalObject(value);
      continue;
    }
    AddOption(&set, item.key(), LooseString(value).value_or(value.dump()));
  }
  return set;
}

std::string OptionDifference(const OptionSet& run, const OptionSet& job) {
  auto show = [](const OptionSet& set, const std::string& key) {
    const auto it = set.find(key);
    return it == set.end() ? std::string("not set") : Quote(it->second);
  };
  std::set<std::string> keys;
  for (const auto& [key, value] : run) keys.insert(key);
  for (const auto& [key, value] : job) keys.insert(key);
  for (const auto& key : keys) {
    const auto a = run.find(key);
    const auto b = job.find(key);
    if (a != run.end() && b != job.end() && a->second == b->second) continue;
    return key + ": " + show(run, key) + " in this run, " + show(job, key) + " in the job";
  }
  return {};
}

}  // namespace pbk
