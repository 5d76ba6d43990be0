#include "api/pve/vzdump_conf.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <set>
#include <vector>

#include "agent/core/fs.h"
#include "agent/core/text.h"

namespace pbk {

namespace {

const char kKey[] = "script";

// One line of the file: its text without the line end, and the line end.
struct Line {
  std::string_view text;
  std::string_view end;  // "\n", "\r\n" or "" (the last line without one)
};

std::vector<Line> SplitLines(std::string_view text) {
  std::vector<Line> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t newline = text.find('\n', start);
    if (newline == std::string_view::npos) {
      lines.push_back({text.substr(start), ""});
      break;
    }
    size_t end = newline;
    if (end > start && text[end - 1] == '\r') --end;
    lines.push_back({text.substr(start, end - start), text.substr(end, newline + 1 - end)});
    start = newline + 1;
  }
  return lines;
}

bool IsKeyChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
}

enum class LineKind { kBlank, kComment, kSetting, kBad };

// Classifies a line as vzdump's parser sees it (surrounding blanks do not
// count; `#` starts a comment; else `key: value`). *key gets the key.
LineKind Classify(std::string_view line, std::string_view* key, std::string_view* value) {
  std::string_view trimmed = Trim(line);
  if (trimmed.empty()) return LineKind::kBlank;
  if (trimmed[0] == '#') return LineKind::kComment;
  size_t colon = trimmed.find(':');
  if (colon == 0 || colon == std::string_view::npos) return LineKind::kBad;
  for (size_t i = 0; i < colon; ++i) {
    if (!IsKeyChar(trimmed[i])) return LineKind::kBad;
  }
  *key = trimmed.substr(0, colon);
  *value = Trim(trimmed.substr(colon + 1));
  return LineKind::kSetting;
}

bool IsCommentedScript(std::string_view line) {
  std::string_view trimmed = Trim(line);
  if (trimmed.empty() || trimmed[0] != '#') return false;
  trimmed = Trim(trimmed.substr(1));
  return StartsWith(trimmed, "script:");
}

// Checks every line; *script_line gets the index of the `script:` line (-1).
bool Check(const std::vector<Line>& lines, int* script_line, std::string* value,
           std::string* err) {
  *script_line = -1;
  std::set<std::string_view> keys;
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string_view key, val;
    const std::string where = "line " + std::to_string(i + 1) + ": ";
    switch (Classify(lines[i].text, &key, &val)) {
      case LineKind::kBlank:
      case LineKind::kComment:
        break;
      case LineKind::kBad:
        *err = where + Quote(OneLine(TruncateUtf8(lines[i].text, 80))) +
               " is neither a comment nor \"key: value\"";
        return false;
      case LineKind::kSetting:
        if (!keys.insert(key).second) {
          *err = where + "\"" + std::string(key) + "\" is set a second time";
          return false;
        }
        if (key == kKey) {
          *script_line = static_cast<int>(i);
          *value = std::string(val);
        }
        break;
    }
  }
  return true;
}

bool CheckScript(const std::string& script, std::string* err) {
  if (script.empty() || script[0] != '/' || script.find_first_of("\r\n") != std::string::npos ||
      Trim(script) != script) {
    *err = "the hook path " + Quote(script) + " is not an absolute path on one line";
    return false;
  }
  return true;
}

std::string Assemble(const std::vector<Line>& lines) {
  std::string out;
  for (const Line& line : lines) {
    out.append(line.text);
    out.append(line.end);
  }
  return out;
}

std::string_view LineEndOf(const std::vector<Line>& lines) {
  for (const Line& line : lines) {
    if (!line.end.empty()) return line.end;
  }
  return "\n";
}

// Mode and owner of PATH when it exists.
struct FileOwnership {
  bool exists = false;
  mode_t mode = 0644;  // what PVE ships
  uid_t uid = 0;
  gid_t gid = 0;
};

FileOwnership OwnershipOf(const std::string& path) {
  FileOwnership result;
  struct stat st {};
  if (stat(path.c_str(), &st) == 0) {
    result.exists = true;
    result.mode = st.st_mode & 07777;
    result.uid = st.st_uid;
    result.gid = st.st_gid;
  }
  return result;
}

