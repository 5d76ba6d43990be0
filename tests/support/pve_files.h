// The PVE job files the tests write: the reference's jobs.cfg and
// vzdump.cron (shared/reference/pve-backup-api.md), byte for byte, and
// jobs.cfg sections made the way PVE writes them.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace pbk::testing {

// The reference's jobs.cfg: job A (all guests, the packaged hook), job B
// (disabled, node pve2, guests 110 and 111) and a realm-sync section.
const std::string kRefJobsCfg =
    "vzdump: backup-8d6f3a2c-1b4e\n"
    "\tschedule 21:00\n"
    "\tall 1\n"
    "\tcompress zstd\n"
    "\tenabled 1\n"
    "\tmode snapshot\n"
    "\tnotes-template {{guestname}}\n"
    "\tprune-backups keep-daily=7,keep-weekly=4\n"
    "\tscript /var/lib/vz/snippets/vzdump-uptime-kuma-hook.sh\n"
    "\tstorage pbs-main\n"
    "\n"
    "vzdump: backup-5c01e9aa-73d2\n"
    "\tcomment DB servers\n"
    "\tschedule sat 02:30\n"
    "\tenabled 0\n"
    "\tmode stop\n"
    "\tnode pve2\n"
    "\tstorage local\n"
    "\tvmid 110,111\n"
    "\n"
    "realm-sync: sync-ldap\n"
    "\tschedule daily\n"
    "\trealm ldap\n";

// The section of jobs.cfg that is no backup job.
const std::string kRealmSync =
    "realm-sync: sync-ldap\n"
    "\tschedule daily\n"
    "\trealm ldap\n";

// What PVE writes above the job lines of vzdump.cron.
const std::string kCronHead =
    "# cluster wide vzdump cron schedule\n"
    "# Automatically generated file - do not edit\n"
    "\n"
    "PATH=\"/usr/sbin:/usr/bin:/sbin:/bin\"\n"
    "\n";

// The reference's three legacy job lines; the third is commented out (disabled).
const std::string kCron1 =
    "0 1 * * 6           root vzdump 100 101 --mode snapshot --compress zstd --storage local "
    "--quiet 1";
const std::string kCron2 =
    "30 22 * * 1,2,3,4,5 root vzdump --all 1 --exclude 105 --storage nfs-backup --mode snapshot "
    "--quiet 1";
const std::string kCron3 =
    "15 3 * * *          root #vzdump 200 --mode stop --storage local --quiet 1";

// The reference's vzdump.cron.
const std::string kRefCron = kCronHead + kCron1 + "\n" + kCron2 + "\n" + kCron3 + "\n";

// A vzdump.cron with LINES under PVE's head.
inline std::string Cron(const std::vector<std::string>& lines) {
  std::string text = kCronHead;
  for (const auto& line : lines) text += line + "\n";
  return text;
}

// jobs.cfg of SECTIONS, a blank line between two.
inline std::string JobsCfg(const std::vector<std::string>& sections) {
  std::string text;
  for (const auto& section : sections) text += (text.empty() ? "" : "\n") + section;
  return text;
}

// A vzdump section in PVE's order: the schedule first, then the other
// options by key; an option whose value is empty is left out.
inline std::string VzdumpSection(const std::string& id, const std::string& schedule,
                                 const std::map<std::string, std::string>& options) {
  std::string text = "vzdump: " + id + "\n\tschedule " + schedule + "\n";
  for (const auto& [key, value] : options) {
    if (!value.empty()) text += "\t" + key + " " + value + "\n";
  }
  return text;
}

}  // namespace pbk::testing
