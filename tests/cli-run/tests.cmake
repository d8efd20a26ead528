# End-to-end scripts for the execution commands (drill, failover, commit,
# reprotect, failback, job ...) on the simulator: each tNNNN-*.sh runs the
# built drplan binary in a temporary state store and prints
# "N passed, N failed". They are jobs, journals, resume and locks tests:
# each runs against the directory store and, with the Azurite launcher,
# again as NAME@azblob (tests/store-tests.cmake; lib.sh picks the store),
# except those about the directory store itself (DR_CLI_RUN_DIR_ONLY).
include(${CMAKE_SOURCE_DIR}/tests/store-tests.cmake)
# t0150-crash: kill -9 and flock, files read directly (see the script).
# t0160-schedule: reads and removes the scheduler's records as files
# ($DRPLAN_STATE_DIR/schedule/...); store-neutral once it reads them
# through drplan (the HA scheduler work on issue 7).
set(DR_CLI_RUN_DIR_ONLY t0150-crash t0160-schedule)
file(GLOB DR_CLI_RUN_SCRIPTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/t[0-9][0-9][0-9][0-9]-*.sh)
foreach(script IN LISTS DR_CLI_RUN_SCRIPTS)
  get_filename_component(name ${script} NAME_WE)
  if(name IN_LIST DR_CLI_RUN_DIR_ONLY)
    add_test(NAME cli-run/${name}
             COMMAND bash ${script} $<TARGET_FILE:drplan> ${CMAKE_SOURCE_DIR})
    set_tests_properties(cli-run/${name} PROPERTIES TIMEOUT 300)
  else()
    dr_add_store_test(NAME cli-run/${name}
                      COMMAND bash ${script} $<TARGET_FILE:drplan> ${CMAKE_SOURCE_DIR}
                      TIMEOUT 300)
  endif()
endforeach()
