// SPDX-License-Identifier: MIT
// Allocation: finding a free run through the index, alloc / free / realloc / size_of.
#include <cstring>

#include "heap_impl.hpp"

namespace uheap::detail {

Area* HeapImpl::area_containing(std::uintptr_t address) const {
    for (Area* a = first_area; a != nullptr; a = a->next) {
        if (a->contains(address)) return a;
    }
    return nullptr;
}

// Classifies a pointer the host passed in, so each kind of bad pointer gets its own status.
ObjectRef HeapImpl::find_object(const void* ptr, Status* why) const {
    auto address = reinterpret_cast<std::uintptr_t>(ptr);
    Area* area = area_containing(address);
    if (area == nullptr) {
        *why = Status::foreign_pointer;
        return {};
    }
    if ((address - area->pool_begin) % kBlockBytes != 0) {
        *why = Status::not_object_start;
        return {};
    }
    std::size_t block = area->block_of(address);
    if (area->tables.is_free(block)) {
        *why = Status::already_free;
        return {};
    }
    if (!area->tables.is_head(block)) {
        *why = Status::not_object_start;
        return {};
    }
    *why = Status::ok;
    return ObjectRef{area, block};
}

void HeapImpl::repair_index(Area& area) {
    index_rebuild(area.indexed());
    ++stats.index_repairs;
    status = Status::corrupted;
}

// Marks [start, start + n) as one object with `flags`, zeroes it, and books it. Inlined into
// both allocation paths; the common one-block, no-flag case touches one table word.
inline void HeapImpl::commit_object(Area& area, std::size_t start, std::size_t n_blocks, unsigned flags) {
    BlockTables& t = area.tables;
    UHEAP_ASSERT(t.is_free(start) && t.is_free(start + n_blocks - 1));  // I1, I5: the run was free
    set_bit(t.head, start);
    void* object = area.ptr_of(start);
    if (n_blocks == 1) {
        std::memset(object, 0, kBlockBytes);
    } else {
        std::size_t first_tail = start + 1;
        std::size_t end = start + n_blocks;
        if (word_index(first_tail) == word_index(end - 1)) {  // the usual case: one table word
            unsigned from = static_cast<unsigned>(first_tail % kWordBits);
            t.tail[word_index(first_tail)] |= bits_from(from) & bits_below(static_cast<unsigned>((end - 1) % kWordBits) + 1);
        } else {
            set_bits(t.tail, first_tail, end);
        }
        std::memset(object, 0, n_blocks * kBlockBytes);
    }
    if (flags != 0) {
        if (flags & kFinaliser) set_bit(t.tail, start);                      // a head's tail bit
        if (flags & kWeak) set_bit(t.flag, start);                           // a head's flag bit
        if ((flags & kNoScan) && n_blocks >= 2) set_bit(t.flag, start + 1);  // first tail's flag
    }
    area.used_blocks += n_blocks;
    if (start + n_blocks > area.high_water) area.high_water = start + n_blocks;
    blocks_since_collect += n_blocks;
    stats.allocations += 1;
    stats.bytes_allocated += n_blocks * kBlockBytes;
    stats.used_bytes += n_blocks * kBlockBytes;
    if (stats.used_bytes > stats.peak_used_bytes) stats.peak_used_bytes = stats.used_bytes;
}

// Areas are tried in the order they were added, so the first area fills before later ones and
// grown areas empty out first (and can be handed back).
void* HeapImpl::allocate_blocks(std::size_t n_blocks, unsigned flags) {
    for (Area* a = first_area; a != nullptr; a = a->next) {
        if (n_blocks > a->index.free_blocks) continue;
        std::size_t start = 0;
        FitResult fit = index_take(a->indexed(), n_blocks, &start);
        if (fit == FitResult::corrupted) {
            repair_index(*a);
            fit = index_take(a->indexed(), n_blocks, &start);
        }
        if (fit == FitResult::found) {
            commit_object(*a, start, n_blocks, flags);
            return a->ptr_of(start);
        }
    }
    return nullptr;
}

// Indexes blocks an object is about to give up, merged with the free runs on either side so the
// index keeps only maximal runs (I5). Called while the tables still show the blocks in use, so
// every neighbour's record is validated against a consistent picture; the caller clears the
// tables next, then repairs the index if this returned false. During a collection the sweep
// rebuilds the whole index, so there is nothing to do.
bool HeapImpl::index_freed_blocks(Area& area, std::size_t start, std::size_t n_blocks) {
    if (collecting) {
        area.index_stale = true;
        return true;
    }
    std::size_t run_begin = 0;
    std::size_t run_end = 0;
    if (!index_release(area.indexed(), start, n_blocks, &run_begin, &run_end)) return false;
    // Everything from high_water up was free; if this run reaches it, so is everything from here.
    if (run_end >= area.high_water && run_begin < area.high_water) area.high_water = run_begin;
    return true;
}

void HeapImpl::release_object(Area& area, std::size_t head, FreeReason reason) {
    BlockTables& t = area.tables;
    UHEAP_ASSERT(t.is_head(head));  // I1: callers pass object starts only (find_object)
    std::size_t end = t.object_end(head);
    std::size_t n_blocks = end - head;
    if (hooks.on_free != nullptr) hooks.on_free(hooks.user, area.ptr_of(head), n_blocks * kBlockBytes, reason);
    bool indexed = index_freed_blocks(area, head, n_blocks);
    clear_bit(t.head, head);
    clear_bit(t.mark, head);
    clear_bits(t.tail, head, end);
    clear_bits(t.flag, head, end);
    area.used_blocks -= n_blocks;
    stats.used_bytes -= n_blocks * kBlockBytes;
    stats.frees += 1;
    if (!indexed) repair_index(area);
}

// realloc()'s shrink: blocks [new_end, old_end) of an object go back to the index.
void HeapImpl::shrink_in_place(Area& area, std::size_t new_end, std::size_t old_end) {
    BlockTables& t = area.tables;
    std::size_t released = old_end - new_end;
    bool indexed = index_freed_blocks(area, new_end, released);
    clear_bits(t.tail, new_end, old_end);
    clear_bits(t.flag, new_end, old_end);  // a one-block object loses no-scan (see flags_of)
    area.used_blocks -= released;
    stats.used_bytes -= released * kBlockBytes;
    if (!indexed) repair_index(area);
}

// realloc()'s growth without moving: the object takes `extra` blocks from the free run that
// starts right after it (the current run or a listed one), if that run is long enough.
bool HeapImpl::grow_in_place(Area& area, std::size_t old_end, std::size_t extra) {
    BlockTables& t = area.tables;
    if (old_end >= t.n_blocks || !t.is_free(old_end)) return false;
    FitResult fit = index_take_at(area.indexed(), old_end, extra);
    if (fit == FitResult::corrupted) {
        repair_index(area);  // the tables still show the run free: it is re-indexed
        fit = index_take_at(area.indexed(), old_end, extra);
    }
    if (fit != FitResult::found) return false;
    set_bits(t.tail, old_end, old_end + extra);
    std::memset(area.ptr_of(old_end), 0, extra * kBlockBytes);
    area.used_blocks += extra;
    stats.used_bytes += extra * kBlockBytes;
    if (stats.used_bytes > stats.peak_used_bytes) stats.peak_used_bytes = stats.used_bytes;
    if (old_end + extra > area.high_water) area.high_water = old_end + extra;
    blocks_since_collect += extra;
    return true;
}

// Asks the host for an area big enough for n blocks (MicroPython's split-heap-auto: the request
// roughly doubles the heap, and is never less than what the failed allocation needs).
bool HeapImpl::grow_for(std::size_t n_blocks) {
    if (grow_fn == nullptr || collecting) return false;
    std::size_t total_bytes = 0;
    for (const Area* a = first_area; a != nullptr; a = a->next) total_bytes += a->pool_bytes;
    std::size_t need = Heap::region_bytes_for(n_blocks * kBlockBytes);
    std::size_t want = total_bytes > need ? total_bytes : need;
    void* region = nullptr;
    std::size_t region_bytes = 0;
    if (!grow_fn(grow_user, want, &region, &region_bytes) || region == nullptr) return false;
    Status area_status;
    Area* area = lay_out_area(region, region_bytes, 0, nullptr, &area_status);
    if (area == nullptr) return false;
    area->grown = true;
    append_area(area);
    ++stats.areas_grown;
    return true;
}

// An automatic collection is the host's collect callback if it set one (MicroPython's
// gc_collect), otherwise a full collect().
void HeapImpl::run_automatic_collection() {
    if (collect_fn != nullptr) {
        collect_fn(collect_user);
    } else {
        collect();
    }
}

}  // namespace uheap::detail

