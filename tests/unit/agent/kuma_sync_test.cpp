#include "agent/kuma_sync.h"

#include <gtest/gtest.h>

namespace pbk {
namespace {

using nlohmann::json;

// Kuma's management API in memory, as 1.23 answers it.
class FakeKuma : public KumaSyncPort {
 public:
  json monitors = json::object();
  json notifications = json::array({{{"id", 1}, {"name", "mail"}, {"isDefault", true}}});
  json tags = json::array();
  int fail_after_adds = -1;  // the add after this many fails
  int calls = 0;
  int adds = 0;

  bool ReadFacts(json* m, json* n, json* t, std::string*) override {
    calls += 3;
    *m = monitors;
    *n = notifications;
    *t = tags;
    return true;
  }
  bool GetMonitor(int id, json* monitor, std::string* err) override {
    ++calls;
    if (!monitors.contains(std::to_string(id))) {
      *err = "Kuma: monitor not found";
      return false;
    }
    *monitor = monitors[std::to_string(id)];
    return true;
  }
  bool AddMonitor(const json& monitor, int* id, std::string* err) override {
    ++calls;
    if (adds == fail_after_adds) {
      *err = "Kuma refused: SQLITE_BUSY";
      return false;
    }
    ++adds;
    *id = next_id_++;
    json stored = monitor;
    stored["id"] = *id;
    stored["tags"] = json::array();
    monitors[std::to_string(*id)] = stored;
    return true;
  }
  bool EditMonitor(const json& monitor, std::string*) override {
    ++calls;
    json stored = monitor;
    if (!stored.contains("notificationIDList")) stored["notificationIDList"] = json::object();
    monitors[std::to_string(monitor["id"].get<int>())] = stored;
    return true;
  }
  bool PauseMonitor(int id, std::string*) override {
    ++calls;
    monitors[std::to_string(id)]["active"] = false;
    return true;
  }
  bool AddTag(const std::string& name, const std::string&, int* id, std::string*) override {
    ++calls;
    *id = 77;
    tags.push_back({{"id", 77}, {"name", name}});
    return true;
  }
  bool AddMonitorTag(int tag_id, int monitor_id, const std::string& value,
                     std::string*) override {
    ++calls;
    monitors[std::to_string(monitor_id)]["tags"].push_back(
        {{"tag_id", tag_id}, {"name", kOwnTagName}, {"value", value}});
    return true;
  }
  int Calls() const override { return calls; }

 private:
  int next_id_ = 1;
};

ClusterFacts Cluster() {
  BackupJob job;
  job.id = "backup-a";
  job.type = "vzdump";
  job.all = true;
  job.comment = "nightly";
  ClusterFacts cluster;
  cluster.jobs = {job};
  cluster.members = {"pve1", "pve2"};
  cluster.runs_on["backup-a"] = {"pve1", "pve2"};
  return cluster;
}

bool Sync(FakeKuma* kuma, MonitorsFile* file, std::string* err, SyncReport* report = nullptr) {
  KumaFacts facts;
  json m, n, t;
  if (!kuma->ReadFacts(&m, &n, &t, err) || !ParseKumaFacts(m, n, t, &facts, err)) return false;
  SyncPlan plan;
  if (!PlanKumaSync(Cluster(), facts, *file, {}, RandomPushToken, &plan, err)) return false;
  SyncReport local;
  return ExecuteSyncPlan(plan, facts, kuma, file, report ? report : &local, err);
}

TEST(KumaSyncTest, MakesEveryMonitorAndASecondSyncChangesNothing) {
  FakeKuma kuma;
  MonitorsFile file;
  std::string err;
  SyncReport report;
  ASSERT_TRUE(Sync(&kuma, &file, &err, &report)) << err;
  EXPECT_EQ(report.added, 6);
  EXPECT_EQ(report.tagged, 6);
  EXPECT_EQ(kuma.monitors.size(), 6u);
  const int group = file.jobs.at("backup-a").group_id;
  const PushMonitorEntry pve2 = file.jobs.at("backup-a").nodes.at("pve2");
  const json& monitor = kuma.monitors[std::to_string(pve2.monitor_id)];
  EXPECT_EQ(monitor["parent"], group);
  EXPECT_EQ(monitor["pushToken"], pve2.push_token);
  EXPECT_EQ(monitor["tags"][0]["value"], "backup-a@pve2");
  EXPECT_EQ(monitor["notificationIDList"], (json{{"1", true}}));
  EXPECT_EQ(kuma.monitors[std::to_string(file.node_monitors.at("pve1").monitor_id)]["parent"],
            file.node_group_id);
  for (const auto& line : report.done) EXPECT_EQ(line.find(pve2.push_token), std::string::npos);

  const int calls = kuma.calls;
  const MonitorsFile before = file;
  ASSERT_TRUE(Sync(&kuma, &file, &err)) << err;
  EXPECT_EQ(kuma.calls - calls, 3) << "only the lists are read";
  EXPECT_EQ(SerializeMonitorsFile(file), SerializeMonitorsFile(before));
}

TEST(KumaSyncTest, AnEditKeepsTheNotificationsSetByHand) {
  FakeKuma kuma;
  MonitorsFile file;
  std::string err;
  ASSERT_TRUE(Sync(&kuma, &file, &err)) << err;
  json& monitor =
      kuma.monitors[std::to_string(file.jobs.at("backup-a").nodes.at("pve1").monitor_id)];
  monitor["interval"] = 60;
  monitor["notificationIDList"] = {{"5", true}};
  ASSERT_TRUE(Sync(&kuma, &file, &err)) << err;
  EXPECT_EQ(monitor["interval"], 900);
  EXPECT_EQ(monitor["notificationIDList"], (json{{"5", true}}));
}

TEST(KumaSyncTest, APartialFailureKeepsWhatWasMadeInTheFile) {
  FakeKuma kuma;
  kuma.fail_after_adds = 4;  // the job's group is made, its monitors are not
  MonitorsFile file;
  std::string err;
  EXPECT_FALSE(Sync(&kuma, &file, &err));
  EXPECT_NE(err.find("add push \"nightly @ pve1\""), std::string::npos) << err;
  EXPECT_NE(err.find("SQLITE_BUSY"), std::string::npos) << err;
  EXPECT_EQ(file.node_monitors.size(), 2u);
  ASSERT_EQ(file.jobs.count("backup-a"), 1u);
  EXPECT_GT(file.jobs.at("backup-a").group_id, 0);
  EXPECT_TRUE(file.jobs.at("backup-a").nodes.empty()) << "nothing that was not made";

  kuma.fail_after_adds = -1;
  SyncReport report;
  ASSERT_TRUE(Sync(&kuma, &file, &err, &report)) << err;
  EXPECT_EQ(report.added, 2) << "the next run carries on";
  EXPECT_EQ(kuma.monitors.size(), 6u);
}

TEST(KumaSyncTest, AMonitorListThatIsNotOneIsAnError) {
  KumaFacts facts;
  std::string err;
  EXPECT_FALSE(ParseKumaFacts(json::array(), json::array(), json::array(), &facts, &err));
  EXPECT_EQ(err, "Kuma's monitor list is not an object keyed by id");
  EXPECT_FALSE(ParseKumaFacts(json{{"1", {{"name", "x"}}}}, json::array(), json::array(), &facts,
                              &err));
  EXPECT_NE(err.find("without id or type"), std::string::npos);
}

}  // namespace
}  // namespace pbk
