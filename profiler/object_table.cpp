// SPDX-License-Identifier: MIT
// The profiler's address-keyed object map: Fibonacci hashing, linear probing, backward-shift delete.
#include "object_table.hpp"

#include "uheap/config.hpp"

namespace uheap::profiling {

namespace {
constexpr unsigned kGroupBits = 4;  ///< 16 consecutive blocks share a group of 16 slots
constexpr std::size_t kGroupSlots = std::size_t{1} << kGroupBits;
constexpr std::size_t kInitialSlots = 1024;
constexpr unsigned kInitialGroupShift = 64 - (10 - kGroupBits);
}  // namespace

ObjectTable::ObjectTable() : slots_(kInitialSlots), group_shift_(kInitialGroupShift) {}

// Objects are block-aligned, so an address is first turned into a block number. Its low four
// bits pick the slot inside a group (neighbouring blocks, neighbouring slots: cache-friendly);
// the rest is Fibonacci-hashed (times 2^64 / phi, top bits) to pick the group, which scatters
// distant parts of the heap and breaks up strides that a plain modulo would pile into one slot.
std::size_t ObjectTable::slot_of(std::uintptr_t address) const {
    std::uint64_t block = static_cast<std::uint64_t>(address) / kBlockBytes;
    std::uint64_t group = ((block >> kGroupBits) * 0x9E3779B97F4A7C15ull) >> group_shift_;
    return static_cast<std::size_t>((group << kGroupBits) | (block & (kGroupSlots - 1)));
}

void ObjectTable::put(const ObjectRecord& record) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    std::size_t mask = slots_.size() - 1;
    for (std::size_t i = slot_of(record.address);; i = (i + 1) & mask) {
        if (slots_[i].address == record.address) {
            slots_[i] = record;
            return;
        }
        if (slots_[i].address == 0) {
            slots_[i] = record;
            ++size_;
            return;
        }
    }
}

const ObjectRecord* ObjectTable::find(std::uintptr_t address) const {
    std::size_t mask = slots_.size() - 1;
    for (std::size_t i = slot_of(address);; i = (i + 1) & mask) {
        if (slots_[i].address == address) return &slots_[i];
        if (slots_[i].address == 0) return nullptr;
    }
}

ObjectRecord* ObjectTable::find(std::uintptr_t address) {
    return const_cast<ObjectRecord*>(static_cast<const ObjectTable*>(this)->find(address));
}

// Removal without tombstones: after emptying a slot, later entries of the same probe chain move
// back into the hole, so lookups never need to skip deleted slots and the table never degrades.
bool ObjectTable::take(std::uintptr_t address, ObjectRecord* out) {
    std::size_t mask = slots_.size() - 1;
    std::size_t hole = slot_of(address);
    for (;; hole = (hole + 1) & mask) {
        if (slots_[hole].address == address) break;
        if (slots_[hole].address == 0) return false;
    }
    *out = slots_[hole];
    for (std::size_t next = (hole + 1) & mask; slots_[next].address != 0; next = (next + 1) & mask) {
        std::size_t home = slot_of(slots_[next].address);
        // `next` may fill the hole iff its home is not in the cyclic range (hole, next].
        bool home_between = hole <= next ? (home > hole && home <= next) : (home > hole || home <= next);
        if (home_between) continue;
        slots_[hole] = slots_[next];
        hole = next;
    }
    slots_[hole] = ObjectRecord{};
    --size_;
    return true;
}

void ObjectTable::clear() {
    slots_.assign(kInitialSlots, ObjectRecord{});
    group_shift_ = kInitialGroupShift;
    size_ = 0;
}

void ObjectTable::grow() {
    std::vector<ObjectRecord> old(slots_.size() * 2);
    old.swap(slots_);
    --group_shift_;
    size_ = 0;
    for (const ObjectRecord& record : old) {
        if (record.address != 0) put(record);
    }
}

}  // namespace uheap::profiling
