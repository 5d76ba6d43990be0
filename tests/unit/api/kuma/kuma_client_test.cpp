#include "api/kuma/kuma_client.h"

#include <gtest/gtest.h>

namespace pbk {
namespace {

class FakeHttp : public HttpClient {
 public:
  bool Send(const HttpRequest& request, HttpResponse* response, HttpError* error) override {
    requests.push_back(request);
    if (fail) {
      *error = failure;
      return false;
    }
    *response = answer;
    return true;
  }
  std::vector<HttpRequest> requests;
  bool fail = false;
  HttpError failure;
  HttpResponse answer{200, "OK", R"({"ok":true})"};
};

KumaEndpoint Endpoint() { return {"192.0.2.10", 3001, "", std::chrono::seconds(7)}; }

TEST(KumaClientTest, BuildsThePushRequest) {
  EXPECT_EQ(BuildPushTarget("", "k8Qz3vT1pL", {true, "all 2 guests ok: 100 web01", 725000}),
            "/api/push/k8Qz3vT1pL?status=up&msg=all%202%20guests%20ok%3A%20100%20web01&ping=725000");
  EXPECT_EQ(BuildPushTarget("/kuma", "t/x", {false, "a&b=c\nd", std::nullopt}),
            "/kuma/api/push/t%2Fx?status=down&msg=a%26b%3Dc%20d");
}

TEST(KumaClientTest, CapsTheMessageWellBelowKumasHeaderLimit) {
  std::string target = BuildPushTarget("", "t", {true, std::string(20000, '%'), 1});
  // Every character of the message is percent-encoded: 3 bytes each.
  EXPECT_LE(target.size(), 3 * kMaxPushMessageBytes + 64);
  EXPECT_LT(target.size(), 16 * 1024 - 1024);
}

TEST(KumaClientTest, SendsAGetWithTheDeadline) {
  FakeHttp http;
  KumaClient client(&http, Endpoint());
  std::string err;
  ASSERT_TRUE(client.Push("tok", {true, "fine", 5}, &err)) << err;
  ASSERT_EQ(http.requests.size(), 1u);
  EXPECT_EQ(http.requests[0].method, "GET");
  EXPECT_EQ(http.requests[0].host, "192.0.2.10");
  EXPECT_EQ(http.requests[0].port, 3001);
  EXPECT_EQ(http.requests[0].deadline, std::chrono::seconds(7));
  EXPECT_EQ(http.requests[0].target, "/api/push/tok?status=up&msg=fine&ping=5");
}

TEST(KumaClientTest, ReportsKumasOwnMessage) {
  FakeHttp http;
  http.answer = {404, "Not Found", R"({"ok":false,"msg":"Monitor not found or not active."})"};
  KumaClient client(&http, Endpoint());
  std::string err;
  PushFailure failure;
  EXPECT_FALSE(client.Push("tok", {true, "x", 1}, &err, &failure));
  EXPECT_EQ(failure, PushFailure::kRefused);
  EXPECT_EQ(err,
            "Kuma answered HTTP 404 Not Found: Monitor not found or not active. (check the job's "
            "push_token and that its push monitor exists and is active)");

  http.answer = {200, "OK", "<html>login</html>"};
  EXPECT_FALSE(client.Push("tok", {true, "x", 1}, &err));
  EXPECT_EQ(err, "Kuma answered 200 but did not confirm the push: <html>login</html>");

  http.answer = {302, "Found", ""};
  EXPECT_FALSE(client.Push("tok", {true, "x", 1}, &err));
  EXPECT_EQ(err,
            "Kuma answered HTTP 302 Found (redirects are not followed: kuma.url must point at Kuma "
            "itself)");
}

TEST(KumaClientTest, NeverRepeatsTheToken) {
  FakeHttp http;
  http.fail = true;
  http.failure = {HttpErrorKind::kConnectionRefused, "GET /api/push/s3cr3t refused"};
  KumaClient client(&http, Endpoint());
  std::string err;
  PushFailure failure;
  EXPECT_FALSE(client.Push("s3cr3t", {true, "x", 1}, &err, &failure));
  EXPECT_EQ(failure, PushFailure::kTransport);
  EXPECT_EQ(err, "GET /api/push/**** refused");

  http.fail = false;
  http.answer = {404, "Not Found", R"({"ok":false,"msg":"no monitor s3cr3t"})"};
  EXPECT_FALSE(client.Push("s3cr3t", {true, "x", 1}, &err));
  EXPECT_EQ(err.find("s3cr3t"), std::string::npos) << err;
}

TEST(KumaClientTest, ProbeWantsKumasOwnAnswerForAMonitorThatCannotExist) {
  FakeHttp http;
  http.answer = {404, "Not Found", R"({"ok":false,"msg":"Monitor not found or not active."})"};
  KumaClient client(&http, Endpoint());
  std::string err;
  EXPECT_TRUE(client.Probe(&err)) << err;
  ASSERT_EQ(http.requests.size(), 1u);
  // A random token of its own, never a configured one.
  EXPECT_EQ(http.requests[0].target.rfind("/api/push/pbkprobe", 0), 0u) << http.requests[0].target;
  EXPECT_GT(http.requests[0].target.find('?'), std::string("/api/push/pbkprobe").size() + 16);

  // A web app that answers 200 to everything is not Kuma.
  http.answer = {200, "OK", "<!DOCTYPE html><html>"};
  EXPECT_FALSE(client.Probe(&err));
  EXPECT_NE(err.find("this is not Uptime Kuma's push API"), std::string::npos) << err;
  EXPECT_NE(err.find("HTTP 200: <!DOCTYPE html>"), std::string::npos) << err;
  // Nor is a 404 page of another server.
  http.answer = {404, "Not Found", "<html>Not Found</html>"};
  EXPECT_FALSE(client.Probe(&err));
}

TEST(KumaClientTest, KumasMessageReachesTheTaskLogAsOneShortLine) {
  FakeHttp http;
  http.answer = {404, "Not Found",
                 R"({"ok":false,"msg":"Monitor not found.\nINFO: Backup job finished successfully"})"};
  KumaClient client(&http, Endpoint());
  std::string err;
  EXPECT_FALSE(client.Push("k8Qz3vT1pL", {true, "x", std::nullopt}, &err));
  EXPECT_EQ(err.find('\n'), std::string::npos) << err;
  EXPECT_NE(err.find("Monitor not found. INFO: Backup job finished successfully"), std::string::npos)
      << err;

  http.answer = {404, "Not Found", R"({"ok":false,"msg":")" + std::string(5000, 'x') + R"("})"};
  EXPECT_FALSE(client.Push("k8Qz3vT1pL", {true, "x", std::nullopt}, &err));
  EXPECT_LT(err.size(), 600u);
}

TEST(KumaClientTest, ATransportErrorNeverRepeatsThePercentEncodedToken) {
  FakeHttp http;
  http.fail = true;
  // What an HTTP library may say: the URL as it was sent.
  http.failure = {HttpErrorKind::kOther,
                  "connecting to 192.0.2.10:3001: bad request /api/push/a%2Fb%20c?status=up"};
  KumaClient client(&http, Endpoint());
  std::string err;
  EXPECT_FALSE(client.Push("a/b c", {true, "x", std::nullopt}, &err));
  EXPECT_EQ(err.find("a%2Fb%20c"), std::string::npos) << err;
  EXPECT_NE(err.find("/api/push/****?status=up"), std::string::npos) << err;
}

}  // namespace
}  // namespace pbk
