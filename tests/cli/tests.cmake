# CLI end-to-end scripts: each tNNNN-*.sh runs the built drplan binary and
# prints "N passed, N failed" (see the comment at the top of each script).
file(GLOB DR_CLI_SCRIPTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/t[0-9][0-9][0-9][0-9]-*.sh)
foreach(script IN LISTS DR_CLI_SCRIPTS)
  get_filename_component(name ${script} NAME_WE)
  add_test(NAME cli/${name}
           COMMAND bash ${script} $<TARGET_FILE:drplan> ${CMAKE_SOURCE_DIR})
endforeach()
