# End-to-end tests: the built pbk-agent, reached through the generated hook
# wrapper and run by pbk-vzdump-sim, pushing to a REAL Uptime Kuma
# (2.0.0-dev.0 from the npm registry, run with node). Included from
# tests/CMakeLists.txt after blackbox.cmake, so CMAKE_CURRENT_SOURCE_DIR is
# tests/ and pbk_test_process exists.
#
# One ctest, e2e.real_kuma: the test binary first runs `kuma.sh install`
# (a no-op once the cache is complete; the first time it needs the npm
# registry and takes a few minutes), then starts the Kuma servers once for
# all its cases. Run it alone with `ctest -R e2e` or `ctest -L e2e`.
#
# The Kuma cache is $PBK_KUMA_CACHE when set in ctest's environment, else
# PBK_KUMA_CACHE_DEFAULT below (outside the build tree, so a new build folder
# or a clean build does not download Kuma again).
set(PBK_KUMA_CACHE_DEFAULT "/var/cache/pbk-agent-tests/uptime-kuma-2.0.0-dev.0" CACHE PATH
  "Where the end-to-end tests keep their Uptime Kuma install (PBK_KUMA_CACHE overrides it)")

add_executable(pbk_e2e_tests
  ${CMAKE_CURRENT_SOURCE_DIR}/e2e/kuma_e2e_environment.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/e2e/kuma_e2e_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/e2e/kuma_e2e_refresh_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/e2e/kuma_e2e_login_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/e2e/kuma_e2e_sync_test.cpp)
target_compile_definitions(pbk_e2e_tests PRIVATE
  PBK_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
  PBK_BIN_DIR="${CMAKE_BINARY_DIR}/bin"
  PBK_KUMA_SCRIPT="${CMAKE_CURRENT_SOURCE_DIR}/e2e/kuma.sh"
  PBK_KUMA_DB_SCRIPT="${CMAKE_CURRENT_SOURCE_DIR}/e2e/kuma_db.js"
  PBK_KUMA_CACHE_DEFAULT="${PBK_KUMA_CACHE_DEFAULT}"
  PBK_FAKES_DIR="${CMAKE_CURRENT_SOURCE_DIR}/fakes")
# pbk_kuma: the login and sync cases make Kuma's first user and read back
# what the program made through the product's own Socket.IO client (which
# loads pbk-http.so from the binary's folder, bin/).
target_link_libraries(pbk_e2e_tests PRIVATE pbk_kuma pbk_test_process pbk_test_support
  pbk_test_certs OpenSSL::Crypto nlohmann_json::nlohmann_json GTest::gtest_main pbk_warnings)
# The tests run the programs, not code linked in: make sure they are built.
add_dependencies(pbk_e2e_tests pbk-agent pbk-http pbk-vzdump-sim)

# Not gtest_discover_tests: every case shares the Kuma servers the binary
# starts once (a GoogleTest global Environment).
add_test(NAME e2e.real_kuma COMMAND pbk_e2e_tests)
set_tests_properties(e2e.real_kuma PROPERTIES
  LABELS e2e
  # A first install (npm, then compiling SQLite) takes minutes; later runs
  # about a minute.
  TIMEOUT 1200
  # ctest hands its own PBK_KUMA_CACHE to the test ("reset" = the value
  # ctest was started with, whatever ENVIRONMENT says).
  ENVIRONMENT_MODIFICATION "PBK_KUMA_CACHE=reset:"
  ENVIRONMENT "PBK_TEST_OUTPUT_DIR=${PBK_TEST_OUTPUT_DIR}"
  FIXTURES_REQUIRED suite_outputs
  # Six node servers (and, the first time, a compiler) on the machine:
  # alone, so the timing assertions of the other tiers keep their margins
  # and the latency figures it prints are Kuma's, not the machine's load.
  RUN_SERIAL TRUE)
