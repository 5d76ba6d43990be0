// Black-box tests of the vzdump hook: certificates, and a Uptime Kuma
// that hangs, is down or refuses the token.
// What is asserted is what an admin can see: the requests Kuma received, the
// task log, the hook's exit codes and timing, the spool and `flush`.
#include <gtest/gtest.h>

#include "tests/blackbox/hook_blackbox_fixture.h"

namespace pbk::testing::hook_blackbox {
namespace {

// --- certificates ---------------------------------------------------------

struct CertCase {
  const char* label;
  const char* cert;         // the fake Kuma presents this one
  const char* server_name;  // "" = IP mode
  const char* reason;       // what the task log must say
};

void PrintTo(const CertCase& c, std::ostream* out) { *out << c.label; }

class CertificateRefusedTest : public HookBlackboxTest,
                               public ::testing::WithParamInterface<CertCase> {};

TEST_P(CertificateRefusedTest, NothingIsSentAndThePushIsSpooled) {
  const CertCase& c = GetParam();
  ASSERT_NO_FATAL_FAILURE(StartKuma(c.cert));
  ASSERT_NO_FATAL_FAILURE(WriteConfig(Options(c.server_name, 3)));
  SimRun run = RunSim(TwoGuests());

  EXPECT_EQ(At(run.Call("job-end"), "exit"), 0) << run.Log();
  EXPECT_EQ(run.TaskStatus(), "OK");
  ExpectGuestPhasesExitZero(run);
  const std::string line = run.Line("job-end", "ERROR: ");
  EXPECT_TRUE(StartsWith(line, std::string("ERROR: pbk-agent: push of up to Uptime Kuma for job ") +
                                   kJobId + " failed: "))
      << run.Log();
  EXPECT_TRUE(Contains(line, c.reason)) << line;
  EXPECT_TRUE(Contains(line, "The result is spooled")) << line;
  EXPECT_EQ(SpoolFiles().size(), 1u);
  // The client refused during the handshake: Kuma saw a TLS alert, never a request.
  EXPECT_GE(kuma_->WaitForEvents("tls_error", 1, seconds(3)), 1u);
  EXPECT_TRUE(kuma_->Requests().empty()) << json(kuma_->Requests()).dump(1);
  if (*c.server_name != '\0') {
    for (const auto& event : kuma_->Events()) {
      if (Str(event, "event") == "tls_error") {
        EXPECT_EQ(At(event, "sni"), std::string(c.server_name));
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Certificates, CertificateRefusedTest,
    ::testing::Values(
        CertCase{"IpModeUntrustedCa", "untrusted", "", "not signed by a trusted CA"},
        CertCase{"IpModeIpOnlyInCommonName", "lax-cn", "", "not valid for IP address 127.0.0.1"},
        CertCase{"IpModeOtherIp", "wrong-ip", "", "not valid for IP address 127.0.0.1"},
        CertCase{"IpModeExpired", "expired", "", "expired"},
        CertCase{"NameModeUntrustedCa", "untrusted", "kuma.test", "not signed by a trusted CA"},
        CertCase{"NameModeOtherName", "lax-cn", "kuma.test", "not valid for the name kuma.test"},
        CertCase{"NameModeIpCertificate", "ip", "kuma.test", "not valid for the name kuma.test"}),
    [](const ::testing::TestParamInfo<CertCase>& param_info) {
      return std::string(param_info.param.label);
    });

TEST_F(HookBlackboxTest, NameModeSendsTheServerNameAsSniAndHost) {
  ASSERT_NO_FATAL_FAILURE(StartKuma("name"));
  ASSERT_NO_FATAL_FAILURE(WriteConfig(Options("kuma.test", 3)));
  SimRun run = RunSim(TwoGuests());

  EXPECT_EQ(At(run.Call("job-end"), "exit"), 0) << run.Log();
  json request = OnlyRequest();
  ExpectPush(request, kToken, "up");
  EXPECT_EQ(At(request, "sni"), "kuma.test") << request.dump();
  EXPECT_EQ(At(request, "host"), "kuma.test") << request.dump();
  EXPECT_TRUE(SpoolFiles().empty());
}

// --- Kuma that hangs, Kuma that is down -----------------------------------

class HangingKumaTest : public HookBlackboxTest,
                        public ::testing::WithParamInterface<const char*> {};

TEST_P(HangingKumaTest, JobEndKeepsItsDeadlineAndGuestPhasesStayFast) {
  ASSERT_NO_FATAL_FAILURE(StartKuma("ip", GetParam()));
  ASSERT_NO_FATAL_FAILURE(WriteConfig(Options("", 2)));
  SimRun first = RunSim(TwoGuests());

  json end = first.Call("job-end");
  ASSERT_FALSE(end.is_null()) << first.Log();
  EXPECT_EQ(At(end, "exit"), 0) << first.Log();
  EXPECT_FALSE(At(end, "hung").get<bool>());
  const double exit_ms = At(end, "exit_ms").get<double>();
  EXPECT_LE(exit_ms, 2000 + 1500) << first.Log();
  // Nothing the hook started still holds vzdump's pipes after it exits.
  ASSERT_TRUE(At(end, "eof_ms").is_number()) << end.dump();
  EXPECT_LT(std::abs(At(end, "eof_ms").get<double>() - exit_ms), 100.0) << end.dump();
  EXPECT_EQ(first.TaskStatus(), "OK");
  const std::string line = first.Line("job-end", "ERROR: ");
  EXPECT_TRUE(Contains(line, "The result is spooled")) << first.Log();
  EXPECT_EQ(SpoolFiles().size(), 1u);

  // Kuma still hangs: the next run's guest phases never wait for it.
  SimRun second = RunSim(TwoGuests("fail-archive"));
  ASSERT_FALSE(second.GuestCalls().empty()) << second.Log();
  for (const auto& call : At(second.summary, "calls")) {
    const std::string phase = Str(call, "phase");
    if (phase == "job-end") continue;
    EXPECT_EQ(At(call, "exit"), 0) << call.dump();
    EXPECT_LT(At(call, "exit_ms").get<double>(), 500.0) << call.dump();
  }
  EXPECT_EQ(At(second.Call("job-end"), "exit"), 0) << second.Log();
  EXPECT_LE(At(second.Call("job-end"), "exit_ms").get<double>(), 2000 + 1500);
  EXPECT_EQ(SpoolFiles().size(), 2u);
  // Only the two job-end calls ever connected.
  const std::string connected = std::string(GetParam()) == "hang-accept" ? "accepted" : "request";
  EXPECT_EQ(kuma_->WaitForEvents(connected, 2, seconds(1)), 2u) << json(kuma_->Events()).dump(1);

  // flush is bounded the same way: one attempt, then it leaves the rest.
  RunResult flush = Agent({"flush"});
  EXPECT_EQ(flush.exit_code, 1) << flush.out << flush.err;
  EXPECT_LE(flush.wall_ms, 2000 + 1500) << flush.err;
  EXPECT_TRUE(Contains(flush.err, "left for the next flush")) << flush.err;
  EXPECT_EQ(SpoolFiles().size(), 2u);
}

INSTANTIATE_TEST_SUITE_P(Modes, HangingKumaTest, ::testing::Values("hang-accept", "hang-response"),
                         [](const ::testing::TestParamInfo<const char*>& param_info) {
                           return std::string(param_info.param) == "hang-accept" ? "HangAccept"
                                                                                 : "HangResponse";
                         });

TEST_F(HookBlackboxTest, KumaDownAtJobEndIsSpooledAndFlushDeliversItOnce) {
  ASSERT_NO_FATAL_FAILURE(StartKuma());
  ASSERT_NO_FATAL_FAILURE(WriteConfig());
  const uint16_t port = kuma_->port();

  // Kuma goes away while the job runs.
  std::string summary_path;
  std::vector<std::string> argv = SimArgs(Scenario({Guest(100, "qemu", "web01", "snapshot", 0.5),
                                                    Guest(101, "lxc", "db01", "stop", 0.5)}),
                                          {}, &summary_path);
  BackgroundProcess sim;
  std::string err;
  ASSERT_TRUE(sim.Start(argv, nullptr, dir_.Path("sim.stdout"), dir_.Path("sim.stderr"), &err))
      << err;
  const auto deadline = std::chrono::steady_clock::now() + seconds(10);
  while (FilesIn(state_dir_ + "/runs").empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  ASSERT_FALSE(FilesIn(state_dir_ + "/runs").empty()) << "the run never started";
  kuma_->Stop();
  ASSERT_TRUE(sim.Wait(seconds(60)));
  RunResult process;
  process.started = true;
  process.exit_code = sim.exit_code();
  process.out = ReadText(dir_.Path("sim.stdout"));
  process.err = ReadText(dir_.Path("sim.stderr"));
  SimRun run = ReadSummary(process, summary_path);

  EXPECT_EQ(At(run.Call("job-end"), "exit"), 0) << run.Log();
  EXPECT_EQ(run.TaskStatus(), "OK");
  const std::string line = run.Line("job-end", "ERROR: ");
  EXPECT_TRUE(StartsWith(line, std::string("ERROR: pbk-agent: push of up to Uptime Kuma for job ") +
                                   kJobId + " failed: "))
      << run.Log();
  EXPECT_TRUE(Contains(line, "The result is spooled")) << line;
  ASSERT_EQ(SpoolFiles().size(), 1u);
  EXPECT_TRUE(kuma_->Requests().empty());

  // Still down: flush keeps the entry and says so.
  RunResult early = Agent({"flush"});
  EXPECT_EQ(early.exit_code, 1) << early.out << early.err;
  EXPECT_TRUE(Contains(early.err, std::string("job ") + kJobId)) << early.err;
  EXPECT_TRUE(Contains(early.err, "not delivered")) << early.err;
  EXPECT_TRUE(kuma_->Requests().empty());
  EXPECT_EQ(SpoolFiles().size(), 1u);

  // Back on the same port: flush delivers it, once.
  std::string start_err;
  ASSERT_TRUE(kuma_->Start(&start_err)) << start_err;
  ASSERT_EQ(kuma_->port(), port);
  RunResult flush = Agent({"flush"});
  EXPECT_EQ(flush.exit_code, 0) << flush.out << flush.err;
  EXPECT_TRUE(Contains(flush.err, std::string("delivered the up push for job ") + kJobId))
      << flush.err;
  // The late result, then the job's current state: the last beat is now's.
  auto requests = kuma_->Requests();
  ASSERT_EQ(requests.size(), 2u) << json(requests).dump(1);
  const json& request = requests[0];
  ExpectPush(request, kToken, "up");
  EXPECT_TRUE(StartsWith(Msg(request), "delivered late, run ended")) << Msg(request);
  EXPECT_TRUE(Contains(Msg(request), "all 2 guests backed up")) << Msg(request);
  EXPECT_TRUE(At(request, "query").contains("ping")) << request.dump();
  const json& current = requests[1];
  EXPECT_EQ(Str(current, "path"), std::string("/api/push/") + kToken);
  EXPECT_FALSE(At(current, "query").contains("ping")) << current.dump();
  EXPECT_TRUE(SpoolFiles().empty());

  RunResult again = Agent({"flush"});
  EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_EQ(kuma_->Requests().size(), 2u);
}

TEST_F(HookBlackboxTest, KumaRefusingTheTokenIsSpooledWithKumasReason) {
  ASSERT_NO_FATAL_FAILURE(StartKuma("ip", "normal", std::vector<std::string>{"someOtherMonitor1"}));
  ASSERT_NO_FATAL_FAILURE(WriteConfig());
  SimRun run = RunSim(TwoGuests());

  EXPECT_EQ(At(run.Call("job-end"), "exit"), 0) << run.Log();
  const std::string line = run.Line("job-end", "ERROR: ");
  EXPECT_TRUE(Contains(line, "Kuma answered HTTP 404")) << run.Log();
  EXPECT_TRUE(Contains(line, "Monitor not found or not active.")) << line;
  EXPECT_TRUE(Contains(line, "The result is spooled")) << line;
  EXPECT_EQ(kuma_->Requests().size(), 1u);
  EXPECT_EQ(SpoolFiles().size(), 1u);
}

}  // namespace
}  // namespace pbk::testing::hook_blackbox
