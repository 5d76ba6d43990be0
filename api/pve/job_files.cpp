#include "api/pve/job_files.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <spdlog/fmt/fmt.h>

#include "api/pve/sha1.h"
#include "agent/core/text.h"

namespace pbk {

using nlohmann::json;

namespace {

struct Line {
  size_t begin;
  size_t end;  // without the newline
};

// Lines as Perl's `s/^(.*?)(\n|$)//` loop sees them.
std::vector<Line> SplitLines(const std::string& text) {
  std::vector<Line> lines;
  size_t begin = 0;
  while (begin < text.size()) {
    size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    lines.push_back({begin, end});
    begin = end + 1;
  }
  return lines;
}

bool IsBlank(std::string_view line) { return Trim(line).empty(); }

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

}  // namespace

bool ParseJobsCfg(const std::string& text, std::vector<BackupJob>* jobs, std::string* err) {
  jobs->clear();
  json section;
  bool in_vzdump = false;
  bool in_section = false;
  int number = 0;
  auto finish = [&]() -> bool {
    if (!in_vzdump) return true;
    BackupJob job;
    std::string why;
    if (!ParseBackupJob(section, &job, &why)) {
      *err = "jobs.cfg: " + why;
      return false;
    }
    jobs->push_back(std::move(job));
    return true;
  };
  for (const Line& range : SplitLines(text)) {
    ++number;
    std::string_view line(text.data() + range.begin, range.end - range.begin);
    if (IsBlank(line) || line.front() == '#') continue;
    if (IsSpace(line.front())) {
      if (!in_section) {
        *err = "jobs.cfg line " + std::to_string(number) + ": an option outside any section";
        return false;
      }
      if (!in_vzdump) continue;
      std::string_view content = Trim(line);
      size_t space = content.find_first_of(" \t");
      std::string key(content.substr(0, space));
      std::string value =
          space == std::string_view::npos ? "" : std::string(Trim(content.substr(space)));
      if (key == "id" || key == "type" || section.contains(key)) {
        *err = "jobs.cfg line " + std::to_string(number) + ": option " + Quote(key) +
               " is not allowed here or given twice";
        return false;
      }
      section[key] = value;
      continue;
    }
    // A section header: "type: id".
    size_t colon = line.find(':');
    std::string type(Trim(line.substr(0, colon == std::string_view::npos ? 0 : colon)));
    std::string id(colon == std::string_view::npos ? "" : Trim(line.substr(colon + 1)));
    if (type.empty() || id.empty() || id.find_first_of(" \t") != std::string::npos) {
      *err = "jobs.cfg line " + std::to_string(number) + ": expected a section header like " +
             "\"vzdump: backup-…\", got " + Quote(std::string(line));
      return false;
    }
    if (!finish()) return false;
    in_section = true;
    in_vzdump = type == "vzdump";
    section = json{{"id", id}, {"type", type}};
  }
  return finish();
}

bool SplitShellWords(const std::string& line, std::vector<Word>* words, std::string* err) {
  words->clear();
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && IsSpace(line[i])) ++i;
    if (i >= line.size()) break;
    Word word;
    word.begin = i;
    while (i < line.size() && !IsSpace(line[i])) {
      char c = line[i];
      if (c == '\'') {
        size_t close = line.find('\'', i + 1);
        if (close == std::string::npos) {
          *err = "an unmatched single quote";
          return false;
        }
        word.text.append(line, i + 1, close - i - 1);
        i = close + 1;
      } else if (c == '"') {
        ++i;
        while (i < line.size() && line[i] != '"') {
          if (line[i] == '\\' && i + 1 < line.size() &&
              (line[i + 1] == '"' || line[i + 1] == '\\' || line[i + 1] == '$' ||
               line[i + 1] == '`')) {
            ++i;
          }
          word.text += line[i++];
        }
        if (i >= line.size()) {
          *err = "an unmatched double quote";
          return false;
        }
        ++i;
      } else if (c == '\\' && i + 1 < line.size()) {
        word.text += line[i + 1];
        i += 2;
      } else {
        word.text += c;
        ++i;
      }
    }
    word.end = i;
    words->push_back(std::move(word));
  }
  return true;
}

