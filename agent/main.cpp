// pbk-agent: reports Proxmox VE backup job runs to Uptime Kuma and keeps the
// hook configured on every job. All logic lives in the libraries.
#include <signal.h>

#include "agent/commands/cli.h"

int main(int argc, char** argv) {
  // A closed task-log pipe or a file-size limit must end in an error the
  // program reports, not in a silent death by signal.
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  sigaction(SIGPIPE, &ignore, nullptr);
  sigaction(SIGXFSZ, &ignore, nullptr);
  return pbk::RunCli(argc, argv);
}
