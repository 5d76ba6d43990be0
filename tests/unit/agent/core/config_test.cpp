#include "agent/core/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "tests/support/test_dir.h"

namespace pbk {
namespace {

const char kFull[] = R"({
  // everything the contract names
  "node": "pve1",
  "kuma": {
    "url": "https://192.0.2.10:3001",
    "ca_file": "/etc/pbk-agent/kuma-ca.pem",
    "server_name": "kuma.example.org",
    "timeout_seconds": 10
  },
  "jobs": {
    "backup-8d6f3a2c-1b4e": { "push_token": "k8Qz3vT1pL" }
  },
  "pve": {
    "api_url": "https://127.0.0.1:8006",
    "ca_file": "/etc/pve/pve-root-ca.pem",
    "token_id": "pbk-agent@pve!guard",
    "token_secret_file": "/etc/pbk-agent/pve-token",
    "pvesh": "/usr/bin/pvesh"
  },
  "paths": {
    "hook_script": "/var/lib/vz/snippets/vzdump-uptime-kuma-hook.sh",
    "state_dir": "/var/lib/pbk-agent",
    "scheduler_dir": "/var/lib/pve-manager/jobs",
    "jobs_cfg": "/etc/pve/jobs.cfg",
    "vzdump_cron": "/etc/pve/vzdump.cron",
    "proc": "/proc"
  }
})";

std::vector<std::string> Errors(const std::string& text) {
  Config config;
  std::vector<std::string> errors;
  EXPECT_FALSE(ParseConfig(text, "config.json", &config, &errors));
  return errors;
}

std::string OneError(const std::string& text) {
  auto errors = Errors(text);
  EXPECT_EQ(errors.size(), 1u);
  return errors.empty() ? "" : errors.front();
}

TEST(ConfigTest, ReadsTheContractExample) {
  Config config;
  std::vector<std::string> errors;
  ASSERT_TRUE(ParseConfig(kFull, "config.json", &config, &errors)) << errors.front();
  EXPECT_EQ(config.node, "pve1");
  EXPECT_EQ(config.kuma.endpoint.host, "192.0.2.10");
  EXPECT_EQ(config.kuma.endpoint.port, 3001);
  EXPECT_EQ(config.kuma.endpoint.base_path, "");
  EXPECT_EQ(config.kuma.server_name, "kuma.example.org");
  EXPECT_EQ(config.kuma.timeout_seconds, 10);
  EXPECT_EQ(config.jobs.at("backup-8d6f3a2c-1b4e").push_token, "k8Qz3vT1pL");
  EXPECT_EQ(config.pve.token_id, "pbk-agent@pve!guard");
  EXPECT_EQ(config.paths.scheduler_dir, "/var/lib/pve-manager/jobs");
  EXPECT_EQ(config.Secrets(), std::vector<std::string>{"k8Qz3vT1pL"});
}

TEST(ConfigTest, DefaultsAreThePveDefaults) {
  Config config;
  std::vector<std::string> errors;
  ASSERT_TRUE(ParseConfig(R"({"kuma": {"url": "https://10.1.2.3"}})", "c", &config, &errors));
  EXPECT_FALSE(config.node.empty());
  EXPECT_EQ(config.kuma.endpoint.port, 443);
  EXPECT_EQ(config.kuma.timeout_seconds, 10);
  EXPECT_EQ(config.paths.hook_script, "/var/lib/vz/snippets/vzdump-uptime-kuma-hook.sh");
  EXPECT_EQ(config.paths.state_dir, "/var/lib/pbk-agent");
  EXPECT_EQ(config.paths.jobs_cfg, "/etc/pve/jobs.cfg");
  EXPECT_EQ(config.paths.vzdump_cron, "/etc/pve/vzdump.cron");
  EXPECT_EQ(config.paths.proc, "/proc");
  EXPECT_EQ(config.pve.pvesh, "/usr/bin/pvesh");
  EXPECT_EQ(config.pve.ca_file, "/etc/pve/pve-root-ca.pem");
}

TEST(ConfigTest, SyntaxErrorsNameLineAndColumn) {
  EXPECT_EQ(OneError("{\n  \"node\": \"pve1\",\n  \"kuma\": {\"url\": }\n}"),
            "config.json:3:19: invalid JSON: syntax error while parsing value - unexpected '}'; "
            "expected '[', '{', or a literal");
}

TEST(ConfigTest, UnknownKeysNameTheKeyPathAndSuggest) {
  auto errors = Errors(R"({"kuma": {"url": "https://10.0.0.1"},
"jobs": {"backup-1": {"push_tokn": "abc"}}})");
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0],
            "config.json:2:23: jobs.backup-1.push_tokn: unknown key (did you mean \"push_token\"?)");
  // The token it misses is reported as well.
  EXPECT_EQ(errors[1],
            "config.json: jobs.backup-1.push_token: is required (the token of the job's Kuma push "
            "monitor)");
  errors = Errors(R"({"kuma": {"url": "https://10.0.0.1", "timeot_seconds": 5}, "nod": "x"})");
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0],
            "config.json:1:38: kuma.timeot_seconds: unknown key (did you mean \"timeout_seconds\"?)");
  EXPECT_EQ(errors[1], "config.json:1:60: nod: unknown key (did you mean \"node\"?)");
}

