// Malformed input for jobs.cfg, vzdump.cron and the shell words of its lines (tests/support/malformed_row.h).
#include "api/pve/job_files.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "api/pve/backup_job.h"
#include "api/pve/sha1.h"
#include "tests/support/malformed_row.h"

namespace pbk {
namespace {

using testing::Row;
using testing::RowName;

// ---------------------------------------------------------------- jobs.cfg

const Row kJobsCfgRows[] = {
    {"option_before_any_section", "\tschedule 21:00\n",
     {"jobs.cfg line 1: an option outside any section"}},
    {"option_after_a_comment", "# jobs\n  storage local\n",
     {"jobs.cfg line 2: an option outside any section"}},
    {"header_without_id", "vzdump:\n\tstorage local\n",
     {"jobs.cfg line 1: expected a section header like \"vzdump: backup-…\", got \"vzdump:\""}},
    {"header_without_colon", "vzdump backup-1\n",
     {"jobs.cfg line 1: expected a section header like \"vzdump: backup-…\", got \"vzdump "
      "backup-1\""}},
    {"header_id_with_space", "vzdump: backup 1\n",
     {"jobs.cfg line 1: expected a section header like \"vzdump: backup-…\", got \"vzdump: "
      "backup 1\""}},
    {"header_without_type", ": backup-1\n",
     {"jobs.cfg line 1: expected a section header like \"vzdump: backup-…\", got \": "
      "backup-1\""}},
    {"option_id", "vzdump: a\n\tid b\n",
     {"jobs.cfg line 2: option \"id\" is not allowed here or given twice"}},
    {"option_type", "vzdump: a\n\ttype realm-sync\n",
     {"jobs.cfg line 2: option \"type\" is not allowed here or given twice"}},
    {"option_twice", "vzdump: a\n\tstorage s1\n\tstorage s2\n",
     {"jobs.cfg line 3: option \"storage\" is not allowed here or given twice"}},
    // Values are checked once the section is complete: no line number.
    {"enabled_not_a_boolean", "vzdump: a\n\tenabled maybe\n",
     {"jobs.cfg: job \"a\": \"enabled\" is \"maybe\", expected a boolean"}},
    {"vmid_below_100", "vzdump: a\n\tvmid 99\n",
     {"jobs.cfg: job \"a\": \"vmid\" is not a list of guest ids: \"99\""}},
    {"vmid_not_a_number", "vzdump: a\n\tvmid 100,web\n",
     {"jobs.cfg: job \"a\": \"vmid\" is not a list of guest ids: \"100,web\""}},
    {"exclude_too_large", "vzdump: a\n\tall 1\n\texclude 1000000000\n",
     {"jobs.cfg: job \"a\": \"exclude\" is not a list of guest ids: \"1000000000\""}},
    {"error_in_a_later_section", "vzdump: a\n\tvmid 100\n\nvzdump: b\n\tenabled 2\n",
     {"jobs.cfg: job \"b\": \"enabled\" is \"2\", expected a boolean"}},
    // Found by fuzzing: bytes that are not UTF-8 are shown as U+FFFD.
    {"boolean_not_utf8", "vzdump: a\n\tall \xE9\n",
     {"jobs.cfg: job \"a\": \"all\" is \"\xEF\xBF\xBD\", expected a boolean"}},
};

class JobsCfgMalformedTest : public ::testing::TestWithParam<Row> {};

TEST_P(JobsCfgMalformedTest, SaysWhatIsWrong) {
  const Row& row = GetParam();
  std::vector<BackupJob> jobs;
  std::string err;
  const bool ok = ParseJobsCfg(row.input, &jobs, &err);
  EXPECT_FALSE(ok);
  EXPECT_EQ(err, row.expected.front()) << "input: " << row.input;
}

INSTANTIATE_TEST_SUITE_P(Rows, JobsCfgMalformedTest, ::testing::ValuesIn(kJobsCfgRows), RowName);

// ---------------------------------------------------------------- vzdump.cron

// Each input is one line after a good job; the expected texts are the
// warnings (the good job is always found). "@ID" stands for the id the
// second job gets, "<sha1 of the text>:2".
const Row kCronRows[] = {
    {"not_a_cron_line", "garbage", {"vzdump.cron line 2: not a vzdump job line; PVE ignores it"}},
    {"not_vzdump", "0 1 * * * root /usr/bin/backup 100",
     {"vzdump.cron line 2: not a vzdump job line; PVE ignores it"}},
    {"other_user", "0 1 * * * admin vzdump 100",
     {"vzdump.cron line 2: not a vzdump job line; PVE ignores it"}},
    {"day_of_month_set", "0 1 1 * * root vzdump 100",
     {"vzdump.cron line 2: not a vzdump job line; PVE ignores it"}},
    {"relative_command_path", "0 1 * * * root sbin/vzdump 100",
     {"vzdump.cron line 2: not a vzdump job line; PVE ignores it"}},
    {"minute_not_a_number", "x 1 * * * root vzdump 100",
     {"vzdump.cron line 2: not a vzdump job line; PVE ignores it"}},
    {"bad_day_name", "0 1 * * someday root vzdump 100",
     {"vzdump.cron line 2: unable to parse day of week \"someday\"; PVE skips this line, so it "
      "is no job"}},
    {"day_range_of_digits", "0 1 * * 1-5 root vzdump 100",
     {"vzdump.cron line 2: unable to parse day of week \"1-5\"; PVE skips this line, so it is "
      "no job"}},
    {"day_eight", "0 1 * * 8 root vzdump 100",
     {"vzdump.cron line 2: unable to parse day of week \"8\"; PVE skips this line, so it is no "
      "job"}},
    {"unmatched_single_quote", "0 1 * * * root vzdump 100 --mailto 'root@example",
     {"vzdump.cron line 2: cannot split the arguments: an unmatched single quote; PVE skips "
      "this line, so it is no job"}},
    {"unmatched_double_quote", "0 1 * * * root vzdump 100 --mailto \"root@example",
     {"vzdump.cron line 2: cannot split the arguments: an unmatched double quote; PVE skips "
      "this line, so it is no job"}},
    {"unknown_option", "0 1 * * * root vzdump 100 --bogus 1",
     {"vzdump.cron line 2: unknown vzdump option --bogus; PVE skips this line, so it is no "
      "job"}},
    {"unknown_option_with_equals", "0 1 * * * root vzdump 100 --storage=local --sparse=1",
     {"vzdump.cron line 2: unknown vzdump option --sparse; PVE skips this line, so it is no "
      "job"}},
    {"guest_not_a_number", "0 1 * * * root vzdump 100 web01",
     {"vzdump.cron line 2: not a guest id list: 100,web01; PVE skips this line, so it is no "
      "job"}},
    {"vmid_option_too_small", "0 1 * * * root vzdump --vmid 42",
     {"vzdump.cron line 2: not a guest id list: 42; PVE skips this line, so it is no job"}},
    // A value ParseBackupJob refuses: the message names the job by the id
    // the line would have had, without saying that the line is skipped.
    {"all_not_a_boolean", "0 1 * * * root vzdump --all maybe",
     {"vzdump.cron line 2: job \"@ID\": \"all\" is \"maybe\", expected a boolean"}},
    // Found by fuzzing: bytes that are not UTF-8 are shown as U+FFFD.
    {"all_not_utf8", "0 2 * * 6 root vzdump --all \xE9",
     {"vzdump.cron line 2: job \"@ID\": \"all\" is \"\xEF\xBF\xBD\", expected a boolean"}},
};

class VzdumpCronMalformedTest : public ::testing::TestWithParam<Row> {};

TEST_P(VzdumpCronMalformedTest, WarnsAndSkipsTheLine) {
  const Row& row = GetParam();
  const std::string text = "0 1 * * 6 root vzdump 100 --storage local\n" + row.input + "\n";
  std::vector<CronJob> jobs;
  std::vector<std::string> warnings;
  ASSERT_TRUE(ParseVzdumpCron(text, &jobs, &warnings));
  ASSERT_EQ(jobs.size(), 1u) << "input: " << row.input;
  EXPECT_EQ(jobs[0].job.id, Sha1Hex(text) + ":1");
  std::vector<std::string> expected = row.expected;
  for (auto& line : expected) {
    if (size_t at = line.find("@ID"); at != std::string::npos) {
      line.replace(at, 3, Sha1Hex(text) + ":2");
    }
  }
  EXPECT_EQ(warnings, expected) << "input: " << row.input;
}

INSTANTIATE_TEST_SUITE_P(Rows, VzdumpCronMalformedTest, ::testing::ValuesIn(kCronRows), RowName);

TEST(VzdumpCronMalformedTest, ALineWithABadValueStillTakesAJobNumber) {
  // The line after a refused --all value gets number 3, not 2 (the line
  // PVE skips for a bad day of week or an unknown option takes none).
  const std::string text =
      "0 1 * * 6 root vzdump 100\n"
      "0 2 * * 6 root vzdump --all maybe\n"
      "0 3 * * 6 root vzdump 101\n";
  std::vector<CronJob> jobs;
  std::vector<std::string> warnings;
  ParseVzdumpCron(text, &jobs, &warnings);
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[1].job.id, Sha1Hex(text) + ":3");
}

TEST(VzdumpCronMalformedTest, PatchingAJobThatIsNotThereIsAnError) {
  std::string patched, err;
  EXPECT_FALSE(PatchVzdumpCronScript("garbage\n", "abc:1", "/hook.sh", &patched, &err));
  EXPECT_EQ(err, "vzdump.cron has no job abc:1 (the file changed since it was read?)");
}

// Patching LINE's job to run /hook.sh gives EXPECTED, which is still one job
// and runs /hook.sh.
void ExpectPatch(const std::string& line, const std::string& expected) {
  std::vector<CronJob> jobs;
  std::vector<std::string> warnings;
  ParseVzdumpCron(line, &jobs, &warnings);
  ASSERT_EQ(jobs.size(), 1u) << line;
  std::string patched, err;
  ASSERT_TRUE(PatchVzdumpCronScript(line, jobs[0].job.id, "/hook.sh", &patched, &err)) << err;
  EXPECT_EQ(patched, expected);
  ParseVzdumpCron(patched, &jobs, &warnings);
  ASSERT_EQ(jobs.size(), 1u) << patched;
  EXPECT_EQ(jobs[0].job.script, "/hook.sh") << patched;
}

// Found by fuzzing: " --script …" appended after a backslash had its space
// escaped; the line then held a guest "root --script" and PVE skipped it.
TEST(VzdumpCronMalformedTest, PatchingALineThatEndsInABackslashKeepsItAJob) {
  ExpectPatch("0 1 * * 6 root vzdump 100 --storage local --mailto root\\\n",
              "0 1 * * 6 root vzdump --script /hook.sh 100 --storage local --mailto root\\\n");
  // The backslash escapes the first trailing blank.
  ExpectPatch("0 1 * * 6 root vzdump 100 --mailto root\\ \r\n",
              "0 1 * * 6 root vzdump --script /hook.sh 100 --mailto root\\ \r\n");
  // An escaped backslash escapes nothing; the option still goes first.
  ExpectPatch("0 1 * * 6 root vzdump 100 --mailto root\\\\\n",
              "0 1 * * 6 root vzdump --script /hook.sh 100 --mailto root\\\\\n");
}

// Found by fuzzing: vzdump (and ParseVzdumpCron) takes the last --script,
// the patch replaced the first and the job kept running /root/b.sh. The last
// is set; the first, which nothing reads, stays as it was.
TEST(VzdumpCronMalformedTest, PatchingALineWithTwoScriptOptionsSetsTheOneVzdumpUses) {
  ExpectPatch(
      "0 1 * * 6 root vzdump 100 --script /root/a.sh --storage local --script /root/b.sh\n",
      "0 1 * * 6 root vzdump 100 --script /root/a.sh --storage local --script /hook.sh\n");
  ExpectPatch("0 1 * * 6 root vzdump 100 --script=/root/a.sh -script /root/b.sh --quiet 1\n",
              "0 1 * * 6 root vzdump 100 --script=/root/a.sh -script /hook.sh --quiet 1\n");
  ExpectPatch("0 1 * * 6 root vzdump 100 --script /root/a.sh --script=/root/b.sh\n",
              "0 1 * * 6 root vzdump 100 --script /root/a.sh --script /hook.sh\n");
}

// Found by fuzzing: "--script" before another option has no value of its own
// (1, for vzdump), but the patch overwrote the next word, the other option's
// name; the line stopped parsing and the job was gone.
TEST(VzdumpCronMalformedTest, PatchingAScriptOptionWithoutValueGivesItOne) {
  ExpectPatch("0 1 * * 6 root vzdump 100 --script --storage local\n",
              "0 1 * * 6 root vzdump 100 --script /hook.sh --storage local\n");
  ExpectPatch("0 1 * * 6 root vzdump 100 --script\n",
              "0 1 * * 6 root vzdump 100 --script /hook.sh\n");
}

TEST(ShellWordsMalformedTest, UnmatchedQuotesAreNamed) {
  std::vector<Word> words;
  std::string err;
  EXPECT_FALSE(SplitShellWords("a \"b\\\" c", &words, &err));
  EXPECT_EQ(err, "an unmatched double quote");
  EXPECT_FALSE(SplitShellWords("'", &words, &err));
  EXPECT_EQ(err, "an unmatched single quote");
  // A trailing backslash is kept as it is.
  ASSERT_TRUE(SplitShellWords("a\\", &words, &err));
  EXPECT_EQ(words.at(0).text, "a\\");
}

}  // namespace
}  // namespace pbk
