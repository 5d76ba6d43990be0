#include "hook/outcome.h"

#include <algorithm>

#include "api/kuma/kuma_client.h"
#include "agent/core/text.h"

namespace pbk {
namespace {

std::string GuestLabel(const GuestRecord& guest) {
  std::string label = std::to_string(guest.vmid);
  if (!guest.name.empty()) label += " " + guest.name;
  return label;
}

// "101 db01, 102 mail" — cut with "+N more" so the message stays within
// Kuma's limits however many guests a job has.
std::string GuestList(const std::vector<const GuestRecord*>& guests, size_t budget) {
  std::string out;
  for (size_t i = 0; i < guests.size(); ++i) {
    std::string label = GuestLabel(*guests[i]);
    std::string more = " +" + std::to_string(guests.size() - i) + " more";
    if (out.size() + label.size() + 2 + more.size() > budget) {
      return out + more;
    }
    out += (i == 0 ? "" : ", ") + label;
  }
  return out;
}

}  // namespace

Outcome JudgeRun(const RunRecord& record) {
  Outcome outcome;
  std::vector<const GuestRecord*> ok, failed, unfinished;
  for (const auto& guest : record.guests) {
    switch (guest.result) {
      case GuestResult::kOk: ok.push_back(&guest); break;
      case GuestResult::kFailed: failed.push_back(&guest); break;
      case GuestResult::kRunning: unfinished.push_back(&guest); break;
    }
  }
  auto by_vmid = [](const GuestRecord* a, const GuestRecord* b) { return a->vmid < b->vmid; };
  std::sort(ok.begin(), ok.end(), by_vmid);
  std::sort(failed.begin(), failed.end(), by_vmid);
  std::sort(unfinished.begin(), unfinished.end(), by_vmid);

  outcome.ok = static_cast<int>(ok.size());
  outcome.failed = static_cast<int>(failed.size());
  outcome.unfinished = static_cast<int>(unfinished.size());
  const bool aborted = record.end_phase == "job-abort";
  outcome.up = !aborted && failed.empty() && unfinished.empty();

  int64_t begin = record.first_ms > 0 ? record.first_ms : record.end_ms;
  outcome.duration_ms = std::max<int64_t>(0, record.end_ms - begin);

  const int total = static_cast<int>(record.guests.size());
  const std::string storage = record.storage.empty() ? "unknown storage" : record.storage;
  const std::string duration = FormatDuration(outcome.duration_ms);
  std::string text = record.node.empty() ? "" : record.node + ": ";
  // "1 of 1 guest", "2 of 3 guests": the noun agrees with the total.
  const std::string of_total =
      " of " + std::to_string(total) + (total == 1 ? " guest" : " guests");
  if (aborted) {
    text += "backup job ABORTED after " + duration + " (storage " + storage + "), " +
            std::to_string(outcome.ok) + of_total + " backed up";
  } else if (outcome.up && total == 0) {
    text += "backup job ran in " + duration + " (storage " + storage +
            "); no guest of this job is on this node";
  } else if (outcome.up && total == 1) {
    text += "the 1 guest backed up in " + duration + " to " + storage;
  } else if (outcome.up) {
    text += "all " + std::to_string(total) + " guests backed up in " + duration + " to " + storage;
  } else {
    text += std::to_string(outcome.failed + outcome.unfinished) + of_total + " FAILED, " +
            duration + ", storage " + storage;
  }
  // Failures first: they are what an admin reads the message for.
  const size_t budget = kMaxPushMessageBytes - 100;
  std::vector<std::pair<std::string, std::vector<const GuestRecord*>>> groups = {
      {"failed", failed}, {"unfinished", unfinished}, {"ok", ok}};
  for (const auto& [label, guests] : groups) {
    if (guests.empty()) continue;
    size_t room = budget > text.size() ? budget - text.size() : 0;
    if (room < 20) break;
    text += "; " + label + ": " + GuestList(guests, room);
  }
  outcome.message = TruncateUtf8(text, kMaxPushMessageBytes);
  return outcome;
}

Outcome WithChainFailure(Outcome outcome, const std::string& node, const std::string& problem) {
  const std::string prefix = node.empty() ? "" : node + ": ";
  std::string rest = outcome.message;
  if (!prefix.empty() && rest.compare(0, prefix.size(), prefix) == 0) rest.erase(0, prefix.size());
  outcome.up = false;
  outcome.message = TruncateUtf8(prefix + problem + "; " + rest, kMaxPushMessageBytes);
  return outcome;
}

}  // namespace pbk
