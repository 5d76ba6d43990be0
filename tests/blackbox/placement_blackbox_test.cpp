// Black-box tests of where `pbk-agent guard` sets the hook (guard.placement):
// the node default in vzdump.conf, and the hook on each job only where every
// node of the job runs pbk-agent. The built binary against the fake pvesh
// (acting as root@pam on a folder that plays /etc/pve); no API token, so the
// node default is checked by reading vzdump.conf back.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/fake_pve.h"
#include "tests/support/process.h"
#include "tests/support/pve_files.h"
#include "tests/support/test_dir.h"
#include "tests/support/test_text.h"

namespace pbk::testing {
namespace {

using nlohmann::json;
using std::chrono::seconds;

const std::string kBinDir = PBK_BIN_DIR;
constexpr char kJobA[] = "backup-8d6f3a2c-1b4e";
constexpr char kJobB[] = "backup-5c01e9aa-73d2";
constexpr char kMine[] = "/root/mount-usb.sh";

// Shaped like PVE's shipped file: every key commented, `#script:` among them.
const std::string kShippedConf =
    "# vzdump default settings\r\n"
    "\r\n"
    "#tmpdir: DIR\r\n"
    "#storage: STORAGE_ID\r\n"
    "#script: FILENAME\r\n"
    "#exclude-path: PATHLIST\r\n";

std::string Section(const std::string& id, const std::string& script,
                    const std::string& node = "") {
  return VzdumpSection(id, "21:00",
                       {{"all", "1"},
                        {"enabled", "1"},
                        {"mode", "snapshot"},
                        {"node", node},
                        {"script", script},
                        {"storage", "local"}});
}

class PlacementBlackboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    hook_ = dir_.Path("vzdump-uptime-kuma-hook.sh");
    FakePveOptions options;
    options.root = dir_.Path("root");
    options.work_dir = dir_.path();
    pve_ = std::make_unique<FakePve>(options);
    pvesh_ = pve_->InstallPvesh(dir_.path());
    ASSERT_FALSE(pvesh_.empty());
    ASSERT_TRUE(pve_->WriteRootFile("vzdump.cron", ""));
  }

  void WriteJobs(const std::vector<std::string>& sections) {
    ASSERT_TRUE(pve_->WriteRootFile("jobs.cfg", JobsCfg(sections)));
  }

  void WriteConfig(const std::string& placement, json jobs = json::object(),
                   json hook_chain = json::array()) {
    json config = {{"node", "pve1"},
                   {"kuma", {{"url", "https://127.0.0.1:9"}}},
                   {"jobs", jobs},
                   {"guard", {{"placement", placement}}},
                   {"hook", {{"chain", hook_chain}}},
                   {"pve", {{"pvesh", pvesh_}, {"timeout_seconds", 10}}},
                   {"paths",
                    {{"hook_script", hook_},
                     {"state_dir", dir_.Path("state")},
                     {"jobs_cfg", pve_->RootPath("jobs.cfg")},
                     {"vzdump_cron", pve_->RootPath("vzdump.cron")},
                     {"vzdump_conf", dir_.Path("vzdump.conf")},
                     {"pve_dir", pve_->root()},
                     {"scheduler_dir", dir_.Path("sched")}}}};
    config_ = dir_.Write("config.json", config.dump(2) + "\n");
  }

  void WriteMembers(const std::vector<std::string>& nodes) {
    json nodelist = json::object();
    int id = 1;
    for (const auto& node : nodes) nodelist[node] = {{"id", id++}, {"online", 1}};
    ASSERT_TRUE(pve_->WriteRootFile(
        ".members", json({{"nodename", "pve1"},
                          {"version", 4},
                          {"cluster", {{"name", "lab"}, {"nodes", nodes.size()}, {"quorate", 1}}},
                          {"nodelist", nodelist}})
                        .dump()));
  }

  void Mark(const std::string& node, const std::string& placement) {
    std::filesystem::create_directories(pve_->RootPath("nodes/" + node));
    ASSERT_TRUE(pve_->WriteRootFile(
        "nodes/" + node + "/pbk-agent.json",
        json({{"version", "0.1.0"}, {"placement", placement}, {"hook", hook_}}).dump()));
  }

