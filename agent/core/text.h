// Small text helpers used across the program.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace pbk {

std::string_view Trim(std::string_view text);
std::vector<std::string> Split(std::string_view text, char separator);
std::string Join(const std::vector<std::string>& parts, std::string_view separator);
bool StartsWith(std::string_view text, std::string_view prefix);
bool EndsWith(std::string_view text, std::string_view suffix);

// Parses a whole string as a non-negative decimal or (base 16) hex number.
std::optional<uint64_t> ParseUnsigned(std::string_view text, int base = 10);

// State files (run records, spool entries) hold whole numbers only.
// nlohmann/json's get<T>() truncates a fraction, and converting one beyond
// T's range is undefined behaviour; WholeNumber<T> (int or int64_t) refuses
// both, and numbers beyond T, with a NotAWholeNumber that names KEY and the
// value. A value that is no number throws json::type_error, as get<T>() does.
class NotAWholeNumber : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
template <typename T>
T WholeNumber(const nlohmann::json& value, const std::string& key);

// Levenshtein distance, for "did you mean" hints.
size_t EditDistance(std::string_view a, std::string_view b);

// The candidate closest to WORD when it is close enough to be a likely typo.
std::optional<std::string> ClosestMatch(std::string_view word,
                                        const std::vector<std::string>& candidates);

// Percent-encodes everything but RFC 3986's unreserved characters.
std::string UrlEncode(std::string_view text);

// Cuts TEXT to at most MAX_BYTES without splitting a UTF-8 sequence; when it
// cuts, the result ends in "…" (counted within MAX_BYTES).
std::string TruncateUtf8(std::string_view text, size_t max_bytes);

// Replaces control characters and invalid UTF-8 so TEXT fits on one log line.
std::string OneLine(std::string_view text);

// "2h 05m", "12m 05s", "45s", "0.4s".
std::string FormatDuration(int64_t milliseconds);

// Local time and its UTC offset, "2026-11-23 21:14:05 +0100" (text.cpp: why).
std::string FormatLocalTime(int64_t epoch_ms);

// Wall-clock time in milliseconds since the epoch.
int64_t NowMs();

// Quotes a string the way a JSON document would, for error messages.
std::string Quote(std::string_view text);

}  // namespace pbk