std::string ShellQuote(const std::string& value) {
  bool plain = !value.empty() && std::all_of(value.begin(), value.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("/._-+=:,@%").find(c) != std::string_view::npos;
  });
  if (plain) return value;
  std::string out = "'";
  for (char c : value) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

namespace {

// vzdump's options (PVE::VZDump's confdesc); PVE drops a line naming any
// other option as malformed, which shifts the numbers of the lines after it.
const std::set<std::string>& VzdumpOptions() {
  static const std::set<std::string> options = {
      "all", "bwlimit", "compress", "dumpdir", "exclude", "exclude-path", "fleecing", "ionice",
      "job-id", "lockwait", "mailnotification", "mailto", "maxfiles", "mode", "node",
      "notes-template", "notification-mode", "pbs-change-detection-mode", "performance", "pigz",
      "pool", "protected", "prune-backups", "quiet", "remove", "script", "size", "stdexcludes",
      "stdout", "stop", "stopwait", "storage", "tmpdir", "vmid", "zstd"};
  return options;
}

// parse_dow: "*", names, ranges "mon-fri", digits 0-7 (0 and 7 are Sunday).
bool ParseDow(const std::string& text, std::set<int>* days) {
  static const char* kNames[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
  auto day_of = [](std::string name) -> int {
    std::transform(name.begin(), name.end(), name.begin(), ::tolower);
    for (int i = 0; i < 7; ++i) {
      if (name == kNames[i]) return i + 1;
    }
    if (name.size() == 1 && name[0] >= '0' && name[0] <= '7') {
      return name[0] == '0' ? 7 : name[0] - '0';
    }
    return 0;
  };
  days->clear();
  if (text == "*") {
    for (int d = 1; d <= 7; ++d) days->insert(d);
    return true;
  }
  for (const auto& part : Split(text, ',')) {
    size_t dash = part.find('-');
    if (dash != std::string::npos) {
      int from = day_of(part.substr(0, dash));
      int to = day_of(part.substr(dash + 1));
      // Ranges take names only.
      if (from == 0 || to == 0 || part.size() != 7) return false;
      for (int d = from; d <= to; ++d) days->insert(d);
    } else {
      int d = day_of(part);
      if (d == 0) return false;
      days->insert(d);
    }
  }
  return !days->empty();
}

std::string DowNames(const std::set<int>& days) {
  static const char* kNames[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
  std::vector<std::string> names;
  for (int d : days) names.push_back(kNames[d - 1]);
  return Join(names, ",");
}

bool IsDigits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return c >= '0' && c <= '9';
  });
}

struct CronFields {
  int minute, hour;
  std::string dow;
  bool enabled;
  size_t params_begin;  // offset in the line where vzdump's arguments start
};

// ^(\d+)\s+(\d+)\s+\*\s+\*\s+(\S+)\s+root\s+(/\S+/)?(#)?vzdump(\s+(.*))?$
bool MatchCronLine(const std::string& line, CronFields* fields) {
  size_t i = 0;
  auto skip_space = [&]() {
    size_t start = i;
    while (i < line.size() && IsSpace(line[i])) ++i;
    return i > start;
  };
  auto token = [&]() {
    size_t start = i;
    while (i < line.size() && !IsSpace(line[i])) ++i;
    return line.substr(start, i - start);
  };
  std::string minute = token();
  if (!IsDigits(minute) || !skip_space()) return false;
  std::string hour = token();
  if (!IsDigits(hour) || !skip_space()) return false;
  if (token() != "*" || !skip_space() || token() != "*" || !skip_space()) return false;
  fields->dow = token();
  if (fields->dow.empty() || !skip_space() || token() != "root" || !skip_space()) return false;
  size_t command = i;
  while (i < line.size() && !IsSpace(line[i])) ++i;
  std::string word = line.substr(command, i - command);
  size_t slash = word.rfind('/');
  std::string prefix = slash == std::string::npos ? "" : word.substr(0, slash + 1);
  std::string rest = slash == std::string::npos ? word : word.substr(slash + 1);
  if (!prefix.empty() && prefix.front() != '/') return false;
  fields->enabled = true;
  if (!rest.empty() && rest.front() == '#') {
    fields->enabled = false;
    rest.erase(0, 1);
  }
  if (rest != "vzdump") return false;
  if (i < line.size() && !IsSpace(line[i])) return false;
  fields->minute = std::stoi(minute.substr(0, 9));
  fields->hour = std::stoi(hour.substr(0, 9));
  fields->params_begin = i;
  return true;
}

