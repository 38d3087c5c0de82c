// SPDX-License-Identifier: MIT
// The profiler's map from object address to {tag, size, birth}: open addressing, linear probing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace uheap::profiling {

/// What the profiler remembers about one live object.
/// 24 bytes, so a cache line holds more than two: the table is touched by every event.
struct ObjectRecord {
    std::uintptr_t address = 0;  ///< 0 marks an empty slot (no object lives at address 0)
    std::uint32_t n_blocks = 0;  ///< whole-block size in blocks
    std::uint32_t birth = 0;     ///< collections completed when it was allocated (mod 2^32)
    std::uint16_t tag = 0;
};

/// A hash map keyed by address, sized to stay at most half full. Every hook of the profiler
/// touches it once, so it avoids the per-node allocation of std::unordered_map, and its hash
/// keeps neighbouring blocks in neighbouring slots (see slot_of) so that a sweep, which frees in
/// address order, and allocation from a fresh run walk the table almost sequentially.
class ObjectTable {
public:
    ObjectTable();

    /// Inserts or overwrites the record for `record.address` (which must not be 0).
    void put(const ObjectRecord& record);
    /// The record for `address`, or null. Valid until the next put()/take()/clear().
    ObjectRecord* find(std::uintptr_t address);
    const ObjectRecord* find(std::uintptr_t address) const;
    /// Removes the record for `address` into `*out`; false if there was none.
    bool take(std::uintptr_t address, ObjectRecord* out);
    void clear();
    std::size_t size() const { return size_; }

    /// Calls fn(const ObjectRecord&) for every record, in no particular order.
    template <class Fn>
    void for_each(Fn&& fn) const {
        for (const ObjectRecord& slot : slots_) {
            if (slot.address != 0) fn(slot);
        }
    }

private:
    std::size_t slot_of(std::uintptr_t address) const;
    void grow();

    std::vector<ObjectRecord> slots_;  ///< power-of-two length, at least kGroupSlots
    std::size_t size_ = 0;
    unsigned group_shift_ = 0;  ///< 64 - log2(slots_.size() / kGroupSlots)
};

}  // namespace uheap::profiling
