// Malformed input for every parser of untrusted text, one table row each:
// what is wrong, the input, and the exact error the product gives. The rows
// are the readable side of the fuzz targets (tests/fuzz/): those show that no
// input crashes, these pin down what each kind of mistake is told.
//
// Rows and tests marked "found by fuzzing" hold inputs that once crashed a
// parser or broke what it promises; the fuzz targets replay the same inputs
// from tests/fuzz/regressions/.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "api/pve/backup_job.h"
#include "agent/core/config.h"
#include "agent/core/fs.h"
#include "api/pve/job_files.h"
#include "api/pve/job_sources.h"
#include "api/kuma/kuma_client.h"
#include "hook/run_record.h"
#include "api/pve/sha1.h"
#include "hook/spool.h"
#include "tests/support/test_dir.h"
#include "hook/worker.h"

namespace pbk {
namespace {

using nlohmann::json;

// One malformed input and what the parser must say about it.
struct Row {
  const char* what;  // a test name: letters, digits and underscores
  std::string input;
  std::vector<std::string> expected;  // every error, in order
};

void PrintTo(const Row& row, std::ostream* out) { *out << row.what; }

std::string RowName(const ::testing::TestParamInfo<Row>& info) { return info.param.what; }

// ---------------------------------------------------------------- config

const std::string kKuma = R"("kuma": {"url": "https://10.0.0.1"})";

const Row kConfigRows[] = {
    // Syntax: line and column of the problem, and nlohmann's words for it.
    {"empty_file", "",
     {"config.json:1:1: invalid JSON: syntax error while parsing value - unexpected end of "
      "input; expected '[', '{', or a literal"}},
    {"trailing_comma", "{\n  " + kKuma + ",\n}\n",
     {"config.json:3:1: invalid JSON: syntax error while parsing object key - unexpected '}'; "
      "expected string literal"}},
    {"missing_colon", "{\"kuma\" {}}",
     {"config.json:1:9: invalid JSON: syntax error while parsing object separator - unexpected "
      "'{'; expected ':'"}},
    {"unterminated_string", "{\"node\": \"pve1\n}",
     {"config.json:1:15: invalid JSON: syntax error while parsing value - invalid string: "
      "control character U+000A (LF) must be escaped to \\u000A or \\n; last read: "
      "'\"pve1<U+000A>'"}},
    {"unterminated_comment", "{" + kKuma + "} /* the end",
     {"config.json:1:49: invalid JSON: syntax error while parsing value - invalid comment; "
      "missing closing '*/'; last read: '\"https://10.0.0.1\"}} /* the end'; expected end of "
      "input"}},
    {"text_after_the_object", "{" + kKuma + "} {}",
     {"config.json:1:39: invalid JSON: syntax error while parsing value - unexpected '{'; "
      "expected end of input"}},
    {"not_an_object", "\"pve1\"",
     {"config.json: the configuration must be a JSON object, not a string"}},
    {"kuma_missing", "{\"node\": \"pve1\"}",
     {"config.json: kuma: is required (where to push: {\"url\": \"https://192.0.2.10:3001\"})"}},
    {"kuma_url_missing", "{\"kuma\": {}}",
     {"config.json: kuma.url: is required (Kuma's address, as in \"https://192.0.2.10:3001\")"}},
    // Wrong types.
    {"kuma_not_an_object", "{\"kuma\": \"https://10.0.0.1\"}",
     {"config.json:1:2: kuma: must be an object, not a string"}},
    // A node that is not a string is reported twice: as a wrong type, and as
    // an invalid name "" (the value it did not read).
    {"node_a_number", "{\"node\": 7, " + kKuma + "}",
     {"config.json:1:2: node: must be a string, not a whole number",
      "config.json:1:2: node: is not a valid node name: \"\""}},
    {"timeout_a_string", "{\"kuma\": {\"url\": \"https://10.0.0.1\", \"timeout_seconds\": \"10\"}}",
     {"config.json:1:38: kuma.timeout_seconds: must be a whole number, not a string"}},
    {"timeout_a_boolean", "{" + kKuma + ", \"pve\": {\"timeout_seconds\": true}}",
     {"config.json:1:47: pve.timeout_seconds: must be a whole number, not a boolean"}},
    {"exclude_not_a_list", "{" + kKuma + ", \"guard\": {\"exclude\": \"backup-1\"}}",
     {"config.json:1:49: guard.exclude: must be a list of job ids, not a string"}},
    {"exclude_holds_a_number", "{" + kKuma + ", \"guard\": {\"exclude\": [\"a\", 5]}}",
     {"config.json:1:49: guard.exclude: must hold job ids (strings), not a whole number"}},
    {"exclude_holds_an_empty_id", "{" + kKuma + ", \"guard\": {\"exclude\": [\"\"]}}",
     {"config.json:1:49: guard.exclude: must hold job ids (strings), not a string"}},
    {"job_not_an_object", "{" + kKuma + ", \"jobs\": {\"j1\": null}}",
     {"config.json:1:48: jobs.j1: must be an object like {\"push_token\": \"…\"}, not null"}},
    {"paths_a_list", "{" + kKuma + ", \"paths\": [\"/var/lib/pbk-agent\"]}",
     {"config.json:1:39: paths: must be an object, not a list"}},
    // Unknown keys, with a hint when one is close.
    {"unknown_top_level_key", "{" + kKuma + ", \"nodes\": \"pve1\"}",
     {"config.json:1:39: nodes: unknown key (did you mean \"node\"?)"}},
    {"unknown_key_without_hint", "{" + kKuma + ", \"colour\": \"blue\"}",
     {"config.json:1:39: colour: unknown key"}},
    {"unknown_path_key", "{" + kKuma + ", \"paths\": {\"statedir\": \"/x\"}}",
     {"config.json:1:49: paths.statedir: unknown key (did you mean \"state_dir\"?)"}},
    {"unknown_key_with_odd_name", "{" + kKuma + ", \"pve\": {\"a b\": 1}}",
     {"config.json:1:47: pve.\"a b\": unknown key"}},
    // Numbers out of range.
    {"kuma_timeout_zero", "{\"kuma\": {\"url\": \"https://10.0.0.1\", \"timeout_seconds\": 0}}",
     {"config.json:1:38: kuma.timeout_seconds: must be between 1 and 300, not 0"}},
    {"kuma_timeout_negative",
     "{\"kuma\": {\"url\": \"https://10.0.0.1\", \"timeout_seconds\": -5}}",
     {"config.json:1:38: kuma.timeout_seconds: must be between 1 and 300, not -5"}},
    {"pve_timeout_too_long", "{" + kKuma + ", \"pve\": {\"timeout_seconds\": 601}}",
     {"config.json:1:47: pve.timeout_seconds: must be between 1 and 600, not 601"}},
    // A number beyond int64 is shown capped, not as written.
    {"timeout_beyond_int64",
     "{\"kuma\": {\"url\": \"https://10.0.0.1\", \"timeout_seconds\": 18446744073709551615}}",
     {"config.json:1:38: kuma.timeout_seconds: must be between 1 and 300, not "
      "9223372036854775807"}},
    {"timeout_fractional", "{\"kuma\": {\"url\": \"https://10.0.0.1\", \"timeout_seconds\": 1e3}}",
     {"config.json:1:38: kuma.timeout_seconds: must be a whole number, not a fractional number"}},
    // Found by fuzzing: a number beyond a double is nlohmann's out_of_range,
    // not a parse_error; it is told as one, where the number starts.
    {"number_beyond_double",
     "{\"kuma\": {\"url\": \"https://10.0.0.1\",\n  \"timeout_seconds\": 1e400}}",
     {"config.json:2:22: invalid JSON: number overflow parsing '1e400'"}},
    {"number_beyond_double_after_a_comment", "// 1e400\n{\"node\": -1e999}",
     {"config.json:2:10: invalid JSON: number overflow parsing '-1e999'"}},
    // Bad URLs.
    {"url_plain_http", "{\"kuma\": {\"url\": \"http://10.0.0.1:3001\"}}",
     {"config.json:1:11: kuma.url: must use https:// (pushes travel over validated TLS only)"}},
    {"url_other_scheme", "{\"kuma\": {\"url\": \"ftp://10.0.0.1\"}}",
     {"config.json:1:11: kuma.url: must start with https://, as in \"https://192.0.2.10:3001\""}},
    {"url_empty", "{\"kuma\": {\"url\": \"\"}}",
     {"config.json:1:11: kuma.url: must start with https://, as in \"https://192.0.2.10:3001\""}},
    {"url_host_name",
     "{\"kuma\": {\"url\": \"https://kuma.example.org\"}}",
     {"config.json:1:11: kuma.url: must address Kuma by its IP address, as in "
      "\"https://192.0.2.10:3001\" (\"kuma.example.org\" is not one); a certificate that names a "
      "host goes with kuma.server_name"}},
    {"url_no_host", "{\"kuma\": {\"url\": \"https://\"}}",
     {"config.json:1:11: kuma.url: must address Kuma by its IP address, as in "
      "\"https://192.0.2.10:3001\" (\"\" is not one); a certificate that names a host goes with "
      "kuma.server_name"}},
    {"url_port_zero", "{\"kuma\": {\"url\": \"https://10.0.0.1:0\"}}",
     {"config.json:1:11: kuma.url: has an invalid port \"0\""}},
    {"url_port_empty", "{\"kuma\": {\"url\": \"https://10.0.0.1:/kuma\"}}",
     {"config.json:1:11: kuma.url: has an invalid port \"\""}},
    {"url_port_not_a_number", "{\"kuma\": {\"url\": \"https://10.0.0.1:https\"}}",
     {"config.json:1:11: kuma.url: has an invalid port \"https\""}},
    {"url_ipv6", "{\"kuma\": {\"url\": \"https://[2001:db8::1]:3001\"}}",
     {"config.json:1:11: kuma.url: IPv6 addresses are not supported; use Kuma's IPv4 address"}},
    {"url_credentials", "{\"kuma\": {\"url\": \"https://kuma:secret@10.0.0.1\"}}",
     {"config.json:1:11: kuma.url: must not carry user credentials"}},
    {"url_query_after_path", "{\"kuma\": {\"url\": \"https://10.0.0.1/kuma?x=1\"}}",
     {"config.json:1:11: kuma.url: must not carry a query or fragment"}},
    // A query or fragment right after the address is taken for part of the
    // host, so the message blames the address instead.
    {"url_fragment_without_path", "{\"kuma\": {\"url\": \"https://10.0.0.1#top\"}}",
     {"config.json:1:11: kuma.url: must address Kuma by its IP address, as in "
      "\"https://192.0.2.10:3001\" (\"10.0.0.1#top\" is not one); a certificate that names a "
      "host goes with kuma.server_name"}},
    {"pve_url_host_name", "{" + kKuma + ", \"pve\": {\"api_url\": \"https://localhost:8006\"}}",
     {"config.json:1:47: pve.api_url: must address the PVE API by its IP address, as in "
      "\"https://192.0.2.10:3001\" (\"localhost\" is not one)"}},
    {"server_name_with_port",
     "{\"kuma\": {\"url\": \"https://10.0.0.1\", \"server_name\": \"kuma.example.org:3001\"}}",
     {"config.json:1:38: kuma.server_name: is not a valid DNS name: \"kuma.example.org:3001\" "
      "(no port, no scheme)"}},
    {"server_name_an_ip",
     "{\"kuma\": {\"url\": \"https://10.0.0.1\", \"server_name\": \"10.0.0.1\"}}",
     {"config.json:1:38: kuma.server_name: must be a DNS name; an IP address belongs in "
      "kuma.url"}},
    {"node_with_underscore", "{\"node\": \"pve_1\", " + kKuma + "}",
     {"config.json:1:2: node: is not a valid node name: \"pve_1\""}},
    {"ca_file_relative",
     "{\"kuma\": {\"url\": \"https://10.0.0.1\", \"ca_file\": \"kuma-ca.pem\"}}",
     {"config.json:1:38: kuma.ca_file: must be an absolute path, not \"kuma-ca.pem\""}},
    {"pvesh_empty", "{" + kKuma + ", \"pve\": {\"pvesh\": \"\"}}",
     {"config.json:1:47: pve.pvesh: must be an absolute path, not \"\""}},
    // Bad tokens: never repeated in the message.
    {"push_token_empty", "{" + kKuma + ", \"jobs\": {\"j1\": {\"push_token\": \"\"}}}",
     {"config.json: jobs.j1.push_token: must be 1 to 256 printable ASCII characters without "
      "spaces"}},
    {"push_token_not_ascii", "{" + kKuma + ", \"jobs\": {\"j1\": {\"push_token\": \"t\u00f6k\"}}}",
     {"config.json: jobs.j1.push_token: must be 1 to 256 printable ASCII characters without "
      "spaces"}},
    {"push_token_too_long",
     "{" + kKuma + ", \"jobs\": {\"j1\": {\"push_token\": \"" + std::string(257, 'k') + "\"}}}",
     {"config.json: jobs.j1.push_token: must be 1 to 256 printable ASCII characters without "
      "spaces"}},
    {"push_token_a_number", "{" + kKuma + ", \"jobs\": {\"j1\": {\"push_token\": 1234}}}",
     {"config.json:1:55: jobs.j1.push_token: must be a string, not a whole number"}},
    {"job_id_with_spaces", "{" + kKuma + ", \"jobs\": {\" j1\": {\"push_token\": \"t\"}}}",
     {"config.json:1:48: jobs.\" j1\": is not a valid job id"}},
    {"job_id_empty", "{" + kKuma + ", \"jobs\": {\"\": {\"push_token\": \"t\"}}}",
     {"config.json: jobs.\"\": is not a valid job id"}},
    {"token_id_without_token_name", "{" + kKuma + ", \"pve\": {\"token_id\": \"root@pam\"}}",
     {"config.json:1:47: pve.token_id: must look like USER@REALM!TOKENID (for example "
      "\"pbk-agent@pve!guard\"), not \"root@pam\""}},
    {"token_id_without_user", "{" + kKuma + ", \"pve\": {\"token_id\": \"@pve!guard\"}}",
     {"config.json:1:47: pve.token_id: must look like USER@REALM!TOKENID (for example "
      "\"pbk-agent@pve!guard\"), not \"@pve!guard\""}},
    // Duplicate keys, at any depth.
    {"duplicate_top_level_key", "{\"node\": \"a\", \"node\": \"b\", " + kKuma + "}",
     {"config.json: key \"node\" appears twice in the same object"}},
    {"duplicate_job", "{" + kKuma + ", \"jobs\": {\"j1\": {\"push_token\": \"a\"}, "
                                    "\"j1\": {\"push_token\": \"b\"}}}",
     {"config.json: key \"j1\" appears twice in the same object"}},
    {"duplicate_token", "{" + kKuma + ", \"jobs\": {\"j1\": {\"push_token\": \"a\", "
                                      "\"push_token\": \"b\"}}}",
     {"config.json: key \"push_token\" appears twice in the same object"}},
};

class ConfigMalformedTest : public ::testing::TestWithParam<Row> {};

TEST_P(ConfigMalformedTest, SaysWhatIsWrong) {
  const Row& row = GetParam();
  Config config;
  std::vector<std::string> errors;
  EXPECT_FALSE(ParseConfig(row.input, "config.json", &config, &errors));
  EXPECT_EQ(errors, row.expected) << "input: " << row.input;
}

INSTANTIATE_TEST_SUITE_P(Rows, ConfigMalformedTest, ::testing::ValuesIn(kConfigRows), RowName);

// ---------------------------------------------------------------- jobs.cfg

const Row kJobsCfgRows[] = {
    {"option_before_any_section", "\tschedule 21:00\n",
     {"jobs.cfg line 1: an option outside any section"}},
    {"option_after_a_comment", "# jobs\n  storage local\n",
     {"jobs.cfg line 2: an option outside any section"}},
    {"header_without_id", "vzdump:\n\tstorage local\n",
     {"jobs.cfg line 1: expected a section header like \"vzdump: backup-…\", got \"vzdump:\""}},
    {"header_without_colon", "vzdump backup-1\n",
     {"jobs.cfg line 1: expected a section header like \"vzdump: backup-…\", got \"vzdump "
      "backup-1\""}},
    {"header_id_with_space", "vzdump: backup 1\n",
     {"jobs.cfg line 1: expected a section header like \"vzdump: backup-…\", got \"vzdump: "
      "backup 1\""}},
    {"header_without_type", ": backup-1\n",
     {"jobs.cfg line 1: expected a section header like \"vzdump: backup-…\", got \": "
      "backup-1\""}},
    {"option_id", "vzdump: a\n\tid b\n",
     {"jobs.cfg line 2: option \"id\" is not allowed here or given twice"}},
    {"option_type", "vzdump: a\n\ttype realm-sync\n",
     {"jobs.cfg line 2: option \"type\" is not allowed here or given twice"}},
    {"option_twice", "vzdump: a\n\tstorage s1\n\tstorage s2\n",
     {"jobs.cfg line 3: option \"storage\" is not allowed here or given twice"}},
    // Values are checked once the section is complete: no line number.
    {"enabled_not_a_boolean", "vzdump: a\n\tenabled maybe\n",
     {"jobs.cfg: job \"a\": \"enabled\" is \"maybe\", expected a boolean"}},
    {"vmid_below_100", "vzdump: a\n\tvmid 99\n",
     {"jobs.cfg: job \"a\": \"vmid\" is not a list of guest ids: \"99\""}},
    {"vmid_not_a_number", "vzdump: a\n\tvmid 100,web\n",
     {"jobs.cfg: job \"a\": \"vmid\" is not a list of guest ids: \"100,web\""}},
    {"exclude_too_large", "vzdump: a\n\tall 1\n\texclude 1000000000\n",
     {"jobs.cfg: job \"a\": \"exclude\" is not a list of guest ids: \"1000000000\""}},
    {"error_in_a_later_section", "vzdump: a\n\tvmid 100\n\nvzdump: b\n\tenabled 2\n",
     {"jobs.cfg: job \"b\": \"enabled\" is \"2\", expected a boolean"}},
    // Found by fuzzing: bytes that are not UTF-8 are shown as U+FFFD.
    {"boolean_not_utf8", "vzdump: a\n\tall \xE9\n",
     {"jobs.cfg: job \"a\": \"all\" is \"\xEF\xBF\xBD\", expected a boolean"}},
};

class JobsCfgMalformedTest : public ::testing::TestWithParam<Row> {};

TEST_P(JobsCfgMalformedTest, SaysWhatIsWrong) {
  const Row& row = GetParam();
  std::vector<BackupJob> jobs;
  std::string err;
  const bool ok = ParseJobsCfg(row.input, &jobs, &err);
  EXPECT_FALSE(ok);
  EXPECT_EQ(err, row.expected.front()) << "input: " << row.input;
}

INSTANTIATE_TEST_SUITE_P(Rows, JobsCfgMalformedTest, ::testing::ValuesIn(kJobsCfgRows), RowName);

// ---------------------------------------------------------------- vzdump.cron

// Each input is one line after a good job; the expected texts are the
// warnings (the good job is always found). "@ID" stands for the id the
// second job gets, "<sha1 of the text>:2".
const Row kCronRows[] = {
    {"not_a_cron_line", "garbage", {"vzdump.cron line 2: not a vzdump job line; PVE ignores it"}},
    {"not_vzdump", "0 1 * * * root /usr/bin/backup 100",
     {"vzdump.cron line 2: not a vzdump job line; PVE ignores it"}},
    {"other_user", "0 1 * * * admin vzdump 100",
     {"vzdump.cron line 2: not a vzdump job line; PVE ignores it"}},
    {"day_of_month_set", "0 1 1 * * root vzdump 100",
     {"vzdump.cron line 2: not a vzdump job line; PVE ignores it"}},
    {"relative_command_path", "0 1 * * * root sbin/vzdump 100",
     {"vzdump.cron line 2: not a vzdump job line; PVE ignores it"}},
    {"minute_not_a_number", "x 1 * * * root vzdump 100",
     {"vzdump.cron line 2: not a vzdump job line; PVE ignores it"}},
    {"bad_day_name", "0 1 * * someday root vzdump 100",
     {"vzdump.cron line 2: unable to parse day of week \"someday\"; PVE skips this line, so it "
      "is no job"}},
    {"day_range_of_digits", "0 1 * * 1-5 root vzdump 100",
     {"vzdump.cron line 2: unable to parse day of week \"1-5\"; PVE skips this line, so it is "
      "no job"}},
    {"day_eight", "0 1 * * 8 root vzdump 100",
     {"vzdump.cron line 2: unable to parse day of week \"8\"; PVE skips this line, so it is no "
      "job"}},
    {"unmatched_single_quote", "0 1 * * * root vzdump 100 --mailto 'root@example",
     {"vzdump.cron line 2: cannot split the arguments: an unmatched single quote; PVE skips "
      "this line, so it is no job"}},
    {"unmatched_double_quote", "0 1 * * * root vzdump 100 --mailto \"root@example",
     {"vzdump.cron line 2: cannot split the arguments: an unmatched double quote; PVE skips "
      "this line, so it is no job"}},
    {"unknown_option", "0 1 * * * root vzdump 100 --bogus 1",
     {"vzdump.cron line 2: unknown vzdump option --bogus; PVE skips this line, so it is no "
      "job"}},
    {"unknown_option_with_equals", "0 1 * * * root vzdump 100 --storage=local --sparse=1",
     {"vzdump.cron line 2: unknown vzdump option --sparse; PVE skips this line, so it is no "
      "job"}},
    {"guest_not_a_number", "0 1 * * * root vzdump 100 web01",
     {"vzdump.cron line 2: not a guest id list: 100,web01; PVE skips this line, so it is no "
      "job"}},
    {"vmid_option_too_small", "0 1 * * * root vzdump --vmid 42",
     {"vzdump.cron line 2: not a guest id list: 42; PVE skips this line, so it is no job"}},
    // A value ParseBackupJob refuses: the message names the job by the id
    // the line would have had, without saying that the line is skipped.
    {"all_not_a_boolean", "0 1 * * * root vzdump --all maybe",
     {"vzdump.cron line 2: job \"@ID\": \"all\" is \"maybe\", expected a boolean"}},
    // Found by fuzzing: bytes that are not UTF-8 are shown as U+FFFD.
    {"all_not_utf8", "0 2 * * 6 root vzdump --all \xE9",
     {"vzdump.cron line 2: job \"@ID\": \"all\" is \"\xEF\xBF\xBD\", expected a boolean"}},
};

class VzdumpCronMalformedTest : public ::testing::TestWithParam<Row> {};

TEST_P(VzdumpCronMalformedTest, WarnsAndSkipsTheLine) {
  const Row& row = GetParam();
  const std::string text = "0 1 * * 6 root vzdump 100 --storage local\n" + row.input + "\n";
  std::vector<CronJob> jobs;
  std::vector<std::string> warnings;
  ASSERT_TRUE(ParseVzdumpCron(text, &jobs, &warnings));
  ASSERT_EQ(jobs.size(), 1u) << "input: " << row.input;
  EXPECT_EQ(jobs[0].job.id, Sha1Hex(text) + ":1");
  std::vector<std::string> expected = row.expected;
  for (auto& line : expected) {
    if (size_t at = line.find("@ID"); at != std::string::npos) {
      line.replace(at, 3, Sha1Hex(text) + ":2");
    }
  }
  EXPECT_EQ(warnings, expected) << "input: " << row.input;
}

INSTANTIATE_TEST_SUITE_P(Rows, VzdumpCronMalformedTest, ::testing::ValuesIn(kCronRows), RowName);

TEST(VzdumpCronMalformedTest, ALineWithABadValueStillTakesAJobNumber) {
  // The line after a refused --all value gets number 3, not 2 (the line
  // PVE skips for a bad day of week or an unknown option takes none).
  const std::string text =
      "0 1 * * 6 root vzdump 100\n"
      "0 2 * * 6 root vzdump --all maybe\n"
      "0 3 * * 6 root vzdump 101\n";
  std::vector<CronJob> jobs;
  std::vector<std::string> warnings;
  ParseVzdumpCron(text, &jobs, &warnings);
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[1].job.id, Sha1Hex(text) + ":3");
}

TEST(VzdumpCronMalformedTest, PatchingAJobThatIsNotThereIsAnError) {
  std::string patched, err;
  EXPECT_FALSE(PatchVzdumpCronScript("garbage\n", "abc:1", "/hook.sh", &patched, &err));
  EXPECT_EQ(err, "vzdump.cron has no job abc:1 (the file changed since it was read?)");
}

// Patching LINE's job to run /hook.sh gives EXPECTED, which is still one job
// and runs /hook.sh.
void ExpectPatch(const std::string& line, const std::string& expected) {
  std::vector<CronJob> jobs;
  std::vector<std::string> warnings;
  ParseVzdumpCron(line, &jobs, &warnings);
  ASSERT_EQ(jobs.size(), 1u) << line;
  std::string patched, err;
  ASSERT_TRUE(PatchVzdumpCronScript(line, jobs[0].job.id, "/hook.sh", &patched, &err)) << err;
  EXPECT_EQ(patched, expected);
  ParseVzdumpCron(patched, &jobs, &warnings);
  ASSERT_EQ(jobs.size(), 1u) << patched;
  EXPECT_EQ(jobs[0].job.script, "/hook.sh") << patched;
}

// Found by fuzzing: " --script …" appended after a backslash had its space
// escaped; the line then held a guest "root --script" and PVE skipped it.
TEST(VzdumpCronMalformedTest, PatchingALineThatEndsInABackslashKeepsItAJob) {
  ExpectPatch("0 1 * * 6 root vzdump 100 --storage local --mailto root\\\n",
              "0 1 * * 6 root vzdump --script /hook.sh 100 --storage local --mailto root\\\n");
  // The backslash escapes the first trailing blank.
  ExpectPatch("0 1 * * 6 root vzdump 100 --mailto root\\ \r\n",
              "0 1 * * 6 root vzdump --script /hook.sh 100 --mailto root\\ \r\n");
  // An escaped backslash escapes nothing; the option still goes first.
  ExpectPatch("0 1 * * 6 root vzdump 100 --mailto root\\\\\n",
              "0 1 * * 6 root vzdump --script /hook.sh 100 --mailto root\\\\\n");
}

// Found by fuzzing: vzdump (and ParseVzdumpCron) takes the last --script,
// the patch replaced the first and the job kept running /root/b.sh. The last
// is set; the first, which nothing reads, stays as it was.
TEST(VzdumpCronMalformedTest, PatchingALineWithTwoScriptOptionsSetsTheOneVzdumpUses) {
  ExpectPatch(
      "0 1 * * 6 root vzdump 100 --script /root/a.sh --storage local --script /root/b.sh\n",
      "0 1 * * 6 root vzdump 100 --script /root/a.sh --storage local --script /hook.sh\n");
  ExpectPatch("0 1 * * 6 root vzdump 100 --script=/root/a.sh -script /root/b.sh --quiet 1\n",
              "0 1 * * 6 root vzdump 100 --script=/root/a.sh -script /hook.sh --quiet 1\n");
  ExpectPatch("0 1 * * 6 root vzdump 100 --script /root/a.sh --script=/root/b.sh\n",
              "0 1 * * 6 root vzdump 100 --script /root/a.sh --script /hook.sh\n");
}

// Found by fuzzing: "--script" before another option has no value of its own
// (1, for vzdump), but the patch overwrote the next word, the other option's
// name; the line stopped parsing and the job was gone.
TEST(VzdumpCronMalformedTest, PatchingAScriptOptionWithoutValueGivesItOne) {
  ExpectPatch("0 1 * * 6 root vzdump 100 --script --storage local\n",
              "0 1 * * 6 root vzdump 100 --script /hook.sh --storage local\n");
  ExpectPatch("0 1 * * 6 root vzdump 100 --script\n",
              "0 1 * * 6 root vzdump 100 --script /hook.sh\n");
}

TEST(ShellWordsMalformedTest, UnmatchedQuotesAreNamed) {
  std::vector<Word> words;
  std::string err;
  EXPECT_FALSE(SplitShellWords("a \"b\\\" c", &words, &err));
  EXPECT_EQ(err, "an unmatched double quote");
  EXPECT_FALSE(SplitShellWords("'", &words, &err));
  EXPECT_EQ(err, "an unmatched single quote");
  // A trailing backslash is kept as it is.
  ASSERT_TRUE(SplitShellWords("a\\", &words, &err));
  EXPECT_EQ(words.at(0).text, "a\\");
}

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

// The same answers as the guard reads them from the REST API (HTTP 200 with
// the input as body): the reader parses the body itself and says whose
// answer it was.
class PveAnswering : public HttpClient {
 public:
  explicit PveAnswering(std::string body) : body_(std::move(body)) {}
  bool Send(const HttpRequest&, HttpResponse* response, HttpError*) override {
    response->status = 200;
    response->reason = "OK";
    response->body = body_;
    return true;
  }

