# The azure provider against the ARM emulator (tests/armemu). Without the
# emulator (no libmicrohttpd) the test is not built and says so here.
if(TARGET armemu)
  add_executable(test-azure-emu ${CMAKE_CURRENT_LIST_DIR}/test-azure.c)
  target_link_libraries(test-azure-emu PRIVATE dr_core)
  target_include_directories(test-azure-emu PRIVATE ${CMAKE_SOURCE_DIR}/tests/unit)
  add_test(NAME azure/test-azure
           COMMAND test-azure-emu $<TARGET_FILE:armemu> ${CMAKE_CURRENT_BINARY_DIR}/azure-work)
  set_tests_properties(azure/test-azure PROPERTIES TIMEOUT 300)
  add_test(NAME azure/inventory-export
           COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/test-inventory-cli.sh $<TARGET_FILE:drplan>
                   $<TARGET_FILE:armemu> ${CMAKE_CURRENT_BINARY_DIR})
  set_tests_properties(azure/inventory-export PROPERTIES TIMEOUT 120)
else()
  message(STATUS "azure: ARM emulator not built: azure provider tests skipped")
endif()

# The job tests below are store tests too: with the Azurite launcher each
# runs again as NAME@azblob, its journals and locks in Azurite
# (tests/store-tests.cmake).
include(${CMAKE_SOURCE_DIR}/tests/store-tests.cmake)

# End to end with the executor, once runner/exec/job.h is in the tree.
if(TARGET armemu AND EXISTS ${CMAKE_SOURCE_DIR}/runner/exec/job.h)
  add_executable(test-azure-job ${CMAKE_CURRENT_LIST_DIR}/test-azure-job.c)
  target_link_libraries(test-azure-job PRIVATE dr_core)
  target_include_directories(test-azure-job PRIVATE ${CMAKE_SOURCE_DIR}/tests/unit)
  dr_add_store_test(NAME azure/test-azure-job
                    COMMAND test-azure-job $<TARGET_FILE:armemu> ${CMAKE_CURRENT_BINARY_DIR}/azure-work
                    TIMEOUT 300)
elseif(TARGET armemu)
  message(STATUS "azure: no runner/exec/job.h yet: end-to-end job test skipped")
endif()

# Every emulator fault during a 200-machine failover + commit, and a crash
# and resume, through the executor and the azure provider.
if(TARGET armemu AND EXISTS ${CMAKE_SOURCE_DIR}/runner/exec/job.h)
  add_executable(test-azure-faults ${CMAKE_CURRENT_LIST_DIR}/test-azure-faults.c)
  target_link_libraries(test-azure-faults PRIVATE dr_core)
  target_include_directories(test-azure-faults PRIVATE ${CMAKE_SOURCE_DIR}/tests/unit)
  dr_add_store_test(NAME azure/faults-200
                    COMMAND test-azure-faults $<TARGET_FILE:armemu> ${CMAKE_CURRENT_BINARY_DIR}/azure-work
                    TIMEOUT 400 AZBLOB_TIMEOUT 900)
endif()

# The CLI end to end: drplan and armemu binaries, the four stages and a
# drill, a SIGKILL mid-failover and `drplan job resume`.
if(TARGET armemu)
  add_test(NAME azure/cli-e2e
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test-azure-cli-e2e.sh $<TARGET_FILE:drplan>
                   $<TARGET_FILE:armemu> ${CMAKE_CURRENT_BINARY_DIR})
  set_tests_properties(azure/cli-e2e PROPERTIES TIMEOUT 300)
endif()
