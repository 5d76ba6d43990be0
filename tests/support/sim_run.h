// What pbk-vzdump-sim reports about one run (its --summary file and what the
// process printed), read the same way by every black-box test that runs it.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/process.h"
#include "tests/support/test_text.h"

namespace pbk::testing {

struct SimRun {
  RunResult process;
  nlohmann::json summary;

  // Every call of PHASE, in order.
  std::vector<nlohmann::json> Calls(const std::string& phase) const {
    std::vector<nlohmann::json> calls;
    if (!summary.is_object()) return calls;
    for (const auto& call : At(summary, "calls")) {
      if (Str(call, "phase") == phase) calls.push_back(call);
    }
    return calls;
  }
  // The first call of PHASE; null when there was none.
  nlohmann::json Call(const std::string& phase) const {
    auto calls = Calls(phase);
    return calls.empty() ? nlohmann::json() : calls.front();
  }
  // The guest phases (called with three arguments).
  std::vector<nlohmann::json> GuestCalls() const {
    std::vector<nlohmann::json> calls;
    if (!summary.is_object()) return calls;
    for (const auto& call : At(summary, "calls")) {
      if (At(call, "args").size() == 3) calls.push_back(call);
    }
    return calls;
  }
  // The exit code of PHASE; -1 when it was not called.
  int Exit(const std::string& phase) const {
    const nlohmann::json call = Call(phase);
    return call.is_null() || !At(call, "exit").is_number() ? -1 : At(call, "exit").get<int>();
  }
  // What PHASE wrote to the task log, a line each.
  std::vector<std::string> Stdout(const std::string& phase) const {
    const nlohmann::json call = Call(phase);
    std::vector<std::string> lines;
    if (call.is_null()) return lines;
    for (const auto& line : At(call, "stdout")) {
      if (line.is_string()) lines.push_back(line.get<std::string>());
    }
    return lines;
  }
  // The same as one text.
  std::string TaskLog(const std::string& phase) const {
    std::string text;
    for (const auto& line : Stdout(phase)) text += line + "\n";
    return text;
  }
  // The first task-log line of PHASE starting with PREFIX, or "".
  std::string Line(const std::string& phase, const std::string& prefix) const {
    for (const auto& line : Stdout(phase)) {
      if (StartsWith(line, prefix)) return line;
    }
    return "";
  }
  // The first task-log line of PHASE holding PART, or "".
  std::string LineWith(const std::string& phase, const std::string& part) const {
    for (const auto& line : Stdout(phase)) {
      if (Contains(line, part)) return line;
    }
    return "";
  }
  std::string TaskStatus() const { return Str(summary, "task_status"); }
  // For failure messages: the whole task log and what the simulator said.
  std::string Log() const { return process.out + process.err; }
};

}  // namespace pbk::testing
