#include "agent/schedule/schedule_text.h"

#include <cstdio>

namespace pbk::schedule_text {

const char* const kWeekdayNames[7] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
const char* const kWeekdayFullNames[7] = {"sunday",   "monday", "tuesday", "wednesday",
                                          "thursday", "friday", "saturday"};

namespace {

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

std::string Lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = Lower(c);
  return out;
}

std::string QuoteInput(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    unsigned char byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte < 0x20 || byte >= 0x7F) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02X", byte);
      out += hex;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string_view Word(std::string_view text) {
  while (!text.empty() && IsBlank(text.front())) text.remove_prefix(1);
  size_t end = 0;
  while (end < text.size() && !IsBlank(text[end])) ++end;
  return text.substr(0, end);
}

std::string RangeText(const Field& field) {
  return "(" + std::to_string(field.low) + "-" + std::to_string(field.high) + ")";
}

}  // namespace pbk::schedule_text
