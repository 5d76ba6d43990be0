// The two files behind /cluster/backup, read as PVE reads them:
//  - /etc/pve/jobs.cfg: a section config; only "vzdump:" sections are jobs.
//  - /etc/pve/vzdump.cron: legacy jobs, one cron line each, named
//    "<sha1 of the whole file>:<n>" with n counting the lines that parse as
//    jobs from 1 (PVE's parse_vzdump_cron_config).
// and the one change the guard may make to them: setting "--script" on a
// vzdump.cron line, keeping every other byte. jobs.cfg is never written.
#pragma once

#include <string>
#include <vector>

#include "api/pve/backup_job.h"

namespace pbk {

bool ParseJobsCfg(const std::string& text, std::vector<BackupJob>* jobs, std::string* err);

struct CronJob {
  BackupJob job;
  size_t line_begin = 0;  // byte offsets of the line in the file, without its newline
  size_t line_end = 0;
};

// Lines PVE would skip as malformed are reported in *warnings, not counted.
bool ParseVzdumpCron(const std::string& text, std::vector<CronJob>* jobs,
                     std::vector<std::string>* warnings);

// Sets "--script SCRIPT" on the line of legacy job JOB_ID: replaces the value
// of an existing --script option, or appends the option. Fails when the job
// is not in TEXT (ids change whenever the file changes).
bool PatchVzdumpCronScript(const std::string& text, const std::string& job_id,
                           const std::string& script, std::string* patched, std::string* err);

// Shell-like words with their byte spans, as Text::ParseWords splits them.
struct Word {
  std::string text;
  size_t begin = 0;
  size_t end = 0;
};
bool SplitShellWords(const std::string& line, std::vector<Word>* words, std::string* err);

// Quotes VALUE for a shell when it needs it.
std::string ShellQuote(const std::string& value);

}  // namespace pbk
