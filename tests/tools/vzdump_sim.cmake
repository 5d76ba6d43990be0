# pbk-vzdump-sim: stands in for a vzdump worker so black-box tests can run the
# hook wrapper without a Proxmox host.
add_executable(pbk-vzdump-sim ${CMAKE_CURRENT_LIST_DIR}/vzdump_sim.cpp)
target_link_libraries(pbk-vzdump-sim PRIVATE nlohmann_json::nlohmann_json pbk_warnings)
