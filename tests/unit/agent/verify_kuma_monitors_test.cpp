// verify's check of this node's monitors as Kuma has them (with a valid
// session): each monitor of the monitors file exists, runs and has the
// token the hook sends.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "agent/verify_checks.h"

namespace pbk {
namespace {

using nlohmann::json;

class VerifyKumaMonitorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    context_.config.node = "pve1";
    context_.has_monitors_file = true;
    JobMonitors nightly;
    nightly.job_id = "backup-a";
    nightly.name = "nightly";
    nightly.nodes["pve1"] = {11, "tokenPve1AAAAAAAAAAA"};
    nightly.nodes["pve2"] = {12, "tokenPve2AAAAAAAAAAA"};
    context_.monitors_file.jobs["backup-a"] = nightly;
    JobMonitors weekly;
    weekly.job_id = "backup-b";
    weekly.name = "weekly";
    weekly.nodes["pve2"] = {21, "tokenWeeklyAAAAAAAAA"};
    context_.monitors_file.jobs["backup-b"] = weekly;
    context_.monitors_file.node_monitors["pve1"] = {31, "tokenNodeAAAAAAAAAAA"};
    context_.kuma_monitors = {
        {"11", {{"id", 11}, {"name", "nightly @ pve1"}, {"active", true},
                {"pushToken", "tokenPve1AAAAAAAAAAA"}}},
        {"12", {{"id", 12}, {"name", "nightly @ pve2"}, {"active", false},
                {"pushToken", "tokenPve2AAAAAAAAAAA"}}},
        {"31", {{"id", 31}, {"name", "pbk-agent @ pve1"}, {"active", 1},
                {"pushToken", "tokenNodeAAAAAAAAAAA"}}},
    };
  }
  std::vector<CheckResult> Run() {
    CheckResults results;
    CheckMonitorsInKuma(&context_, &results);
    return results.all();
  }

  VerifyContext context_;
};

TEST_F(VerifyKumaMonitorsTest, ThisNodesMonitorsThatExistAndRunAreOneOkLine) {
  // pve2's paused monitor and weekly (not on pve1) are another node's business.
  const auto results = Run();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].name, "monitors in Kuma");
  EXPECT_EQ(results[0].status, CheckStatus::kOk);
  EXPECT_EQ(results[0].text, "2 of this node's monitors exist, run and have the monitors file's tokens");
}

TEST_F(VerifyKumaMonitorsTest, DeletedPausedOrRetokenedMonitorsAreEachAFail) {
  context_.kuma_monitors.erase("31");
  context_.kuma_monitors["11"]["active"] = 0;
  auto results = Run();
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].name, "in Kuma: nightly @ pve1");
  EXPECT_EQ(results[0].status, CheckStatus::kFail);
  EXPECT_EQ(results[0].text, "monitor 11 \"nightly @ pve1\" is paused in Kuma: it never alarms");
  EXPECT_EQ(results[0].fix, "resume it in Kuma");
  EXPECT_EQ(results[1].name, "in Kuma: pbk-agent @ pve1");
  EXPECT_EQ(results[1].text,
            "monitor 31 is not in Kuma (deleted there?): pushes with its token get 404");
  EXPECT_EQ(results[1].fix, "run `pbk-agent kuma sync`: it makes the monitor again");

  context_.kuma_monitors["11"]["active"] = true;
  context_.kuma_monitors["11"]["pushToken"] = "tokenOtherAAAAAAAAAA";
  context_.kuma_monitors["31"] = {{"id", 31}, {"name", "pbk-agent @ pve1"}, {"active", true},
                                  {"pushToken", "tokenNodeAAAAAAAAAAA"}};
  results = Run();
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].status, CheckStatus::kFail);
  EXPECT_EQ(results[0].text, "monitor 11 \"nightly @ pve1\" has another push token in Kuma than "
                             "in the monitors file: pushes are lost");
  for (const auto& result : results) {
    EXPECT_EQ(result.text.find("token" "Other"), std::string::npos) << "a token in the output";
  }
  EXPECT_EQ(results[1].status, CheckStatus::kOk);
  EXPECT_EQ(results[1].text, "1 of this node's monitors exist, run and have the monitors file's tokens");
}

TEST_F(VerifyKumaMonitorsTest, NothingIsSaidWithoutKumasListOrAMonitorsFile) {
  context_.kuma_monitors = nullptr;  // no session, or the list could not be read
  EXPECT_TRUE(Run().empty());
  SetUp();
  context_.has_monitors_file = false;  // monitors kept by hand
  EXPECT_TRUE(Run().empty());
}

}  // namespace
}  // namespace pbk
