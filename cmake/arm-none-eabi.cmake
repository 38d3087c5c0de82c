# SPDX-License-Identifier: MIT
# Toolchain file for bare-metal 32-bit ARM with the GNU Arm Embedded toolchain (arm-none-eabi-gcc,
# newlib). Debian/Ubuntu: apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi.
#
#   cmake --preset arm-cortex-m4            (CMakePresets.json: also arm-cortex-m0plus, ...)
#   cmake -B build-arm -DCMAKE_TOOLCHAIN_FILE=cmake/arm-none-eabi.cmake \
#         -DCMAKE_C_FLAGS="-mcpu=cortex-m4 -mthumb" -DCMAKE_CXX_FLAGS="-mcpu=cortex-m4 -mthumb" ...
#
# The CPU is not chosen here: it comes with the flags (-mcpu, -mthumb, -mfloat-abi, -mfpu), which
# the presets set, so one file serves every Cortex-M/R/A part. Set ARM_NONE_EABI_PREFIX to use a
# toolchain that is not on the PATH (e.g. /opt/gcc-arm/bin/arm-none-eabi-).
#
# Only uheap's core library (target `uheap`) is meant to be built this way: turn the tests,
# examples, profiler, tools, bridges and benchmarks off (the presets do), since they need a hosted
# C++ runtime.

set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)

if(NOT DEFINED ARM_NONE_EABI_PREFIX)
  if(DEFINED ENV{ARM_NONE_EABI_PREFIX})
    set(ARM_NONE_EABI_PREFIX "$ENV{ARM_NONE_EABI_PREFIX}")
  else()
    set(ARM_NONE_EABI_PREFIX arm-none-eabi-)
  endif()
endif()
# try_compile() runs in a nested project that does not see the cache: pass the prefix on.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES ARM_NONE_EABI_PREFIX)

# CMake finds ar, ranlib, nm, objcopy and objdump by the compilers' prefix.
set(CMAKE_C_COMPILER ${ARM_NONE_EABI_PREFIX}gcc)
set(CMAKE_CXX_COMPILER ${ARM_NONE_EABI_PREFIX}g++)
set(CMAKE_ASM_COMPILER ${ARM_NONE_EABI_PREFIX}gcc)

# Without a board's start-up code and linker script a test program cannot be linked, so CMake's
# compiler checks build a static library instead.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

# Programs a project links itself (none in uheap's own build) get newlib with stub system calls
# and unused functions dropped; a firmware project replaces these with its own.
set(CMAKE_EXE_LINKER_FLAGS_INIT "--specs=nosys.specs -Wl,--gc-sections")

# Headers and libraries from the toolchain's sysroot only; programs (code generators) from the host.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
