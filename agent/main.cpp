// pbk-agent: reports Proxmox VE backup job runs to Uptime Kuma and keeps the
// hook configured on every job. All logic lives in the libraries.
#include "cli.h"

int main(int argc, char** argv) { return pbk::RunCli(argc, argv); }
