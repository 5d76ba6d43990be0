#include "api/pve/placement.h"

#include <gtest/gtest.h>

namespace pbk {
namespace {

using nlohmann::json;

BackupJob Job(const std::string& object) {
  BackupJob job;
  std::string err;
  EXPECT_TRUE(ParseBackupJob(json::parse(object), &job, &err)) << err;
  return job;
}

Guest At(int vmid, const std::string& node, const std::string& pool = "") {
  Guest guest;
  guest.vmid = vmid;
  guest.node = node;
  guest.type = "qemu";
  guest.pool = pool;
  return guest;
}

TEST(PlacementTest, GuestsMovingBetweenNodesChangeTheVerdict) {
  BackupJob job = Job(R"({"id": "j", "vmid": "101,102"})");
  Placement here = PlaceJob(job, {At(101, "pve1"), At(102, "pve2")}, "pve1");
  EXPECT_TRUE(here.runs_here);
  EXPECT_EQ(here.guests_here, std::vector<int>{101});
  EXPECT_EQ(here.why, "guests: 101 on this node");

  Placement moved = PlaceJob(job, {At(101, "pve2"), At(102, "pve2")}, "pve1");
  EXPECT_FALSE(moved.runs_here);
  EXPECT_EQ(moved.why, "guests: none on this node (101, 102 are on pve2)");

  Placement gone = PlaceJob(job, {At(101, "pve3")}, "pve1");
  EXPECT_FALSE(gone.runs_here);
  EXPECT_EQ(gone.why, "guests: none on this node (102 exist nowhere in the cluster; 101 is on pve3)");
}

TEST(PlacementTest, AnAllJobRunsEverywhereButForItsExcludedGuests) {
  BackupJob job = Job(R"({"id": "j", "all": 1, "exclude": "105"})");
  Placement placement = PlaceJob(job, {At(100, "pve1"), At(105, "pve1"), At(110, "pve2")}, "pve1");
  EXPECT_TRUE(placement.runs_here);
  EXPECT_EQ(placement.guests_here, std::vector<int>{100});
  // Without local guests its job phases still run here (and it reports).
  Placement empty = PlaceJob(job, {At(105, "pve1"), At(110, "pve2")}, "pve1");
  EXPECT_TRUE(empty.runs_here);
  EXPECT_TRUE(empty.guests_here.empty());
  EXPECT_EQ(empty.why, "all guests: none is on this node, but the job still runs here");
}

TEST(PlacementTest, APoolJobFollowsItsMembers) {
  BackupJob job = Job(R"({"id": "j", "pool": "prod"})");
  std::vector<Guest> guests = {At(100, "pve1", "prod"), At(101, "pve2", "prod"), At(102, "pve1")};
  Placement placement = PlaceJob(job, guests, "pve1");
  EXPECT_TRUE(placement.runs_here);
  EXPECT_EQ(placement.guests_here, std::vector<int>{100});
  EXPECT_EQ(placement.why, "pool prod: 100 on this node");
  EXPECT_FALSE(PlaceJob(job, guests, "pve3").runs_here);
  EXPECT_EQ(PlaceJob(Job(R"({"id": "j", "pool": "empty"})"), guests, "pve1").why,
            "pool empty: no guest at all");
}

TEST(PlacementTest, ANodeRestrictedJobRunsOnlyThere) {
  BackupJob job = Job(R"({"id": "j", "all": 1, "node": "pve2"})");
  std::vector<Guest> guests = {At(100, "pve1"), At(110, "pve2")};
  EXPECT_FALSE(PlaceJob(job, guests, "pve1").runs_here);
  EXPECT_EQ(PlaceJob(job, guests, "pve1").why, "the job is restricted to node pve2");
  EXPECT_TRUE(PlaceJob(job, guests, "pve2").runs_here);
  EXPECT_EQ(PlaceJob(job, guests, "pve2").guests_here, std::vector<int>{110});
}

TEST(PlacementTest, ALongGuestListIsCutInWordsButNotInData) {
  std::vector<Guest> guests;
  for (int vmid = 100; vmid < 125; ++vmid) guests.push_back(At(vmid, "pve1", "big"));
  const GuestIndex index(guests);
  Placement placement = PlaceJob(Job(R"({"id": "j", "pool": "big"})"), index, "pve1");
  EXPECT_EQ(placement.guests_here.size(), 25u);
  EXPECT_EQ(placement.why,
            "pool big: 100, 101, 102, 103, 104, 105, 106, 107, 108, 109 and 15 more on this node");
  // The same index serves every job.
  Placement two = PlaceJob(Job(R"({"id": "k", "vmid": "124,200"})"), index, "pve1");
  EXPECT_EQ(two.guests_here, std::vector<int>{124});
  EXPECT_EQ(two.guests_elsewhere, (std::vector<std::pair<int, std::string>>{{200, ""}}));
}

}  // namespace
}  // namespace pbk
