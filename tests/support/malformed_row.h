// Malformed input for every parser of untrusted text, one table row each:
// what is wrong, the input, and the exact error the product gives. The rows
// are the readable side of the fuzz targets (tests/fuzz/): those show that no
// input crashes, these pin down what each kind of mistake is told. The tables
// live next to the tests of each parser (tests/unit/**/*_malformed_test.cpp).
//
// Rows and tests marked "found by fuzzing" hold inputs that once crashed a
// parser or broke what it promises; the fuzz targets replay the same inputs
// from tests/fuzz/regressions/.
#pragma once

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

namespace pbk::testing {

// One malformed input and what the parser must say about it.
struct Row {
  const char* what;  // a test name: letters, digits and underscores
  std::string input;
  std::vector<std::string> expected;  // every error, in order
};

inline void PrintTo(const Row& row, std::ostream* out) { *out << row.what; }

inline std::string RowName(const ::testing::TestParamInfo<Row>& info) { return info.param.what; }

}  // namespace pbk::testing
