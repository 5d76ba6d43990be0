// What the black-box tests of `pbk-agent refresh` share (see
// refresh_blackbox_test.cpp): the fixture that sets up the node and makes
// runs (refresh_runs_fixture.h), the state files a test writes as the
// product would, what Kuma received, and refresh run every way against one
// picture of the node.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/blackbox/refresh_blackbox_helpers.h"
#include "tests/blackbox/refresh_runs_fixture.h"

namespace pbk::testing::refresh_blackbox {

class RefreshBlackboxTest : public RefreshRunsFixture {
 protected:
  // The job (or node) entry of a `refresh --json` document; null when missing.
  static json MonitorEntry(const json& document, const std::string& monitor) {
    for (const auto& entry : At(document, "monitors")) {
      if (Str(entry, "monitor") == monitor) return entry;
    }
    return json();
  }
  // What refresh says now, pushing nothing: the job's (or node's) entry.
  json CurrentState(const std::string& monitor) {
    RunResult now = Agent({"refresh", "--dry-run", "--json"});
    json document = json::parse(now.out, nullptr, /*allow_exceptions=*/false);
    EXPECT_TRUE(document.is_object()) << now.out << now.err;
    json entry = MonitorEntry(document, monitor);
    EXPECT_FALSE(entry.is_null()) << monitor << " missing:\n" << now.out;
    return entry;
  }

  // --- what Kuma received -----------------------------------------------------------

  size_t Mark() const { return kuma_->Requests().size(); }
  std::vector<json> RequestsSince(size_t mark) const {
    auto requests = kuma_->Requests();
    return std::vector<json>(requests.begin() + static_cast<long>(std::min(mark, requests.size())),
                             requests.end());
  }
  std::vector<json> PushesSince(size_t mark, const std::string& token) const {
    std::vector<json> pushes;
    for (auto& request : RequestsSince(mark)) {
      if (Str(request, "token") == token) pushes.push_back(std::move(request));
    }
    return pushes;
  }

  // --- files ---------------------------------------------------------------------

  std::string SpoolDir() const { return state_dir_ + "/spool"; }
  std::string FailedDir() const { return state_dir_ + "/spool/failed"; }
  std::vector<std::string> SpoolEntries() const {
    std::vector<std::string> entries;
    for (const auto& name : FilesIn(SpoolDir())) {
      if (name.size() > 5 && name.compare(name.size() - 5, 5, ".json") == 0) {
        entries.push_back(name);
      }
    }
    return entries;
  }

  // A spool entry as hook/spool.cpp SerializeSpooledPush writes it, in
  // state_dir/SUBDIR/KEY.json.
  std::string WriteSpoolEntry(const std::string& subdir, const std::string& key,
                              const std::string& job_id, bool up, const std::string& message,
                              int64_t created_ms) {
    const json entry = {{"format", 1},    {"job_id", job_id}, {"status", up ? "up" : "down"},
                        {"msg", message}, {"ping", 725000},   {"created", created_ms},
                        {"run", key},     {"attempts", 1},    {"last_error", "connection refused"}};
    return dir_.Write("state/" + subdir + "/" + key + ".json", entry.dump(1) + "\n");
  }

