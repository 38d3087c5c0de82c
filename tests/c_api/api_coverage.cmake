# SPDX-License-Identifier: MIT
# cmake -P script: the C API is the whole API, and the C test calls all of it.
#
# 1. Every public member function of uheap::Heap (heap.hpp) has a C function uheap_<name> in
#    uheap.h, and a name the C++ side overloads has as many C functions (uheap_<name>_...).
# 2. Every free function in namespace uheap of heap.hpp, mem_info.hpp, events.hpp and config.hpp
#    has a C function uheap_<name>.
# 3. Every struct, enum and callback type of those headers has its C type (HeapSpan ->
#    uheap_span_t, FinaliserFn -> uheap_finaliser_fn, ...), and every enumerator its C constant.
# 4. Every function uheap.h declares is defined in src/c_api.cpp (or inline in uheap.h) and
#    called in the C test.
# Field layouts are not checked here: src/c_api.cpp static_asserts them field by field.
# Inputs: INCLUDE_DIR (the public headers), C_API_SOURCE (src/c_api.cpp), C_TEST (c_api_test.c).

foreach(var INCLUDE_DIR C_API_SOURCE C_TEST)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "api_coverage.cmake: ${var} is not set")
  endif()
endforeach()

# C++ names whose C counterpart is not the mechanical one.
set(type_exceptions
  "Heap=uheap_t"
  "HeapConfig=uheap_config_t"
  "HeapSpan=uheap_span_t"
  "AllocFlag=UHEAP_FINALISER"
  "Feature=UHEAP_FEATURE_BIT_INTERIOR_POINTERS")
# Prefix of the C constants for the enumerators of each C++ enumeration.
set(enumerator_prefixes
  "Status=UHEAP_"
  "AllocFlag=UHEAP_"
  "FreeReason=UHEAP_FREE_"
  "PauseKind=UHEAP_PAUSE_"
  "Invariant=UHEAP_INVARIANT_"
  "Feature=UHEAP_FEATURE_BIT_")

set(problems "")
macro(problem text)
  string(APPEND problems "  ${text}\n")
endmacro()

# A file as a CMake list of lines. Semicolons and square brackets would split or join list
# items, so they are replaced first (nothing below looks for them).
function(read_lines file out)
  file(READ "${file}" text)
  string(REPLACE ";" "<semicolon>" text "${text}")
  string(REPLACE "[" "<lbracket>" text "${text}")
  string(REPLACE "]" "<rbracket>" text "${text}")
  string(REPLACE "\n" ";" text "${text}")
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

# CamelCase -> camel_case; with UPPER, CAMEL_CASE.
function(snake name out)
  string(REGEX REPLACE "([a-z0-9])([A-Z])" "\\1_\\2" s "${name}")
  string(TOLOWER "${s}" s)
  set(${out} "${s}" PARENT_SCOPE)
endfunction()

function(lookup pairs key out)
  set(${out} "" PARENT_SCOPE)
  foreach(pair ${pairs})
    if(pair MATCHES "^${key}=(.*)$")
      set(${out} "${CMAKE_MATCH_1}" PARENT_SCOPE)
    endif()
  endforeach()
endfunction()

file(READ "${INCLUDE_DIR}/uheap/uheap.h" c_header)
# The feature macros and bits, shared by C and C++, live in features.h, which uheap.h includes.
file(READ "${INCLUDE_DIR}/uheap/features.h" c_features)
string(APPEND c_header "\n${c_features}")
file(READ "${C_API_SOURCE}" c_source)
file(READ "${C_TEST}" c_test)
string(REGEX REPLACE "/\\*([^*]|\\*+[^*/])*\\*+/" "" c_test "${c_test}")  # a name in a comment is no call
set(cxx_headers heap.hpp mem_info.hpp events.hpp config.hpp)

# Whether uheap.h declares (or defines inline) the C function `name`.
function(c_has_function name out)
  if(c_header MATCHES "[ *]${name}\\(")
    set(${out} TRUE PARENT_SCOPE)
  else()
    set(${out} FALSE PARENT_SCOPE)
  endif()
endfunction()

# ---- 1. members of uheap::Heap ----------------------------------------------------------------
read_lines("${INCLUDE_DIR}/uheap/heap.hpp" lines)
set(in_public FALSE)
set(members "")
set(n_members 0)
foreach(line IN LISTS lines)
  if(line MATCHES "^class UHEAP_API Heap \\{")
    set(in_public TRUE)
  elseif(in_public AND line MATCHES "^(protected|private):")
    set(in_public FALSE)
  elseif(in_public AND line MATCHES "^    (static |const |inline |constexpr )*[A-Za-z_:<>0-9]+[*&]? ([a-z_0-9]+)\\(")
    list(APPEND members "${CMAKE_MATCH_2}")
    math(EXPR n_members "${n_members} + 1")
  endif()
endforeach()
if(n_members LESS 40)
  problem("found only ${n_members} members of uheap::Heap in heap.hpp: has its layout changed? (update this script)")
