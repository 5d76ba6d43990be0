#include "api/pve/job_files.h"

#include <gtest/gtest.h>

#include <iostream>

#include "api/pve/sha1.h"
#include "tests/support/pve_files.h"

namespace pbk {
namespace {

using testing::kRefCron;
using testing::kRefJobsCfg;

TEST(Sha1Test, InPartsGivesTheDigestOfTheWhole) {
  std::string text;
  for (int i = 0; i < 300; ++i) text += static_cast<char>('a' + (i * 7) % 26);
  const std::string whole = Sha1Hex(text);
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    Sha1 sha1;
    sha1.Update(std::string_view(text).substr(0, cut));
    sha1.Update(std::string_view(text).substr(cut));
    ASSERT_EQ(sha1.HexDigest(), whole) << "cut at " << cut;
  }
  // Many small parts, across block boundaries.
  Sha1 parts;
  for (size_t at = 0; at < text.size(); at += 7) parts.Update(std::string_view(text).substr(at, 7));
  EXPECT_EQ(parts.HexDigest(), whole);
  Sha1 million;
  for (int i = 0; i < 1000; ++i) million.Update(std::string(1000, 'a'));
  EXPECT_EQ(million.HexDigest(), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

TEST(Sha1Test, TheCpuInstructionsAndThePortableCodeAgree) {
  // On a CPU without SHA extensions both are the portable code; said so.
  std::cout << "SHA-1 with the CPU's instructions: "
            << (Sha1UsesCpuInstructions() ? "yes" : "no (both sides portable)") << std::endl;
  std::string data;
  uint32_t seed = 12345;
  for (size_t size : {0u, 1u, 55u, 56u, 63u, 64u, 65u, 127u, 128u, 1000u, 65536u, 100003u}) {
    data.resize(size);
    for (auto& c : data) {
      seed = seed * 1103515245u + 12345u;
      c = static_cast<char>(seed >> 24);
    }
    EXPECT_EQ(Sha1Hex(data), Sha1HexPortable(data)) << size << " bytes";
  }
  EXPECT_EQ(Sha1HexPortable("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
}

TEST(Sha1Test, MatchesTheStandardVectors) {
  EXPECT_EQ(Sha1Hex(""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  EXPECT_EQ(Sha1Hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(Sha1Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  EXPECT_EQ(Sha1Hex(std::string(1000000, 'a')), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
  // Lengths around the block boundary, where the padding spills into a
  // second block (digests from Python's hashlib).
  EXPECT_EQ(Sha1Hex(std::string(55, 'x')), "cef734ba81a024479e09eb5a75b6ddae62e6abf1");
  EXPECT_EQ(Sha1Hex(std::string(56, 'x')), "901305367c259952f4e7af8323f480d59f81335b");
  EXPECT_EQ(Sha1Hex(std::string(63, 'x')), "0ddc4e0cccd9a12850deb5abb0853a4425559fec");
  EXPECT_EQ(Sha1Hex(std::string(64, 'x')), "bb2fa3ee7afb9f54c6dfb5d021f14b1ffe40c163");
  EXPECT_EQ(Sha1Hex(std::string(65, 'x')), "78c741ddc482e4cdf8c474a0876347a0905b6233");
}

TEST(VzdumpCronTest, NamesLegacyJobsAsPveDoes) {
  std::vector<CronJob> jobs;
  std::vector<std::string> warnings;
  ASSERT_TRUE(ParseVzdumpCron(kRefCron, &jobs, &warnings));
  EXPECT_TRUE(warnings.empty());
  ASSERT_EQ(jobs.size(), 3u);
  const std::string digest = "f2b707fb356142983a94f26d53ea8c541ed67139";  // sha1sum of kRefCron
  EXPECT_EQ(jobs[0].job.id, digest + ":1");
  EXPECT_EQ(jobs[1].job.id, digest + ":2");
  EXPECT_EQ(jobs[2].job.id, digest + ":3");
  EXPECT_TRUE(jobs[0].job.IsLegacy());
  EXPECT_EQ(jobs[0].job.vmids, (std::vector<int>{100, 101}));
  EXPECT_EQ(jobs[0].job.storage, "local");
  EXPECT_EQ(jobs[0].job.schedule, "sat 01:00");
  EXPECT_TRUE(jobs[1].job.all);
  EXPECT_EQ(jobs[1].job.exclude, std::vector<int>{105});
  EXPECT_EQ(jobs[1].job.schedule, "mon,tue,wed,thu,fri 22:30");
  EXPECT_FALSE(jobs[2].job.enabled);
  EXPECT_EQ(jobs[2].job.schedule, "03:15");
  EXPECT_EQ(jobs[2].job.script, "");
}

TEST(VzdumpCronTest, LinesPveSkipsAreNotCounted) {
  const std::string text =
      "0 1 * * 6 root vzdump 100 --storage local\n"
      "0 2 * * xyz root vzdump 101 --storage local\n"     // bad day: skipped
      "0 3 * * * root vzdump 102 --bogus 1\n"              // unknown option: skipped
      "garbage\n"                                          // ignored
      "0 4 * * sun root /usr/bin/vzdump 103 --storage=local\n";
  std::vector<CronJob> jobs;
  std::vector<std::string> warnings;
  ParseVzdumpCron(text, &jobs, &warnings);
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[1].job.id, Sha1Hex(text) + ":2");
  EXPECT_EQ(jobs[1].job.vmids, std::vector<int>{103});
  EXPECT_EQ(jobs[1].job.storage, "local");
  ASSERT_EQ(warnings.size(), 3u);
  EXPECT_EQ(warnings[0],
            "vzdump.cron line 2: unable to parse day of week \"xyz\"; PVE skips this line, so it "
            "is no job");
  EXPECT_EQ(warnings[1],
            "vzdump.cron line 3: unknown vzdump option --bogus; PVE skips this line, so it is no "
            "job");
  EXPECT_EQ(warnings[2], "vzdump.cron line 4: not a vzdump job line; PVE ignores it");
}

TEST(VzdumpCronTest, PatchingSetsTheScriptAndKeepsEveryOtherByte) {
  std::vector<CronJob> jobs;
  std::vector<std::string> warnings;
  ParseVzdumpCron(kRefCron, &jobs, &warnings);
  const std::string hook = "/var/lib/vz/snippets/vzdump-uptime-kuma-hook.sh";
  std::string patched, err;
  ASSERT_TRUE(PatchVzdumpCronScript(kRefCron, jobs[1].job.id, hook, &patched, &err)) << err;
  std::string expected = kRefCron;
  const std::string line2_end = "--mode snapshot --quiet 1\n15 3";
  expected.replace(expected.find(line2_end), line2_end.size(),
                   "--mode snapshot --quiet 1 --script " + hook + "\n15 3");
  EXPECT_EQ(patched, expected);

  // An existing --script is replaced in place, quoted when it must be.
  const std::string with_script =
      "0 1 * * 6 root vzdump 100 --script '/root/my hook.sh' --storage local\r\n";
  ParseVzdumpCron(with_script, &jobs, &warnings);
  ASSERT_TRUE(PatchVzdumpCronScript(with_script, jobs[0].job.id, hook, &patched, &err));
  EXPECT_EQ(patched, "0 1 * * 6 root vzdump 100 --script " + hook + " --storage local\r\n");
  ASSERT_TRUE(PatchVzdumpCronScript(with_script, jobs[0].job.id, "/x y", &patched, &err));
  EXPECT_EQ(patched, "0 1 * * 6 root vzdump 100 --script '/x y' --storage local\r\n");

  EXPECT_FALSE(PatchVzdumpCronScript(kRefCron, "0000:1", hook, &patched, &err));
  EXPECT_EQ(err, "vzdump.cron has no job 0000:1 (the file changed since it was read?)");
}

TEST(JobsCfgTest, OnlyVzdumpSectionsAreJobs) {
  std::vector<BackupJob> jobs;
  std::string err;
  ASSERT_TRUE(ParseJobsCfg(kRefJobsCfg, &jobs, &err)) << err;
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[0].id, "backup-8d6f3a2c-1b4e");
  EXPECT_EQ(jobs[0].type, "vzdump");
  EXPECT_TRUE(jobs[0].all);
  EXPECT_EQ(jobs[0].script, "/var/lib/vz/snippets/vzdump-uptime-kuma-hook.sh");
  EXPECT_FALSE(jobs[0].IsLegacy());
  EXPECT_EQ(jobs[1].comment, "DB servers");
  EXPECT_FALSE(jobs[1].enabled);
  EXPECT_EQ(jobs[1].node, "pve2");
  EXPECT_EQ(jobs[1].vmids, (std::vector<int>{110, 111}));
}

TEST(JobsCfgTest, BrokenFilesAreNamedWithTheLine) {
  std::vector<BackupJob> jobs;
  std::string err;
  EXPECT_FALSE(ParseJobsCfg("\tschedule 21:00\n", &jobs, &err));
  EXPECT_EQ(err, "jobs.cfg line 1: an option outside any section");
  EXPECT_FALSE(ParseJobsCfg("vzdump: a\n\tenabled 1\nthis is not a header\n", &jobs, &err));
  EXPECT_EQ(err,
            "jobs.cfg line 3: expected a section header like \"vzdump: backup-…\", got \"this is "
            "not a header\"");
  EXPECT_FALSE(ParseJobsCfg("vzdump: a\n\tvmid 1x\n", &jobs, &err));
  EXPECT_EQ(err, "jobs.cfg: job \"a\": \"vmid\" is not a list of guest ids: \"1x\"");
  EXPECT_FALSE(ParseJobsCfg("vzdump: a\n\tmode stop\n\tmode snapshot\n", &jobs, &err));
  EXPECT_EQ(err, "jobs.cfg line 3: option \"mode\" is not allowed here or given twice");
}

TEST(ShellWordsTest, SplitsLikeAShell) {
  std::vector<Word> words;
  std::string err;
  ASSERT_TRUE(SplitShellWords(R"(a 'b c' "d \"e\"" f\ g)", &words, &err));
  ASSERT_EQ(words.size(), 4u);
  EXPECT_EQ(words[1].text, "b c");
  EXPECT_EQ(words[2].text, "d \"e\"");
  EXPECT_EQ(words[3].text, "f g");
  EXPECT_EQ(words[1].begin, 2u);
  EXPECT_EQ(words[1].end, 7u);
  EXPECT_FALSE(SplitShellWords("a 'b", &words, &err));
  EXPECT_EQ(err, "an unmatched single quote");
  EXPECT_EQ(ShellQuote("/plain/path.sh"), "/plain/path.sh");
  EXPECT_EQ(ShellQuote("it's"), "'it'\\''s'");
}

}  // namespace
}  // namespace pbk
