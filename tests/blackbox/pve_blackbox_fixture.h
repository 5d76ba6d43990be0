// What the black-box tests of `pbk-agent guard`, `verify` and `jobs` share:
// the built binary against the fake PVE (the REST API over TLS with a
// read-only token, and pvesh acting as root@pam, both on a folder that plays
// /etc/pve) and the fake Uptime Kuma (tests/support/pve_node_fixture.h); the
// jobs.cfg sections they write and the fixtures that own it all.
#pragma once

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/pve_files.h"
#include "tests/support/pve_node_fixture.h"
#include "tests/support/test_time.h"

namespace pbk::testing::pve_blackbox {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

const std::string kBinDir = PBK_BIN_DIR;
const std::string kSourceDir = PBK_SOURCE_DIR;

constexpr const char* kTokenId = kPveTokenId;
// The push tokens of the Kuma monitors the verify and jobs tests map.
constexpr char kTokenA[] = "Hq4Wz8Lk2Tn6Rb9Xv3Mp";
constexpr char kTokenNew[] = "Jd7Fs1Qa5Ye8Uc2Ko4Vg";
constexpr char kBackupPath[] = "/api2/json/cluster/backup";
constexpr char kMountUsb[] = "/root/mount-usb.sh";

// Job ids. A, B as in the reference; the others are made up the same way.
constexpr char kJobA[] = "backup-8d6f3a2c-1b4e";     // all guests, everywhere, enabled
constexpr char kJobB[] = "backup-5c01e9aa-73d2";     // disabled, node pve2
constexpr char kJobNew[] = "backup-1f0c7d42-9e31";   // new, guest 100, enabled
constexpr char kJobUsb[] = "backup-6a3b2e19-c4d7";   // someone's own hook
constexpr char kJobPve2[] = "backup-7e2d5b10-a8f4";  // enabled, node pve2 only
constexpr char kJobRich[] = "backup-3d9a6c80-f1b2";  // many options

// --- small helpers ----------------------------------------------------------

inline size_t CountLinesContaining(const std::string& text, const std::string& part) {
  const auto lines = Lines(text);
  return static_cast<size_t>(std::count_if(
      lines.begin(), lines.end(), [&](const std::string& l) { return Contains(l, part); }));
}

inline std::string Sha1Hex(const std::string& text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(text.data(), text.size(), digest, &size, EVP_sha1(), nullptr);
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < size; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 15];
  }
  return hex;
}

// Letters and digits, as PVE makes token secrets and Kuma push tokens.
inline std::string RandomSecret(size_t length) {
  static const char kChars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::random_device device;
  std::uniform_int_distribution<size_t> pick(0, sizeof kChars - 2);
  std::string secret;
  for (size_t i = 0; i < length; ++i) secret += kChars[pick(device)];
  return secret;
}

// Every process whose command line mentions NEEDLE: "pid: cmdline".
inline std::vector<std::string> ProcessesMentioning(const std::string& needle) {
  std::vector<std::string> found;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    std::string cmdline = ReadText(entry.path().string() + "/cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (Contains(cmdline, needle)) found.push_back(name + ": " + cmdline);
  }
  return found;
}

// --- jobs.cfg sections, in PVE's own order (schedule first, then the keys
// alphabetically), so that PVE rewriting a section changes no line but the
// script. SCRIPT empty: the section has none.

inline std::string ScriptLine(const std::string& script) {
  return script.empty() ? "" : "\tscript " + script + "\n";
}

inline std::string SectionA(const std::string& script) {
  return std::string("vzdump: ") + kJobA + "\n\tschedule 21:00\n\tall 1\n\tcompress zstd\n" +
         "\tenabled 1\n\tmode snapshot\n\tnotes-template {{guestname}}\n" +
         "\tprune-backups keep-daily=7,keep-weekly=4\n" + ScriptLine(script) +
         "\tstorage pbs-main\n";
}

inline std::string SectionB(const std::string& script) {
  return std::string("vzdump: ") + kJobB + "\n\tschedule sat 02:30\n\tcomment DB servers\n" +
         "\tenabled 0\n\tmode stop\n\tnode pve2\n" + ScriptLine(script) +
         "\tstorage local\n\tvmid 110,111\n";
}