  RunResult Guard(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {kBinDir + "/pbk-agent", "--config", config_, "guard"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    RunResult result = pbk::testing::Run(argv, nullptr, seconds(60));
    EXPECT_TRUE(result.started) << result.error;
    return result;
  }

  // job id -> script, as pvesh lists the jobs now.
  std::map<std::string, std::string> Scripts() const {
    std::map<std::string, std::string> out;
    json jobs;
    std::string err;
    EXPECT_TRUE(pve_->ListJobs(&jobs, &err)) << err;
    for (const auto& job : jobs) {
      out[Str(job, "id")] = job.contains("script") ? Str(job, "script") : "";
    }
    return out;
  }

  std::vector<std::vector<std::string>> SetCalls() const {
    std::vector<std::vector<std::string>> out;
    for (const auto& call : pve_->PveshCalls()) {
      auto argv = call["argv"].get<std::vector<std::string>>();
      if (!argv.empty() && argv[0] == "set") out.push_back(argv);
    }
    return out;
  }

  TestDir dir_;
  std::unique_ptr<FakePve> pve_;
  std::string pvesh_;
  std::string hook_;
  std::string config_;
};

TEST_F(PlacementBlackboxTest, NodeSetsVzdumpConfAndTakesOurHookOffTheJobs) {
  dir_.Write("vzdump.conf", kShippedConf);
  ASSERT_NO_FATAL_FAILURE(WriteJobs({Section(kJobA, hook_), Section(kJobB, "")}));
  WriteConfig("node");

  RunResult first = Guard();
  EXPECT_EQ(first.exit_code, 0) << first.err;
  // Our line right after the commented one, CRLF kept, nothing else touched.
  std::string expected = kShippedConf;
  const std::string anchor = "#script: FILENAME\r\n";
  expected.insert(expected.find(anchor) + anchor.size(), "script: " + hook_ + "\r\n");
  EXPECT_EQ(dir_.Read("vzdump.conf"), expected);
  // The migration: exactly one pvesh call takes our hook off job A.
  EXPECT_EQ(SetCalls(), (std::vector<std::vector<std::string>>{
                            {"set", std::string("/cluster/backup/") + kJobA, "--delete", "script"}}));
  EXPECT_EQ(Scripts(), (std::map<std::string, std::string>{{kJobA, ""}, {kJobB, ""}}));
  EXPECT_TRUE(Contains(first.err, std::string("job ") + kJobA + ": its own script")) << first.err;
  // This node is marked, with its placement.
  json mark = json::parse(pve_->ReadRootFile("nodes/pve1/pbk-agent.json"));
  EXPECT_EQ(Str(mark, "placement"), "node");
  EXPECT_EQ(Str(mark, "hook"), hook_);

  // A second run writes nothing.
  const size_t calls = pve_->PveshCalls().size();
  RunResult second = Guard({"--json"});
  EXPECT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(SetCalls().size(), 1u);
  EXPECT_EQ(pve_->PveshCalls().size(), calls + 1) << "one list, nothing else";
  json report = json::parse(second.out);
  EXPECT_EQ(At(report, "placement"), "node");
  EXPECT_EQ(At(At(report, "vzdump_conf"), "ours"), true);
  for (const auto& job : At(report, "jobs")) EXPECT_EQ(Str(job, "hook_via"), "node default");
}

TEST_F(PlacementBlackboxTest, NodeAMissingVzdumpConfIsCreatedWithJustOurLine) {
  ASSERT_NO_FATAL_FAILURE(WriteJobs({Section(kJobB, "")}));
  WriteConfig("node");
  RunResult guard = Guard();
  EXPECT_EQ(guard.exit_code, 0) << guard.err;
  EXPECT_EQ(dir_.Read("vzdump.conf"), "script: " + hook_ + "\n");
  EXPECT_TRUE(SetCalls().empty());
}

TEST_F(PlacementBlackboxTest, NodeAForeignJobScriptIsTakenOverOnlyWhenChainedForTheJob) {
  ASSERT_NO_FATAL_FAILURE(WriteJobs({Section(kJobA, kMine)}));
  WriteConfig("node");
  RunResult left = Guard();
  EXPECT_EQ(left.exit_code, 1) << left.err;
  EXPECT_TRUE(SetCalls().empty());
  EXPECT_EQ(Scripts().at(kJobA), kMine);
  EXPECT_TRUE(Contains(left.err, std::string("add \"jobs\": {\"") + kJobA +
                                     "\": {\"chain\": [\"" + kMine + "\"]}}"))
      << left.err;

  WriteConfig("node", {{kJobA, {{"chain", {kMine}}}}});
  RunResult taken = Guard();
  EXPECT_EQ(taken.exit_code, 0) << taken.err;
  EXPECT_EQ(Scripts().at(kJobA), "");
}

TEST_F(PlacementBlackboxTest, NodeAForeignDefaultIsReplacedOnlyWhenInHookChain) {
  dir_.Write("vzdump.conf", std::string("storage: local\nscript: ") + kMine + "\n");
  ASSERT_NO_FATAL_FAILURE(WriteJobs({Section(kJobB, "")}));
  WriteConfig("node");
  RunResult left = Guard();
  EXPECT_EQ(left.exit_code, 1) << left.err;
  EXPECT_EQ(dir_.Read("vzdump.conf"), std::string("storage: local\nscript: ") + kMine + "\n");
  EXPECT_TRUE(Contains(left.err, std::string("\"hook\": {\"chain\": [\"") + kMine + "\"]}"))
      << left.err;

  WriteConfig("node", json::object(), {kMine});
  RunResult replaced = Guard();
  EXPECT_EQ(replaced.exit_code, 0) << replaced.err;
  EXPECT_EQ(dir_.Read("vzdump.conf"), "storage: local\nscript: " + hook_ + "\n");
}

TEST_F(PlacementBlackboxTest, NodeABrokenVzdumpConfIsLeftAndNamed) {
  dir_.Write("vzdump.conf", "storage: local\nstorage: nfs\n");
  ASSERT_NO_FATAL_FAILURE(WriteJobs({Section(kJobB, "")}));
  WriteConfig("node");
  RunResult guard = Guard();
  EXPECT_EQ(guard.exit_code, 1) << guard.err;
  EXPECT_EQ(dir_.Read("vzdump.conf"), "storage: local\nstorage: nfs\n");
  EXPECT_TRUE(Contains(guard.err, "line 2: \"storage\" is set a second time")) << guard.err;
}

TEST_F(PlacementBlackboxTest, JobLeavesAJobWithAnUnmarkedNodeAndNamesIt) {
  ASSERT_NO_FATAL_FAILURE(WriteMembers({"pve1", "pve2", "pve3"}));
  ASSERT_NO_FATAL_FAILURE(Mark("pve2", "job"));
  ASSERT_NO_FATAL_FAILURE(
      WriteJobs({Section(kJobA, ""), Section(kJobB, "", "pve2")}));
  WriteConfig("job");
  RunResult guard = Guard();
  EXPECT_EQ(guard.exit_code, 1) << guard.err;
  EXPECT_EQ(Scripts(), (std::map<std::string, std::string>{{kJobA, ""}, {kJobB, hook_}}));
  EXPECT_TRUE(Contains(guard.err, "pbk-agent is not on node(s) pve3")) << guard.err;
  // This guard marked its own node.
  EXPECT_TRUE(pve_->ReadRootFile("nodes/pve1/pbk-agent.json").find("\"job\"") !=
              std::string::npos);
  // No node default in job placement.
  EXPECT_FALSE(dir_.Exists("vzdump.conf"));
}

TEST_F(PlacementBlackboxTest, JobTakesOurHookOffLoudlyWhenANodeHasNoMark) {
  ASSERT_NO_FATAL_FAILURE(WriteMembers({"pve1", "pve2"}));
  ASSERT_NO_FATAL_FAILURE(WriteJobs({Section(kJobA, "")}));
  WriteConfig("job");
  // Marked first: the hook goes on.
  ASSERT_NO_FATAL_FAILURE(Mark("pve2", "job"));
  RunResult set = Guard();
  EXPECT_EQ(set.exit_code, 0) << set.err;
  EXPECT_EQ(Scripts().at(kJobA), hook_);
  // pve2 loses its mark (pbk-agent purged there): the hook comes off again.
  std::filesystem::remove(pve_->RootPath("nodes/pve2/pbk-agent.json"));
  RunResult off = Guard();
  EXPECT_EQ(off.exit_code, 1) << off.err;
  EXPECT_EQ(Scripts().at(kJobA), "");
  EXPECT_TRUE(Contains(off.err, std::string("WARNING: job ") + kJobA)) << off.err;
  EXPECT_TRUE(Contains(off.err, "pve2")) << off.err;
}

TEST_F(PlacementBlackboxTest, SwitchingToNodePlacementIsOneRunAndReleaseTakesTheLineOut) {
  ASSERT_NO_FATAL_FAILURE(WriteJobs({Section(kJobA, "")}));
  WriteConfig("job");
  ASSERT_EQ(Guard().exit_code, 0);
  EXPECT_EQ(Scripts().at(kJobA), hook_);
  WriteConfig("node");
  RunResult node = Guard();
  EXPECT_EQ(node.exit_code, 0) << node.err;
  EXPECT_EQ(Scripts().at(kJobA), "");
  EXPECT_EQ(dir_.Read("vzdump.conf"), "script: " + hook_ + "\n");
  // Package removal.
  RunResult release = Guard({"--release"});
  EXPECT_EQ(release.exit_code, 0) << release.err;
  EXPECT_EQ(dir_.Read("vzdump.conf"), "");
}

}  // namespace
TEST_F(PlacementBlackboxTest, VerifyShowsTheNodeDefaultAndWhichMembersCarryPbkAgent) {
  dir_.Write("vzdump.conf", kShippedConf);
  ASSERT_NO_FATAL_FAILURE(WriteJobs({Section(kJobA, hook_), Section(kJobB, "")}));
  ASSERT_NO_FATAL_FAILURE(WriteMembers({"pve1", "pve2", "pve3"}));
  ASSERT_NO_FATAL_FAILURE(Mark("pve2", "node"));
  WriteConfig("node");
  auto verify = [&] {
    RunResult result = pbk::testing::Run({kBinDir + "/pbk-agent", "--config", config_, "verify"},
                                         nullptr, seconds(60));
    EXPECT_TRUE(result.started) << result.error;
    return result;
  };
  const std::string conf = dir_.Path("vzdump.conf");

  // Before the guard ran: no node default, this node not marked yet.
  RunResult before = verify();
  EXPECT_NE(before.exit_code, 0);
  EXPECT_TRUE(Contains(before.out, "FAIL node default: " + conf + " does not name the hook"))
      << before.out;
  EXPECT_TRUE(Contains(before.out, "WARN pbk-agent nodes: on pve2; missing on pve1, pve3"))
      << before.out;
  EXPECT_TRUE(Contains(before.out, std::string("FAIL job ") + kJobB +
                                       ": runs no script of its own: the hook " + hook_ +
                                       " is not in effect"))
      << before.out;

  RunResult guard = Guard();
  EXPECT_EQ(guard.exit_code, 0) << guard.err;
  RunResult after = verify();
  EXPECT_TRUE(Contains(after.out, "OK   node default: " + conf +
                                      " runs the hook for every job without a script of its own"))
      << after.out;
  EXPECT_TRUE(Contains(after.out, "WARN pbk-agent nodes: on pve1, pve2; missing on pve3: runs of "
                                  "backup jobs there are not monitored"))
      << after.out;
  EXPECT_TRUE(Contains(after.out, "install pbk-agent there")) << after.out;
  EXPECT_TRUE(Contains(after.out, "2 job(s) read through pvesh, 2 run the hook")) << after.out;
}

}  // namespace pbk::testing
