#include "agent/core/config_reader.h"

#include <algorithm>
#include <cstdint>
#include <set>

#include "agent/core/text.h"

namespace pbk::config_json {

using nlohmann::json;

namespace {

bool IsPlainKey(std::string_view key) {
  if (key.empty()) return false;
  for (char c : key) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// 1-based line and column of byte OFFSET in TEXT.
std::pair<size_t, size_t> LineColumn(const std::string& text, size_t offset) {
  size_t line = 1, column = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return {line, column};
}

// Where the number starts that json::parse found too large for a double: its
// out_of_range exception carries no position, so the text is read once more
// by a SAX parser that only notes where the error is.
size_t NumberOverflowOffset(const std::string& text) {
  struct Finder : json::json_sax_t {
    size_t offset = 0;
    bool null() override { return true; }
    bool boolean(bool) override { return true; }
    bool number_integer(number_integer_t) override { return true; }
    bool number_unsigned(number_unsigned_t) override { return true; }
    bool number_float(number_float_t, const string_t&) override { return true; }
    bool string(string_t&) override { return true; }
    bool binary(binary_t&) override { return true; }
    bool start_object(std::size_t) override { return true; }
    bool key(string_t&) override { return true; }
    bool end_object() override { return true; }
    bool start_array(std::size_t) override { return true; }
    bool end_array() override { return true; }
    bool parse_error(std::size_t position, const std::string& token,
                     const nlohmann::detail::exception&) override {
      offset = position >= token.size() ? position - token.size() : 0;
      return false;
    }
  } finder;
  json::sax_parse(text, &finder, json::input_format_t::json, /*strict=*/true,
                  /*ignore_comments=*/true);
  return finder.offset;
}

}  // namespace

void Problems::Add(const std::string& key_path, const std::string& leaf_key,
                   const std::string& message) {
  std::string where = origin_;
  if (!leaf_key.empty()) {
    std::string needle = json(leaf_key).dump();
    size_t first = text_.find(needle);
    if (first != std::string::npos && text_.find(needle, first + 1) == std::string::npos) {
      auto [line, column] = LineColumn(text_, first);
      where += ":" + std::to_string(line) + ":" + std::to_string(column);
    }
  }
  lines_.push_back(where + ": " + (key_path.empty() ? "" : key_path + ": ") + message);
}

std::string TypeName(const json& value) {
  if (value.is_number_integer() || value.is_number_unsigned()) return "a whole number";
  if (value.is_number_float()) return "a fractional number";
  if (value.is_string()) return "a string";
  if (value.is_boolean()) return "a boolean";
  if (value.is_null()) return "null";
  if (value.is_array()) return "a list";
  return "an object";
}

std::string ChildPath(const std::string& parent, const std::string& key) {
  std::string part = IsPlainKey(key) ? key : Quote(key);
  return parent.empty() ? part : parent + "." + part;
}

const json* ObjectReader::Get(const std::string& key, json::value_t type, const char* expected) {
  known_.push_back(key);
  auto it = object_.find(key);
  if (it == object_.end()) return nullptr;
  bool ok =
      it->type() == type || (type == json::value_t::number_integer && it->is_number_unsigned());
  if (!ok) {
    problems_->Add(ChildPath(path_, key), key,
                   std::string("must be ") + expected + ", not " + TypeName(*it));
    return nullptr;
  }
  return &*it;
}

void ObjectReader::String(const std::string& key, std::string* out) {
  if (const json* value = Get(key, json::value_t::string, "a string")) {
    *out = value->get<std::string>();
  }
}

void ObjectReader::Int(const std::string& key, int* out, int min, int max) {
  if (const json* value = Get(key, json::value_t::number_integer, "a whole number")) {
    int64_t number =
        value->is_number_unsigned()
            ? static_cast<int64_t>(std::min<uint64_t>(value->get<uint64_t>(), INT64_MAX))
            : value->get<int64_t>();
    if (number < min || number > max) {
      problems_->Add(ChildPath(path_, key), key,
                     "must be between " + std::to_string(min) + " and " + std::to_string(max) +
                         ", not " + std::to_string(number));
      return;
    }
    *out = static_cast<int>(number);
  }
}

void ObjectReader::Finish() {
  for (const auto& [key, value] : object_.items()) {
    if (std::find(known_.begin(), known_.end(), key) != known_.end()) continue;
    std::string message = "unknown key";
    if (auto hint = ClosestMatch(key, known_)) message += " (did you mean " + Quote(*hint) + "?)";
    problems_->Add(ChildPath(path_, key), key, message);
  }
}

bool ParseDocument(const std::string& text, const std::string& origin, json* root,
                   Problems* problems, std::vector<std::string>* errors) {
  // nlohmann/json keeps the last of two equal keys; a repeated job id would
  // silently lose a push token, so duplicates are found while parsing.
  std::vector<std::set<std::string>> keys_seen;
  std::vector<std::string> duplicates;
  auto on_event = [&](int /*depth*/, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) {
      keys_seen.emplace_back();
    } else if (event == json::parse_event_t::object_end) {
      if (!keys_seen.empty()) keys_seen.pop_back();
    } else if (event == json::parse_event_t::key && !keys_seen.empty()) {
      std::string key = parsed.get<std::string>();
      if (!keys_seen.back().insert(key).second) duplicates.push_back(std::move(key));
    }
    return true;
  };

  try {
    *root = json::parse(text, on_event, /*allow_exceptions=*/true, /*ignore_comments=*/true);
  } catch (const json::parse_error& e) {
    auto [line, column] = LineColumn(text, e.byte > 0 ? e.byte - 1 : 0);
    std::string what = e.what();
    // "[json.exception.parse_error.101] parse error at line 3, column 5: syntax error ..."
    if (size_t colon = what.find(": "); colon != std::string::npos) what = what.substr(colon + 2);
    errors->push_back(origin + ":" + std::to_string(line) + ":" + std::to_string(column) +
                      ": invalid JSON: " + what);
    return false;
  } catch (const json::out_of_range& e) {
    // A number beyond a double: "[json.exception.out_of_range.406] number
    // overflow parsing '1e400'", pointed at where the number starts.
    auto [line, column] = LineColumn(text, NumberOverflowOffset(text));
    std::string what = e.what();
    if (size_t bracket = what.find("] "); bracket != std::string::npos) {
      what = what.substr(bracket + 2);
    }
    errors->push_back(origin + ":" + std::to_string(line) + ":" + std::to_string(column) +
                      ": invalid JSON: " + what);
    return false;
  }
  for (const auto& key : duplicates) {
    problems->AddGlobal("key " + Quote(key) + " appears twice in the same object");
  }
  return true;
}

}  // namespace pbk::config_json
