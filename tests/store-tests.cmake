# store-tests.cmake - tests of jobs, journals, resume and locks run against
# every state store (issue 7). A fragment include()s this file and registers
# each store-agnostic test with one line:
#
#   dr_add_store_test(NAME cli-run/t0130-job COMMAND bash script.sh ...
#                     [WORKING_DIRECTORY dir] [TIMEOUT s] [AZBLOB_TIMEOUT s])
#       adds NAME as add_test() would (the directory store, exactly as
#       before) and, when the Azurite launcher tests/azurite/with-azurite.sh
#       exists, NAME@azblob: the same command run by the launcher, which
#       starts Azurite and exports DRPLAN_TEST_STORE=azblob://... and
#       AZURE_STORAGE_CONNECTION_STRING for it.
#
#   dr_add_store_twin(NAME COMMAND ... [WORKING_DIRECTORY dir] [TIMEOUT s])
#       only NAME@azblob, for a test that is added elsewhere
#       (tests/CMakeLists.txt adds every tests/unit/test-*.c as unit/NAME).
#
# Labels: both get "store"; the twin also "azblob" (ctest -L azblob runs
# the Azurite variants only, ctest -LE azblob everything else). How a
# test reaches its store: C tests through tests/unit/teststore.h, shell
# tests through tests/cli-run/lib.sh (DRPLAN_STATE_DIR). Parts of a test
# that are about the directory store itself print "skip ...: directory
# store only" under azblob.
#
# DR_STORE_AZURITE (default ON) turns the twins off without removing the
# launcher.
include_guard(GLOBAL)
include(${CMAKE_CURRENT_LIST_DIR}/azurite/azurite.cmake)

set(DR_AZURITE_LAUNCHER ${CMAKE_SOURCE_DIR}/tests/azurite/with-azurite.sh)
option(DR_STORE_AZURITE "Run the store tests a second time against Azurite" ON)
if(EXISTS ${DR_AZURITE_LAUNCHER} AND DR_STORE_AZURITE)
  set(DR_STORE_TWINS ON)
else()
  set(DR_STORE_TWINS OFF)
endif()

# The twin's command: the launcher, then the command with its first word
# made a path when it names an executable target (add_test() does that
# itself only for the first word of COMMAND).
function(_dr_store_twin name)
  cmake_parse_arguments(T "" "WORKING_DIRECTORY;TIMEOUT" "COMMAND" ${ARGN})
  if(NOT DR_STORE_TWINS)
    return()
  endif()
  list(GET T_COMMAND 0 first)
  list(REMOVE_AT T_COMMAND 0)
  if(TARGET ${first})
    set(first $<TARGET_FILE:${first}>)
  endif()
  if(NOT T_WORKING_DIRECTORY)
    set(T_WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
  endif()
  add_test(NAME ${name}@azblob
           COMMAND bash ${DR_AZURITE_LAUNCHER} ${first} ${T_COMMAND}
           WORKING_DIRECTORY ${T_WORKING_DIRECTORY})
  set_property(TEST ${name}@azblob APPEND PROPERTY LABELS store azblob)
  dr_azurite_test_properties(${name}@azblob)
  if(T_TIMEOUT)
    set_tests_properties(${name}@azblob PROPERTIES TIMEOUT ${T_TIMEOUT})
  endif()
endfunction()

function(dr_add_store_twin name)
  cmake_parse_arguments(T "" "WORKING_DIRECTORY;TIMEOUT" "COMMAND" ${ARGN})
  if(NOT T_COMMAND)
    message(FATAL_ERROR "dr_add_store_twin(${name}): COMMAND is required")
  endif()
  if(TEST ${name})
    set_property(TEST ${name} APPEND PROPERTY LABELS store)
  endif()
  set(extra)
  if(T_WORKING_DIRECTORY)
    list(APPEND extra WORKING_DIRECTORY ${T_WORKING_DIRECTORY})
  endif()
  if(T_TIMEOUT)
    list(APPEND extra TIMEOUT ${T_TIMEOUT})
  endif()
  _dr_store_twin(${name} COMMAND ${T_COMMAND} ${extra})
endfunction()

function(dr_add_store_test)
  cmake_parse_arguments(T "" "NAME;WORKING_DIRECTORY;TIMEOUT;AZBLOB_TIMEOUT" "COMMAND" ${ARGN})
  if(NOT T_NAME OR NOT T_COMMAND)
    message(FATAL_ERROR "dr_add_store_test: NAME and COMMAND are required")
  endif()
  set(wd)
  if(T_WORKING_DIRECTORY)
    set(wd WORKING_DIRECTORY ${T_WORKING_DIRECTORY})
  endif()
  add_test(NAME ${T_NAME} COMMAND ${T_COMMAND} ${wd})
  set_property(TEST ${T_NAME} APPEND PROPERTY LABELS store)
  if(T_TIMEOUT)
    set_tests_properties(${T_NAME} PROPERTIES TIMEOUT ${T_TIMEOUT})
  endif()
  if(NOT T_AZBLOB_TIMEOUT)
    set(T_AZBLOB_TIMEOUT ${T_TIMEOUT})
  endif()
  set(extra)
  if(T_AZBLOB_TIMEOUT)
    set(extra TIMEOUT ${T_AZBLOB_TIMEOUT})
  endif()
  _dr_store_twin(${T_NAME} COMMAND ${T_COMMAND} ${wd} ${extra})
endfunction()
