# The journal replay fuzz target. With DR_FUZZ=ON (clang) it is a libFuzzer
# binary; otherwise its corpus replays as an ordinary ctest.
set(DR_FUZZ_JOURNAL_DIR ${CMAKE_CURRENT_LIST_DIR})
if(DR_FUZZ)
  add_executable(fuzz-journal ${DR_FUZZ_JOURNAL_DIR}/fuzz-journal.c)
  target_compile_options(fuzz-journal PRIVATE -fsanitize=fuzzer)
  target_link_options(fuzz-journal PRIVATE -fsanitize=fuzzer)
  target_link_libraries(fuzz-journal PRIVATE dr_core)
else()
  add_executable(replay-journal ${DR_FUZZ_JOURNAL_DIR}/fuzz-journal.c
                 ${CMAKE_SOURCE_DIR}/tests/fuzz/replay.c)
  target_link_libraries(replay-journal PRIVATE dr_core)
  add_test(NAME fuzz/replay-journal
           COMMAND replay-journal ${DR_FUZZ_JOURNAL_DIR}/corpus
           WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
endif()
