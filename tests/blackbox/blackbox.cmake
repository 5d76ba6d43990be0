# Black-box tests: the built pbk-agent driven through the generated hook
# wrapper by the vzdump simulator, exactly as vzdump runs it, against the fake
# Uptime Kuma; and its guard, verify and jobs commands against the fake PVE
# (REST API and pvesh) and the fake Kuma. Included from tests/CMakeLists.txt,
# so CMAKE_CURRENT_SOURCE_DIR is tests/.

# Running programs, and the fake Kuma and the fake PVE as servers a test owns.
add_library(pbk_test_process STATIC
  ${CMAKE_CURRENT_SOURCE_DIR}/support/process.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/support/fake_kuma.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/support/fake_pve.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/support/suite_log.cpp)
target_include_directories(pbk_test_process PUBLIC ${PROJECT_SOURCE_DIR})
target_compile_definitions(pbk_test_process PRIVATE
  PBK_FAKE_KUMA_SCRIPT="${CMAKE_CURRENT_SOURCE_DIR}/fakes/fake_kuma.py"
  PBK_FAKE_PVE_SCRIPT="${CMAKE_CURRENT_SOURCE_DIR}/fakes/fake_pve.py"
  PBK_FAKE_PVESH_SCRIPT="${CMAKE_CURRENT_SOURCE_DIR}/fakes/fake_pvesh.py"
  PBK_FAKE_PMXCFS_SCRIPT="${CMAKE_CURRENT_SOURCE_DIR}/fakes/pmxcfs.py")
target_link_libraries(pbk_test_process PUBLIC nlohmann_json::nlohmann_json PRIVATE pbk_warnings)

add_executable(pbk_blackbox_tests
  ${CMAKE_CURRENT_SOURCE_DIR}/blackbox/hook_blackbox_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/blackbox/hook_delivery_blackbox_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/blackbox/hook_admin_blackbox_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/blackbox/guard_blackbox_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/blackbox/guard_options_blackbox_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/blackbox/verify_blackbox_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/blackbox/privilege_blackbox_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/blackbox/jobs_blackbox_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/blackbox/identification_blackbox_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/blackbox/fault_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/blackbox/refresh_blackbox_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/blackbox/refresh_node_monitor_blackbox_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/blackbox/refresh_interleaved_blackbox_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/blackbox/refresh_undeliverable_blackbox_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/blackbox/connection_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/blackbox/placement_blackbox_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/blackbox/run_now_blackbox_test.cpp)
target_compile_definitions(pbk_blackbox_tests PRIVATE
  PBK_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
  PBK_BIN_DIR="${CMAKE_BINARY_DIR}/bin")
target_link_libraries(pbk_blackbox_tests PRIVATE pbk_test_process pbk_test_support pbk_test_certs
  GTest::gtest_main pbk_warnings)
# The tests run the programs, not code linked in: make sure they are built.
add_dependencies(pbk_blackbox_tests pbk-agent pbk-http pbk-vzdump-sim)
gtest_discover_tests(pbk_blackbox_tests TEST_PREFIX "blackbox." DISCOVERY_TIMEOUT 30
  PROPERTIES TIMEOUT 300 FIXTURES_REQUIRED suite_outputs
  ENVIRONMENT "PBK_TEST_OUTPUT_DIR=${PBK_TEST_OUTPUT_DIR}")
