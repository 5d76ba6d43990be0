// How the hook's results reach Kuma: the push token of a job, the sender
// over the TLS module, and the pusher that delivers spooled results.
#pragma once

#include <functional>
#include <string>

#include "agent/core/config.h"
#include "api/kuma/kuma_client.h"
#include "hook/spool.h"

namespace pbk {

// Sends one push to the monitor of a job; false with *err when Kuma did not
// confirm. Built lazily so guest phases never load the HTTP module.
using PushSender = std::function<bool(const std::string& token, const KumaPush& push,
                                      std::string* err, PushFailure* failure)>;

// The push token of job JOB_ID on this node; "" when it has none. The one
// place a token is looked up.
std::string PushTokenFor(const Config& config, const std::string& job_id);

// The production PushSender: a Kuma client over the TLS module.
PushSender MakeKumaSender(const KumaConfig& kuma);

// Delivers spooled results through SEND to the monitors CONFIG maps, each
// marked late (LatePush). An entry whose job has no token any more, or
// whose token Kuma refuses, is a permanent failure.
PushFunction SpoolPusher(const Config& config, PushSender send);

}  // namespace pbk
