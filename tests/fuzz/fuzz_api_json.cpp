// The job list as the PVE API or pvesh answers it, and the guard's cache:
// ParseBackupJobList on the parsed input, the REST reader on the input as the
// body of an HTTP 200 answer (it parses it itself, as pvesh's answer is
// parsed), and ParseJobCache on the input. Then Kuma's answer to a push: the
// input as the body of a 200 and of a 404, for push tokens that are words
// and tokens made of the mask's own asterisks. Its error must never hold the
// token (a token nothing else in the message can hold is used to check).
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "api/pve/backup_job.h"
#include "tests/fuzz/fuzz_common.h"
#include "api/http/http_client.h"
#include "api/pve/job_sources.h"
#include "api/kuma/kuma_client.h"

namespace {

// A server answering every request with STATUS and the input.
class FakeServer : public pbk::HttpClient {
 public:
  FakeServer(int status, const std::string& body) : status_(status), body_(body) {}
  bool Send(const pbk::HttpRequest&, pbk::HttpResponse* response, pbk::HttpError*) override {
    response->status = status_;
    response->reason = status_ == 200 ? "OK" : "Not Found";
    response->body = body_;
    return true;
  }

 private:
  int status_;
  const std::string& body_;
};

// Pushes with TOKEN to a Kuma that answers STATUS and BODY.
void PushTo(int status, const std::string& body, const std::string& token, bool check_token) {
  FakeServer kuma(status, body);
  pbk::KumaClient client(&kuma, pbk::KumaEndpoint{"192.0.2.10", 3001, "", {}});
  std::string err;
  if (client.Push(token, pbk::KumaPush{false, "m", 1}, &err)) {
    if (status != 200) pbk_fuzz::Violated("a push Kuma refused counts as delivered");
    return;
  }
  if (err.empty()) pbk_fuzz::Violated("a refused push without a reason");
  if (check_token && err.find(token) != std::string::npos) {
    pbk_fuzz::Violated("Kuma's answer shown with the push token in it");
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  pbk_fuzz::SilenceLogging();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text = pbk_fuzz::Text(data, size);
  const nlohmann::json document = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  std::vector<pbk::BackupJob> jobs;
  std::string err;
  if (pbk::ParseBackupJobList(document, &jobs, &err)) {
    // What was read is written to the cache and must read back the same.
    pbk::JobCache cache;
    cache.source = "rest";
    cache.jobs = jobs;
    pbk::JobCache loaded;
    std::string why;
    if (!pbk::ParseJobCache(pbk::SerializeJobCache(cache), &loaded, &why)) {
      pbk_fuzz::Violated("the cache written from an accepted list does not read back: " + why);
    }
    if (loaded.jobs.size() != jobs.size()) pbk_fuzz::Violated("the cache lost jobs");
  } else if (err.empty()) {
    pbk_fuzz::Violated("ParseBackupJobList failed without saying why");
  }
  FakeServer api(200, text);
  pbk::RestSettings settings;
  settings.host = "127.0.0.1";
  settings.token_id = "pbk-agent@pve!guard";
  settings.token_secret = "00000000-0000-0000-0000-000000000000";
  auto reader = pbk::NewRestJobReader(&api, settings);
  std::vector<pbk::BackupJob> listed;
  err.clear();
  const bool listed_ok = reader->List(&listed, &err);
  if (!listed_ok && err.empty()) pbk_fuzz::Violated("the REST reader failed without saying why");
  if (listed_ok && reader->document() != text) pbk_fuzz::Violated("the REST reader lost its answer");

  pbk::JobCache cache;
  err.clear();
  if (!pbk::ParseJobCache(text, &cache, &err) && err.empty()) {
    pbk_fuzz::Violated("ParseJobCache failed without saying why");
  }

  for (int status : {200, 404}) {
    // Neither "Q" nor "7" occurs in what the client adds to Kuma's words.
    PushTo(status, text, "Q", true);
    PushTo(status, text, "tok-7Qz", true);
    // Any message with the mask holds these; they must only not hang.
    PushTo(status, text, "*", false);
    PushTo(status, text, "***", false);
  }
  return 0;
}
