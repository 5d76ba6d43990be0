// The guard's job loop per placement, with members and marks.
#include <gtest/gtest.h>

#include "agent/guard.h"

namespace pbk {
namespace {

const char kHook[] = "/var/lib/vz/snippets/vzdump-uptime-kuma-hook.sh";

// jobs.cfg jobs only; SetScript("") deletes, as `pvesh set --delete script`.
class Jobs : public JobReader, public JobWriter {
 public:
  std::string Name() const override { return "fake"; }
  bool List(std::vector<BackupJob>* out, std::string*) override {
    ++lists;
    *out = jobs;
    return true;
  }
  bool CanWrite(const BackupJob&, std::string*) const override { return true; }
  bool SetScript(const BackupJob& job, const std::string& script, std::string* err) override {
    for (auto& candidate : jobs) {
      if (candidate.id != job.id) continue;
      candidate.script = script;
      written.push_back(job.id + "=" + script);
      return true;
    }
    *err = "no such job";
    return false;
  }
  int writes() const override { return static_cast<int>(written.size()); }

  void Add(const std::string& id, const std::string& script, const std::string& node = "") {
    BackupJob job;
    job.id = id;
    job.type = "vzdump";
    job.schedule = "21:00";
    job.script = script;
    job.node = node;
    jobs.push_back(job);
  }
  const BackupJob& At(const std::string& id) const {
    for (const auto& job : jobs) {
      if (job.id == id) return job;
    }
    static BackupJob none;
    return none;
  }

