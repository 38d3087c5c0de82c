/* SPDX-License-Identifier: MIT */
/** @file
 * The features built into uheap, for C and C++ alike (uheap/config.hpp gives them to C++ as
 * constants, uheap::built::k...).
 *
 * Each UHEAP_FEATURE_* macro is 1 (built: the default, the
 * desktop build) or 0 (left out). A feature left out costs no code and no control data: the
 * calls that use it are refused with Status::unsupported (those that return nothing record it as
 * last_status()), and the heap runs without it. The library and every program that includes
 * these headers must see the same values: CMake passes them with the `uheap` target
 * (options of the same names), a Makefile build passes the same -D flags to both.
 * docs/embedded.md §6 lists what each one costs on a Cortex-M.
 *
 * The minimal configuration (CMake preset arm-cortex-m4-minimal, option UHEAP_MINIMAL) turns all
 * of them off: a heap that allocates, collects the roots the host reports, frees, reallocates
 * and reports, as MicroPython's py/gc.c without its optional parts. */
#ifndef UHEAP_FEATURES_H
#define UHEAP_FEATURES_H

#include <stddef.h>
#include <stdint.h>

#ifndef UHEAP_FEATURE_INTERIOR_POINTERS
#define UHEAP_FEATURE_INTERIOR_POINTERS 1  /**< HeapConfig::interior_pointers may be on */
#endif
#ifndef UHEAP_FEATURE_FINALISERS
#define UHEAP_FEATURE_FINALISERS 1         /**< set_finaliser(), kDestructor objects (make<T> of a class with a destructor) */
#endif
#ifndef UHEAP_FEATURE_WEAK_REFERENCES
#define UHEAP_FEATURE_WEAK_REFERENCES 1    /**< weak slots (Weak<T>), kWeak / set_weak() and the weak callbacks */
#endif
#ifndef UHEAP_FEATURE_GROWTH
#define UHEAP_FEATURE_GROWTH 1             /**< set_grow_callback(): areas obtained on demand, handed back when empty */
#endif
#ifndef UHEAP_FEATURE_EVENT_HOOKS
#define UHEAP_FEATURE_EVENT_HOOKS 1        /**< set_event_hooks(): on_alloc, on_free, on_collect_*, on_pause... */
#endif
#ifndef UHEAP_FEATURE_STACK_SCAN
#define UHEAP_FEATURE_STACK_SCAN 1         /**< set_stack_base(), collect_stack(), clear_stack(): the C stack as a root */
#endif
#ifndef UHEAP_FEATURE_COUNTERS_64
#define UHEAP_FEATURE_COUNTERS_64 1        /**< Counters in 64 bits; 0: in size_t (they wrap on 32-bit targets) */
#endif
#ifndef UHEAP_FEATURE_VERIFY_MESSAGES
#define UHEAP_FEATURE_VERIFY_MESSAGES 1    /**< verify() describes what broke; 0: invariant and place only */
#endif
#ifndef UHEAP_FEATURE_INCREMENTAL
#define UHEAP_FEATURE_INCREMENTAL 1        /**< HeapConfig::incremental, collect_step(), collect_idle(), pacing */
#endif
#ifndef UHEAP_FEATURE_LAZY_SWEEP
#define UHEAP_FEATURE_LAZY_SWEEP 1         /**< HeapConfig::lazy_sweep; 0: every collection sweeps before it returns */
#endif
#ifndef UHEAP_FEATURE_FREE_INDEX
#define UHEAP_FEATURE_FREE_INDEX 1         /**< the free-space tree (O(log blocks) first fit); 0: first fit by scanning the tables, as py/gc.c */
#endif
#ifndef UHEAP_FEATURE_THREADS
#define UHEAP_FEATURE_THREADS 1            /**< enable_threads(): one heap shared by threads (uheap/threads.hpp) */
#endif
#ifndef UHEAP_FEATURE_POISON
#define UHEAP_FEATURE_POISON 1             /**< HeapConfig::poison_freed */
#endif

/* One bit per feature, in the order above: uheap_features() and uheap::features() return them. */
#define UHEAP_FEATURE_BIT_INTERIOR_POINTERS (1u << 0)
#define UHEAP_FEATURE_BIT_FINALISERS (1u << 1)
#define UHEAP_FEATURE_BIT_WEAK_REFERENCES (1u << 2)
#define UHEAP_FEATURE_BIT_GROWTH (1u << 3)
#define UHEAP_FEATURE_BIT_EVENT_HOOKS (1u << 4)
#define UHEAP_FEATURE_BIT_STACK_SCAN (1u << 5)
#define UHEAP_FEATURE_BIT_COUNTERS_64 (1u << 6)
#define UHEAP_FEATURE_BIT_VERIFY_MESSAGES (1u << 7)
#define UHEAP_FEATURE_BIT_INCREMENTAL (1u << 8)
#define UHEAP_FEATURE_BIT_LAZY_SWEEP (1u << 9)
#define UHEAP_FEATURE_BIT_POISON (1u << 10)
#define UHEAP_FEATURE_BIT_FREE_INDEX (1u << 11)
#define UHEAP_FEATURE_BIT_THREADS (1u << 12)

/** The features the including code was compiled with, as UHEAP_FEATURE_BIT_* bits. */
#define UHEAP_FEATURES_BUILT                                                                        \
    ((UHEAP_FEATURE_INTERIOR_POINTERS ? UHEAP_FEATURE_BIT_INTERIOR_POINTERS : 0u) |                 \
     (UHEAP_FEATURE_FINALISERS ? UHEAP_FEATURE_BIT_FINALISERS : 0u) |                               \
     (UHEAP_FEATURE_WEAK_REFERENCES ? UHEAP_FEATURE_BIT_WEAK_REFERENCES : 0u) |                     \
     (UHEAP_FEATURE_GROWTH ? UHEAP_FEATURE_BIT_GROWTH : 0u) |                                       \
     (UHEAP_FEATURE_EVENT_HOOKS ? UHEAP_FEATURE_BIT_EVENT_HOOKS : 0u) |                             \
     (UHEAP_FEATURE_STACK_SCAN ? UHEAP_FEATURE_BIT_STACK_SCAN : 0u) |                               \
     (UHEAP_FEATURE_COUNTERS_64 ? UHEAP_FEATURE_BIT_COUNTERS_64 : 0u) |                             \
     (UHEAP_FEATURE_VERIFY_MESSAGES ? UHEAP_FEATURE_BIT_VERIFY_MESSAGES : 0u) |                     \
     (UHEAP_FEATURE_INCREMENTAL ? UHEAP_FEATURE_BIT_INCREMENTAL : 0u) |                             \
     (UHEAP_FEATURE_LAZY_SWEEP ? UHEAP_FEATURE_BIT_LAZY_SWEEP : 0u) |                               \
     (UHEAP_FEATURE_POISON ? UHEAP_FEATURE_BIT_POISON : 0u) |                                       \
     (UHEAP_FEATURE_FREE_INDEX ? UHEAP_FEATURE_BIT_FREE_INDEX : 0u) |                               \
     (UHEAP_FEATURE_THREADS ? UHEAP_FEATURE_BIT_THREADS : 0u))

/** A counter of uheap_counters_t (uheap::Counter): 64 bits, or size_t without UHEAP_FEATURE_COUNTERS_64. */
#if UHEAP_FEATURE_COUNTERS_64
typedef uint64_t uheap_counter_t;
#else
typedef size_t uheap_counter_t;
#endif

#endif /* UHEAP_FEATURES_H */
