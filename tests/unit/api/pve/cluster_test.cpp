#include "api/pve/cluster.h"

#include <gtest/gtest.h>

#include "tests/support/test_dir.h"

namespace pbk {
namespace {

using testing::TestDir;

// pmxcfs's .members of a three-node cluster (reference: pve-hook-placement.md).
const char kClusterMembers[] =
    R"({"nodename": "pve2", "version": 7,
        "cluster": {"name": "lab", "version": 3, "nodes": 3, "quorate": 1},
        "nodelist": {"pve3": {"id": 3, "online": 0, "ip": "192.0.2.3"},
                     "pve1": {"id": 1, "online": 1, "ip": "192.0.2.1"},
                     "pve2": {"id": 2, "online": 1, "ip": "192.0.2.2"}}})";

TEST(ClusterTest, ParsesAClusterSortedWithQuorum) {
  ClusterMembers members;
  std::string err;
  ASSERT_TRUE(ParseMembers(kClusterMembers, "ignored", &members, &err)) << err;
  EXPECT_EQ(members.local, "pve2");
  EXPECT_EQ(members.nodes, (std::vector<std::string>{"pve1", "pve2", "pve3"}));
  EXPECT_TRUE(members.clustered);
  EXPECT_TRUE(members.quorate);
}

TEST(ClusterTest, AClusterWithoutQuorumSaysSo) {
  std::string text = kClusterMembers;
  text.replace(text.find("\"quorate\": 1"), 12, "\"quorate\": 0");
  ClusterMembers members;
  std::string err;
  ASSERT_TRUE(ParseMembers(text, "", &members, &err)) << err;
  EXPECT_FALSE(members.quorate);
}

TEST(ClusterTest, AStandaloneNodeIsTheOnlyMember) {
  ClusterMembers members;
  std::string err;
  ASSERT_TRUE(ParseMembers(R"({"nodename": "solo", "version": 2})", "pve1", &members, &err))
      << err;
  EXPECT_EQ(members.local, "solo");
  EXPECT_EQ(members.nodes, std::vector<std::string>{"solo"});
  EXPECT_FALSE(members.clustered);
  EXPECT_TRUE(members.quorate);
}

TEST(ClusterTest, NoMembersFileIsAStandaloneNodeNamedByTheConfiguration) {
  TestDir dir;
  ClusterMembers members;
  std::string err;
  ASSERT_TRUE(ReadMembers(dir.path(), "pve1", &members, &err)) << err;
  EXPECT_EQ(members.local, "pve1");
  EXPECT_EQ(members.nodes, std::vector<std::string>{"pve1"});
  EXPECT_FALSE(members.clustered);
}

TEST(ClusterTest, BadMembersFilesAreErrorsThatNameTheFile) {
  TestDir dir;
  const std::string path = dir.Write(".members", "{\"nodelist\": [1, 2]}");
  ClusterMembers members;
  std::string err;
  EXPECT_FALSE(ReadMembers(dir.path(), "pve1", &members, &err));
  EXPECT_EQ(err, "reading " + path + ": \"nodelist\" is not an object");
  dir.Write(".members", "not json");
  EXPECT_FALSE(ReadMembers(dir.path(), "pve1", &members, &err));
  EXPECT_EQ(err, "reading " + path + ": not a JSON object");
  dir.Write(".members", R"({"nodename": "pve9", "nodelist": {"pve1": {"id": 1}}})");
  EXPECT_FALSE(ReadMembers(dir.path(), "pve1", &members, &err));
  EXPECT_EQ(err, "reading " + path + ": this node (pve9) is not in \"nodelist\"");
}

TEST(ClusterTest, MarkRoundTripsAndIsWrittenOnlyWhenItChanges) {
  TestDir dir;
  NodeMark mark{"1.4.0", "node", "/var/lib/vz/snippets/hook.sh", ""};
  bool changed = false;
  std::string err;
  ASSERT_TRUE(WriteNodeMark(dir.path(), "pve1", mark, &changed, &err)) << err;
  EXPECT_TRUE(changed);
  const std::string first = dir.Read("nodes/pve1/pbk-agent.json");

  NodeMark read;
  bool exists = false;
  ASSERT_TRUE(ReadNodeMark(dir.path(), "pve1", &read, &exists, &err)) << err;
  ASSERT_TRUE(exists);
  EXPECT_EQ(read.version, "1.4.0");
  EXPECT_EQ(read.placement, "node");
  EXPECT_EQ(read.hook, "/var/lib/vz/snippets/hook.sh");
  EXPECT_FALSE(read.updated.empty());

  ASSERT_TRUE(WriteNodeMark(dir.path(), "pve1", mark, &changed, &err)) << err;
  EXPECT_FALSE(changed);
  EXPECT_EQ(dir.Read("nodes/pve1/pbk-agent.json"), first);

  mark.placement = "job";
  ASSERT_TRUE(WriteNodeMark(dir.path(), "pve1", mark, &changed, &err)) << err;
  EXPECT_TRUE(changed);
  ASSERT_TRUE(ReadNodeMark(dir.path(), "pve1", &read, &exists, &err)) << err;
  EXPECT_EQ(read.placement, "job");

  ASSERT_TRUE(RemoveNodeMark(dir.path(), "pve1", &err)) << err;
  ASSERT_TRUE(ReadNodeMark(dir.path(), "pve1", &read, &exists, &err)) << err;
  EXPECT_FALSE(exists);
  EXPECT_TRUE(RemoveNodeMark(dir.path(), "pve1", &err)) << err;
}

TEST(ClusterTest, UnmarkedNodesCountsBrokenMarksAsMissing) {
  TestDir dir;
  NodeMark mark{"1.4.0", "job", "/hook.sh", ""};
  bool changed = false;
  std::string err;
  ASSERT_TRUE(WriteNodeMark(dir.path(), "pve1", mark, &changed, &err)) << err;
  dir.Write("nodes/pve3/pbk-agent.json", R"({"version": "1", "placement": "everywhere",
                                            "hook": "/hook.sh"})");
  std::vector<std::string> problems;
  EXPECT_EQ(UnmarkedNodes(dir.path(), {"pve1", "pve2", "pve3"}, &problems),
            (std::vector<std::string>{"pve2", "pve3"}));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0], "reading " + dir.Path("nodes/pve3/pbk-agent.json") +
                             ": \"placement\" is neither \"node\" nor \"job\"");
}

}  // namespace
}  // namespace pbk
