# SPDX-License-Identifier: MIT
# 32-bit check (cmake -P): builds the core, the plain-C API test and the quickstart with -m32 and
# runs them, so "works on 32-bit targets" (16-byte blocks, 32-bit words) is tested, not assumed.
# Prints "32-bit: skipped" (ctest reports the test as skipped) when the compiler cannot produce
# 32-bit programs here or the kernel cannot run them.
# Inputs: SOURCE_DIR, GENERATED_INCLUDE_DIR (uheap/version.h), WORK_DIR, CC, CXX.
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")
file(WRITE "${WORK_DIR}/probe.cpp" "int main() { return sizeof(void*) == 4 ? 0 : 1; }\n")
execute_process(COMMAND ${CXX} -m32 probe.cpp -o probe WORKING_DIRECTORY "${WORK_DIR}"
                RESULT_VARIABLE probe_built OUTPUT_QUIET ERROR_QUIET)
if(NOT probe_built EQUAL 0)
  message("32-bit: skipped, no 32-bit toolchain (install g++-multilib)")
  return()
endif()
execute_process(COMMAND ./probe WORKING_DIRECTORY "${WORK_DIR}" RESULT_VARIABLE probe_ran OUTPUT_QUIET ERROR_QUIET)
if(NOT probe_ran EQUAL 0)
  message("32-bit: skipped, this kernel does not run 32-bit programs (no IA-32 emulation)")
  return()
endif()

function(run step)
  execute_process(COMMAND ${ARGN} WORKING_DIRECTORY "${WORK_DIR}" RESULT_VARIABLE result
                  OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "32-bit ${step} failed (${result}):\n${out}")
  endif()
endfunction()

file(GLOB core_sources "${SOURCE_DIR}/src/*.cpp")
set(flags -m32 -O2 -std=c++17 -fno-exceptions -fno-rtti -fno-threadsafe-statics -Wall -Wextra -Werror
          -I${SOURCE_DIR}/include -I${GENERATED_INCLUDE_DIR} -I${SOURCE_DIR}/src)
run("core compile" ${CXX} ${flags} -c ${core_sources})
file(GLOB objects "${WORK_DIR}/*.o")
run("archive" ${CMAKE_AR} rcs libuheap32.a ${objects})
run("C API test link" ${CC} -m32 -std=c99 -I${SOURCE_DIR}/include -I${GENERATED_INCLUDE_DIR}
    ${SOURCE_DIR}/tests/c_api/c_api_test.c libuheap32.a -o c_api_test32)
run("C API test" ./c_api_test32)
run("quickstart link" ${CXX} -m32 -O2 -std=c++17 -I${SOURCE_DIR}/include ${SOURCE_DIR}/examples/quickstart.cpp
    libuheap32.a -o quickstart32)
run("quickstart" ./quickstart32)
message(STATUS "32-bit core, C API test and quickstart: ok")
