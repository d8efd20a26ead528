# The load + validate + compile fuzz target. With DR_FUZZ=ON (clang) it is a
# libFuzzer binary; otherwise its corpus replays as an ordinary ctest.
set(DR_FUZZ_PLAN_DIR ${CMAKE_CURRENT_LIST_DIR})
if(DR_FUZZ)
  add_executable(fuzz-plan ${DR_FUZZ_PLAN_DIR}/fuzz-plan.c)
  target_compile_options(fuzz-plan PRIVATE -fsanitize=fuzzer)
  target_link_options(fuzz-plan PRIVATE -fsanitize=fuzzer)
  target_link_libraries(fuzz-plan PRIVATE dr_core)
else()
  add_executable(replay-plan ${DR_FUZZ_PLAN_DIR}/fuzz-plan.c ${CMAKE_SOURCE_DIR}/tests/fuzz/replay.c)
  target_link_libraries(replay-plan PRIVATE dr_core)
  add_test(NAME fuzz/replay-plan
           COMMAND replay-plan ${DR_FUZZ_PLAN_DIR}/corpus
           WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
endif()
