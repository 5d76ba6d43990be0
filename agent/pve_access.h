// The ways to PVE's backup jobs a node offers, in the order they are tried:
// the REST API with the read-only token, pvesh, the files.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "agent/core/config.h"
#include "api/http/http_client.h"
#include "api/pve/job_sources.h"

namespace pbk {

struct PveAccess {
  std::unique_ptr<HttpClient> http;
  std::unique_ptr<RestReader> rest;
  std::unique_ptr<Pvesh> pvesh;
  std::unique_ptr<FileJobReader> files;
  std::unique_ptr<CronPatchWriter> cron_patch;
  std::vector<JobReader*> readers;
  std::vector<GuestReader*> guest_readers;  // REST, else pvesh
  JobWriter* writer = nullptr;     // pvesh, else the vzdump.cron patch
  std::vector<std::string> notes;  // what is not available, and why
  std::string rest_problem;        // why REST is not used, when it is not
  std::string token_id;            // the API token REST reads with, for messages
};

// Sets up the readers and the writer. Returns false only for configuration
// errors (an unreadable or unprivate token secret): *err says which.
bool OpenPveAccess(const Config& config, PveAccess* access, std::string* err);

// The backup jobs from the first reader that answers; when none does, the
// list the guard cached in JOB_CACHE (StateLayout::JobCache). *source says
// which ("rest", "pvesh", "files", or "the guard's cache from …");
// *warnings says what failed.
// False with *err when no list could be had at all.
bool ReadJobs(const PveAccess& access, const std::string& job_cache, std::vector<BackupJob>* jobs,
              std::string* source, std::vector<std::string>* warnings, std::string* err);

// Where the guests are now, from the first guest reader that answers.
// False when none did (or there is none), with the last reader's error.
// PVE filters /cluster/resources by VM.Audit without an error: when the
// token sees no guest at all while pvesh (root) sees some, the placement
// would be guessed from nothing, so that is an error naming the privilege.
bool ReadGuests(const PveAccess& access, std::vector<Guest>* guests, std::string* err);

}  // namespace pbk
