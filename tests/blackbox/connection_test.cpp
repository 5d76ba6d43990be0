// Black-box tests of how the built pbk-agent uses its connection to Kuma: a
// process that sends many pushes in a row (here `flush` with a full spool)
// makes one TLS handshake for all of them, and a Kuma that closes the
// connection after every answer (a restart, or an idle timeout, between two
// pushes) still gets every push. The fake Kuma logs one "connection" event
// per completed TLS handshake and names the connection in each request.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "tests/support/fake_kuma.h"
#include "tests/support/process.h"
#include "tests/support/suite_log.h"
#include "tests/support/test_certs.h"
#include "tests/support/test_dir.h"
#include "tests/support/test_text.h"

namespace pbk::testing {
namespace {

using nlohmann::json;
using std::chrono::seconds;

const std::string kBinDir = PBK_BIN_DIR;

// As many pushes as a flush after a long Kuma outage may owe, and enough
// that a handshake per push could not pass for reuse by chance.
constexpr int kPushes = 20;

// Job I's id, as PVE makes them.
std::string JobId(int i) {
  char text[32];
  std::snprintf(text, sizeof text, "backup-5c1e%04x-7a2d", i);
  return text;
}

// Job I's push token: random letters and digits, as Kuma makes them.
std::string Token(int i) {
  static constexpr char kAlphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
  uint32_t state = 0x9E3779B9u * static_cast<uint32_t>(i + 1);
  std::string token;
  for (int n = 0; n < 20; ++n) {
    state = state * 1664525u + 1013904223u;
    token += kAlphabet[(state >> 16) % (sizeof kAlphabet - 1)];
  }
  return token;
}

size_t CountEvents(const std::vector<json>& events, const std::string& name) {
  return static_cast<size_t>(std::count_if(events.begin(), events.end(), [&](const json& event) {
    return Str(event, "event") == name;
  }));
}

class ConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string err;
    ASSERT_TRUE(MakeTestCertificates(dir_.Path("certs"), &err)) << err;
    state_dir_ = dir_.Path("state");
    config_path_ = dir_.Path("config.json");
    for (int i = 0; i < kPushes; ++i) {
      jobs_[JobId(i)] = Token(i);
      RegisterSecret(Token(i));
    }
  }

  void TearDown() override {
    if (kuma_) kuma_->Stop();
    ExpectNoTokenLeaked();
  }

  void StartKuma(const std::string& mode) {
    FakeKumaOptions options;
    options.cert = dir_.Path("certs/ip.pem");
    options.key = dir_.Path("certs/ip.key");
    options.mode = mode;
    options.work_dir = dir_.path();
    kuma_ = std::make_unique<FakeKuma>(options);
    std::string err;
    ASSERT_TRUE(kuma_->Start(&err)) << err;
  }

  void WriteConfig() {
    json jobs = json::object();
    for (const auto& [id, token] : jobs_) jobs[id] = {{"push_token", token}};
    json config = {
        {"node", "pve1"},
        {"kuma",
         {{"url", kuma_->url()}, {"ca_file", dir_.Path("certs/ca.pem")}, {"timeout_seconds", 5}}},
        {"jobs", jobs},
        {"paths",
         {{"state_dir", state_dir_}, {"scheduler_dir", dir_.Path("jobs")}, {"proc", "/proc"}}}};
    dir_.Write("config.json", config.dump(2) + "\n");
    ASSERT_EQ(chmod(config_path_.c_str(), 0600), 0);
  }

  // One owed push per job, as the hook spools one it could not deliver
  // (hook/spool.cpp, SerializeSpooledPush), a second apart, oldest first.
  void SpoolOnePushPerJob() {
    const int64_t first_ms = 1767225600000;  // 2026-01-01 00:00 UTC
    int i = 0;
    for (const auto& [id, token] : jobs_) {
      const int64_t created_ms = first_ms + 1000 * i++;
      json entry = {{"format", 1},
                    {"job_id", id},
                    {"status", "up"},
                    {"msg", "all 2 guests backed up"},
                    {"ping", 61000},
                    {"created", created_ms},
                    {"run", ""},
                    {"attempts", 1},
                    {"last_error", "connecting to Kuma: connection refused"}};
      dir_.Write("state/spool/push-" + std::to_string(created_ms) + "-" + id + ".json",
                 entry.dump(1) + "\n");
    }
    ASSERT_EQ(chmod(state_dir_.c_str(), 0700), 0);
    ASSERT_EQ(chmod(dir_.Path("state/spool").c_str(), 0700), 0);
  }

  RunResult Flush() {
    RunResult result = pbk::testing::Run(
        {kBinDir + "/pbk-agent", "--config", config_path_, "flush"}, nullptr, seconds(60));
    outputs_.push_back(result.out);
    outputs_.push_back(result.err);
    EXPECT_FALSE(result.timed_out) << result.Describe();
    return result;
  }

