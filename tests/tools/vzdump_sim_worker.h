// The simulator's identity as a PVE task worker: its UPID, the "task UPID:…"
// command line a forked worker shows, and files written as PVE writes them.
#pragma once

#include <string>
#include <vector>

namespace pbk::testing::vzdump_sim {

// How a PVE task worker's command line starts: "task UPID:…".
constexpr char kTaskPrefix[] = "task ";


// A UPID for this process on NODE, as PVE makes it.
std::string BuildUpid(const std::string& node);

// Replaces the process image so that /proc/<pid>/cmdline starts with
// "task UPID:...\0" like a forked PVE task worker; the pid (and with it the
// pstart inside the UPID) survives execve. Returns only on failure.
void ReExecAsWorker(const std::string& upid, const std::vector<std::string>& args);

// Same scheme as PVE::Tools::file_set_contents: readers never see a torn file.
void WriteFileAtomically(const std::string& path, const std::string& content);

}  // namespace pbk::testing::vzdump_sim
