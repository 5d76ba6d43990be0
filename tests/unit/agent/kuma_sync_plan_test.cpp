#include "agent/kuma_sync_plan.h"

#include <gtest/gtest.h>

#include <set>

namespace pbk {
namespace {

using Kind = SyncAction::Kind;

BackupJob Job(const std::string& id, const std::string& comment = "") {
  BackupJob job;
  job.id = id;
  job.type = "vzdump";
  job.schedule = "21:00";
  job.storage = "local";
  job.all = true;
  job.comment = comment;
  return job;
}

ClusterFacts TwoNodes() {
  ClusterFacts cluster;
  cluster.jobs = {Job("backup-a", "nightly")};
  cluster.members = {"pve1", "pve2"};
  cluster.runs_on["backup-a"] = {"pve1", "pve2"};
  return cluster;
}

// Tokens "T000…", "T001…" in turn, 20 characters each.
TokenSource Counting(int* drawn) {
  return [drawn] {
    std::string token = "T" + std::to_string(1000 + (*drawn)++);
    return token + std::string(kPushTokenLength - token.size(), 'x');
  };
}

SyncPlan Plan(const ClusterFacts& cluster, const KumaFacts& kuma, const MonitorsFile& file,
              SyncSettings settings = {}, int* drawn = nullptr) {
  int local = 0;
  SyncPlan plan;
  std::string err;
  EXPECT_TRUE(PlanKumaSync(cluster, kuma, file, settings, Counting(drawn ? drawn : &local), &plan,
                           &err))
      << err;
  return plan;
}

std::vector<const SyncAction*> OfKind(const SyncPlan& plan, Kind kind) {
  std::vector<const SyncAction*> found;
  for (const auto& action : plan.actions) {
    if (action.kind == kind) found.push_back(&action);
  }
  return found;
}

// Kuma as it is after the plan for TwoNodes() was carried out: ids from 1.
KumaFacts Made(const SyncPlan& plan, MonitorsFile* file) {
  KumaFacts kuma;
  kuma.tags = {{1, kOwnTagName}};
  std::map<SyncTarget, int> ids;
  int next = 1;
  *file = plan.file;
  for (const auto& action : plan.actions) {
    if (action.kind != Kind::kAdd) continue;
    KumaMonitor monitor;
    monitor.id = next++;
    ids[action.target] = monitor.id;
    monitor.name = action.fields["name"];
    monitor.type = action.fields["type"];
    monitor.interval = action.fields["interval"];
    monitor.max_retries = action.fields["maxretries"];
    monitor.push_token = action.push_token;
    if (action.has_parent) monitor.parent = ids.at(action.parent);
    monitor.tags = {{1, kOwnTagName, action.target.TagValue()}};
    kuma.monitors.push_back(monitor);
    const SyncTarget& t = action.target;
    switch (t.kind) {
      case SyncTarget::Kind::kNodeGroup: file->node_group_id = monitor.id; break;
      case SyncTarget::Kind::kNodePush: file->node_monitors[t.node].monitor_id = monitor.id; break;
      case SyncTarget::Kind::kJobGroup: file->jobs[t.job_key].group_id = monitor.id; break;
      case SyncTarget::Kind::kJobPush: file->jobs[t.job_key].nodes[t.node].monitor_id = monitor.id; break;
    }
  }
  return kuma;
}

TEST(KumaSyncPlanTest, AnEmptyKumaGetsAGroupPerJobAPushMonitorPerNodeAndNodeMonitors) {
  KumaFacts kuma;
  kuma.notifications = {{1, "mail", true}, {2, "pager", false}, {3, "chat", true}};
  SyncSettings settings;
  settings.interval_seconds = 600;
  const SyncPlan plan = Plan(TwoNodes(), kuma, {}, settings);

  ASSERT_EQ(OfKind(plan, Kind::kAddTag).size(), 1u);
  const auto adds = OfKind(plan, Kind::kAdd);
  std::vector<std::string> names;
  for (const auto* add : adds) names.push_back(add->fields["name"]);
  EXPECT_EQ(names, (std::vector<std::string>{"pbk-agent nodes", "pbk-agent @ pve1",
                                             "pbk-agent @ pve2", "nightly", "nightly @ pve1",
                                             "nightly @ pve2"}));
  const SyncAction& push = *adds[4];
  EXPECT_EQ(push.fields["type"], "push");
  EXPECT_EQ(push.fields["interval"], 600);
  EXPECT_EQ(push.fields["maxretries"], 0);
  EXPECT_EQ(push.fields["resendInterval"], 0);
  EXPECT_EQ(push.fields["notificationIDList"], (nlohmann::json{{"1", true}, {"3", true}}));
  EXPECT_EQ(push.fields["description"],
            "Backup job backup-a, schedule 21:00, storage local, node pve1 (made by pbk-agent "
            "kuma sync)");
  EXPECT_FALSE(push.fields.contains("pushToken")) << "the token travels apart, never printed";
  EXPECT_EQ(push.push_token.size(), kPushTokenLength);
  EXPECT_EQ(push.target.TagValue(), "backup-a@pve1");
  ASSERT_TRUE(push.has_parent);
  EXPECT_EQ(push.parent.TagValue(), "backup-a");
  EXPECT_EQ(adds[3]->fields["type"], "group");
  EXPECT_FALSE(adds[3]->has_parent);
  EXPECT_EQ(plan.file.jobs.at("backup-a").nodes.at("pve2").push_token, adds[5]->push_token);
  EXPECT_EQ(plan.file.node_monitors.at("pve1").push_token, adds[1]->push_token);
  EXPECT_EQ(plan.file.digest, SyncDigest(TwoNodes()));
  for (const auto& action : plan.actions) {
    EXPECT_EQ(DescribeAction(action).find(action.push_token.empty() ? "\x01" : action.push_token),
              std::string::npos);
    EXPECT_EQ(ActionToJson(action).dump().find(action.push_token.empty() ? "\x01"
                                                                         : action.push_token),
              std::string::npos);
  }
}

TEST(KumaSyncPlanTest, ASecondRunChangesNothing) {
  const SyncPlan first = Plan(TwoNodes(), {}, {});
  MonitorsFile file;
  const KumaFacts kuma = Made(first, &file);
  const SyncPlan second = Plan(TwoNodes(), kuma, file);
  EXPECT_FALSE(second.Changes());
  EXPECT_TRUE(second.actions.empty()) << DescribeAction(second.actions.front());
  EXPECT_EQ(SerializeMonitorsFile(second.file), SerializeMonitorsFile(file));
}

TEST(KumaSyncPlanTest, AMonitorKnownByIdIsAdoptedAndItsTagAdded) {
  const SyncPlan first = Plan(TwoNodes(), {}, {});
  MonitorsFile file;
  KumaFacts kuma = Made(first, &file);
  for (auto& monitor : kuma.monitors) monitor.tags.clear();  // a hand removed our tag
  const SyncPlan plan = Plan(TwoNodes(), kuma, file);
  EXPECT_TRUE(OfKind(plan, Kind::kAdd).empty());
  EXPECT_TRUE(OfKind(plan, Kind::kAdopt).empty()) << "the file knew them by id already";
  EXPECT_EQ(OfKind(plan, Kind::kTag).size(), kuma.monitors.size());
  EXPECT_EQ(plan.file.jobs.at("backup-a").nodes.at("pve1").push_token,
            file.jobs.at("backup-a").nodes.at("pve1").push_token);
}

TEST(KumaSyncPlanTest, AMonitorOfOursIsAdoptedByItsTagWhenTheFileIsGone) {
  const SyncPlan first = Plan(TwoNodes(), {}, {});
  MonitorsFile file;
  const KumaFacts kuma = Made(first, &file);
  const SyncPlan plan = Plan(TwoNodes(), kuma, MonitorsFile());
  EXPECT_TRUE(OfKind(plan, Kind::kAdd).empty());
  EXPECT_EQ(OfKind(plan, Kind::kAdopt).size(), kuma.monitors.size());
  EXPECT_EQ(OfKind(plan, Kind::kAdopt)[0]->why, "found by its tag");
  EXPECT_TRUE(OfKind(plan, Kind::kEdit).empty());
  file.digest = plan.file.digest;
  EXPECT_EQ(SerializeMonitorsFile(plan.file), SerializeMonitorsFile(file))
      << "ids and tokens come back from Kuma";
}

TEST(KumaSyncPlanTest, DriftIsPutRightAndNothingElseTouched) {
  const SyncPlan first = Plan(TwoNodes(), {}, {});
  MonitorsFile file;
  KumaFacts kuma = Made(first, &file);
  KumaMonitor& push = kuma.monitors[4];  // nightly @ pve1
  ASSERT_EQ(push.name, "nightly @ pve1");
  push.name = "renamed by hand";
  push.interval = 60;
  push.max_retries = 3;
  push.parent = 0;
  push.notification_ids = {9};
  const SyncPlan plan = Plan(TwoNodes(), kuma, file);
  const auto edits = OfKind(plan, Kind::kEdit);
  ASSERT_EQ(edits.size(), 1u);
  EXPECT_EQ(edits[0]->monitor_id, push.id);
  EXPECT_EQ(edits[0]->fields,
            (nlohmann::json{{"name", "nightly @ pve1"}, {"interval", 900}, {"maxretries", 0}}));
  EXPECT_TRUE(edits[0]->set_parent);
  EXPECT_EQ(edits[0]->parent.TagValue(), "backup-a");
  EXPECT_FALSE(edits[0]->fields.contains("notificationIDList"))
      << "the executor keeps what getMonitor says";
  EXPECT_EQ(plan.actions.size(), 1u);
}

TEST(KumaSyncPlanTest, UnneededMonitorsAreListedAndPausedOnlyWithPrune) {
  const SyncPlan first = Plan(TwoNodes(), {}, {});
  MonitorsFile file;
  const KumaFacts kuma = Made(first, &file);
  ClusterFacts moved = TwoNodes();
  moved.runs_on["backup-a"] = {"pve1"};  // its guests left pve2

  const SyncPlan listed = Plan(moved, kuma, file);
  const auto stale = OfKind(listed, Kind::kStale);
  ASSERT_EQ(stale.size(), 1u);
  EXPECT_EQ(stale[0]->target.TagValue(), "backup-a@pve2");
  EXPECT_TRUE(OfKind(listed, Kind::kPause).empty());
  EXPECT_FALSE(listed.Changes());
  EXPECT_EQ(listed.file.jobs.at("backup-a").nodes.count("pve2"), 1u)
      << "a monitor left in place keeps its token for the node that pushes to it";

  SyncSettings prune;
  prune.prune = true;
  const SyncPlan pruned = Plan(moved, kuma, file, prune);
  const auto paused = OfKind(pruned, Kind::kPause);
  ASSERT_EQ(paused.size(), 1u);
  EXPECT_EQ(paused[0]->monitor_id, stale[0]->monitor_id);
  EXPECT_EQ(pruned.file.jobs.at("backup-a").nodes.count("pve2"), 0u);
  for (const auto& action : pruned.actions) EXPECT_NE(action.kind, Kind::kAdd);
}

TEST(KumaSyncPlanTest, MonitorsItDidNotMakeAreNeverTouched) {
  KumaFacts kuma;
  KumaMonitor hand;
  hand.id = 40;
  hand.name = "nightly @ pve1";  // the very name ours would have
  hand.type = "push";
  hand.interval = 60;
  hand.max_retries = 2;
  hand.push_token = "handMadeTokenAAAAAAA";
  hand.tags = {{5, "team", "ops"}};
  kuma.monitors = {hand};
  SyncSettings prune;
  prune.prune = true;
  const SyncPlan plan = Plan(TwoNodes(), kuma, {}, prune);
  for (const auto& action : plan.actions) {
    EXPECT_NE(action.monitor_id, 40) << DescribeAction(action);
  }
  EXPECT_EQ(OfKind(plan, Kind::kAdd).size(), 6u);
}

TEST(KumaSyncPlanTest, ATokenThatClashesWithAnyInKumaIsDrawnAgain) {
  KumaFacts kuma;
  KumaMonitor hand;
  hand.id = 40;
  hand.type = "push";
  int drawn = 0;
  hand.push_token = Counting(&drawn)();  // the first token the source will give
  kuma.monitors = {hand};
  drawn = 0;
  const SyncPlan plan = Plan(TwoNodes(), kuma, {}, {}, &drawn);
  std::set<std::string> tokens{hand.push_token};
  for (const auto* add : OfKind(plan, Kind::kAdd)) {
    if (add->fields["type"] != "push") continue;
    EXPECT_TRUE(tokens.insert(add->push_token).second) << "clash";
  }
  EXPECT_EQ(tokens.size(), 5u);
  EXPECT_EQ(drawn, 5) << "one draw thrown away";
}

TEST(KumaSyncPlanTest, RealTokensAreTwentyCharactersOfLettersAndDigits) {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    const std::string token = RandomPushToken();
    ASSERT_EQ(token.size(), kPushTokenLength);
    for (char c : token) ASSERT_TRUE(std::isalnum(static_cast<unsigned char>(c))) << token;
    seen.insert(token);
  }
  EXPECT_EQ(seen.size(), 200u);
}

TEST(KumaSyncPlanTest, NamedNotificationsMustExist) {
  KumaFacts kuma;
  kuma.notifications = {{1, "mail", true}, {2, "pager", false}};
  SyncSettings settings;
  settings.notifications = {"pager"};
  const SyncPlan plan = Plan(TwoNodes(), kuma, {}, settings);
  EXPECT_EQ(OfKind(plan, Kind::kAdd)[1]->fields["notificationIDList"],
            (nlohmann::json{{"2", true}}));

  settings.notifications = {"pagr"};
  SyncPlan failed;
  std::string err;
  int drawn = 0;
  EXPECT_FALSE(PlanKumaSync(TwoNodes(), kuma, {}, settings, Counting(&drawn), &failed, &err));
  EXPECT_EQ(err, "kuma.notifications: Kuma has no notification named \"pagr\" (it has \"mail\", "
                 "\"pager\")");
}

TEST(KumaSyncPlanTest, LegacyJobsKeepTheirMonitorsWhenTheirIdChanges) {
  BackupJob legacy;
  legacy.id = "0123456789abcdef0123456789abcdef01234567:1";
  legacy.schedule = "sun 01:00";
  legacy.storage = "local";
  legacy.vmids = {100};
  ClusterFacts cluster;
  cluster.jobs = {legacy};
  cluster.members = {"pve1"};
  cluster.runs_on[legacy.id] = {"pve1"};
  const SyncPlan first = Plan(cluster, {}, {});
  EXPECT_EQ(OfKind(first, Kind::kAdd)[2]->fields["name"], "vzdump.cron sun 01:00 to local");
  MonitorsFile file;
  const KumaFacts kuma = Made(first, &file);

  // Another line added to vzdump.cron: every legacy id changes.
  ClusterFacts edited = cluster;
  edited.jobs[0].id = "fedcba9876543210fedcba9876543210fedcba98:1";
  edited.runs_on = {{edited.jobs[0].id, {"pve1"}}};
  const SyncPlan second = Plan(edited, kuma, file);
  EXPECT_TRUE(second.actions.empty()) << DescribeAction(second.actions.front());
  EXPECT_EQ(SyncDigest(edited), SyncDigest(cluster));
}

TEST(KumaSyncPlanTest, DisabledJobsKeepTheirMonitorsAndJobsThatRunNowhereGetNone) {
  ClusterFacts cluster = TwoNodes();
  cluster.jobs.push_back(Job("backup-off"));
  cluster.jobs.back().enabled = false;
  cluster.runs_on["backup-off"] = {"pve1"};
  cluster.jobs.push_back(Job("backup-nowhere"));
  cluster.runs_on["backup-nowhere"] = {};
  const SyncPlan plan = Plan(cluster, {}, {});
  // TwoNodes' 6, and the disabled job's group and its push monitor on pve1:
  // refresh pushes `down` ("disabled: no backups are made") to it.
  EXPECT_EQ(OfKind(plan, Kind::kAdd).size(), 8u);
  ASSERT_EQ(plan.file.jobs.count("backup-off"), 1u);
  EXPECT_EQ(plan.file.jobs.at("backup-off").nodes.count("pve1"), 1u);
  EXPECT_EQ(plan.file.jobs.at("backup-off").nodes.size(), 1u);
  EXPECT_EQ(plan.file.jobs.count("backup-nowhere"), 0u);
  EXPECT_NE(SyncDigest(cluster), SyncDigest(TwoNodes()));

  // Disabling a job that has its monitors changes nothing in Kuma, and the
  // timer's sync has no reason to connect.
  MonitorsFile file;
  const SyncPlan first = Plan(TwoNodes(), {}, {});
  const KumaFacts kuma = Made(first, &file);
  ClusterFacts disabled = TwoNodes();
  disabled.jobs[0].enabled = false;
  EXPECT_TRUE(Plan(disabled, kuma, file).actions.empty());
  EXPECT_EQ(SyncDigest(disabled), SyncDigest(TwoNodes()));
  EXPECT_TRUE(MonitorsFileDrift(disabled, file).empty());
}

TEST(KumaSyncPlanTest, TheMonitorsFileSaysWhatDiffersFromTheCluster) {
  const SyncPlan first = Plan(TwoNodes(), {}, {});
  MonitorsFile file;
  Made(first, &file);
  EXPECT_TRUE(MonitorsFileDrift(TwoNodes(), file).empty());

  ClusterFacts changed = TwoNodes();
  changed.members.push_back("pve3");
  changed.runs_on["backup-a"] = {"pve1", "pve3"};
  EXPECT_EQ(MonitorsFileDrift(changed, file),
            (std::vector<std::string>{"job nightly runs on pve3, which has no monitor for it",
                                      "job nightly has a monitor on pve2, where it no longer runs",
                                      "member pve3 has no node monitor"}));
}

}  // namespace
}  // namespace pbk
