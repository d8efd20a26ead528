# Load-time benchmark of a generated 10,000-machine plan (tests/bench/
# gen-plan.py, tests/bench/bench-plan.c). The ctest checks that the
# generated plan loads clean and prints the time; timing limits are for
# people to judge on their machine, not for CI. By hand:
#   python3 tests/bench/gen-plan.py 10000 > /tmp/p10k.yaml
#   build/tests/bench-plan /tmp/p10k.yaml
# (Its own folder, so it does not collide with tests/bench/tests.cmake.)
set(DR_BENCH_DIR ${CMAKE_CURRENT_LIST_DIR}/../bench)
find_package(Python3 COMPONENTS Interpreter QUIET)
add_executable(bench-plan ${DR_BENCH_DIR}/bench-plan.c)
target_link_libraries(bench-plan PRIVATE dr_core)
if(Python3_Interpreter_FOUND)
  add_test(NAME bench/plan-10k
           COMMAND sh -c "'${Python3_EXECUTABLE}' '${DR_BENCH_DIR}/gen-plan.py' 10000 > '${CMAKE_CURRENT_BINARY_DIR}/p10k.yaml' && '$<TARGET_FILE:bench-plan>' '${CMAKE_CURRENT_BINARY_DIR}/p10k.yaml'")
endif()
