# Test certificates: a library for tests that make their own set in a
# temporary folder, and a command for fake servers and manual runs.
# Included from tests/CMakeLists.txt, so CMAKE_CURRENT_SOURCE_DIR is tests/.

add_library(pbk_test_certs STATIC
  ${CMAKE_CURRENT_SOURCE_DIR}/support/test_certs.cpp)
target_include_directories(pbk_test_certs PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(pbk_test_certs
  PUBLIC OpenSSL::SSL OpenSSL::Crypto
  PRIVATE pbk_warnings)

add_executable(pbk-test-certs ${CMAKE_CURRENT_SOURCE_DIR}/tools/test_certs_main.cpp)
target_link_libraries(pbk-test-certs PRIVATE pbk_test_certs pbk_warnings)
