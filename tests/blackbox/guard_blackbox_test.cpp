// Black-box tests of `pbk-agent guard`, `verify` and `jobs`: the built
// binary against the fake PVE (the REST API over TLS with a read-only token,
// and pvesh acting as root@pam, both on a folder that plays /etc/pve) and the
// fake Uptime Kuma. What is asserted is what an admin and PVE can see: exit
// codes, the lines printed, the requests and pvesh calls the fakes logged,
// and jobs.cfg / vzdump.cron read back byte for byte.
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

#include "tests/support/fake_kuma.h"
#include "tests/support/fake_pve.h"
#include "tests/support/process.h"
#include "tests/support/suite_log.h"
#include "tests/support/test_certs.h"
#include "tests/support/test_dir.h"
#include "tests/support/test_text.h"
#include "tests/support/test_time.h"

namespace pbk::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

const std::string kBinDir = PBK_BIN_DIR;
const std::string kSourceDir = PBK_SOURCE_DIR;

constexpr char kTokenId[] = "pbk-agent@pve!guard";
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

// The reference's files (shared/reference/pve-backup-api.md), byte for byte.
const std::string kRefJobsCfg =
    "vzdump: backup-8d6f3a2c-1b4e\n"
    "\tschedule 21:00\n"
    "\tall 1\n"
    "\tcompress zstd\n"
    "\tenabled 1\n"
    "\tmode snapshot\n"
    "\tnotes-template {{guestname}}\n"
    "\tprune-backups keep-daily=7,keep-weekly=4\n"
    "\tscript /var/lib/vz/snippets/vzdump-uptime-kuma-hook.sh\n"
    "\tstorage pbs-main\n"
    "\n"
    "vzdump: backup-5c01e9aa-73d2\n"
    "\tcomment DB servers\n"
    "\tschedule sat 02:30\n"
    "\tenabled 0\n"
    "\tmode stop\n"
    "\tnode pve2\n"
    "\tstorage local\n"
    "\tvmid 110,111\n"
    "\n"
    "realm-sync: sync-ldap\n"
    "\tschedule daily\n"
    "\trealm ldap\n";

const std::string kCronHead =
    "# cluster wide vzdump cron schedule\n"
    "# Automatically generated file - do not edit\n"
    "\n"
    "PATH=\"/usr/sbin:/usr/bin:/sbin:/bin\"\n"
    "\n";
const std::string kCron1 =
    "0 1 * * 6           root vzdump 100 101 --mode snapshot --compress zstd --storage local "
    "--quiet 1";
const std::string kCron2 =
    "30 22 * * 1,2,3,4,5 root vzdump --all 1 --exclude 105 --storage nfs-backup --mode snapshot "
    "--quiet 1";
const std::string kCron3 =
    "15 3 * * *          root #vzdump 200 --mode stop --storage local --quiet 1";
const std::string kRefCron = kCronHead + kCron1 + "\n" + kCron2 + "\n" + kCron3 + "\n";

const std::string kRealmSync =
    "realm-sync: sync-ldap\n"
    "\tschedule daily\n"
    "\trealm ldap\n";

// --- small helpers ----------------------------------------------------------

size_t CountLinesContaining(const std::string& text, const std::string& part) {
  const auto lines = Lines(text);
  return static_cast<size_t>(std::count_if(
      lines.begin(), lines.end(), [&](const std::string& l) { return Contains(l, part); }));
}