// One argument of a vzdump line as get_options($vzdump_properties, $args,
// 'vmid') reads it: a bare word is a guest; "--key value", "--key=value" and
// "-key …" are options; an option without a value (the next word is another
// option, or there is none) means 1.
struct VzdumpArg {
  std::string key;  // empty for a bare word
  std::string value;
  size_t word = 0;                        // the bare word's or the option's
  size_t value_word = std::string::npos;  // the value's own word, if it has one
  bool inline_value = false;              // "--key=value"
};

std::vector<VzdumpArg> ScanVzdumpArgs(const std::vector<Word>& words) {
  std::vector<VzdumpArg> args;
  for (size_t i = 0; i < words.size(); ++i) {
    const std::string& word = words[i].text;
    VzdumpArg arg;
    arg.word = i;
    if (!StartsWith(word, "-")) {
      arg.value = word;
      args.push_back(std::move(arg));
      continue;
    }
    arg.key = word.substr(StartsWith(word, "--") ? 2 : 1);
    arg.value = "1";
    if (size_t eq = arg.key.find('='); eq != std::string::npos) {
      arg.value = arg.key.substr(eq + 1);
      arg.key = arg.key.substr(0, eq);
      arg.inline_value = true;
    } else if (i + 1 < words.size() && !StartsWith(words[i + 1].text, "-")) {
      arg.value_word = ++i;
      arg.value = words[i].text;
    }
    args.push_back(std::move(arg));
  }
  return args;
}

bool ParseVzdumpArgs(const std::vector<Word>& words, json* options, std::string* why) {
  std::vector<std::string> vmids;
  for (const VzdumpArg& arg : ScanVzdumpArgs(words)) {
    if (arg.key.empty()) {
      vmids.push_back(arg.value);
      continue;
    }
    if (VzdumpOptions().count(arg.key) == 0) {
      *why = "unknown vzdump option --" + arg.key;
      return false;
    }
    // An option given twice keeps its last value, as in vzdump.
    if (arg.key == "vmid") {
      vmids.push_back(arg.value);
    } else {
      (*options)[arg.key] = arg.value;
    }
  }
  if (!vmids.empty()) {
    std::vector<int> parsed;
    std::string list = Join(vmids, ",");
    if (!ParseVmidList(list, &parsed)) {
      *why = "not a guest id list: " + list;
      return false;
    }
    (*options)["vmid"] = fmt::format("{}", fmt::join(parsed, ","));
  }
  return true;
}

}  // namespace

