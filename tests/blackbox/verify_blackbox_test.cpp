// Black-box tests of `pbk-agent verify`.
// What is asserted is what an admin and PVE can see: exit codes, the lines
// printed, the requests and pvesh calls the fakes logged, and jobs.cfg /
// vzdump.cron read back byte for byte.
#include <gtest/gtest.h>

#include "tests/blackbox/pve_blackbox_fixture.h"

namespace pbk::testing::pve_blackbox {
namespace {

TEST_F(VerifyBlackboxTest, HealthyNodePassesEveryCheck) {
  if (SystemdRuns()) GTEST_SKIP() << "systemd runs here: verify checks this machine's own units";
  ASSERT_NO_FATAL_FAILURE(SetUpHealthyNode());

  RunResult verify = Agent({"verify"});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  for (const auto& line : Lines(verify.out)) {
    if (line.empty() || StartsWith(line, "     fix: ")) continue;
    if (StartsWith(line, "this node is set up right: 0 check(s) failed")) continue;
    EXPECT_TRUE(StartsWith(line, "OK   ") || StartsWith(line, "WARN ")) << line;
  }
  for (const std::string& line :
       {std::string("OK   configuration: ") + config_path_ + " is valid and private",
        std::string("OK   hook script: ") + hook_ + " runs " + kBinDir + "/pbk-agent",
        std::string("OK   backup jobs: 4 job(s) read through rest, 4 run the hook"),
        std::string("OK   monitor ") + kJobA +
            ": push token configured; the job runs here (all guests: 100 on this node)",
        std::string("OK   monitor ") + kJobNew +
            ": push token configured; the job runs here (guests: 100 on this node)",
        std::string("OK   spool: no push waiting")}) {
    EXPECT_TRUE(HasLine(verify.out, line)) << line << "\nin:\n" << verify.out;
  }
  EXPECT_TRUE(Contains(verify.out, "OK   PVE API: " + pve_->url())) << verify.out;
  EXPECT_TRUE(Contains(verify.out, "OK   Kuma: " + kuma_->url())) << verify.out;
  // Jobs that run on pve2 only need no token here.
  EXPECT_FALSE(Contains(verify.out, std::string("monitor ") + kJobPve2)) << verify.out;
  EXPECT_FALSE(Contains(verify.out, std::string("monitor ") + kJobB)) << verify.out;
  // Kuma was probed with a monitor that cannot exist: no push landed.
  const auto requests = kuma_->Requests();
  ASSERT_EQ(requests.size(), 1u);
  for (const auto& request : requests) {
    EXPECT_EQ(At(request, "answered"), 404) << request.dump();
    EXPECT_TRUE(StartsWith(Str(request, "path"), "/api/push/pbkprobe")) << request.dump();
  }
  ExpectRestOnlyRead();
  EXPECT_TRUE(pve_->PveshCalls().empty());

  RunResult as_json = Agent({"verify", "--json"});
  EXPECT_EQ(as_json.exit_code, 0) << as_json.out << as_json.err;
  json document = json::parse(as_json.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(document.is_object()) << as_json.out;
  EXPECT_EQ(At(document, "ok"), true);
  ASSERT_TRUE(At(document, "checks").is_array());
  for (const auto& check : At(document, "checks")) {
    EXPECT_TRUE(At(check, "status") == "OK" || At(check, "status") == "WARN") << check.dump();
  }
}

TEST_F(VerifyBlackboxTest, AWebServerThatIsNotKumaFails) {
  ASSERT_NO_FATAL_FAILURE(SetUpHealthyNode());
  // The same server, now answering every push with 200 as a web app's
  // catch-all route would (the fake's "every token exists").
  kuma_->Stop();
  FakeKumaOptions options;
  options.cert = Cert("ip");
  options.key = Key("ip");
  options.work_dir = dir_.Path("any");
  options.port = kuma_->port();
  std::filesystem::create_directories(options.work_dir);
  FakeKuma any(options);
  std::string err;
  ASSERT_TRUE(any.Start(&err)) << err;
  RunResult verify = Agent({"verify"});
  ExpectFail(verify, "Kuma", "this is not Uptime Kuma's push API");
}

TEST_F(VerifyBlackboxTest, ListsTheKumaSettingsOfEveryMappedJob) {
  ScopedTimeZone zone("Europe/Berlin");
  ASSERT_NO_FATAL_FAILURE(SetUpHealthyNode());
  RunResult verify = Agent({"verify"});
  for (const char* job : {kJobA, kJobNew}) {
    // One interval for every monitor, whatever the schedule: refresh
    // pushes each job's state every few minutes.
    const std::string line = std::string("OK   Kuma settings ") + job +
                             ": heartbeat interval 900 s (15 min), Retries 0; refresh pushes "
                             "the job's state every 5 to 6 minutes";
    EXPECT_TRUE(Contains(verify.out, line + "\n")) << line << "\nin:\n" << verify.out;
  }
  // Jobs that do not run here get no settings.
  EXPECT_FALSE(Contains(verify.out, std::string("Kuma settings ") + kJobPve2)) << verify.out;
}

TEST_F(VerifyBlackboxTest, ForeignHooksAreKeptAndNamedWithWhereToChainThem) {
  ASSERT_NO_FATAL_FAILURE(SetUpHealthyNode());
  const std::string pve2_hook = "/root/pve2-only.sh";
  ASSERT_NO_FATAL_FAILURE(WriteJobFiles(
      JobsCfg({SectionA(hook_), SectionNew(hook_), SectionB(hook_), SectionPve2(pve2_hook),
               SectionUsb(kMountUsb), kRealmSync}),
      kCronHead));
  // A job's own script is never replaced unasked: the guard names it and
  // says how to chain it, and the job keeps running its script.
  RunResult guard = Agent({"guard"});
  EXPECT_EQ(guard.exit_code, 1) << guard.err;
  for (const auto& [job, script] : {std::pair<std::string, std::string>{kJobUsb, kMountUsb},
                                    {kJobPve2, pve2_hook}}) {
    const std::string advice = "add \"jobs\": {\"" + job + "\": {\"chain\": [\"" + script +
                               "\"]}} to the configuration";
    EXPECT_TRUE(Contains(guard.err, "error: job " + job + " does not run the hook")) << guard.err;
    EXPECT_TRUE(Contains(guard.err, advice)) << advice << "\nin:\n" << guard.err;
  }
  EXPECT_TRUE(Contains(JobsCfgNow(), std::string("script ") + kMountUsb)) << JobsCfgNow();
  EXPECT_TRUE(Contains(JobsCfgNow(), "script " + pve2_hook)) << JobsCfgNow();
  RunResult verify = Agent({"verify"});
  EXPECT_NE(verify.exit_code, 0) << verify.out;
  EXPECT_TRUE(Contains(verify.out, std::string("add \"jobs\": {\"") + kJobUsb + "\": {\"chain\""))
      << verify.out;

  // Chained for its job, the script is taken over: the hook runs it.
  AgentConfig chained = HealthyConfig();
  chained.chains[kJobUsb] = {kMountUsb};
  chained.chains[kJobPve2] = {pve2_hook};
  ASSERT_NO_FATAL_FAILURE(WriteConfig(chained));
  guard = Agent({"guard"});
  EXPECT_EQ(guard.exit_code, 0) << guard.err;
  EXPECT_FALSE(Contains(JobsCfgNow(), std::string("script ") + kMountUsb)) << JobsCfgNow();
  verify = Agent({"verify"});
  EXPECT_FALSE(Contains(verify.out, "does not run the hook")) << verify.out;
}

TEST_F(VerifyBlackboxTest, JobPlacementWarnsThatRunNowIsRootOnlyAndLegacyKeysAreFragile) {
  ASSERT_NO_FATAL_FAILURE(SetUpHealthyNode());
  ASSERT_NO_FATAL_FAILURE(WriteJobFiles(HealthyJobsCfg(), kRefCron));
  const std::string legacy = Sha1Hex(kRefCron) + ":1";
  AgentConfig config = HealthyConfig();
  config.jobs[legacy] = "Lg4Cy7Ke1Yx3Zw6Vu9Ts";
  ASSERT_NO_FATAL_FAILURE(WriteConfig(config));
  RunResult verify = Agent({"verify"});
  EXPECT_TRUE(Contains(verify.out, "WARN placement: guard.placement is \"job\": the jobs carry "
                                   "the hook themselves, so PVE refuses \"Run now\" of them to "
                                   "everyone but root@pam"))
      << verify.out;
  EXPECT_TRUE(Contains(verify.out, "WARN key of " + legacy + ": a vzdump.cron job: its id changes "
                                   "whenever PVE rewrites that file"))
      << verify.out;
  EXPECT_TRUE(Contains(verify.out, "edit the job once in the web UI (Datacenter > Backup)"))
      << verify.out;
  // In node placement, no Run-now warning; the legacy key stays fragile.
  config.placement = "node";
  ASSERT_NO_FATAL_FAILURE(WriteConfig(config));
  verify = Agent({"verify"});
  EXPECT_FALSE(Contains(verify.out, "WARN placement:")) << verify.out;
  EXPECT_TRUE(Contains(verify.out, "WARN key of " + legacy)) << verify.out;
}

TEST_F(VerifyBlackboxTest, MissingHookScriptFails) {
  ASSERT_NO_FATAL_FAILURE(SetUpHealthyNode());
  ASSERT_EQ(unlink(hook_.c_str()), 0);
  ExpectFail(Agent({"verify"}), "hook script", hook_ + " does not exist");
}

TEST_F(VerifyBlackboxTest, HookScriptRunningAnotherBinaryFails) {
  ASSERT_NO_FATAL_FAILURE(SetUpHealthyNode());
  ASSERT_NO_FATAL_FAILURE(RenderWrapper("/opt/old/pbk-agent"));
  ExpectFail(Agent({"verify"}), "hook script", "runs /opt/old/pbk-agent, not this program");
}

TEST_F(VerifyBlackboxTest, JobWithoutTheHookFails) {
  ASSERT_NO_FATAL_FAILURE(SetUpHealthyNode());
  ASSERT_NO_FATAL_FAILURE(WriteJobFiles(
      JobsCfg({SectionA(hook_), SectionNew(""), SectionB(hook_), SectionPve2(hook_), kRealmSync}),
      kCronHead));
  RunResult verify = Agent({"verify"});
  ExpectFail(verify, std::string("job ") + kJobNew,
             "runs no script of its own: the hook " + hook_ + " is not in effect");
  EXPECT_TRUE(HasLine(verify.out, "OK   backup jobs: 4 job(s) read through rest, 3 run the hook"))
      << verify.out;
}

TEST_F(VerifyBlackboxTest, EnabledJobHereWithoutPushTokenFails) {
  ASSERT_NO_FATAL_FAILURE(SetUpHealthyNode());
  AgentConfig config;
  config.jobs = {{kJobA, kTokenA}};
  ASSERT_NO_FATAL_FAILURE(WriteConfig(config));
  RunResult verify = Agent({"verify"});
  ExpectFail(verify, std::string("monitor ") + kJobNew,
             "the job runs on this node (guests: 100 on this node) but has no push token");
  EXPECT_EQ(CountLinesContaining(verify.out, "FAIL "), 1u) << verify.out;
}

TEST_F(VerifyBlackboxTest, GuestsMovingChangeTheVerdict) {
  ASSERT_NO_FATAL_FAILURE(SetUpHealthyNode());
  // Guest 100 migrated to pve2: its job no longer runs here, its monitor
  // would alarm; kJobB's guests came here, and it has no monitor here.
  PlaceGuests({{100, "pve2"}, {110, "pve1"}, {111, "pve2"}});
  ASSERT_NO_FATAL_FAILURE(WriteJobFiles(
      JobsCfg({SectionA(hook_), SectionNew(hook_), SectionB(hook_), SectionPve2(hook_),
               kRealmSync}),
      kCronHead));
  RunResult verify = Agent({"verify"});
  EXPECT_TRUE(HasLine(verify.out, std::string("WARN monitor ") + kJobNew +
                                      ": the job will not run on this node, so its monitor will "
                                      "alarm: guests: none on this node (100 is on pve2)"))
      << verify.out;
  // kJobB is restricted to pve2 and disabled, so it still needs nothing here.
  EXPECT_FALSE(Contains(verify.out, std::string("monitor ") + kJobB)) << verify.out;
  EXPECT_EQ(verify.exit_code, 0) << verify.out;
}

TEST_F(VerifyBlackboxTest, PushTokenForAJobThatDoesNotExistFails) {
  ASSERT_NO_FATAL_FAILURE(SetUpHealthyNode());
  const std::string gone = "backup-0e1d2c3b-4a59";
  AgentConfig config = HealthyConfig();
  config.jobs[gone] = "Pb3Nc6Md9Le2Kf5Jg8Hh";
  ASSERT_NO_FATAL_FAILURE(WriteConfig(config));
  ExpectFail(Agent({"verify"}), "monitor " + gone,
             "a push token is configured for job " + gone + ", which does not exist");
}

TEST_F(VerifyBlackboxTest, KumaStoppedFails) {
  ASSERT_NO_FATAL_FAILURE(SetUpHealthyNode());
  kuma_->Stop();
  ExpectFail(Agent({"verify"}), "Kuma", "connection refused");
}

TEST_F(VerifyBlackboxTest, KumaWithUntrustedCertificateFails) {
  ASSERT_NO_FATAL_FAILURE(SetUpHealthyNode("untrusted"));
  ExpectFail(Agent({"verify"}), "Kuma", "not signed by a trusted CA");
}

TEST_F(VerifyBlackboxTest, ApiTokenRefusedFails) {
  ASSERT_NO_FATAL_FAILURE(SetUpHealthyNode());
  ASSERT_TRUE(pve_->SetMode("401"));
  RunResult verify = Agent({"verify"});
  ExpectFail(verify, "PVE API", "refused the token");
  // The jobs are still checked, read through pvesh.
  EXPECT_TRUE(HasLine(verify.out, "OK   backup jobs: 4 job(s) read through pvesh, 4 run the hook"))
      << verify.out;
}

TEST_F(VerifyBlackboxTest, SpooledPushFails) {
  ASSERT_NO_FATAL_FAILURE(SetUpHealthyNode());
  json entry = {{"format", 1},
                {"job_id", kJobA},
                {"status", "down"},
                {"msg", "pve1: 1 of 2 guests FAILED, 12m 05s, storage pbs-main"},
                {"ping", 725000},
                {"created", 1700000000000},
                {"run", "pid-4242-1700000000"},
                {"attempts", 1},
                {"last_error", "connection refused"}};
  dir_.Write("state/spool/pid-4242-1700000000.json", entry.dump(1) + "\n");
  ExpectFail(Agent({"verify"}), "spool", "1 push(es) waiting");
}

TEST_F(VerifyBlackboxTest, ConfigReadableByOthersIsAConfigurationError) {
  ASSERT_NO_FATAL_FAILURE(SetUpHealthyNode());
  ASSERT_EQ(chmod(config_path_.c_str(), 0644), 0);
  RunResult verify = Agent({"verify"});
  ExpectFail(verify, "configuration", "group or others may access it", /*exit_code=*/2);
  EXPECT_TRUE(Contains(verify.out, "chmod 600 " + config_path_)) << verify.out;
}

TEST_F(VerifyBlackboxTest, JsonReportNamesTheFailedCheck) {
  ASSERT_NO_FATAL_FAILURE(SetUpHealthyNode());
  kuma_->Stop();
  RunResult verify = Agent({"verify", "--json"});
  EXPECT_EQ(verify.exit_code, 1) << verify.out << verify.err;
  json document = json::parse(verify.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(document.is_object()) << verify.out;
  EXPECT_EQ(At(document, "ok"), false);
  std::vector<std::string> failed;
  for (const auto& check : At(document, "checks")) {
    if (At(check, "status") == "FAIL") failed.push_back(Str(check, "check"));
  }
  EXPECT_EQ(failed, std::vector<std::string>({"Kuma"})) << document.dump(1);
}

}  // namespace
}  // namespace pbk::testing::pve_blackbox