inline std::string SectionNew(const std::string& script) {
  return std::string("vzdump: ") + kJobNew + "\n\tschedule 03:00\n\tenabled 1\n" +
         "\tmailto ops@example.org\n\tmode snapshot\n" + ScriptLine(script) +
         "\tstorage pbs-main\n\tvmid 100\n";
}

inline std::string SectionUsb(const std::string& script) {
  return std::string("vzdump: ") + kJobUsb + "\n\tschedule sun 04:00\n\tall 1\n\tenabled 1\n" +
         "\texclude 105\n\tmode snapshot\n" + ScriptLine(script) + "\tstorage usb\n";
}

inline std::string SectionPve2(const std::string& script) {
  return std::string("vzdump: ") + kJobPve2 + "\n\tschedule 23:00\n\tall 1\n\tenabled 1\n" +
         "\tmode snapshot\n\tnode pve2\n" + ScriptLine(script) + "\tstorage local\n";
}

inline std::string SectionRich(const std::string& script) {
  return std::string("vzdump: ") + kJobRich + "\n\tschedule mon..fri 22:15\n" +
         "\tcomment nightly, do not touch\n\tcompress zstd\n\tenabled 1\n" +
         "\tfleecing enabled=1,storage=local-lvm\n\tmailnotification failure\n" +
         "\tmailto ops@example.org,dba@example.org\n\tmode snapshot\n" +
         "\tnotes-template {{guestname}} on {{node}}\n\tnotification-mode legacy-sendmail\n" +
         "\tperformance max-workers=2\n\tpool prod\n" +
         "\tprune-backups keep-daily=7,keep-last=3,keep-weekly=4\n" + ScriptLine(script) +
         "\tstorage pbs-main\n\tzstd 4\n";
}

// The lines of a jobs.cfg that are not a "script" option.
inline std::vector<std::string> NonScriptLines(const std::string& text) {
  std::vector<std::string> kept;
  for (const auto& line : Lines(text)) {
    if (!StartsWith(line, "\tscript ")) kept.push_back(line);
  }
  return kept;
}

// --- the fixture --------------------------------------------------------------

struct AgentConfig {
  std::map<std::string, std::string> jobs;  // job id -> push token
  std::vector<std::string> exclude;
  // These tests are about job placement (the hook on each job); the node
  // placement has its own (placement_blackbox_test.cpp).
  std::string placement = "job";
  // jobs.<id>.chain: the job with someone's own hook has it chained, so the
  // guard may take that job over.
  // The reference's job A names the packaged hook path, which in these
  // tests is another script than the hook under test: chained likewise.
  std::map<std::string, std::vector<std::string>> chains = {
      {kJobUsb, {kMountUsb}}, {kJobA, {"/var/lib/vz/snippets/vzdump-uptime-kuma-hook.sh"}}};
  std::string pvesh;  // empty: the installed fake
  int pve_timeout = 5;
  mode_t mode = 0600;
};

class PveBlackboxTest : public PveNodeFixture {
 protected:
  void SetUp() override {
    api_secret_ = RandomSecret(24);
    ASSERT_NO_FATAL_FAILURE(SetUpNode(api_secret_));
    FakePveOptions options = PveOptions();
    // The node's /etc/vzdump.conf: the file the configuration names, which
    // the API's GET /nodes/{node}/vzdump/defaults answers from.
    options.vzdump_conf = dir_.Path("vzdump.conf");
    pve_ = std::make_unique<FakePve>(options);
    ASSERT_NO_FATAL_FAILURE(WriteJobFiles(kRefJobsCfg, kRefCron));
    // pve2, where some jobs are pinned, runs pbk-agent too.
    std::filesystem::create_directories(pve_->RootPath("nodes/pve2"));
    ASSERT_TRUE(pve_->WriteRootFile("nodes/pve2/pbk-agent.json",
                                    json({{"version", "0.1.0"},
                                          {"placement", "job"},
                                          {"hook", hook_},
                                          {"updated", "2026-12-01T00:00:00Z"}})
                                        .dump()));
    ASSERT_NO_FATAL_FAILURE(StartPve());
  }

