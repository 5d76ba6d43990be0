// A read-only API token that may read the jobs (Sys.Audit) but not the
// guests (VM.Audit): PVE leaves every guest out of /cluster/resources
// without an error, so where jobs run could only be guessed. verify and
// jobs name the missing privilege instead.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/blackbox/pve_blackbox_fixture.h"

namespace pbk::testing::pve_blackbox {
namespace {

using nlohmann::json;

class TokenPrivilegeTest : public VerifyBlackboxTest {
 protected:
  void SetUp() override {
    VerifyBlackboxTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_NO_FATAL_FAILURE(SetUpHealthyNode());
  }

  // The emulated API reads its credentials at every request.
  void TakeVmAuditAway() {
    json tokens = {{kTokenId, {{"secret", api_secret_}, {"privs", {"Sys.Audit"}},
                               {"vm_audit", false}}}};
    dir_.Write("tokens.json", tokens.dump(2) + "\n");
  }
};

TEST_F(TokenPrivilegeTest, WithVmAuditTheGuestsArePlacedAndNoPrivilegeIsNamed) {
  RunResult verify = Agent({"verify"});
  EXPECT_FALSE(Contains(verify.out + verify.err, "VM.Audit")) << verify.out << verify.err;
  RunResult jobs = Agent({"jobs"});
  EXPECT_FALSE(Contains(jobs.out + jobs.err, "VM.Audit")) << jobs.out << jobs.err;
}

TEST_F(TokenPrivilegeTest, WithoutVmAuditVerifyAndJobsNameThePrivilege) {
  TakeVmAuditAway();
  RunResult verify = Agent({"verify"});
  const std::string said = verify.out + verify.err;
  EXPECT_TRUE(Contains(said, "the API token pbk-agent@pve!guard sees no guest while pvesh sees"))
      << said;
  EXPECT_TRUE(Contains(said, "the token lacks VM.Audit on /vms")) << said;
  // No guessing about the cluster from an empty list.
  EXPECT_FALSE(Contains(said, "exist nowhere in the cluster")) << said;

  RunResult jobs = Agent({"jobs"});
  EXPECT_TRUE(Contains(jobs.out + jobs.err, "the token lacks VM.Audit on /vms"))
      << jobs.out << jobs.err;
}

}  // namespace
}  // namespace pbk::testing::pve_blackbox
