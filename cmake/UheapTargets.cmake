# SPDX-License-Identifier: MIT
# How uheap's targets are made: the core library (optionally at another block size), warnings,
# and what a shared library exports.

set(UHEAP_CORE_SOURCES
  src/allocator.cpp
  src/areas.cpp
  src/block_table.cpp
  src/c_api.cpp
  src/collector.cpp
  src/free_space.cpp
  src/heap.cpp
  src/incremental.cpp
  src/mark.cpp
  src/mem_info.cpp
  src/policy.cpp
  src/platform.cpp
  src/poison.cpp
  src/stack_scan.cpp
  src/sweep.cpp
  src/thread_cache.cpp
  src/threads.cpp
  src/verify.cpp)
list(TRANSFORM UHEAP_CORE_SOURCES PREPEND "${CMAKE_CURRENT_LIST_DIR}/../")

# uheap/version.h, from project(uheap VERSION): generated into the build tree, installed beside
# the other headers.
set(UHEAP_GENERATED_INCLUDE_DIR "${PROJECT_BINARY_DIR}/include")
configure_file("${CMAKE_CURRENT_LIST_DIR}/version.h.in" "${UHEAP_GENERATED_INCLUDE_DIR}/uheap/version.h" @ONLY)

# The build-time features (include/uheap/features.h): one option each, ON by default; UHEAP_MINIMAL
# makes them default to OFF (the minimal configuration). A library gets UHEAP_FEATURE_X=0 for each
# feature off, PUBLIC, so everything that links it compiles the headers with the same values.
set(UHEAP_FEATURES INTERIOR_POINTERS FINALISERS WEAK_REFERENCES GROWTH EVENT_HOOKS STACK_SCAN COUNTERS_64
    VERIFY_MESSAGES INCREMENTAL LAZY_SWEEP POISON FREE_INDEX THREADS)
option(UHEAP_MINIMAL "Default every UHEAP_FEATURE_* option to OFF: the smallest core" OFF)
if(UHEAP_MINIMAL)
  set(_uheap_feature_default OFF)
else()
  set(_uheap_feature_default ON)
endif()
set(UHEAP_FEATURES_OFF "")
foreach(feature IN LISTS UHEAP_FEATURES)
  option(UHEAP_FEATURE_${feature} "Build the ${feature} feature into the core (uheap/features.h)" ${_uheap_feature_default})
  if(NOT UHEAP_FEATURE_${feature})
    list(APPEND UHEAP_FEATURES_OFF ${feature})
  endif()
endforeach()

# Warnings for uheap's own targets only; global flags are never touched.
function(uheap_set_warnings target)
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wshadow -Wnon-virtual-dtor)
    if(UHEAP_WERROR)
      target_compile_options(${target} PRIVATE -Werror)
    endif()
  endif()
endfunction()

# A shared library exports only what the public headers mark (uheap/export.h): everything else is
# hidden. `<prefix>_SHARED` tells the headers, in the library and in everything that links it;
# `<prefix>_BUILDING` only the library's own sources. A static library is left as it was.
function(uheap_export_api target prefix)
  get_target_property(type ${target} TYPE)
  if(NOT type STREQUAL "SHARED_LIBRARY")
    return()
  endif()
  set_target_properties(${target} PROPERTIES CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON
                        VERSION ${uheap_VERSION} SOVERSION ${uheap_VERSION_MAJOR}.${uheap_VERSION_MINOR})
  target_compile_definitions(${target} PUBLIC ${prefix}_SHARED PRIVATE ${prefix}_BUILDING)
endfunction()

# The core: no exceptions, no RTTI, no thread-safe statics, so the static library links into a
# plain C program without libstdc++. `block_bytes` empty = the default (four machine words).
# Static or shared as BUILD_SHARED_LIBS says, unless a third argument (STATIC) says otherwise.
# Position-independent code is not forced: a shared library gets it (CMake's default for one), a
# static library only when the host asks (CMAKE_POSITION_INDEPENDENT_CODE, e.g. to link it into
# its own shared object), so a microcontroller build pays no GOT indirection. The features left
# out are UHEAP_FEATURES_OFF's (the options above), unless the caller sets
# UHEAP_LIBRARY_FEATURES_OFF (a test variant: "ALL" leaves every one out).
function(uheap_add_library name block_bytes)
  add_library(${name} ${ARGN} ${UHEAP_CORE_SOURCES})
  target_compile_features(${name} PUBLIC cxx_std_17)
  set_target_properties(${name} PROPERTIES CXX_EXTENSIONS OFF)
  target_include_directories(${name}
    PUBLIC $<BUILD_INTERFACE:${CMAKE_CURRENT_FUNCTION_LIST_DIR}/../include>
           $<BUILD_INTERFACE:${UHEAP_GENERATED_INCLUDE_DIR}> $<INSTALL_INTERFACE:include>
    PRIVATE ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/../src)
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${name} PRIVATE -fno-exceptions -fno-rtti -fno-threadsafe-statics)
    # Linked by the C driver, a shared library needs no C++ runtime either.
    get_target_property(type ${name} TYPE)
    if(type STREQUAL "SHARED_LIBRARY")
      set_target_properties(${name} PROPERTIES LINKER_LANGUAGE C)
    endif()
  endif()
  uheap_export_api(${name} UHEAP)
  if(NOT block_bytes STREQUAL "")
    target_compile_definitions(${name} PUBLIC UHEAP_BLOCK_BYTES=${block_bytes})
  endif()
  if(DEFINED UHEAP_LIBRARY_FEATURES_OFF)
    set(off ${UHEAP_LIBRARY_FEATURES_OFF})
    if(off STREQUAL "ALL")
      set(off ${UHEAP_FEATURES})
    endif()
  else()
    set(off ${UHEAP_FEATURES_OFF})
  endif()
  foreach(feature IN LISTS off)
    target_compile_definitions(${name} PUBLIC UHEAP_FEATURE_${feature}=0)
  endforeach()
  uheap_set_warnings(${name})
endfunction()
