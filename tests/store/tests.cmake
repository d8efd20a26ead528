# The unit tests of jobs, journals, resume and locks, which get their store
# from tests/unit/teststore.h: tests/CMakeLists.txt adds each as unit/NAME
# (the directory store); here each gets its twin unit/NAME@azblob under
# Azurite once tests/azurite/with-azurite.sh exists (tests/store-tests.cmake).
include(${CMAKE_SOURCE_DIR}/tests/store-tests.cmake)

foreach(t
    test-store          # store interface: append, put/get, list, locks, leases
    test-journal        # journals: round trip, corruption, racing writers
    test-exec           # jobs: operations, gates, retry, skip, cancel, locks, resume
    test-exec-crash     # crash points and resume (the fileio crash run is dir-only)
    test-exec-hooks     # jobs with Lua hooks, resumed
    test-exec-lock      # a lease lost mid-job, renewal failures, resume by another holder
    test-jobreport      # reports read from journals
    test-sim)           # simulator state saved in and loaded from the store
  if(TARGET ${t})
    dr_add_store_twin(unit/${t} COMMAND ${t} WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  endif()
endforeach()
