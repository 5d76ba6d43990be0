// The job: its phases in vzdump's order, each through the hook, and the
// task log PVE would write (PVE::VZDump).
#pragma once

#include <optional>
#include <string>

#include "tests/tools/vzdump_sim_common.h"
#include "tests/tools/vzdump_sim_options.h"
#include "tests/tools/vzdump_sim_scenario.h"

namespace pbk::testing::vzdump_sim {

struct JobResult {
  bool succeeded = false;  // the task ended "TASK OK"
  json summary;            // what --summary writes
};

// Runs SCENARIO's job with OPTIONS' hook; UPID unset: --no-upid. Throws
// std::exception when the simulation itself cannot go on.
JobResult RunSimulatedJob(const Options& options, const Scenario& scenario,
                          std::optional<std::string> upid);

}  // namespace pbk::testing::vzdump_sim