TEST(ConfigTest, MissingPushTokenIsAnError) {
  auto errors = Errors(R"({"kuma": {"url": "https://10.0.0.1"}, "jobs": {"j1": {"push_tokn": "a"}}})");
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[1],
            "config.json: jobs.j1.push_token: is required (the token of the job's Kuma push monitor)");
}

TEST(ConfigTest, WrongTypesNameTheKeyPath) {
  EXPECT_EQ(OneError(R"({"kuma": {"url": "https://10.0.0.1", "timeout_seconds": "10"}})"),
            "config.json:1:38: kuma.timeout_seconds: must be a whole number, not a string");
  EXPECT_EQ(OneError(R"({"kuma": {"url": "https://10.0.0.1", "timeout_seconds": 1.9}})"),
            "config.json:1:38: kuma.timeout_seconds: must be a whole number, not a fractional number");
  EXPECT_EQ(OneError(R"({"kuma": {"url": "https://10.0.0.1", "timeout_seconds": 0}})"),
            "config.json:1:38: kuma.timeout_seconds: must be between 1 and 300, not 0");
  EXPECT_EQ(OneError(R"({"kuma": {"url": "https://10.0.0.1"}, "jobs": []})"),
            "config.json:1:39: jobs: must be an object, not a list");
  EXPECT_EQ(OneError(R"({"kuma": {"url": "https://10.0.0.1"}, "jobs": {"j1": "tok"}})"),
            "config.json:1:48: jobs.j1: must be an object like {\"push_token\": \"…\"}, not a string");
  EXPECT_EQ(OneError(R"({"kuma": {"url": 5}})"), "config.json:1:11: kuma.url: must be a string, not a whole number");
  EXPECT_EQ(OneError("[]"), "config.json: the configuration must be a JSON object, not a list");
}

TEST(ConfigTest, KumaMustBeAddressedByIpOverHttps) {
  EXPECT_EQ(OneError(R"({"kuma": {"url": "http://10.0.0.1"}})"),
            "config.json:1:11: kuma.url: must use https:// (pushes travel over validated TLS only)");
  EXPECT_EQ(OneError(R"({"kuma": {"url": "https://kuma.example.org"}})"),
            "config.json:1:11: kuma.url: must address Kuma by its IP address, as in "
            "\"https://192.0.2.10:3001\" (\"kuma.example.org\" is not one); a certificate that "
            "names a host goes with kuma.server_name");
  EXPECT_EQ(OneError(R"({"kuma": {"url": "https://[::1]:3001"}})"),
            "config.json:1:11: kuma.url: IPv6 addresses are not supported; use Kuma's IPv4 address");
  EXPECT_EQ(OneError(R"({"kuma": {"url": "https://10.0.0.1:99999"}})"),
            "config.json:1:11: kuma.url: has an invalid port \"99999\"");
  EXPECT_EQ(OneError(R"({"kuma": {"url": "https://10.0.0.1", "server_name": "10.0.0.1"}})"),
            "config.json:1:38: kuma.server_name: must be a DNS name; an IP address belongs in kuma.url");
  EXPECT_EQ(OneError(R"({})"),
            "config.json: kuma: is required (where to push: {\"url\": \"https://192.0.2.10:3001\"})");
}

TEST(ConfigTest, KumaUrlMayCarryABasePath) {
  IpUrl url;
  std::string err;
  ASSERT_TRUE(ParseIpUrl("https://10.0.0.1:8443/kuma/", "Kuma", &url, &err));
  EXPECT_EQ(url.host, "10.0.0.1");
  EXPECT_EQ(url.port, 8443);
  EXPECT_EQ(url.base_path, "/kuma");
  EXPECT_FALSE(ParseIpUrl("https://10.0.0.1/?x=1", "Kuma", &url, &err));
  EXPECT_EQ(err, "must not carry a query or fragment");
  EXPECT_FALSE(ParseIpUrl("https://user:pw@10.0.0.1/", "Kuma", &url, &err));
  EXPECT_EQ(err, "must not carry user credentials");
}

TEST(ConfigTest, ABadPushTokenIsReportedWithoutRepeatingIt) {
  std::string error = OneError(R"({"kuma": {"url": "https://10.0.0.1"},
    "jobs": {"j1": {"push_token": "sec ret"}}})");
  EXPECT_EQ(error,
            "config.json: jobs.j1.push_token: must be 1 to 256 printable ASCII characters without "
            "spaces");
  EXPECT_EQ(error.find("sec ret"), std::string::npos);
}

TEST(ConfigTest, DuplicateKeysWouldLoseAToken) {
  EXPECT_EQ(OneError(R"({"kuma": {"url": "https://10.0.0.1"},
    "jobs": {"j1": {"push_token": "a"}, "j1": {"push_token": "b"}}})"),
            "config.json: key \"j1\" appears twice in the same object");
}

TEST(ConfigTest, PathsMustBeAbsoluteAndTokenIdsWellFormed) {
  auto errors = Errors(R"({"kuma": {"url": "https://10.0.0.1"},
    "paths": {"state_dir": "var/lib"}, "pve": {"token_id": "root@pam"}})");
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0],
            "config.json:2:48: pve.token_id: must look like USER@REALM!TOKENID (for example "
            "\"pbk-agent@pve!guard\"), not \"root@pam\"");
  EXPECT_EQ(errors[1], "config.json:2:15: paths.state_dir: must be an absolute path, not \"var/lib\"");
}

TEST(ConfigTest, KeysThatAreNotUniqueInTheTextGetNoPosition) {
  // "url" occurs twice in the text, so no single position can be named.
  auto errors = Errors(R"({"kuma": {"url": 1}, "pve": {"x": {"url": 2}}})");
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0], "config.json: kuma.url: must be a string, not a whole number");
  EXPECT_EQ(errors[1], "config.json:1:30: pve.x: unknown key");
}

TEST(ConfigTest, ChainedHooksAndGrace) {
  Config config;
  std::vector<std::string> errors;
  ASSERT_TRUE(ParseConfig(R"({"kuma": {"url": "https://10.0.0.1", "grace_minutes": 30},
    "hook": {"chain": ["/root/mount-usb.sh", "/usr/local/bin/notify"]}})",
                          "c", &config, &errors))
      << errors.front();
  EXPECT_EQ(config.kuma.grace_minutes, 30);
  EXPECT_EQ(config.hook.chain,
            (std::vector<std::string>{"/root/mount-usb.sh", "/usr/local/bin/notify"}));
  EXPECT_EQ(OneError(R"({"kuma": {"url": "https://10.0.0.1"}, "hook": {"chain": ["x.sh"]}})"),
            "config.json:1:48: hook.chain: must be an absolute path, not \"x.sh\"");
  EXPECT_EQ(OneError(R"({"kuma": {"url": "https://10.0.0.1"},
    "hook": {"chain": ["/var/lib/vz/snippets/vzdump-uptime-kuma-hook.sh"]}})"),
            "config.json:2:14: hook.chain: holds this hook itself "
            "(/var/lib/vz/snippets/vzdump-uptime-kuma-hook.sh): it would call itself forever");
}

TEST(ConfigTest, SecretFilesMustBePrivate) {
  testing::TestDir dir;
  const std::string path = dir.Write("config.json",
                                     R"({"kuma": {"url": "https://10.0.0.1"},
                                         "jobs": {"j1": {"push_token": "abc"}}})");
  chmod(path.c_str(), 0644);
  Config config;
  std::vector<std::string> errors;
  ASSERT_FALSE(LoadConfig(path, &config, &errors));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0], "refusing " + path +
                           ": it holds push tokens but group or others may access it (mode 0644); "
                           "run: chmod 600 " + path);
  chmod(path.c_str(), 0600);
  EXPECT_TRUE(LoadConfig(path, &config, &errors));
}

