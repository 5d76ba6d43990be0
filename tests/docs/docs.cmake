# The admin's documentation: the man page renders without warnings, and
# every configuration key the parser knows is in the man page and in the
# README's configuration reference. Included from tests/CMakeLists.txt.
add_test(NAME docs.man_page
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/docs/man_page.sh ${PROJECT_SOURCE_DIR}/agent/pbk-agent.8)
set_tests_properties(docs.man_page PROPERTIES LABELS docs SKIP_RETURN_CODE 77)

add_test(NAME docs.config_keys
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/docs/config_keys.py ${PROJECT_SOURCE_DIR})
set_tests_properties(docs.config_keys PROPERTIES LABELS docs)
