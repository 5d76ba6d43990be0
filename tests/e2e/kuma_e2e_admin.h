// What the `kuma login` and `kuma sync` cases share: the product's own
// Socket.IO client (KumaAdmin, linked in) pointed at a Kuma server of the
// environment, and pbk-agent run as an admin runs it.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "agent/core/config.h"
#include "api/kuma/kuma_admin.h"
#include "tests/e2e/kuma_e2e_environment.h"

namespace pbk::testing::kuma_e2e {

// The first user the login and sync cases make on their fresh Kumas.
constexpr char kAdminUser[] = "pbk-admin";

inline std::string Trimmed(const std::string& text) {
  const size_t begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "";
  return text.substr(begin, text.find_last_not_of(" \t\r\n") - begin + 1);
}

// The first line of TEXT holding PART, or "".
inline std::string LineWith(const std::string& text, const std::string& part) {
  for (const auto& line : Lines(text)) {
    if (Contains(line, part)) return line;
  }
  return "";
}

// The product's Kuma settings for SERVER, trusting the environment's CA.
inline KumaConfig AdminConfig(const KumaServer& server) {
  KumaConfig kuma;
  kuma.url = server.url();
  kuma.endpoint = {"127.0.0.1", server.port(), ""};
  kuma.ca_file = g_env->ca_file();
  kuma.timeout_seconds = 15;
  return kuma;
}

// A Socket.IO session with SERVER; null (and a failure) when it cannot be had.
inline std::unique_ptr<KumaAdmin> ConnectAdmin(const KumaServer& server) {
  KumaAdminError error;
  auto admin = KumaAdmin::Connect(AdminConfig(server), &error);
  EXPECT_TRUE(admin) << "connecting to Kuma '" << server.label() << "': " << error.message;
  return admin;
}

// pbk-agent ARGS with a bare environment, as an admin's shell or Ansible
// would run it.
inline RunResult AdminAgent(const std::vector<std::string>& args,
                            seconds timeout = seconds(120)) {
  std::vector<std::string> argv = {kBinDir + "/pbk-agent"};
  argv.insert(argv.end(), args.begin(), args.end());
  const std::map<std::string, std::string> env = {{"PATH", "/usr/bin:/bin"}, {"LANG", "C"}};
  return pbk::testing::Run(argv, &env, timeout);
}

}  // namespace pbk::testing::kuma_e2e
