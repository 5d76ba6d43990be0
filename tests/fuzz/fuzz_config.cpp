// ParseConfig on arbitrary text: every input either parses or gives errors
// that start with where they are; none crashes.
#include <string>
#include <vector>

#include "agent/core/config.h"
#include "tests/fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  pbk_fuzz::SilenceLogging();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text = pbk_fuzz::Text(data, size);
  pbk::Config config;
  std::vector<std::string> errors;
  const bool ok = pbk::ParseConfig(text, "config.json", &config, &errors);
  if (ok != errors.empty()) pbk_fuzz::Violated("ParseConfig's result and its errors disagree");
  for (const auto& error : errors) {
    if (error.rfind("config.json", 0) != 0) {
      pbk_fuzz::Violated("an error that does not say where it is: " + error);
    }
  }
  if (ok) {
    // What was accepted is usable: Kuma's URL taken apart again gives the same.
    pbk::IpUrl again;
    std::string why;
    if (!pbk::ParseIpUrl(config.kuma.url, "Kuma", &again, &why) ||
        again.host != config.kuma.endpoint.host || again.port != config.kuma.endpoint.port ||
        again.base_path != config.kuma.endpoint.base_path) {
      pbk_fuzz::Violated("an accepted kuma.url does not parse the same again");
    }
    if (config.node.empty()) pbk_fuzz::Violated("an accepted configuration without a node");
    for (const auto& [id, job] : config.jobs) {
      if (id.empty() || job.push_token.empty()) pbk_fuzz::Violated("an accepted empty job or token");
    }
    (void)config.Secrets();
  }
  return 0;
}