Config Parsed(const std::string& text) {
  Config config;
  std::vector<std::string> errors;
  EXPECT_TRUE(ParseConfig(text, "config.json", &config, &errors))
      << (errors.empty() ? "" : errors.front());
  return config;
}

TEST(ConfigTest, HeartbeatIntervalIsFifteenMinutesUnlessSetBetweenFiveAndADay) {
  EXPECT_EQ(Parsed(R"({"kuma": {"url": "https://10.0.0.1"}})").kuma.heartbeat_interval_minutes, 15);
  EXPECT_EQ(Parsed(R"({"kuma": {"url": "https://10.0.0.1", "heartbeat_interval_minutes": 5}})")
                .kuma.heartbeat_interval_minutes,
            5);
  EXPECT_EQ(Parsed(R"({"kuma": {"url": "https://10.0.0.1", "heartbeat_interval_minutes": 1440}})")
                .kuma.heartbeat_interval_minutes,
            1440);
  EXPECT_EQ(OneError(R"({"kuma": {"url": "https://10.0.0.1", "heartbeat_interval_minutes": 4}})"),
            "config.json:1:38: kuma.heartbeat_interval_minutes: must be between 5 and 1440, not 4");
  EXPECT_EQ(
      OneError(R"({"kuma": {"url": "https://10.0.0.1", "heartbeat_interval_minutes": 1441}})"),
      "config.json:1:38: kuma.heartbeat_interval_minutes: must be between 5 and 1440, not 1441");
}

TEST(ConfigTest, StartGraceIsThirtyMinutesUnlessSetBetweenOneAndADay) {
  EXPECT_EQ(Parsed(R"({"kuma": {"url": "https://10.0.0.1"}})").refresh.start_grace_minutes, 30);
  EXPECT_EQ(Parsed(R"({"kuma": {"url": "https://10.0.0.1"}, "refresh": {"start_grace_minutes": 1}})")
                .refresh.start_grace_minutes,
            1);
  EXPECT_EQ(
      Parsed(R"({"kuma": {"url": "https://10.0.0.1"}, "refresh": {"start_grace_minutes": 1440}})")
          .refresh.start_grace_minutes,
      1440);
  EXPECT_EQ(
      OneError(R"({"kuma": {"url": "https://10.0.0.1"}, "refresh": {"start_grace_minutes": 0}})"),
      "config.json:1:51: refresh.start_grace_minutes: must be between 1 and 1440, not 0");
  EXPECT_EQ(
      OneError(R"({"kuma": {"url": "https://10.0.0.1"}, "refresh": {"start_grace_minutes": 1441}})"),
      "config.json:1:51: refresh.start_grace_minutes: must be between 1 and 1440, not 1441");
  EXPECT_EQ(OneError(R"({"kuma": {"url": "https://10.0.0.1"}, "refresh": {"start_grace_minute": 5}})"),
            "config.json:1:51: refresh.start_grace_minute: unknown key (did you mean "
            "\"start_grace_minutes\"?)");
}

TEST(ConfigTest, NodeMonitorNeedsAPushToken) {
  EXPECT_EQ(Parsed(R"({"kuma": {"url": "https://10.0.0.1"}})").node_monitor.push_token, "");
  EXPECT_EQ(OneError(R"({"kuma": {"url": "https://10.0.0.1"}, "node_monitor": {}})"),
            "config.json: node_monitor.push_token: is required (the token of the node's Kuma push "
            "monitor)");
  const Config config = Parsed(R"({"kuma": {"url": "https://10.0.0.1"},
    "jobs": {"backup-1": {"push_token": "k8Qz3vT1pL"}},
    "node_monitor": {"push_token": "Nd7mQ2xR9w"}})");
  EXPECT_EQ(config.node_monitor.push_token, "Nd7mQ2xR9w");
  EXPECT_EQ(config.Secrets(), (std::vector<std::string>{"k8Qz3vT1pL", "Nd7mQ2xR9w"}));
  EXPECT_EQ(Parsed(R"({"kuma": {"url": "https://10.0.0.1"},
    "node_monitor": {"push_token": "Nd7mQ2xR9w"}})")
                .Secrets(),
            std::vector<std::string>{"Nd7mQ2xR9w"});
}

TEST(ConfigTest, ABadNodeMonitorTokenIsReportedWithoutRepeatingIt) {
  for (const char* token : {"Nd7m Q2xR9w", "Nd7m\u00e9Q2", ""}) {
    const std::string error = OneError(std::string(R"({"kuma": {"url": "https://10.0.0.1"},
    "node_monitor": {"push_token": ")") + token + "\"}}");
    EXPECT_EQ(error,
              "config.json: node_monitor.push_token: must be 1 to 256 printable ASCII characters "
              "without spaces")
        << token;
    EXPECT_EQ(error.find("Nd7m"), std::string::npos) << token;
  }
}

TEST(ConfigTest, AdviceWarnsOfAHeartbeatIntervalTheTimerCannotKeepUpWith) {
  Config config = Parsed(R"({"kuma": {"url": "https://10.0.0.1"}})");
  EXPECT_EQ(ConfigAdvice(config), "");
  config.kuma.heartbeat_interval_minutes = 12;
  EXPECT_EQ(ConfigAdvice(config), "");
  config = Parsed(R"({"kuma": {"url": "https://10.0.0.1", "heartbeat_interval_minutes": 11}})");
  EXPECT_EQ(ConfigAdvice(config),
            "kuma.heartbeat_interval_minutes is 11: refresh pushes every 5 to 6 minutes, so one "
            "late timer run turns monitors DOWN; use at least 12 (default 15)");
  config.kuma.heartbeat_interval_minutes = 5;
  EXPECT_THAT(ConfigAdvice(config), ::testing::HasSubstr("kuma.heartbeat_interval_minutes is 5:"));
}

TEST(ConfigTest, AMissingFileIsNamed) {
  Config config;
  std::vector<std::string> errors;
  ASSERT_FALSE(LoadConfig("/nonexistent/config.json", &config, &errors));
  EXPECT_EQ(errors, std::vector<std::string>{
                        "reading /nonexistent/config.json: No such file or directory"});
}

TEST(ConfigTest, ACaFileMustHoldCertificatesAndNothingElse) {
  const std::string cert =
      "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n";
  std::string err;
  EXPECT_TRUE(CheckCertificateText(cert, "ca.pem", &err)) << err;
  EXPECT_TRUE(CheckCertificateText(cert + "\n" + cert, "ca.pem", &err)) << err;
  EXPECT_FALSE(CheckCertificateText(
      cert + "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----\n", "ca.pem",
      &err));
  EXPECT_EQ(err, "ca.pem holds a private key (EC PRIVATE KEY), not a certificate: point it at the "
                 "CA's certificate, and keep the key off this node");
  EXPECT_FALSE(CheckCertificateText(" \n", "ca.pem", &err));
  EXPECT_EQ(err, "ca.pem is empty: it must hold the CA certificate(s) in PEM form");
  EXPECT_FALSE(CheckCertificateText("-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n",
                                    "ca.pem", &err));
  EXPECT_EQ(err, "ca.pem has a broken certificate block (its base64 content is not a certificate)");
  EXPECT_FALSE(CheckCertificateText("-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n",
                                    "ca.pem", &err));
  EXPECT_EQ(err, "ca.pem holds a PUBLIC KEY, not a certificate");
}

}  // namespace
}  // namespace pbk
