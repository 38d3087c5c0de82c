// SPDX-License-Identifier: MIT
// The heap's internal state: areas, the mark stack, control flags, callbacks and counters.
// Every subsystem file implements its part of HeapImpl; this header is the map of them.
#pragma once

#include <cstddef>
#include <cstdint>

#include "block_table.hpp"
#include "free_index.hpp"
#include "uheap/heap.hpp"

namespace uheap::detail {

/// One region handed in by the host. Lives at the start of that region.
struct Area {
    Area* next = nullptr;
    unsigned char* pool = nullptr;   ///< first block, aligned to kBlockBytes
    std::uintptr_t pool_begin = 0;   ///< pool as an integer, for range checks
    std::size_t pool_bytes = 0;      ///< n_blocks * kBlockBytes
    BlockTables tables;
    FreeIndex index;
    std::size_t high_water = 0;      ///< I7: blocks [high_water, n_blocks) are free
    std::size_t used_blocks = 0;     ///< blocks in heads and tails
    /// Mark-stack overflow: marked heads in [deferred_lo, deferred_hi) may be unscanned.
    std::size_t deferred_lo = 0;
    std::size_t deferred_hi = 0;
    void* region = nullptr;          ///< what the host handed in, for release
    std::size_t region_bytes = 0;
    bool grown = false;              ///< came from the grow callback (handed back when empty)
    bool index_stale = false;        ///< blocks were freed during a collection: sweep must rebuild

    IndexedPool indexed() { return IndexedPool{&index, &tables, pool}; }
    bool contains(std::uintptr_t address) const { return address - pool_begin < pool_bytes; }
    void* ptr_of(std::size_t block) const { return pool + block * kBlockBytes; }
    std::size_t block_of(std::uintptr_t address) const { return (address - pool_begin) / kBlockBytes; }
};

/// One entry of the explicit mark stack: a range of words still to scan.
struct MarkRange {
    void* const* begin;
    void* const* end;
};

/// Mark-stack entries spilled into free heap blocks when the fixed stack is full. Free blocks
/// are scratch during a collection (nothing allocates), so a full stack moves its entries there
/// instead of leaving objects to be rescanned; the sweep rebuilds the areas' free-run index.
/// The entries follow the header.
struct SpillSegment {
    SpillSegment* below;     ///< the segment spilled before this one (popped after it)
    std::size_t count;       ///< entries held
    std::size_t capacity;    ///< entries that fit
    MarkRange* entries() { return reinterpret_cast<MarkRange*>(this + 1); }
};

/// Where an object lives: its area and head block.
struct ObjectRef {
    Area* area = nullptr;
    std::size_t block = 0;
    explicit operator bool() const { return area != nullptr; }
};

struct HeapImpl final : Heap {
    // ---- layout (layout.cpp) ----
    Area* first_area = nullptr;
    std::size_t n_areas = 0;
    std::size_t metadata_bytes = 0;   ///< bytes of all regions not in pools
    HeapConfig config;
    MarkRange* mark_stack = nullptr;
    std::size_t mark_capacity = 0;
    std::size_t mark_depth = 0;
    SpillSegment* spilled = nullptr;         ///< segments holding entries, most recent first
    SpillSegment* spare_segments = nullptr;  ///< emptied segments, reused before taking more

    // ---- control (heap.cpp) ----
    unsigned locks = 0;
    bool collecting = false;
    bool scanning_roots_allowed = true;  ///< false during sweep_all()
    bool auto_collect_enabled = true;
    std::size_t threshold_blocks = 0;    ///< 0 = off
    std::size_t blocks_since_collect = 0;
    /// alloc() may skip its lock, threshold and stress checks while blocks_since_collect is below
    /// this (0 forces every allocation through them). Recomputed by refresh_fast_path() whenever
    /// one of those inputs changes, so the fast path tests one number (Lua's "GC debt" idea).
    std::size_t fast_path_limit = 0;
    std::size_t max_area_blocks = 0;     ///< blocks of the largest area
    const void* stack_base = nullptr;
    const void* pinned = nullptr;        ///< kept alive through a collection realloc triggers
    RootRange* roots = nullptr;
    WeakSlot* weak_slots = nullptr;
    Status status = Status::ok;

    // ---- callbacks ----
    RootFn root_fn = nullptr;               void* root_user = nullptr;
    FinaliserFn finaliser_fn = nullptr;     void* finaliser_user = nullptr;
    WeakFreedFn weak_freed_fn = nullptr;    WeakSweepFn weak_sweep_fn = nullptr;  void* weak_user = nullptr;
    CollectFn collect_fn = nullptr;         void* collect_user = nullptr;
    GrowFn grow_fn = nullptr;               ReleaseFn release_fn = nullptr;       void* grow_user = nullptr;
    ClockFn clock_fn = nullptr;             void* clock_user = nullptr;
    EventHooks hooks;

    // ---- statistics ----
    Counters stats;
    std::uint64_t collect_started_ns = 0;
    std::size_t overflows_this_collection = 0;
    std::size_t last_collect_freed_bytes = 0;

    static HeapImpl& of(Heap& h) { return static_cast<HeapImpl&>(h); }
    static const HeapImpl& of(const Heap& h) { return static_cast<const HeapImpl&>(h); }

    // layout.cpp
    static Area* lay_out_area(void* region, std::size_t region_bytes, std::size_t prefix_bytes,
                              void** prefix, Status* status);
    void append_area(Area* area);

    // heap.cpp
    void refresh_fast_path();

    // allocator.cpp
    ObjectRef find_object(const void* ptr, Status* why) const;
    void* allocate_blocks(std::size_t n_blocks, unsigned flags);
    void commit_object(Area& area, std::size_t start, std::size_t n_blocks, unsigned flags);
    bool index_freed_blocks(Area& area, std::size_t start, std::size_t n_blocks);
    void release_object(Area& area, std::size_t head, FreeReason reason);
    void shrink_in_place(Area& area, std::size_t new_end, std::size_t old_end);
    bool grow_in_place(Area& area, std::size_t old_end, std::size_t extra);
    bool grow_for(std::size_t n_blocks);
    void repair_index(Area& area);

    // collector.cpp
    template <bool kInteriorPointers>
    void mark_word(std::uintptr_t word);
    void mark_root_words(void* const* words, std::size_t n_words);
    void drain_mark_stack();
    bool spill_mark_stack();
    bool refill_mark_stack();
    SpillSegment* new_spill_segment();
    void push_object(Area& area, std::size_t head, std::size_t end);
    void scan_deferred();
    void clear_dead_weak_slots();
    void finalise_dead();
    void sweep();
    void report_swept(Area& area, std::size_t word, Word dead_heads);
    void release_empty_areas();
    void run_automatic_collection();
    Area* area_containing(std::uintptr_t address) const;

    // platform.cpp
    std::uint64_t now_ns() const;
};

}  // namespace uheap::detail
