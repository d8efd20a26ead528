# The approval document fuzz target. With DR_FUZZ=ON (clang) it is a
# libFuzzer binary (run it from the source root); otherwise its corpus
# replays as an ordinary ctest.
set(DR_FUZZ_APPROVAL_DIR ${CMAKE_CURRENT_LIST_DIR})
if(DR_FUZZ)
  add_executable(fuzz-approval ${DR_FUZZ_APPROVAL_DIR}/fuzz-approval.c)
  target_compile_options(fuzz-approval PRIVATE -fsanitize=fuzzer)
  target_link_options(fuzz-approval PRIVATE -fsanitize=fuzzer)
  target_link_libraries(fuzz-approval PRIVATE dr_core)
else()
  add_executable(replay-approval ${DR_FUZZ_APPROVAL_DIR}/fuzz-approval.c
                 ${CMAKE_SOURCE_DIR}/tests/fuzz/replay.c)
  target_link_libraries(replay-approval PRIVATE dr_core)
  add_test(NAME fuzz/replay-approval
           COMMAND replay-approval ${DR_FUZZ_APPROVAL_DIR}/corpus
           WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
endif()
