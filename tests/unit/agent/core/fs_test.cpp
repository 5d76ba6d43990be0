#include "agent/core/fs.h"

#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "tests/support/test_dir.h"

namespace pbk {
namespace {

TEST(FsTest, WriteFileAtomicReplacesTheFileWithTheGivenMode) {
  testing::TestDir dir;
  std::string err;
  ASSERT_TRUE(WriteFileAtomic(dir.Path("a.json"), "one", &err)) << err;
  AtomicWriteOptions options;
  options.mode = 0644;
  ASSERT_TRUE(WriteFileAtomic(dir.Path("a.json"), "two", options, &err)) << err;
  EXPECT_EQ(dir.Read("a.json"), "two");
  struct stat st {};
  ASSERT_EQ(stat(dir.Path("a.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  std::vector<std::string> names;
  ASSERT_TRUE(ListDir(dir.path(), &names, &err));
  EXPECT_EQ(names, std::vector<std::string>{"a.json"}) << "no temporary file may be left";
}

TEST(FsTest, AFailedWriteLeavesTheOldFile) {
  testing::TestDir dir;
  std::string err;
  ASSERT_TRUE(WriteFileAtomic(dir.Path("sub/a"), "old", &err) == false);
  EXPECT_EQ(err.rfind("writing " + dir.Path("sub/a") + ": creating a temporary file: ", 0), 0u)
      << err;
}

TEST(FsTest, TheLockedDescriptorHoldsTheNewFile) {
  testing::TestDir dir;
  std::string err;
  UniqueFd lock;
  AtomicWriteOptions options;
  options.locked_fd = &lock;
  ASSERT_TRUE(WriteFileAtomic(dir.Path("entry"), "x", options, &err));
  ASSERT_TRUE(lock.valid());
  UniqueFd other(open(dir.Path("entry").c_str(), O_RDONLY));
  EXPECT_NE(flock(other.get(), LOCK_EX | LOCK_NB), 0);
  lock.Reset();
  EXPECT_EQ(flock(other.get(), LOCK_EX | LOCK_NB), 0);
}

TEST(FsTest, FileLockTryTellsWhenTaken) {
  testing::TestDir dir;
  FileLock first, second;
  bool acquired = false;
  std::string err;
  ASSERT_TRUE(first.Acquire(dir.Path("lock"), FileLock::Mode::kTry, &acquired, &err));
  EXPECT_TRUE(acquired);
  ASSERT_TRUE(second.Acquire(dir.Path("lock"), FileLock::Mode::kTry, &acquired, &err));
  EXPECT_FALSE(acquired);
  first.Release();
  ASSERT_TRUE(second.Acquire(dir.Path("lock"), FileLock::Mode::kTry, &acquired, &err));
  EXPECT_TRUE(acquired);
}

TEST(FsTest, ListDirOfAMissingFolderIsEmpty) {
  std::vector<std::string> names{"x"};
  std::string err;
  EXPECT_TRUE(ListDir("/nonexistent/folder", &names, &err));
  EXPECT_TRUE(names.empty());
}

TEST(FsTest, PathHelpers) {
  EXPECT_EQ(JoinPath("/a/", "/b"), "/a/b");
  EXPECT_EQ(JoinPath("", "b"), "b");
  EXPECT_EQ(DirName("/a/b"), "/a");
  EXPECT_EQ(DirName("/a"), "/");
  EXPECT_EQ(DirName("a"), ".");
}

}  // namespace
}  // namespace pbk
