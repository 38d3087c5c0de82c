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
# The host's build made one library, uheap's core, and no profiler, tool or example program.
if(MODE STREQUAL "add_subdirectory")
  file(GLOB_RECURSE files LIST_DIRECTORIES false RELATIVE "${WORK_DIR}/build" "${WORK_DIR}/build/*")
  set(archives "")
  foreach(file IN LISTS files)
    get_filename_component(name "${file}" NAME)
    if(name MATCHES "\\.a$")
      list(APPEND archives "${file}")
    elseif(name MATCHES "^(uheap-report|uheap_profile_demo|uheap_profiler_overhead|uheap_quickstart|uheap-scheme)$")
      message(FATAL_ERROR "the host's build made ${file}; a host should get only libuheap.a")
    endif()
  endforeach()
  if(NOT archives STREQUAL "uheap-build/libuheap.a")
    message(FATAL_ERROR "the host's build made the archives [${archives}]; expected only uheap-build/libuheap.a")
  endif()
  # The build type is the host's choice: uheap leaves it alone as a subproject.
  file(STRINGS "${WORK_DIR}/build/CMakeCache.txt" build_type REGEX "^CMAKE_BUILD_TYPE:")
  if(NOT build_type MATCHES "^CMAKE_BUILD_TYPE:[A-Z]+=$")
    message(FATAL_ERROR "the host's build type was set by uheap: ${build_type}")
  endif()
endif()
message(STATUS "consumer via ${MODE}: ok")
