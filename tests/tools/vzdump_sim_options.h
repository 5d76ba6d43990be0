// pbk-vzdump-sim's command line.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace pbk::testing::vzdump_sim {

// Passed as the first argument when the simulator re-executes itself under its
// task name, so the second image knows argv[0] carries the UPID.
constexpr char kWorkerMarker[] = "--vzdump-sim-worker";

constexpr char kUsage[] =
    "usage: pbk-vzdump-sim (--hook PATH | --vzdump-conf FILE) --scenario FILE [--summary FILE]\n"
    "                      [--node NAME]\n"
    "                      [--no-upid] [--scheduler-dir DIR] [--tasks-dir DIR]\n"
    "                      [--hook-timeout SECONDS]\n";

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Options {
  std::string hook;
  // The node's /etc/vzdump.conf: without --hook, the hook is its `script:`
  // line, as vzdump takes the node default for a job that sets no script.
  std::string vzdump_conf;
  std::string scenario;
  std::string summary;
  std::string node = "pve1";
  std::string scheduler_dir;
  // Where PVE keeps task logs (/var/log/pve/tasks): the task log is also
  // written to <DIR>/<last hex digit of the UPID's starttime>/<UPID>.
  std::string tasks_dir;
  double hook_timeout_s = 120.0;
  bool no_upid = false;
  bool worker = false;
  bool help = false;
};

// The options in ARGS (argv without the program name); throws UsageError.
Options ParseOptions(const std::vector<std::string>& args);

}  // namespace pbk::testing::vzdump_sim