  std::vector<BackupJob> jobs;
  std::vector<std::string> written;
  int lists = 0;
};

GuardOptions Options(HookPlacement placement) {
  GuardOptions options;
  options.hook_script = kHook;
  options.placement = placement;
  options.members = {"pve1", "pve2"};
  options.marked = {"pve1", "pve2"};
  options.node_default_ours = placement == HookPlacement::kNode;
  return options;
}

const GuardJobState& State(const GuardResult& result, const std::string& id) {
  for (const auto& job : result.jobs) {
    if (job.id == id) return job;
  }
  static GuardJobState none;
  return none;
}

TEST(GuardPlacementTest, NodeTakesOurHookOffJobsAndLeavesTheRestToTheDefault) {
  Jobs pve;
  pve.Add("backup-a", kHook);
  pve.Add("backup-b", "");
  GuardResult result = RunGuard(Options(HookPlacement::kNode), {&pve}, &pve);
  EXPECT_TRUE(result.Ok());
  EXPECT_EQ(pve.written, std::vector<std::string>{"backup-a="});
  EXPECT_EQ(pve.At("backup-a").script, "");
  ASSERT_EQ(result.changes.size(), 1u);
  EXPECT_EQ(result.changes[0].old_script, kHook);
  EXPECT_EQ(result.changes[0].new_script, "");
  EXPECT_EQ(State(result, "backup-a").via, HookVia::kNodeDefault);
  EXPECT_EQ(State(result, "backup-b").via, HookVia::kNodeDefault);
  EXPECT_TRUE(State(result, "backup-b").carries_hook);
  EXPECT_EQ(pve.lists, 2) << "one read, one read back";

  // A second run has nothing to do.
  pve.written.clear();
  result = RunGuard(Options(HookPlacement::kNode), {&pve}, &pve);
  EXPECT_TRUE(result.Ok());
  EXPECT_TRUE(pve.written.empty());
}

TEST(GuardPlacementTest, NodeWithoutOurDefaultEveryPlainJobIsDrift) {
  Jobs pve;
  pve.Add("backup-b", "");
  GuardOptions options = Options(HookPlacement::kNode);
  options.node_default_ours = false;
  GuardResult result = RunGuard(options, {&pve}, &pve);
  EXPECT_FALSE(result.Ok());
  EXPECT_EQ(result.DriftLeft(), 1);
  EXPECT_EQ(State(result, "backup-b").problem,
            "the node default in vzdump.conf is not our hook");
  EXPECT_TRUE(pve.written.empty());
}

TEST(GuardPlacementTest, NodeAForeignScriptIsLeftUnlessChainedForItsJob) {
  Jobs pve;
  pve.Add("backup-f", "/root/mine.sh");
  GuardResult result = RunGuard(Options(HookPlacement::kNode), {&pve}, &pve);
  EXPECT_FALSE(result.Ok());
  EXPECT_TRUE(pve.written.empty());
  EXPECT_EQ(State(result, "backup-f").via, HookVia::kForeignScript);
  EXPECT_NE(State(result, "backup-f").problem.find(
                R"("jobs": {"backup-f": {"chain": ["/root/mine.sh"]}})"),
            std::string::npos);

  GuardOptions options = Options(HookPlacement::kNode);
  options.job_chains["backup-f"] = {"/root/mine.sh"};
  result = RunGuard(options, {&pve}, &pve);
  EXPECT_TRUE(result.Ok());
  EXPECT_EQ(pve.written, std::vector<std::string>{"backup-f="});
  EXPECT_EQ(State(result, "backup-f").via, HookVia::kNodeDefault);
}

TEST(GuardPlacementTest, JobSetsOnlyWhereEveryNodeIsMarked) {
  Jobs pve;
  pve.Add("backup-all", "");
  pve.Add("backup-pve1", "", "pve1");
  pve.Add("backup-pve2", "", "pve2");
  GuardOptions options = Options(HookPlacement::kJob);
  options.marked = {"pve1"};
  GuardResult result = RunGuard(options, {&pve}, &pve);
  EXPECT_FALSE(result.Ok());
  EXPECT_EQ(pve.written, std::vector<std::string>{std::string("backup-pve1=") + kHook});
  EXPECT_EQ(result.DriftLeft(), 2);
  EXPECT_EQ(State(result, "backup-all").unmarked, std::vector<std::string>{"pve2"});
  EXPECT_NE(State(result, "backup-all").problem.find("pve2"), std::string::npos);
  EXPECT_EQ(pve.At("backup-all").script, "");
}

TEST(GuardPlacementTest, JobOurHookIsTakenOffWhenANodeLosesItsMark) {
  Jobs pve;
  pve.Add("backup-all", kHook);
  GuardOptions options = Options(HookPlacement::kJob);
  options.marked = {"pve1"};
  GuardResult result = RunGuard(options, {&pve}, &pve);
  EXPECT_FALSE(result.Ok()) << "the job runs without the hook now";
  EXPECT_EQ(pve.At("backup-all").script, "");
  ASSERT_EQ(result.changes.size(), 1u);
  EXPECT_TRUE(result.changes[0].loud);
  EXPECT_NE(result.changes[0].why.find("pve2"), std::string::npos);
}

TEST(GuardPlacementTest, SwitchingPlacementIsOneRunEitherWay) {
  Jobs pve;
  pve.Add("backup-a", "");
  GuardResult result = RunGuard(Options(HookPlacement::kJob), {&pve}, &pve);
  EXPECT_TRUE(result.Ok());
  EXPECT_EQ(pve.At("backup-a").script, kHook);
  result = RunGuard(Options(HookPlacement::kNode), {&pve}, &pve);
  EXPECT_TRUE(result.Ok());
  EXPECT_EQ(pve.At("backup-a").script, "");
  result = RunGuard(Options(HookPlacement::kJob), {&pve}, &pve);
  EXPECT_TRUE(result.Ok());
  EXPECT_EQ(pve.At("backup-a").script, kHook);
}

TEST(GuardPlacementTest, MovedLegacyIdsAreFoundThroughTheCache) {
  BackupJob old_job;
  old_job.id = "0123abcd:2";
  old_job.schedule = "0 1 * * 6";
  old_job.storage = "local";
  old_job.vmids = {100, 101};
  BackupJob other = old_job;
  other.id = "0123abcd:1";
  other.vmids = {200};
  BackupJob moved = old_job;
  moved.id = "89efcdab:1";
  BackupJob moved_other = other;
  moved_other.id = "89efcdab:2";
  EXPECT_EQ(MovedLegacyIds({other, old_job}, {moved, moved_other}, {"0123abcd:2", "gone"}),
            (std::vector<std::pair<std::string, std::string>>{{"0123abcd:2", "89efcdab:1"}}));
  // Still listed under its id: nothing moved.
  EXPECT_TRUE(MovedLegacyIds({old_job}, {old_job}, {"0123abcd:2"}).empty());
  // Two alike candidates: no guess.
  BackupJob twin = moved;
  twin.id = "89efcdab:3";
  EXPECT_TRUE(MovedLegacyIds({old_job}, {moved, twin}, {"0123abcd:2"}).empty());
}

}  // namespace
}  // namespace pbk
