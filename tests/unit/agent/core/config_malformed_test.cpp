// Malformed input for the configuration (tests/support/malformed_row.h).
#include "agent/core/config.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/support/malformed_row.h"

namespace pbk {
namespace {

using testing::Row;
using testing::RowName;

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

}  // namespace
}  // namespace pbk
