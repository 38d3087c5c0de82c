// SPDX-License-Identifier: MIT
/// @file
/// Build-time configuration of uheap: the block size and the defaults every heap starts with.
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

namespace uheap {

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
