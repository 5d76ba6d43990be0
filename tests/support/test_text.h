// Small helpers the black-box and end-to-end tests share: reading files,
// looking at text and at JSON, and rendering the hook wrapper the way the
// package installs it.
#pragma once

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace pbk::testing {

// The whole file; "" when it cannot be read.
inline std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

inline bool StartsWith(const std::string& text, const std::string& prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

inline bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// How often PART occurs in TEXT (not overlapping).
inline size_t Count(const std::string& text, const std::string& part) {
  size_t count = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + part.size())) {
    ++count;
  }
  return count;
}

inline std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

inline bool HasLine(const std::string& text, const std::string& line) {
  const auto lines = Lines(text);
  return std::find(lines.begin(), lines.end(), line) != lines.end();
}

// OBJECT[KEY], or null when OBJECT is not an object or has no KEY.
inline const nlohmann::json& At(const nlohmann::json& object, const char* key) {
  static const nlohmann::json kNull;
  if (!object.is_object() || !object.contains(key)) return kNull;
  return object.at(key);
}

// OBJECT[KEY] as a string; "" when it is missing or not a string.
inline std::string Str(const nlohmann::json& object, const char* key) {
  const nlohmann::json& value = At(object, key);
  return value.is_string() ? value.get<std::string>() : std::string();
}

// The objects of a JSON-lines file (the fakes' logs); a line still being
// written has no newline yet, does not parse and is skipped.
inline std::vector<nlohmann::json> JsonLines(const std::string& path) {
  std::vector<nlohmann::json> entries;
  std::istringstream lines(ReadText(path));
  std::string line;
  while (std::getline(lines, line)) {
    auto entry = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (entry.is_object()) entries.push_back(std::move(entry));
  }
  return entries;
}

// What a secret must never appear in, as (where, text): each captured
// output, and every regular file below DIR but the EXEMPT ones (the files
// that hold secrets by design, such as the configuration).
inline std::vector<std::pair<std::string, std::string>> TextsToScan(
    const std::vector<std::string>& outputs, const std::string& dir,
    const std::set<std::string>& exempt) {
  std::vector<std::pair<std::string, std::string>> texts;
  for (size_t i = 0; i < outputs.size(); ++i) {
    texts.emplace_back("captured output #" + std::to_string(i), outputs[i]);
  }
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    const std::string path = it->path().string();
    if (!it->is_regular_file() || exempt.count(path) > 0) continue;
    texts.emplace_back(path, ReadText(path));
  }
  return texts;
}

// The hook wrapper as the package installs it (hook/…sh.in with the
// binary's and the configuration's paths filled in), written to PATH with
// mode 0755. False with *err when the template or the file is not right.
inline bool RenderHookWrapper(const std::string& source_dir, const std::string& binary,
                              const std::string& config, const std::string& path,
                              std::string* err) {
  std::string text = ReadText(source_dir + "/hook/vzdump-uptime-kuma-hook.sh.in");
  if (!Contains(text, "@PBK_BINARY@") || !Contains(text, "@PBK_CONFIG@")) {
    *err = "the wrapper template has no @PBK_BINARY@ or @PBK_CONFIG@:\n" + text;
    return false;
  }
  auto replace_all = [&](const std::string& from, const std::string& to) {
    for (size_t pos = text.find(from); pos != std::string::npos;
         pos = text.find(from, pos + to.size())) {
      text.replace(pos, from.size(), to);
    }
  };
  replace_all("@PBK_BINARY@", binary);
  replace_all("@PBK_CONFIG@", config);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out || chmod(path.c_str(), 0755) != 0) {
    *err = "cannot write " + path;
    return false;
  }
  return true;
}

}  // namespace pbk::testing
