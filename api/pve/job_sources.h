// Where the guard reads backup jobs from and writes the hook to.
//
// Reading: the REST API with a read-only API token (fast, and a token can
// never change a job), else pvesh, else the files themselves. Writing:
// pvesh, running as root and so acting as root@pam, the only user PVE lets
// set a job's "script"; or, when pvesh cannot be used, a patch of
// vzdump.cron for legacy jobs. jobs.cfg is never written by hand.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "api/pve/backup_job.h"
#include "api/pve/guests.h"
#include "api/http/http_client.h"

namespace pbk {

class JobReader {
 public:
  virtual ~JobReader() = default;
  virtual std::string Name() const = 0;  // "rest", "pvesh", "files"
  virtual bool List(std::vector<BackupJob>* jobs, std::string* err) = 0;
  // The last list as PVE's JSON, when it came as such; "" otherwise.
  virtual const std::string& document() const {
    static const std::string kNone;
    return kNone;
  }
};

// The guests and their nodes, from /cluster/resources?type=vm.
class GuestReader {
 public:
  virtual ~GuestReader() = default;
  virtual std::string Name() const = 0;
  virtual bool ListGuests(std::vector<Guest>* guests, std::string* err) = 0;
  // The last list as PVE's JSON.
  virtual const std::string& guests_document() const = 0;
};

class JobWriter {
 public:
  virtual ~JobWriter() = default;
  virtual std::string Name() const = 0;
  // Whether this writer can change JOB at all (*why when not).
  virtual bool CanWrite(const BackupJob& job, std::string* why) const = 0;
  // SCRIPT empty: the job's own `script` is deleted.
  virtual bool SetScript(const BackupJob& job, const std::string& script, std::string* err) = 0;
  // How many changes this writer made (for the summary and the benchmarks).
  virtual int writes() const = 0;
  // False once the writer stopped answering (*why says how): trying the
  // next job would only wait for the same timeout again.
  virtual bool Usable(std::string* /*why*/) const { return true; }
};

struct RestSettings {
  std::string host;  // IPv4
  uint16_t port = 8006;
  std::string token_id;      // USER@REALM!TOKENID
  std::string token_secret;  // never printed
  std::chrono::milliseconds timeout{30000};
};

// GET /api2/json/cluster/backup (and /cluster/resources) with the token.
// HTTP must outlive it.
class RestReader : public JobReader, public GuestReader {
 public:
  RestReader(HttpClient* http, RestSettings settings)
      : http_(http), settings_(std::move(settings)) {}
  std::string Name() const override { return "rest"; }
  bool List(std::vector<BackupJob>* jobs, std::string* err) override;
  const std::string& document() const override { return document_; }
  // GET /cluster/backup as it is, unparsed. The answer (or the failure) is
  // kept: the List() after it parses that answer instead of asking again.
  bool FetchJobs(std::string* body, std::string* err);
  bool ListGuests(std::vector<Guest>* guests, std::string* err) override;
  const std::string& guests_document() const override { return guests_document_; }
  // GET /nodes/NODE/vzdump/defaults (Sys.Audit on /nodes/NODE): the
  // node's merged vzdump defaults; *script is their "script" ("" when none).
  bool NodeDefaultScript(const std::string& node, std::string* script, std::string* err);
  int requests() const { return requests_; }

 private:
  // GET TARGET; the answer's body when it is 200, else *err in words.
  bool Get(const std::string& target, std::string* body, std::string* err);
  HttpClient* http_;
  RestSettings settings_;
  std::string document_;
  std::string guests_document_;
  int requests_ = 0;
  bool fetched_ = false;  // FetchJobs ran: List uses its result
  bool fetch_ok_ = false;
  std::string fetched_body_;
  std::string fetch_err_;
};

inline std::unique_ptr<RestReader> NewRestJobReader(HttpClient* http, RestSettings settings) {
  return std::make_unique<RestReader>(http, std::move(settings));
}

// pvesh reads and writes; PATH is absolute. It runs with a minimal
// environment and is killed when it overruns TIMEOUT.
class Pvesh : public JobReader, public JobWriter, public GuestReader {
 public:
  Pvesh(std::string path, std::chrono::milliseconds timeout)
      : path_(std::move(path)), timeout_(timeout) {}
  std::string Name() const override { return "pvesh"; }
  bool List(std::vector<BackupJob>* jobs, std::string* err) override;
  const std::string& document() const override { return document_; }
  // GET /cluster/backup as it is, unparsed. The answer (or the failure) is
  // kept: the List() after it parses that answer instead of asking again.
  bool FetchJobs(std::string* body, std::string* err);
  bool ListGuests(std::vector<Guest>* guests, std::string* err) override;
  const std::string& guests_document() const override { return guests_document_; }
  bool CanWrite(const BackupJob&, std::string*) const override { return true; }
  bool SetScript(const BackupJob& job, const std::string& script, std::string* err) override;
  int writes() const override { return writes_; }
  bool Usable(std::string* why) const override;
  int calls() const { return calls_; }

 private:
  bool Run(const std::vector<std::string>& args, std::string* out, std::string* err);
  std::string path_;
  std::chrono::milliseconds timeout_;
  std::string document_;
  std::string guests_document_;
  std::string hung_;  // the call that ran into the timeout, if one did
  int writes_ = 0;
  int calls_ = 0;
};

// Reads jobs.cfg and vzdump.cron as PVE does. Malformed cron lines PVE
// would skip are reported through warnings().
class FileJobReader : public JobReader {
 public:
  FileJobReader(std::string jobs_cfg, std::string vzdump_cron)
      : jobs_cfg_(std::move(jobs_cfg)), vzdump_cron_(std::move(vzdump_cron)) {}
  std::string Name() const override { return "files"; }
  bool List(std::vector<BackupJob>* jobs, std::string* err) override;
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  std::string jobs_cfg_;
  std::string vzdump_cron_;
  std::vector<std::string> warnings_;
};

// Sets --script on legacy jobs' lines in vzdump.cron; nothing else.
class CronPatchWriter : public JobWriter {
 public:
  explicit CronPatchWriter(std::string vzdump_cron) : vzdump_cron_(std::move(vzdump_cron)) {}
  std::string Name() const override { return "vzdump.cron patch"; }
  bool CanWrite(const BackupJob& job, std::string* why) const override;
  bool SetScript(const BackupJob& job, const std::string& script, std::string* err) override;
  int writes() const override { return writes_; }

 private:
  std::string vzdump_cron_;
  int writes_ = 0;
};

}  // namespace pbk
