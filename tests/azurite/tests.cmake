# The Azurite launcher itself: start, a request, stop.
include(${CMAKE_CURRENT_LIST_DIR}/azurite.cmake)
dr_add_azurite_test(azurite/launcher COMMAND ${CMAKE_CURRENT_LIST_DIR}/launcher-test.sh)
