#include "api/pve/job_sources.h"

#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "agent/core/fs.h"
#include "api/pve/job_files.h"
#include "agent/core/process.h"
#include "agent/core/text.h"

namespace pbk {

using nlohmann::json;

namespace {

// What PVE's answers look like when they are not what was asked for.
std::string Shorten(const std::string& text) { return TruncateUtf8(OneLine(Trim(text)), 300); }

bool ParseGuestsDocument(std::string body, const std::string& what, std::vector<Guest>* guests,
                         std::string* document, std::string* err) {
  json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  std::string why;
  if (parsed.is_discarded()) {
    *err = what + " is not valid JSON";
    return false;
  }
  if (!ParseGuestList(parsed, guests, &why)) {
    *err = what + " is not a guest list: " + why;
    return false;
  }
  *document = std::move(body);
  return true;
}

bool ParseJobsDocument(const std::string& body, const std::string& what,
                       std::vector<BackupJob>* jobs, std::string* err) {
  json document;
  try {
    document = json::parse(body);
  } catch (const json::parse_error& e) {
    std::string reason = e.what();
    if (size_t colon = reason.find(": "); colon != std::string::npos) reason = reason.substr(colon + 2);
    *err = what + " is not valid JSON (" + reason + ")";
    return false;
  } catch (const json::out_of_range& e) {
    // A number beyond a double: "[json.exception.out_of_range.406] number
    // overflow parsing '1e400'".
    std::string reason = e.what();
    if (size_t bracket = reason.find("] "); bracket != std::string::npos) {
      reason = reason.substr(bracket + 2);
    }
    *err = what + " is not valid JSON (" + reason + ")";
    return false;
  }
  std::string why;
  if (!ParseBackupJobList(document, jobs, &why)) {
    *err = what + " is not a job list: " + why;
    return false;
  }
  return true;
}

}  // namespace

bool RestReader::Get(const std::string& target, std::string* body, std::string* err) {
  HttpRequest request;
  request.host = settings_.host;
  request.port = settings_.port;
  request.target = target;
  request.deadline = settings_.timeout;
  request.headers = {
      {"Authorization", "PVEAPIToken=" + settings_.token_id + "=" + settings_.token_secret},
      {"Accept", "application/json"}};
  HttpResponse response;
  HttpError error;
  ++requests_;
  if (!http_->Send(request, &response, &error)) {
    *err = "the PVE API: " + error.message;
    return false;
  }
  const std::string status = "HTTP " + std::to_string(response.status) +
                             (response.reason.empty() ? "" : " " + Shorten(response.reason));
  switch (response.status) {
    case 200:
      *body = std::move(response.body);
      return true;
    case 401:
      *err = "the PVE API refused the token " + settings_.token_id + " (" + status +
             "): check pve.token_id and the secret in pve.token_secret_file";
      return false;
    case 403:
      *err = "the token " + settings_.token_id + " may not read " + target + " (" + status +
             "): give it the PVEAuditor role on / (see README)";
      return false;
    default:
      *err = "the PVE API answered " + status;
      return false;
  }
}

bool RestReader::FetchJobs(std::string* body, std::string* err) {
  fetched_ = true;
  fetch_ok_ = Get("/api2/json/cluster/backup", &fetched_body_, &fetch_err_);
  if (!fetch_ok_) {
    *err = fetch_err_;
    return false;
  }
  *body = fetched_body_;
  return true;
}

bool RestReader::List(std::vector<BackupJob>* jobs, std::string* err) {
  std::string body;
  if (fetched_) {
    // Once: a later List (after the guard changed jobs) asks PVE again.
    fetched_ = false;
    if (!fetch_ok_) {
      *err = fetch_err_;
      return false;
    }
    body = std::move(fetched_body_);
  } else if (!Get("/api2/json/cluster/backup", &body, err)) {
    return false;
  }
  if (!ParseJobsDocument(body, "the PVE API's answer", jobs, err)) return false;
  document_ = std::move(body);
  return true;
}

bool RestReader::ListGuests(std::vector<Guest>* guests, std::string* err) {
  std::string body;
  if (!Get("/api2/json/cluster/resources?type=vm", &body, err)) return false;
  return ParseGuestsDocument(body, "the PVE API's guest list", guests, &guests_document_, err);
}

bool RestReader::NodeDefaultScript(const std::string& node, std::string* script,
                                   std::string* err) {
  std::string body;
  if (!Get("/api2/json/nodes/" + UrlEncode(node) + "/vzdump/defaults", &body, err)) return false;
  json document = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!document.is_object() || !document.contains("data") || !document["data"].is_object()) {
    *err = "the PVE API's vzdump defaults of " + node + " are not a JSON object";
    return false;
  }
  const json& data = document["data"];
  script->clear();
  if (data.contains("script")) {
    if (!data["script"].is_string()) {
      *err = "the PVE API's vzdump defaults of " + node + " have a \"script\" that is no string";
      return false;
    }
    *script = data["script"].get<std::string>();
  }
  return true;
}

