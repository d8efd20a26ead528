# dr_add_azurite_test(NAME COMMAND cmd args...): a ctest that runs cmd under
# tests/azurite/with-azurite.sh (a fresh Azurite, DRPLAN_TEST_STORE and
# AZURE_STORAGE_CONNECTION_STRING exported). Azurite comes from DR_AZURITE
# (a path to azurite-blob), else ${CMAKE_BINARY_DIR}/azurite (installed there
# by .ci/deps.sh dr_install_azurite), else PATH. Missing Azurite fails the
# test unless DRPLAN_SKIP_AZURITE=1 is set in the environment (then: skipped).
include_guard(GLOBAL)
set(DR_AZURITE "" CACHE FILEPATH "azurite-blob executable for the Azure state store tests")
set(DR_AZURITE_DIR ${CMAKE_CURRENT_LIST_DIR})

function(dr_add_azurite_test name)
  cmake_parse_arguments(ARG "" "" "COMMAND" ${ARGN})
  add_test(NAME ${name}
           COMMAND ${DR_AZURITE_DIR}/with-azurite.sh ${ARG_COMMAND}
           WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  dr_azurite_test_properties(${name})
  set_tests_properties(${name} PROPERTIES TIMEOUT 300)
endfunction()

# What every test run under with-azurite.sh needs: where Azurite is, the
# skip code, and one Azurite at a time (each is a Node process of its own).
function(dr_azurite_test_properties name)
  set(env "DR_AZURITE_PREFIX=${CMAKE_BINARY_DIR}/azurite")
  if(DR_AZURITE)
    list(APPEND env "DRPLAN_AZURITE=${DR_AZURITE}")
  endif()
  set_tests_properties(${name} PROPERTIES ENVIRONMENT "${env}" SKIP_RETURN_CODE 77
                       RESOURCE_LOCK azurite-cpu)
endfunction()
