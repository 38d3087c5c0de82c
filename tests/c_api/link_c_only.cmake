# SPDX-License-Identifier: MIT
# cmake -P script: compile and link the C API test with the C compiler driver alone.
# Inputs: CC, NM (may be empty), SOURCE, INCLUDE_DIR, GENERATED_INCLUDE_DIR (uheap/version.h),
# LIBRARY (static or shared), OUTPUT.

foreach(var CC CXX SOURCE INCLUDE_DIR GENERATED_INCLUDE_DIR LIBRARY OUTPUT)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "link_c_only.cmake: ${var} is not set")
  endif()
endforeach()

# 1. The core must not reference the C++ runtime (exceptions, RTTI, new/delete, guards).
# A sanitizer build instruments the library itself: clang's -fsanitize=function makes it refer to
# C++ ABI type information. There the "no C++ runtime" property is left to the regular build,
# whose test checks it; this build still compiles the C host and runs it under the sanitizers.
set(sanitized OFF)
if(CXX_FLAGS MATCHES "-fsanitize")
  set(sanitized ON)
endif()

if(NM AND NOT sanitized)
  execute_process(COMMAND ${NM} -u ${LIBRARY} OUTPUT_VARIABLE undefined RESULT_VARIABLE nm_result)
  if(NOT nm_result EQUAL 0)
    message(FATAL_ERROR "${NM} -u ${LIBRARY} failed")
  endif()
  string(REGEX MATCHALL "(__cxa_[A-Za-z_]+|__gxx_personality[A-Za-z0-9_]*|_Znw[a-zA-Z]*|_Zna[a-zA-Z]*|_Zdl[a-zA-Z]*|_Zda[a-zA-Z]*|_ZTV[A-Za-z0-9_]*|_ZTI[A-Za-z0-9_]*|_ZSt[A-Za-z0-9_]*|_Unwind_[A-Za-z_]+)" cxx_symbols "${undefined}")
  # Every shared object's start-up code calls the C library's __cxa_finalize.
  list(REMOVE_ITEM cxx_symbols __cxa_finalize)
  if(cxx_symbols)
    list(REMOVE_DUPLICATES cxx_symbols)
    message(FATAL_ERROR "${LIBRARY} needs C++ runtime symbols: ${cxx_symbols}")
  endif()
endif()

# 2. Compile as C99 and link with the C driver: no -lstdc++ anywhere on the line.
# The build's own C flags (a sanitizer build instruments libuheap.a, so its C host must link
# the sanitizer runtime the same way).
separate_arguments(extra_flags UNIX_COMMAND "${C_FLAGS}")
execute_process(
  COMMAND ${CC} -std=c99 -Wall -Wextra -pedantic ${extra_flags} -I${INCLUDE_DIR} -I${GENERATED_INCLUDE_DIR}
          -c ${SOURCE} -o ${OUTPUT}.o
  RESULT_VARIABLE cc_result OUTPUT_VARIABLE cc_out ERROR_VARIABLE cc_err)
if(NOT cc_result EQUAL 0)
  message(FATAL_ERROR "compiling the C test failed:\n${cc_out}${cc_err}")
endif()
# The C driver links; only an instrumented library needs the C++ driver's sanitizer runtime.
set(linker ${CC})
if(sanitized)
  set(linker ${CXX})
endif()
# A shared library is found at run time through the program's rpath.
set(rpath "")
if(LIBRARY MATCHES "\\.so(\\.|$)")
  get_filename_component(library_dir "${LIBRARY}" DIRECTORY)
  set(rpath "-Wl,-rpath,${library_dir}")
endif()
execute_process(
  COMMAND ${linker} ${extra_flags} ${OUTPUT}.o ${LIBRARY} ${rpath} -o ${OUTPUT}
  RESULT_VARIABLE link_result OUTPUT_VARIABLE link_out ERROR_VARIABLE link_err)
if(NOT link_result EQUAL 0)
  message(FATAL_ERROR "C-only link failed:\n${link_out}${link_err}")
endif()
if(cc_err MATCHES "warning")
  message(FATAL_ERROR "C compiler warnings:\n${cc_err}")
endif()

# 3. The program, and a shared library, must not depend on libstdc++ at run time either.
find_program(READELF readelf)
if(READELF AND NOT sanitized)
  foreach(file ${OUTPUT} ${LIBRARY})
    execute_process(COMMAND ${READELF} -d ${file} OUTPUT_VARIABLE dynamic)
    if(dynamic MATCHES "libstdc\\+\\+|libc\\+\\+")
      message(FATAL_ERROR "${file} depends on a C++ runtime:\n${dynamic}")
    endif()
  endforeach()
endif()
message(STATUS "built ${OUTPUT} with ${CC}, no C++ runtime")
