// How the configuration file is read: JSON with comments, every problem
// reported with its key path and, where it can be found, its line and
// column; every key of an object checked against the keys asked for. Used by
// config.cpp only.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace pbk::config_json {

// Collects problems, prefixed with where they are. A key's position is found
// by looking for its quoted name in the text: when it occurs exactly once the
// message carries its line and column, which is what an editor needs.
class Problems {
 public:
  Problems(const std::string& text, const std::string& origin) : text_(text), origin_(origin) {}

  void Add(const std::string& key_path, const std::string& leaf_key, const std::string& message);
  void AddGlobal(const std::string& message) { lines_.push_back(origin_ + ": " + message); }
  bool empty() const { return lines_.empty(); }
  std::vector<std::string>& lines() { return lines_; }

 private:
  const std::string& text_;
  const std::string& origin_;
  std::vector<std::string> lines_;
};

// "a whole number", "a string", "a list", …: for messages.
std::string TypeName(const nlohmann::json& value);

// The key path of KEY inside PARENT ("jobs.backup-1", "jobs.\"odd key\"").
std::string ChildPath(const std::string& parent, const std::string& key);

// Reads the keys of one JSON object, checking each value's type; whatever
// was not asked for is reported as unknown when the reader is finished.
class ObjectReader {
 public:
  ObjectReader(const nlohmann::json& object, std::string path, Problems* problems)
      : object_(object), path_(std::move(path)), problems_(problems) {}

  // Returns the value when KEY is present and has the right type.
  const nlohmann::json* Get(const std::string& key, nlohmann::json::value_t type,
                            const char* expected);
  void String(const std::string& key, std::string* out);
  void Int(const std::string& key, int* out, int min, int max);
  const nlohmann::json* Object(const std::string& key) {
    return Get(key, nlohmann::json::value_t::object, "an object");
  }
  void Finish();

 private:
  const nlohmann::json& object_;
  std::string path_;
  Problems* problems_;
  std::vector<std::string> known_;
};

// Parses TEXT (read from ORIGIN) into *ROOT. Invalid JSON gives false with
// one line in *errors, pointed at its line and column; a key repeated in one
// object (nlohmann/json would keep only the last) is added to *problems.
bool ParseDocument(const std::string& text, const std::string& origin, nlohmann::json* root,
                   Problems* problems, std::vector<std::string>* errors);

}  // namespace pbk::config_json
