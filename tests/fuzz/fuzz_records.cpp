// The hook's own files read back: run records (state_dir/runs) and spool
// entries (state_dir/spool). They may be cut short by a full disk or edited
// by hand; reading them must fail in words, and what reads must round-trip.
#include <string>

#include "tests/fuzz/fuzz_common.h"
#include "hook/run_record.h"
#include "hook/spool.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  pbk_fuzz::SilenceLogging();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text = pbk_fuzz::Text(data, size);
  std::string err;

  pbk::RunRecord record;
  if (pbk::ParseRunRecord(text, &record, &err)) {
    const std::string once = pbk::SerializeRunRecord(record);
    pbk::RunRecord again;
    std::string why;
    if (!pbk::ParseRunRecord(once, &again, &why)) {
      pbk_fuzz::Violated("a run record written from an accepted one does not read back: " + why);
    }
    if (pbk::SerializeRunRecord(again) != once) pbk_fuzz::Violated("a run record does not round-trip");
  } else if (err.empty()) {
    pbk_fuzz::Violated("ParseRunRecord failed without saying why");
  }

  err.clear();
  pbk::SpooledPush push;
  if (pbk::ParseSpooledPush(text, &push, &err)) {
    const std::string once = pbk::SerializeSpooledPush(push);
    pbk::SpooledPush again;
    std::string why;
    if (!pbk::ParseSpooledPush(once, &again, &why)) {
      pbk_fuzz::Violated("a spool entry written from an accepted one does not read back: " + why);
    }
    if (pbk::SerializeSpooledPush(again) != once) {
      pbk_fuzz::Violated("a spool entry does not round-trip");
    }
  } else if (err.empty()) {
    pbk_fuzz::Violated("ParseSpooledPush failed without saying why");
  }
  return 0;
}
