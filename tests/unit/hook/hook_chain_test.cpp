// The chained hooks around our own work: hook.chain, then the chain of the
// run's job, in every phase; at job-end before the push, and a failure there
// turns the push down. Runs of no job, jobs without monitor, and runs that
// cannot be told apart at job-end.
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>

#include "hook/hook.h"
#include "hook/run_record.h"
#include "tests/support/test_dir.h"

namespace pbk {
namespace {

const char kUpid[] = "UPID:pve1:00001092:0143F5A7:6740C2B1:vzdump::root@pam:";
constexpr pid_t kWorker = 4242;

class HookChainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.path = dir_.Path("config.json");
    config_.node = "pve1";
    config_.kuma.timeout_seconds = 5;
    config_.jobs["backup-1"].push_token = "tok1";
    config_.jobs["backup-1"].chain = {"/root/offsite-sync.sh"};
    config_.jobs["backup-2"].push_token = "tok2";
    config_.jobs["backup-2"].chain = {"/root/other.sh"};
    config_.hook.chain = {"/root/mount-usb.sh"};
    config_.node_monitor.push_token = "node-tok";
    config_.paths.state_dir = dir_.Path("state");
    config_.paths.scheduler_dir = dir_.Path("jobs");
    config_.paths.tasks_dir = dir_.Path("tasks");
    config_.paths.proc = dir_.Path("proc");
    dir_.Write("proc/4242/cmdline", std::string("task ") + kUpid + std::string("\0", 1));
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log_);
    sink->set_pattern("%l: %v");
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink));
  }

  void Schedule(const std::string& job_id) {
    dir_.Write("jobs/vzdump-" + job_id + ".json",
               std::string(R"({"state":"started","upid":")") + kUpid + R"(","config":{}})");
  }
  void TaskLog(const std::string& command) {
    dir_.Write(std::string("tasks/1/") + kUpid, "INFO: starting new backup job: " + command + "\n");
  }
  void JobCache(const std::string& jobs) {
    dir_.Write("state/jobs.json",
               R"({"format":1,"written":0,"source":"rest","node":"pve1","jobs":)" + jobs + "}");
  }

  int Call(std::vector<std::string> args) {
    HookContext context;
    context.config = &config_;
    context.args = std::move(args);
    context.env.storeid = "pbs1";
    if (context.args.size() == 3) context.env.vmtype = "qemu";
    context.parent_pid = kWorker;
    context.now_ms = [this] { return now_ += 1000; };
    context.send = [this](const std::string& token, const KumaPush& push, std::string*,
                          PushFailure*) {
      events_.push_back("push " + token + " " + (push.up ? "up" : "down"));
      messages_.push_back(push.message);
      return true;
    };
    context.run_chain = [this](const std::vector<std::string>& scripts,
                               const std::vector<std::string>& chain_args) {
      std::string event = "chain";
      for (const auto& script : scripts) event += " " + script;
      events_.push_back(event + " : " + chain_args.front());
      ChainOutcome outcome;
      if (chain_args.front() == fail_phase_) {
        outcome.exit_code = 3;
        outcome.failed_script = scripts.back();
      }
      return outcome;
    };
    return RunHook(context);
  }

  void Run(int end_exit = 0) {
    EXPECT_EQ(Call({"job-init"}), 0);
    EXPECT_EQ(Call({"job-start"}), 0);
    EXPECT_EQ(Call({"backup-start", "snapshot", "100"}), 0);
    EXPECT_EQ(Call({"backup-end", "snapshot", "100"}), 0);
    EXPECT_EQ(Call({"job-end"}), end_exit);
  }

  testing::TestDir dir_;
  Config config_;
  std::vector<std::string> events_;
  std::vector<std::string> messages_;
  std::string fail_phase_;
  int64_t now_ = 1'000'000;
  std::ostringstream log_;
};

TEST_F(HookChainTest, TheJobsChainRunsAfterHookChainInEveryPhaseAndBeforeThePush) {
  Schedule("backup-1");
  Run();
  EXPECT_EQ(events_, (std::vector<std::string>{
                         "chain /root/mount-usb.sh /root/offsite-sync.sh : job-init",
                         "chain /root/mount-usb.sh /root/offsite-sync.sh : job-start",
                         "chain /root/mount-usb.sh /root/offsite-sync.sh : backup-start",
                         "chain /root/mount-usb.sh /root/offsite-sync.sh : backup-end",
                         "chain /root/mount-usb.sh /root/offsite-sync.sh : job-end",
                         "push tok1 up",
                     }));
}