bool Replace(const std::string& path, const std::string& text, std::string* err) {
  FileOwnership before = OwnershipOf(path);
  AtomicWriteOptions options;
  options.mode = before.mode;
  if (!WriteFileAtomic(path, text, options, err)) return false;
  if (before.exists && (before.uid != geteuid() || before.gid != getegid()) &&
      chown(path.c_str(), before.uid, before.gid) != 0) {
    *err = "keeping the owner of " + path + ": " + ErrnoText(errno);
    return false;
  }
  return true;
}

}  // namespace

bool ParseVzdumpConf(std::string_view text, VzdumpConfScript* script, std::string* err) {
  int line = -1;
  std::string value;
  if (!Check(SplitLines(text), &line, &value, err)) return false;
  script->present = line >= 0;
  script->value = value;
  return true;
}

bool SetVzdumpConfScript(std::string_view text, const std::string& script, std::string* out,
                         std::string* err) {
  if (!CheckScript(script, err)) return false;
  std::vector<Line> lines = SplitLines(text);
  int index = -1;
  std::string value;
  if (!Check(lines, &index, &value, err)) return false;
  const std::string setting = std::string(kKey) + ": " + script;
  if (index >= 0) {
    lines[index].text = setting;
    if (lines[index].end.empty()) lines[index].end = LineEndOf(lines);
    *out = Assemble(lines);
    return true;
  }
  const std::string_view end = LineEndOf(lines);
  size_t at = lines.size();
  for (size_t i = 0; i < lines.size(); ++i) {
    if (IsCommentedScript(lines[i].text)) at = i + 1;
  }
  // The line before ours must end, or the two would run together.
  if (at > 0 && lines[at - 1].end.empty()) lines[at - 1].end = end;
  lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(at), Line{setting, end});
  *out = Assemble(lines);
  return true;
}

bool RemoveVzdumpConfScript(std::string_view text, const std::string& script, std::string* out,
                            bool* removed, std::string* err) {
  *removed = false;
  std::vector<Line> lines = SplitLines(text);
  int index = -1;
  std::string value;
  if (!Check(lines, &index, &value, err)) return false;
  if (index >= 0 && value == script) {
    lines.erase(lines.begin() + index);
    *removed = true;
  }
  *out = Assemble(lines);
  return true;
}

bool ReadVzdumpConfScript(const std::string& path, VzdumpConfScript* script, std::string* err) {
  std::string text;
  bool exists = false;
  if (!ReadFileIfExists(path, &text, &exists, err)) return false;
  *script = VzdumpConfScript{};
  if (!exists) return true;
  std::string why;
  if (!ParseVzdumpConf(text, script, &why)) {
    *err = path + ": " + why + " (vzdump would not read it as written; fix it by hand)";
    return false;
  }
  return true;
}

bool WriteVzdumpConfScript(const std::string& path, const std::string& script, bool* changed,
                           std::string* err) {
  *changed = false;
  std::string text;
  bool exists = false;
  if (!ReadFileIfExists(path, &text, &exists, err)) return false;
  std::string patched, why;
  if (!SetVzdumpConfScript(text, script, &patched, &why)) {
    *err = path + ": " + why + ": not changed (vzdump would not read it as written; fix it by hand)";
    return false;
  }
  if (exists && patched == text) return true;
  if (!Replace(path, patched, err)) return false;
  *changed = true;
  return true;
}

bool RemoveVzdumpConfScriptFile(const std::string& path, const std::string& script,
                                bool* changed, std::string* err) {
  *changed = false;
  std::string text;
  bool exists = false;
  if (!ReadFileIfExists(path, &text, &exists, err)) return false;
  if (!exists) return true;
  std::string patched, why;
  bool removed = false;
  if (!RemoveVzdumpConfScript(text, script, &patched, &removed, &why)) {
    *err = path + ": " + why + ": not changed (fix it by hand)";
    return false;
  }
  if (!removed) return true;
  if (!Replace(path, patched, err)) return false;
  *changed = true;
  return true;
}

}  // namespace pbk
