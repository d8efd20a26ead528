# The Azure Blob Storage state store against Azurite (tests/azurite/).
include(${CMAKE_CURRENT_LIST_DIR}/../azurite/azurite.cmake)
find_package(Threads REQUIRED)
add_executable(test-azblob ${CMAKE_CURRENT_LIST_DIR}/test-azblob.c)
target_link_libraries(test-azblob PRIVATE dr_core Threads::Threads)
target_include_directories(test-azblob PRIVATE ${CMAKE_SOURCE_DIR}/tests/unit)
dr_add_azurite_test(azblob/store COMMAND $<TARGET_FILE:test-azblob>)
# The CLI end to end on the azblob store (DRPLAN_STATE, --state, locks).
dr_add_azurite_test(azblob/cli COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/t-cli.sh
                    $<TARGET_FILE:drplan> ${CMAKE_SOURCE_DIR})
# Three schedulers on one store: one starts the due drill, one of the others
# takes it over after a kill -9 (tests/azblob/t-sched-ha.sh).
add_executable(store-get ${CMAKE_CURRENT_LIST_DIR}/store-get.c)
target_link_libraries(store-get PRIVATE dr_core)
dr_add_azurite_test(azblob/sched-ha COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/t-sched-ha.sh
                    $<TARGET_FILE:drplan> ${CMAKE_SOURCE_DIR} $<TARGET_FILE:store-get>)
# Azurite stopped and started again in the middle of a failover: the job
# completes once, no journal record lost or doubled (tests/azblob/t-restart.sh).
dr_add_azurite_test(azblob/restart COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/t-restart.sh
                    $<TARGET_FILE:drplan> ${CMAKE_SOURCE_DIR} $<TARGET_FILE:store-get>)
