// Malformed input for the PVE API's job list and the guard's job cache (tests/support/malformed_row.h).
#include "api/pve/backup_job.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/malformed_row.h"

namespace pbk {
namespace {

using testing::Row;
using testing::RowName;
using nlohmann::json;

// ---------------------------------------------------------------- API JSON

// The input is parsed without exceptions: text that is no JSON at all comes
// to ParseBackupJobList as a "discarded" value.
const Row kApiRows[] = {
    {"not_json", "<html>502 Bad Gateway</html>", {"expected a list of jobs, got discarded"}},
    {"null", "null", {"expected a list of jobs, got null"}},
    {"a_string", "\"jobs\"", {"expected a list of jobs, got string"}},
    {"object_without_data", "{\"errors\": {\"id\": \"bad\"}}",
     {"expected a list of jobs or {\"data\": [...]}, got an object without \"data\""}},
    {"data_null", "{\"data\": null}", {"expected a list of jobs, got null"}},
    {"data_an_object", "{\"data\": {\"id\": \"j\"}}", {"expected a list of jobs, got object"}},
    {"entry_a_number", "[1]", {"entry 1: a job must be an object, not number"}},
    {"entry_without_id", "[{\"id\": \"a\"}, {\"type\": \"vzdump\"}]",
     {"entry 2: a job without \"id\""}},
    {"entry_with_empty_id", "[{\"id\": \"\"}]", {"entry 1: a job without \"id\""}},
    {"id_a_list", "[{\"id\": [\"j\"]}]", {"entry 1: \"id\" is array, expected a string"}},
    {"enabled_a_word", "[{\"id\": \"j\", \"enabled\": \"maybe\"}]",
     {"entry 1: job \"j\": \"enabled\" is \"maybe\", expected a boolean"}},
    {"all_fractional", "[{\"id\": \"j\", \"all\": 0.5}]",
     {"entry 1: job \"j\": \"all\" is 0.5, expected a boolean"}},
    {"all_an_object", "[{\"id\": \"j\", \"all\": {}}]",
     {"entry 1: job \"j\": \"all\" is {}, expected a boolean"}},
    {"storage_a_list", "[{\"id\": \"j\", \"storage\": [\"a\"]}]",
     {"entry 1: job \"j\": \"storage\" is array, expected a string"}},
    {"storage_fractional", "[{\"id\": \"j\", \"storage\": 1.5}]",
     {"entry 1: job \"j\": \"storage\" is number, expected a string"}},
    {"vmid_too_small", "[{\"id\": \"j\", \"vmid\": \"100,99\"}]",
     {"entry 1: job \"j\": \"vmid\" is not a list of guest ids: \"100,99\""}},
    {"vmid_negative", "[{\"id\": \"j\", \"vmid\": -100}]",
     {"entry 1: job \"j\": \"vmid\" is not a list of guest ids: \"-100\""}},
    // A number beyond int64 is shown wrapped around, not as PVE sent it.
    {"vmid_beyond_int64", "[{\"id\": \"j\", \"vmid\": 18446744073709551615}]",
     {"entry 1: job \"j\": \"vmid\" is not a list of guest ids: \"-1\""}},
    {"exclude_a_word", "{\"data\": [{\"id\": \"j\", \"all\": 1, \"exclude\": \"web01\"}]}",
     {"entry 1: job \"j\": \"exclude\" is not a list of guest ids: \"web01\""}},
};

class ApiJsonMalformedTest : public ::testing::TestWithParam<Row> {};

TEST_P(ApiJsonMalformedTest, SaysWhatIsWrong) {
  const Row& row = GetParam();
  std::vector<BackupJob> jobs;
  std::string err;
  EXPECT_FALSE(ParseBackupJobList(json::parse(row.input, nullptr, false), &jobs, &err));
  EXPECT_EQ(err, row.expected.front()) << "input: " << row.input;
}

INSTANTIATE_TEST_SUITE_P(Rows, ApiJsonMalformedTest, ::testing::ValuesIn(kApiRows), RowName);

const Row kJobCacheRows[] = {
    {"empty", "", {"not a job list written by pbk-agent guard"}},
    {"cut_short", "{\"format\":1,\"jobs\":[{\"id\":", {"not a job list written by pbk-agent guard"}},
    {"no_format", "{\"jobs\": []}", {"not a job list written by pbk-agent guard"}},
    {"other_format", "{\"format\": 2, \"jobs\": []}", {"not a job list written by pbk-agent guard"}},
    {"format_a_string", "{\"format\": \"1\", \"jobs\": []}",
     {"not a job list written by pbk-agent guard"}},
    {"no_jobs", "{\"format\": 1}", {"not a job list written by pbk-agent guard"}},
    {"jobs_an_object", "{\"format\": 1, \"jobs\": {\"id\": \"j\"}}",
     {"expected a list of jobs or {\"data\": [...]}, got an object without \"data\""}},
    {"document_an_error", "{\"format\": 1, \"document\": {\"errors\": {}}}",
     {"expected a list of jobs or {\"data\": [...]}, got an object without \"data\""}},
    {"bad_job", "{\"format\": 1, \"jobs\": [{\"id\": \"j\", \"vmid\": \"all\"}]}",
     {"entry 1: job \"j\": \"vmid\" is not a list of guest ids: \"all\""}},
};

class JobCacheMalformedTest : public ::testing::TestWithParam<Row> {};

TEST_P(JobCacheMalformedTest, SaysWhatIsWrong) {
  const Row& row = GetParam();
  JobCache cache;
  std::string err;
  EXPECT_FALSE(ParseJobCache(row.input, &cache, &err));
  EXPECT_EQ(err, row.expected.front()) << "input: " << row.input;
}

INSTANTIATE_TEST_SUITE_P(Rows, JobCacheMalformedTest, ::testing::ValuesIn(kJobCacheRows), RowName);

}  // namespace
}  // namespace pbk