TEST_F(HookChainTest, AFailingChainedScriptAtJobEndMakesThePushDown) {
  Schedule("backup-1");
  fail_phase_ = "job-end";
  Run(/*end_exit=*/3);
  ASSERT_EQ(events_.back(), "push tok1 down");
  EXPECT_EQ(messages_.back().rfind("pve1: chained hook /root/offsite-sync.sh exited 3; the 1 guest "
                                   "backed up in ",
                                   0),
            0u)
      << messages_.back();
  // The job-abort vzdump runs next: the job's chain again, no second push.
  events_.clear();
  fail_phase_.clear();
  EXPECT_EQ(Call({"job-abort"}), 0);
  EXPECT_EQ(events_, (std::vector<std::string>{
                         "chain /root/mount-usb.sh /root/offsite-sync.sh : job-abort"}));
}

// A job told only at job-end (nothing named it earlier) runs its chain at
// the job phases from then on; the guest phases had hook.chain alone.
TEST_F(HookChainTest, AJobToldOnlyAtJobEndRunsItsChainThereAlone) {
  JobCache(R"([{"id": "backup-2", "type": "vzdump", "vmid": "100", "storage": "pbs1"}])");
  Run();
  EXPECT_EQ(events_, (std::vector<std::string>{
                         "chain /root/mount-usb.sh : job-init",
                         "chain /root/mount-usb.sh : job-start",
                         "chain /root/mount-usb.sh : backup-start",
                         "chain /root/mount-usb.sh : backup-end",
                         "chain /root/mount-usb.sh /root/other.sh : job-end",
                         "push tok2 up",
                     }));
}

TEST_F(HookChainTest, ARunToldByItsTaskLogRunsTheJobsChainFromJobStart) {
  JobCache(R"([{"id": "backup-2", "type": "vzdump", "vmid": "100", "storage": "pbs1"},
               {"id": "backup-3", "type": "vzdump", "vmid": "100", "storage": "pbs1",
                "mode": "stop"}])");
  TaskLog("vzdump 100 --storage pbs1 --all 0 --node pve1");
  Run();
  EXPECT_EQ(events_[1], "chain /root/mount-usb.sh /root/other.sh : job-start");
  EXPECT_EQ(events_[2], "chain /root/mount-usb.sh /root/other.sh : backup-start");
  EXPECT_EQ(events_.back(), "push tok2 up");
}

TEST_F(HookChainTest, ARunOfNoJobIsNotedAndNeverFailed) {
  JobCache(R"([{"id": "backup-2", "type": "vzdump", "vmid": "100,101", "storage": "pbs1"}])");
  TaskLog("vzdump 100 --storage pbs1 --remove 0 --notes-template '{{guestname}}'");
  Run();
  EXPECT_EQ(events_.back(), "chain /root/mount-usb.sh : job-end");
  EXPECT_NE(log_.str().find("info: pbk-agent: not a backup job: not reported to Kuma"),
            std::string::npos)
      << log_.str();
  EXPECT_EQ(log_.str().find("error"), std::string::npos) << log_.str();
}

TEST_F(HookChainTest, AJobWithoutTokenIsAnErrorAndDownOnTheNodeMonitor) {
  config_.jobs["backup-2"].push_token.clear();  // a chain, but no monitor
  Schedule("backup-2");
  Run();
  EXPECT_EQ(events_.back(), "push node-tok down");
  EXPECT_NE(messages_.back().find("backup job backup-2 ran without a push monitor on this node"),
            std::string::npos)
      << messages_.back();
  EXPECT_NE(log_.str().find("error: pbk-agent: backup job backup-2 has no push monitor on node "
                            "pve1"),
            std::string::npos)
      << log_.str();
}

TEST_F(HookChainTest, AnAmbiguousRunIsDownOnTheNodeMonitorNamingTheCandidates) {
  JobCache(R"([{"id": "backup-1", "type": "vzdump", "vmid": "100", "storage": "pbs1"},
               {"id": "backup-2", "type": "vzdump", "vmid": "100", "storage": "pbs1",
                "schedule": "sat 01:00"}])");
  TaskLog("vzdump 100 --storage pbs1");
  config_.node_monitor.push_token.clear();
  Run(/*end_exit=*/0);  // never a failed task, even with nobody to tell
  EXPECT_NE(log_.str().find("error: pbk-agent: cannot tell which backup job this run belongs to: 2 "
                            "jobs have exactly the run's options (task log): backup-1, backup-2"),
            std::string::npos)
      << log_.str();
  config_.node_monitor.push_token = "node-tok";
  events_.clear();
  dir_.Write(std::string("proc/4242/cmdline"),
             std::string("task UPID:pve1:00001092:0143F5A7:6740C2B2:vzdump::root@pam:") +
                 std::string("\0", 1));
  dir_.Write("tasks/2/UPID:pve1:00001092:0143F5A7:6740C2B2:vzdump::root@pam:",
             "INFO: starting new backup job: vzdump 100 --storage pbs1\n");
  Run(/*end_exit=*/0);
  EXPECT_EQ(events_.back(), "push node-tok down");
  EXPECT_NE(messages_.back().find("it may be a run of backup-1 or backup-2"), std::string::npos)
      << messages_.back();
}

}  // namespace
}  // namespace pbk
