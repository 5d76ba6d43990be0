// Malformed input for the PVE REST API's answers as the guard reads them (tests/support/malformed_row.h).
#include "api/pve/job_sources.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "api/http/http_client.h"
#include "api/pve/backup_job.h"
#include "tests/support/malformed_row.h"

namespace pbk {
namespace {

using testing::Row;
using testing::RowName;

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

}  // namespace
}  // namespace pbk
