// Malformed input for spool entries (tests/support/malformed_row.h).
#include "hook/spool.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/support/malformed_row.h"

namespace pbk {
namespace {

using testing::Row;
using testing::RowName;

// ---------------------------------------------------------------- spool entries

std::string GoodSpoolEntry() {
  SpooledPush push;
  push.job_id = "backup-1";
  push.up = false;
  push.message = "pve1: 1 of 2 guests FAILED";
  push.ping_ms = 14000;
  push.created_ms = 1764000000000;
  push.run_key = "upid-pve1-00001092-0143F5A7-6740C2B1";
  return SerializeSpooledPush(push);
}

std::string SpoolEntryWith(const std::string& from, const std::string& to) {
  std::string text = GoodSpoolEntry();
  size_t at = text.find(from);
  if (at == std::string::npos) return "FROM NOT FOUND: " + from;
  return text.replace(at, from.size(), to);
}

const Row kSpoolRows[] = {
    {"empty", "", {"not a JSON object"}},
    {"cut_short", GoodSpoolEntry().substr(0, 40), {"not a JSON object"}},
    {"a_string", "\"up\"", {"not a JSON object"}},
    // Unlike a run record's, the message does not say which format it found.
    {"other_format", "{\"format\": 2}", {"unknown format"}},
    {"no_format", "{\"job_id\": \"backup-1\"}",
     {"malformed: [json.exception.out_of_range.403] key 'format' not found"}},
    {"status_unknown", SpoolEntryWith("\"status\": \"down\"", "\"status\": \"DOWN\""),
     {"status must be up or down"}},
    {"status_a_boolean", SpoolEntryWith("\"status\": \"down\"", "\"status\": false"),
     {"malformed: [json.exception.type_error.302] type must be string, but is boolean"}},
    {"job_id_empty", SpoolEntryWith("\"job_id\": \"backup-1\"", "\"job_id\": \"\""),
     {"no job id"}},
    {"msg_missing", SpoolEntryWith("\"msg\"", "\"message\""),
     {"malformed: [json.exception.out_of_range.403] key 'msg' not found"}},
    {"ping_a_string", SpoolEntryWith("\"ping\": 14000", "\"ping\": \"14000\""),
     {"malformed: [json.exception.type_error.302] type must be number, but is string"}},
    {"attempts_null", SpoolEntryWith("\"attempts\": 0", "\"attempts\": null"),
     {"malformed: [json.exception.type_error.302] type must be number, but is null"}},
    // Found by fuzzing, as for run records.
    {"ping_huge_fraction", SpoolEntryWith("\"ping\": 14000", "\"ping\": 1e300"),
     {"malformed: \"ping\" is 1e+300, expected a whole number"}},
    {"format_fractional", SpoolEntryWith("\"format\": 1", "\"format\": 1.0"),
     {"malformed: \"format\" is 1.0, expected a whole number"}},
    {"attempts_beyond_int", SpoolEntryWith("\"attempts\": 0", "\"attempts\": -2147483649"),
     {"malformed: \"attempts\" is -2147483649, expected a whole number from -2147483648 to "
      "2147483647"}},
};

class SpoolMalformedTest : public ::testing::TestWithParam<Row> {};

TEST_P(SpoolMalformedTest, SaysWhatIsWrong) {
  const Row& row = GetParam();
  SpooledPush push;
  std::string err;
  EXPECT_FALSE(ParseSpooledPush(row.input, &push, &err));
  EXPECT_EQ(err, row.expected.front()) << "input: " << row.input;
}

INSTANTIATE_TEST_SUITE_P(Rows, SpoolMalformedTest, ::testing::ValuesIn(kSpoolRows), RowName);

}  // namespace
}  // namespace pbk
