// End-to-end tests against a real Uptime Kuma (see kuma_e2e_test.cpp):
// `pbk-agent kuma login`. The environment's fresh "login" Kuma gets its first
// user through KumaAdmin::Setup (the product's Socket.IO client over the
// module's WebSocket); then the built program logs in as an admin would:
// with the password, with a wrong password, with a two-factor code the test
// computes, and against certificates it must refuse (another CA; a name-only
// certificate reached by IP), in the same words a push gets.
//
// The cases run in this order (GoogleTest keeps a file's order): the last
// one turns two-factor authentication on for the only user.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/stat.h>

#include <ctime>
#include <string>
#include <vector>

#include "tests/e2e/kuma_e2e_admin.h"

namespace pbk::testing::kuma_e2e {
namespace {

// Kuma wants letters and digits, at least 6 characters.
constexpr char kPassword[] = "e2e-Pass-4f7Kq9";
constexpr char kWrongPassword[] = "e2e-Wrong-8Hd2";
constexpr char kPushToken[] = "e2eLoginTlsT0ken";

// --- two-factor codes (RFC 6238, as the notp module Kuma uses) -------------------------

std::string Base32Decode(const std::string& text) {
  static const std::string kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    const size_t value = kAlphabet.find(c);
    if (value == std::string::npos) continue;
    buffer = (buffer << 5) | static_cast<uint32_t>(value);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xff));
    }
  }
  return out;
}

std::string Totp(const std::string& key, int64_t unix_time) {
  uint64_t counter = static_cast<uint64_t>(unix_time / 30);
  unsigned char message[8];
  for (int i = 7; i >= 0; --i) {
    message[i] = static_cast<unsigned char>(counter & 0xff);
    counter >>= 8;
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha1(), key.data(), static_cast<int>(key.size()), message, sizeof message, digest,
       &length);
  const int offset = digest[length - 1] & 0x0f;
  const uint32_t code = ((digest[offset] & 0x7fu) << 24) | (digest[offset + 1] << 16) |
                        (digest[offset + 2] << 8) | digest[offset + 3];
  char text[8];
  std::snprintf(text, sizeof text, "%06u", code % 1000000u);
  return text;
}

// --- the cases ----------------------------------------------------------------------------------

class KumaLoginE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RegisterSecret(kPassword);
    RegisterSecret(kWrongPassword);
    RegisterSecret(kPushToken);
    WriteText(dir_.Path("password"), std::string(kPassword) + "\n");
    WriteText(dir_.Path("wrong-password"), std::string(kWrongPassword) + "\n");
    chmod(dir_.Path("password").c_str(), 0600);
    chmod(dir_.Path("wrong-password").c_str(), 0600);
  }

  std::string session_file() { return dir_.Path("priv/pbk-agent/kuma-session"); }

  // The configuration for SERVER trusting CA_FILE ("" = the environment's
  // CA), kept in the case's folder.
  std::string Config(const KumaServer& server, const std::string& ca_file = "") {
    const json config = {
        {"node", "pve1"},
        {"kuma",
         {{"url", server.url()},
          {"ca_file", ca_file.empty() ? g_env->ca_file() : ca_file},
          {"timeout_seconds", 10},
          {"session_file", session_file()}}},
        {"jobs", {{"backup-e2e-login", {{"push_token", kPushToken}}}}},
        {"paths", {{"state_dir", dir_.Path("state")}}},
    };
    const std::string path = dir_.Path("config-" + server.label() + ".json");
    WriteText(path, config.dump(2));
    chmod(path.c_str(), 0600);
    return path;
  }

  RunResult LoginWith(const std::string& config, const std::string& password_file,
                      const std::string& totp = "") {
    std::vector<std::string> args = {"--config",   config, "kuma",           "login",
                                     "--username", kAdminUser, "--password-file", password_file};
    if (!totp.empty()) {
      args.push_back("--totp");
      args.push_back(totp);
    }
    RunResult result = AdminAgent(args);
    EXPECT_FALSE(result.timed_out) << result.err;
    return result;
  }
  RunResult Login(const std::string& password_file, const std::string& totp = "") {
    return LoginWith(Config(g_env->login()), password_file, totp);
  }

  static void ExpectNoSecret(const RunResult& result, const std::vector<std::string>& secrets) {
    for (const auto& secret : secrets) {
      EXPECT_FALSE(Contains(result.out + result.err, secret)) << "a secret was printed";
    }
  }

  TestDir dir_;
};

