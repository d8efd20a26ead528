# End-to-end scripts for the execution commands (drill, failover, commit,
# reprotect, failback, job ...) on the simulator: each tNNNN-*.sh runs the
# built drplan binary in a temporary state store and prints
# "N passed, N failed".
file(GLOB DR_CLI_RUN_SCRIPTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/t[0-9][0-9][0-9][0-9]-*.sh)
foreach(script IN LISTS DR_CLI_RUN_SCRIPTS)
  get_filename_component(name ${script} NAME_WE)
  add_test(NAME cli-run/${name}
           COMMAND bash ${script} $<TARGET_FILE:drplan> ${CMAKE_SOURCE_DIR})
  set_tests_properties(cli-run/${name} PROPERTIES TIMEOUT 300)
endforeach()
