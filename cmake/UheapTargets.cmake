# SPDX-License-Identifier: MIT
# How uheap's targets are made: the core library (optionally at another block size) and warnings.

set(UHEAP_CORE_SOURCES
  src/allocator.cpp
  src/areas.cpp
  src/block_table.cpp
  src/c_api.cpp
  src/collector.cpp
  src/free_space.cpp
  src/heap.cpp
  src/mark.cpp
  src/mem_info.cpp
  src/policy.cpp
  src/platform.cpp
  src/stack_scan.cpp
  src/verify.cpp)
list(TRANSFORM UHEAP_CORE_SOURCES PREPEND "${CMAKE_CURRENT_LIST_DIR}/../")

# Warnings for uheap's own targets only; global flags are never touched.
function(uheap_set_warnings target)
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wshadow -Wnon-virtual-dtor)
    if(UHEAP_WERROR)
      target_compile_options(${target} PRIVATE -Werror)
    endif()
  endif()
endfunction()

# The core: no exceptions, no RTTI, no thread-safe statics, so the static library links into a
# plain C program without libstdc++. `block_bytes` empty = the default (four machine words).
function(uheap_add_library name block_bytes)
  add_library(${name} STATIC ${UHEAP_CORE_SOURCES})
  target_compile_features(${name} PUBLIC cxx_std_17)
  set_target_properties(${name} PROPERTIES CXX_EXTENSIONS OFF POSITION_INDEPENDENT_CODE ON)
  target_include_directories(${name}
    PUBLIC $<BUILD_INTERFACE:${CMAKE_CURRENT_FUNCTION_LIST_DIR}/../include> $<INSTALL_INTERFACE:include>
    PRIVATE ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/../src)
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${name} PRIVATE -fno-exceptions -fno-rtti -fno-threadsafe-statics)
  endif()
  if(NOT block_bytes STREQUAL "")
    target_compile_definitions(${name} PUBLIC UHEAP_BLOCK_BYTES=${block_bytes})
  endif()
  uheap_set_warnings(${name})
endfunction()
