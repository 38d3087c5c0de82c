# SPDX-License-Identifier: MIT
# The API reference (docs/api.md): Doxygen over the public headers, configured by docs/Doxyfile.
#
#   uheap_docs      custom target (not part of `all`): writes ${PROJECT_BINARY_DIR}/docs/api/html/
#   docs.doxygen    ctest test: runs the same Doxygen, fails on any warning (an undocumented
#                   public declaration included)
#
# Include it from the top-level CMakeLists.txt; for the test, after enable_testing(). Without
# Doxygen 1.9.1 or newer (WARN_AS_ERROR = FAIL_ON_WARNINGS) it adds neither and says why.

find_package(Doxygen QUIET)
if(NOT DOXYGEN_FOUND)
  message(STATUS "uheap: Doxygen not found: no uheap_docs target, no docs.doxygen test")
  return()
endif()
if(DOXYGEN_VERSION VERSION_LESS 1.9.1)
  message(STATUS "uheap: Doxygen ${DOXYGEN_VERSION} is older than 1.9.1: no uheap_docs target, no docs.doxygen test")
  return()
endif()

# The module sits in <source>/cmake: the paths in docs/Doxyfile are relative to <source>.
get_filename_component(_uheap_docs_source "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
set(UHEAP_DOCS_OUTPUT_DIR "${PROJECT_BINARY_DIR}/docs/api")
# docs/Doxyfile with the output directory of this build (a later setting overrides an earlier one).
set(_uheap_doxyfile "${PROJECT_BINARY_DIR}/docs/Doxyfile")
set(_uheap_doxyfile_text "@INCLUDE = \"${_uheap_docs_source}/docs/Doxyfile\"\nOUTPUT_DIRECTORY = \"${UHEAP_DOCS_OUTPUT_DIR}\"\n")
set(_uheap_doxyfile_old "")
if(EXISTS "${_uheap_doxyfile}")
  file(READ "${_uheap_doxyfile}" _uheap_doxyfile_old)
endif()
if(NOT _uheap_doxyfile_old STREQUAL _uheap_doxyfile_text)
  file(WRITE "${_uheap_doxyfile}" "${_uheap_doxyfile_text}")
endif()
# Doxygen creates its output directory but not the parent: <build>/docs exists from here on.
file(MAKE_DIRECTORY "${UHEAP_DOCS_OUTPUT_DIR}")

add_custom_target(uheap_docs
  COMMAND "${CMAKE_COMMAND}" -E make_directory "${UHEAP_DOCS_OUTPUT_DIR}"
  COMMAND "${DOXYGEN_EXECUTABLE}" "${_uheap_doxyfile}"
  WORKING_DIRECTORY "${_uheap_docs_source}"
  COMMENT "uheap: API reference in ${UHEAP_DOCS_OUTPUT_DIR}/html/index.html"
  VERBATIM)

# Doxygen exits non-zero on a warning (FAIL_ON_WARNINGS); the regular expression also fails the
# test on a warning that does not reach the exit status (e.g. about the configuration itself).
add_test(NAME docs.doxygen
  COMMAND "${DOXYGEN_EXECUTABLE}" "${_uheap_doxyfile}"
  WORKING_DIRECTORY "${_uheap_docs_source}")
set_tests_properties(docs.doxygen PROPERTIES
  FAIL_REGULAR_EXPRESSION "(warning|error):"
  LABELS docs)

unset(_uheap_docs_source)
unset(_uheap_doxyfile)
unset(_uheap_doxyfile_text)
unset(_uheap_doxyfile_old)
