#include "agent/core/text.h"

#include <gtest/gtest.h>

#include "agent/core/log.h"
#include "tests/support/test_time.h"

namespace pbk {
namespace {

TEST(TextTest, UrlEncodeKeepsOnlyUnreservedCharacters) {
  EXPECT_EQ(UrlEncode("a-Z_0.9~"), "a-Z_0.9~");
  EXPECT_EQ(UrlEncode("2 of 2 ok: 100 web01, 101 db/01 & more?#="),
            "2%20of%202%20ok%3A%20100%20web01%2C%20101%20db%2F01%20%26%20more%3F%23%3D");
  EXPECT_EQ(UrlEncode("gr\xC3\xBC\xC3\x9F"), "gr%C3%BC%C3%9F");
}

TEST(TextTest, TruncateUtf8NeverSplitsACharacter) {
  EXPECT_EQ(TruncateUtf8("short", 10), "short");
  // "äöü" is 6 bytes; 5 bytes leave room for the 3-byte ellipsis and one 2-byte letter.
  EXPECT_EQ(TruncateUtf8("\xC3\xA4\xC3\xB6\xC3\xBC", 5), "\xC3\xA4\xE2\x80\xA6");
  EXPECT_EQ(TruncateUtf8("\xC3\xA4\xC3\xB6\xC3\xBC", 4), "\xE2\x80\xA6");
  EXPECT_EQ(TruncateUtf8("abcdef", 5), "ab\xE2\x80\xA6");
  EXPECT_LE(TruncateUtf8(std::string(5000, 'x'), 1500).size(), 1500u);
}

// 25 October 2026 in Berlin: 03:00 CEST falls back to 02:00 CET, so 02:30
// comes twice, an hour apart; the offset tells the two apart.
TEST(TextTest, FormatLocalTimeTellsTheRepeatedHourApartByItsOffset) {
  testing::ScopedTimeZone zone("Europe/Berlin");
  const int64_t first = testing::Utc(2026, 10, 25, 0, 30) * 1000;
  const int64_t second = testing::Utc(2026, 10, 25, 1, 30) * 1000;
  EXPECT_EQ(FormatLocalTime(first), "2026-10-25 02:30:00 +0200");
  EXPECT_EQ(FormatLocalTime(second), "2026-10-25 02:30:00 +0100");
  EXPECT_NE(FormatLocalTime(first), FormatLocalTime(second));
  EXPECT_EQ(FormatLocalTime(testing::Utc(2026, 6, 1, 19, 0, 5) * 1000 + 999),
            "2026-06-01 21:00:05 +0200");
}

TEST(TextTest, OneLineReplacesControlsAndBrokenUtf8) {
  EXPECT_EQ(OneLine("a\nb\tc\x01"), "a b c ");
  EXPECT_EQ(OneLine("ok \xFF end"), "ok ? end");
  EXPECT_EQ(OneLine("\xC3\xA4"), "\xC3\xA4");
}

TEST(TextTest, FormatDurationReadsAtAGlance) {
  EXPECT_EQ(FormatDuration(400), "0.4s");
  EXPECT_EQ(FormatDuration(9949), "9.9s");
  EXPECT_EQ(FormatDuration(45000), "45s");
  EXPECT_EQ(FormatDuration(725000), "12m 05s");
  EXPECT_EQ(FormatDuration(7500000), "2h 05m");
  EXPECT_EQ(FormatDuration(-5), "0.0s");
}

TEST(TextTest, ClosestMatchFindsTypos) {
  std::vector<std::string> keys = {"url", "ca_file", "server_name", "timeout_seconds"};
  EXPECT_EQ(ClosestMatch("timeot_seconds", keys), "timeout_seconds");
  EXPECT_EQ(ClosestMatch("servername", keys), "server_name");
  EXPECT_EQ(ClosestMatch("completely_different", keys), std::nullopt);
}

TEST(TextTest, ParseUnsignedRejectsAnythingButDigits) {
  EXPECT_EQ(ParseUnsigned("0042"), 42u);
  EXPECT_EQ(ParseUnsigned("1F", 16), 31u);
  EXPECT_EQ(ParseUnsigned("1F"), std::nullopt);
  EXPECT_EQ(ParseUnsigned(""), std::nullopt);
  EXPECT_EQ(ParseUnsigned("-1"), std::nullopt);
  EXPECT_EQ(ParseUnsigned("18446744073709551616"), std::nullopt);
  EXPECT_EQ(ParseUnsigned("18446744073709551615"), 18446744073709551615u);
}

TEST(TextTest, SplitJoinTrim) {
  EXPECT_EQ(Split("a,,b", ','), (std::vector<std::string>{"a", "", "b"}));
  EXPECT_EQ(Join({"a", "b"}, ", "), "a, b");
  EXPECT_EQ(Trim("  x y \n"), "x y");
}

TEST(TextTest, QuoteShowsControlCharactersAsEscapes) {
  EXPECT_EQ(Quote("push_tokn"), "\"push_tokn\"");
  EXPECT_EQ(Quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(Quote("line\nERROR: forged"), "\"line\\nERROR: forged\"");
  EXPECT_EQ(Quote(std::string("\t\r\x1b[31m\x7f", 8)), "\"\\t\\r\\u001b[31m\\u007f\"");
}

TEST(TextTest, RedactHidesASecretAlsoPercentEncoded) {
  AddSecrets({"tok/en 42"});
  EXPECT_EQ(Redact("GET /api/push/tok%2Fen%2042?status=up failed"),
            "GET /api/push/****?status=up failed");
  EXPECT_EQ(Redact("token tok/en 42 in the clear"), "token **** in the clear");
}

}  // namespace
}  // namespace pbk
