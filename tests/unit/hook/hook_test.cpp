#include "hook/hook.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>

#include "hook/run_record.h"
#include "hook/spool.h"
#include "tests/support/test_dir.h"

namespace pbk {
namespace {

const char kUpid[] = "UPID:pve1:00001092:0143F5A7:6740C2B1:vzdump::root@pam:";
constexpr pid_t kWorker = 4242;

struct Pushed {
  std::string token;
  KumaPush push;
};

class HookTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.path = dir_.Path("config.json");
    config_.node = "pve1";
    config_.kuma.timeout_seconds = 5;
    config_.jobs["backup-1"].push_token = "tok1";
    config_.paths.state_dir = dir_.Path("state");
    config_.paths.scheduler_dir = dir_.Path("jobs");
    config_.paths.proc = dir_.Path("proc");
    dir_.Write("proc/4242/cmdline", std::string("task ") + kUpid + std::string("\0", 1));
    dir_.Write("jobs/vzdump-backup-1.json",
               std::string(R"({"state":"started","upid":")") + kUpid + R"(","config":{}})");
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log_);
    sink->set_pattern("%l: %v");
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink));
  }

  int Call(std::vector<std::string> args, HookEnvironment env = {}) {
    HookContext context;
    context.config = &config_;
    context.args = std::move(args);
    context.env = std::move(env);
    context.parent_pid = kWorker;
    context.now_ms = [this] { return now_ += 1000; };
    context.send = [this](const std::string& token, const KumaPush& push, std::string* err,
                          PushFailure* failure) {
      pushes_.push_back({token, push});
      if (kuma_down_) {
        *err = "connecting to 192.0.2.10:3001: connection refused";
        if (failure) *failure = PushFailure::kTransport;
        return false;
      }
      return true;
    };
    return RunHook(context);
  }

  HookEnvironment Job() {
    HookEnvironment env;
    env.storeid = "pbs1";
    return env;
  }
  HookEnvironment Guest(const std::string& type, const std::string& name) {
    HookEnvironment env = Job();
    env.vmtype = type;
    env.hostname = name;
    env.target = (type == "qemu" ? "vm/" : "ct/") + name;
    return env;
  }

  // A snapshot-mode guest as vzdump runs it; FAIL makes its archive fail.
  void BackUp(const std::string& vmid, const std::string& type, const std::string& name,
              bool fail = false) {
    for (const char* phase : {"backup-start", "pre-stop", "pre-restart", "post-restart"}) {
      EXPECT_EQ(Call({phase, "snapshot", vmid}, Guest(type, name)), 0);
    }
    EXPECT_EQ(Call({fail ? "backup-abort" : "backup-end", "snapshot", vmid}, Guest(type, name)), 0);
    EXPECT_EQ(Call({"log-end", "snapshot", vmid}, Guest(type, name)), 0);
  }

  RunRecord Record() {
    RunRecord record;
    bool exists = false;
    std::string err;
    const StateLayout state(config_.paths.state_dir);
    EXPECT_TRUE(LoadRunRecord(state.RunFile("upid-pve1-00001092-0143F5A7-6740C2B1"), &record,
                              &exists, &err))
        << err;
    EXPECT_TRUE(exists);
    return record;
  }

  size_t SpoolSize() {
    std::vector<std::string> bad;
    return ListSpool(StateLayout(config_.paths.state_dir), &bad).size();
  }

  testing::TestDir dir_;
  Config config_;
  std::vector<Pushed> pushes_;
  bool kuma_down_ = false;
  int64_t now_ = 1'000'000;
  std::ostringstream log_;
};

TEST_F(HookTest, ARunEndsInExactlyOnePushWithItsResult) {
  EXPECT_EQ(Call({"job-init"}, Job()), 0);
  EXPECT_EQ(Call({"job-start"}, Job()), 0);
  BackUp("100", "qemu", "web01");
  BackUp("101", "lxc", "db01", /*fail=*/true);
  EXPECT_TRUE(pushes_.empty()) << "guest phases must not push";
  EXPECT_EQ(Call({"job-end"}, Job()), 0);
  ASSERT_EQ(pushes_.size(), 1u);
  EXPECT_EQ(pushes_[0].token, "tok1");
  EXPECT_FALSE(pushes_[0].push.up);
  EXPECT_EQ(pushes_[0].push.message,
            "pve1: 1 of 2 guests FAILED, 14s, storage pbs1; failed: 101 db01; ok: 100 web01");
  // The clock moves 1 s per call: job-init at t+1 s, job-end (the 15th call) at t+15 s.
  EXPECT_EQ(pushes_[0].push.ping_ms, 14000);
  RunRecord record = Record();
  EXPECT_EQ(record.job_id, "backup-1");
  EXPECT_EQ(record.job_source, "scheduler");
  EXPECT_EQ(record.push.state, PushState::kDelivered);
  EXPECT_EQ(record.FindGuest(100)->target, "vm/web01");
  EXPECT_EQ(SpoolSize(), 0u);
  EXPECT_NE(log_.str().find("info: pbk-agent: pushed down to Uptime Kuma for job backup-1: pve1: 1 "
                            "of 2 guests FAILED"),
            std::string::npos)
      << log_.str();
}

