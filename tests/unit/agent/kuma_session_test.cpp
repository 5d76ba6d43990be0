#include "agent/kuma_session.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "tests/support/test_dir.h"

namespace pbk {
namespace {

using Level = KumaSessionCheck::Level;

// header.payload.signature, the payload {"username":"pbk-admin","h":"5f1c","iat":1765000000}.
constexpr char kSession[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJ1c2VybmFtZSI6InBiay1hZG1pbiIsImgiOiI1ZjFjIiwiaWF0IjoxNzY1MDAwMDAwfQ."
    "c2lnbmF0dXJl";

TEST(KumaSessionTest, TheUserComesFromTheSessionsPayload) {
  EXPECT_EQ(KumaSessionUser(kSession), "pbk-admin");
  EXPECT_EQ(KumaSessionUser(""), "");
  EXPECT_EQ(KumaSessionUser("not-a-jwt"), "");
  EXPECT_EQ(KumaSessionUser("a.b%c.d"), "") << "not base64url";
  EXPECT_EQ(KumaSessionUser("a.e30.d"), "") << "{} names no user";
  EXPECT_EQ(KumaSessionUser("a.eyJ1c2VybmFtZSI6NX0.d"), "") << "{\"username\":5}";
}

class KumaSessionCheckTest : public ::testing::Test {
 protected:
  void SetUp() override { config_.kuma.session_file = dir_.Path("priv/kuma-session"); }
  testing::TestDir dir_;
  Config config_;
};

TEST_F(KumaSessionCheckTest, NoSessionIsFineForMonitorsKeptByHand) {
  const KumaSessionCheck check = CheckKumaSession(config_, /*synced=*/false);
  EXPECT_EQ(check.level, Level::kOk);
  EXPECT_EQ(check.message,
            "none stored in " + config_.kuma.session_file + " (the monitors are kept by hand)");
}

TEST_F(KumaSessionCheckTest, NoSessionWhileKumaSyncKeepsTheMonitorsIsAWarningWithTheFix) {
  const KumaSessionCheck check = CheckKumaSession(config_, /*synced=*/true);
  EXPECT_EQ(check.level, Level::kWarn);
  EXPECT_NE(check.message.find("the timer cannot keep them"), std::string::npos) << check.message;
  EXPECT_EQ(check.fix, "run `pbk-agent kuma login` once");
}

TEST_F(KumaSessionCheckTest, AReadableSessionFileFailsWithoutBeingShown) {
  const std::string path = dir_.Write("priv/kuma-session", std::string(kSession) + "\n");
  ASSERT_EQ(chmod(path.c_str(), 0644), 0);
  const KumaSessionCheck check = CheckKumaSession(config_, /*synced=*/true);
  EXPECT_EQ(check.level, Level::kFail);
  EXPECT_NE(check.message.find(path), std::string::npos) << check.message;
  EXPECT_NE(check.fix.find("chmod 600"), std::string::npos) << check.fix;
  EXPECT_EQ(check.message.find(kSession), std::string::npos);
}

TEST_F(KumaSessionCheckTest, AnEmptySessionFileNamesTheLoginToRun) {
  dir_.Write("priv/kuma-session", "\n");  // mode 0600
  const KumaSessionCheck check = CheckKumaSession(config_, /*synced=*/false);
  EXPECT_EQ(check.level, Level::kFail);
  EXPECT_EQ(check.message, config_.kuma.session_file + " is empty");
  EXPECT_EQ(check.fix, "run `pbk-agent kuma login` again");
}

}  // namespace
}  // namespace pbk