endif()
set(unique_members ${members})
list(REMOVE_DUPLICATES unique_members)
foreach(member ${unique_members})
  c_has_function("uheap_${member}" found)
  if(NOT found)
    problem("uheap::Heap::${member}() has no C function uheap_${member}() in uheap.h")
    continue()
  endif()
  # Overloads: as many C functions uheap_<name> / uheap_<name>_<variant>.
  set(copies ${members})
  list(FILTER copies INCLUDE REGEX "^${member}$")
  list(LENGTH copies n_overloads)
  string(REGEX MATCHALL "[ *]uheap_${member}(_[a-z_0-9]+)?\\(" c_forms "${c_header}")
  list(REMOVE_DUPLICATES c_forms)
  list(LENGTH c_forms n_c_forms)
  if(n_c_forms LESS n_overloads)
    problem("uheap::Heap::${member}() has ${n_overloads} overloads but uheap.h only ${n_c_forms} C functions uheap_${member}*()")
  endif()
endforeach()

# ---- 2. and 3. free functions, types, enumerators ---------------------------------------------
foreach(header ${cxx_headers})
  read_lines("${INCLUDE_DIR}/uheap/${header}" lines)
  set(enum "")
  foreach(line IN LISTS lines)
    if(enum)
      if(line MATCHES "^\\}")
        set(enum "")
      elseif(line MATCHES "^    ([A-Za-z_][A-Za-z_0-9]*)( *=[^,/]*)?,?( *///.*)?$")
        set(cxx_enumerator "${CMAKE_MATCH_1}")
        set(enumerator "${cxx_enumerator}")
        if(enum STREQUAL "AllocFlag")
          string(REGEX REPLACE "^k" "" enumerator "${enumerator}")
          snake("${enumerator}" enumerator)
        elseif(enum STREQUAL "Feature")  # kFeatureCounters64 = UHEAP_FEATURE_BIT_COUNTERS_64
          string(REGEX REPLACE "^kFeature" "" enumerator "${enumerator}")
          snake("${enumerator}" enumerator)
          string(REGEX REPLACE "([a-z])([0-9])" "\\1_\\2" enumerator "${enumerator}")
        endif()
        string(TOUPPER "${enumerator}" enumerator)
        lookup("${enumerator_prefixes}" "${enum}" prefix)
        if(prefix STREQUAL "")
          problem("${header}: enumeration ${enum} has no C prefix in this script's enumerator_prefixes")
        elseif(NOT c_header MATCHES "[^A-Z_0-9]${prefix}${enumerator}[^A-Z_0-9]")
          problem("${header}: ${enum}::${cxx_enumerator} has no C constant ${prefix}${enumerator} in uheap.h")
        endif()
      endif()
      continue()
    endif()
    set(c_name "")
    if(line MATCHES "^(UHEAP_API |inline |constexpr |const )*[A-Za-z_:<>0-9]+[*&]? ([a-z_0-9]+)\\(")
      set(function "${CMAKE_MATCH_2}")
      c_has_function("uheap_${function}" found)
      if(NOT found)
        problem("${header}: uheap::${function}() has no C function uheap_${function}() in uheap.h")
      endif()
    elseif(line MATCHES "^(struct|class UHEAP_API|enum class|enum) ([A-Z][A-Za-z0-9]*)[ :{]")
      set(type "${CMAKE_MATCH_2}")
      if(CMAKE_MATCH_1 MATCHES "enum")
        set(enum "${type}")
      endif()
      lookup("${type_exceptions}" "${type}" c_name)
      if(c_name STREQUAL "")
        snake("${type}" s)
        set(c_name "uheap_${s}_t")
      endif()
    elseif(line MATCHES "^using ([A-Z][A-Za-z0-9]*Fn) =")
      set(type "${CMAKE_MATCH_1}")
      snake("${type}" s)
      set(c_name "uheap_${s}")
    endif()
    if(NOT c_name STREQUAL "" AND NOT c_header MATCHES "[^A-Za-z_0-9]${c_name}[^A-Za-z_0-9]")
      problem("${header}: uheap::${type} has no C counterpart ${c_name} in uheap.h")
    endif()
  endforeach()
endforeach()

# ---- 4. every C function is defined and tested ------------------------------------------------
string(REGEX MATCHALL "(UHEAP_API|static inline) [a-z_0-9 ]+[ *](uheap_[a-z_0-9]+)\\(" declarations "${c_header}")
set(n_functions 0)
foreach(declaration ${declarations})
  string(REGEX MATCH "uheap_[a-z_0-9]+\\($" function "${declaration}")
  string(REGEX REPLACE "\\($" "" function "${function}")
  math(EXPR n_functions "${n_functions} + 1")
  if(declaration MATCHES "^UHEAP_API" AND NOT c_source MATCHES "[ *]${function}\\([^)]*\\) \\{")
    problem("${function}() is declared in uheap.h but not defined in src/c_api.cpp")
  endif()
  if(NOT c_test MATCHES "[^a-z_0-9]${function}\\(")
    problem("${function}() is never called by the C test (tests/c_api/c_api_test.c)")
  endif()
endforeach()
if(n_functions LESS 60)
  problem("found only ${n_functions} functions in uheap.h: has its layout changed? (update this script)")
endif()

if(NOT problems STREQUAL "")
  message(FATAL_ERROR "The C API does not cover the C++ API:\n${problems}")
endif()
list(LENGTH unique_members n_unique)
message(STATUS "C API coverage: ${n_unique} Heap members, ${n_functions} C functions, all tested from C")