  void WriteJobFiles(const std::string& jobs_cfg, const std::string& cron) {
    ASSERT_TRUE(pve_->WriteRootFile("jobs.cfg", jobs_cfg));
    ASSERT_TRUE(pve_->WriteRootFile("vzdump.cron", cron));
  }
  std::string JobsCfgNow() const { return pve_->ReadRootFile("jobs.cfg"); }
  std::string CronNow() const { return pve_->ReadRootFile("vzdump.cron"); }

  void StartKuma(const std::string& cert = "ip") {
    // As Kuma does: only the monitors that exist take pushes (verify's
    // probe pushes to one that does not).
    StartKumaWith(cert, std::vector<std::string>{kTokenA, kTokenNew, "Pb3Nc6Md9Le2Kf5Jg8Hh"});
  }

  void WriteConfig(const AgentConfig& c = {}) {
    json jobs = JobTokens(c.jobs);
    for (const auto& [id, chain] : c.chains) jobs[id]["chain"] = chain;
    json config = {{"node", "pve1"},
                   {"kuma", KumaSection(3)},
                   {"jobs", jobs},
                   {"pve", PveSection(c.pvesh.empty() ? pvesh_ : c.pvesh, c.pve_timeout)},
                   {"paths",
                    {{"hook_script", hook_},
                     {"state_dir", state_dir_},
                     {"jobs_cfg", pve_->RootPath("jobs.cfg")},
                     {"vzdump_cron", pve_->RootPath("vzdump.cron")},
                     {"vzdump_conf", dir_.Path("vzdump.conf")},
                     {"pve_dir", pve_->root()},
                     {"scheduler_dir", dir_.Path("sched")}}}};
    config["guard"] = {{"placement", c.placement}};
    if (!c.exclude.empty()) config["guard"]["exclude"] = c.exclude;
    ASSERT_NO_FATAL_FAILURE(WriteConfigFile(config, c.mode));
  }

  // The hook wrapper as the package installs it, running BINARY.
  void RenderWrapper(const std::string& binary = kBinDir + "/pbk-agent") {
    std::string err;
    ASSERT_TRUE(RenderHookWrapper(kSourceDir, binary, config_path_, hook_, &err)) << err;
  }

  // pvesh calls of one kind ("set", "get").
  std::vector<json> PveshCalls(const std::string& command) const {
    std::vector<json> calls;
    for (auto& call : pve_->PveshCalls()) {
      const json& argv = At(call, "argv");
      if (argv.is_array() && !argv.empty() && argv[0] == command) calls.push_back(call);
    }
    return calls;
  }

  // The job id a "pvesh set /cluster/backup/<id> …" call changed.
  static std::string SetJobId(const json& call) {
    const json& argv = At(call, "argv");
    const std::string prefix = "/cluster/backup/";
    if (!argv.is_array() || argv.size() < 2 || !argv[1].is_string()) return "";
    const std::string path = argv[1].get<std::string>();
    return StartsWith(path, prefix) ? path.substr(prefix.size()) : "";
  }

  // Asserts that CALL is exactly `pvesh set /cluster/backup/ID --script HOOK`
  // and succeeded.
  void ExpectSetCall(const json& call, const std::string& id) const {
    EXPECT_EQ(At(call, "argv"), json({"set", "/cluster/backup/" + id, "--script", hook_}))
        << call.dump();
    EXPECT_EQ(At(call, "exit"), 0) << call.dump();
  }

  // The REST API was only read: every request a GET of the job list (or,
  // for verify, of where the guests are).
  void ExpectRestOnlyRead() const {
    for (const auto& request : pve_->Requests()) {
      EXPECT_EQ(Str(request, "method"), "GET") << request.dump();
      EXPECT_TRUE(Str(request, "path") == kBackupPath ||
                  Str(request, "path") == "/api2/json/cluster/resources")
          << request.dump();
    }
  }

