// Malformed input for Uptime Kuma's answers to a push (tests/support/malformed_row.h).
#include "api/kuma/kuma_client.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "api/http/http_client.h"
#include "tests/support/malformed_row.h"

namespace pbk {
namespace {

using testing::Row;
using testing::RowName;

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
