// Malformed input for run records (tests/support/malformed_row.h).
#include "hook/run_record.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/support/malformed_row.h"

namespace pbk {
namespace {

using testing::Row;
using testing::RowName;

// ---------------------------------------------------------------- run records

std::string GoodRunRecord() {
  RunRecord record;
  record.key = "upid-pve1-00001092-0143F5A7-6740C2B1";
  record.upid = "UPID:pve1:00001092:0143F5A7:6740C2B1:vzdump::root@pam:";
  record.node = "pve1";
  GuestRecord& guest = record.Guest(100);
  guest.type = "qemu";
  guest.result = GuestResult::kOk;
  return SerializeRunRecord(record);
}

// GoodRunRecord() with FROM replaced by TO.
std::string RunRecordWith(const std::string& from, const std::string& to) {
  std::string text = GoodRunRecord();
  size_t at = text.find(from);
  if (at == std::string::npos) return "FROM NOT FOUND: " + from;
  return text.replace(at, from.size(), to);
}

const Row kRunRecordRows[] = {
    {"empty", "", {"not a JSON object"}},
    {"cut_short", GoodRunRecord().substr(0, 100), {"not a JSON object"}},
    {"a_list", "[]", {"not a JSON object"}},
    {"other_format", "{\"format\": 2}", {"unknown format 2"}},
    {"format_a_string", "{\"format\": \"1\"}",
     {"malformed run record: [json.exception.type_error.302] type must be number, but is "
      "string"}},
    {"no_format", "{}", {"malformed run record: [json.exception.out_of_range.403] key 'format' "
                         "not found"}},
    {"no_key", "{\"format\": 1}",
     {"malformed run record: [json.exception.out_of_range.403] key 'key' not found"}},
    {"upid_a_number", RunRecordWith("\"upid\": \"UPID", "\"upid\": 1, \"x\": \"UPID"),
     {"malformed run record: [json.exception.type_error.302] type must be string, but is "
      "number"}},
    {"guest_result_unknown", RunRecordWith("\"result\": \"ok\"", "\"result\": \"done\""),
     {"guest 100 has an unknown result"}},
    {"guest_vmid_a_string", RunRecordWith("\"vmid\": 100", "\"vmid\": \"100\""),
     {"malformed run record: [json.exception.type_error.302] type must be number, but is "
      "string"}},
    {"guests_an_object", RunRecordWith("\"guests\": [", "\"guests\": {\"a\": 1}, \"x\": ["),
     {"malformed run record: [json.exception.type_error.304] cannot use at() with number"}},
    {"push_state_unknown", RunRecordWith("\"state\": \"none\"", "\"state\": \"sent\""),
     {"unknown push state"}},
    {"push_missing", RunRecordWith("\"push\"", "\"pushed\""),
     {"malformed run record: [json.exception.out_of_range.403] key 'push' not found"}},
    {"push_up_a_string", RunRecordWith("\"up\": false", "\"up\": \"no\""),
     {"malformed run record: [json.exception.type_error.302] type must be boolean, but is "
      "string"}},
    // Found by fuzzing: get<int>() of a fraction beyond int is undefined
    // behaviour, of any fraction a silent cut (format 1.9 read as 1).
    {"format_fractional", RunRecordWith("\"format\": 1", "\"format\": 1.9"),
     {"malformed run record: \"format\" is 1.9, expected a whole number"}},
    {"format_huge_fraction", "{\"format\": 2e16}",
     {"malformed run record: \"format\" is 2e+16, expected a whole number"}},
    {"vmid_huge_fraction", RunRecordWith("\"vmid\": 100", "\"vmid\": 1e10"),
     {"malformed run record: \"vmid\" is 10000000000.0, expected a whole number"}},
    {"vmid_beyond_int", RunRecordWith("\"vmid\": 100", "\"vmid\": 4294967396"),
     {"malformed run record: \"vmid\" is 4294967396, expected a whole number from -2147483648 to "
      "2147483647"}},
    {"end_beyond_int64", RunRecordWith("\"end\": 0", "\"end\": 18446744073709551615"),
     {"malformed run record: \"end\" is 18446744073709551615, expected a whole number from "
      "-9223372036854775808 to 9223372036854775807"}},
};

class RunRecordMalformedTest : public ::testing::TestWithParam<Row> {};

TEST_P(RunRecordMalformedTest, SaysWhatIsWrong) {
  const Row& row = GetParam();
  RunRecord record;
  std::string err;
  EXPECT_FALSE(ParseRunRecord(row.input, &record, &err));
  EXPECT_EQ(err, row.expected.front()) << "input: " << row.input;
}

INSTANTIATE_TEST_SUITE_P(Rows, RunRecordMalformedTest, ::testing::ValuesIn(kRunRecordRows),
                         RowName);

}  // namespace
}  // namespace pbk