bool Pvesh::Run(const std::vector<std::string>& args, std::string* out, std::string* err) {
  std::vector<std::string> argv = {path_};
  argv.insert(argv.end(), args.begin(), args.end());
  // pvesh needs nothing from our environment; a fixed one keeps it
  // predictable under systemd and vzdump alike.
  const std::map<std::string, std::string> env = {
      {"PATH", "/usr/sbin:/usr/bin:/sbin:/bin"}, {"LC_ALL", "C"}, {"LANG", "C"}};
  ++calls_;
  ProcessResult result = RunProcess(argv, env, timeout_);
  const std::string command = "pvesh " + Join(args, " ");
  if (!result.started) {
    *err = command + ": " + path_ + " " + DescribeExit(result, timeout_);
    return false;
  }
  if (result.timed_out) hung_ = command;
  if (result.timed_out || result.signal != 0 || result.exit_code != 0) {
    *err = command + " " + DescribeExit(result, timeout_);
    std::string said = Shorten(result.err);
    if (!said.empty()) *err += ": " + said;
    return false;
  }
  *out = std::move(result.out);
  return true;
}

bool Pvesh::Usable(std::string* why) const {
  if (hung_.empty()) return true;
  *why = "not tried: pvesh did not answer within " + std::to_string(timeout_.count() / 1000) +
         " s before (" + hung_ + ")";
  return false;
}

bool Pvesh::List(std::vector<BackupJob>* jobs, std::string* err) {
  std::string out;
  if (!Run({"get", "/cluster/backup", "--output-format", "json"}, &out, err)) return false;
  if (!ParseJobsDocument(out, "pvesh's answer", jobs, err)) return false;
  document_ = std::move(out);
  return true;
}

bool Pvesh::ListGuests(std::vector<Guest>* guests, std::string* err) {
  std::string out;
  if (!Run({"get", "/cluster/resources", "--type", "vm", "--output-format", "json"}, &out, err)) {
    return false;
  }
  return ParseGuestsDocument(std::move(out), "pvesh's guest list", guests, &guests_document_,
                             err);
}

bool Pvesh::SetScript(const BackupJob& job, const std::string& script, std::string* err) {
  std::string out;
  std::vector<std::string> args = {"set", "/cluster/backup/" + job.id};
  if (script.empty()) {
    args.insert(args.end(), {"--delete", "script"});
  } else {
    args.insert(args.end(), {"--script", script});
  }
  if (!Run(args, &out, err)) return false;
  ++writes_;
  return true;
}

bool FileJobReader::List(std::vector<BackupJob>* jobs, std::string* err) {
  warnings_.clear();
  jobs->clear();
  std::string cron_text, cfg_text;
  bool cron_exists = false, cfg_exists = false;
  if (!ReadFileIfExists(vzdump_cron_, &cron_text, &cron_exists, err) ||
      !ReadFileIfExists(jobs_cfg_, &cfg_text, &cfg_exists, err)) {
    return false;
  }
  // Legacy jobs first, as the API lists them.
  std::vector<CronJob> cron_jobs;
  ParseVzdumpCron(cron_text, &cron_jobs, &warnings_);
  for (auto& cron : cron_jobs) jobs->push_back(std::move(cron.job));
  std::vector<BackupJob> cfg_jobs;
  if (!ParseJobsCfg(cfg_text, &cfg_jobs, err)) {
    *err = jobs_cfg_ + ": " + *err;
    return false;
  }
  for (auto& job : cfg_jobs) jobs->push_back(std::move(job));
  return true;
}

bool CronPatchWriter::CanWrite(const BackupJob& job, std::string* why) const {
  if (job.IsLegacy()) return true;
  *why = "job " + job.id + " lives in jobs.cfg, which only PVE itself may write (pvesh is needed)";
  return false;
}

bool CronPatchWriter::SetScript(const BackupJob& job, const std::string& script,
                                std::string* err) {
  std::string why;
  if (!CanWrite(job, &why)) {
    *err = why;
    return false;
  }
  if (script.empty()) {
    *err = "taking the script off legacy job " + job.id + " needs pvesh";
    return false;
  }
  std::string text;
  if (!ReadFile(vzdump_cron_, &text, err)) return false;
  std::string patched;
  if (!PatchVzdumpCronScript(text, job.id, script, &patched, err)) return false;
  AtomicWriteOptions options;
  struct stat st {};
  options.mode = stat(vzdump_cron_.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0640;
  // pmxcfs sets modes itself and refuses chmod.
  options.exact_mode = false;
  if (!WriteFileAtomic(vzdump_cron_, patched, options, err)) return false;
  ++writes_;
  return true;
}

}  // namespace pbk
