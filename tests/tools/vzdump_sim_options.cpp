#include "tests/tools/vzdump_sim_options.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>

namespace pbk::testing::vzdump_sim {

namespace {

bool IsValidNodeName(const std::string& node) {
  // pvecm refuses other node names, and ':' would break the UPID fields.
  if (node.empty() || node.front() == '-' || node.back() == '-') return false;
  return std::all_of(node.begin(), node.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
  });
}

// vzdump.conf's `script:` value (PVE::VZDump::read_vzdump_defaults: "key:
// value" lines, '#' comments); a file without one means no hook at all,
// which a test of the hook must not take for a run.
std::string NodeDefaultScript(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw UsageError("--vzdump-conf " + path + ": cannot be read");
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind("script:", 0) != 0) continue;
    std::string value = line.substr(7);
    const auto first = value.find_first_not_of(" \t");
    const auto last = value.find_last_not_of(" \t");
    if (first != std::string::npos) return value.substr(first, last - first + 1);
  }
  throw UsageError("--vzdump-conf " + path + " sets no script: vzdump would run no hook");
}

}  // namespace

Options ParseOptions(const std::vector<std::string>& args) {
  Options options;
  std::size_t i = 0;
  if (!args.empty() && args[0] == kWorkerMarker) {
    options.worker = true;
    i = 1;
  }
  auto value = [&](const std::string& flag) -> const std::string& {
    if (i + 1 >= args.size()) throw UsageError(flag + " needs a value");
    return args[++i];
  };
  for (; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--hook") {
      options.hook = value(arg);
    } else if (arg == "--vzdump-conf") {
      options.vzdump_conf = value(arg);
    } else if (arg == "--scenario") {
      options.scenario = value(arg);
    } else if (arg == "--summary") {
      options.summary = value(arg);
    } else if (arg == "--node") {
      options.node = value(arg);
    } else if (arg == "--scheduler-dir") {
      options.scheduler_dir = value(arg);
    } else if (arg == "--tasks-dir") {
      options.tasks_dir = value(arg);
    } else if (arg == "--hook-timeout") {
      const std::string& text = value(arg);
      char* end = nullptr;
      errno = 0;
      const double seconds = std::strtod(text.c_str(), &end);
      if (text.empty() || *end != '\0' || errno != 0 || !std::isfinite(seconds) || seconds <= 0) {
        throw UsageError("--hook-timeout needs a positive number of seconds, got '" + text + "'");
      }
      options.hook_timeout_s = seconds;
    } else if (arg == "--no-upid") {
      options.no_upid = true;
    } else if (arg == "--help" || arg == "-h") {
      options.help = true;
    } else {
      throw UsageError("unknown argument '" + arg + "'");
    }
  }
  if (options.help) return options;
  if (options.hook.empty() == options.vzdump_conf.empty()) {
    throw UsageError("give either --hook or --vzdump-conf");
  }
  if (!options.vzdump_conf.empty()) options.hook = NodeDefaultScript(options.vzdump_conf);
  if (options.scenario.empty()) throw UsageError("--scenario is required");
  if (!IsValidNodeName(options.node)) {
    throw UsageError("--node '" + options.node + "' is not a valid Proxmox node name");
  }
  return options;
}

}  // namespace pbk::testing::vzdump_sim