  // A finished run as the hook records it (hook/run_record.cpp).
  // Its job-start comes JOB_START_AFTER seconds after the worker started
  // (a run waits there for the node's vzdump lock), its end DURATION later.
  void WriteRunRecord(const std::string& job_id, const std::string& upid, int64_t start, bool up,
                      const std::string& message, int64_t job_start_after = 0,
                      int64_t duration = 300) {
    const std::vector<std::string> fields = [&] {
      std::vector<std::string> parts;
      size_t from = 0;
      for (size_t at = upid.find(':'); at != std::string::npos; at = upid.find(':', from)) {
        parts.push_back(upid.substr(from, at - from));
        from = at + 1;
      }
      return parts;
    }();
    const std::string key =
        "upid-" + std::string(kNode) + "-" + fields[2] + "-" + fields[3] + "-" + fields[4];
    const int64_t start_ms = start * 1000;
    const int64_t job_start_ms = start_ms + job_start_after * 1000;
    const int64_t end_ms = job_start_ms + duration * 1000;
    json guests = json::array();
    for (const auto& [vmid, name] :
         std::vector<std::pair<int, std::string>>{{100, "web01"}, {101, "db01"}}) {
      guests.push_back({{"vmid", vmid},
                        {"type", "qemu"},
                        {"name", name},
                        {"mode", "snapshot"},
                        {"target", "vm/" + std::to_string(vmid) + "/x"},
                        {"result", up ? "ok" : "failed"},
                        {"started", job_start_ms + 1000},
                        {"ended", end_ms - 1000}});
    }
    const json record = {{"format", 1},
                         {"key", key},
                         {"upid", upid},
                         {"worker_pid", 4194000},
                         {"node", kNode},
                         {"storage", "pbs1"},
                         {"dumpdir", ""},
                         {"first", start_ms},
                         {"job_start", job_start_ms},
                         {"end", end_ms},
                         {"end_phase", "job-end"},
                         {"guests", guests},
                         {"job_id", job_id},
                         {"job_source", "scheduler"},
                         {"push",
                          {{"state", "delivered"},
                           {"up", up},
                           {"message", message},
                           {"ping", end_ms - job_start_ms},
                           {"at", end_ms},
                           {"detail", ""}}}};
    dir_.Write("state/runs/" + key + ".json", record.dump(1) + "\n");
  }

  void WriteSchedulerState(const std::string& job_id, const json& state) {
    dir_.Write("sched/vzdump-" + job_id + ".json", state.dump());
  }

  // What refresh remembers (agent/refresh.cpp SaveRefreshMemory): that it
  // has seen each job, as it is now, since SINCE.
  void WriteRefreshMemory(const std::map<std::string, std::string>& schedules, int64_t since) {
    json jobs = json::object();
    for (const auto& [id, schedule] : schedules) {
      jobs[id] = {{"schedule", schedule}, {"enabled", true}, {"since", since}};
    }
    dir_.Write("state/refresh.json", json({{"format", 1}, {"jobs", jobs}}).dump(1) + "\n");
  }

  std::string LockPath(const std::string& job_id) const {
    return state_dir_ + "/locks/job-" + job_id + ".lock";
  }

  // --- refresh, every way, for one picture of the node -------------------------

  struct Want {
    std::string job;  // "" for the node monitor
    std::string token;
    std::string state;  // refresh's state name; for the node "ok" or "problems"
    bool up = true;
    std::vector<std::string> words;   // each must be in the message
    std::vector<std::string> absent;  // none may be
  };
  static Want Node(bool up, std::vector<std::string> words, std::vector<std::string> absent = {}) {
    return Want{"", kNodeToken, up ? "ok" : "problems", up, std::move(words), std::move(absent)};
  }
  static std::string MonitorName(const Want& want) {
    return want.job.empty() ? std::string("node ") + kNode : "job " + want.job;
  }

  static void ExpectPushSays(const json& push, const Want& want) {
    const std::string status = want.up ? "up" : "down";
    EXPECT_EQ(Str(push, "method"), "GET") << push.dump();
    EXPECT_EQ(Str(push, "path"), "/api/push/" + want.token) << push.dump();
    EXPECT_EQ(Str(At(push, "query"), "status"), status) << MonitorName(want) << ": " << Msg(push);
    EXPECT_EQ(Str(At(push, "kuma"), "status"), status) << push.dump();
    EXPECT_EQ(At(push, "answered"), 200) << push.dump();
    EXPECT_FALSE(HasPing(push)) << "refresh sends no ping: " << push.dump();
    for (const auto& word : want.words) {
      EXPECT_TRUE(Contains(Msg(push), word))
          << MonitorName(want) << ": no \"" << word << "\" in: " << Msg(push);
    }
    for (const auto& word : want.absent) {
      EXPECT_FALSE(Contains(Msg(push), word))
          << MonitorName(want) << ": \"" << word << "\" in: " << Msg(push);
    }
  }

