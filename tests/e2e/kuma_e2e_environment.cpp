// The end-to-end tests' global environment: installing Kuma, starting its
// servers, giving them their monitors, and what it reports at the end.
#include "tests/e2e/kuma_e2e_environment.h"

namespace pbk::testing::kuma_e2e {

KumaEnvironment* g_env = nullptr;

void KumaEnvironment::InstallKuma() {
  const char* cache = std::getenv("PBK_KUMA_CACHE");
  install_.cache =
      std::filesystem::absolute(cache != nullptr && *cache != '\0' ? cache : kDefaultCache)
          .lexically_normal()
          .string();
  install_.modules = install_.cache + "/node_modules";
  install_.package_dir = install_.modules + "/uptime-kuma";
  std::cout << "e2e: kuma.sh install " << install_.cache << std::endl;
  const auto start = SteadyClock::now();
  RunResult result =
      Run({"/bin/bash", kKumaScript, "install", install_.cache}, nullptr, seconds(1000));
  outputs_.push_back(result.out);
  outputs_.push_back(result.err);
  std::cout << result.out << result.err << "e2e: kuma.sh took "
            << std::chrono::duration<double>(SteadyClock::now() - start).count() << " s"
            << std::endl;
  ASSERT_EQ(result.exit_code, 0) << "kuma.sh install " << install_.cache << " failed ("
                                 << result.Describe() << "):\n"
                                 << result.out << result.err;
  install_.node = FindProgram("node");
  ASSERT_FALSE(install_.node.empty()) << "node is not in PATH";
  ASSERT_EQ(access((install_.package_dir + "/server/server.js").c_str(), R_OK), 0)
      << install_.package_dir << "/server/server.js is missing after kuma.sh install";
}

std::string KumaEnvironment::StartAndWait(const std::vector<KumaServer*>& servers) {
  for (KumaServer* server : servers) {
    std::string err;
    if (!server->Launch(&err)) return "cannot start Kuma '" + server->label() + "': " + err;
  }
  std::vector<KumaServer*> waiting = servers;
  const auto deadline = SteadyClock::now() + kStartTimeout;
  while (!waiting.empty()) {
    for (auto it = waiting.begin(); it != waiting.end();) {
      KumaServer* server = *it;
      if (!server->running()) {
        return "Kuma '" + server->label() + "' exited during start-up; its log ends:\n" +
               server->LogTail();
      }
      if (server->Answers(curl_, ca_file())) {
        std::cout << "e2e: Kuma '" << server->label() << "' answers on " << server->url()
                  << " after " << server->SecondsSinceLaunch() << " s" << std::endl;
        it = waiting.erase(it);
      } else {
        ++it;
      }
    }
    if (waiting.empty()) break;
    if (SteadyClock::now() >= deadline) {
      return "Kuma '" + waiting.front()->label() +
             "' did not answer within 90 s (last probe: " + waiting.front()->last_probe() +
             "); its log ends:\n" + waiting.front()->LogTail();
    }
    std::this_thread::sleep_for(milliseconds(250));
  }
  return "";
}

void KumaEnvironment::AddMonitors(KumaServer& server, const std::vector<MonitorSpec>& specs) {
  for (const auto& spec : specs) {
    Monitor monitor{spec.key, spec.job_id, RandomToken(32)};
    monitor.interval = spec.interval;
    // Only what a push monitor needs; every other NOT NULL column has a
    // default. No user row is needed: the push route looks the token up
    // alone, and user_id may be NULL.
    std::string err;
    json result = KumaSql(
        install_, server.db_path(), "exec",
        "INSERT INTO monitor (name, type, push_token, active, interval, "
        "retry_interval, maxretries, accepted_statuscodes_json) "
        "VALUES (?, 'push', ?, 1, ?, ?, 0, '[\"200-299\"]')",
        json::array({"pbk e2e " + spec.key, monitor.token, spec.interval, spec.interval}), &err);
    ASSERT_TRUE(result.is_object()) << err;
    monitor.id = At(result, "lastID").get<int64_t>();
    ASSERT_GT(monitor.id, 0) << result.dump();
    server.monitors().push_back(monitor);
  }
}

void KumaEnvironment::SetUp() {
  g_env = this;
  ASSERT_NO_FATAL_FAILURE(InstallKuma());
  curl_ = FindProgram("curl");
  ASSERT_FALSE(curl_.empty()) << "curl is not in PATH (it probes Kuma's start-up)";

  dir_ = std::make_unique<TestDir>();
  std::string err;
  ASSERT_TRUE(MakeTestCertificates(dir_->Path("certs"), &err)) << err;
  std::vector<uint16_t> ports = FreePorts(6, &err);
  ASSERT_EQ(ports.size(), 6u) << err;
  ip_ = std::make_unique<KumaServer>("ip", "ip", "");
  name_ = std::make_unique<KumaServer>("name", "name", "kuma.test");
  late_ = std::make_unique<KumaServer>("late", "ip", "");
  restart_ = std::make_unique<KumaServer>("restart", "ip", "");
  ip_->Configure(&install_, dir_->Path("kuma-ip"), dir_->Path("certs"), ports[0]);
  name_->Configure(&install_, dir_->Path("kuma-name"), dir_->Path("certs"), ports[1]);
  late_->Configure(&install_, dir_->Path("kuma-late"), dir_->Path("certs"), ports[2]);
  restart_->Configure(&install_, dir_->Path("kuma-restart"), dir_->Path("certs"), ports[3]);
  login_ = std::make_unique<KumaServer>("login", "ip", "");
  sync_ = std::make_unique<KumaServer>("sync", "ip", "");
  login_->Configure(&install_, dir_->Path("kuma-login"), dir_->Path("certs"), ports[4]);
  sync_->Configure(&install_, dir_->Path("kuma-sync"), dir_->Path("certs"), ports[5]);

  // First start: Kuma creates and migrates its database. The login and
  // sync servers keep running from here on.
  auto phase_start = SteadyClock::now();
  std::string failure = StartAndWait(Servers());
  ASSERT_EQ(failure, "") << failure;
  const double first_start =
      std::chrono::duration<double>(SteadyClock::now() - phase_start).count();
  phase_start = SteadyClock::now();
  for (KumaServer* server : PushServers()) server->Terminate();
  for (KumaServer* server : PushServers()) server->AwaitStopped();
  const double stop = std::chrono::duration<double>(SteadyClock::now() - phase_start).count();

  // The monitors, while no Kuma runs.
  ASSERT_NO_FATAL_FAILURE(AddMonitors(*ip_, {{"snapshot-ok", "backup-e2e1a001-0001"},
                                             {"guest-fails", "backup-e2e1a002-0002"},
                                             {"job-abort", "backup-e2e1a003-0003"},
                                             {"three-runs", "backup-e2e1a004-0004"},
                                             {"manual", "backup-e2e1a005-0005"},
                                             {"many-guests", "backup-e2e1a006-0006"},
                                             {"missed-run", "backup-e2e1a007-0007"},
                                             {"missed-first", "backup-e2e1a008-0008"}}));
  ASSERT_NO_FATAL_FAILURE(AddMonitors(*name_, {{"name-mode", "backup-e2e2b001-0001"}}));
  ASSERT_NO_FATAL_FAILURE(AddMonitors(
      *late_, {{"kuma-down", "backup-e2e3c001-0001"}, {"late-twice", "backup-e2e3c002-0002"}}));
  // Scaled time for the restart case: 20 s (Kuma's shortest interval)
  // stands for refresh's 15-minute kuma.heartbeat_interval_minutes, 90 s for
  // a per-job interval of 26 h (a daily job pushed only at its end).
  ASSERT_NO_FATAL_FAILURE(
      AddMonitors(*restart_, {{"restart-short", "backup-e2e4d001-0001", kShortIntervalSeconds},
                              {"restart-long", "backup-e2e4d002-0002", kLongIntervalSeconds}}));

  phase_start = SteadyClock::now();
  failure = StartAndWait(PushServers());
  ASSERT_EQ(failure, "") << failure;
  const double second_start =
      std::chrono::duration<double>(SteadyClock::now() - phase_start).count();
  std::cout << "e2e: six Kuma servers: first start " << first_start
            << " s; the four push servers: stop " << stop << " s, start with the monitors "
            << second_start << " s" << std::endl;
}

void KumaEnvironment::ReportLatencies() {
  if (latencies_.empty()) return;
  std::vector<int64_t> values;
  std::cout << "e2e: latency from the hook's call start (job-end/job-abort, manual test, flush)"
               " to the heartbeat time Kuma stored:\n";
  for (const auto& sample : latencies_) {
    std::cout << "  " << sample.label << ": " << sample.ms << " ms\n";
    values.push_back(sample.ms);
  }
  std::cout << "e2e: latency over " << values.size() << " pushes: median " << Median(values)
            << " ms, max " << *std::max_element(values.begin(), values.end()) << " ms" << std::endl;
}

void KumaEnvironment::ScanEnvironmentForTokens() {
  // kuma.sh's output, and the environment's own files except
  // Kuma's data (its database holds the tokens by design) and Kuma's logs.
  std::vector<std::pair<std::string, std::string>> texts;
  for (size_t i = 0; i < outputs_.size(); ++i) {
    texts.emplace_back("environment output #" + std::to_string(i), outputs_[i]);
  }
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir_->path(), ec);
       it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    const std::string path = it->path().string();
    if (Contains(path, "/data/") || it->path().filename() == "kuma.log") continue;
    if (it->is_regular_file()) texts.emplace_back(path, ReadText(path));
  }
  for (const auto& token : Tokens()) {
    for (const auto& [where, text] : texts) {
      EXPECT_FALSE(Contains(text, token)) << "a push token leaked into " << where;
    }
  }
  // Not asserted (Kuma's log is Kuma's business), but worth knowing.
  for (KumaServer* server : Servers()) {
    const std::string log = ReadText(server->log_path());
    for (const auto& token : Tokens()) {
      if (Contains(log, token)) {
        std::cout << "e2e: note: Kuma '" << server->label() << "' logged a push token\n";
        break;
      }
    }
  }
}

void KumaEnvironment::TearDown() {
  ReportLatencies();
  for (KumaServer* server : Servers()) server->Terminate();
  for (KumaServer* server : Servers()) server->AwaitStopped();
  if (dir_) {
    ScanEnvironmentForTokens();
    if (::testing::UnitTest::GetInstance()->Failed()) {
      for (KumaServer* server : Servers()) {
        std::cout << "e2e: the log of Kuma '" << server->label() << "' ends:\n"
                  << server->LogTail(25) << std::endl;
      }
    }
  }
  ip_.reset();
  name_.reset();
  late_.reset();
  restart_.reset();
  login_.reset();
  sync_.reset();
  dir_.reset();
}

::testing::Environment* const kKumaEnvironment =
    ::testing::AddGlobalTestEnvironment(new KumaEnvironment);

}  // namespace pbk::testing::kuma_e2e
