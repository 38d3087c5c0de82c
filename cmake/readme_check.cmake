# SPDX-License-Identifier: MIT
# Keeps the README's quick start true (cmake -P): extracts its C++ block, compiles it against the
# built library and runs it. Inputs: SOURCE_DIR, WORK_DIR, CXX, LIBRARY, CXX_FLAGS, LINKER_FLAGS.
file(READ "${SOURCE_DIR}/README.md" readme)
string(FIND "${readme}" "## Quick start" section)
string(SUBSTRING "${readme}" ${section} -1 rest)
string(FIND "${rest}" "```cpp\n" open)
math(EXPR code_begin "${open} + 7")
string(SUBSTRING "${rest}" ${code_begin} -1 rest)
string(FIND "${rest}" "```" close)
string(SUBSTRING "${rest}" 0 ${close} code)
file(MAKE_DIRECTORY "${WORK_DIR}")
file(WRITE "${WORK_DIR}/quick_start.cpp" "${code}")
separate_arguments(flags UNIX_COMMAND "${CXX_FLAGS} ${LINKER_FLAGS}")
# A shared library is found at run time through the program's rpath.
if(LIBRARY MATCHES "\\.so(\\.|$)")
  get_filename_component(library_dir "${LIBRARY}" DIRECTORY)
  list(APPEND flags "-Wl,-rpath,${library_dir}")
endif()
execute_process(COMMAND ${CXX} -std=c++17 ${flags} -I${SOURCE_DIR}/include quick_start.cpp ${LIBRARY} -o quick_start
                WORKING_DIRECTORY "${WORK_DIR}" RESULT_VARIABLE built OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT built EQUAL 0)
  message(FATAL_ERROR "the README's quick start does not compile:\n${out}")
endif()
execute_process(COMMAND ./quick_start WORKING_DIRECTORY "${WORK_DIR}" RESULT_VARIABLE ran OUTPUT_VARIABLE out)
if(NOT ran EQUAL 0 OR NOT out MATCHES "GC: total: ")
  message(FATAL_ERROR "the README's quick start failed (${ran}):\n${out}")
endif()
message(STATUS "README quick start: ok")