TEST_F(HookTest, AllGuestsOkIsUp) {
  Call({"job-init"}, Job());
  Call({"job-start"}, Job());
  BackUp("100", "qemu", "web01");
  EXPECT_EQ(Call({"job-end"}, Job()), 0);
  ASSERT_EQ(pushes_.size(), 1u);
  EXPECT_TRUE(pushes_[0].push.up);
}

TEST_F(HookTest, ASecondEndPhaseDoesNotPushAgain) {
  Call({"job-init"}, Job());
  BackUp("100", "qemu", "web01");
  EXPECT_EQ(Call({"job-end"}, Job()), 0);
  EXPECT_EQ(Call({"job-abort"}, Job()), 0);
  EXPECT_EQ(Call({"job-end"}, Job()), 0);
  EXPECT_EQ(pushes_.size(), 1u);
  EXPECT_NE(log_.str().find("job-abort after job-end: this run was already reported to Kuma as up"),
            std::string::npos)
      << log_.str();
}

TEST_F(HookTest, AnAbortedJobIsDown) {
  Call({"job-init"}, Job());
  Call({"job-start"}, Job());
  EXPECT_EQ(Call({"job-abort"}, Job()), 0);
  ASSERT_EQ(pushes_.size(), 1u);
  EXPECT_FALSE(pushes_[0].push.up);
  EXPECT_EQ(pushes_[0].push.message,
            "pve1: backup job ABORTED after 2.0s (storage pbs1), 0 of 0 guests backed up");
}

TEST_F(HookTest, AFailedPushIsSpooledAndTheHookStillExitsZero) {
  kuma_down_ = true;
  Call({"job-init"}, Job());
  BackUp("100", "qemu", "web01");
  EXPECT_EQ(Call({"job-end"}, Job()), 0);
  EXPECT_EQ(pushes_.size(), 1u);
  EXPECT_EQ(SpoolSize(), 1u);
  EXPECT_EQ(Record().push.state, PushState::kSpooled);
  EXPECT_NE(log_.str().find("error: pbk-agent: push of up to Uptime Kuma for job backup-1 failed: "
                            "connecting to 192.0.2.10:3001: connection refused. The result is "
                            "spooled in " +
                            config_.paths.state_dir +
                            "/spool/upid-pve1-00001092-0143F5A7-6740C2B1.json"),
            std::string::npos)
      << log_.str();
  // A repeated end phase finds the push already owed.
  EXPECT_EQ(Call({"job-end"}, Job()), 0);
  EXPECT_EQ(pushes_.size(), 1u);
  EXPECT_EQ(SpoolSize(), 1u);
}

TEST_F(HookTest, GuestPhasesExitZeroEvenWhenNothingCanBeRecorded) {
  dir_.Write("state", "a file where the folder should be");
  EXPECT_EQ(Call({"job-init"}, Job()), 0);
  EXPECT_EQ(Call({"backup-start", "snapshot", "100"}, Guest("qemu", "web01")), 0);
  EXPECT_EQ(Call({"backup-end", "snapshot", "100"}, Guest("qemu", "web01")), 0);
  EXPECT_EQ(Call({"backup-start", "snapshot"}, Guest("qemu", "web01")), 0);
  EXPECT_EQ(Call({"backup-start", "snapshot", "abc"}, Guest("qemu", "web01")), 0);
  EXPECT_EQ(Call({"some-future-phase"}, Job()), 0);
  config_.paths.proc = dir_.Path("no-proc");
  EXPECT_EQ(Call({"backup-end", "snapshot", "100"}, Guest("qemu", "web01")), 0);
  EXPECT_TRUE(pushes_.empty());
  EXPECT_NE(log_.str().find("error: pbk-agent hook backup-start: reading " + config_.paths.state_dir +
                            "/runs/upid-pve1-00001092-0143F5A7-6740C2B1.json: Not a directory; "
                            "this run's result will be reported as unknown"),
            std::string::npos)
      << log_.str();
}