 private:
  std::string body_;
};

const Row kRestAnswerRows[] = {
    {"html", "<html>502 Bad Gateway</html>",
     {"the PVE API's answer is not valid JSON (syntax error while parsing value - invalid "
      "literal; last read: '<')"}},
    {"empty_body", "",
     {"the PVE API's answer is not valid JSON (syntax error while parsing value - unexpected end "
      "of input; expected '[', '{', or a literal)"}},
    {"cut_short", "{\"data\": [{\"id\": \"j\"",
     {"the PVE API's answer is not valid JSON (syntax error while parsing object - unexpected "
      "end of input; expected '}')"}},
    {"data_null", "{\"data\": null}",
     {"the PVE API's answer is not a job list: expected a list of jobs, got null"}},
    {"bad_entry", "{\"data\": [{\"id\": \"j\", \"enabled\": \"maybe\"}]}",
     {"the PVE API's answer is not a job list: entry 1: job \"j\": \"enabled\" is \"maybe\", "
      "expected a boolean"}},
    // Found by fuzzing: a number beyond a double is nlohmann's out_of_range,
    // not a parse_error.
    {"number_beyond_double", "{\"data\": [{\"id\": \"backup-1\", \"next-run\": 1e400}]}",
     {"the PVE API's answer is not valid JSON (number overflow parsing '1e400')"}},
};

class RestAnswerMalformedTest : public ::testing::TestWithParam<Row> {};

TEST_P(RestAnswerMalformedTest, SaysWhatIsWrong) {
  const Row& row = GetParam();
  PveAnswering http(row.input);
  RestSettings settings;
  settings.host = "127.0.0.1";
  settings.token_id = "pbk-agent@pve!guard";
  auto reader = NewRestJobReader(&http, settings);
  std::vector<BackupJob> jobs;
  std::string err;
  EXPECT_FALSE(reader->List(&jobs, &err));
  EXPECT_EQ(err, row.expected.front()) << "input: " << row.input;
}

INSTANTIATE_TEST_SUITE_P(Rows, RestAnswerMalformedTest, ::testing::ValuesIn(kRestAnswerRows),
                         RowName);

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

// ---------------------------------------------------------------- UPID, cmdline, stat

// ParseUpid and StartTimeFromStat only say no; UpidFromCmdline gives "".
const Row kUpidRows[] = {
    {"empty", "", {}},
    {"lower_case_prefix", "upid:pve1:00001092:0143F5A7:6740C2B1:vzdump::root@pam:", {}},
    {"no_trailing_colon", "UPID:pve1:00001092:0143F5A7:6740C2B1:vzdump::root@pam", {}},
    {"one_field_too_many", "UPID:pve1:00001092:0143F5A7:6740C2B1:vzdump::root@pam:x:", {}},
    {"empty_node", "UPID::00001092:0143F5A7:6740C2B1:vzdump::root@pam:", {}},
    {"pid_zero", "UPID:pve1:00000000:0143F5A7:6740C2B1:vzdump::root@pam:", {}},
    {"pid_not_hex", "UPID:pve1:0000109G:0143F5A7:6740C2B1:vzdump::root@pam:", {}},
    {"pid_too_long", "UPID:pve1:000000000000000000001:0143F5A7:6740C2B1:vzdump::root@pam:", {}},
    {"starttime_empty", "UPID:pve1:00001092:0143F5A7::vzdump::root@pam:", {}},
    {"type_empty", "UPID:pve1:00001092:0143F5A7:6740C2B1:::root@pam:", {}},
    {"user_empty", "UPID:pve1:00001092:0143F5A7:6740C2B1:vzdump:::", {}},
    {"too_long", "UPID:" + std::string(600, 'n') + ":1:2:3:vzdump::root@pam:", {}},
};

class UpidMalformedTest : public ::testing::TestWithParam<Row> {};

TEST_P(UpidMalformedTest, IsRefused) {
  const Row& row = GetParam();
  Upid upid;
  EXPECT_FALSE(ParseUpid(row.input, &upid));
  EXPECT_EQ(UpidFromCmdline("task " + row.input + std::string("\0", 1)), "");
}

INSTANTIATE_TEST_SUITE_P(Rows, UpidMalformedTest, ::testing::ValuesIn(kUpidRows), RowName);

TEST(UpidMalformedTest, ACmdlineMustStartWithTask) {
  const std::string upid = "UPID:pve1:00001092:0143F5A7:6740C2B1:vzdump::root@pam:";
  EXPECT_EQ(UpidFromCmdline("task " + upid), upid);
  EXPECT_EQ(UpidFromCmdline("tasks " + upid), "");
  EXPECT_EQ(UpidFromCmdline(upid), "");
  EXPECT_EQ(UpidFromCmdline(std::string("task\0", 5) + upid), "");
  EXPECT_EQ(UpidFromCmdline("task " + upid + " extra"), "");
}

TEST(UpidMalformedTest, StatLinesWithoutAStartTimeAreRefused) {
  uint64_t ticks = 7;
  for (const std::string stat :
       {"", "4242", "4242 (vzdump S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20",
        "4242 (vzdump) S 1 4242 4242 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0",
        "4242 (vzdump) S 1 4242 4242 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 -5 0",
        "4242 (vzdump) S 1 4242 4242 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99999999999999999999999 0"}) {
    EXPECT_FALSE(StartTimeFromStat(stat, &ticks)) << stat;
  }
  EXPECT_EQ(ticks, 7u);
}

// What the hook's ERROR line says when the parent cannot be identified.
TEST(UpidMalformedTest, AnUnidentifiableParentIsNamed) {
  testing::TestDir proc;
  WorkerIdentity worker;
  std::string err;
  EXPECT_FALSE(IdentifyWorker(proc.path(), 99, &worker, &err));
  EXPECT_EQ(err, "cannot identify the calling vzdump process 99: reading " + proc.path() +
                     "/99/stat: No such file or directory");
  // A stat file that is there but malformed is called "unreadable".
  proc.Write("77/cmdline", "task UPID:broken");
  proc.Write("77/stat", "77 (vzdump) S 1");
  EXPECT_FALSE(IdentifyWorker(proc.path(), 77, &worker, &err));
  EXPECT_EQ(err, "cannot identify the calling vzdump process 77: unreadable " + proc.path() +
                     "/77/stat");
}

// Found by fuzzing: the key held the UPID's node name uncut, so "<key>.json"
// could pass NAME_MAX (255 bytes); the hook then kept no run record and no
// spool entry, and a job-abort after job-end pushed the run a second time.
// A long key is cut and ends in a hash of all of it.
TEST(UpidMalformedTest, ARunKeyIsAlwaysAUsableFileName) {
  testing::TestDir proc;
  auto identify = [&](const std::string& node, const std::string& pid) {
    proc.Write("5000/cmdline", "task UPID:" + node + ":" + pid +
                                   ":0143F5A7:6740C2B1:vzdump::root@pam:" + std::string("\0", 1));
    WorkerIdentity worker;
    std::string err;
    EXPECT_TRUE(IdentifyWorker(proc.path(), 5000, &worker, &err)) << err;
    return worker.key;
  };
  const std::string key = identify(std::string(450, 'n'), "00001092");
  EXPECT_EQ(key.size(), 200u);
  EXPECT_EQ(key.substr(0, 184), "upid-" + std::string(178, 'n') + "-");
  // The whole of the ".<key>.json.tmp.<pid>.<n>" of an atomic write fits.
  EXPECT_LE(1 + key.size() + 5 + 5 + 7 + 1 + 10, 255u);
  // The same run, the same key; another run, another key.
  EXPECT_EQ(identify(std::string(450, 'n'), "00001092"), key);
  EXPECT_NE(identify(std::string(450, 'n'), "00001093"), key);
  // The key still names a file, written as the hook writes its records.
  testing::TestDir state;
  std::string err;
  EXPECT_TRUE(WriteFileAtomic(state.path() + "/" + key + ".json", "{}", &err)) << err;
  // Keys of ordinary length are as they were.
  EXPECT_EQ(identify("pve1", "00001092"), "upid-pve1-00001092-0143F5A7-6740C2B1");
}

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

// ---------------------------------------------------------------- Kuma's answers

// Kuma's answer to a push is untrusted too, and shown with the push token
// scrubbed.
class AnswerWith : public HttpClient {
 public:
  explicit AnswerWith(std::string body) : body_(std::move(body)) {}
  bool Send(const HttpRequest&, HttpResponse* response, HttpError*) override {
    response->status = 404;
    response->reason = "Not Found";
    response->body = body_;
    return true;
  }

