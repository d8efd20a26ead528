# Benchmarks: built with the tests, not run by ctest. Run by hand:
#   build/tests/bench-journal [state-dir]
#   build/tests/bench-hooks
add_executable(bench-journal ${CMAKE_CURRENT_LIST_DIR}/bench-journal.c)
target_link_libraries(bench-journal PRIVATE dr_core)
#   tests/bench/run-resume.sh BUILD   (bench-resume: a 1,000-machine job's journal,
#                                      a directory versus Azurite)
add_executable(bench-resume ${CMAKE_CURRENT_LIST_DIR}/bench-resume.c)
target_link_libraries(bench-resume PRIVATE dr_core)
add_executable(bench-hooks ${CMAKE_CURRENT_LIST_DIR}/bench-hooks.c)
target_link_libraries(bench-hooks PRIVATE dr_core)
#   build/tests/bench-net [hooks [delay_ms]]   (loopback; forks its own server)
add_executable(bench-net ${CMAKE_CURRENT_LIST_DIR}/bench-net.c)
target_link_libraries(bench-net PRIVATE dr_core)

# The whole offline pipeline, phase by phase: build/tests/bench-pipeline PLAN [RUNS]
add_executable(bench-pipeline ${CMAKE_CURRENT_LIST_DIR}/bench-pipeline.c)
target_link_libraries(bench-pipeline PRIVATE dr_core)

#   build/tests/bench-exec [machines [state-dir]]   (executor: 10,000-machine failover)
add_executable(bench-exec ${CMAKE_CURRENT_LIST_DIR}/bench-exec.c)
target_link_libraries(bench-exec PRIVATE dr_core)

#   build/tests/bench-azure build/tests/armemu [machines [state-dir]]
#   (executor + azure provider through the ARM emulator; needs libmicrohttpd)
if(TARGET armemu)
  add_executable(bench-azure ${CMAKE_CURRENT_LIST_DIR}/bench-azure.c)
  target_link_libraries(bench-azure PRIVATE dr_core)
endif()
