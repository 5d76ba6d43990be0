# The fuzz targets as tests of the normal build: each runs its regression and
# corpus inputs, then fuzzes for PBK_FUZZ_SECONDS. The binaries come from the
# fuzz build (PBK_FUZZ_BUILD_DIR, made by
#   CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DPBK_FUZZ=ON
#   cmake --build build-fuzz --target pbk_fuzz_targets);
# without it the tests are skipped (run_fuzzer.sh exits 77).
#
#   ctest --test-dir build -L fuzz
set(PBK_FUZZ_SECONDS 30 CACHE STRING "How long each fuzz.* test fuzzes, in seconds")

set(_pbk_fuzz_dir ${CMAKE_CURRENT_LIST_DIR})
math(EXPR _pbk_fuzz_timeout "${PBK_FUZZ_SECONDS} + 120")
foreach(_pbk_fuzz_target IN ITEMS
    config jobs_cfg vzdump_cron api_json upid hook_args records calendar socketio)
  add_test(NAME fuzz.${_pbk_fuzz_target}
    COMMAND ${_pbk_fuzz_dir}/run_fuzzer.sh
      ${PBK_FUZZ_BUILD_DIR}/tests/fuzz/fuzz_${_pbk_fuzz_target}
      ${_pbk_fuzz_dir}/corpus/${_pbk_fuzz_target}
      ${_pbk_fuzz_dir}/regressions/${_pbk_fuzz_target}
      ${PBK_FUZZ_SECONDS})
  set_tests_properties(fuzz.${_pbk_fuzz_target} PROPERTIES
    SKIP_RETURN_CODE 77
    LABELS fuzz
    TIMEOUT ${_pbk_fuzz_timeout}
    # Crashing inputs land in the build folder, not in the sources.
    ENVIRONMENT "PBK_FUZZ_ARTIFACTS=${CMAKE_BINARY_DIR}/fuzz-artifacts")
endforeach()