 private:
  std::string body_;
};

std::string PushError(const std::string& body, const std::string& token) {
  AnswerWith http(body);
  KumaClient client(&http, KumaEndpoint{"192.0.2.10", 3001, "", std::chrono::seconds(1)});
  std::string err;
  EXPECT_FALSE(client.Push(token, KumaPush{true, "m", 1}, &err));
  return err;
}

// Found by fuzzing: a push token that is part of "****" ("*" … "****", which
// the configuration accepts) was found again in the mask, for ever.
TEST(KumaAnswerMalformedTest, AnAsteriskTokenIsScrubbedOnce) {
  const std::string hint =
      " (check the job's push_token and that its push monitor exists and is active)";
  EXPECT_EQ(PushError(R"({"ok": false, "msg": "no monitor for *"})", "*"),
            "Kuma answered HTTP 404 Not Found: no monitor for ****" + hint);
  EXPECT_EQ(PushError(R"({"ok": false, "msg": "**"})", "**"),
            "Kuma answered HTTP 404 Not Found: ****" + hint);
  EXPECT_EQ(PushError(R"({"ok": false, "msg": "*****"})", "****"),
            "Kuma answered HTTP 404 Not Found: *****" + hint);
}

// A body that is no JSON is cut to 200 bytes after the token is scrubbed, so
// no part of a token that straddles the cut is left.
TEST(KumaAnswerMalformedTest, ATokenAcrossTheCutIsScrubbedWhole) {
  const std::string token = "tok-" + std::string(40, 'x');
  const std::string err = PushError(std::string(190, '.') + token + " not found", token);
  EXPECT_EQ(err.find("tok-"), std::string::npos) << err;
  EXPECT_NE(err.find(std::string(190, '.') + "****"), std::string::npos) << err;
}

}  // namespace
}  // namespace pbk
