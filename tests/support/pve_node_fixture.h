// The node the black-box tests of guard, verify, jobs and refresh set up:
// test certificates, the API token (tokens.json for the fake PVE, the
// secret file for pbk-agent), the fake PVE (REST API over TLS and pvesh as
// root@pam, on a folder that plays /etc/pve), the fake Uptime Kuma, pbk-agent
// run with the test's configuration, and the check that no secret leaked
// into anything the product printed or wrote. The test binary defines
// PBK_BIN_DIR (the built programs) and PBK_SOURCE_DIR.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "tests/support/fake_kuma.h"
#include "tests/support/fake_pve.h"
#include "tests/support/process.h"
#include "tests/support/suite_log.h"
#include "tests/support/test_certs.h"
#include "tests/support/test_dir.h"
#include "tests/support/test_text.h"

namespace pbk::testing {

constexpr char kPveTokenId[] = "pbk-agent@pve!guard";

// A guest as /cluster/resources lists it.
struct PlacedGuest {
  int vmid;
  std::string node;
  std::string name;
  bool is_template;
};

class PveNodeFixture : public ::testing::Test {
 protected:
  // The certificates, the paths every test names, and the API token
  // (API_SECRET, registered as a secret).
  void SetUpNode(const std::string& api_secret) {
    std::string err;
    ASSERT_TRUE(MakeTestCertificates(dir_.Path("certs"), &err)) << err;
    hook_ = dir_.Path("vzdump-uptime-kuma-hook.sh");
    state_dir_ = dir_.Path("state");
    config_path_ = dir_.Path("config.json");
    secrets_.insert(api_secret);
    RegisterSecret(api_secret);
    const nlohmann::json tokens = {
        {kPveTokenId, {{"secret", api_secret}, {"privs", {"Sys.Audit"}}}}};
    tokens_path_ = dir_.Write("tokens.json", tokens.dump(2) + "\n");
    secret_file_ = dir_.Write("pve-token", api_secret + "\n");  // mode 0600
  }

  // The fake PVE's options: its root in the test folder, its certificate,
  // the token. A test makes pve_ from them, writes its files, then StartPve().
  FakePveOptions PveOptions() const {
    FakePveOptions options;
    options.root = dir_.Path("root");
    options.cert = Cert("pve");
    options.key = Key("pve");
    options.tokens = tokens_path_;
    options.work_dir = dir_.path();
    return options;
  }

  // Starts pve_ and installs its pvesh.
  void StartPve() {
    std::string err;
    ASSERT_TRUE(pve_->Start(&err)) << err;
    pvesh_ = pve_->InstallPvesh(dir_.path());
    ASSERT_FALSE(pvesh_.empty());
  }

  void TearDown() override {
    if (kuma_) kuma_->Stop();
    if (pve_) pve_->Stop();
    ExpectNoSecretLeaked();
  }

  std::string Cert(const std::string& name) const { return dir_.Path("certs/" + name + ".pem"); }
  std::string Key(const std::string& name) const { return dir_.Path("certs/" + name + ".key"); }

  // The fake Kuma with the certificate CERT; TOKENS: the monitors that take
  // pushes (none: every token).
  void StartKumaWith(const std::string& cert, std::optional<std::vector<std::string>> tokens) {
    FakeKumaOptions options;
    options.cert = Cert(cert);
    options.key = Key(cert);
    options.tokens = std::move(tokens);
    options.work_dir = dir_.path();
    kuma_ = std::make_unique<FakeKuma>(options);
    std::string err;
    ASSERT_TRUE(kuma_->Start(&err)) << err;
  }

