# SPDX-License-Identifier: MIT
# Packaging test driver (cmake -P): builds cmake/consumer against uheap in MODE
# find_package (install UHEAP_BINARY_DIR into a prefix first) or add_subdirectory, then runs it.
# Inputs: MODE, UHEAP_SOURCE_DIR, UHEAP_BINARY_DIR, WORK_DIR, C_COMPILER, CXX_COMPILER, and the
# CXX_FLAGS / LINKER_FLAGS of the uheap build (a sanitizer build must link its consumer the same way).
file(REMOVE_RECURSE "${WORK_DIR}")
set(consumer_args -S "${UHEAP_SOURCE_DIR}/cmake/consumer" -B "${WORK_DIR}/build"
    -DCMAKE_C_COMPILER=${C_COMPILER} -DCMAKE_CXX_COMPILER=${CXX_COMPILER}
    "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}" "-DCMAKE_EXE_LINKER_FLAGS=${LINKER_FLAGS}")
if(MODE STREQUAL "find_package")
  execute_process(COMMAND "${CMAKE_COMMAND}" --install "${UHEAP_BINARY_DIR}" --prefix "${WORK_DIR}/prefix"
                  RESULT_VARIABLE result OUTPUT_QUIET)
  if(result)
    message(FATAL_ERROR "installing uheap failed: ${result}")
  endif()
  list(APPEND consumer_args -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix)
else()
  list(APPEND consumer_args -DUHEAP_SOURCE_DIR=${UHEAP_SOURCE_DIR})
endif()
foreach(step configure build run)
  if(step STREQUAL "configure")
    set(command "${CMAKE_COMMAND}" ${consumer_args})
  elseif(step STREQUAL "build")
    set(command "${CMAKE_COMMAND}" --build "${WORK_DIR}/build")
  else()
    set(command "${WORK_DIR}/build/consumer")
  endif()
  execute_process(COMMAND ${command} RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(result)
    message(FATAL_ERROR "consumer ${step} (${MODE}) failed: ${result}\n${out}")
  endif()
endforeach()
message(STATUS "consumer via ${MODE}: ok")