std::string Sha1Hex(const std::string& text) {
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
std::string RandomSecret(size_t length) {
  static const char kChars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::random_device device;
  std::uniform_int_distribution<size_t> pick(0, sizeof kChars - 2);
  std::string secret;
  for (size_t i = 0; i < length; ++i) secret += kChars[pick(device)];
  return secret;
}

// Every process whose command line mentions NEEDLE: "pid: cmdline".
std::vector<std::string> ProcessesMentioning(const std::string& needle) {
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

std::string ScriptLine(const std::string& script) {
  return script.empty() ? "" : "\tscript " + script + "\n";
}

std::string SectionA(const std::string& script) {
  return std::string("vzdump: ") + kJobA + "\n\tschedule 21:00\n\tall 1\n\tcompress zstd\n" +
         "\tenabled 1\n\tmode snapshot\n\tnotes-template {{guestname}}\n" +
         "\tprune-backups keep-daily=7,keep-weekly=4\n" + ScriptLine(script) +
         "\tstorage pbs-main\n";
}

std::string SectionB(const std::string& script) {
  return std::string("vzdump: ") + kJobB + "\n\tschedule sat 02:30\n\tcomment DB servers\n" +
         "\tenabled 0\n\tmode stop\n\tnode pve2\n" + ScriptLine(script) +
         "\tstorage local\n\tvmid 110,111\n";
}

std::string SectionNew(const std::string& script) {
  return std::string("vzdump: ") + kJobNew + "\n\tschedule 03:00\n\tenabled 1\n" +
         "\tmailto ops@example.org\n\tmode snapshot\n" + ScriptLine(script) +
         "\tstorage pbs-main\n\tvmid 100\n";
}

std::string SectionUsb(const std::string& script) {
  return std::string("vzdump: ") + kJobUsb + "\n\tschedule sun 04:00\n\tall 1\n\tenabled 1\n" +
         "\texclude 105\n\tmode snapshot\n" + ScriptLine(script) + "\tstorage usb\n";
}

std::string SectionPve2(const std::string& script) {
  return std::string("vzdump: ") + kJobPve2 + "\n\tschedule 23:00\n\tall 1\n\tenabled 1\n" +
         "\tmode snapshot\n\tnode pve2\n" + ScriptLine(script) + "\tstorage local\n";
}

std::string SectionRich(const std::string& script) {
  return std::string("vzdump: ") + kJobRich + "\n\tschedule mon..fri 22:15\n" +
         "\tcomment nightly, do not touch\n\tcompress zstd\n\tenabled 1\n" +
         "\tfleecing enabled=1,storage=local-lvm\n\tmailnotification failure\n" +
         "\tmailto ops@example.org,dba@example.org\n\tmode snapshot\n" +
         "\tnotes-template {{guestname}} on {{node}}\n\tnotification-mode legacy-sendmail\n" +
         "\tperformance max-workers=2\n\tpool prod\n" +
         "\tprune-backups keep-daily=7,keep-last=3,keep-weekly=4\n" + ScriptLine(script) +
         "\tstorage pbs-main\n\tzstd 4\n";
}

std::string JobsCfg(const std::vector<std::string>& sections) {
  std::string text;
  for (const auto& section : sections) text += (text.empty() ? "" : "\n") + section;
  return text;
}

std::string Cron(const std::vector<std::string>& lines) {
  std::string text = kCronHead;
  for (const auto& line : lines) text += line + "\n";
  return text;
}

// The lines of a jobs.cfg that are not a "script" option.
std::vector<std::string> NonScriptLines(const std::string& text) {
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
  std::string pvesh;  // empty: the installed fake
  int pve_timeout = 5;
  mode_t mode = 0600;
};

class PveBlackboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string err;
    ASSERT_TRUE(MakeTestCertificates(dir_.Path("certs"), &err)) << err;
    hook_ = dir_.Path("vzdump-uptime-kuma-hook.sh");
    state_dir_ = dir_.Path("state");
    config_path_ = dir_.Path("config.json");

    api_secret_ = RandomSecret(24);
    secrets_.insert(api_secret_);
    RegisterSecret(api_secret_);
    json tokens = {{kTokenId, {{"secret", api_secret_}, {"privs", {"Sys.Audit"}}}}};
    tokens_path_ = dir_.Write("tokens.json", tokens.dump(2) + "\n");
    secret_file_ = dir_.Write("pve-token", api_secret_ + "\n");  // mode 0600

    FakePveOptions options;
    options.root = dir_.Path("root");
    options.cert = Cert("pve");
    options.key = Key("pve");
    options.tokens = tokens_path_;
    options.work_dir = dir_.path();
    pve_ = std::make_unique<FakePve>(options);
    ASSERT_NO_FATAL_FAILURE(WriteJobFiles(kRefJobsCfg, kRefCron));
    ASSERT_TRUE(pve_->Start(&err)) << err;
    pvesh_ = pve_->InstallPvesh(dir_.path());
    ASSERT_FALSE(pvesh_.empty());
  }

  void TearDown() override {
    if (kuma_) kuma_->Stop();
    if (pve_) pve_->Stop();
    ExpectNoSecretLeaked();
  }

  std::string Cert(const std::string& name) const { return dir_.Path("certs/" + name + ".pem"); }
  std::string Key(const std::string& name) const { return dir_.Path("certs/" + name + ".key"); }

  void WriteJobFiles(const std::string& jobs_cfg, const std::string& cron) {
    ASSERT_TRUE(pve_->WriteRootFile("jobs.cfg", jobs_cfg));
    ASSERT_TRUE(pve_->WriteRootFile("vzdump.cron", cron));
  }
  std::string JobsCfgNow() const { return pve_->ReadRootFile("jobs.cfg"); }
  std::string CronNow() const { return pve_->ReadRootFile("vzdump.cron"); }

  void StartKuma(const std::string& cert = "ip") {
    FakeKumaOptions options;
    options.cert = Cert(cert);
    options.key = Key(cert);
    // As Kuma does: only the monitors that exist take pushes (verify's
    // probe pushes to one that does not).
    options.tokens = std::vector<std::string>{kTokenA, kTokenNew, "Pb3Nc6Md9Le2Kf5Jg8Hh"};
    options.work_dir = dir_.path();
    kuma_ = std::make_unique<FakeKuma>(options);
    std::string err;
    ASSERT_TRUE(kuma_->Start(&err)) << err;
  }

  void WriteConfig(const AgentConfig& c = {}) {
    json jobs = json::object();
    for (const auto& [id, token] : c.jobs) {
      jobs[id] = {{"push_token", token}};
      secrets_.insert(token);
      RegisterSecret(token);
    }
    json config = {{"node", "pve1"},
                   {"kuma",
                    {{"url", kuma_ ? kuma_->url() : std::string("https://127.0.0.1:9")},
                     {"ca_file", Cert("ca")},
                     {"timeout_seconds", 3}}},
                   {"jobs", jobs},
                   {"pve",
                    {{"api_url", pve_->url()},
                     {"ca_file", Cert("ca")},
                     {"token_id", kTokenId},
                     {"token_secret_file", secret_file_},
                     {"pvesh", c.pvesh.empty() ? pvesh_ : c.pvesh},
                     {"timeout_seconds", c.pve_timeout}}},
                   {"paths",
                    {{"hook_script", hook_},
                     {"state_dir", state_dir_},
                     {"jobs_cfg", pve_->RootPath("jobs.cfg")},
                     {"vzdump_cron", pve_->RootPath("vzdump.cron")},
                     {"scheduler_dir", dir_.Path("sched")}}}};
    if (!c.exclude.empty()) config["guard"] = {{"exclude", c.exclude}};
    dir_.Write("config.json", config.dump(2) + "\n");
    ASSERT_EQ(chmod(config_path_.c_str(), c.mode), 0);
  }

  // The hook wrapper as the package installs it, running BINARY.
  void RenderWrapper(const std::string& binary = kBinDir + "/pbk-agent") {
    std::string err;
    ASSERT_TRUE(RenderHookWrapper(kSourceDir, binary, config_path_, hook_, &err)) << err;
  }

  std::vector<std::string> AgentArgv(const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {kBinDir + "/pbk-agent", "--config", config_path_};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }

  RunResult Agent(const std::vector<std::string>& args, seconds timeout = seconds(30)) {
    RunResult result = pbk::testing::Run(AgentArgv(args), nullptr, timeout);
    Remember(result);
    EXPECT_TRUE(result.started) << result.error;
    EXPECT_FALSE(result.timed_out) << result.Describe() << "\n" << result.out << result.err;
    return result;
  }

  void Remember(const RunResult& result) {
    outputs_.push_back(result.out);
    outputs_.push_back(result.err);
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

  // Push tokens and the API token secret must not show up in anything the
  // product printed or wrote. The configuration, the token files and the
  // fakes' own logs hold them (or requests carrying them) by design.
  void ExpectNoSecretLeaked() {
    std::set<std::string> exempt = {config_path_, tokens_path_, secret_file_};
    if (pve_) {
      exempt.insert(pve_->log_path());
      exempt.insert(pve_->pvesh_log_path());
      exempt.insert(dir_.Path("pvesh-probe.jsonl"));
    }
    if (kuma_) exempt.insert(kuma_->log_path());
    const auto texts = TextsToScan(outputs_, dir_.path(), exempt);
    for (const auto& secret : secrets_) {
      for (const auto& [where, text] : texts) {
        EXPECT_FALSE(Contains(text, secret)) << "a secret leaked into " << where << ":\n" << text;
      }
    }
  }

  std::string ChangeLine(const std::string& id, const std::string& was, bool legacy = false) const {
    return "job " + id + ": script set to " + hook_ + " (was " + was + ")" +
           (legacy ? " (a legacy vzdump.cron job)" : "");
  }

  TestDir dir_;
  std::string hook_;
  std::string state_dir_;
  std::string config_path_;
  std::string tokens_path_;
  std::string secret_file_;
  std::string api_secret_;
  std::string pvesh_;
  std::unique_ptr<FakePve> pve_;
  std::unique_ptr<FakeKuma> kuma_;
  std::vector<std::string> outputs_;
  std::set<std::string> secrets_;
};

using GuardBlackboxTest = PveBlackboxTest;

// The drift most guard tests fix: a job with the hook, a disabled one
// without, a new one without, one with someone's own hook; no legacy job.
std::string MixedJobsCfg(const std::string& hook) {
  return JobsCfg({SectionA(hook), SectionB(""), SectionNew(""), SectionUsb(kMountUsb), kRealmSync});
}

// --- the guard: nothing to do -----------------------------------------------

TEST_F(GuardBlackboxTest, NothingToDoReadsOnceAndWritesNothing) {
  const std::string jobs_cfg = JobsCfg({SectionA(hook_), SectionB(hook_), kRealmSync});
  const std::string cron = Cron({kCron1 + " --script " + hook_, kCron2 + " --script " + hook_,
                                 kCron3 + " --script " + hook_});
  ASSERT_NO_FATAL_FAILURE(WriteJobFiles(jobs_cfg, cron));
  ASSERT_NO_FATAL_FAILURE(WriteConfig());

  RunResult guard = Agent({"guard"});
  EXPECT_EQ(guard.exit_code, 0) << guard.err;
  EXPECT_EQ(guard.out, "");
  EXPECT_TRUE(HasLine(guard.err, "5 job(s) read through rest: 0 changed, 0 without the hook"))
      << guard.err;
  EXPECT_EQ(CountLinesContaining(guard.err, "script set to"), 0u) << guard.err;

  auto requests = pve_->Requests();
  ASSERT_EQ(requests.size(), 1u) << json(requests).dump(1);
  EXPECT_EQ(Str(requests[0], "method"), "GET");
  EXPECT_EQ(Str(requests[0], "path"), kBackupPath);
  EXPECT_EQ(At(requests[0], "auth"), kTokenId);
  EXPECT_EQ(At(requests[0], "status"), 200);
  EXPECT_TRUE(pve_->PveshCalls().empty()) << json(pve_->PveshCalls()).dump(1);
  EXPECT_EQ(JobsCfgNow(), jobs_cfg);
  EXPECT_EQ(CronNow(), cron);
}

TEST_F(GuardBlackboxTest, SecondRunAfterAFixIsOneReadAndNoPvesh) {
  ASSERT_NO_FATAL_FAILURE(WriteConfig());
  RunResult first = Agent({"guard"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const std::string jobs_cfg = JobsCfgNow();
  const std::string cron = CronNow();
  const size_t requests_before = pve_->Requests().size();
  const size_t calls_before = pve_->PveshCalls().size();

  RunResult second = Agent({"guard"});
  EXPECT_EQ(second.exit_code, 0) << second.err;
  EXPECT_TRUE(HasLine(second.err, "5 job(s) read through rest: 0 changed, 0 without the hook"))
      << second.err;
  EXPECT_EQ(pve_->Requests().size(), requests_before + 1);
  EXPECT_EQ(pve_->PveshCalls().size(), calls_before);
  EXPECT_EQ(JobsCfgNow(), jobs_cfg);
  EXPECT_EQ(CronNow(), cron);
}

// --- the guard: drift in jobs.cfg ---------------------------------------------

TEST_F(GuardBlackboxTest, EveryDriftedJobGetsTheHookThroughOnePveshSetEach) {
  ASSERT_NO_FATAL_FAILURE(WriteJobFiles(MixedJobsCfg(hook_), kCronHead));
  ASSERT_NO_FATAL_FAILURE(WriteConfig());

  RunResult guard = Agent({"guard"});
  EXPECT_EQ(guard.exit_code, 0) << guard.err;
  EXPECT_EQ(guard.out, "");

  // One set per drifted job, exactly the hook, nothing read through pvesh.
  auto sets = PveshCalls("set");
  ASSERT_EQ(sets.size(), 3u) << json(pve_->PveshCalls()).dump(1);
  ExpectSetCall(sets[0], kJobB);
  ExpectSetCall(sets[1], kJobNew);
  ExpectSetCall(sets[2], kJobUsb);
  EXPECT_EQ(pve_->PveshCalls().size(), 3u) << json(pve_->PveshCalls()).dump(1);

  // One line per change, with the old value.
  EXPECT_TRUE(HasLine(guard.err, ChangeLine(kJobB, "none"))) << guard.err;
  EXPECT_TRUE(HasLine(guard.err, ChangeLine(kJobNew, "none"))) << guard.err;
  EXPECT_TRUE(HasLine(guard.err, ChangeLine(kJobUsb, "\"/root/mount-usb.sh\""))) << guard.err;
  EXPECT_EQ(CountLinesContaining(guard.err, "script set to"), 3u) << guard.err;
  EXPECT_TRUE(HasLine(guard.err, "4 job(s) read through rest: 3 changed, 0 without the hook"))
      << guard.err;
  // None of them has a monitor on this node (the configuration maps none),
  // and each line of change says so right after.
  EXPECT_EQ(CountLinesContaining(guard.err, "no push monitor on node pve1"), 3u) << guard.err;
  EXPECT_TRUE(Contains(guard.err, std::string("job ") + kJobNew + ": no push monitor on node pve1"))
      << guard.err;

  // The token only read: no PUT ever reached the API.
  auto requests = pve_->Requests();
  EXPECT_GE(requests.size(), 1u);
  ExpectRestOnlyRead();
  for (const auto& request : requests) EXPECT_EQ(At(request, "auth"), kTokenId) << request.dump();

  // jobs.cfg holds the hook on every job and nothing else changed.
  EXPECT_EQ(JobsCfgNow(), JobsCfg({SectionA(hook_), SectionB(hook_), SectionNew(hook_),
                                   SectionUsb(hook_), kRealmSync}));
  EXPECT_EQ(CronNow(), kCronHead);
}

// --- the guard: legacy vzdump.cron jobs --------------------------------------

TEST_F(GuardBlackboxTest, LegacyJobsAreAllFixedAlthoughTheirIdsMove) {
  const std::string jobs_cfg = JobsCfg({SectionA(hook_), kRealmSync});
  ASSERT_NO_FATAL_FAILURE(WriteJobFiles(jobs_cfg, kRefCron));
  ASSERT_NO_FATAL_FAILURE(WriteConfig());

  RunResult guard = Agent({"guard"});
  EXPECT_EQ(guard.exit_code, 0) << guard.err;

  auto sets = PveshCalls("set");
  ASSERT_EQ(sets.size(), 3u) << json(pve_->PveshCalls()).dump(1);
  std::set<std::string> ids;
  for (const auto& call : sets) {
    const std::string id = SetJobId(call);
    // PVE answers "no such vzdump job" (exit 255) to an id that is stale.
    ExpectSetCall(call, id);
    ids.insert(id);
    EXPECT_TRUE(Contains(id, ":")) << id;
  }
  EXPECT_EQ(ids.size(), 3u) << "each change needs the id current at that time";
  EXPECT_EQ(SetJobId(sets[0]), Sha1Hex(kRefCron) + ":1");
  for (const auto& id : ids) {
    EXPECT_TRUE(HasLine(guard.err, ChangeLine(id, "none", /*legacy=*/true))) << guard.err;
  }

  // The list was read again after each change, before the next one.
  auto requests = pve_->Requests();
  ExpectRestOnlyRead();
  for (size_t i = 0; i < sets.size(); ++i) {
    const double after = At(sets[i], "time").get<double>();
    const double before = i + 1 < sets.size() ? At(sets[i + 1], "time").get<double>() : 1e18;
    const bool listed = std::any_of(requests.begin(), requests.end(), [&](const json& r) {
      const double t = At(r, "time").get<double>();
      return t > after && t < before;
    });
    EXPECT_TRUE(listed) << "no list between set #" << i + 1 << " and the next step:\n"
                        << json(requests).dump(1) << json(sets).dump(1);
  }

  // Every job runs the hook; the disabled one is still disabled.
  json jobs;
  std::string err;
  ASSERT_TRUE(pve_->ListJobs(&jobs, &err)) << err;
  ASSERT_EQ(jobs.size(), 4u) << jobs.dump(1);
  int disabled = 0;
  for (const auto& job : jobs) {
    EXPECT_EQ(Str(job, "script"), hook_) << job.dump();
    if (Str(job, "id") != kJobA) {
      EXPECT_EQ(ids.count(Str(job, "id")), 1u)
          << "moved into jobs.cfg under its id: " << job.dump();
    }
    if (At(job, "vmid") == "200") {
      ++disabled;
      EXPECT_EQ(At(job, "enabled"), 0) << job.dump();
    }
  }
  EXPECT_EQ(disabled, 1) << jobs.dump(1);
  EXPECT_TRUE(HasLine(guard.err, "4 job(s) read through rest: 3 changed, 0 without the hook"))
      << guard.err;
}

// --- the guard: the REST API is not usable ------------------------------------

struct RestDownCase {
  const char* label;
  const char* reason;  // what stderr must say about why REST failed
};

void PrintTo(const RestDownCase& c, std::ostream* out) { *out << c.label; }

class GuardRestDownTest : public PveBlackboxTest,
                          public ::testing::WithParamInterface<RestDownCase> {};

TEST_P(GuardRestDownTest, ReadsThroughPveshAndStillFixesEveryJob) {
  const std::string label = GetParam().label;
  AgentConfig config;
  if (label == "ApiHangs") config.pve_timeout = 2;
  ASSERT_NO_FATAL_FAILURE(WriteConfig(config));
  if (label == "ApiHangs") {
    ASSERT_TRUE(pve_->SetMode("hang"));
  } else if (label == "Http500") {
    ASSERT_TRUE(pve_->SetMode("500"));
  } else if (label == "WrongSecret") {
    const std::string wrong = RandomSecret(24);
    secrets_.insert(wrong);
    RegisterSecret(wrong);
    dir_.Write("pve-token", wrong + "\n");
  } else {
    pve_->Stop();
  }

  RunResult guard = Agent({"guard"});
  EXPECT_EQ(guard.exit_code, 0) << guard.err;
  if (label == "ApiHangs") {
    // pve.timeout_seconds bounds the request; ten quick pvesh calls follow.
    EXPECT_LE(guard.wall_ms, 2000 + 4000) << guard.err;
  }
  bool named = false;
  for (const auto& line : Lines(guard.err)) {
    if (StartsWith(line, "warning: reading the jobs through rest failed: ") &&
        Contains(line, GetParam().reason)) {
      named = true;
    }
  }
  EXPECT_TRUE(named) << "expected why REST failed (" << GetParam().reason << "):\n" << guard.err;
  EXPECT_TRUE(HasLine(guard.err, "5 job(s) read through pvesh: 5 changed, 0 without the hook"))
      << guard.err;

  auto calls = pve_->PveshCalls();
  ASSERT_FALSE(calls.empty());
  EXPECT_EQ(At(calls[0], "argv"), json({"get", "/cluster/backup", "--output-format", "json"}));
  auto sets = PveshCalls("set");
  EXPECT_EQ(sets.size(), 5u) << json(calls).dump(1);
  for (const auto& call : sets) ExpectSetCall(call, SetJobId(call));
  // REST was tried once and not again after it failed.
  EXPECT_LE(pve_->Requests().size(), label == "ApiStopped" ? 0u : 1u);
  ExpectRestOnlyRead();
  ExpectEveryJobRunsTheHook(5);
}

INSTANTIATE_TEST_SUITE_P(Failures, GuardRestDownTest,
                         ::testing::Values(RestDownCase{"Http500", "HTTP 500"},
                                           RestDownCase{"WrongSecret", "refused the token"},
                                           RestDownCase{"ApiStopped", "connection refused"},
                                           RestDownCase{"ApiHangs",
                                                        "no complete answer within 2 s"}),
                         [](const ::testing::TestParamInfo<RestDownCase>& param_info) {
                           return std::string(param_info.param.label);
                         });

// --- the guard: pvesh fails ------------------------------------------------------

TEST_F(GuardBlackboxTest, NoQuorumFailsWithPveshsMessageAndChangesNothing) {
  ASSERT_NO_FATAL_FAILURE(WriteConfig());
  ASSERT_TRUE(pve_->SetNoQuorum(true));

  RunResult guard = Agent({"guard"});
  EXPECT_EQ(guard.exit_code, 1) << guard.err;
  EXPECT_TRUE(Contains(guard.err, "cfs-lock 'file-jobs_cfg' error: no quorum!")) << guard.err;
  EXPECT_EQ(JobsCfgNow(), kRefJobsCfg);
  EXPECT_EQ(CronNow(), kRefCron);

  // Every job is named as still without the hook; nothing was patched.
  const std::string digest = Sha1Hex(kRefCron);
  for (const std::string& id :
       {digest + ":1", digest + ":2", digest + ":3", std::string(kJobA), std::string(kJobB)}) {
    bool named = false;
    for (const auto& line : Lines(guard.err)) {
      if (StartsWith(line, "error: job " + id + " does not run the hook") &&
          Contains(line, "no quorum")) {
        named = true;
      }
    }
    EXPECT_TRUE(named) << id << ":\n" << guard.err;
  }
  auto sets = PveshCalls("set");
  EXPECT_GE(sets.size(), 1u);
  EXPECT_LE(sets.size(), 5u) << "one attempt per job at most";
  for (const auto& call : sets) EXPECT_NE(At(call, "exit"), 0) << call.dump();
  EXPECT_EQ(CountLinesContaining(guard.err, "script set to"), 0u) << guard.err;
  ExpectRestOnlyRead();
}

TEST_F(GuardBlackboxTest, HangingPveshIsKilledWithinTheTimeout) {
  const std::string jobs_cfg = JobsCfg({SectionA(hook_), SectionNew(""), kRealmSync});
  ASSERT_NO_FATAL_FAILURE(WriteJobFiles(jobs_cfg, kCronHead));
  AgentConfig config;
  config.pve_timeout = 2;
  ASSERT_NO_FATAL_FAILURE(WriteConfig(config));
  ASSERT_TRUE(pve_->SetPveshMode("hang"));

  RunResult guard = Agent({"guard"}, seconds(20));
  auto calls = pve_->PveshCalls();
  ASSERT_EQ(calls.size(), 1u) << json(calls).dump(1);
  EXPECT_TRUE(At(calls[0], "exit").is_null()) << calls[0].dump();
  EXPECT_EQ(guard.exit_code, 1) << guard.err;
  // Bounded: at most 2 s per pvesh call, plus start-up and the REST read.
  EXPECT_LE(guard.wall_ms, 2000 * static_cast<int64_t>(calls.size()) + 2000) << guard.err;
  EXPECT_GE(guard.wall_ms, 1900) << "the timeout is pve.timeout_seconds: " << guard.err;
  EXPECT_TRUE(Contains(guard.err, "pvesh set /cluster/backup/" + std::string(kJobNew) +
                                      " --script " + hook_ +
                                      " gave no result within 2 s and was killed"))
      << guard.err;
  EXPECT_TRUE(Contains(guard.err, "error: job " + std::string(kJobNew) + " does not run the hook"))
      << guard.err;
  EXPECT_EQ(JobsCfgNow(), jobs_cfg);
  // Nothing of the killed pvesh is left running.
  std::vector<std::string> left;
  for (const auto& process : ProcessesMentioning(pve_->root())) {
    if (Contains(process, "fake_pvesh")) left.push_back(process);
  }
  std::string listing;
  for (const auto& process : left) listing += process + "\n";
  EXPECT_TRUE(left.empty()) << listing;
}

TEST_F(GuardBlackboxTest, FailingPveshWithTheApiDownPatchesNothingBehindItsBack) {
  // pvesh is there but fails, and the API is down: the jobs are read from
  // the files, and vzdump.cron is still not patched by hand.
  ASSERT_NO_FATAL_FAILURE(WriteConfig());
  ASSERT_TRUE(pve_->SetPveshMode("fail"));
  ASSERT_TRUE(pve_->SetMode("500"));

  RunResult guard = Agent({"guard"});
  EXPECT_EQ(guard.exit_code, 1) << guard.err;
  EXPECT_TRUE(HasLine(guard.err, "5 job(s) read through files: 0 changed, 5 without the hook"))
      << guard.err;
  EXPECT_TRUE(Contains(guard.err, "exited with code 2: unexpected failure")) << guard.err;
  EXPECT_EQ(CountLinesContaining(guard.err, "script set to"), 0u) << guard.err;
  EXPECT_EQ(JobsCfgNow(), kRefJobsCfg);
  EXPECT_EQ(CronNow(), kRefCron);
}

// --- the guard without pvesh ------------------------------------------------------

class GuardWithoutPveshTest : public PveBlackboxTest, public ::testing::WithParamInterface<bool> {};

TEST_P(GuardWithoutPveshTest, PatchesOnlyTheDriftedVzdumpCronLines) {
  const bool api_up = GetParam();
  const std::string jobs_cfg = JobsCfg({SectionA(hook_), SectionNew(""), kRealmSync});
  const std::string cron = Cron({kCron1, kCron2 + " --script " + hook_, kCron3});
  ASSERT_NO_FATAL_FAILURE(WriteJobFiles(jobs_cfg, cron));
  ASSERT_EQ(chmod(pve_->RootPath("vzdump.cron").c_str(), 0640), 0);
  AgentConfig config;
  config.pvesh = dir_.Path("missing/pvesh");
  ASSERT_NO_FATAL_FAILURE(WriteConfig(config));
  if (!api_up) pve_->Stop();

  RunResult guard = Agent({"guard"});
  EXPECT_EQ(guard.exit_code, 1) << guard.err;

  // The original bytes with " --script HOOK" after exactly the drifted lines.
  std::string expected = cron;
  for (const std::string& line : {kCron1, kCron3}) {
    const size_t at = expected.find(line + "\n");
    ASSERT_NE(at, std::string::npos);
    expected.insert(at + line.size(), " --script " + hook_);
  }
  EXPECT_EQ(CronNow(), expected);
  struct stat st {};
  ASSERT_EQ(stat(pve_->RootPath("vzdump.cron").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(JobsCfgNow(), jobs_cfg);

  EXPECT_TRUE(
      Contains(guard.err, "warning: pvesh is not available at " + dir_.Path("missing/pvesh")))
      << guard.err;
  EXPECT_EQ(CountLinesContaining(guard.err, "script set to " + hook_ +
                                                " (was none) (a legacy "
                                                "vzdump.cron job)"),
            2u)
      << guard.err;
  EXPECT_TRUE(HasLine(guard.err, "error: job " + std::string(kJobNew) +
                                     " does not run the hook (script none): job " + kJobNew +
                                     " lives in jobs.cfg, which only PVE itself may write (pvesh "
                                     "is needed)"))
      << guard.err;
  EXPECT_TRUE(Contains(guard.err, std::string("read through ") + (api_up ? "rest" : "files") +
                                      ": 2 changed, 1 without the hook"))
      << guard.err;
  EXPECT_TRUE(pve_->PveshCalls().empty());
  ExpectRestOnlyRead();
}

INSTANTIATE_TEST_SUITE_P(Api, GuardWithoutPveshTest, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& param_info) {
                           return std::string(param_info.param ? "ApiUp" : "ApiDownReadsTheFiles");
                         });

// --- the guard: --dry-run, concurrency, exclude, --json, the cache ---------------

TEST_F(GuardBlackboxTest, DryRunReportsDriftAndWritesNothing) {
  ASSERT_NO_FATAL_FAILURE(WriteConfig());

  RunResult dry = Agent({"guard", "--dry-run"});
  EXPECT_EQ(dry.exit_code, 1) << dry.err;
  EXPECT_EQ(CountLinesContaining(dry.err, "not changed (--dry-run)"), 5u) << dry.err;
  EXPECT_TRUE(HasLine(dry.err,
                      "5 job(s) read through rest: 0 changed, 5 without the hook (dry "
                      "run: nothing written)"))
      << dry.err;

  RunResult dry_json = Agent({"guard", "--dry-run", "--json"});
  EXPECT_EQ(dry_json.exit_code, 1) << dry_json.err;
  json document = json::parse(dry_json.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(document.is_object()) << dry_json.out;
  EXPECT_EQ(At(document, "ok"), false);
  EXPECT_EQ(At(document, "dry_run"), true);
  EXPECT_EQ(At(document, "drift_left"), 5);
  EXPECT_EQ(At(document, "changes"), json::array());

  EXPECT_TRUE(pve_->PveshCalls().empty()) << json(pve_->PveshCalls()).dump(1);
  EXPECT_EQ(pve_->Requests().size(), 2u);
  ExpectRestOnlyRead();
  EXPECT_EQ(JobsCfgNow(), kRefJobsCfg);
  EXPECT_EQ(CronNow(), kRefCron);
  EXPECT_FALSE(std::filesystem::exists(state_dir_ + "/jobs.json"));
  EXPECT_FALSE(std::filesystem::exists(state_dir_)) << "a dry run writes nothing, not even a lock";
}

TEST_F(GuardBlackboxTest, TwoGuardsAtOnceDoEveryChangeOnce) {
  ASSERT_NO_FATAL_FAILURE(WriteConfig());
  // Slow enough that the first guard still holds the lock when the second starts.
  ASSERT_TRUE(pve_->SetPveshMode("slow:0.2"));

  BackgroundProcess guards[2];
  for (int i = 0; i < 2; ++i) {
    std::string err;
    ASSERT_TRUE(guards[i].Start(AgentArgv({"guard"}), nullptr,
                                dir_.Path("guard" + std::to_string(i) + ".out"),
                                dir_.Path("guard" + std::to_string(i) + ".err"), &err))
        << err;
  }
  std::string err_text[2];
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(guards[i].Wait(seconds(60))) << "guard " << i << " did not end";
    err_text[i] = ReadText(dir_.Path("guard" + std::to_string(i) + ".err"));
    outputs_.push_back(err_text[i]);
    outputs_.push_back(ReadText(dir_.Path("guard" + std::to_string(i) + ".out")));
    EXPECT_EQ(guards[i].exit_code(), 0) << err_text[i];
  }

  auto sets = PveshCalls("set");
  EXPECT_EQ(sets.size(), 5u) << json(pve_->PveshCalls()).dump(1);
  std::set<std::string> ids;
  for (const auto& call : sets) {
    ExpectSetCall(call, SetJobId(call));
    ids.insert(SetJobId(call));
  }
  EXPECT_EQ(ids.size(), sets.size()) << "a job was changed twice";

  const char kWaiting[] = "another guard is running; waiting for it";
  const int waited = static_cast<int>(HasLine(err_text[0], kWaiting)) +
                     static_cast<int>(HasLine(err_text[1], kWaiting));
  EXPECT_EQ(waited, 1) << err_text[0] << "---\n" << err_text[1];
  const std::string& waiter = HasLine(err_text[0], kWaiting) ? err_text[0] : err_text[1];
  const std::string& first = HasLine(err_text[0], kWaiting) ? err_text[1] : err_text[0];
  EXPECT_TRUE(HasLine(first, "5 job(s) read through rest: 5 changed, 0 without the hook")) << first;
  EXPECT_TRUE(HasLine(waiter, "5 job(s) read through rest: 0 changed, 0 without the hook"))
      << waiter;
  ASSERT_TRUE(pve_->SetPveshMode("normal"));
  ExpectEveryJobRunsTheHook(5);
}

TEST_F(GuardBlackboxTest, ExcludedJobKeepsItsOwnScript) {
  ASSERT_NO_FATAL_FAILURE(WriteJobFiles(MixedJobsCfg(hook_), kCronHead));
  AgentConfig config;
  config.exclude = {kJobUsb};
  ASSERT_NO_FATAL_FAILURE(WriteConfig(config));

  RunResult guard = Agent({"guard"});
  EXPECT_EQ(guard.exit_code, 0) << guard.err;
  auto sets = PveshCalls("set");
  ASSERT_EQ(sets.size(), 2u) << json(pve_->PveshCalls()).dump(1);
  ExpectSetCall(sets[0], kJobB);
  ExpectSetCall(sets[1], kJobNew);
  EXPECT_EQ(JobsCfgNow(), JobsCfg({SectionA(hook_), SectionB(hook_), SectionNew(hook_),
                                   SectionUsb(kMountUsb), kRealmSync}));
  EXPECT_FALSE(Contains(guard.err, std::string("job ") + kJobUsb + ":")) << guard.err;
  EXPECT_TRUE(
      HasLine(guard.err, "4 job(s) read through rest: 2 changed, 0 without the hook, 1 excluded"))
      << guard.err;
}

TEST_F(GuardBlackboxTest, JsonOutputListsTheChanges) {
  ASSERT_NO_FATAL_FAILURE(WriteJobFiles(MixedJobsCfg(hook_), kCronHead));
  ASSERT_NO_FATAL_FAILURE(WriteConfig());

  RunResult guard = Agent({"guard", "--json"});
  EXPECT_EQ(guard.exit_code, 0) << guard.err;
  json document = json::parse(guard.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(document.is_object()) << guard.out;
  EXPECT_EQ(At(document, "ok"), true) << document.dump(1);
  EXPECT_EQ(At(document, "dry_run"), false);
  EXPECT_EQ(At(document, "source"), "rest");
  EXPECT_EQ(At(document, "drift_left"), 0);
  EXPECT_EQ(At(document, "errors"), json::array());
  EXPECT_EQ(At(document, "changes"),
            json({{{"id", kJobB}, {"old_script", ""}, {"legacy", false}},
                  {{"id", kJobNew}, {"old_script", ""}, {"legacy", false}},
                  {{"id", kJobUsb}, {"old_script", kMountUsb}, {"legacy", false}}}))
      << document.dump(1);
  const json& jobs = At(document, "jobs");
  ASSERT_EQ(jobs.size(), 4u) << document.dump(1);
  for (const auto& job : jobs) {
    EXPECT_EQ(At(job, "carries_hook"), true) << job.dump();
    EXPECT_EQ(At(job, "script"), hook_) << job.dump();
  }
}

TEST_F(GuardBlackboxTest, CachesTheJobListInTheStateDir) {
  ASSERT_NO_FATAL_FAILURE(WriteJobFiles(MixedJobsCfg(hook_), kCronHead));
  ASSERT_NO_FATAL_FAILURE(WriteConfig());
  const auto before =
      std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();

  RunResult guard = Agent({"guard"});
  EXPECT_EQ(guard.exit_code, 0) << guard.err;
  const std::string text = ReadText(state_dir_ + "/jobs.json");
  json cache = json::parse(text, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(cache.is_object()) << text;
  EXPECT_EQ(At(cache, "format"), 1);
  EXPECT_EQ(At(cache, "source"), "rest");
  EXPECT_EQ(At(cache, "node"), "pve1");
  ASSERT_TRUE(At(cache, "written").is_number()) << text;
  EXPECT_GE(At(cache, "written").get<int64_t>(), before - 1000);
  // The jobs either written out ("jobs") or kept as PVE answered them
  // ("document": {"data": [...]} from the API, the bare list from pvesh).
  json list = At(cache, "jobs");
  if (list.is_null()) {
    list = At(cache, "document");
    if (list.is_object()) list = At(list, "data");
  }
  ASSERT_TRUE(list.is_array()) << text;
  std::vector<std::string> ids;
  for (const auto& job : list) {
    ids.push_back(Str(job, "id"));
    EXPECT_EQ(Str(job, "script"), hook_)
        << "the list as read back after the changes: " << job.dump();
  }
  EXPECT_EQ(ids, std::vector<std::string>({kJobA, kJobB, kJobNew, kJobUsb}));
}

// --- the guard: broken REST answers ----------------------------------------------

class GuardMalformedAnswerTest : public PveBlackboxTest,
                                 public ::testing::WithParamInterface<const char*> {};

TEST_P(GuardMalformedAnswerTest, FallsBackToPveshAndKeepsEveryOtherOption) {
  const std::string before =
      JobsCfg({SectionA(hook_), SectionRich(""), SectionUsb(kMountUsb), kRealmSync});
  ASSERT_NO_FATAL_FAILURE(WriteJobFiles(before, kCronHead));
  ASSERT_NO_FATAL_FAILURE(WriteConfig());
  ASSERT_TRUE(pve_->SetMode(GetParam()));

  RunResult guard = Agent({"guard"});
  EXPECT_EQ(guard.exit_code, 0) << guard.err;
  EXPECT_TRUE(Contains(guard.err, "warning: reading the jobs through rest failed: ")) << guard.err;
  if (std::string(GetParam()) == "malformed") {
    EXPECT_TRUE(Contains(guard.err, "not valid JSON")) << guard.err;
  }
  EXPECT_TRUE(HasLine(guard.err, "3 job(s) read through pvesh: 2 changed, 0 without the hook"))
      << guard.err;

  auto sets = PveshCalls("set");
  ASSERT_EQ(sets.size(), 2u) << json(pve_->PveshCalls()).dump(1);
  ExpectSetCall(sets[0], kJobRich);
  ExpectSetCall(sets[1], kJobUsb);
  EXPECT_EQ(pve_->Requests().size(), 1u);
  ExpectRestOnlyRead();

  const std::string after = JobsCfgNow();
  EXPECT_EQ(NonScriptLines(after), NonScriptLines(before)) << after;
  EXPECT_EQ(CountLinesContaining(after, "\tscript "), 3u) << after;
  EXPECT_EQ(CountLinesContaining(after, "\tscript " + hook_), 3u) << after;
  EXPECT_EQ(after, JobsCfg({SectionA(hook_), SectionRich(hook_), SectionUsb(hook_), kRealmSync}));
}

INSTANTIATE_TEST_SUITE_P(Modes, GuardMalformedAnswerTest,
                         ::testing::Values("malformed", "truncated"),
                         [](const ::testing::TestParamInfo<const char*>& param_info) {
                           return std::string(param_info.param) == "malformed" ? "Malformed"
                                                                               : "Truncated";
                         });

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

  // Writes the cluster's guest list the emulated API serves.
  void PlaceGuests(const std::vector<std::pair<int, std::string>>& placement) {
    json guests = json::array();
    for (const auto& [vmid, node] : placement) {
      guests.push_back({{"vmid", vmid}, {"node", node}, {"type", "qemu"},
                        {"name", "vm" + std::to_string(vmid)}, {"status", "running"},
                        {"template", 0}, {"id", "qemu/" + std::to_string(vmid)}});
    }
    pve_->WriteRootFile("resources.json", guests.dump());
  }

  static AgentConfig HealthyConfig() {
    AgentConfig config;
    config.jobs = {{kJobA, kTokenA}, {kJobNew, kTokenNew}};
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

TEST_F(VerifyBlackboxTest, HealthyNodePassesEveryCheck) {
  if (SystemdRuns()) GTEST_SKIP() << "systemd runs here: verify checks this machine's own units";
  ASSERT_NO_FATAL_FAILURE(SetUpHealthyNode());

  RunResult verify = Agent({"verify"});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  for (const auto& line : Lines(verify.out)) {
    if (line.empty() || StartsWith(line, "     fix: ")) continue;
    if (StartsWith(line, "this node is set up right: 0 check(s) failed")) continue;
    EXPECT_TRUE(StartsWith(line, "OK   ") || StartsWith(line, "WARN ")) << line;
  }
  for (const std::string& line :
       {std::string("OK   configuration: ") + config_path_ + " is valid and private",
        std::string("OK   hook script: ") + hook_ + " runs " + kBinDir + "/pbk-agent",
        std::string("OK   backup jobs: 4 job(s) read through rest, 4 run the hook"),
        std::string("OK   monitor ") + kJobA +
            ": push token configured; the job runs here (all guests: 100 on this node)",
        std::string("OK   monitor ") + kJobNew +
            ": push token configured; the job runs here (guests: 100 on this node)",
        std::string("OK   spool: no push waiting")}) {
    EXPECT_TRUE(HasLine(verify.out, line)) << line << "\nin:\n" << verify.out;
  }
  EXPECT_TRUE(Contains(verify.out, "OK   PVE API: " + pve_->url())) << verify.out;
  EXPECT_TRUE(Contains(verify.out, "OK   Kuma: " + kuma_->url())) << verify.out;
  // Jobs that run on pve2 only need no token here.
  EXPECT_FALSE(Contains(verify.out, std::string("monitor ") + kJobPve2)) << verify.out;
  EXPECT_FALSE(Contains(verify.out, std::string("monitor ") + kJobB)) << verify.out;
  // Kuma was probed with a monitor that cannot exist: no push landed.
  const auto requests = kuma_->Requests();
  ASSERT_EQ(requests.size(), 1u);
  for (const auto& request : requests) {
    EXPECT_EQ(At(request, "answered"), 404) << request.dump();
    EXPECT_TRUE(StartsWith(Str(request, "path"), "/api/push/pbkprobe")) << request.dump();
  }
  ExpectRestOnlyRead();
  EXPECT_TRUE(pve_->PveshCalls().empty());

  RunResult as_json = Agent({"verify", "--json"});
  EXPECT_EQ(as_json.exit_code, 0) << as_json.out << as_json.err;
  json document = json::parse(as_json.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(document.is_object()) << as_json.out;
  EXPECT_EQ(At(document, "ok"), true);
  ASSERT_TRUE(At(document, "checks").is_array());
  for (const auto& check : At(document, "checks")) {
    EXPECT_TRUE(At(check, "status") == "OK" || At(check, "status") == "WARN") << check.dump();
  }
}

TEST_F(VerifyBlackboxTest, AWebServerThatIsNotKumaFails) {
  ASSERT_NO_FATAL_FAILURE(SetUpHealthyNode());
  // The same server, now answering every push with 200 as a web app's
  // catch-all route would (the fake's "every token exists").
  kuma_->Stop();
  FakeKumaOptions options;
  options.cert = Cert("ip");
  options.key = Key("ip");
  options.work_dir = dir_.Path("any");
  options.port = kuma_->port();
  std::filesystem::create_directories(options.work_dir);
  FakeKuma any(options);
  std::string err;
  ASSERT_TRUE(any.Start(&err)) << err;
  RunResult verify = Agent({"verify"});
  ExpectFail(verify, "Kuma", "this is not Uptime Kuma's push API");
}

TEST_F(VerifyBlackboxTest, ListsTheKumaSettingsOfEveryMappedJob) {
  ScopedTimeZone zone("Europe/Berlin");
  ASSERT_NO_FATAL_FAILURE(SetUpHealthyNode());
  RunResult verify = Agent({"verify"});
  for (const char* job : {kJobA, kJobNew}) {
    // One interval for every monitor, whatever the schedule: refresh
    // pushes each job's state every few minutes.
    const std::string line = std::string("OK   Kuma settings ") + job +
                             ": heartbeat interval 900 s (15 min), Retries 0; refresh pushes "
                             "the job's state every 5 to 6 minutes";
    EXPECT_TRUE(Contains(verify.out, line + "\n")) << line << "\nin:\n" << verify.out;
  }
  // Jobs that do not run here get no settings.
  EXPECT_FALSE(Contains(verify.out, std::string("Kuma settings ") + kJobPve2)) << verify.out;
}

TEST_F(VerifyBlackboxTest, ReplacedHooksAreNamedWithWhereToChainThem) {
  ASSERT_NO_FATAL_FAILURE(SetUpHealthyNode());
  const std::string pve2_hook = "/root/pve2-only.sh";
  ASSERT_NO_FATAL_FAILURE(WriteJobFiles(
      JobsCfg({SectionA(hook_), SectionNew(hook_), SectionB(hook_), SectionPve2(pve2_hook),
               SectionUsb(kMountUsb), kRealmSync}),
      kCronHead));
  RunResult guard = Agent({"guard"});
  ASSERT_EQ(guard.exit_code, 0) << guard.err;
  RunResult verify = Agent({"verify"});
  // The job that runs here: chain it in this node's configuration.
  EXPECT_TRUE(HasLine(verify.out, std::string("WARN old hook of ") + kJobUsb + ": the job ran " +
                                      kMountUsb +
                                      " before the guard set this hook; it no longer runs"))
      << verify.out;
  EXPECT_TRUE(HasLine(verify.out, std::string("     fix: add it to \"hook\": {\"chain\": [\"") +
                                      kMountUsb + "\"]} in " + config_path_ +
                                      " (or drop it if it is not needed)"))
      << verify.out;
  // The job pinned to pve2, whose script this node's guard replaced.
  EXPECT_TRUE(HasLine(verify.out, std::string("WARN old hook of ") + kJobPve2 + ": the job ran " +
                                      pve2_hook +
                                      " before the guard set this hook; it no longer runs (the "
                                      "job does not run on this node: the job is restricted to "
                                      "node pve2)"))
      << verify.out;
  EXPECT_TRUE(HasLine(verify.out, std::string("     fix: add it to \"hook\": {\"chain\": [\"") +
                                      pve2_hook +
                                      "\"]} in the configuration of the nodes that run the job "
                                      "(or drop it if it is not needed)"))
      << verify.out;
}

TEST_F(VerifyBlackboxTest, MissingHookScriptFails) {
  ASSERT_NO_FATAL_FAILURE(SetUpHealthyNode());
  ASSERT_EQ(unlink(hook_.c_str()), 0);
  ExpectFail(Agent({"verify"}), "hook script", hook_ + " does not exist");
}

TEST_F(VerifyBlackboxTest, HookScriptRunningAnotherBinaryFails) {
  ASSERT_NO_FATAL_FAILURE(SetUpHealthyNode());
  ASSERT_NO_FATAL_FAILURE(RenderWrapper("/opt/old/pbk-agent"));
  ExpectFail(Agent({"verify"}), "hook script", "runs /opt/old/pbk-agent, not this program");
}

TEST_F(VerifyBlackboxTest, JobWithoutTheHookFails) {
  ASSERT_NO_FATAL_FAILURE(SetUpHealthyNode());
  ASSERT_NO_FATAL_FAILURE(WriteJobFiles(
      JobsCfg({SectionA(hook_), SectionNew(""), SectionB(hook_), SectionPve2(hook_), kRealmSync}),
      kCronHead));
  RunResult verify = Agent({"verify"});
  ExpectFail(verify, std::string("job ") + kJobNew, "runs no hook instead of " + hook_);
  EXPECT_TRUE(HasLine(verify.out, "OK   backup jobs: 4 job(s) read through rest, 3 run the hook"))
      << verify.out;
}

TEST_F(VerifyBlackboxTest, EnabledJobHereWithoutPushTokenFails) {
  ASSERT_NO_FATAL_FAILURE(SetUpHealthyNode());
  AgentConfig config;
  config.jobs = {{kJobA, kTokenA}};
  ASSERT_NO_FATAL_FAILURE(WriteConfig(config));
  RunResult verify = Agent({"verify"});
  ExpectFail(verify, std::string("monitor ") + kJobNew,
             "the job runs on this node (guests: 100 on this node) but has no push token");
  EXPECT_EQ(CountLinesContaining(verify.out, "FAIL "), 1u) << verify.out;
}

TEST_F(VerifyBlackboxTest, GuestsMovingChangeTheVerdict) {
  ASSERT_NO_FATAL_FAILURE(SetUpHealthyNode());
  // Guest 100 migrated to pve2: its job no longer runs here, its monitor
  // would alarm; kJobB's guests came here, and it has no monitor here.
  PlaceGuests({{100, "pve2"}, {110, "pve1"}, {111, "pve2"}});
  ASSERT_NO_FATAL_FAILURE(WriteJobFiles(
      JobsCfg({SectionA(hook_), SectionNew(hook_), SectionB(hook_), SectionPve2(hook_),
               kRealmSync}),
      kCronHead));
  RunResult verify = Agent({"verify"});
  EXPECT_TRUE(HasLine(verify.out, std::string("WARN monitor ") + kJobNew +
                                      ": the job will not run on this node, so its monitor will "
                                      "alarm: guests: none on this node (100 is on pve2)"))
      << verify.out;
  // kJobB is restricted to pve2 and disabled, so it still needs nothing here.
  EXPECT_FALSE(Contains(verify.out, std::string("monitor ") + kJobB)) << verify.out;
  EXPECT_EQ(verify.exit_code, 0) << verify.out;
}

TEST_F(VerifyBlackboxTest, PushTokenForAJobThatDoesNotExistFails) {
  ASSERT_NO_FATAL_FAILURE(SetUpHealthyNode());
  const std::string gone = "backup-0e1d2c3b-4a59";
  AgentConfig config = HealthyConfig();
  config.jobs[gone] = "Pb3Nc6Md9Le2Kf5Jg8Hh";
  ASSERT_NO_FATAL_FAILURE(WriteConfig(config));
  ExpectFail(Agent({"verify"}), "monitor " + gone,
             "a push token is configured for job " + gone + ", which does not exist");
}

TEST_F(VerifyBlackboxTest, KumaStoppedFails) {
  ASSERT_NO_FATAL_FAILURE(SetUpHealthyNode());
  kuma_->Stop();
  ExpectFail(Agent({"verify"}), "Kuma", "connection refused");
}

TEST_F(VerifyBlackboxTest, KumaWithUntrustedCertificateFails) {
  ASSERT_NO_FATAL_FAILURE(SetUpHealthyNode("untrusted"));
  ExpectFail(Agent({"verify"}), "Kuma", "not signed by a trusted CA");
}

TEST_F(VerifyBlackboxTest, ApiTokenRefusedFails) {
  ASSERT_NO_FATAL_FAILURE(SetUpHealthyNode());
  ASSERT_TRUE(pve_->SetMode("401"));
  RunResult verify = Agent({"verify"});
  ExpectFail(verify, "PVE API", "refused the token");
  // The jobs are still checked, read through pvesh.
  EXPECT_TRUE(HasLine(verify.out, "OK   backup jobs: 4 job(s) read through pvesh, 4 run the hook"))
      << verify.out;
}

TEST_F(VerifyBlackboxTest, SpooledPushFails) {
  ASSERT_NO_FATAL_FAILURE(SetUpHealthyNode());
  json entry = {{"format", 1},
                {"job_id", kJobA},
                {"status", "down"},
                {"msg", "pve1: 1 of 2 guests FAILED, 12m 05s, storage pbs-main"},
                {"ping", 725000},
                {"created", 1700000000000},
                {"run", "pid-4242-1700000000"},
                {"attempts", 1},
                {"last_error", "connection refused"}};
  dir_.Write("state/spool/pid-4242-1700000000.json", entry.dump(1) + "\n");
  ExpectFail(Agent({"verify"}), "spool", "1 push(es) waiting");
}

TEST_F(VerifyBlackboxTest, ConfigReadableByOthersIsAConfigurationError) {
  ASSERT_NO_FATAL_FAILURE(SetUpHealthyNode());
  ASSERT_EQ(chmod(config_path_.c_str(), 0644), 0);
  RunResult verify = Agent({"verify"});
  ExpectFail(verify, "configuration", "group or others may access it", /*exit_code=*/2);
  EXPECT_TRUE(Contains(verify.out, "chmod 600 " + config_path_)) << verify.out;
}

TEST_F(VerifyBlackboxTest, JsonReportNamesTheFailedCheck) {
  ASSERT_NO_FATAL_FAILURE(SetUpHealthyNode());
  kuma_->Stop();
  RunResult verify = Agent({"verify", "--json"});
  EXPECT_EQ(verify.exit_code, 1) << verify.out << verify.err;
  json document = json::parse(verify.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(document.is_object()) << verify.out;
  EXPECT_EQ(At(document, "ok"), false);
  std::vector<std::string> failed;
  for (const auto& check : At(document, "checks")) {
    if (At(check, "status") == "FAIL") failed.push_back(Str(check, "check"));
  }
  EXPECT_EQ(failed, std::vector<std::string>({"Kuma"})) << document.dump(1);
}

// --- jobs ----------------------------------------------------------------------------

class JobsBlackboxTest : public VerifyBlackboxTest {
 protected:
  void SetUp() override {
    VerifyBlackboxTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_NO_FATAL_FAILURE(WriteJobFiles(JobsCfg({SectionA(hook_), SectionNew(""), SectionB(hook_),
                                                   SectionUsb(kMountUsb), kRealmSync}),
                                          kCronHead));
    AgentConfig config;
    config.jobs = {{kJobA, kTokenA}, {kJobUsb, kTokenNew}};
    ASSERT_NO_FATAL_FAILURE(WriteConfig(config));
  }

  // job id -> {column -> cell}, from the table's header positions.
  static std::map<std::string, std::map<std::string, std::string>> ParseTable(
      const std::string& out) {
    std::map<std::string, std::map<std::string, std::string>> rows;
    auto lines = Lines(out);
    if (lines.empty()) return rows;
    const std::string& header = lines[0];
    const std::vector<std::string> names = {
        "JOB",    "ENABLED", "SCHEDULE", "NEXT RUN", "LONGEST GAP", "STORAGE",
        "GUESTS", "HERE",    "HOOK",     "MONITOR",  "LAST RUN",    "STATE"};
    std::vector<size_t> starts;
    for (const auto& name : names) starts.push_back(header.find(name));
    for (size_t l = 1; l < lines.size() && !lines[l].empty(); ++l) {
      std::map<std::string, std::string> cells;
      for (size_t i = 0; i < names.size(); ++i) {
        if (starts[i] == std::string::npos || starts[i] >= lines[l].size()) continue;
        const size_t end = i + 1 < names.size() ? starts[i + 1] : std::string::npos;
        std::string cell = lines[l].substr(
            starts[i], end == std::string::npos ? std::string::npos : end - starts[i]);
        cell.erase(cell.find_last_not_of(' ') + 1);
        cells[names[i]] = cell;
      }
      rows[cells["JOB"]] = cells;
    }
    return rows;
  }
};

TEST_F(JobsBlackboxTest, TableShowsHookAndMonitorOfEveryJob) {
  ScopedTimeZone zone("Europe/Berlin");
  RunResult jobs = Agent({"jobs"});
  EXPECT_EQ(jobs.exit_code, 0) << jobs.out << jobs.err;
  auto rows = ParseTable(jobs.out);
  ASSERT_EQ(rows.size(), 4u) << jobs.out;
  const std::map<std::string, std::pair<std::string, std::string>> expected = {
      {kJobA, {"yes", "mapped"}},
      {kJobNew, {"NO (none)", "NOT MAPPED"}},
      {kJobB, {"yes", "NOT MAPPED"}},
      {kJobUsb, {std::string("NO (") + kMountUsb + ")", "mapped"}}};
  for (const auto& [id, cells] : expected) {
    ASSERT_EQ(rows.count(id), 1u) << id << " missing:\n" << jobs.out;
    EXPECT_EQ(rows[id]["HOOK"], cells.first) << jobs.out;
    EXPECT_EQ(rows[id]["MONITOR"], cells.second) << jobs.out;
  }
  EXPECT_EQ(rows[kJobB]["ENABLED"], "no");
  EXPECT_EQ(rows[kJobB]["GUESTS"], "110,111 on pve2");
  EXPECT_EQ(rows[kJobNew]["GUESTS"], "100");
  EXPECT_EQ(rows[kJobUsb]["GUESTS"], "all but 105");
  // Where the jobs run: guest 100 is on pve2, the disabled job is pve2's.
  EXPECT_EQ(rows[kJobA]["HERE"], "yes");
  EXPECT_EQ(rows[kJobNew]["HERE"], "no");
  EXPECT_EQ(rows[kJobB]["HERE"], "no");
  // Schedules: a daily job's longest gap is the 25 hours of the night the
  // clock goes back, a weekly one's a week and an hour.
  EXPECT_EQ(rows[kJobA]["LONGEST GAP"], "1d 01h");
  EXPECT_EQ(rows[kJobUsb]["LONGEST GAP"], "7d 01h");
  EXPECT_EQ(rows[kJobB]["LONGEST GAP"], "-");
  // What refresh would push now: no run yet, nothing due; the disabled job down.
  EXPECT_EQ(rows[kJobA]["STATE"], "up (no-run-yet)");
  EXPECT_EQ(rows[kJobB]["STATE"], "DOWN (disabled)");
  EXPECT_TRUE(Contains(jobs.out, "every push monitor with heartbeat interval 15 min (900 s) and "
                                 "Retries 0")) << jobs.out;
  EXPECT_EQ(rows[kJobB]["NEXT RUN"], "-");
  EXPECT_TRUE(Contains(rows[kJobA]["NEXT RUN"], " 21:00:00")) << jobs.out;
  EXPECT_TRUE(Contains(rows[kJobUsb]["NEXT RUN"], " 04:00:00")) << jobs.out;
  EXPECT_TRUE(Contains(jobs.out, "4 job(s), read through rest; node pve1")) << jobs.out;
  ExpectRestOnlyRead();
}

TEST_F(JobsBlackboxTest, JsonListsTheSameAsTheTable) {
  RunResult jobs = Agent({"jobs", "--json"});
  EXPECT_EQ(jobs.exit_code, 0) << jobs.out << jobs.err;
  json document = json::parse(jobs.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(document.is_object()) << jobs.out;
  EXPECT_EQ(At(document, "source"), "rest");
  EXPECT_EQ(At(document, "node"), "pve1");
  std::map<std::string, json> by_id;
  for (const auto& job : At(document, "jobs")) by_id[Str(job, "id")] = job;
  ASSERT_EQ(by_id.size(), 4u) << document.dump(1);
  const std::map<std::string, std::pair<bool, std::string>> expected = {
      {kJobA, {true, "mapped"}},
      {kJobNew, {false, "not mapped"}},
      {kJobB, {true, "not mapped"}},
      {kJobUsb, {false, "mapped"}}};
  for (const auto& [id, want] : expected) {
    ASSERT_EQ(by_id.count(id), 1u) << id;
    EXPECT_EQ(At(by_id[id], "carries_hook"), want.first) << by_id[id].dump();
    EXPECT_EQ(At(by_id[id], "monitor"), want.second) << by_id[id].dump();
  }
  EXPECT_EQ(At(by_id[kJobUsb], "script"), kMountUsb);
  EXPECT_EQ(At(by_id[kJobNew], "script"), "");
  EXPECT_EQ(At(by_id[kJobA], "schedule"), "21:00");
  EXPECT_EQ(At(At(by_id[kJobA], "placement"), "runs_here"), true);
  EXPECT_EQ(At(At(by_id[kJobNew], "placement"), "runs_here"), false);
  EXPECT_EQ(At(At(by_id[kJobA], "kuma"), "retries"), 0);
  // One interval for every monitor: refresh pushes each job's state.
  EXPECT_EQ(At(At(by_id[kJobA], "kuma"), "interval_seconds"), 900);
  EXPECT_EQ(At(At(by_id[kJobB], "kuma"), "interval_seconds"), 900);
  EXPECT_EQ(At(At(At(by_id[kJobB], "kuma"), "without_refresh"), "interval_seconds"), nullptr);
  EXPECT_EQ(At(At(by_id[kJobB], "state"), "state"), "disabled");
  EXPECT_EQ(At(At(by_id[kJobB], "state"), "status"), "down");
}

TEST_F(JobsBlackboxTest, TheLongestRunSeenHereLengthensTheInterval) {
  ScopedTimeZone zone("Europe/Berlin");
  // A finished run of job A that took 45 minutes, as the hook records it.
  const int64_t start_ms = 1'790'000'000'000;
  const json record = {{"format", 1},
                       {"key", "1234-5678"},
                       {"upid", ""},
                       {"worker_pid", 1234},
                       {"node", "pve1"},
                       {"storage", "local"},
                       {"dumpdir", ""},
                       {"first", start_ms},
                       {"job_start", start_ms},
                       {"end", start_ms + 45 * 60 * 1000},
                       {"end_phase", "job-end"},
                       {"guests", json::array()},
                       {"job_id", kJobA},
                       {"job_source", "scheduler"},
                       {"push",
                        {{"state", "delivered"},
                         {"up", true},
                         {"message", "ok"},
                         {"ping", 45 * 60 * 1000},
                         {"at", start_ms + 45 * 60 * 1000},
                         {"detail", ""}}}};
  std::filesystem::create_directories(state_dir_ + "/runs");
  std::ofstream(state_dir_ + "/runs/1234-5678.json") << record.dump(1);
  RunResult jobs = Agent({"jobs", "--json"});
  EXPECT_EQ(jobs.exit_code, 0) << jobs.out << jobs.err;
  json document = json::parse(jobs.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(document.is_object()) << jobs.out;
  for (const auto& job : At(document, "jobs")) {
    if (Str(job, "id") != kJobA) continue;
    // What a monitor would need without refresh, as information.
    const json& kuma = At(At(job, "kuma"), "without_refresh");
    EXPECT_EQ(At(kuma, "longest_run_seconds"), 45 * 60);
    EXPECT_EQ(At(At(job, "timing"), "longest_gap_seconds"), 25 * 3600);
    EXPECT_EQ(At(kuma, "interval_seconds"), 25 * 3600 + 45 * 60 + 60 * 60);
    return;
  }
  ADD_FAILURE() << "job " << kJobA << " missing:\n" << jobs.out;
}

}  // namespace
}  // namespace pbk::testing
