// Black-box tests of the vzdump hook: the admin's side (a manual test,
// check-config) and existing hooks kept running through hook.chain.
// What is asserted is what an admin can see: the requests Kuma received, the
// task log, the hook's exit codes and timing, the spool and `flush`.
#include <gtest/gtest.h>

#include "tests/blackbox/hook_blackbox_fixture.h"

namespace pbk::testing::hook_blackbox {
namespace {

// --- the admin's side -----------------------------------------------------

TEST_F(HookBlackboxTest, ManualTestThroughTheWrapperWithAnEmptyEnvironment) {
  ASSERT_NO_FATAL_FAILURE(StartKuma());
  ASSERT_NO_FATAL_FAILURE(WriteConfig());
  const std::map<std::string, std::string> empty;

  RunResult ok = pbk::testing::Run({wrapper_, "job-end", "ok", kJobId}, &empty, seconds(20));
  Remember(ok);
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_TRUE(Contains(
      ok.out, std::string("pushed up to Uptime Kuma for job ") + kJobId + " (manual test)"))
      << ok.out << ok.err;
  json request = OnlyRequest();
  ExpectPush(request, kToken, "up");
  EXPECT_TRUE(Contains(Msg(request), "manual test")) << Msg(request);

  // With one job configured the id may be left out; "fail" pushes down.
  RunResult fail = pbk::testing::Run({wrapper_, "job-end", "fail"}, &empty, seconds(20));
  Remember(fail);
  EXPECT_EQ(fail.exit_code, 0) << fail.out << fail.err;
  auto requests = kuma_->Requests();
  ASSERT_EQ(requests.size(), 2u);
  ExpectPush(requests[1], kToken, "down");
  EXPECT_TRUE(Contains(Msg(requests[1]), "manual test")) << Msg(requests[1]);

  // A job without a token is a usage error, and nothing is sent.
  RunResult unknown =
      pbk::testing::Run({wrapper_, "job-end", "ok", kOtherJobId}, &empty, seconds(20));
  Remember(unknown);
  EXPECT_EQ(unknown.exit_code, 2) << unknown.out << unknown.err;
  EXPECT_TRUE(Contains(unknown.out + unknown.err, kOtherJobId)) << unknown.out << unknown.err;
  EXPECT_EQ(kuma_->Requests().size(), 2u);
  EXPECT_TRUE(SpoolFiles().empty());

  // Kuma down: the admin is told, and a test push is not owed to anyone.
  kuma_->Stop();
  RunResult down = pbk::testing::Run({wrapper_, "job-end", "ok"}, &empty, seconds(20));
  Remember(down);
  EXPECT_EQ(down.exit_code, 1) << down.out << down.err;
  EXPECT_TRUE(
      Contains(down.out, std::string("ERROR: manual test push for job ") + kJobId + " failed: "))
      << down.out << down.err;
  EXPECT_TRUE(SpoolFiles().empty());
}

TEST_F(HookBlackboxTest, CheckConfigReadsTheCaFileAsACertificate) {
  ASSERT_NO_FATAL_FAILURE(StartKuma());
  ASSERT_NO_FATAL_FAILURE(WriteConfig());
  RunResult good = Agent({"check-config"});
  EXPECT_EQ(good.exit_code, 0) << good.out << good.err;

  const json config = json::parse(ReadText(config_path_));
  auto check_with = [&](const std::string& ca_file) {
    json changed = config;
    changed["kuma"]["ca_file"] = ca_file;
    dir_.Write("config.json", changed.dump(2) + "\n");
    chmod(config_path_.c_str(), 0600);
    return Agent({"check-config"});
  };
  const std::string key = dir_.Write("key.pem", ReadText(dir_.Path("certs/ip.key")));
  const std::string empty = dir_.Write("empty.pem", "");
  const std::string text = dir_.Write("hostname", "pve1\n");
  const struct {
    std::string path;
    std::string says;
  } cases[] = {{key, "holds a private key"},
               {empty, "is empty"},
               {text, "is not a PEM certificate: no \"-----BEGIN CERTIFICATE-----\" line; it "
                      "begins \"pve1\""}};
  for (const auto& c : cases) {
    RunResult bad = check_with(c.path);
    EXPECT_EQ(bad.exit_code, 2) << c.path << "\n" << bad.out << bad.err;
    EXPECT_TRUE(Contains(bad.err, "kuma.ca_file: " + c.path + " " + c.says)) << bad.err;
    EXPECT_FALSE(Contains(bad.out, ": OK")) << bad.out;
  }
}

TEST_F(HookBlackboxTest, ConfigReadableByOthersIsSaidAtTheStartAndEndAndFailsNothing) {
  ASSERT_NO_FATAL_FAILURE(StartKuma());
  ConfigOptions options;
  options.mode = 0644;
  ASSERT_NO_FATAL_FAILURE(WriteConfig(options));
  SimRun run = RunSim(TwoGuests());

  ExpectGuestPhasesExitZero(run);
  EXPECT_EQ(At(run.summary, "guests"), json({{"100", "ok"}, {"101", "ok"}})) << run.Log();
  json end = run.Call("job-end");
  ASSERT_FALSE(end.is_null()) << run.Log();
  // The backup went fine: the task is not failed for the monitoring's sake
  // (the node falls silent instead, and its monitors go DOWN).
  EXPECT_EQ(At(end, "exit"), 0) << run.Log();
  EXPECT_EQ(run.TaskStatus(), "OK") << run.Log();
  const std::string line = run.Line("job-end", "ERROR: ");
  EXPECT_TRUE(Contains(line, "chmod 600")) << run.Log();
  EXPECT_TRUE(Contains(line, config_path_)) << line;
  EXPECT_TRUE(kuma_->Requests().empty()) << json(kuma_->Requests()).dump(1);
  // Said at the start and at the end of the run, not in every phase.
  EXPECT_TRUE(Contains(run.Line("job-init", "ERROR: "), "chmod 600")) << run.Log();
  EXPECT_EQ(Count(run.Log(), "ERROR: "), 2u) << run.Log();
}

// --- existing hooks kept running through hook.chain ------------------------

// An admin's own hook: logs every call, and fails backup-start of guest 101.
std::string AdminHook(const TestDir& dir) {
  const std::string path = dir.Write(
      "admin-hook.sh",
      "#!/bin/sh\n"
      "echo \"$*\" >>" + dir.Path("admin-hook.log") + "\n"
      "echo \"admin hook: $1 ${3:-}\"\n"
      "if [ \"$1\" = backup-start ] && [ \"$3\" = 101 ]; then\n"
      "  echo \"admin hook: refusing to back up 101\" >&2\n"
      "  exit 5\n"
      "fi\n");
  chmod(path.c_str(), 0755);
  return path;
}

TEST_F(HookBlackboxTest, AChainedHookFailingAGuestFailsItAsVzdumpWouldAndThePushSaysSo) {
  ASSERT_NO_FATAL_FAILURE(StartKuma());
  ConfigOptions options;
  options.chain = {AdminHook(dir_)};
  ASSERT_NO_FATAL_FAILURE(WriteConfig(options));
  SimRun run = RunSim(TwoGuests());

  // vzdump failed guest 101 because of the chained hook's exit code ...
  EXPECT_EQ(At(At(run.summary, "guests"), "101"), "failed") << run.Log();
  EXPECT_EQ(At(At(run.summary, "guests"), "100"), "ok") << run.Log();
  json start_101;
  for (const auto& call : run.Calls("backup-start")) {
    if (At(call, "args")[2] == "101") start_101 = call;
  }
  EXPECT_EQ(At(start_101, "exit"), 5) << start_101.dump();
  // ... its output is in the task log ...
  bool said = false;
  for (const auto& call : At(run.summary, "calls")) {
    for (const auto& line : At(call, "stdout")) {
      said = said || line == "admin hook: refusing to back up 101";
    }
  }
  EXPECT_TRUE(said) << run.Log();
  EXPECT_EQ(Str(start_101, "phase"), "backup-start");
  // ... it saw every phase, with vzdump's arguments ...
  const std::string log = ReadText(dir_.Path("admin-hook.log"));
  EXPECT_TRUE(Contains(log, "job-init\njob-start\nbackup-start snapshot 100\n")) << log;
  EXPECT_TRUE(Contains(log, "backup-abort snapshot 101\nlog-end snapshot 101\njob-end\n")) << log;
  // ... and our push reflects the run.
  json request = OnlyRequest();
  ExpectPush(request, kToken, "down");
  EXPECT_TRUE(Contains(Msg(request), "failed: 101 db01")) << Msg(request);
}

TEST_F(HookBlackboxTest, AMissingChainedHookIsAClearErrorAndThePushStillHappens) {
  ASSERT_NO_FATAL_FAILURE(StartKuma());
  ConfigOptions options;
  options.chain = {dir_.Path("gone.sh")};
  ASSERT_NO_FATAL_FAILURE(WriteConfig(options));
  SimRun run = RunSim(TwoGuests());

  // The backups went on ...
  EXPECT_EQ(At(At(run.summary, "guests"), "100"), "ok") << run.Log();
  EXPECT_EQ(At(At(run.summary, "guests"), "101"), "ok") << run.Log();
  ExpectGuestPhasesExitZero(run);
  // ... every phase said what is wrong ...
  EXPECT_EQ(run.Line("backup-start", "ERROR: "),
            "ERROR: pbk-agent hook backup-start: chained hook " + dir_.Path("gone.sh") +
                " does not exist; skipped")
      << run.Log();
  // ... the push was made, and the end of the job shows the problem.
  json request = OnlyRequest();
  ExpectPush(request, kToken, "up");
  EXPECT_EQ(At(run.Call("job-end"), "exit"), 1) << run.Log();
}

}  // namespace
}  // namespace pbk::testing::hook_blackbox
