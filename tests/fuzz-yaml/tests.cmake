# YAML fuzzing: the corpus in tests/fuzz/corpus/yaml replays as a test with
# any compiler; with DR_FUZZ=ON (clang) fuzz-yaml is a libFuzzer binary.
# libFuzzer writes new inputs into the first directory, so give it a scratch
# one first:  mkdir /tmp/y && build/tests/fuzz-yaml -max_total_time=300 \
#               /tmp/y tests/fuzz/corpus/yaml
set(DR_FUZZ_YAML_DIR ${CMAKE_CURRENT_LIST_DIR}/../fuzz)
add_executable(fuzz-yaml-replay ${DR_FUZZ_YAML_DIR}/fuzz-yaml.c)
target_link_libraries(fuzz-yaml-replay PRIVATE dr_core)
add_test(NAME fuzz/replay-yaml
         COMMAND fuzz-yaml-replay ${DR_FUZZ_YAML_DIR}/corpus/yaml)
if(DR_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(WARNING "DR_FUZZ needs clang for libFuzzer; fuzz-yaml not built")
  else()
    # The top CMakeLists.txt instruments the library for coverage.
    add_executable(fuzz-yaml ${DR_FUZZ_YAML_DIR}/fuzz-yaml.c)
    target_compile_definitions(fuzz-yaml PRIVATE DR_FUZZ_LIBFUZZER)
    target_compile_options(fuzz-yaml PRIVATE -fsanitize=fuzzer)
    target_link_options(fuzz-yaml PRIVATE -fsanitize=fuzzer)
    target_link_libraries(fuzz-yaml PRIVATE dr_core)
  endif()
endif()
