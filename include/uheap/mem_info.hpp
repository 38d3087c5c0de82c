// SPDX-License-Identifier: MIT
/// @file
/// What the heap reports about itself: exact statistics, counters read in O(areas), invariant
/// checks, and the callback types its MicroPython-format dumps print through.
#pragma once

#include <cstddef>
#include <cstdint>

#include "uheap/export.h"
#include "uheap/features.h"

namespace uheap {

/// Exact statistics from a word-at-a-time scan of the block tables (Heap::info()).
/// The first seven fields are MicroPython's gc_info_t, with the same meaning.
struct Info {
    std::size_t total = 0;       ///< bytes in all block pools (tables and control data excluded)
    std::size_t used = 0;        ///< bytes in blocks that belong to objects
    std::size_t free = 0;        ///< bytes in free blocks; used + free == total
    std::size_t max_free = 0;    ///< longest free run, in blocks (largest object that fits now)
    std::size_t num_1block = 0;  ///< objects exactly one block long
    std::size_t num_2block = 0;  ///< objects exactly two blocks long
    std::size_t max_block = 0;   ///< longest object, in blocks
    // Beyond MicroPython:
    std::size_t objects = 0;         ///< live objects (heads)
    std::size_t free_runs = 0;       ///< maximal runs of free blocks
    std::size_t areas = 0;           ///< areas the heap spans
    std::size_t metadata_bytes = 0;  ///< bytes of the regions spent on control data, tables, mark stack, padding
    /// 1 - max_free / free, in thousandths: 0 = all free space is one run, near 1000 = shattered.
    unsigned fragmentation_permille = 0;
};

/// A counter of Counters: 64 bits, or size_t in a build without UHEAP_FEATURE_COUNTERS_64
/// (config.hpp), where on 32-bit targets the counts wrap at 2^32 and the pause times at 4.3 s.
using Counter = uheap_counter_t;

/// Running totals the heap keeps as it works; reading them costs O(areas) (Heap::counters()).
struct Counters {
    Counter allocations = 0;          ///< successful alloc() calls, realloc moves included
    Counter frees = 0;                ///< objects released by free() and by realloc moves
    Counter bytes_allocated = 0;      ///< whole-block bytes handed out, cumulative
    Counter collections = 0;          ///< completed collections (sweep_all() included)
    Counter objects_collected = 0;    ///< objects freed by collections, cumulative
    std::size_t last_collect_freed = 0;     ///< objects freed by the most recent collection
    Counter last_pause_ns = 0;        ///< duration of the most recent collection
    Counter max_pause_ns = 0;         ///< longest collection so far
    Counter total_pause_ns = 0;       ///< all collections added up
    std::size_t used_bytes = 0;             ///< bytes in use now (same as info().used)
    std::size_t peak_used_bytes = 0;        ///< most bytes ever in use at once
    Counter out_of_memory = 0;        ///< allocations that returned null for lack of space
    Counter mark_stack_overflows = 0; ///< times the mark stack was full and an object deferred
    Counter finalisers_run = 0;       ///< finaliser callbacks made
    Counter weak_notified = 0;        ///< dead weakly referenced objects reported
    Counter index_repairs = 0;        ///< reserved: always 0 (the free space cannot be corrupted)
    Counter areas_grown = 0;          ///< areas obtained from the grow callback
    Counter areas_released = 0;       ///< empty grown areas handed back
};

/// The invariants of design.md §6, as verify() names them.
enum class Invariant : std::uint8_t {
    none = 0,        ///< every invariant holds
    I1_block_kind,   ///< every block is exactly one of free, head, tail
    I2_extent,       ///< no tail follows a free block; objects lie inside one area
    I3_no_marks,     ///< outside a collection no mark bit is set, except where a lazy sweep has yet to pass
    I4_flags_on_heads, ///< flag bits only where the encoding allows them
    I5_free_index,   ///< the free-space summaries agree with the tables; the current run is first fit
    I6_accounting,   ///< used + free == total and the counters agree with a scan
    I7_high_water,   ///< every block at or above the high-water mark is free
    I8_lazy_sweep,   ///< where a lazy sweep has yet to pass, nothing was allocated and the dead are finalised
};

/// Result of Heap::verify(): the first broken invariant, where, and a fixed description.
struct VerifyReport {
    Invariant broken = Invariant::none;  ///< the first invariant found broken; none if all hold
    std::size_t area = 0;        ///< index of the area (0 = the first)
    std::size_t block = 0;       ///< block number inside that area
    const char* detail = "ok";   ///< static text, never freed
    bool ok() const { return broken == Invariant::none; }  ///< true iff every invariant holds
};

/// Name of an invariant ("I5_free_index"...), static text.
UHEAP_API const char* invariant_name(Invariant id);

/// One stretch of a pool seen by Heap::walk(): an object, or a maximal free run.
struct HeapSpan {
    std::size_t area = 0;         ///< index of the area (0 = the first)
    std::size_t first_block = 0;  ///< block number inside the area
    std::size_t n_blocks = 0;     ///< length of the object or of the free run, in blocks
    void* object = nullptr;       ///< the object's first byte; null for a free run
    unsigned flags = 0;           ///< AllocFlag bits of the object (kNoScan only on 2+ blocks)
};

/// Where an area's pool lies (Heap::area_pool()).
struct AreaPool {
    const void* begin = nullptr;  ///< first block
    std::size_t n_blocks = 0;     ///< blocks in the pool
};

/// Receives each span of Heap::walk() in address order.
using WalkFn = void (*)(void* user, const HeapSpan& span);

/// Output callback for dump_info() / dump_alloc_table(): `len` bytes of text (not NUL-terminated).
using PrintFn = void (*)(void* user, const char* text, std::size_t len);

/// Picks the character drawn for an object head in dump_alloc_table() (MicroPython uses
/// T L D S A F B M for tuple, list, dict, str/bytes, array, float, bytecode, module; 'h' otherwise).
using LetterFn = char (*)(void* user, const void* object);

}  // namespace uheap
