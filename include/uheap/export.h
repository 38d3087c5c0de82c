/* SPDX-License-Identifier: MIT */
/** @file
 * Which declarations a shared build of uheap exports (C and C++).
 *
 * A shared library is compiled with hidden visibility, and only what the public headers mark
 * with UHEAP_API (the core) or UHEAP_PROFILER_API (the profiler) is exported. CMake defines
 * UHEAP_SHARED / UHEAP_PROFILER_SHARED for a shared library and everything that links it, and
 * UHEAP_BUILDING / UHEAP_PROFILER_BUILDING for the library's own sources (Windows imports what
 * it does not build). A static build defines none of them: the macros are empty. */
#ifndef UHEAP_EXPORT_H
#define UHEAP_EXPORT_H

#if defined(_WIN32) || defined(__CYGWIN__)
#define UHEAP_EXPORT_ __declspec(dllexport)
#define UHEAP_IMPORT_ __declspec(dllimport)
#else
#define UHEAP_EXPORT_ __attribute__((visibility("default")))
#define UHEAP_IMPORT_ __attribute__((visibility("default")))
#endif

#if !defined(UHEAP_SHARED)
#define UHEAP_API
#elif defined(UHEAP_BUILDING)
#define UHEAP_API UHEAP_EXPORT_
#else
#define UHEAP_API UHEAP_IMPORT_
#endif

#if !defined(UHEAP_PROFILER_SHARED)
#define UHEAP_PROFILER_API
#elif defined(UHEAP_PROFILER_BUILDING)
#define UHEAP_PROFILER_API UHEAP_EXPORT_
#else
#define UHEAP_PROFILER_API UHEAP_IMPORT_
#endif

#endif /* UHEAP_EXPORT_H */
