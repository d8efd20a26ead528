# Benchmarks: built with the tests, not run by ctest. Run by hand:
#   build/tests/bench-journal [state-dir]
add_executable(bench-journal ${CMAKE_CURRENT_LIST_DIR}/bench-journal.c)
target_link_libraries(bench-journal PRIVATE dr_core)