  // The cluster's guests, as the emulated /cluster/resources lists them.
  void PlaceGuests(const std::vector<PlacedGuest>& guests) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& guest : guests) {
      list.push_back({{"vmid", guest.vmid},
                      {"node", guest.node},
                      {"type", "qemu"},
                      {"name", guest.name},
                      {"status", "running"},
                      {"template", guest.is_template ? 1 : 0},
                      {"id", "qemu/" + std::to_string(guest.vmid)}});
    }
    ASSERT_TRUE(pve_->WriteRootFile("resources.json", list.dump()));
  }

  // --- the configuration's parts ------------------------------------------------

  // The "jobs" object: job id -> push token; each token registered as a secret.
  nlohmann::json JobTokens(const std::map<std::string, std::string>& tokens) {
    nlohmann::json jobs = nlohmann::json::object();
    for (const auto& [id, token] : tokens) {
      jobs[id] = {{"push_token", token}};
      secrets_.insert(token);
      RegisterSecret(token);
    }
    return jobs;
  }
  // The "kuma" section: the fake Kuma (when none runs, a port nothing listens on).
  nlohmann::json KumaSection(int timeout_seconds) const {
    return {{"url", kuma_ ? kuma_->url() : std::string("https://127.0.0.1:9")},
            {"ca_file", Cert("ca")},
            {"timeout_seconds", timeout_seconds}};
  }
  // The "pve" section: the fake's API with the token, and PVESH.
  nlohmann::json PveSection(const std::string& pvesh, int timeout_seconds) const {
    return {{"api_url", pve_->url()},
            {"ca_file", Cert("ca")},
            {"token_id", kPveTokenId},
            {"token_secret_file", secret_file_},
            {"pvesh", pvesh},
            {"timeout_seconds", timeout_seconds}};
  }
  // Writes CONFIG as the configuration file, with MODE.
  void WriteConfigFile(const nlohmann::json& config, mode_t mode = 0600) {
    dir_.Write("config.json", config.dump(2) + "\n");
    ASSERT_EQ(chmod(config_path_.c_str(), mode), 0);
  }

  // --- pbk-agent ------------------------------------------------------------------

  std::vector<std::string> AgentArgv(const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {std::string(PBK_BIN_DIR) + "/pbk-agent", "--config",
                                     config_path_};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }

  // Runs pbk-agent with ARGS to its end (at most TIMEOUT, else agent_timeout_).
  RunResult Agent(const std::vector<std::string>& args) { return Agent(args, agent_timeout_); }
  RunResult Agent(const std::vector<std::string>& args, std::chrono::seconds timeout) {
    RunResult result = pbk::testing::Run(AgentArgv(args), nullptr, timeout);
    Remember(result);
    EXPECT_TRUE(result.started) << result.error;
    EXPECT_FALSE(result.timed_out) << result.Describe() << "\n" << result.out << result.err;
    return result;
  }

  // Keeps what a program printed for the secret checks: this test's and the suite's.
  void Remember(const RunResult& result) {
    Remember(result.out);
    Remember(result.err);
  }
  void Remember(const std::string& text) {
    outputs_.push_back(text);
    RecordSuiteOutput(text);
  }

  // Push tokens and the API token secret must not show up in anything the
  // product printed or wrote. The configuration, the token files and the
  // fakes' own logs hold them (or requests carrying them) by design.
  void ExpectNoSecretLeaked() {
    std::set<std::string> exempt = {config_path_, tokens_path_, secret_file_};
    if (pve_) {
      exempt.insert(pve_->log_path());
      exempt.insert(pve_->pvesh_log_path());
      exempt.insert(dir_.Path("pvesh-probe.jsonl"));
    }
    if (kuma_) exempt.insert(kuma_->log_path());
    const auto texts = TextsToScan(outputs_, dir_.path(), exempt);
    for (const auto& secret : secrets_) {
      for (const auto& [where, text] : texts) {
        EXPECT_FALSE(Contains(text, secret)) << "a secret leaked into " << where << ":\n" << text;
      }
    }
  }

  TestDir dir_;
  std::string hook_;
  std::string state_dir_;
  std::string config_path_;
  std::string tokens_path_;
  std::string secret_file_;
  std::string pvesh_;
  std::unique_ptr<FakePve> pve_;
  std::unique_ptr<FakeKuma> kuma_;
  std::vector<std::string> outputs_;
  std::set<std::string> secrets_;
  std::chrono::seconds agent_timeout_{30};
};

}  // namespace pbk::testing
