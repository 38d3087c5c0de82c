// SPDX-License-Identifier: MIT
/// @file
/// Build-time configuration of uheap: the block size, and the features built into the library.
#pragma once

#include <cstddef>
#include <cstdint>

/// Bytes per block, unless the build defines it (code reads uheap::kBlockBytes): a power of two,
/// at least 16. The block size is fixed when the library is built (CMake option UHEAP_BLOCK_BYTES
/// sets it for the library and everything that links it). MicroPython's reference is four
/// machine words: 16 B on 32-bit targets, 32 B on 64-bit ones.
#ifndef UHEAP_BLOCK_BYTES
#define UHEAP_BLOCK_BYTES (4 * sizeof(void*))
#endif

#include "uheap/features.h"

namespace uheap {

/// The features as constants, for `if constexpr` and for code that reads them (tests, hosts).
namespace built {
inline constexpr bool kInteriorPointers = UHEAP_FEATURE_INTERIOR_POINTERS != 0;  ///< UHEAP_FEATURE_INTERIOR_POINTERS (uheap/features.h)
inline constexpr bool kFinalisers = UHEAP_FEATURE_FINALISERS != 0;  ///< UHEAP_FEATURE_FINALISERS (uheap/features.h)
inline constexpr bool kWeakReferences = UHEAP_FEATURE_WEAK_REFERENCES != 0;  ///< UHEAP_FEATURE_WEAK_REFERENCES (uheap/features.h)
inline constexpr bool kGrowth = UHEAP_FEATURE_GROWTH != 0;  ///< UHEAP_FEATURE_GROWTH (uheap/features.h)
inline constexpr bool kEventHooks = UHEAP_FEATURE_EVENT_HOOKS != 0;  ///< UHEAP_FEATURE_EVENT_HOOKS (uheap/features.h)
inline constexpr bool kStackScan = UHEAP_FEATURE_STACK_SCAN != 0;  ///< UHEAP_FEATURE_STACK_SCAN (uheap/features.h)
inline constexpr bool kCounters64 = UHEAP_FEATURE_COUNTERS_64 != 0;  ///< UHEAP_FEATURE_COUNTERS_64 (uheap/features.h)
inline constexpr bool kVerifyMessages = UHEAP_FEATURE_VERIFY_MESSAGES != 0;  ///< UHEAP_FEATURE_VERIFY_MESSAGES (uheap/features.h)
inline constexpr bool kIncremental = UHEAP_FEATURE_INCREMENTAL != 0;  ///< UHEAP_FEATURE_INCREMENTAL (uheap/features.h)
inline constexpr bool kLazySweep = UHEAP_FEATURE_LAZY_SWEEP != 0;  ///< UHEAP_FEATURE_LAZY_SWEEP (uheap/features.h)
inline constexpr bool kPoison = UHEAP_FEATURE_POISON != 0;  ///< UHEAP_FEATURE_POISON (uheap/features.h)
inline constexpr bool kFreeIndex = UHEAP_FEATURE_FREE_INDEX != 0;  ///< UHEAP_FEATURE_FREE_INDEX (uheap/features.h)
inline constexpr bool kThreads = UHEAP_FEATURE_THREADS != 0 && kStackScan;  ///< UHEAP_FEATURE_THREADS (needs the stack scan)
}  // namespace built

/// The features as bits, in the order above (C: UHEAP_FEATURE_BIT_*): what features() returns.
enum Feature : unsigned {
    kFeatureInteriorPointers = UHEAP_FEATURE_BIT_INTERIOR_POINTERS,  ///< UHEAP_FEATURE_INTERIOR_POINTERS (uheap/features.h)
    kFeatureFinalisers = UHEAP_FEATURE_BIT_FINALISERS,  ///< UHEAP_FEATURE_FINALISERS (uheap/features.h)
    kFeatureWeakReferences = UHEAP_FEATURE_BIT_WEAK_REFERENCES,  ///< UHEAP_FEATURE_WEAK_REFERENCES (uheap/features.h)
    kFeatureGrowth = UHEAP_FEATURE_BIT_GROWTH,  ///< UHEAP_FEATURE_GROWTH (uheap/features.h)
    kFeatureEventHooks = UHEAP_FEATURE_BIT_EVENT_HOOKS,  ///< UHEAP_FEATURE_EVENT_HOOKS (uheap/features.h)
    kFeatureStackScan = UHEAP_FEATURE_BIT_STACK_SCAN,  ///< UHEAP_FEATURE_STACK_SCAN (uheap/features.h)
    kFeatureCounters64 = UHEAP_FEATURE_BIT_COUNTERS_64,  ///< UHEAP_FEATURE_COUNTERS_64 (uheap/features.h)
    kFeatureVerifyMessages = UHEAP_FEATURE_BIT_VERIFY_MESSAGES,  ///< UHEAP_FEATURE_VERIFY_MESSAGES (uheap/features.h)
    kFeatureIncremental = UHEAP_FEATURE_BIT_INCREMENTAL,  ///< UHEAP_FEATURE_INCREMENTAL (uheap/features.h)
    kFeatureLazySweep = UHEAP_FEATURE_BIT_LAZY_SWEEP,  ///< UHEAP_FEATURE_LAZY_SWEEP (uheap/features.h)
    kFeaturePoison = UHEAP_FEATURE_BIT_POISON,  ///< UHEAP_FEATURE_POISON (uheap/features.h)
    kFeatureFreeIndex = UHEAP_FEATURE_BIT_FREE_INDEX,  ///< UHEAP_FEATURE_FREE_INDEX (uheap/features.h)
    kFeatureThreads = UHEAP_FEATURE_BIT_THREADS,  ///< UHEAP_FEATURE_THREADS (uheap/features.h)
};

/// The features these headers were compiled with, as Feature bits. features() (heap.hpp) gives
/// the library's: a host can check that the two agree.
inline constexpr unsigned kBuiltFeatures = UHEAP_FEATURES_BUILT;

/// Bytes per block. Every object is a run of whole blocks, aligned to this many bytes.
inline constexpr std::size_t kBlockBytes = UHEAP_BLOCK_BYTES;

/// Bytes per machine word: the unit of conservative scanning.
inline constexpr std::size_t kWordBytes = sizeof(void*);

/// Words per block.
inline constexpr std::size_t kBlockWords = kBlockBytes / kWordBytes;

/// Whole blocks an object of `n_bytes` takes: the one rounding formula (up to whole blocks, as
/// MicroPython rounds), used by the core, the C API and the MicroPython port. Cannot overflow:
/// it divides before it adds.
inline constexpr std::size_t blocks_for_bytes(std::size_t n_bytes) {
    return n_bytes / kBlockBytes + (n_bytes % kBlockBytes != 0);
}

static_assert((kBlockBytes & (kBlockBytes - 1)) == 0, "UHEAP_BLOCK_BYTES must be a power of two");
// Objects are at least four 32-bit words, MicroPython's smallest block.
static_assert(kBlockBytes >= 16, "UHEAP_BLOCK_BYTES must be at least 16");
static_assert(kBlockBytes >= kWordBytes, "a block holds at least one machine word");

}  // namespace uheap
