# Data-driven validation cases: one ctest per folder of tests/cases/bad-plans
# and tests/cases/good-plans (see run-case.sh for the folder layout).
file(GLOB DR_CASE_DIRS LIST_DIRECTORIES true CONFIGURE_DEPENDS
     ${CMAKE_CURRENT_LIST_DIR}/bad-plans/* ${CMAKE_CURRENT_LIST_DIR}/good-plans/*)
foreach(dir IN LISTS DR_CASE_DIRS)
  if(IS_DIRECTORY ${dir} AND EXISTS ${dir}/plan.yaml)
    get_filename_component(case ${dir} NAME)
    get_filename_component(kind ${dir} DIRECTORY)
    get_filename_component(kind ${kind} NAME)
    add_test(NAME cases/${kind}/${case}
             COMMAND ${CMAKE_CURRENT_LIST_DIR}/run-case.sh $<TARGET_FILE:drplan> ${dir})
  endif()
endforeach()
