# SPDX-License-Identifier: MIT
# Install rules: the libraries, the public headers, uheap-report, a CMake package so that
# find_package(uheap CONFIG) gives uheap::uheap (and uheap::profiler, uheap::report when they
# were built), pkg-config files, and the licence and changelog.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)
set(UHEAP_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/uheap)

install(TARGETS uheap EXPORT uheapTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/uheap" "${UHEAP_GENERATED_INCLUDE_DIR}/uheap"
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT uheapTargets NAMESPACE uheap:: DESTINATION ${UHEAP_CMAKE_DIR})

# A shared program or library finds the shared libraries it needs beside it (in the library
# directory), wherever the prefix is moved.
if(BUILD_SHARED_LIBS AND NOT APPLE)
  file(RELATIVE_PATH _uheap_lib_from_bin "${CMAKE_INSTALL_FULL_BINDIR}" "${CMAKE_INSTALL_FULL_LIBDIR}")
  set(UHEAP_LIB_RPATH "$ORIGIN")
  set(UHEAP_BIN_RPATH "$ORIGIN/${_uheap_lib_from_bin}")
endif()

# The profiler and the tool have export sets of their own, so the package works without them.
set(UHEAP_PROFILER_INSTALLED OFF)
if(TARGET uheap_profiler)
  set(UHEAP_PROFILER_INSTALLED ON)
  set_target_properties(uheap_profiler PROPERTIES INSTALL_RPATH "${UHEAP_LIB_RPATH}")
  install(TARGETS uheap_profiler EXPORT uheapProfilerTargets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  install(EXPORT uheapProfilerTargets NAMESPACE uheap:: DESTINATION ${UHEAP_CMAKE_DIR})
endif()
set(UHEAP_REPORT_INSTALLED OFF)
if(TARGET uheap-report)
  set(UHEAP_REPORT_INSTALLED ON)
  set_target_properties(uheap-report PROPERTIES EXPORT_NAME report INSTALL_RPATH "${UHEAP_BIN_RPATH}")
  install(TARGETS uheap-report EXPORT uheapReportTargets RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  install(EXPORT uheapReportTargets NAMESPACE uheap:: DESTINATION ${UHEAP_CMAKE_DIR})
endif()

configure_package_config_file("${PROJECT_SOURCE_DIR}/cmake/uheap-config.cmake.in"
  "${PROJECT_BINARY_DIR}/uheap-config.cmake" INSTALL_DESTINATION ${UHEAP_CMAKE_DIR})
write_basic_package_version_file("${PROJECT_BINARY_DIR}/uheap-config-version.cmake"
  COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/uheap-config.cmake" "${PROJECT_BINARY_DIR}/uheap-config-version.cmake"
  DESTINATION ${UHEAP_CMAKE_DIR})

# pkg-config files. They name the prefix installed to, which `cmake --install --prefix` can
# change after configuring: everything else is filled in now, the prefix by the install script.
get_target_property(_uheap_type uheap TYPE)
set(UHEAP_PC_CFLAGS "")
if(_uheap_type STREQUAL "SHARED_LIBRARY")
  string(APPEND UHEAP_PC_CFLAGS " -DUHEAP_SHARED")
endif()
if(NOT UHEAP_BLOCK_BYTES STREQUAL "")
  string(APPEND UHEAP_PC_CFLAGS " -DUHEAP_BLOCK_BYTES=${UHEAP_BLOCK_BYTES}")
endif()
foreach(feature IN LISTS UHEAP_FEATURES_OFF)
  string(APPEND UHEAP_PC_CFLAGS " -DUHEAP_FEATURE_${feature}=0")
endforeach()
set(UHEAP_PROFILER_PC_CFLAGS "")
if(UHEAP_PROFILER_INSTALLED)
  get_target_property(_uheap_type uheap_profiler TYPE)
  if(_uheap_type STREQUAL "SHARED_LIBRARY")
    set(UHEAP_PROFILER_PC_CFLAGS " -DUHEAP_PROFILER_SHARED")
  endif()
endif()
foreach(dir LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${dir}}")
    set(UHEAP_PC_${dir} "${CMAKE_INSTALL_${dir}}")
  else()
    set(UHEAP_PC_${dir} "\${prefix}/${CMAKE_INSTALL_${dir}}")
  endif()
endforeach()
set(UHEAP_PC_PREFIX "@UHEAP_PC_PREFIX@")  # kept for the install script
set(_uheap_pc_names uheap)
if(UHEAP_PROFILER_INSTALLED)
  list(APPEND _uheap_pc_names uheap-profiler)
endif()
foreach(name IN LISTS _uheap_pc_names)
  set(pc "${PROJECT_BINARY_DIR}/pkgconfig/${name}.pc")
  configure_file("${PROJECT_SOURCE_DIR}/cmake/${name}.pc.in" "${pc}.in" @ONLY)
  install(CODE "set(UHEAP_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
    configure_file(\"${pc}.in\" \"${pc}\" @ONLY)")
  install(FILES "${pc}" DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endforeach()

install(FILES "${PROJECT_SOURCE_DIR}/LICENSE" "${PROJECT_SOURCE_DIR}/CHANGELOG.md" "${PROJECT_SOURCE_DIR}/README.md"
        DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/uheap)
