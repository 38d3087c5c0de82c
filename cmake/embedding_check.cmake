# SPDX-License-Identifier: MIT
# Keeps docs/embedding.md true (cmake -P): extracts every ```cpp and ```c block, compiles each as a
# program against the built library (C++17 with CXX, C99 with CC), runs it, and fails naming every
# block that does not compile without warnings or does not return 0.
# Inputs: SOURCE_DIR, WORK_DIR, CXX, CC, LIBRARY, CXX_FLAGS, LINKER_FLAGS, and optionally C_FLAGS
# (the C compiler's flags; CXX_FLAGS when not given).
#
# Only fences that start a line are blocks: a line "```cpp" or "```c" opens one, the next line
# starting with ``` closes it. Other fences (```text, ```sh, ...) are skipped whole.
cmake_minimum_required(VERSION 3.20)  # script mode: today's policies (while(TRUE), if())
foreach(var SOURCE_DIR WORK_DIR CXX CC LIBRARY)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "embedding_check.cmake: ${var} is not set")
  endif()
endforeach()
if(NOT DEFINED C_FLAGS)
  set(C_FLAGS "${CXX_FLAGS}")
endif()
get_filename_component(LIBRARY "${LIBRARY}" ABSOLUTE)

set(doc "${SOURCE_DIR}/docs/embedding.md")
file(READ "${doc}" text)
set(text "\n${text}")  # every fence is then preceded by a newline

separate_arguments(cxx_flags UNIX_COMMAND "${CXX_FLAGS} ${LINKER_FLAGS}")
separate_arguments(c_compile_flags UNIX_COMMAND "${C_FLAGS}")
separate_arguments(c_link_flags UNIX_COMMAND "${C_FLAGS} ${LINKER_FLAGS}")
# A shared library is found at run time through the program's rpath.
set(rpath "")
if(LIBRARY MATCHES "\\.so(\\.|$)")
  get_filename_component(library_dir "${LIBRARY}" DIRECTORY)
  set(rpath "-Wl,-rpath,${library_dir}")
endif()
# The core needs no C++ runtime, so C samples link with the C driver (as tests/c_api does); only a
# library instrumented by a sanitizer needs the C++ driver's sanitizer runtime.
set(c_linker ${CC})
if(CXX_FLAGS MATCHES "-fsanitize")
  set(c_linker ${CXX})
endif()

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

set(index 0)
set(failures "")
set(rest "${text}")
set(consumed 0)  # characters of text before rest
while(TRUE)
  string(FIND "${rest}" "\n```" open)
  if(open EQUAL -1)
    break()
  endif()
  # The fence's info string: the rest of its line.
  math(EXPR info_begin "${open} + 4")
  string(SUBSTRING "${rest}" ${info_begin} -1 after_fence)
  string(FIND "${after_fence}" "\n" eol)
  if(eol EQUAL -1)
    message(FATAL_ERROR "${doc}: a fence on the last line opens nothing")
  endif()
  string(SUBSTRING "${after_fence}" 0 ${eol} info)
  string(STRIP "${info}" info)
  math(EXPR body_begin "${eol} + 1")
  string(SUBSTRING "${after_fence}" ${body_begin} -1 body_and_rest)
  # The closing fence: the next line that starts with ```.
  string(FIND "\n${body_and_rest}" "\n```" close)
  if(close EQUAL -1)
    message(FATAL_ERROR "${doc}: a ```${info} block is never closed")
  endif()
  if(close GREATER 0)
    math(EXPR body_length "${close} - 1")
    string(SUBSTRING "${body_and_rest}" 0 ${body_length} body)
  else()
    set(body "")
  endif()
  string(APPEND body "\n")  # the closing fence's newline: a source file ends with one
  # Line number of the opening fence in the document (the leading newline added above makes the
  # count of newlines before the fence equal to its line number).
  math(EXPR fence_at "${consumed} + ${open} + 1")
  string(SUBSTRING "${text}" 0 ${fence_at} before)
  string(REGEX MATCHALL "\n" newlines "${before}")
  list(LENGTH newlines line)
  # Skip past the closing fence's line.
  string(SUBSTRING "${body_and_rest}" ${close} -1 from_close)
  string(FIND "${from_close}" "\n" close_eol)
  if(close_eol EQUAL -1)
    set(rest "")
  else()
    string(SUBSTRING "${from_close}" ${close_eol} -1 rest)
  endif()
  string(LENGTH "${text}" text_length)
  string(LENGTH "${rest}" rest_length)
  math(EXPR consumed "${text_length} - ${rest_length}")

  if(NOT info STREQUAL "cpp" AND NOT info STREQUAL "c")
    continue()
  endif()
  math(EXPR index "${index} + 1")
  string(REGEX MATCH "[^\n]*[^ \n][^\n]*" first_line "${body}")
  set(name "block ${index} (```${info}, docs/embedding.md line ${line}, \"${first_line}\")")
  if(index LESS 10)
    set(stem "sample_0${index}")
  else()
    set(stem "sample_${index}")
  endif()

  if(info STREQUAL "cpp")
    file(WRITE "${WORK_DIR}/${stem}.cpp" "${body}")
    execute_process(
      COMMAND ${CXX} -std=c++17 -Wall -Wextra ${cxx_flags} -I${SOURCE_DIR}/include ${stem}.cpp ${LIBRARY}
              ${rpath} -pthread -o ${stem}
      WORKING_DIRECTORY "${WORK_DIR}" RESULT_VARIABLE built OUTPUT_VARIABLE out ERROR_VARIABLE out)
  else()
    file(WRITE "${WORK_DIR}/${stem}.c" "${body}")
    execute_process(
      COMMAND ${CC} -std=c99 -Wall -Wextra -pedantic ${c_compile_flags} -I${SOURCE_DIR}/include -c ${stem}.c
              -o ${stem}.o
      WORKING_DIRECTORY "${WORK_DIR}" RESULT_VARIABLE built OUTPUT_VARIABLE out ERROR_VARIABLE out)
    if(built EQUAL 0)
      execute_process(
        COMMAND ${c_linker} ${c_link_flags} ${stem}.o ${LIBRARY} ${rpath} -o ${stem}
        WORKING_DIRECTORY "${WORK_DIR}" RESULT_VARIABLE built OUTPUT_VARIABLE link_out ERROR_VARIABLE link_out)
      string(APPEND out "${link_out}")
    endif()
  endif()
  if(NOT built EQUAL 0)
    string(APPEND failures "\n${name} does not compile (${WORK_DIR}/${stem}.${info}):\n${out}")
    continue()
  endif()
  if(out MATCHES "warning")
    string(APPEND failures "\n${name} compiles with warnings (${WORK_DIR}/${stem}.${info}):\n${out}")
    continue()
  endif()
  execute_process(COMMAND ./${stem} WORKING_DIRECTORY "${WORK_DIR}" TIMEOUT 120
                  RESULT_VARIABLE ran OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT ran EQUAL 0)
    string(APPEND failures "\n${name} exits with ${ran} (${WORK_DIR}/${stem}):\n${out}")
    continue()
  endif()
  message(STATUS "${name}: ok")
endwhile()

if(index EQUAL 0)
  message(FATAL_ERROR "${doc}: no ```cpp or ```c block found")
endif()
if(failures)
  message(FATAL_ERROR "docs/embedding.md: samples that fail:${failures}")
endif()
message(STATUS "docs/embedding.md: all ${index} samples compile and run")
