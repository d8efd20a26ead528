# The cron and TZif parser fuzz target. With DR_FUZZ=ON (clang) it is a
# libFuzzer binary; otherwise its corpus replays as an ordinary ctest.
set(DR_FUZZ_CRON_DIR ${CMAKE_CURRENT_LIST_DIR})
if(DR_FUZZ)
  add_executable(fuzz-cron ${DR_FUZZ_CRON_DIR}/fuzz-cron.c)
  target_compile_options(fuzz-cron PRIVATE -fsanitize=fuzzer)
  target_link_options(fuzz-cron PRIVATE -fsanitize=fuzzer)
  target_link_libraries(fuzz-cron PRIVATE dr_core)
else()
  add_executable(replay-cron ${DR_FUZZ_CRON_DIR}/fuzz-cron.c
                 ${CMAKE_SOURCE_DIR}/tests/fuzz/replay.c)
  target_link_libraries(replay-cron PRIVATE dr_core)
  add_test(NAME fuzz/replay-cron
           COMMAND replay-cron ${DR_FUZZ_CRON_DIR}/corpus
           WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
endif()
