// SPDX-License-Identifier: MIT
// Objects: committing and releasing runs of blocks with their accounting, and the public
// alloc / free / realloc / size_of / flags_of / set_weak. When to collect or grow is policy.cpp's.
#include <cstring>

#include "heap_impl.hpp"

namespace uheap::detail {

// Marks [start, start + n) as one object with `flags`, books it, and zeroes it last, so the
// zeroing is a tail call and the allocation fast path needs no register saved across a call.
// Inlined into both allocation paths; the common one-block, no-flag case touches one table word.
inline void* HeapImpl::commit_object(Area& area, std::size_t start, std::size_t n_blocks, unsigned flags) {
    BlockTables& t = area.tables;
    UHEAP_ASSERT(t.is_free(start) && t.is_free(start + n_blocks - 1));  // I1, I5: the run was free
    set_bit(t.head, start);
    if (n_blocks > 1) {
        std::size_t first_tail = start + 1;
        std::size_t end = start + n_blocks;
        if (word_index(first_tail) == word_index(end - 1)) {  // the usual case: one table word
            unsigned from = static_cast<unsigned>(first_tail % kWordBits);
            t.tail[word_index(first_tail)] |= bits_from(from) & bits_below(static_cast<unsigned>((end - 1) % kWordBits) + 1);
        } else {
            t.set_tails(first_tail, end);
        }
    }
    if (flags != 0) {
        // (A build without finalisers or weak references ignores their flags, as py/gc.c does
        // without MICROPY_ENABLE_FINALISER; allocate_slow() refuses kDestructor there.)
        if (built::kFinalisers && (flags & (kFinaliser | kDestructor))) t.set_finaliser(start);
        if (built::kFinalisers && (flags & kDestructor)) t.set_destructor(start);  // two blocks or more: allocate_slow
        if (built::kWeakReferences && (flags & kWeak)) t.set_weak(start);
        if ((flags & kNoScan) && n_blocks >= 2) t.set_no_scan(start);
    }
    book_used(area, start + n_blocks, n_blocks);
    stats.allocations += 1;
    void* object = area.ptr_of(start);
    if (n_blocks == 1) {  // a constant size: a few stores, no call
        std::memset(object, 0, kBlockBytes);
        return object;
    }
    if (n_blocks == 2) {  // the next most common size (33-64 bytes on 64-bit)
        std::memset(object, 0, 2 * kBlockBytes);  // (even if kUninitialised: cheaper than the test)
        return object;
    }
    // Never scanned (no-scan, two blocks or more), so what the host asked to keep uninitialised
    // can hold anything; but a kDestructor object's last word must start zero (it is called).
    if ((flags & (kNoScan | kUninitialised | kDestructor)) == (kNoScan | kUninitialised)) return object;
    return std::memset(object, 0, n_blocks * kBlockBytes);
}

// commit_object() out of line, for the fast path's rare object whose tails cross a table word
// (set_bits loops): called in tail position, so the fast path itself makes no call.
void* HeapImpl::commit_spanning_object(Area& area, std::size_t start, std::size_t n_blocks, unsigned flags) {
    return commit_object(area, start, n_blocks, flags);
}

// Areas are tried in the order they were added, so the first area fills before later ones and
// grown areas empty out first (and can be handed back). Within an area, first fit.
void* HeapImpl::allocate_blocks(std::size_t n_blocks, unsigned flags) {
    for (Area* a = areas.first; a != nullptr; a = a->next) {
        if (n_blocks > a->tables.n_blocks - a->used_blocks) continue;
        std::size_t start = take_blocks(*a, n_blocks);
        if (start == kNoRun) continue;
        if (poisoning()) unpoison_blocks(a->ptr_of(start), n_blocks * kBlockBytes);  // (fast path closed)
        void* object = commit_object(*a, start, n_blocks, flags);
        // Born marked during an incremental cycle: marking may have passed every pointer to it.
        // (Only here: the fast path is closed during a cycle. Marking there cost every
        // allocation, cycle or not, 19 instructions in gcbench: registers saved for the branch.)
        if (built::kIncremental && marking_) a->tables.set_mark(start);
        return object;
    }
    return nullptr;
}

// The counters an allocation does not update one by one, derived when asked (see book_used).
// O(areas): a heap has one area, or a few grown ones.
std::size_t HeapImpl::used_blocks_now() const {
    std::size_t used = 0;
    for (const Area* a = areas.first; a != nullptr; a = a->next) used += a->used_blocks;
    return used;
}

// Called before any block is released: use only grows between releases, so its peak is reached
// right before one (or now, which derived_counters() adds).
void HeapImpl::note_peak() {
    std::size_t used = used_blocks_now() * kBlockBytes;
    if (used > stats.peak_used_bytes) stats.peak_used_bytes = used;
}

// A collection starts: the blocks allocated since the last one join bytes_allocated, and the
// debt starts again from zero. (realloc's growth in place adds to the debt but is not an
// allocation: grow_in_place takes it out of stats.bytes_allocated in advance, which may wrap for
// a while; the sums below wrap back.)
void HeapImpl::settle_allocated() {
    stats.bytes_allocated += std::uint64_t(policy.blocks_since_collect) * kBlockBytes;
    policy.blocks_since_collect = 0;
}

Counters HeapImpl::derived_counters() const {
    Counters c = stats;
    c.used_bytes = used_blocks_now() * kBlockBytes;
    if (c.used_bytes > c.peak_used_bytes) c.peak_used_bytes = c.used_bytes;
    c.bytes_allocated += std::uint64_t(policy.blocks_since_collect) * kBlockBytes;
    if (shared()) c.allocations += handed_out_by_caches();  // (C3, thread_cache.cpp)
    return c;
}

// Blocks [begin, end) are free in the tables now: the free space learns it, and the high-water
// mark comes down if they reach it. Nothing is written into the blocks themselves, unless they
// are poisoned (HeapConfig::poison_freed).
void HeapImpl::blocks_freed(Area& area, std::size_t begin, std::size_t end) {
    if (poisoning()) poison_blocks(area.ptr_of(begin), (end - begin) * kBlockBytes);
    std::size_t run_begin = free_space_released(area.space, area.tables, begin, end);
    // Everything from high_water up was free; if this run reaches it, so is everything from its start.
    if (end >= area.high_water && begin < area.high_water) area.high_water = run_begin;
}

// Frees one object now. Registrations whose nodes lived inside it are unlinked first, so the
// heap never follows a node into memory it has handed back.
void HeapImpl::release_object(Area& area, std::size_t head, FreeReason reason) {
    BlockTables& t = area.tables;
    UHEAP_ASSERT(t.is_head(head));  // I1: callers pass object starts only (object_at)
    area.resized_end = 0;
    std::size_t end = t.object_end(head);
    std::size_t n_blocks = end - head;
    unlink_registrations_in(reinterpret_cast<std::uintptr_t>(area.ptr_of(head)),
                            reinterpret_cast<std::uintptr_t>(area.ptr_of(end)));
    if (cb.hooks().on_free != nullptr) cb.hooks().on_free(cb.hooks().user, area.ptr_of(head), n_blocks * kBlockBytes, reason);
    t.clear_blocks(head, end);
    blocks_freed(area, head, end);
    book_released(area, n_blocks);
    stats.frees += 1;
}

// realloc()'s shrink: blocks [new_end, old_end) of an object become free.
void HeapImpl::shrink_in_place(Area& area, std::size_t new_end, std::size_t old_end) {
    BlockTables& t = area.tables;
    unlink_registrations_in(reinterpret_cast<std::uintptr_t>(area.ptr_of(new_end)),
                            reinterpret_cast<std::uintptr_t>(area.ptr_of(old_end)));
    t.clear_blocks(new_end, old_end);  // a one-block object loses no-scan (see flags_of)
    blocks_freed(area, new_end, old_end);
    book_released(area, old_end - new_end);
}

// realloc()'s growth without moving: the object takes `extra` blocks from the free run that
// starts right after it, if the tables show that many free there. O(extra / 64).
bool HeapImpl::grow_in_place(Area& area, std::size_t old_end, std::size_t extra) {
    BlockTables& t = area.tables;
    if (old_end >= t.n_blocks || extra > t.n_blocks - old_end) return false;
    sweep_through(area, old_end + extra);  // dead objects there are free blocks to an eager sweep
    if (t.free_run_length(old_end, old_end + extra) != extra) return false;
    free_space_taken(area.space, old_end, old_end + extra);
    t.set_tails(old_end, old_end + extra);
    if (poisoning()) unpoison_blocks(area.ptr_of(old_end), extra * kBlockBytes);
    std::memset(area.ptr_of(old_end), 0, extra * kBlockBytes);
    book_used(area, old_end + extra, extra);
    stats.bytes_allocated -= std::uint64_t(extra) * kBlockBytes;  // in the debt, not an allocation
    return true;
}

// realloc()'s move. The original is pinned while the new object is allocated: that allocation
// may collect, and host code running then (finalisers, the after-sweep callback, a grow
// callback) can neither free it nor let a sweep take it. Objects never move otherwise, so
// `area` and `head` still describe the original afterwards.
void* HeapImpl::move_object(void* ptr, Area& area, std::size_t head, std::size_t n_bytes, unsigned flags) {
    std::size_t old_bytes = (area.tables.object_end(head) - head) * kBlockBytes;
    PinNode pin{ptr, gc.pins};
    gc.pins = &pin;
    void* moved = alloc(n_bytes, flags);
    UHEAP_ASSERT(gc.pins == &pin);  // nested moves unpin themselves, innermost first
    gc.pins = pin.below;
    if (moved == nullptr) return nullptr;  // status from alloc; the original is intact
    UHEAP_ASSERT(area.tables.is_head(head) && (area.tables.object_end(head) - head) * kBlockBytes == old_bytes);
    std::memcpy(moved, ptr, old_bytes);
    // During an incremental cycle the copy is born marked, but the original may not have been
    // scanned: the copy is scanned again (write_barrier(moved)'s work), or what only it points
    // to would be lost.
    if (built::kIncremental && marking_) record_store(moved);
    auto old_begin = reinterpret_cast<std::uintptr_t>(ptr);
    relocate_registrations(old_begin, old_begin + old_bytes, reinterpret_cast<std::uintptr_t>(moved));
    release_object(area, head, FreeReason::moved);
    status = Status::ok;
    return moved;
}

}  // namespace uheap::detail

