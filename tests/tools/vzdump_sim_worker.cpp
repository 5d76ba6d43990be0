#include "tests/tools/vzdump_sim_worker.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "tests/tools/vzdump_sim_common.h"
#include "tests/tools/vzdump_sim_options.h"

namespace pbk::testing::vzdump_sim {

namespace {

unsigned long long ReadOwnStartTicks() {
  std::string stat;
  {
    std::ifstream in("/proc/self/stat");
    std::getline(in, stat);
  }
  // comm (field 2) may itself contain spaces and ')', so count fields from
  // the last ')' instead of splitting the whole line.
  const std::size_t close = stat.rfind(')');
  if (close == std::string::npos) throw std::runtime_error("cannot parse /proc/self/stat");
  std::istringstream fields(stat.substr(close + 1));
  std::string field;
  for (int index = 3; index <= 22; ++index) {
    if (!(fields >> field)) throw std::runtime_error("cannot parse /proc/self/stat");
  }
  return std::stoull(field);
}

}  // namespace

std::string BuildUpid(const std::string& node) {
  const auto pid = static_cast<unsigned long long>(getpid());
  const unsigned long long pstart = ReadOwnStartTicks();
  const auto start = static_cast<unsigned long long>(std::time(nullptr));
  char fields[64];
  std::snprintf(fields, sizeof fields, "%08llX:%08llX:%08llX", pid, pstart, start);
  return "UPID:" + node + ":" + fields + ":vzdump::root@pam:";
}

void ReExecAsWorker(const std::string& upid, const std::vector<std::string>& args) {
  std::vector<std::string> new_args = {kTaskPrefix + upid, kWorkerMarker};
  new_args.insert(new_args.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& arg : new_args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  std::fflush(stdout);
  std::fflush(stderr);
  execv("/proc/self/exe", argv.data());
  throw std::runtime_error("cannot re-execute /proc/self/exe: " + ErrnoText(errno));
}

void WriteFileAtomically(const std::string& path, const std::string& content) {
  // Same scheme as PVE::Tools::file_set_contents: readers never see a torn file.
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << content;
    out.flush();
    if (!out) throw std::runtime_error("cannot write '" + tmp + "': " + ErrnoText(errno));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int error = errno;
    std::remove(tmp.c_str());
    throw std::runtime_error("cannot rename '" + tmp + "' to '" + path + "': " + ErrnoText(error));
  }
}

}  // namespace pbk::testing::vzdump_sim