TEST_F(KumaLoginE2eTest, A_SetupMakesTheFirstUserAndLoginStoresOnlyTheSession) {
  KumaAdminError error;
  {
    auto admin = KumaAdmin::Connect(AdminConfig(g_env->login()), &error);
    ASSERT_TRUE(admin) << error.message;
    ASSERT_TRUE(admin->Setup(kAdminUser, kPassword, &error)) << error.message;
  }

  const auto start = SteadyClock::now();
  RunResult result = AdminAgent({"--config", Config(g_env->login()), "--debug", "kuma", "login",
                                 "--username", kAdminUser, "--password-file", dir_.Path("password")});
  const double wall_ms =
      std::chrono::duration<double, std::milli>(SteadyClock::now() - start).count();
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_TRUE(Contains(result.out, "logged in to Uptime Kuma at " + g_env->login().url() + " as " +
                                       kAdminUser))
      << result.out;
  const std::string token = Trimmed(ReadText(session_file()));
  RegisterSecret(token);
  // Kuma's session is a JWT: three base64url parts.
  EXPECT_EQ(std::count(token.begin(), token.end(), '.'), 2) << "not a JWT";
  EXPECT_FALSE(Contains(ReadText(session_file()), kPassword));
  struct stat st {};
  ASSERT_EQ(stat(session_file().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(stat(dir_.Path("priv/pbk-agent").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ExpectNoSecret(result, {kPassword, token});
  std::cout << "e2e: `kuma login` against the real Kuma: " << wall_ms << " ms wall, "
            << Trimmed(LineWith(result.err, "Socket.IO calls")) << std::endl;

  // The stored session opens Kuma again, and the monitor list comes.
  auto admin = KumaAdmin::Connect(AdminConfig(g_env->login()), &error);
  ASSERT_TRUE(admin) << error.message;
  ASSERT_TRUE(admin->LoginByToken(token, &error)) << error.message;
  json monitors;
  ASSERT_TRUE(admin->MonitorList(&monitors, &error)) << error.message;
  EXPECT_TRUE(monitors.is_object());
  EXPECT_FALSE(admin->LoginByToken("eyJhbGciOiJIUzI1NiJ9.e30.invalid", &error));
  EXPECT_EQ(error.kind, KumaAdminError::Kind::kSessionRejected);
}

TEST_F(KumaLoginE2eTest, B_AWrongPasswordIsAClearErrorAndExitOne) {
  WriteText(session_file(), "previous-session\n");
  RunResult result = Login(dir_.Path("wrong-password"));
  EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
  EXPECT_TRUE(Contains(result.err, "logging in to Uptime Kuma: Incorrect username or password."))
      << result.err;
  EXPECT_EQ(ReadText(session_file()), "previous-session\n");
  ExpectNoSecret(result, {kWrongPassword, kPassword});
}

// Two refusals without Kumas of their own: the "ip" Kuma with a CA file
// that did not sign its certificate, and the "name" Kuma (only DNS:kuma.test)
// reached by its IP without kuma.server_name.
TEST_F(KumaLoginE2eTest, C_RefusedCertificatesGetTheWordsOfAPush) {
  struct Case {
    KumaServer* server;
    std::string ca_file;
    std::string words;
  };
  const std::vector<Case> cases = {
      {&g_env->ip(), g_env->other_ca_file(), "the certificate is not signed by a trusted CA"},
      {&g_env->name(), "",
       "the certificate is not valid for IP address 127.0.0.1: it must carry IP:127.0.0.1 as a "
       "subject alternative name (it carries DNS:kuma.test)"},
  };
  for (const auto& c : cases) {
    const std::string config = Config(*c.server, c.ca_file);
    RunResult login = LoginWith(config, dir_.Path("password"));
    EXPECT_EQ(login.exit_code, 1) << login.err;
    const std::string where = "connecting to 127.0.0.1:" + std::to_string(c.server->port()) + ": ";
    const std::string line = Trimmed(LineWith(login.err, where));
    EXPECT_TRUE(Contains(line, where + c.words)) << login.err;
    // The manual test push to the same server says the same.
    RunResult push = AdminAgent({"--config", config, "hook", "job-end", "ok", "backup-e2e-login"});
    EXPECT_EQ(push.exit_code, 1) << push.out << push.err;
    const size_t at = line.find(where);
    const std::string refused = at == std::string::npos ? line : line.substr(at);
    EXPECT_TRUE(!refused.empty() && Contains(push.out + push.err, refused))
        << "the push said:\n" << push.out << push.err << "\nthe login said:\n" << refused;
    EXPECT_FALSE(std::ifstream(session_file()).good()) << "a session was stored";
    ExpectNoSecret(login, {kPassword});
  }
}

TEST_F(KumaLoginE2eTest, D_TwoFactorAuthenticationWantsTheCodeAndTakesIt) {
  KumaAdminError error;
  auto admin = KumaAdmin::Connect(AdminConfig(g_env->login()), &error);
  ASSERT_TRUE(admin) << error.message;
  std::string token;
  ASSERT_TRUE(admin->Login(kAdminUser, kPassword, "", &token, &error)) << error.message;
  RegisterSecret(token);
  json answer;
  SocketIoError failure;
  ASSERT_TRUE(admin->session()->Call("prepare2FA", json::array({kPassword}), seconds(10), &answer,
                                     &failure))
      << failure.message;
  ASSERT_EQ(At(answer, "ok"), json(true)) << answer.dump();
  const std::string uri = At(answer, "uri").is_string() ? At(answer, "uri").get<std::string>() : "";
  const size_t at = uri.find("secret=");
  ASSERT_NE(at, std::string::npos) << "no secret in the answer to prepare2FA";
  const std::string key = Base32Decode(uri.substr(at + 7));
  ASSERT_FALSE(key.empty());
  RegisterSecret(uri.substr(at + 7));
  ASSERT_TRUE(admin->session()->Call("save2FA", json::array({kPassword}), seconds(10), &answer,
                                     &failure))
      << failure.message;
  ASSERT_EQ(At(answer, "ok"), json(true)) << answer.dump();

  RunResult without = Login(dir_.Path("password"));
  EXPECT_EQ(without.exit_code, 1) << without.err;
  EXPECT_TRUE(Contains(without.err, "Uptime Kuma wants a two-factor code for " +
                                        std::string(kAdminUser) + ": run again with --totp CODE"))
      << without.err;
  EXPECT_FALSE(std::ifstream(session_file()).good());

  const std::string code = Totp(key, static_cast<int64_t>(std::time(nullptr)));
  RegisterSecret(code);
  RunResult with = Login(dir_.Path("password"), code);
  ASSERT_EQ(with.exit_code, 0) << with.out << with.err;
  const std::string session = Trimmed(ReadText(session_file()));
  RegisterSecret(session);
  EXPECT_EQ(std::count(session.begin(), session.end(), '.'), 2);
  ExpectNoSecret(with, {kPassword, code, session});

  // The same code twice is refused (Kuma keeps the last one used).
  RunResult again = Login(dir_.Path("password"), code);
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_TRUE(Contains(again.err, "the two-factor code was not accepted")) << again.err;
}

}  // namespace
}  // namespace pbk::testing::kuma_e2e
