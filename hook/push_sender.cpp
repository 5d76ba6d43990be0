#include "hook/push_sender.h"

#include <chrono>
#include <memory>

#include "api/http/http_client.h"
#include "api/kuma/kuma_client.h"

namespace pbk {

std::string PushTokenFor(const Config& config, const std::string& job_id) {
  auto job = config.jobs.find(job_id);
  return job == config.jobs.end() ? std::string() : job->second.push_token;
}

PushFunction SpoolPusher(const Config& config, PushSender send) {
  return [&config, send = std::move(send)](const std::string& job_id, const SpooledPush& entry,
                                            std::string* why, bool* transport_failed,
                                            bool* permanent) {
    *transport_failed = false;
    *permanent = false;
    const std::string token = PushTokenFor(config, job_id);
    if (token.empty()) {
      *why = "job " + job_id + " has no push_token in " + config.path + " any more";
      *permanent = true;
      return false;
    }
    PushFailure failure = PushFailure::kNone;
    const bool ok = send(token, LatePush(entry), why, &failure);
    *transport_failed = failure == PushFailure::kTransport;
    *permanent = failure == PushFailure::kRefused;
    return ok;
  };
}

PushSender MakeKumaSender(const KumaConfig& kuma) {
  struct State {
    std::unique_ptr<HttpClient> http;
    std::unique_ptr<KumaClient> client;
  };
  auto state = std::make_shared<State>();
  return [state, kuma](const std::string& token, const KumaPush& push, std::string* err,
                       PushFailure* failure) {
    if (!state->client) {
      TlsSettings tls{kuma.ca_file, kuma.server_name};
      state->http = NewHttpClient(tls, err);
      if (!state->http) {
        if (failure != nullptr) *failure = PushFailure::kTransport;
        return false;
      }
      KumaEndpoint endpoint{kuma.endpoint.host, kuma.endpoint.port, kuma.endpoint.base_path,
                            std::chrono::seconds(kuma.timeout_seconds)};
      state->client = std::make_unique<KumaClient>(state->http.get(), endpoint);
    }
    return state->client->Push(token, push, err, failure);
  };
}

}  // namespace pbk
