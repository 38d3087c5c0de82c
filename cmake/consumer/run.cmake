# SPDX-License-Identifier: MIT
# Packaging test driver (cmake -P): builds a host against uheap in MODE and runs it.
#   find_package      installs UHEAP_BINARY_DIR into a prefix; cmake/consumer finds it there and
#                     links uheap::uheap (and uheap::profiler when PROFILER)
#   add_subdirectory  cmake/consumer builds uheap from UHEAP_SOURCE_DIR: the core and nothing else
#   pkg_config        installs UHEAP_BINARY_DIR; main.c is built by a plain Makefile with the flags
#                     of uheap.pc alone, main.cpp (when PROFILER) with those of uheap-profiler.pc
#   shared            builds and installs uheap and its profiler with BUILD_SHARED_LIBS=ON; the
#                     hosts of find_package and pkg_config link the shared libraries
# Inputs: MODE, UHEAP_SOURCE_DIR, UHEAP_BINARY_DIR, WORK_DIR, PROFILER, GENERATOR, C_COMPILER,
# CXX_COMPILER, and the C_FLAGS / CXX_FLAGS / LINKER_FLAGS of the uheap build (a sanitizer build
# must link its hosts the same way).
file(REMOVE_RECURSE "${WORK_DIR}")
set(prefix "${WORK_DIR}/prefix")
set(consumer "${UHEAP_SOURCE_DIR}/cmake/consumer")
set(compilers -DCMAKE_C_COMPILER=${C_COMPILER} -DCMAKE_CXX_COMPILER=${CXX_COMPILER} "-DCMAKE_C_FLAGS=${C_FLAGS}"
    "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}" "-DCMAKE_EXE_LINKER_FLAGS=${LINKER_FLAGS}")