namespace uheap {

using detail::Area;
using detail::HeapImpl;
using detail::ObjectRef;
using detail::Op;

// GCC's partial inlining may split alloc() after its first tests into a clone that saves six
// registers on entry, where otherwise only the rare shapes save them (gcbench 105 -> 139
// instructions per allocation when it did). Clang does not split.
#if defined(__GNUC__) && !defined(__clang__)
#define UHEAP_WHOLE_FAST_PATH __attribute__((optimize("no-partial-inlining")))
#else
#define UHEAP_WHOLE_FAST_PATH
#endif

// The fast path: nothing to check (refresh_fast_path: not locked, idle, under the threshold, no
// on_alloc hook) and the first area's current run has room. When only the room is missing, the
// first area is searched (allocate_searching) without the slow path's checks. With an on_alloc
// hook (a profiler) and the other checks passing, allocate_observed() takes the same run and then
// calls the hook; everything else is the slow path. All are out of line and reached by tail calls, so the fast path makes no call
// of its own. n_bytes - 1 wraps for 0, which therefore takes the slow path.
UHEAP_WHOLE_FAST_PATH void* Heap::alloc(std::size_t n_bytes, unsigned flags, std::uint16_t tag) {
    HeapImpl& self = HeapImpl::of(*this);
    constexpr std::size_t kFastPathMaxBytes = 64 * kBlockBytes;
    // (With threads, nothing is read before the lock: allocate_slow() takes it, then this path.)
    if (n_bytes - 1 < kFastPathMaxBytes && (flags & kDestructor) == 0 && !self.shared() &&
        self.policy.blocks_since_collect < self.policy.fast_path_limit) {
        std::size_t n_blocks = detail::blocks_for_bytes(n_bytes);
        Area& area = *self.areas.first;
        std::size_t start = 0;
        if (!detail::free_space_take_current(area.space, n_blocks, &start)) {
            return self.allocate_searching(area, n_blocks, flags, n_bytes, tag);
        }
        self.status = Status::ok;
        // The commonest shape with its constants folded in, so its path saves no register
        // (gcbench 118 -> 103 instructions per allocation). The same for two blocks cost the
        // other sizes more than it saved them.
        if (flags == 0 && n_blocks == 1) return self.commit_object(area, start, 1, 0);
        if (n_blocks > 1 && detail::word_index(start + 1) != detail::word_index(start + n_blocks - 1)) {
            return self.commit_spanning_object(area, start, n_blocks, flags);
        }
        return self.commit_object(area, start, n_blocks, flags);
    }
    if (self.shared()) return self.allocate_shared(n_bytes, flags, tag);  // its thread's cache, or the lock
    // A load and a tail call: no call before it, or this function would need a frame on every path.
    if (self.cb.hooks().on_alloc != nullptr) return self.allocate_observed(n_bytes, flags, tag);
    return self.allocate_slow(n_bytes, flags, tag);
}

// The fast path's checks passed (so no collection is due and no hook wants to see the
// allocation) but the current run is too short: first fit in the first area, as
// allocate_blocks() would try first. Only if that fails does the slow path run, with all its
// checks, from the start.
void* HeapImpl::allocate_searching(Area& area, std::size_t n_blocks, unsigned flags, std::size_t n_bytes,
                                   std::uint16_t tag) {
    if (n_blocks <= area.tables.n_blocks - area.used_blocks) {
        std::size_t start = take_blocks(area, n_blocks);
        if (start != kNoRun) {
            status = Status::ok;
            return commit_object(area, start, n_blocks, flags);
        }
    }
    return allocate_slow(n_bytes, flags, tag);
}

// Every allocation the fast path does not take: zero bytes, a lock, a collection in progress,
// the threshold, a search of the free space, growth, and the on_alloc hook.
void* HeapImpl::allocate_slow(std::size_t n_bytes, unsigned flags, std::uint16_t tag) {
    SharedSection shared(*this);
    if (shared.refused()) return nullptr;
    if (this->shared()) {  // the fast path's test and take, now that the lock is held
        constexpr std::size_t kFastPathMaxBytes = 64 * kBlockBytes;
        if (void* object = allocate_from_refill(shared.me(), n_bytes, flags)) return object;
        std::size_t n_blocks = blocks_for_bytes(n_bytes);
        Area& area = *areas.first;
        std::size_t start = 0;
        if (n_bytes - 1 < kFastPathMaxBytes && (flags & kDestructor) == 0 && policy.blocks_since_collect < policy.fast_path_limit &&
            shared.depth() == 0 && free_space_take_current(area.space, n_blocks, &start)) {
            status = Status::ok;
            return commit_object(area, start, n_blocks, flags);
        }
    }
    if (n_bytes == 0) {
        status = Status::ok;
        return nullptr;
    }
    if ((this->shared() ? shared.depth() : policy.locks) > 0) {
        status = Status::locked;
        return nullptr;
    }
    if (!admitted(Op::allocate)) return nullptr;
    if (!built::kFinalisers && (flags & kDestructor)) {  // its destructor would never run
        status = Status::unsupported;
        return nullptr;
    }
    std::size_t n_blocks = blocks_for_bytes(n_bytes);
    if ((flags & kDestructor) && n_blocks < 2) n_blocks = 2;  // its flag lives on the first tail
    void* ptr = allocate_by_policy(n_bytes, n_blocks, flags);
    if (ptr == nullptr) return nullptr;
    if (cb.hooks().on_alloc != nullptr) cb.hooks().on_alloc(cb.hooks().user, ptr, n_blocks * kBlockBytes, flags, tag);
    return ptr;
}

// The fast path's take for a heap with an on_alloc hook (unshared): if the fast path's tests pass
// but for the hook's, the current run, else first fit in the first area, then the hook. Anything
// else, or no room, is allocate_slow()'s.
void* HeapImpl::allocate_observed(std::size_t n_bytes, unsigned flags, std::uint16_t tag) {
    constexpr std::size_t kObservedMaxBytes = 64 * kBlockBytes;
    if (n_bytes - 1 >= kObservedMaxBytes || (flags & kDestructor) != 0 ||
        policy.blocks_since_collect >= unobserved_fast_path_limit()) {
        return allocate_slow(n_bytes, flags, tag);
    }
    std::size_t n_blocks = blocks_for_bytes(n_bytes);
    Area& area = *areas.first;
    std::size_t start = 0;
    if (!free_space_take_current(area.space, n_blocks, &start)) {
        if (n_blocks > area.tables.n_blocks - area.used_blocks) return allocate_slow(n_bytes, flags, tag);
        start = take_blocks(area, n_blocks);
        if (start == kNoRun) return allocate_slow(n_bytes, flags, tag);
    }
    status = Status::ok;
    void* ptr = commit_object(area, start, n_blocks, flags);
    cb.hooks().on_alloc(cb.hooks().user, ptr, n_blocks * kBlockBytes, flags, tag);
    return ptr;
}

Status Heap::free(void* ptr) {
    HeapImpl& self = HeapImpl::of(*this);
    detail::SharedSection shared(self);
    if (shared.refused()) return self.status;
    if (ptr == nullptr) return self.status = Status::ok;
    // MicroPython: ignored while locked; allowed while collecting, so finalisers may free.
    if (self.caller_locks() > 0) return self.status = Status::locked;
    if (!self.admitted(Op::free)) return self.status;
    ObjectRef obj;
    if (Status why = self.find_object(ptr, &obj); why != Status::ok) return self.status = why;
    if (obj.area->tables.is_weak(obj.block)) return self.status = Status::weakly_referenced;
    if (self.is_pinned(ptr)) return self.status = Status::pinned;
    self.status = Status::ok;
    self.release_object(*obj.area, obj.block, FreeReason::explicit_free);
    return self.status;
}

std::size_t Heap::size_of(const void* ptr) const {
    const HeapImpl& self = HeapImpl::of(*this);
    detail::SharedSection shared(self);
    if (shared.refused()) return 0;
    ObjectRef obj;
    if (ptr == nullptr || self.find_object(ptr, &obj) != Status::ok) return 0;
    return (obj.area->tables.object_end(obj.block) - obj.block) * kBlockBytes;
}

void* Heap::object_start(const void* ptr) const {
    const HeapImpl& self = HeapImpl::of(*this);
    detail::SharedSection shared(self);
    if (shared.refused()) return nullptr;
    ObjectRef obj = self.areas.object_at(ptr, true);
    if (obj && obj.area->is_dead_unswept(obj.block)) obj = ObjectRef{};
    return obj ? obj.area->ptr_of(obj.block) : nullptr;
}

unsigned Heap::flags_of(const void* ptr) const {
    const HeapImpl& self = HeapImpl::of(*this);
    detail::SharedSection shared(self);
    if (shared.refused()) return 0;
    ObjectRef obj;
    if (self.find_object(ptr, &obj) != Status::ok) return 0;
    const detail::BlockTables& t = obj.area->tables;
    unsigned flags = 0;
    if (t.has_finaliser(obj.block)) flags |= t.has_destructor(obj.block) ? kDestructor : kFinaliser;
    if (t.is_weak(obj.block)) flags |= kWeak;
    if (t.is_no_scan(obj.block, t.object_end(obj.block))) flags |= kNoScan;
    return flags;
}

Status Heap::set_weak(void* ptr) {
    HeapImpl& self = HeapImpl::of(*this);
    detail::SharedSection shared(self);
    if (shared.refused()) return self.status;
    if (!built::kWeakReferences) return self.status = Status::unsupported;
    if (!self.admitted(Op::set_weak)) return self.status;
    ObjectRef obj;
    if (Status why = self.find_object(ptr, &obj); why != Status::ok) return self.status = why;
    obj.area->tables.set_weak(obj.block);
    return self.status = Status::ok;
}

// MicroPython's gc_realloc, case by case.
void* Heap::realloc(void* ptr, std::size_t n_bytes, bool allow_move) {
    HeapImpl& self = HeapImpl::of(*this);
    detail::SharedSection shared(self);
    if (shared.refused()) return nullptr;
    if (ptr == nullptr) return alloc(n_bytes);
    if (n_bytes == 0) {
        free(ptr);
        return nullptr;
    }
    if (self.caller_locks() > 0) {
        self.status = Status::locked;
        return nullptr;
    }
    if (!self.admitted(Op::allocate)) return nullptr;
    ObjectRef obj;
    if (Status why = self.find_object(ptr, &obj); why != Status::ok) {
        self.status = why;
        return nullptr;
    }
    if (self.is_pinned(ptr)) {  // an outer realloc() is moving it (we are in its collection)
        self.status = Status::pinned;
        return nullptr;
    }
    Area& area = *obj.area;
    std::size_t head = obj.block;
    const bool known = area.resized_end != 0 && area.resized_head == head;
    std::size_t old_end = known ? area.resized_end : area.tables.object_end(head);
    UHEAP_ASSERT(old_end == area.tables.object_end(head));  // I2: the remembered end is the tables'
    std::size_t old_blocks = old_end - head;
    std::size_t new_blocks = detail::blocks_for_bytes(n_bytes);
    // A kDestructor object's DestructorFn is its last word: another length would lose it.
    if (new_blocks != old_blocks && area.tables.has_destructor(head)) {
        self.status = Status::invalid_argument;
        return nullptr;
    }
    self.status = Status::ok;
    auto remember = [&](std::size_t end) {
        area.resized_head = static_cast<std::uint32_t>(head);
        area.resized_end = static_cast<std::uint32_t>(end);
    };
    remember(head + new_blocks);  // forgotten below if it moves
    auto report = [&](void* new_ptr) {
        if (self.cb.hooks().on_realloc != nullptr) {
            self.cb.hooks().on_realloc(self.cb.hooks().user, ptr, new_ptr, old_blocks * kBlockBytes, new_blocks * kBlockBytes);
        }
        return new_ptr;
    };
    if (new_blocks == old_blocks) return report(ptr);
    if (new_blocks < old_blocks) {
        self.shrink_in_place(area, head + new_blocks, old_end);
        return report(ptr);
    }
    if (self.grow_in_place(area, old_end, new_blocks - old_blocks)) {
        return report(ptr);
    }
    remember(old_end);  // it did not grow
    if (!allow_move) {
        self.status = Status::out_of_memory;
        return nullptr;
    }
    // A weakly referenced object keeps its address: the host's weak references name it.
    if (area.tables.is_weak(head)) {
        self.status = Status::weakly_referenced;
        return nullptr;
    }
    void* moved = self.move_object(ptr, area, head, n_bytes, flags_of(ptr));
    return moved != nullptr ? report(moved) : nullptr;
}

}  // namespace uheap
