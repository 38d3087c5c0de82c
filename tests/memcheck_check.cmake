# SPDX-License-Identifier: MIT
# Runs the forgotten-root test under Valgrind's memcheck (cmake -P) and expects memcheck to
# report the host's read of the freed object at the faulting function. Inputs: VALGRIND, PROGRAM.
execute_process(COMMAND ${VALGRIND} --error-exitcode=9 ${PROGRAM}
                        --gtest_filter=Safety.AForgottenRootReadsThePoisonNotTheValue
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
string(REGEX MATCH "Invalid read of size [0-9]+\n[^\n]*at [^\n]*use_after_forgotten_root" report "${err}")
if(NOT rc EQUAL 9 OR report STREQUAL "")
  message(FATAL_ERROR "memcheck did not report the use after free at use_after_forgotten_root "
                      "(exit ${rc}):\n${err}")
endif()
message(STATUS "memcheck: ${report}")
