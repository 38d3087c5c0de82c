// SPDX-License-Identifier: MIT
// What the profiler remembers of each live object, in a side table with one slot per block.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "uheap/heap.hpp"

namespace uheap::profiling {

/// What the profiler remembers about one live object: 12 bytes, in the slot of its first block.
struct ObjectRecord {
    static constexpr std::uint16_t kEmpty = 0xFFFF;  ///< `site` of a slot that holds no object
    std::uint32_t birth = 0;     ///< collections completed when it was allocated (mod 2^32)
    std::uint32_t n_blocks = 0;  ///< whole-block size in blocks
    std::uint16_t tag = 0;
    /// 0: its allocation was not sampled; k: it was, at call site k - 1; kEmpty: no object.
    std::uint16_t site = kEmpty;
};

/// A side table over the heap's areas: slot i of an area describes the object whose head is
/// block i. Why not a hash map keyed by address (what the profiler had): each event then cost
/// a hash, a probe and, on a big heap, a cache miss or two; here it is a subtraction and a
/// shift, and since the heap allocates and sweeps in address order, neighbouring events touch
/// neighbouring slots. The price is memory: 12 bytes per block, whether it holds an object or not.
class ObjectTable {
public:
    /// Forgets every record and every area.
    void clear();
    /// Makes room for the areas in `pools` that the table does not cover yet (the heap grew).
    void add_areas(const std::vector<AreaPool>& pools);

    /// The slot of the block at `address`, or null if it lies in no area the table covers.
    ObjectRecord* slot(std::uintptr_t address) {
        for (Range& r : ranges_) {
            std::uintptr_t offset = address - r.begin;
            if (offset < r.bytes) return &r.slots[offset / kBlockBytes];
        }
        return nullptr;
    }
    /// The record of the object at `address`, or null if there is none.
    const ObjectRecord* find(std::uintptr_t address) const {
        const ObjectRecord* s = const_cast<ObjectTable*>(this)->slot(address);
        return s != nullptr && s->site != ObjectRecord::kEmpty ? s : nullptr;
    }
    /// Fills the slot for `address` (which must be in a covered area).
    void put(ObjectRecord* slot, const ObjectRecord& record) {
        if (slot->site == ObjectRecord::kEmpty) ++size_;
        *slot = record;
    }
    /// Empties a slot that holds a record.
    void take(ObjectRecord* slot) {
        slot->site = ObjectRecord::kEmpty;
        --size_;
    }
    std::size_t size() const { return size_; }  ///< records held

    /// Calls fn(std::uintptr_t address, const ObjectRecord&) for every record, in address order
    /// within each area. O(blocks).
    template <class Fn>
    void for_each(Fn&& fn) const {
        for (const Range& r : ranges_) {
            for (std::size_t i = 0; i < r.slots.size(); ++i) {
                if (r.slots[i].site != ObjectRecord::kEmpty) fn(r.begin + i * kBlockBytes, r.slots[i]);
            }
        }
    }

private:
    struct Range {
        std::uintptr_t begin = 0;
        std::uintptr_t bytes = 0;
        std::vector<ObjectRecord> slots;
    };
    std::vector<Range> ranges_;  ///< one per area, in the heap's order
    std::size_t size_ = 0;
};

}  // namespace uheap::profiling
