# The simulator's state and fault-spec parsers. With DR_FUZZ=ON (clang) a
# libFuzzer binary; otherwise its corpus replays as an ordinary ctest (with
# the replay driver of tests/fuzz-journal).
set(DR_FUZZ_SIM_DIR ${CMAKE_CURRENT_LIST_DIR})
if(DR_FUZZ)
  add_executable(fuzz-sim ${DR_FUZZ_SIM_DIR}/fuzz-sim.c)
  target_compile_options(fuzz-sim PRIVATE -fsanitize=fuzzer)
  target_link_options(fuzz-sim PRIVATE -fsanitize=fuzzer)
  target_link_libraries(fuzz-sim PRIVATE dr_core)
else()
  add_executable(replay-sim ${DR_FUZZ_SIM_DIR}/fuzz-sim.c
                 ${CMAKE_SOURCE_DIR}/tests/fuzz/replay.c)
  target_link_libraries(replay-sim PRIVATE dr_core)
  add_test(NAME fuzz/replay-sim
           COMMAND replay-sim ${DR_FUZZ_SIM_DIR}/corpus
           WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
endif()