bool ParseVzdumpCron(const std::string& text, std::vector<CronJob>* jobs,
                     std::vector<std::string>* warnings) {
  jobs->clear();
  const std::string digest = Sha1Hex(text);
  int next_id = 1;
  int number = 0;
  for (const Line& range : SplitLines(text)) {
    ++number;
    std::string line = text.substr(range.begin, range.end - range.begin);
    if (StartsWith(line, "#") || IsBlank(line)) continue;
    std::string_view start = Trim(line);
    if (StartsWith(line, "PATH") && StartsWith(Trim(line.substr(4)), "=")) continue;
    (void)start;
    CronFields fields;
    const std::string where = "vzdump.cron line " + std::to_string(number) + ": ";
    if (!MatchCronLine(line, &fields)) {
      warnings->push_back(where + "not a vzdump job line; PVE ignores it");
      continue;
    }
    std::set<int> days;
    std::vector<Word> words;
    std::string why;
    json options = json::object();
    if (!ParseDow(fields.dow, &days)) {
      why = "unable to parse day of week " + Quote(fields.dow);
    } else if (!SplitShellWords(line.substr(fields.params_begin), &words, &why)) {
      why = "cannot split the arguments: " + why;
    } else {
      ParseVzdumpArgs(words, &options, &why);
    }
    if (!why.empty()) {
      warnings->push_back(where + why + "; PVE skips this line, so it is no job");
      continue;
    }
    const std::string starttime =
        fmt::format("{:02}:{:02}", fields.hour % 100, fields.minute % 100);
    const std::string dow = DowNames(days);
    options["id"] = digest + ":" + std::to_string(next_id++);
    options["enabled"] = fields.enabled ? "1" : "";
    options["starttime"] = starttime;
    options["dow"] = dow;
    options["schedule"] = days.size() == 7 ? starttime : dow + " " + starttime;
    CronJob cron;
    std::string err;
    if (!ParseBackupJob(options, &cron.job, &err)) {
      warnings->push_back(where + err);
      continue;
    }
    cron.line_begin = range.begin;
    cron.line_end = range.end;
    jobs->push_back(std::move(cron));
  }
  return true;
}

bool PatchVzdumpCronScript(const std::string& text, const std::string& job_id,
                           const std::string& script, std::string* patched, std::string* err) {
  std::vector<CronJob> jobs;
  std::vector<std::string> warnings;
  ParseVzdumpCron(text, &jobs, &warnings);
  auto it = std::find_if(jobs.begin(), jobs.end(),
                         [&](const CronJob& cron) { return cron.job.id == job_id; });
  if (it == jobs.end()) {
    *err = "vzdump.cron has no job " + job_id + " (the file changed since it was read?)";
    return false;
  }
  const std::string line = text.substr(it->line_begin, it->line_end - it->line_begin);
  CronFields fields;
  MatchCronLine(line, &fields);
  std::vector<Word> words;
  std::string why;
  SplitShellWords(line.substr(fields.params_begin), &words, &why);
  const std::string quoted = ShellQuote(script);

  // vzdump uses the last --script (as ParseVzdumpCron does); that one is set,
  // and any earlier one, which nothing reads, is left as it is.
  std::optional<VzdumpArg> last;
  for (VzdumpArg& arg : ScanVzdumpArgs(words)) {
    if (arg.key == "script") last = std::move(arg);
  }
  const size_t params = fields.params_begin;
  std::string new_line;
  if (last && last->value_word != std::string::npos) {
    // "--script VALUE": the value is replaced.
    const Word& value = words[last->value_word];
    new_line = line.substr(0, params + value.begin) + quoted + line.substr(params + value.end);
  } else if (last && last->inline_value) {
    // "--script=VALUE": the word becomes "--script HOOK".
    const Word& option = words[last->word];
    new_line = line.substr(0, params + option.begin) + "--script " + quoted +
               line.substr(params + option.end);
  } else if (last) {
    // "--script" without a value (another option follows, or nothing): the
    // hook becomes its value.
    const Word& option = words[last->word];
    new_line =
        line.substr(0, params + option.end) + " " + quoted + line.substr(params + option.end);
  } else {
    // Appended after the last word; trailing blanks (and a \r) stay last.
    size_t at = line.size();
    while (at > params && IsSpace(line[at - 1])) --at;
    // After a backslash, the space before "--script" would be escaped (and
    // the line's last word would run into the option): then the option goes
    // right after "vzdump" instead.
    if (at > params && line[at - 1] == '\\') at = params;
    new_line = line.substr(0, at) + " --script " + quoted + line.substr(at);
  }
  *patched = text.substr(0, it->line_begin) + new_line + text.substr(it->line_end);
  return true;
}

}  // namespace pbk