TEST_F(HookTest, AJobWithoutPushTokenFailsTheEndPhase) {
  config_.jobs.clear();
  config_.jobs["another"].push_token = "t";
  Call({"job-init"}, Job());
  BackUp("100", "qemu", "web01");
  EXPECT_EQ(Call({"job-end"}, Job()), 1);
  EXPECT_TRUE(pushes_.empty());
  EXPECT_EQ(Record().push.state, PushState::kNoToken);
  EXPECT_NE(log_.str().find("error: pbk-agent: backup job backup-1 has no push monitor on node "
                            "pve1: add \"jobs\": {\"backup-1\": {\"push_token\": \"…\"}} to " +
                            config_.path),
            std::string::npos)
      << log_.str();
  // The job-abort vzdump runs next stays quiet and pushes nothing.
  EXPECT_EQ(Call({"job-abort"}, Job()), 0);
  EXPECT_TRUE(pushes_.empty());
}

TEST_F(HookTest, ARunNobodyCanAttributeFailsTheEndPhase) {
  dir_.Write("jobs/vzdump-backup-1.json", R"({"state":"started","upid":"UPID:other"})");
  Call({"job-init"}, Job());
  BackUp("100", "qemu", "web01");
  EXPECT_EQ(Call({"job-end"}, Job()), 1);
  EXPECT_TRUE(pushes_.empty());
  EXPECT_EQ(Record().push.state, PushState::kUnattributed);
  EXPECT_NE(log_.str().find("error: pbk-agent: cannot tell which backup job this run belongs to"),
            std::string::npos);
}

TEST_F(HookTest, ARunWhoseRecordIsLostIsReportedDown) {
  EXPECT_EQ(Call({"job-end"}, Job()), 0);
  ASSERT_EQ(pushes_.size(), 1u);
  EXPECT_FALSE(pushes_[0].push.up);
  EXPECT_EQ(pushes_[0].push.message,
            "pve1: backup job result UNKNOWN: no earlier phase of this run was recorded (storage "
            "pbs1)");
}

TEST_F(HookTest, ManualTestPushesUpToTheNamedJob) {
  config_.jobs["backup-2"].push_token = "tok2";
  EXPECT_EQ(Call({"job-end", "ok", "backup-2"}), 0);
  ASSERT_EQ(pushes_.size(), 1u);
  EXPECT_EQ(pushes_[0].token, "tok2");
  EXPECT_TRUE(pushes_[0].push.up);
  EXPECT_NE(pushes_[0].push.message.find("manual test from node pve1"), std::string::npos);
  EXPECT_NE(log_.str().find("info: pushed up to Uptime Kuma for job backup-2 (manual test)"),
            std::string::npos);
  // Without a job id and with two jobs, it asks which.
  EXPECT_EQ(Call({"job-end", "ok"}), 2);
  EXPECT_NE(log_.str().find("name the job to test: job-end ok JOB-ID, one of: backup-1, backup-2"),
            std::string::npos)
      << log_.str();
  EXPECT_EQ(Call({"job-end", "maybe", "backup-1"}), 2);
  EXPECT_EQ(Call({"job-end", "ok", "unknown-job"}), 2);
  EXPECT_EQ(pushes_.size(), 1u);
  config_.jobs.erase("backup-2");
  EXPECT_EQ(Call({"job-end", "fail"}), 0);
  ASSERT_EQ(pushes_.size(), 2u);
  EXPECT_FALSE(pushes_[1].push.up);
}

TEST_F(HookTest, ABrokenConfigurationFailsNoPhaseOfABackupOnlyTheManualTest) {
  EXPECT_EQ(HookExitForBrokenConfig({"job-init"}), 0);
  EXPECT_EQ(HookExitForBrokenConfig({"job-start"}), 0);
  EXPECT_EQ(HookExitForBrokenConfig({"backup-start", "snapshot", "100"}), 0);
  EXPECT_EQ(HookExitForBrokenConfig({"job-end"}), 0);
  EXPECT_EQ(HookExitForBrokenConfig({"job-abort"}), 0);
  EXPECT_EQ(HookExitForBrokenConfig({"job-end", "ok", "backup-1"}), 2);
  EXPECT_EQ(HookExitForBrokenConfig({}), 2);
}

}  // namespace
}  // namespace pbk
