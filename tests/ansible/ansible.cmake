# Tests of the Ansible role proxmox-backup-push (ansible/), driven by
# tests/ansible/run_role_tests.sh. Included from tests/CMakeLists.txt, so
# CMAKE_CURRENT_SOURCE_DIR is tests/.
#
#   ansible.lint     ansible-lint --profile production and --syntax-check
#   ansible.package  the .deb the role installs, made from this build by cpack
#   ansible.role     the role applied with ansible-playbook to Debian 12 chroots
#                    (2 nodes, a second run with changed=0, a third node), the
#                    failure paths, and the package's install, remove and purge
#
#   ctest --test-dir build -L ansible --output-on-failure
#
# ./run.sh test installs what they need (ansible, ansible-lint, debootstrap,
# zstd, dpkg-dev). Without root or without one of those tools a test exits 77
# and ctest reports it skipped, with the reason in its output.
#
# The Debian chroot is made once (debootstrap, a few minutes, needs the
# Debian mirror apt uses) and kept in $PBK_TEST_CACHE or
# /var/cache/pbk-agent-tests, outside the build tree.

set(PBK_ANSIBLE_TEST_DEB "" CACHE FILEPATH
  "A package for the Ansible role tests (empty: made from this build with cpack)")

execute_process(COMMAND dpkg --print-architecture
  OUTPUT_VARIABLE _pbk_deb_arch OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT _pbk_deb_arch)
  set(_pbk_deb_arch amd64)
endif()

set(_pbk_ansible_fixtures "")
if(PBK_ANSIBLE_TEST_DEB)
  set(_pbk_ansible_deb "${PBK_ANSIBLE_TEST_DEB}")
else()
  set(_pbk_ansible_deb_dir "${CMAKE_BINARY_DIR}/ansible-deb")
  set(_pbk_ansible_deb
    "${_pbk_ansible_deb_dir}/pbk-agent_${PROJECT_VERSION}_${_pbk_deb_arch}.deb")
  add_test(NAME ansible.package
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/ansible/make_deb.sh
      ${CMAKE_BINARY_DIR} ${_pbk_ansible_deb_dir} ${_pbk_ansible_deb})
  set_tests_properties(ansible.package PROPERTIES
    LABELS ansible
    TIMEOUT 600
    SKIP_RETURN_CODE 77
    FIXTURES_SETUP ansible_deb)
  list(APPEND _pbk_ansible_fixtures ansible_deb)
endif()

set(_pbk_ansible_environment "")
if(TARGET pbk-test-certs)
  list(APPEND _pbk_ansible_environment "PBK_TEST_CERTS=$<TARGET_FILE:pbk-test-certs>")
endif()
if(DEFINED PBK_TEST_OUTPUT_DIR)
  # Its outputs and secrets join the suite-wide secret scan.
  list(APPEND _pbk_ansible_environment "PBK_TEST_OUTPUT_DIR=${PBK_TEST_OUTPUT_DIR}")
  list(APPEND _pbk_ansible_fixtures suite_outputs)
endif()

add_test(NAME ansible.lint
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/ansible/run_role_tests.sh --lint-only ${_pbk_ansible_deb})
set_tests_properties(ansible.lint PROPERTIES
  LABELS ansible
  TIMEOUT 300
  SKIP_RETURN_CODE 77)

add_test(NAME ansible.role
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/ansible/run_role_tests.sh --no-lint ${_pbk_ansible_deb})
set_tests_properties(ansible.role PROPERTIES
  LABELS ansible
  # About 4 minutes with the chroot cached; the first run also bootstraps
  # Debian (a few minutes more).
  TIMEOUT 1200
  SKIP_RETURN_CODE 77
  # Chroots, apt and a dozen ansible-playbook runs: alone, so that the timing
  # assertions of the other tiers keep their margins.
  RUN_SERIAL TRUE
  ENVIRONMENT "${_pbk_ansible_environment}")
if(_pbk_ansible_fixtures)
  set_tests_properties(ansible.role PROPERTIES FIXTURES_REQUIRED "${_pbk_ansible_fixtures}")
endif()
