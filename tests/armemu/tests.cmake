# The ARM emulator for ASR (tests/armemu): a loopback HTTP server with the
# simulator inside, for the Azure provider's tests. libmicrohttpd is a
# test-only dependency; without it the emulator and its tests are skipped.
find_package(PkgConfig QUIET)
pkg_check_modules(MHD QUIET IMPORTED_TARGET libmicrohttpd)
if(NOT MHD_FOUND)
  message(STATUS "armemu: libmicrohttpd not found (apt-get install "
                 "libmicrohttpd-dev): ARM emulator and its tests skipped")
else()
  set(DR_ARMEMU_DIR ${CMAKE_CURRENT_LIST_DIR})
  add_executable(armemu ${DR_ARMEMU_DIR}/armemu.c ${DR_ARMEMU_DIR}/auth.c
                 ${DR_ARMEMU_DIR}/faults.c)
  target_link_libraries(armemu PRIVATE dr_core PkgConfig::MHD)
  target_include_directories(armemu PRIVATE ${DR_ARMEMU_DIR})
  add_executable(test-armemu-units ${DR_ARMEMU_DIR}/test-armemu-units.c
                 ${DR_ARMEMU_DIR}/auth.c ${DR_ARMEMU_DIR}/faults.c)
  target_link_libraries(test-armemu-units PRIVATE dr_core)
  target_include_directories(test-armemu-units PRIVATE ${DR_ARMEMU_DIR}
                             ${CMAKE_CURRENT_LIST_DIR}/../unit)
  add_test(NAME armemu/test-armemu-units COMMAND test-armemu-units
           WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  # The parsers' fuzz target (libFuzzer with DR_FUZZ=ON; else a corpus replay).
  if(DR_FUZZ)
    add_executable(fuzz-armemu ${DR_ARMEMU_DIR}/fuzz-armemu.c
                   ${DR_ARMEMU_DIR}/auth.c ${DR_ARMEMU_DIR}/faults.c)
    target_compile_options(fuzz-armemu PRIVATE -fsanitize=fuzzer)
    target_link_options(fuzz-armemu PRIVATE -fsanitize=fuzzer)
    target_link_libraries(fuzz-armemu PRIVATE dr_core)
  else()
    add_executable(replay-armemu ${DR_ARMEMU_DIR}/fuzz-armemu.c
                   ${DR_ARMEMU_DIR}/auth.c ${DR_ARMEMU_DIR}/faults.c
                   ${CMAKE_SOURCE_DIR}/tests/fuzz/replay.c)
    target_link_libraries(replay-armemu PRIVATE dr_core)
    add_test(NAME fuzz/replay-armemu
             COMMAND replay-armemu ${DR_ARMEMU_DIR}/corpus
             WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  endif()
  find_program(DR_CURL curl)
  find_program(DR_OPENSSL openssl)
  if(DR_CURL AND DR_OPENSSL)
    add_test(NAME armemu/test-armemu
             COMMAND sh ${DR_ARMEMU_DIR}/test-armemu.sh $<TARGET_FILE:armemu>
             WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
    set_tests_properties(armemu/test-armemu PROPERTIES TIMEOUT 300)
  else()
    message(STATUS "armemu: curl or openssl missing: emulator tests skipped")
  endif()
endif()