  std::vector<std::string> SpoolFiles() const {
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir_.Path("state/spool"), ec)) {
      if (entry.is_regular_file()) names.push_back(entry.path().filename().string());
    }
    return names;
  }

  // Asserts that every job's owed push reached Kuma exactly once and was
  // accepted; returns the connection numbers they came on, per job.
  std::map<std::string, int> ExpectEveryPushDeliveredOnce(const std::vector<json>& requests) {
    std::map<std::string, std::string> job_of_token;
    for (const auto& [id, token] : jobs_) job_of_token[token] = id;
    std::map<std::string, int> connection_of_job;
    for (const auto& request : requests) {
      if (!StartsWith(Str(At(request, "query"), "msg"), "delivered late")) continue;
      auto job = job_of_token.find(Str(request, "token"));
      // A token Kuma was never given cannot have come from the spool.
      if (job == job_of_token.end()) {
        ADD_FAILURE() << "a push with a token of no job: " << Str(request, "path");
        continue;
      }
      EXPECT_EQ(At(request, "answered"), 200) << job->second;
      EXPECT_EQ(Str(At(request, "kuma"), "status"), "up") << job->second;
      EXPECT_EQ(connection_of_job.count(job->second), 0u) << "pushed twice: " << job->second;
      const json& connection = At(request, "connection");
      connection_of_job[job->second] = connection.is_number_integer() ? connection.get<int>() : 0;
    }
    EXPECT_EQ(connection_of_job.size(), jobs_.size());
    EXPECT_TRUE(SpoolFiles().empty()) << JoinNames(SpoolFiles());
    return connection_of_job;
  }

  static std::string JoinNames(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& name : names) out += name + "\n";
    return out;
  }

  // The tokens must show up in nothing the product printed or wrote; the
  // config holds them by design and the fake Kuma's log records the URL.
  void ExpectNoTokenLeaked() {
    std::set<std::string> exempt = {config_path_};
    if (kuma_) exempt.insert(kuma_->log_path());
    const auto texts = TextsToScan(outputs_, dir_.path(), exempt);
    for (const auto& [id, token] : jobs_) {
      for (const auto& [where, text] : texts) {
        EXPECT_FALSE(Contains(text, token))
            << "the push token of " << id << " leaked into " << where << ":\n"
            << text;
      }
    }
  }

  TestDir dir_;
  std::string state_dir_;
  std::string config_path_;
  std::map<std::string, std::string> jobs_;  // job id -> push token
  std::unique_ptr<FakeKuma> kuma_;
  std::vector<std::string> outputs_;
};

TEST_F(ConnectionTest, FlushOfManyPushesMakesOneTlsHandshake) {
  ASSERT_NO_FATAL_FAILURE(StartKuma("normal"));
  ASSERT_NO_FATAL_FAILURE(WriteConfig());
  ASSERT_NO_FATAL_FAILURE(SpoolOnePushPerJob());
  ASSERT_EQ(SpoolFiles().size(), static_cast<size_t>(kPushes));

  RunResult flush = Flush();
  EXPECT_EQ(flush.exit_code, 0) << flush.out << flush.err;

  const auto events = kuma_->Events();
  const auto requests = kuma_->Requests();
  ExpectEveryPushDeliveredOnce(requests);
  // One handshake, and every request (pushes and anything else) on it.
  EXPECT_EQ(CountEvents(events, "connection"), 1u) << json(events).dump(1);
  std::set<json> connections;
  for (const auto& request : requests) connections.insert(At(request, "connection"));
  EXPECT_EQ(json(connections), json::array({1}));
  EXPECT_EQ(CountEvents(events, "tls_error"), 0u);
  EXPECT_EQ(CountEvents(events, "no_request"), 0u);
}

// Kuma answers each push as if it kept the connection, and then closes it
// (close-after-answer) or resets it (reset-after-answer): the next push
// finds the kept connection dead, and is sent again on a new one. The two
// fail differently in the client (no answer on reading, or an error on
// writing the request), and both must be survived.
class KumaDroppingConnectionsTest : public ConnectionTest,
                                    public ::testing::WithParamInterface<const char*> {};

TEST_P(KumaDroppingConnectionsTest, EveryPushIsDeliveredOnceOnAConnectionOfItsOwn) {
  ASSERT_NO_FATAL_FAILURE(StartKuma(GetParam()));
  ASSERT_NO_FATAL_FAILURE(WriteConfig());
  ASSERT_NO_FATAL_FAILURE(SpoolOnePushPerJob());

  RunResult flush = Flush();
  EXPECT_EQ(flush.exit_code, 0) << flush.out << flush.err;
  EXPECT_FALSE(Contains(flush.err, "not delivered")) << flush.err;

  const auto events = kuma_->Events();
  const auto requests = kuma_->Requests();
  const auto connection_of_job = ExpectEveryPushDeliveredOnce(requests);
  // Each push on a connection of its own; none reached Kuma twice.
  std::set<int> connections;
  for (const auto& [job, connection] : connection_of_job) connections.insert(connection);
  EXPECT_EQ(connections.size(), static_cast<size_t>(kPushes));
  EXPECT_EQ(CountEvents(events, "connection"), requests.size()) << json(events).dump(1);
  EXPECT_EQ(CountEvents(events, "tls_error"), 0u);
}

INSTANTIATE_TEST_SUITE_P(Modes, KumaDroppingConnectionsTest,
                         ::testing::Values("close-after-answer", "reset-after-answer"),
                         [](const ::testing::TestParamInfo<const char*>& param_info) {
                           return std::string(param_info.param) == "close-after-answer"
                                      ? "CloseAfterAnswer"
                                      : "ResetAfterAnswer";
                         });

}  // namespace
}  // namespace pbk::testing
