// What every part of pbk-vzdump-sim uses (see vzdump_sim.cpp).
#pragma once

#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>

namespace pbk::testing::vzdump_sim {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

inline std::string ErrnoText(int error) { return std::strerror(error); }

}  // namespace pbk::testing::vzdump_sim
