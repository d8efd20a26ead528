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
