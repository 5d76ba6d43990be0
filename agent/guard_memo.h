// What the last clean guard run saw: a digest of the job list exactly as the
// PVE API answered it and of everything the guard's decisions depend on
// (its options: placement, hook, exclusions, chains, members, marks, the node
// default; and the program's version). A run that sees the same digest would
// decide the same (nothing to change, every job with the hook), so it does not
// parse the list again nor rewrite the job cache: on the timer's every-5-
// minutes run, the cost is reading and hashing the answer.
#pragma once

#include <string>

#include "agent/guard.h"

namespace pbk {

struct GuardMemo {
  std::string digest;
  int jobs = 0;      // the jobs of that run, for the summary line
  int excluded = 0;  // of them, excluded from the guard
};

std::string GuardDigest(const std::string& document, const GuardOptions& options);

// PATH is the memo's file (StateLayout::GuardClean). False when there is no
// memo or it cannot be read: then the guard runs in full.
bool LoadGuardMemo(const std::string& path, GuardMemo* memo);
bool SaveGuardMemo(const std::string& path, const GuardMemo& memo, std::string* err);
// After a run that was not clean: the next one runs in full.
void ForgetGuardMemo(const std::string& path);

}  // namespace pbk
