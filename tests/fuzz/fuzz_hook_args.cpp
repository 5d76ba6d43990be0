// RunHook as vzdump calls it, with arguments and environment from the input,
// against a scratch state folder, a fake /proc and a Kuma that always
// confirms.
//
// Input: words separated by NUL or newline. The arguments are the words
// before the first empty word when one comes within the first six words,
// else the first three words. The words after them are, in order, the values
// of STOREID, VMTYPE, HOSTNAME and TARGET (a missing word: the variable is
// unset), then which process is the hook's parent:
//   (none)  4242, a task worker whose UPID the scheduler's job file names;
//   "-"     77, not a task worker (run named by pid and start time);
//   "?"     99, not in /proc at all;
//   other   5000, whose cmdline is "task <word>".
//
// Invariants (the README's rules), abort() when broken:
//   - every phase but job-end and job-abort exits 0 and pushes nothing;
//   - no call pushes more than once, and a run (its key) is pushed at most
//     once however many end phases follow: each end phase is followed by a
//     job-abort here, and the count per key is kept across inputs until the
//     state folder is cleared (every kClearEvery inputs);
//   - exit codes are 0, 1 or 2;
//   - no file descriptor is left open (checked when the state is cleared).
#include <signal.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "api/pve/backup_job.h"
#include "agent/core/fs.h"
#include "agent/core/state_layout.h"
#include "tests/fuzz/fuzz_common.h"
#include "hook/hook.h"
#include "api/kuma/kuma_client.h"
#include "hook/worker.h"

namespace {

const char kUpid[] = "UPID:pve1:00001092:0143F5A7:6740C2B1:vzdump::root@pam:";
constexpr int kClearEvery = 500;

std::string g_base;
pbk::Config g_config;
int64_t g_now = 1'732'000'000'000;
int g_runs = 0;
std::map<std::string, int> g_pushes_per_key;  // since the state folder was cleared
size_t g_open_fds = 0;                          // after initialisation

size_t OpenFds() {
  std::error_code ignored;
  size_t count = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ignored);
       it != std::filesystem::directory_iterator(); it.increment(ignored)) {
    ++count;
  }
  return count;
}

void WriteFile(const std::string& path, const std::string& content) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

void ClearState() {
  // Descriptors the hook left open would run a long vzdump job out of them.
  if (g_open_fds != 0 && OpenFds() > g_open_fds + 4) {
    pbk_fuzz::Violated("the hook leaks file descriptors: " + std::to_string(OpenFds()) +
                       " open, " + std::to_string(g_open_fds) + " at the start");
  }
  std::error_code ignored;
  std::filesystem::remove_all(g_config.paths.state_dir + "/runs", ignored);
  std::filesystem::remove_all(g_config.paths.state_dir + "/spool", ignored);
  g_pushes_per_key.clear();
}

pbk::BackupJob Job(const std::string& id, const std::string& storage, bool all,
                   std::vector<int> vmids, const std::string& node = "",
                   const std::string& pool = "") {
  pbk::BackupJob job;
  job.id = id;
  job.type = "vzdump";
  job.storage = storage;
  job.all = all;
  job.vmids = std::move(vmids);
  job.node = node;
  job.pool = pool;
  return job;
}

std::vector<std::string> Words(const std::string& text) {
  std::vector<std::string> words;
  if (text.empty()) return words;
  std::string word;
  for (char c : text) {
    if (c == '\0' || c == '\n') {
      words.push_back(word);
      word.clear();
    } else {
      word += c;
    }
  }
  words.push_back(word);
  return words;
}

bool IsEndPhase(const std::string& phase) { return phase == "job-end" || phase == "job-abort"; }

struct Call {
  std::vector<std::string> args;
  pbk::HookEnvironment env;
  pid_t parent = 4242;
};

Call Decode(const std::string& text) {
  Call call;
  std::vector<std::string> words = Words(text);
  size_t args_end = std::min<size_t>(3, words.size());
  size_t rest = args_end;
  for (size_t i = 0; i < words.size() && i < 6; ++i) {
    if (words[i].empty()) {
      args_end = i;
      rest = i + 1;
      break;
    }
  }
  call.args.assign(words.begin(), words.begin() + static_cast<std::ptrdiff_t>(args_end));
  std::optional<std::string>* env[] = {&call.env.storeid, &call.env.vmtype, &call.env.hostname,
                                       &call.env.target};
  for (auto* value : env) {
    if (rest < words.size()) *value = words[rest++];
  }
  if (rest < words.size()) {
    const std::string& worker = words[rest];
    if (worker == "-") {
      call.parent = 77;
    } else if (worker == "?") {
      call.parent = 99;
    } else {
      call.parent = 5000;
      WriteFile(g_config.paths.proc + "/5000/cmdline", "task " + worker + std::string("\0", 1));
    }
  }
  return call;
}

struct Pushed {
  std::string token;
  pbk::KumaPush push;
};

