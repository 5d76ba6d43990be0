# pbk-vzdump-sim: stands in for a vzdump worker so black-box tests can run the
# hook wrapper without a Proxmox host.
add_executable(pbk-vzdump-sim
  ${CMAKE_CURRENT_LIST_DIR}/vzdump_sim.cpp
  ${CMAKE_CURRENT_LIST_DIR}/vzdump_sim_options.cpp
  ${CMAKE_CURRENT_LIST_DIR}/vzdump_sim_scenario.cpp
  ${CMAKE_CURRENT_LIST_DIR}/vzdump_sim_worker.cpp
  ${CMAKE_CURRENT_LIST_DIR}/vzdump_sim_hook.cpp
  ${CMAKE_CURRENT_LIST_DIR}/vzdump_sim_job.cpp)
target_include_directories(pbk-vzdump-sim PRIVATE ${PROJECT_SOURCE_DIR})
target_link_libraries(pbk-vzdump-sim PRIVATE nlohmann_json::nlohmann_json pbk_warnings)
