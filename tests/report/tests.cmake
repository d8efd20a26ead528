# Reports through the real binary: a state store with sample drills (written
# by `test-jobreport --samples`), `drplan report` in every format, JUnit and
# HTML checked with xmllint (libxml2-utils), and the HTML rendered headless
# by chromium to a PNG. Both scripts exit 77 (skipped) without their tool.
add_test(NAME report/xmllint
         COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/report-xml.sh $<TARGET_FILE:drplan>
                 $<TARGET_FILE:test-jobreport> ${CMAKE_CURRENT_BINARY_DIR}/report-xml
                 ${CMAKE_SOURCE_DIR}/plans/erp.yaml)
set_tests_properties(report/xmllint PROPERTIES SKIP_RETURN_CODE 77)
add_test(NAME report/screenshot
         COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/report-screenshot.sh $<TARGET_FILE:drplan>
                 $<TARGET_FILE:test-jobreport> ${CMAKE_CURRENT_BINARY_DIR}/report-shot)
set_tests_properties(report/screenshot PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 120)
