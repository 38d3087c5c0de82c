# SPDX-License-Identifier: MIT
# Runs one sample program and compares its standard output with the expected file (ctest -P script).
# Variables: PROGRAM SCRIPT HEAP OPTIONS ARGS INPUT EXPECTED WORKDIR MASK_MEMINFO MASK_BLOCKMAP
# CHECK_FILE CHECK_EXPECTED. OPTIONS are interpreter options placed before the script (the
# collector mode: --gc=stw, --gc-stress).
# MASK_MEMINFO replaces the numbers of mem-info's summary lines and the block map's address, which
# depend on what the conservative stack scan happened to find. MASK_BLOCKMAP (with MASK_MEMINFO)
# drops the block map's lines altogether: under --gc-stress a cycle is always running, so the map
# shows marked objects ('m') and holds fewer objects.
file(REMOVE_RECURSE "${WORKDIR}")
file(MAKE_DIRECTORY "${WORKDIR}")
set(command "${PROGRAM}")
if(HEAP)
  list(APPEND command --heap ${HEAP})
endif()
if(OPTIONS)
  separate_arguments(option_list UNIX_COMMAND "${OPTIONS}")
  list(APPEND command ${option_list})
endif()
if(SCRIPT)
  # Run a copy by its bare name, so (command-line) and the heap layout do not depend on where the
  # source tree is.
  get_filename_component(script_name "${SCRIPT}" NAME)
  configure_file("${SCRIPT}" "${WORKDIR}/${script_name}" COPYONLY)
  list(APPEND command "${script_name}")
endif()
if(ARGS)
  separate_arguments(arg_list UNIX_COMMAND "${ARGS}")
  list(APPEND command ${arg_list})
endif()
if(INPUT)
  set(input_option INPUT_FILE "${INPUT}")
endif()
execute_process(COMMAND ${command} ${input_option}
  WORKING_DIRECTORY "${WORKDIR}"
  OUTPUT_VARIABLE actual ERROR_VARIABLE errors RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "exit status ${status}\n--- stdout\n${actual}\n--- stderr\n${errors}")
endif()
file(READ "${EXPECTED}" expected)

function(mask_meminfo var)
  set(text "${${var}}")
  string(REGEX REPLACE "GC: total: [0-9]+, used: [0-9]+, free: [0-9]+" "GC: total: #, used: #, free: #" text "${text}")
  string(REGEX REPLACE "No\\. of 1-blocks: [0-9]+, 2-blocks: [0-9]+, max blk sz: [0-9]+, max free sz: [0-9]+"
         "No. of 1-blocks: #, 2-blocks: #, max blk sz: #, max free sz: #" text "${text}")
  string(REGEX REPLACE "GC memory layout; from [0-9a-fx]+:" "GC memory layout; from #:" text "${text}")
  # The pool's block count follows the size of the heap's control data, so the free blocks that
  # end the map's lines are not compared one by one.
  string(REGEX REPLACE "\\.+\n" "...\n" text "${text}")
  set(${var} "${text}" PARENT_SCOPE)
endfunction()
function(mask_blockmap var)
  set(hex8 "[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]")
  string(REGEX REPLACE "\n${hex8}: [^\n]*" "" text "${${var}}")
  string(REGEX REPLACE "\n +\\([0-9]+ lines all free\\)" "" text "${text}")
  set(${var} "${text}" PARENT_SCOPE)
endfunction()
if(MASK_MEMINFO)
  mask_meminfo(actual)
  mask_meminfo(expected)
endif()
if(MASK_BLOCKMAP)
  mask_blockmap(actual)
  mask_blockmap(expected)
endif()
if(NOT actual STREQUAL expected)
  file(WRITE "${WORKDIR}/actual.out" "${actual}")
  message(FATAL_ERROR "output differs from ${EXPECTED} (actual output in ${WORKDIR}/actual.out)\n"
                      "--- actual\n${actual}\n--- stderr\n${errors}")
endif()
if(CHECK_FILE)
  file(READ "${WORKDIR}/${CHECK_FILE}" written)
  file(READ "${CHECK_EXPECTED}" wanted)
  if(NOT written STREQUAL wanted)
    message(FATAL_ERROR "${CHECK_FILE} holds:\n${written}\nexpected:\n${wanted}")
  endif()
endif()
