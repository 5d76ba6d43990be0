// `pbk-agent verify`: one screen that says whether this node is set up
// right. Every line is OK, WARN or FAIL and says how to fix what is not OK;
// the checks are in agent/verify_checks.cpp.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>

#include "agent/commands/commands.h"
#include "agent/commands/common.h"
#include "agent/core/log.h"
#include "agent/verify_checks.h"

namespace pbk {

namespace {

void PrintJson(const CheckResults& results) {
  nlohmann::json checks = nlohmann::json::array();
  for (const auto& check : results.all()) {
    checks.push_back({{"check", check.name},
                      {"status", CheckStatusName(check.status)},
                      {"message", check.text},
                      {"fix", check.fix}});
  }
  nlohmann::json document = {{"ok", !results.AnyFail()}, {"checks", std::move(checks)}};
  std::printf("%s\n", Redact(document.dump(2)).c_str());
}

void PrintText(const CheckResults& results) {
  for (const auto& check : results.all()) {
    const std::string status = CheckStatusName(check.status);
    std::string line =
        status + std::string(5 - status.size(), ' ') + check.name + ": " + check.text;
    if (!check.fix.empty()) line += "\n     fix: " + check.fix;
    std::printf("%s\n", Redact(line).c_str());
  }
  const int fails = results.Count(CheckStatus::kFail);
  std::printf("\n%s: %d check(s) failed, %d warning(s)\n",
              fails == 0 ? "this node is set up right" : "this node is NOT set up right", fails,
              results.Count(CheckStatus::kWarn));
}

}  // namespace

int CmdVerify(const Invocation& invocation) {
  InitLogging(LogStyle::kStderr, invocation.debug);
  std::set<std::string> flags;
  if (!ParseFlags(invocation, {"--json"}, "pbk-agent verify [--json]", &flags)) return kExitUsage;
  const bool as_json = flags.count("--json") > 0;
  CheckResults results;
  VerifyContext context;
  const bool opened = OpenVerifyContext(invocation.config_path, &context, &results);
  if (opened) {
    for (VerifyCheck check : VerifyChecks()) check(&context, &results);
  }
  if (as_json) {
    PrintJson(results);
  } else {
    PrintText(results);
  }
  if (!opened) return kExitUsage;
  return results.AnyFail() ? kExitProblem : kExitOk;
}

}  // namespace pbk