// Runs the hook, keeping libFuzzer's SIGALRM timer (the hook arms and
// cancels its own deadline with alarm(), which would otherwise take it).
int Run(const Call& call, std::vector<Pushed>* pushed) {
  pbk::HookContext context;
  context.config = &g_config;
  context.args = call.args;
  context.env = call.env;
  context.parent_pid = call.parent;
  context.now_ms = [] { return g_now += 1000; };
  context.send = [pushed](const std::string& token, const pbk::KumaPush& push, std::string*,
                          pbk::PushFailure* failure) {
    pushed->push_back({token, push});
    // What would go on the wire: the message capped and encoded.
    (void)pbk::BuildPushTarget(g_config.kuma.endpoint.base_path, token, push);
    if (failure != nullptr) *failure = pbk::PushFailure::kNone;
    return true;
  };
  struct sigaction saved_action {};
  struct itimerval saved_timer {};
  sigaction(SIGALRM, nullptr, &saved_action);
  getitimer(ITIMER_REAL, &saved_timer);
  const int code = pbk::RunHook(context);
  sigaction(SIGALRM, &saved_action, nullptr);
  setitimer(ITIMER_REAL, &saved_timer, nullptr);
  return code;
}

std::string RunKey(pid_t parent) {
  pbk::WorkerIdentity worker;
  std::string err;
  return pbk::IdentifyWorker(g_config.paths.proc, parent, &worker, &err) ? worker.key : "";
}

std::string Describe(const Call& call) {
  std::string out;
  for (const auto& arg : call.args) out += (out.empty() ? "" : " ") + arg;
  return "hook " + out + " (parent " + std::to_string(call.parent) + ")";
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  pbk_fuzz::SilenceLogging();
  std::string base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  std::string pattern = base + "/pbk-fuzz-hook.XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) std::abort();
  g_base = pattern;

  g_config.path = "/etc/pbk-agent/config.json";
  g_config.node = "pve1";
  g_config.kuma.url = "https://192.0.2.10:3001";
  g_config.kuma.endpoint.host = "192.0.2.10";
  g_config.kuma.endpoint.port = 3001;
  g_config.kuma.timeout_seconds = 5;
  g_config.jobs["backup-1"].push_token = "tok1";
  g_config.jobs["backup-2"].push_token = "tok2";
  g_config.jobs["backup-5"].push_token = "tok5";
  g_config.paths.state_dir = g_base + "/state";
  g_config.paths.scheduler_dir = g_base + "/jobs";
  g_config.paths.proc = g_base + "/proc";

  const std::string proc = g_config.paths.proc;
  WriteFile(proc + "/4242/cmdline", std::string("task ") + kUpid + std::string("\0", 1));
  WriteFile(proc + "/77/cmdline", std::string("/usr/bin/perl\0/usr/bin/vzdump\0", 30));
  WriteFile(proc + "/77/stat", "77 (vzdump) S 1 77 77 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5555 0 0");
  WriteFile(proc + "/5000/stat",
            "5000 (task UPID:pve1:) S 1 5000 5000 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 6000 0 0");
  WriteFile(g_config.paths.scheduler_dir + "/vzdump-backup-1.json",
            std::string(R"({"state":"started","upid":")") + kUpid + R"(","config":{}})");
  WriteFile(g_config.paths.scheduler_dir + "/vzdump-broken.json", "{not json");

  // The guard's cached job list, for runs the scheduler does not name.
  pbk::JobCache cache;
  cache.source = "files";
  cache.node = "pve1";
  cache.jobs = {Job("backup-1", "pbs1", true, {}),
                Job("backup-2", "local", false, {100, 101}),
                Job("backup-3", "nfs", true, {}),  // no push token on this node
                Job("backup-4", "pbs1", true, {}, "pve2"),
                Job("backup-5", "pbs2", false, {}, "", "prod")};
  cache.jobs[0].exclude = {105};
  std::string err;
  if (!pbk::MakeDirs(g_config.paths.state_dir, 0700, &err) ||
      !pbk::SaveJobCache(pbk::StateLayout(g_config.paths.state_dir).JobCache(), cache, &err)) {
    std::fprintf(stderr, "fuzz_hook_args: %s\n", err.c_str());
    std::abort();
  }
  g_open_fds = OpenFds();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (++g_runs % kClearEvery == 0) ClearState();
  const Call call = Decode(pbk_fuzz::Text(data, size));
  std::vector<Pushed> pushed;
  const int code = Run(call, &pushed);

  if (code < 0 || code > 2) pbk_fuzz::Violated(Describe(call) + " exited " + std::to_string(code));
  if (call.args.empty()) {
    if (code != 2 || !pushed.empty()) pbk_fuzz::Violated("hook without arguments: not a usage error");
    return 0;
  }
  if (pushed.size() > 1) pbk_fuzz::Violated(Describe(call) + " pushed more than once");
  const std::string& phase = call.args.front();
  if (!IsEndPhase(phase)) {
    if (code != 0) pbk_fuzz::Violated(Describe(call) + " exited " + std::to_string(code) + ", not 0");
    if (!pushed.empty()) pbk_fuzz::Violated(Describe(call) + " pushed");
    return 0;
  }
  if (call.args.size() > 1) return 0;  // a manual test push, not a run's

  // A run's end: one push per run key, however many end phases follow.
  const std::string key = RunKey(call.parent);
  if (!pushed.empty() && key.empty()) pbk_fuzz::Violated(Describe(call) + " pushed for no run");
  Call again = call;
  again.args = {"job-abort"};
  std::vector<Pushed> pushed_again;
  const int code_again = Run(again, &pushed_again);
  if (!pushed_again.empty()) {
    pbk_fuzz::Violated("job-abort after " + Describe(call) + " pushed the run a second time");
  }
  if (code_again < 0 || code_again > 2) pbk_fuzz::Violated("job-abort exited oddly");
  if (!key.empty() && (g_pushes_per_key[key] += static_cast<int>(pushed.size())) > 1) {
    pbk_fuzz::Violated("run " + key + " pushed twice");
  }
  return 0;
}
