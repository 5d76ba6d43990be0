#include "agent/pve_access.h"

#include <unistd.h>

#include <cerrno>

#include "agent/core/fs.h"
#include "agent/core/log.h"
#include "agent/core/text.h"

namespace pbk {
namespace {

bool ReadTokenSecret(const PveConfig& pve, std::string* secret, std::string* err) {
  if (!CheckPrivateFile(pve.token_secret_file, "the PVE API token secret", err)) return false;
  std::string text;
  if (!ReadFile(pve.token_secret_file, &text, err)) return false;
  *secret = std::string(Trim(text));
  if (secret->empty() || secret->find_first_of(" \t\r\n") != std::string::npos) {
    *err = pve.token_secret_file + ": expected the token secret alone (one line, no spaces)";
    return false;
  }
  AddSecrets({*secret});
  return true;
}

}  // namespace

bool OpenPveAccess(const Config& config, PveAccess* access, std::string* err) {
  const auto timeout = std::chrono::seconds(config.pve.timeout_seconds);
  access->token_id = config.pve.token_id;
  if (!config.pve.token_id.empty()) {
    std::string secret;
    if (!ReadTokenSecret(config.pve, &secret, err)) return false;
    std::string why;
    access->http = NewHttpClient(TlsSettings{config.pve.ca_file, ""}, &why);
    if (access->http) {
      access->rest = std::make_unique<RestReader>(
          access->http.get(),
          RestSettings{config.pve.api.host, config.pve.api.port, config.pve.token_id, secret,
                       timeout});
      access->readers.push_back(access->rest.get());
      access->guest_readers.push_back(access->rest.get());
    } else {
      access->rest_problem = "the PVE API cannot be used: " + why;
      access->notes.push_back(access->rest_problem);
    }
  } else {
    access->rest_problem = "no API token is configured (pve.token_id)";
    access->notes.push_back(access->rest_problem + "; reading through pvesh");
  }
  if (::access(config.pve.pvesh.c_str(), X_OK) == 0) {
    access->pvesh = std::make_unique<Pvesh>(config.pve.pvesh, timeout);
    access->readers.push_back(access->pvesh.get());
    access->guest_readers.push_back(access->pvesh.get());
  } else {
    access->notes.push_back("pvesh is not available at " + config.pve.pvesh + " (" +
                            ErrnoText(errno) + "); only legacy vzdump.cron jobs can be fixed");
  }
  access->files = std::make_unique<FileJobReader>(config.paths.jobs_cfg, config.paths.vzdump_cron);
  access->readers.push_back(access->files.get());
  access->cron_patch = std::make_unique<CronPatchWriter>(config.paths.vzdump_cron);
  access->writer = access->pvesh ? static_cast<JobWriter*>(access->pvesh.get())
                                 : static_cast<JobWriter*>(access->cron_patch.get());
  return true;
}

bool ReadGuests(const PveAccess& access, std::vector<Guest>* guests, std::string* err) {
  for (GuestReader* reader : access.guest_readers) {
    if (!reader->ListGuests(guests, err)) continue;
    if (guests->empty() && reader == access.rest.get() && access.pvesh) {
      std::vector<Guest> seen_by_root;
      std::string ignored;
      if (access.pvesh->ListGuests(&seen_by_root, &ignored) && !seen_by_root.empty()) {
        *err = "the API token " + access.token_id + " sees no guest while pvesh sees " +
               std::to_string(seen_by_root.size()) +
               ": the token lacks VM.Audit on /vms (grant it: pveum acl modify /vms --tokens '" +
               access.token_id + "' --roles PVEAuditor)";
        guests->clear();
        return false;
      }
    }
    return true;
  }
  if (access.guest_readers.empty()) *err = "no way to read the guests is configured";
  return false;
}

bool ReadJobs(const PveAccess& access, const std::string& job_cache, std::vector<BackupJob>* jobs,
              std::string* source, std::vector<std::string>* warnings, std::string* err) {
  for (JobReader* reader : access.readers) {
    std::string why;
    if (reader->List(jobs, &why)) {
      *source = reader->Name();
      return true;
    }
    warnings->push_back("reading the jobs through " + reader->Name() + " failed: " + why);
  }
  JobCache cache;
  bool exists = false;
  std::string why;
  if (!LoadJobCache(job_cache, &cache, &exists, &why) || !exists) {
    *err = "no job list available (and none cached by the guard" +
           (why.empty() ? std::string(")") : ": " + why + ")");
    return false;
  }
  *jobs = cache.jobs;
  *source = "the guard's cache from " + FormatLocalTime(cache.written_ms);
  return true;
}

}  // namespace pbk