  // job id -> script, as PVE lists the jobs now.
  std::map<std::string, std::string> ScriptsNow() const {
    json jobs;
    std::string err;
    EXPECT_TRUE(pve_->ListJobs(&jobs, &err)) << err;
    std::map<std::string, std::string> scripts;
    for (const auto& job : jobs) scripts[Str(job, "id")] = Str(job, "script");
    return scripts;
  }

  void ExpectEveryJobRunsTheHook(size_t count) const {
    auto scripts = ScriptsNow();
    EXPECT_EQ(scripts.size(), count);
    for (const auto& [id, script] : scripts) EXPECT_EQ(script, hook_) << "job " << id;
  }

  std::string ChangeLine(const std::string& id, const std::string& was, bool legacy = false) const {
    return "job " + id + ": script set to " + hook_ + " (was " + was + ")" +
           (legacy ? " (a legacy vzdump.cron job)" : "");
  }

  std::string api_secret_;
};

using GuardBlackboxTest = PveBlackboxTest;

// The drift most guard tests fix: a job with the hook, a disabled one
// without, a new one without, one with someone's own hook; no legacy job.
inline std::string MixedJobsCfg(const std::string& hook) {
  return JobsCfg({SectionA(hook), SectionB(""), SectionNew(""), SectionUsb(kMountUsb), kRealmSync});
}

// --- verify ------------------------------------------------------------------------


class VerifyBlackboxTest : public PveBlackboxTest {
 protected:
  // A node set up right: the wrapper rendered, every job runs the hook, the
  // two jobs that run here have a push token (the pve2-only ones need
  // none), Kuma answers, the spool is empty.
  void SetUpHealthyNode(const std::string& kuma_cert = "ip") {
    ASSERT_NO_FATAL_FAILURE(WriteJobFiles(HealthyJobsCfg(), kCronHead));
    // Guest 100 (kJobNew's) lives here; 110 and 111 (kJobB's) on pve2.
    PlaceGuests({{100, "pve1"}, {110, "pve2"}, {111, "pve2"}});
    ASSERT_NO_FATAL_FAILURE(StartKuma(kuma_cert));
    ASSERT_NO_FATAL_FAILURE(WriteConfig(HealthyConfig()));
    ASSERT_NO_FATAL_FAILURE(RenderWrapper());
  }

  std::string HealthyJobsCfg() const {
    return JobsCfg(
        {SectionA(hook_), SectionNew(hook_), SectionB(hook_), SectionPve2(hook_), kRealmSync});
  }

  // The cluster's guests the emulated API serves: vmid -> node; guest N is "vmN".
  void PlaceGuests(const std::vector<std::pair<int, std::string>>& placement) {
    std::vector<PlacedGuest> guests;
    for (const auto& [vmid, node] : placement) {
      guests.push_back({vmid, node, "vm" + std::to_string(vmid), false});
    }
    PveNodeFixture::PlaceGuests(guests);
  }

  static AgentConfig HealthyConfig() {
    AgentConfig config;
    config.jobs = {{kJobA, kTokenA}, {kJobNew, kTokenNew}};
    // The healthy node has no job with a hook of its own.
    config.chains.clear();
    return config;
  }

  // Asserts the exit code and a line "FAIL CHECK: …PHRASE…".
  static void ExpectFail(const RunResult& verify, const std::string& check,
                         const std::string& phrase, int exit_code = 1) {
    EXPECT_EQ(verify.exit_code, exit_code) << verify.out << verify.err;
    bool found = false;
    for (const auto& line : Lines(verify.out)) {
      if (StartsWith(line, "FAIL " + check + ": ") && Contains(line, phrase)) found = true;
    }
    EXPECT_TRUE(found) << "no line \"FAIL " << check << ": …" << phrase << "…\" in:\n"
                       << verify.out << verify.err;
    EXPECT_TRUE(Contains(verify.out, "this node is NOT set up right")) << verify.out;
  }

  static bool SystemdRuns() { return access("/run/systemd/system", F_OK) == 0; }
};

}  // namespace pbk::testing::pve_blackbox
