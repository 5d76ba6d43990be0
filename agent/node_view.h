// Everything refresh (and flush, after late deliveries) needs to tell each
// monitored job's current state and the node's health, read once: the job
// list, where the guests are, this node's run records, the scheduler's state
// files, what refresh observed before, and the spool.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/core/config.h"
#include "agent/core/state_layout.h"
#include "api/pve/guests.h"
#include "api/pve/placement.h"
#include "agent/refresh.h"
#include "hook/run_record.h"

namespace pbk {

struct PveAccess;

struct NodeHealth {
  bool up = true;
  std::vector<std::string> problems;  // each names what is wrong, in words
  std::string message;                // the push message
};

class NodeView {
 public:
  // Reads everything. NOW is in seconds. Problems reading are kept and
  // become part of the node's health, never a reason to push nothing.
  NodeView(const Config& config, const PveAccess& pve, int64_t now);

  // The jobs with a monitor on this node, by id.
  std::vector<std::string> MonitoredJobs() const;
  // The job's state now; call it with the job's lock held (spool.h LockJob).
  JobStatus StatusOf(const std::string& job_id);
  NodeHealth Health() const;

  // Notes schedule and enabled changes in state_dir (not in a dry run).
  bool SaveObservations(std::string* err) const;

  bool jobs_known() const { return jobs_known_; }
  const std::string& jobs_problem() const { return jobs_problem_; }
  const std::vector<BackupJob>& jobs() const { return jobs_; }
  bool guests_known() const { return guests_known_; }
  const std::string& guests_problem() const { return guests_problem_; }
  const std::vector<Guest>& guests() const { return guests_; }
  const std::vector<RunRecord>& runs() const { return runs_; }
  const std::string& source() const { return source_; }
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  JobFacts FactsOf(const std::string& job_id) const;
  void LoadRuns();
  std::optional<Placement> PlacementOf(const BackupJob& job) const;

  const Config& config_;
  const StateLayout state_;
  int64_t now_;
  bool jobs_known_ = false;
  std::string jobs_problem_;
  std::string source_;
  std::vector<BackupJob> jobs_;
  std::map<std::string, const BackupJob*> by_id_;
  bool guests_known_ = false;
  std::string guests_problem_;
  std::vector<Guest> guests_;
  // Built once: placing each job against a fresh index made refresh
  // quadratic in jobs x guests.
  std::unique_ptr<GuestIndex> index_;
  // Each job's placement, computed at the first need.
  mutable std::map<std::string, std::optional<Placement>> placements_;
  std::vector<RunRecord> runs_;
  std::map<std::string, std::vector<const RunRecord*>> runs_by_job_;  // newest first
  int64_t runs_changed_ = 0;  // the runs folder's time when they were read
  RefreshMemory memory_;
  std::vector<std::string> warnings_;
};

}  // namespace pbk
