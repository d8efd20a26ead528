# Schema validator extras: the JSON-Schema-Test-Suite conformance test, the
# benchmark (built, not run by ctest) and the fuzz target with its replay.

# The official JSON-Schema-Test-Suite (draft-07), from the Debian package
# json-schema-test-suite. The test fails with an install hint when absent.
set(DR_SCHEMA_SUITE_DIR "/usr/share/json-schema-test-suite" CACHE PATH
    "Directory of the JSON-Schema-Test-Suite (tests/ and remotes/)")
add_executable(run-suite ${CMAKE_CURRENT_LIST_DIR}/run-suite.c)
target_link_libraries(run-suite PRIVATE dr_core)
target_compile_definitions(run-suite PRIVATE
  DR_SUITE_METASCHEMA="${CMAKE_CURRENT_LIST_DIR}/draft-07-schema.json")
add_test(NAME schema/json-schema-test-suite
         COMMAND run-suite ${DR_SCHEMA_SUITE_DIR}
                 ${CMAKE_CURRENT_LIST_DIR}/draft-07-schema.json)

# Run by hand: build/tests/bench-schema [machines] [runs]
add_executable(bench-schema ${CMAKE_CURRENT_LIST_DIR}/../bench/bench-schema.c)
target_link_libraries(bench-schema PRIVATE dr_core)

# Fuzzing: with DR_FUZZ=ON (clang) a libFuzzer binary; always a replay of
# the corpus as an ordinary test.
set(DR_SCHEMA_FUZZ_DIR ${CMAKE_CURRENT_LIST_DIR}/../fuzz)
if(DR_FUZZ)
  # The top-level CMakeLists instruments dr_core when DR_FUZZ is on.
  add_executable(fuzz-schema ${DR_SCHEMA_FUZZ_DIR}/fuzz-schema.c)
  target_compile_options(fuzz-schema PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_options(fuzz-schema PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(fuzz-schema PRIVATE dr_core)
endif()
add_executable(replay-schema ${DR_SCHEMA_FUZZ_DIR}/fuzz-schema.c
               ${DR_SCHEMA_FUZZ_DIR}/replay.c)
target_link_libraries(replay-schema PRIVATE dr_core)
add_test(NAME fuzz/replay-schema
         COMMAND replay-schema ${DR_SCHEMA_FUZZ_DIR}/corpus/schema)
