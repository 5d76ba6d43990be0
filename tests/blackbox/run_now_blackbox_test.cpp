// "Run now" of a job by an admin who is not root@pam, as the web UI sends
// it (tests/fakes/run_now.py), against the emulated PVE's permission rules:
// it works while the hook is the node default and fails with PVE's own
// message once the guard put the hook on the job (job placement).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "tests/blackbox/pve_blackbox_fixture.h"

namespace pbk::testing::pve_blackbox {
namespace {

using nlohmann::json;
using std::chrono::seconds;

class RunNowBlackboxTest : public VerifyBlackboxTest {
 protected:
  // An admin of a PVE realm who may back up (PVEAdmin-like privileges on /),
  // logged in: the ticket and CSRF token are secrets like any other.
  void LogInAdmin() {
    const std::string ticket = "PVE:admin@pve:" + RandomSecret(24);
    const std::string csrf = RandomSecret(20);
    for (const auto& secret : {ticket, csrf}) {
      secrets_.insert(secret);
      RegisterSecret(secret);
    }
    json tokens = json::parse(dir_.Read("tokens.json"));
    tokens["admin@pve"] = {
        {"ticket", ticket},
        {"csrf", csrf},
        {"privs", {"Sys.Audit", "VM.Audit", "VM.Backup", "Datastore.AllocateSpace"}}};
    dir_.Write("tokens.json", tokens.dump(2) + "\n");
  }

  json RunNow(const std::string& job) {
    RunResult run = pbk::testing::Run(
        {"/usr/bin/python3", std::string(PBK_SOURCE_DIR) + "/tests/fakes/run_now.py", "--url",
         pve_->url(), "--ca", Cert("ca"), "--user", "admin@pve", "--credentials", tokens_path_,
         "--job", job, "--node", "pve1"},
        nullptr, seconds(60));
    EXPECT_TRUE(run.started) << run.error;
    json answer = json::parse(run.out, nullptr, false);
    EXPECT_TRUE(answer.is_object()) << run.out << run.err;
    return answer.is_object() ? answer : json::object();
  }
};

TEST_F(RunNowBlackboxTest, WorksForANonRootAdminInNodePlacementAndNotInJobPlacement) {
  // Every job carries the hook, as an earlier version left them; guest 100
  // is on this node.
  ASSERT_NO_FATAL_FAILURE(SetUpHealthyNode());
  ASSERT_NO_FATAL_FAILURE(LogInAdmin());

  // Node placement: the guard leaves no hook on any job.
  AgentConfig node = HealthyConfig();
  node.placement = "node";
  ASSERT_NO_FATAL_FAILURE(WriteConfig(node));
  RunResult guard = Agent({"guard"});
  ASSERT_EQ(guard.exit_code, 0) << guard.err;
  EXPECT_EQ(CountLinesContaining(JobsCfgNow(), "\tscript "), 0u) << JobsCfgNow();
  json ok = RunNow(kJobA);
  EXPECT_EQ(At(ok, "status"), 200) << ok.dump();
  EXPECT_TRUE(StartsWith(Str(At(ok, "body"), "data"), "UPID:pve1:")) << ok.dump();
  EXPECT_TRUE(Contains(Str(At(ok, "body"), "data"), ":vzdump:100:admin@pve:")) << ok.dump();

  // Job placement: the guard puts the hook on the job, and PVE refuses
  // `script` from anyone but root@pam.
  AgentConfig job = HealthyConfig();
  job.placement = "job";
  ASSERT_NO_FATAL_FAILURE(WriteConfig(job));
  guard = Agent({"guard"});
  ASSERT_EQ(guard.exit_code, 0) << guard.err;
  EXPECT_TRUE(Contains(JobsCfgNow(), "\tscript " + hook_)) << JobsCfgNow();
  json refused = RunNow(kJobA);
  EXPECT_EQ(At(refused, "status"), 400) << refused.dump();
  EXPECT_EQ(At(At(At(refused, "body"), "errors"), "script"), "Only root may set this option.")
      << refused.dump();
}

}  // namespace
}  // namespace pbk::testing::pve_blackbox
