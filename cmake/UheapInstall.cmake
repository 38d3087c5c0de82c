# SPDX-License-Identifier: MIT
# Install rules: the library, the public headers, and a CMake package so that
# find_package(uheap CONFIG) gives uheap::uheap.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS uheap EXPORT uheapTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/uheap" DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT uheapTargets NAMESPACE uheap:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/uheap)
configure_package_config_file("${PROJECT_SOURCE_DIR}/cmake/uheap-config.cmake.in"
  "${PROJECT_BINARY_DIR}/uheap-config.cmake" INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/uheap)
write_basic_package_version_file("${PROJECT_BINARY_DIR}/uheap-config-version.cmake"
  COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/uheap-config.cmake" "${PROJECT_BINARY_DIR}/uheap-config-version.cmake"
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/uheap)
