# SPDX-License-Identifier: MIT
# 32-bit GoogleTest suites (cmake -P): configures a nested build of this source tree with -m32
# and GoogleTest compiled from its sources (UHEAP_GTEST_FROM_SOURCE), builds the core suites at
# both block sizes (uheap_tests, uheap_tests_b16) and runs them; fails if any test fails.
# The nested build is plain -m32: no sanitizers or other flags of the enclosing build.
# Prints "32-bit: skipped" (ctest reports the test as skipped) when the compiler cannot produce
# 32-bit C++ programs here or the GoogleTest sources are missing.
# Inputs: SOURCE_DIR, WORK_DIR, CC, CXX, GTEST_SOURCE, GENERATOR, WERROR.
file(MAKE_DIRECTORY "${WORK_DIR}")
# The suites need the 32-bit C++ runtime and threads, not only a 32-bit compiler.
file(WRITE "${WORK_DIR}/probe.cpp"
  "#include <string>\n#include <thread>\n"
  "int main() { std::string s(\"x\"); std::thread t([] {}); t.join(); return sizeof(void*) == 4 ? 0 : 1; }\n")
execute_process(COMMAND ${CXX} -m32 -std=c++17 -pthread probe.cpp -o probe WORKING_DIRECTORY "${WORK_DIR}"
                RESULT_VARIABLE probe_built OUTPUT_QUIET ERROR_QUIET)
if(probe_built EQUAL 0)
  execute_process(COMMAND ./probe WORKING_DIRECTORY "${WORK_DIR}" RESULT_VARIABLE probe_built
                  OUTPUT_QUIET ERROR_QUIET)
endif()
if(NOT probe_built EQUAL 0)
  message("32-bit: skipped, no 32-bit C++ toolchain (install g++-multilib)")
  return()
endif()
if(NOT EXISTS "${GTEST_SOURCE}/CMakeLists.txt")
  message("32-bit: skipped, no GoogleTest sources at ${GTEST_SOURCE} (install libgtest-dev)")
  return()
endif()

# The nested build is kept between runs (incremental); a different toolchain starts it afresh.
set(build "${WORK_DIR}/build")
set(stamp "CC=${CC}\nCXX=${CXX}\nGTEST_SOURCE=${GTEST_SOURCE}\nGENERATOR=${GENERATOR}\n")
set(old_stamp "")
if(EXISTS "${WORK_DIR}/toolchain.txt")
  file(READ "${WORK_DIR}/toolchain.txt" old_stamp)
endif()
if(NOT old_stamp STREQUAL stamp)
  file(REMOVE_RECURSE "${build}")
  file(WRITE "${WORK_DIR}/toolchain.txt" "${stamp}")
endif()

function(run step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT result EQUAL 0)
    message("${out}")  # verbatim (FATAL_ERROR text is re-wrapped)
    message(FATAL_ERROR "32-bit ${step} failed (${result})")
  endif()
endfunction()

# Only the core and its suites: no examples, benchmarks, profiler, tools or install rules.
run("configure" "${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${build}" -G "${GENERATOR}"
    -DCMAKE_C_COMPILER=${CC} -DCMAKE_CXX_COMPILER=${CXX}
    -DCMAKE_C_FLAGS=-m32 -DCMAKE_CXX_FLAGS=-m32 -DCMAKE_EXE_LINKER_FLAGS=-m32
    -DCMAKE_BUILD_TYPE=Debug -DUHEAP_WERROR=${WERROR}
    -DUHEAP_BUILD_TESTS=ON -DUHEAP_BUILD_EXAMPLES=OFF -DUHEAP_BUILD_BENCHMARKS=OFF
    -DUHEAP_BUILD_PROFILER=OFF -DUHEAP_BUILD_TOOLS=OFF -DUHEAP_INSTALL=OFF
    -DUHEAP_GTEST_FROM_SOURCE=${GTEST_SOURCE})
cmake_host_system_information(RESULT jobs QUERY NUMBER_OF_LOGICAL_CORES)
run("build" "${CMAKE_COMMAND}" --build "${build}" --parallel ${jobs} --target uheap_tests uheap_tests_b16)

# Both suites run even when the first fails; the failures of both are reported.
set(failed "")
foreach(suite uheap_tests uheap_tests_b16)
  execute_process(COMMAND "${build}/tests/${suite}" --gtest_brief=1 WORKING_DIRECTORY "${WORK_DIR}"
                  RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(result EQUAL 0)
    message(STATUS "32-bit ${suite}: ok")
    continue()
  endif()
  message("32-bit ${suite} failed (${result}):\n${out}")
  list(APPEND failed ${suite})
  if(NOT out MATCHES "\\[==========\\] [0-9]+ tests? from [0-9]+ test suites? ran")
    # The suite died (a crash prints no summary, and --gtest_brief hides which test was running):
    # run it again in full to name the test it died in.
    execute_process(COMMAND "${build}/tests/${suite}" WORKING_DIRECTORY "${WORK_DIR}"
                    OUTPUT_FILE "${WORK_DIR}/${suite}.log" ERROR_FILE "${WORK_DIR}/${suite}.log")
    file(STRINGS "${WORK_DIR}/${suite}.log" started REGEX "^\\[ RUN      \\] ")
    list(POP_BACK started last)
    message("32-bit ${suite} died in: ${last} (full output: ${WORK_DIR}/${suite}.log)")
  endif()
endforeach()
if(failed)
  message(FATAL_ERROR "32-bit suites failed: ${failed}")
endif()
message(STATUS "32-bit GoogleTest suites (default and 16-byte blocks): ok")
