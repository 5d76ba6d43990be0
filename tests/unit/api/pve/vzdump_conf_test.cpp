#include "api/pve/vzdump_conf.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include "tests/support/test_dir.h"

namespace pbk {
namespace {

using testing::TestDir;

const char kHook[] = "/var/lib/vz/snippets/vzdump-uptime-kuma-hook.sh";

// Shaped like the file PVE ships (pve-manager configs/vzdump.conf): every key commented.
const char kShipped[] =
    "# vzdump default settings\n"
    "\n"
    "#tmpdir: DIR\n"
    "#dumpdir: DIR\n"
    "#storage: STORAGE_ID\n"
    "#mode: snapshot|suspend|stop\n"
    "#bwlimit: KBPS\n"
    "#performance: [max-workers=N][,pbs-entries-max=N]\n"
    "#ionice: PRI\n"
    "#lockwait: MINUTES\n"
    "#stopwait: MINUTES\n"
    "#stdexcludes: BOOLEAN\n"
    "#mailto: ADDRESSLIST\n"
    "#prune-backups: keep-INTERVAL=N[,...]\n"
    "#script: FILENAME\n"
    "#exclude-path: PATHLIST\n"
    "#pigz: N:\n"
    "#notes-template: {{guestname}}\n"
    "#pbs-change-detection-mode: legacy|data|metadata\n"
    "#fleecing: enabled=BOOLEAN,storage=STORAGE_ID\n";

std::string Set(const std::string& text, const std::string& script = kHook) {
  std::string out, err;
  EXPECT_TRUE(SetVzdumpConfScript(text, script, &out, &err)) << err;
  return out;
}

TEST(VzdumpConfTest, AddsTheLineAfterTheCommentedOnePveShips) {
  std::string expected = kShipped;
  const std::string anchor = "#script: FILENAME\n";
  expected.insert(expected.find(anchor) + anchor.size(), std::string("script: ") + kHook + "\n");
  EXPECT_EQ(Set(kShipped), expected);
  VzdumpConfScript script;
  std::string err;
  ASSERT_TRUE(ParseVzdumpConf(expected, &script, &err)) << err;
  EXPECT_TRUE(script.present);
  EXPECT_EQ(script.value, kHook);
}

TEST(VzdumpConfTest, ReplacesOnlyTheScriptLineWhereverItIs) {
  EXPECT_EQ(Set("script: /old.sh\nstorage: local\n"),
            std::string("script: ") + kHook + "\nstorage: local\n");
  EXPECT_EQ(Set("# mine\nstorage: local\n  script:/old.sh  \nmode: stop\n"),
            std::string("# mine\nstorage: local\nscript: ") + kHook + "\nmode: stop\n");
  EXPECT_EQ(Set("storage: local\nscript: /old.sh"),
            std::string("storage: local\nscript: ") + kHook + "\n");
}

TEST(VzdumpConfTest, AddsAtTheEndWithoutACommentedLine) {
  EXPECT_EQ(Set("storage: local\nmode: snapshot\n"),
            std::string("storage: local\nmode: snapshot\nscript: ") + kHook + "\n");
  EXPECT_EQ(Set("storage: local"), std::string("storage: local\nscript: ") + kHook + "\n");
  EXPECT_EQ(Set(""), std::string("script: ") + kHook + "\n");
}

TEST(VzdumpConfTest, KeepsCrlfLineEnds) {
  EXPECT_EQ(Set("# defaults\r\n#script: FILENAME\r\nstorage: local\r\n"),
            std::string("# defaults\r\n#script: FILENAME\r\nscript: ") + kHook +
                "\r\nstorage: local\r\n");
  EXPECT_EQ(Set("script: /old.sh\r\nmode: stop\r\n"),
            std::string("script: ") + kHook + "\r\nmode: stop\r\n");
}

TEST(VzdumpConfTest, SettingTwiceChangesNothing) {
  const std::string once = Set(kShipped);
  EXPECT_EQ(Set(once), once);
}

TEST(VzdumpConfTest, AForeignValueIsReadAndRemovalLeavesIt) {
  VzdumpConfScript script;
  std::string err;
  ASSERT_TRUE(ParseVzdumpConf("script: /root/mine.sh\n", &script, &err)) << err;
  EXPECT_TRUE(script.present);
  EXPECT_EQ(script.value, "/root/mine.sh");
  std::string out;
  bool removed = true;
  ASSERT_TRUE(RemoveVzdumpConfScript("script: /root/mine.sh\n", kHook, &out, &removed, &err));
  EXPECT_FALSE(removed);
  EXPECT_EQ(out, "script: /root/mine.sh\n");
}

TEST(VzdumpConfTest, RemovalTakesOutOnlyOurLine) {
  const std::string with = Set(kShipped);
  std::string out, err;
  bool removed = false;
  ASSERT_TRUE(RemoveVzdumpConfScript(with, kHook, &out, &removed, &err)) << err;
  EXPECT_TRUE(removed);
  EXPECT_EQ(out, kShipped);
}

TEST(VzdumpConfTest, RefusesAFileVzdumpWouldNotReadAsWritten) {
  std::string out, err;
  EXPECT_FALSE(SetVzdumpConfScript("storage: local\nstorage: nfs\n", kHook, &out, &err));
  EXPECT_EQ(err, "line 2: \"storage\" is set a second time");
  EXPECT_FALSE(SetVzdumpConfScript("script: /a.sh\nscript: /b.sh\n", kHook, &out, &err));
  EXPECT_EQ(err, "line 2: \"script\" is set a second time");
  EXPECT_FALSE(SetVzdumpConfScript("# x\nstorage local\n", kHook, &out, &err));
  EXPECT_EQ(err, "line 2: \"storage local\" is neither a comment nor \"key: value\"");
  EXPECT_FALSE(SetVzdumpConfScript(": value\n", kHook, &out, &err));
  EXPECT_EQ(err, "line 1: \": value\" is neither a comment nor \"key: value\"");
}

TEST(VzdumpConfTest, RefusesAHookPathThatWouldBreakTheFile) {
  std::string out, err;
  EXPECT_FALSE(SetVzdumpConfScript("", "/a.sh\nmode: stop", &out, &err));
  EXPECT_FALSE(SetVzdumpConfScript("", "relative.sh", &out, &err));
  EXPECT_EQ(err, "the hook path \"relative.sh\" is not an absolute path on one line");
}

TEST(VzdumpConfTest, AMissingFileIsCreatedWithJustOurLine) {
  TestDir dir;
  const std::string path = dir.Path("vzdump.conf");
  VzdumpConfScript script;
  std::string err;
  ASSERT_TRUE(ReadVzdumpConfScript(path, &script, &err)) << err;
  EXPECT_FALSE(script.present);
  bool changed = false;
  ASSERT_TRUE(WriteVzdumpConfScript(path, kHook, &changed, &err)) << err;
  EXPECT_TRUE(changed);
  EXPECT_EQ(dir.Read("vzdump.conf"), std::string("script: ") + kHook + "\n");
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
}

TEST(VzdumpConfTest, FileWriteKeepsModeAndSkipsWhenUnchanged) {
  TestDir dir;
  const std::string path = dir.Write("vzdump.conf", kShipped);
  ASSERT_EQ(chmod(path.c_str(), 0640), 0);
  bool changed = false;
  std::string err;
  ASSERT_TRUE(WriteVzdumpConfScript(path, kHook, &changed, &err)) << err;
  EXPECT_TRUE(changed);
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  ASSERT_TRUE(WriteVzdumpConfScript(path, kHook, &changed, &err)) << err;
  EXPECT_FALSE(changed);
  ASSERT_TRUE(RemoveVzdumpConfScriptFile(path, kHook, &changed, &err)) << err;
  EXPECT_TRUE(changed);
  EXPECT_EQ(dir.Read("vzdump.conf"), kShipped);
}

TEST(VzdumpConfTest, ABrokenFileIsLeftAsItIsAndNamed) {
  TestDir dir;
  const std::string path = dir.Write("vzdump.conf", "mode: stop\nmode: snapshot\n");
  bool changed = true;
  std::string err;
  EXPECT_FALSE(WriteVzdumpConfScript(path, kHook, &changed, &err));
  EXPECT_FALSE(changed);
  EXPECT_EQ(err, path + ": line 2: \"mode\" is set a second time: not changed (vzdump would not "
                        "read it as written; fix it by hand)");
  EXPECT_EQ(dir.Read("vzdump.conf"), "mode: stop\nmode: snapshot\n");
}

}  // namespace
}  // namespace pbk
