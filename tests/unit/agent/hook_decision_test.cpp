#include "agent/hook_decision.h"

#include <gtest/gtest.h>

namespace pbk {
namespace {

const char kHook[] = "/var/lib/vz/snippets/vzdump-uptime-kuma-hook.sh";

PlacementInputs Inputs(HookPlacement placement) {
  PlacementInputs in;
  in.placement = placement;
  in.hook_script = kHook;
  in.members = {"pve1", "pve2", "pve3"};
  in.marked = {"pve1", "pve2", "pve3"};
  return in;
}

BackupJob Job(const std::string& id, const std::string& script, const std::string& node = "") {
  BackupJob job;
  job.id = id;
  job.type = "vzdump";
  job.script = script;
  job.node = node;
  return job;
}

// Node placement -------------------------------------------------------------

TEST(HookDecisionTest, NodeAJobWithoutScriptRunsTheNodeDefault) {
  auto d = DecideJob(Inputs(HookPlacement::kNode), Job("backup-a", ""), true);
  EXPECT_EQ(d.action, JobAction::kKeep);
  EXPECT_EQ(d.via_after, HookVia::kNodeDefault);
  d = DecideJob(Inputs(HookPlacement::kNode), Job("backup-a", ""), false);
  EXPECT_EQ(d.via_after, HookVia::kNone);
}

TEST(HookDecisionTest, NodeOurHookOnAJobIsTakenOffEvenWithUnmarkedNodes) {
  PlacementInputs in = Inputs(HookPlacement::kNode);
  in.marked = {"pve1"};
  auto d = DecideJob(in, Job("backup-a", kHook), true);
  EXPECT_EQ(d.action, JobAction::kRemoveScript);
  EXPECT_EQ(d.via_after, HookVia::kNodeDefault);
}

TEST(HookDecisionTest, NodeAForeignScriptNotChainedIsLeftWithAdvice) {
  auto d = DecideJob(Inputs(HookPlacement::kNode), Job("backup-a", "/root/mine.sh"), true);
  EXPECT_EQ(d.action, JobAction::kLeave);
  EXPECT_EQ(d.via_after, HookVia::kForeignScript);
  EXPECT_NE(d.why.find(R"("jobs": {"backup-a": {"chain": ["/root/mine.sh"]}})"),
            std::string::npos)
      << d.why;
}

TEST(HookDecisionTest, NodeAForeignScriptInHookChainOnlyIsStillLeft) {
  PlacementInputs in = Inputs(HookPlacement::kNode);
  in.hook_chain = {"/root/mine.sh"};
  in.job_chains["backup-b"] = {"/root/mine.sh"};
  EXPECT_EQ(DecideJob(in, Job("backup-a", "/root/mine.sh"), true).action, JobAction::kLeave);
}

TEST(HookDecisionTest, NodeAForeignScriptChainedForTheJobIsTakenOver) {
  PlacementInputs in = Inputs(HookPlacement::kNode);
  in.job_chains["backup-a"] = {"/root/mine.sh"};
  auto d = DecideJob(in, Job("backup-a", "/root/mine.sh"), true);
  EXPECT_EQ(d.action, JobAction::kRemoveScript);
  EXPECT_EQ(d.via_after, HookVia::kNodeDefault);
  in.marked = {"pve1", "pve3"};
  d = DecideJob(in, Job("backup-a", "/root/mine.sh"), true);
  EXPECT_EQ(d.action, JobAction::kLeave);
  EXPECT_EQ(d.unmarked, std::vector<std::string>{"pve2"});
  // Restricted to a marked node, the unmarked one does not matter.
  d = DecideJob(in, Job("backup-a", "/root/mine.sh", "pve3"), true);
  EXPECT_EQ(d.action, JobAction::kRemoveScript);
}

TEST(HookDecisionTest, ExcludedJobsAreNeverTouched) {
  PlacementInputs in = Inputs(HookPlacement::kNode);
  in.exclude = {"backup-a"};
  EXPECT_EQ(DecideJob(in, Job("backup-a", kHook), true).action, JobAction::kKeep);
  in.placement = HookPlacement::kJob;
  EXPECT_EQ(DecideJob(in, Job("backup-a", ""), true).action, JobAction::kKeep);
}

// Job placement --------------------------------------------------------------

TEST(HookDecisionTest, JobSetsTheHookOnlyWhenEveryNodeOfTheJobIsMarked) {
  PlacementInputs in = Inputs(HookPlacement::kJob);
  auto d = DecideJob(in, Job("backup-a", ""), false);
  EXPECT_EQ(d.action, JobAction::kSetHook);
  EXPECT_EQ(d.via_after, HookVia::kOwnScript);
  in.marked = {"pve1", "pve2"};
  d = DecideJob(in, Job("backup-a", ""), false);
  EXPECT_EQ(d.action, JobAction::kLeave);
  EXPECT_EQ(d.via_after, HookVia::kNone);
  EXPECT_EQ(d.unmarked, std::vector<std::string>{"pve3"});
  EXPECT_NE(d.why.find("pve3"), std::string::npos) << d.why;
  EXPECT_EQ(DecideJob(in, Job("backup-a", "", "pve2"), false).action, JobAction::kSetHook);
  EXPECT_EQ(DecideJob(in, Job("backup-a", "", "pve3"), false).action, JobAction::kLeave);
}

TEST(HookDecisionTest, JobOurHookWithAnUnmarkedNodeIsTakenOffLoudly) {
  PlacementInputs in = Inputs(HookPlacement::kJob);
  EXPECT_EQ(DecideJob(in, Job("backup-a", kHook), false).action, JobAction::kKeep);
  in.marked = {"pve1"};
  auto d = DecideJob(in, Job("backup-a", kHook), false);
  EXPECT_EQ(d.action, JobAction::kRemoveScript);
  EXPECT_TRUE(d.loud);
  EXPECT_EQ(d.unmarked, (std::vector<std::string>{"pve2", "pve3"}));
  EXPECT_EQ(d.via_after, HookVia::kNone);
}

TEST(HookDecisionTest, JobAForeignScriptIsTakenOverOnlyWhenChainedForTheJob) {
  PlacementInputs in = Inputs(HookPlacement::kJob);
  in.hook_chain = {"/root/mine.sh"};
  auto d = DecideJob(in, Job("backup-a", "/root/mine.sh"), false);
  EXPECT_EQ(d.action, JobAction::kLeave);
  EXPECT_EQ(d.via_after, HookVia::kForeignScript);
  in.job_chains["backup-a"] = {"/root/mine.sh"};
  EXPECT_EQ(DecideJob(in, Job("backup-a", "/root/mine.sh"), false).action, JobAction::kSetHook);
  in.marked = {"pve1"};
  d = DecideJob(in, Job("backup-a", "/root/mine.sh"), false);
  EXPECT_EQ(d.action, JobAction::kLeave);
  EXPECT_EQ(d.via_after, HookVia::kForeignScript);
}

TEST(HookDecisionTest, StandaloneNodeIsItsOnlyMember) {
  PlacementInputs in = Inputs(HookPlacement::kJob);
  in.members = {"solo"};
  in.marked = {};
  EXPECT_EQ(DecideJob(in, Job("backup-a", ""), false).unmarked, std::vector<std::string>{"solo"});
  in.marked = {"solo"};
  EXPECT_EQ(DecideJob(in, Job("backup-a", ""), false).action, JobAction::kSetHook);
}

// vzdump.conf ----------------------------------------------------------------

TEST(HookDecisionTest, VzdumpConfPerPlacement) {
  PlacementInputs in = Inputs(HookPlacement::kNode);
  EXPECT_EQ(DecideVzdumpConf(in, {false, ""}).action, ConfAction::kSet);
  EXPECT_EQ(DecideVzdumpConf(in, {true, kHook}).action, ConfAction::kKeep);
  auto d = DecideVzdumpConf(in, {true, "/root/mine.sh"});
  EXPECT_EQ(d.action, ConfAction::kLeave);
  EXPECT_NE(d.why.find(R"("hook": {"chain": ["/root/mine.sh"]})"), std::string::npos) << d.why;
  in.hook_chain = {"/root/mine.sh"};
  EXPECT_EQ(DecideVzdumpConf(in, {true, "/root/mine.sh"}).action, ConfAction::kSet);

  in.placement = HookPlacement::kJob;
  EXPECT_EQ(DecideVzdumpConf(in, {true, kHook}).action, ConfAction::kRemoveOurs);
  EXPECT_EQ(DecideVzdumpConf(in, {true, "/root/mine.sh"}).action, ConfAction::kKeep);
  EXPECT_EQ(DecideVzdumpConf(in, {false, ""}).action, ConfAction::kKeep);
}

}  // namespace
}  // namespace pbk
