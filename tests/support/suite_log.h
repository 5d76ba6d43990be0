// What the whole test suite printed, kept for one last check: every output
// a test captured is appended to PBK_TEST_OUTPUT_DIR, and every secret a
// test hands to the product is registered there, so that the final test
// (security.no_secret_in_any_output) can look for each secret in everything.
// Without PBK_TEST_OUTPUT_DIR (a test binary run by hand) nothing is kept.
#pragma once

#include <string>
#include <string_view>

namespace pbk::testing {

void RecordSuiteOutput(std::string_view text);
void RegisterSecret(const std::string& secret);

}  // namespace pbk::testing
