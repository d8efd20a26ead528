# `drplan hook test` end to end: hooks against a loopback port the script
# opens and closes itself (python3).
file(GLOB DR_CLI_HOOK_SCRIPTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/t[0-9][0-9][0-9][0-9]-*.sh)
foreach(script IN LISTS DR_CLI_HOOK_SCRIPTS)
  get_filename_component(name ${script} NAME_WE)
  add_test(NAME cli-hook/${name}
           COMMAND bash ${script} $<TARGET_FILE:drplan> ${CMAKE_SOURCE_DIR})
endforeach()