  // Runs refresh, refresh --service and refresh --dry-run --json, and checks
  // each against WANTS: one push per monitor (none in a dry run), what each
  // says, the exit codes, the JSON.
  void ExpectRefresh(const std::vector<Want>& wants) {
    const bool any_down =
        std::any_of(wants.begin(), wants.end(), [](const Want& want) { return !want.up; });
    const size_t downs = static_cast<size_t>(
        std::count_if(wants.begin(), wants.end(), [](const Want& want) { return !want.up; }));

    size_t mark = Mark();
    RunResult refresh = Agent({"refresh"});
    EXPECT_EQ(refresh.exit_code, any_down ? 1 : 0) << refresh.out << refresh.err;
    auto pushes = RequestsSince(mark);
    EXPECT_EQ(pushes.size(), wants.size()) << Describe(pushes);
    for (const auto& want : wants) {
      auto mine = PushesSince(mark, want.token);
      EXPECT_EQ(mine.size(), 1u) << MonitorName(want) << ":\n" << Describe(mine);
      if (!mine.empty()) ExpectPushSays(mine.front(), want);
      const std::string verdict = std::string(want.up ? "up" : "DOWN") + " (" + want.state + "): ";
      EXPECT_TRUE(Contains(refresh.err, MonitorName(want) + " pushed: " + verdict))
          << MonitorName(want) << " pushed: " << verdict << "\nin:\n"
          << refresh.err;
    }
    EXPECT_TRUE(Contains(refresh.err, "refresh: " + std::to_string(wants.size()) +
                                          " monitor(s) pushed, " + std::to_string(downs) +
                                          " down, 0 push(es) failed"))
        << refresh.err;

    // As a service, a monitor pushed down is Kuma's news, not a failure.
    mark = Mark();
    RunResult service = Agent({"refresh", "--service"});
    EXPECT_EQ(service.exit_code, 0) << service.out << service.err;
    EXPECT_EQ(RequestsSince(mark).size(), wants.size()) << Describe(RequestsSince(mark));
    for (const auto& want : wants) {
      auto mine = PushesSince(mark, want.token);
      EXPECT_EQ(mine.size(), 1u) << MonitorName(want) << " (--service):\n" << Describe(mine);
      if (!mine.empty()) ExpectPushSays(mine.front(), want);
    }

    // A dry run pushes nothing and tells the same in JSON, without a token.
    mark = Mark();
    RunResult dry = Agent({"refresh", "--dry-run", "--json"});
    EXPECT_EQ(dry.exit_code, any_down ? 1 : 0) << dry.out << dry.err;
    EXPECT_TRUE(RequestsSince(mark).empty()) << Describe(RequestsSince(mark));
    json document = json::parse(dry.out, nullptr, /*allow_exceptions=*/false);
    ASSERT_TRUE(document.is_object()) << dry.out << dry.err;
    EXPECT_EQ(At(document, "node"), kNode);
    EXPECT_EQ(At(document, "dry_run"), true);
    EXPECT_EQ(At(document, "pushed"), 0);
    EXPECT_EQ(At(document, "failed"), 0);
    EXPECT_EQ(At(document, "down"), downs);
    EXPECT_EQ(At(document, "source"), "rest");
    EXPECT_EQ(At(document, "monitors").size(), wants.size()) << document.dump(1);
    for (const auto& want : wants) {
      const json entry = MonitorEntry(document, MonitorName(want));
      ASSERT_FALSE(entry.is_null()) << MonitorName(want) << " missing:\n" << document.dump(1);
      EXPECT_EQ(Str(entry, "state"), want.state) << entry.dump();
      EXPECT_EQ(Str(entry, "status"), want.up ? "up" : "down") << entry.dump();
      EXPECT_EQ(At(entry, "pushed"), false) << entry.dump();
      EXPECT_TRUE(At(entry, "error").is_null()) << entry.dump();
      for (const auto& word : want.words) {
        EXPECT_TRUE(Contains(Str(entry, "message"), word)) << word << " / " << entry.dump();
      }
    }
    for (const auto& secret : secrets_) {
      EXPECT_FALSE(Contains(dry.out, secret)) << "a secret in refresh --json:\n" << dry.out;
    }
  }
};

using RefreshStateTest = RefreshBlackboxTest;
using RefreshNodeMonitorTest = RefreshBlackboxTest;
using RefreshInterleavedTest = RefreshBlackboxTest;
using RefreshUndeliverableTest = RefreshBlackboxTest;

const std::vector<std::string> kNodeOk = {"pve1: pbk-agent OK: ", "all monitored",
                                          "the hook in effect for each", "spool empty"};

}  // namespace pbk::testing::refresh_blackbox