namespace uheap {

using detail::Area;
using detail::HeapImpl;
using detail::ObjectRef;

void* Heap::alloc(std::size_t n_bytes, unsigned flags, std::uint16_t tag) {
    HeapImpl& self = HeapImpl::of(*this);
    // Fast path: nothing to check (see refresh_fast_path) and the first area's current run has
    // room. n_bytes - 1 wraps for 0, which therefore takes the slow path.
    constexpr std::size_t kFastPathMaxBytes = 64 * kBlockBytes;
    if (n_bytes - 1 < kFastPathMaxBytes && self.blocks_since_collect < self.fast_path_limit) {
        std::size_t n_blocks = (n_bytes + kBlockBytes - 1) / kBlockBytes;
        Area& area = *self.first_area;
        detail::FreeIndex& index = area.index;
        if (index.current_end - index.current_begin >= n_blocks) {
            std::size_t start = index.current_begin;
            detail::take_from_current(index, n_blocks);
            self.commit_object(area, start, n_blocks, flags);
            void* ptr = area.ptr_of(start);
            if (self.hooks.on_alloc != nullptr) self.hooks.on_alloc(self.hooks.user, ptr, n_blocks * kBlockBytes, flags, tag);
            self.status = Status::ok;
            return ptr;
        }
    }
    if (n_bytes == 0) {
        self.status = Status::ok;
        return nullptr;
    }
    if (self.locks > 0 || self.collecting) {
        self.status = Status::locked;
        return nullptr;
    }
    std::size_t n_blocks = n_bytes / kBlockBytes + (n_bytes % kBlockBytes != 0);
    if (n_blocks > detail::kMaxAreaBlocks || (n_blocks > self.max_area_blocks && self.grow_fn == nullptr)) {
        ++self.stats.out_of_memory;
        self.status = Status::too_large;
        return nullptr;
    }
    bool collected = !self.auto_collect_enabled;
    if (!collected && (self.config.collect_on_every_alloc ||
                       (self.threshold_blocks != 0 && self.blocks_since_collect >= self.threshold_blocks))) {
        self.run_automatic_collection();
        collected = true;
    }
    self.status = Status::ok;
    void* ptr = self.allocate_blocks(n_blocks, flags);
    if (ptr == nullptr && !collected) {
        self.run_automatic_collection();
        self.status = Status::ok;
        ptr = self.allocate_blocks(n_blocks, flags);
    }
    if (ptr == nullptr && self.grow_for(n_blocks)) ptr = self.allocate_blocks(n_blocks, flags);
    if (ptr == nullptr) {
        ++self.stats.out_of_memory;
        if (self.hooks.on_out_of_memory != nullptr) self.hooks.on_out_of_memory(self.hooks.user, n_bytes);
        self.status = Status::out_of_memory;
        return nullptr;
    }
    if (self.hooks.on_alloc != nullptr) self.hooks.on_alloc(self.hooks.user, ptr, n_blocks * kBlockBytes, flags, tag);
    return ptr;
}

Status Heap::free(void* ptr) {
    HeapImpl& self = HeapImpl::of(*this);
    if (ptr == nullptr) return self.status = Status::ok;
    // MicroPython: ignored while locked; allowed while only collecting, so finalisers may free.
    if (self.locks > 0) return self.status = Status::locked;
    Status why;
    ObjectRef obj = self.find_object(ptr, &why);
    if (!obj) return self.status = why;
    if (obj.area->tables.is_weak(obj.block)) return self.status = Status::weakly_referenced;
    self.status = Status::ok;
    self.release_object(*obj.area, obj.block, FreeReason::explicit_free);
    return self.status;
}

std::size_t Heap::size_of(const void* ptr) const {
    const HeapImpl& self = HeapImpl::of(*this);
    if (ptr == nullptr) return 0;
    Status why;
    ObjectRef obj = self.find_object(ptr, &why);
    if (!obj) return 0;
    return (obj.area->tables.object_end(obj.block) - obj.block) * kBlockBytes;
}

void* Heap::object_start(const void* ptr) const {
    const HeapImpl& self = HeapImpl::of(*this);
    Area* area = self.area_containing(reinterpret_cast<std::uintptr_t>(ptr));
    if (area == nullptr) return nullptr;
    std::size_t head = area->tables.head_containing(area->block_of(reinterpret_cast<std::uintptr_t>(ptr)));
    return head < area->tables.n_blocks ? area->ptr_of(head) : nullptr;
}

unsigned Heap::flags_of(const void* ptr) const {
    const HeapImpl& self = HeapImpl::of(*this);
    Status why;
    ObjectRef obj = self.find_object(ptr, &why);
    if (!obj) return 0;
    const detail::BlockTables& t = obj.area->tables;
    unsigned flags = 0;
    if (t.has_finaliser(obj.block)) flags |= kFinaliser;
    if (t.is_weak(obj.block)) flags |= kWeak;
    if (t.is_no_scan(obj.block, t.object_end(obj.block))) flags |= kNoScan;
    return flags;
}

Status Heap::set_weak(void* ptr) {
    HeapImpl& self = HeapImpl::of(*this);
    Status why;
    ObjectRef obj = self.find_object(ptr, &why);
    if (!obj) return self.status = why;
    detail::set_bit(obj.area->tables.flag, obj.block);
    return self.status = Status::ok;
}

// MicroPython's gc_realloc, case by case. The original is pinned while a move allocates, so a
// collection triggered by that allocation cannot free it.
void* Heap::realloc(void* ptr, std::size_t n_bytes, bool allow_move) {
    HeapImpl& self = HeapImpl::of(*this);
    if (ptr == nullptr) return alloc(n_bytes);
    if (n_bytes == 0) {
        free(ptr);
        return nullptr;
    }
    if (self.locks > 0 || self.collecting) {
        self.status = Status::locked;
        return nullptr;
    }
    Status why;
    ObjectRef obj = self.find_object(ptr, &why);
    if (!obj) {
        self.status = why;
        return nullptr;
    }
    Area& area = *obj.area;
    std::size_t head = obj.block;
    std::size_t old_end = area.tables.object_end(head);
    std::size_t old_blocks = old_end - head;
    std::size_t new_blocks = n_bytes / kBlockBytes + (n_bytes % kBlockBytes != 0);
    self.status = Status::ok;
    auto report = [&](void* new_ptr) {
        if (self.hooks.on_realloc != nullptr) {
            self.hooks.on_realloc(self.hooks.user, ptr, new_ptr, old_blocks * kBlockBytes, new_blocks * kBlockBytes);
        }
        return new_ptr;
    };
    if (new_blocks == old_blocks) return report(ptr);
    if (new_blocks < old_blocks) {
        self.shrink_in_place(area, head + new_blocks, old_end);
        return report(ptr);
    }
    if (self.grow_in_place(area, old_end, new_blocks - old_blocks)) return report(ptr);
    if (!allow_move) {
        self.status = Status::out_of_memory;
        return nullptr;
    }
    unsigned flags = flags_of(ptr);
    self.pinned = ptr;
    void* moved = alloc(n_bytes, flags & ~static_cast<unsigned>(kWeak));
    self.pinned = nullptr;
    if (moved == nullptr) return nullptr;  // status from alloc; the original is intact
    // A collection inside alloc() cannot have freed the pinned original, and objects never move,
    // so `area` and `head` still describe it.
    std::memcpy(moved, ptr, old_blocks * kBlockBytes);
    self.release_object(area, head, FreeReason::moved);
    if (flags & kWeak) set_weak(moved);  // the weak flag travels with the object
    self.status = Status::ok;
    return report(moved);
}

}  // namespace uheap
