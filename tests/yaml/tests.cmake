# YAML loader extras: the benchmark (built, not run by ctest).
add_executable(bench-yaml ${CMAKE_CURRENT_LIST_DIR}/../bench/bench-yaml.c)
target_link_libraries(bench-yaml PRIVATE dr_core)
