# YAML loader extras: the benchmark (built, not run by ctest).
add_executable(bench-yaml ${CMAKE_CURRENT_LIST_DIR}/../bench/bench-yaml.c)
target_link_libraries(bench-yaml PRIVATE dr_core)

# Diagnostic renderers: the sample list in each format, checked by outside
# tools when they are installed (xmllint from libxml2-utils; python3 with
# jsonschema for the official SARIF 2.1.0 schema).
add_executable(diagfmt-sample ${CMAKE_CURRENT_LIST_DIR}/../diagfmt/diagfmt-sample.c)
target_link_libraries(diagfmt-sample PRIVATE dr_core)
add_test(NAME diagfmt/junit-xmllint
         COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/../diagfmt/check-junit.sh
                 $<TARGET_FILE:diagfmt-sample>)
set_tests_properties(diagfmt/junit-xmllint PROPERTIES SKIP_RETURN_CODE 77)
add_test(NAME diagfmt/sarif-schema
         COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/../diagfmt/check-sarif.sh
                 $<TARGET_FILE:diagfmt-sample>
                 ${CMAKE_CURRENT_LIST_DIR}/../diagfmt/sarif-schema-2.1.0.json)
set_tests_properties(diagfmt/sarif-schema PROPERTIES SKIP_RETURN_CODE 77)
