// What /proc says about the hook's parent: its cmdline (a task worker's
// UPID) and its stat line (the start time), and the run key made of them.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "tests/fuzz/fuzz_common.h"
#include "hook/worker.h"

namespace {

std::string g_proc;  // a fake /proc with one process, 4242
constexpr pid_t kPid = 4242;

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

// A file name, short enough for "<key>.json" and the atomic writer's
// ".<key>.json.tmp.<pid>.<n>" to stay within NAME_MAX (255 bytes).
bool SafeKey(const std::string& key) {
  if (key.empty() || key == "." || key == ".." || key.size() > 200) return false;
  for (char c : key) {
    if (c == '/' || c == '\0') return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  pbk_fuzz::SilenceLogging();
  std::string base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  std::string pattern = base + "/pbk-fuzz-upid.XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) std::abort();
  g_proc = pattern;
  mkdir((g_proc + "/4242").c_str(), 0700);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text = pbk_fuzz::Text(data, size);

  pbk::Upid upid;
  if (pbk::ParseUpid(text, &upid) && (upid.pid == 0 || upid.node.empty())) {
    pbk_fuzz::Violated("an accepted UPID without node or pid");
  }
  const std::string from_cmdline = pbk::UpidFromCmdline(text);
  if (!from_cmdline.empty() && !pbk::ParseUpid(from_cmdline, &upid)) {
    pbk_fuzz::Violated("UpidFromCmdline gave a UPID that does not parse");
  }
  uint64_t ticks = 0;
  (void)pbk::StartTimeFromStat(text, &ticks);

  // The same bytes as the worker's cmdline and stat: the key names a file.
  WriteFile(g_proc + "/4242/cmdline", text);
  WriteFile(g_proc + "/4242/stat", text);
  pbk::WorkerIdentity worker;
  std::string err;
  if (pbk::IdentifyWorker(g_proc, kPid, &worker, &err)) {
    if (!SafeKey(worker.key)) pbk_fuzz::Violated("a run key that is no file name: " + worker.key);
    pbk::WorkerIdentity again;
    if (!pbk::IdentifyWorker(g_proc, kPid, &again, &err) || again.key != worker.key) {
      pbk_fuzz::Violated("the same worker gave another run key");
    }
  } else if (err.empty()) {
    pbk_fuzz::Violated("IdentifyWorker failed without saying why");
  }
  return 0;
}