# Runs a command, fails with its output; `output` receives what it printed.
function(run step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(result)
    message("${out}")  # verbatim (FATAL_ERROR text is re-wrapped)
    message(FATAL_ERROR "${step} (${MODE}) failed: ${result}")
  endif()
  set(output "${out}" PARENT_SCOPE)
endfunction()

if(MODE STREQUAL "pkg_config")
  find_program(PKG_CONFIG pkg-config)
  if(NOT PKG_CONFIG)
    message("pkg-config: skipped, no pkg-config program")
    return()
  endif()
endif()

# 1. uheap installed into the prefix: the tests' own build, or a shared build of the core and the
# profiler (nothing else, so it takes seconds).
set(installed "${UHEAP_BINARY_DIR}")
if(MODE STREQUAL "shared")
  set(installed "${WORK_DIR}/uheap-build")
  run("configuring the shared uheap" "${CMAKE_COMMAND}" -S "${UHEAP_SOURCE_DIR}" -B "${installed}" -G "${GENERATOR}"
      ${compilers} -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON -DUHEAP_INSTALL=ON -DUHEAP_BUILD_PROFILER=ON
      -DUHEAP_BUILD_TOOLS=OFF -DUHEAP_BUILD_TESTS=OFF -DUHEAP_BUILD_BENCHMARKS=OFF -DUHEAP_BUILD_EXAMPLES=OFF)
  cmake_host_system_information(RESULT jobs QUERY NUMBER_OF_LOGICAL_CORES)
  run("building the shared uheap" "${CMAKE_COMMAND}" --build "${installed}" --parallel ${jobs})
  set(PROFILER ON)
endif()
if(NOT MODE STREQUAL "add_subdirectory")
  run("installing uheap" "${CMAKE_COMMAND}" --install "${installed}" --prefix "${prefix}")
endif()

# 2. The CMake host (cmake/consumer).
if(NOT MODE STREQUAL "pkg_config")
  set(build "${WORK_DIR}/build")
  if(MODE STREQUAL "add_subdirectory")
    set(source_or_prefix -DUHEAP_SOURCE_DIR=${UHEAP_SOURCE_DIR})
  else()
    set(source_or_prefix -DCMAKE_PREFIX_PATH=${prefix} -DWITH_PROFILER=${PROFILER})
  endif()
  run("consumer configure" "${CMAKE_COMMAND}" -S "${consumer}" -B "${build}" ${compilers} ${source_or_prefix})
  run("consumer build" "${CMAKE_COMMAND}" --build "${build}")
  run("consumer run" "${build}/consumer")
endif()

# The host's build made one library, uheap's core, and no profiler, tool or example program.
if(MODE STREQUAL "add_subdirectory")
  file(GLOB_RECURSE files LIST_DIRECTORIES false RELATIVE "${build}" "${build}/*")
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
  file(STRINGS "${build}/CMakeCache.txt" build_type REGEX "^CMAKE_BUILD_TYPE:")
  if(NOT build_type MATCHES "^CMAKE_BUILD_TYPE:[A-Z]+=$")
    message(FATAL_ERROR "the host's build type was set by uheap: ${build_type}")
  endif()
endif()

# The host links the shared libraries; the core's needs no C++ runtime (unless a sanitizer
# instrumented it).
if(MODE STREQUAL "shared")
  foreach(library uheap uheap_profiler)
    file(GLOB found_${library} "${prefix}/lib*/lib${library}.so")
    if(NOT found_${library})
      message(FATAL_ERROR "the shared install has no lib${library}.so")
    endif()
  endforeach()
  find_program(READELF readelf)
  if(READELF)
    run("reading the host" ${READELF} -d "${build}/consumer")
    if(NOT output MATCHES "libuheap\\.so" OR NOT output MATCHES "libuheap_profiler\\.so")
      message(FATAL_ERROR "the host does not link the shared libraries:\n${output}")
    endif()
    run("reading libuheap.so" ${READELF} -d "${found_uheap}")
    if(output MATCHES "libstdc\\+\\+|libc\\+\\+" AND NOT CXX_FLAGS MATCHES "-fsanitize")
      message(FATAL_ERROR "libuheap.so depends on a C++ runtime:\n${output}")
    endif()
  endif()
endif()

# 3. pkg-config hosts: the C program with uheap.pc, the C++ one with uheap-profiler.pc.
if(MODE MATCHES "^(pkg_config|shared)$")
  find_program(PKG_CONFIG pkg-config)
endif()
if(PKG_CONFIG)
  file(GLOB_RECURSE pc_files "${prefix}/uheap.pc")
  if(NOT pc_files)
    message(FATAL_ERROR "the install has no uheap.pc")
  endif()
  get_filename_component(pc_dir "${pc_files}" DIRECTORY)
  set(ENV{PKG_CONFIG_PATH} "${pc_dir}")
  run("pkg-config libdir" ${PKG_CONFIG} --variable=libdir uheap)
  string(STRIP "${output}" libdir)
  # The C driver links, unless a sanitizer build instrumented the library (as in tests/c_api).
  separate_arguments(linker_flags UNIX_COMMAND "${LINKER_FLAGS}")
  set(c_linker ${C_COMPILER})
  if(CXX_FLAGS MATCHES "-fsanitize")
    set(c_linker ${CXX_COMPILER})
  endif()
  set(rpath -Wl,-rpath,${libdir})  # for the shared libraries
  # The C host is a plain Makefile (cmake/consumer/Makefile) that asks pkg-config itself.
  find_program(MAKE_PROGRAM NAMES make gmake REQUIRED)
  run("C host make" ${MAKE_PROGRAM} --no-print-directory -f "${consumer}/Makefile" -C "${WORK_DIR}"
      "CONSUMER_DIR=${consumer}" "CC=${C_COMPILER}" "LINK=${c_linker}" "PKG_CONFIG=${PKG_CONFIG}"
      "CFLAGS=${C_FLAGS}" "LDFLAGS=${LINKER_FLAGS} -Wl,-rpath,${libdir}")
  run("C host run" "${WORK_DIR}/consumer_c")
  if(PROFILER)
    run("pkg-config uheap-profiler" ${PKG_CONFIG} --cflags --libs uheap-profiler)
    separate_arguments(profiler_flags UNIX_COMMAND "${output}")
    separate_arguments(cxx_flags UNIX_COMMAND "${CXX_FLAGS}")
    run("C++ host build" ${CXX_COMPILER} -std=c++17 -Wall -Wextra -Werror ${cxx_flags} ${linker_flags}
        -DCONSUMER_WITH_PROFILER "${consumer}/main.cpp" ${profiler_flags} ${rpath} -o "${WORK_DIR}/consumer_cxx")
    run("C++ host run" "${WORK_DIR}/consumer_cxx")
  endif()
endif()
message(STATUS "consumer via ${MODE}: ok")
