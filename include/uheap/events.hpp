// SPDX-License-Identifier: MIT
/// @file
/// Event hooks: how a profiler (or any observer) hears about every allocation, free and collection.
/// Hooks cost one predictable branch each when unset.
#pragma once

#include <cstddef>
#include <cstdint>

namespace uheap {

/// Why an object's memory went back to the heap.
enum class FreeReason : std::uint8_t {
    explicit_free,  ///< Heap::free(), or realloc() to 0 bytes
    swept,          ///< unreachable at a collection (or sweep_all())
    moved,          ///< realloc() copied the object elsewhere; the old copy is released
};

/// Figures for one finished collection, handed to EventHooks::on_collect_end.
struct CollectionStats {
    std::uint64_t index = 0;           ///< 1 for the first collection of this heap
    std::size_t objects_freed = 0;     ///< objects the sweep freed (Counters::last_collect_freed)
    std::size_t bytes_freed = 0;       ///< their whole-block bytes
    std::size_t objects_live = 0;      ///< objects that survived
    std::size_t used_bytes = 0;        ///< after the sweep
    std::size_t free_bytes = 0;        ///< after the sweep
    std::size_t largest_free_bytes = 0; ///< longest free run after the sweep, in bytes
    std::size_t free_runs = 0;         ///< maximal runs of free blocks after the sweep
    std::size_t mark_stack_overflows = 0; ///< times this collection found the mark stack full
    std::uint64_t pause_ns = 0;        ///< collect_start() to the end of the sweep
};

/// What kind of stop EventHooks::on_pause reports.
enum class PauseKind : std::uint8_t {
    collection,  ///< a stop-the-world collection (collect(), collect_end(), sweep_all(), automatic)
    step,        ///< an incremental step that left the cycle running
    final_step,  ///< the incremental step that ran the final phase and ended the cycle
    /// The final phase an allocation ran at once, because the heap filled during the cycle: the
    /// rest of the marking was done in this stop (pacing started the cycle too late for the room).
    forced_final,
};

/// Observer callbacks. Every member may be null. They run inside the heap's operations: they must
/// not call back into the heap except for read-only queries (size_of, info, counters).
struct EventHooks {
    void* user = nullptr;  ///< passed unchanged as every callback's first argument
    /// After a successful allocation. `n_bytes` is the whole-block size; `tag` is what the host
    /// passed to alloc() (0 if none).
    void (*on_alloc)(void* user, void* ptr, std::size_t n_bytes, unsigned flags, std::uint16_t tag) = nullptr;
    /// Before an object's blocks are released. `n_bytes` is its whole-block size.
    void (*on_free)(void* user, void* ptr, std::size_t n_bytes, FreeReason reason) = nullptr;
    /// After realloc() resized an object (in place when old_ptr == new_ptr). A move is reported
    /// as three events, in this order: on_alloc for the new copy (tag 0), on_free with
    /// FreeReason::moved for the old one, then on_realloc linking the two.
    void (*on_realloc)(void* user, void* old_ptr, void* new_ptr, std::size_t old_bytes, std::size_t new_bytes) = nullptr;
    /// When a collection starts (before any root is scanned).
    void (*on_collect_start)(void* user) = nullptr;
    /// When a collection has finished sweeping.
    void (*on_collect_end)(void* user, const CollectionStats& stats) = nullptr;
    /// When an allocation of `n_bytes` is about to return null for lack of space.
    void (*on_out_of_memory)(void* user, std::size_t n_bytes) = nullptr;
    /// After every stop the collector makes the host wait for, with its length: a whole
    /// collection, or one incremental step (PauseHistogram in cxx.hpp collects them).
    void (*on_pause)(void* user, PauseKind kind, std::uint64_t ns) = nullptr;
};

}  // namespace uheap
