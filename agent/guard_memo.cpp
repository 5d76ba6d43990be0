#include "agent/guard_memo.h"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "agent/core/fs.h"
#include "agent/hook_decision.h"
#include "api/pve/sha1.h"

namespace pbk {

using nlohmann::json;

std::string GuardDigest(const std::string& document, const GuardOptions& options) {
  const json inputs = {{"version", PBK_VERSION},
                       {"placement", PlacementName(options.placement)},
                       {"hook", options.hook_script},
                       {"exclude", options.exclude},
                       {"chains", options.job_chains},
                       {"members", options.members},
                       {"marked", options.marked},
                       {"node_default_ours", options.node_default_ours}};
  // In parts: the answer is megabytes at thousands of jobs, not copied.
  Sha1 sha1;
  sha1.Update(inputs.dump());
  sha1.Update("\n");
  sha1.Update(document);
  return sha1.HexDigest();
}

bool LoadGuardMemo(const std::string& path, GuardMemo* memo) {
  std::string text, err;
  bool exists = false;
  if (!ReadFileIfExists(path, &text, &exists, &err) || !exists) {
    return false;
  }
  const json document = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!document.is_object() || !document.contains("digest") || !document["digest"].is_string() ||
      !document.contains("jobs") || !document["jobs"].is_number_integer() ||
      !document.contains("excluded") || !document["excluded"].is_number_integer()) {
    return false;
  }
  memo->digest = document["digest"].get<std::string>();
  memo->jobs = document["jobs"].get<int>();
  memo->excluded = document["excluded"].get<int>();
  return !memo->digest.empty();
}

bool SaveGuardMemo(const std::string& path, const GuardMemo& memo, std::string* err) {
  const json document = {
      {"digest", memo.digest}, {"jobs", memo.jobs}, {"excluded", memo.excluded}};
  return WriteFileAtomic(path, document.dump() + "\n", err);
}

void ForgetGuardMemo(const std::string& path) { unlink(path.c_str()); }

}  // namespace pbk
