// pbk-vzdump-sim: plays the part of a Proxmox VE vzdump worker towards a hook
// script. It reproduces what a hook can observe (argv, the emptied
// environment, stdio pipes, phase order, how a failing phase changes the rest
// of the job, the worker's UPID in /proc/<ppid>/cmdline and the scheduler's
// job state file) without a Proxmox host, so black-box tests can drive the
// real hook wrapper. The reference behaviour is PVE/VZDump.pm and
// PVE::Tools::run_command from pve-manager and pve-common.
//
// Its parts: the command line (vzdump_sim_options), the scenario of the job
// and its guests (vzdump_sim_scenario), the task worker's identity
// (vzdump_sim_worker), one hook call as run_command makes it
// (vzdump_sim_hook), and the job's phases and task log (vzdump_sim_job).

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <optional>
#include <string>
#include <vector>

#include "tests/tools/vzdump_sim_common.h"
#include "tests/tools/vzdump_sim_job.h"
#include "tests/tools/vzdump_sim_options.h"
#include "tests/tools/vzdump_sim_scenario.h"
#include "tests/tools/vzdump_sim_worker.h"

namespace pbk::testing::vzdump_sim {

namespace {

constexpr int kExitOk = 0;
constexpr int kExitTaskFailed = 1;
constexpr int kExitUsage = 2;

// Pipes created later must not land on fds 0-2, or dup2 in the child would
// shuffle them; a caller may well have closed stdin.
void EnsureStandardFds() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
      if (open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) < 0) std::abort();
    }
  }
}

int Main(int argc, char** argv) {
  EnsureStandardFds();
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  // An inherited SIGCHLD=SIG_IGN would make the kernel reap hooks before
  // their exit status could be read.
  struct sigaction default_action {};
  sigaction(SIGCHLD, &default_action, nullptr);
  // A caller that stops reading the task log must not cost it the summary.
  struct sigaction ignore_action {};
  ignore_action.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &ignore_action, nullptr);

  const std::vector<std::string> args(argv + 1, argv + argc);
  Options options;
  try {
    options = ParseOptions(args);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "pbk-vzdump-sim: %s\n%s", e.what(), kUsage);
    return kExitUsage;
  }
  if (options.help) {
    std::fputs(kUsage, stdout);
    return kExitOk;
  }

  Scenario scenario;
  try {
    scenario = LoadScenario(options.scenario);
  } catch (const ScenarioError& e) {
    std::fprintf(stderr, "pbk-vzdump-sim: %s\n", e.what());
    return kExitUsage;
  }

  std::string upid;
  try {
    if (options.worker) {
      const std::string task_name = argv[0];
      if (task_name.rfind(std::string(kTaskPrefix) + "UPID:", 0) != 0) {
        std::fprintf(stderr, "pbk-vzdump-sim: %s is internal\n", kWorkerMarker);
        return kExitUsage;
      }
      upid = task_name.substr(std::strlen(kTaskPrefix));
      // Perl's $0 assignment also renames the thread (comm); mirror it.
      prctl(PR_SET_NAME, argv[0], 0, 0, 0);
    } else {
      upid = BuildUpid(options.node);
      if (!options.no_upid) ReExecAsWorker(upid, args);
    }

    if (!options.scheduler_dir.empty() && scenario.job_id) {
      const json state = {{"state", "started"}, {"upid", upid}, {"config", scenario.job_config}};
      WriteFileAtomically(options.scheduler_dir + "/vzdump-" + *scenario.job_id + ".json",
                          state.dump());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pbk-vzdump-sim: %s\n", e.what());
    return kExitUsage;
  }

  JobResult result;
  try {
    result = RunSimulatedJob(options, scenario,
                             options.no_upid ? std::nullopt : std::optional<std::string>(upid));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pbk-vzdump-sim: %s\n", e.what());
    return kExitUsage;
  }

  if (!options.summary.empty()) {
    try {
      WriteFileAtomically(
          options.summary,
          result.summary.dump(2, ' ', false, json::error_handler_t::replace) + "\n");
    } catch (const std::exception& e) {
      std::fprintf(stderr, "pbk-vzdump-sim: %s\n", e.what());
      return kExitUsage;
    }
  }
  return result.succeeded ? kExitOk : kExitTaskFailed;
}

}  // namespace

}  // namespace pbk::testing::vzdump_sim

int main(int argc, char** argv) { return pbk::testing::vzdump_sim::Main(argc, argv); }
