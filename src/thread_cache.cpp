// SPDX-License-Identifier: MIT
// A thread's allocation caches (threads.hpp, ThreadCache): small objects a thread of a shared
// heap hands out without the heap's lock. Under the lock, a refill takes one free run and
// commits it as a batch of objects of one size, end to end, counted as used; then Heap::alloc()
// hands them out in order, each zeroed as it goes, reading and writing nothing but the thread's
// own record and the object. The next collection releases what is left of every cache (after
// the last sweep is finished), so a cache never holds memory across a collection.
//
// Why whole objects and not a raw run carved without the lock: carving writes table words
// (heads, tails) that other threads read under the lock (free, size_of, the scan's object
// lookups), so every table access would need atomics. A batch commits under the lock.
//
// Invariants (checked by verify() through the tables, and by tests/threads):
//   C1  a cache's [next, end) is a run of committed n-block objects (n its size) that nothing
//       but the cache refers to (not yet zeroed: pop() zeroes each);
//   C2  a collection releases the caches of every thread not stopped inside a pop; a thread
//       stopped there (a signal stop, `popping`) keeps them, and the collection marks them, so
//       the object it is taking is live;
//   C3  Counters::allocations is stats.allocations plus every attached record's handed_out.
#include <algorithm>
#include <cstring>

#include "heap_impl.hpp"

namespace uheap::detail {
namespace {

static_assert(kThreadCacheSizes == 4, "pop() zeroes sizes 1 to 4");
constexpr std::size_t kCacheMaxBytes = kThreadCacheSizes * kBlockBytes;
constexpr std::size_t kFirstBatch = 8;        ///< objects in a thread's first refill after a collection
constexpr std::size_t kBatchMaxBlocks = 2048;  ///< blocks in one refill, at most (64 KB on 64-bit, 32 KB on 32-bit)

std::size_t cache_index(std::size_t n_bytes) { return (n_bytes - 1) / kBlockBytes; }

// The one way an object leaves a cache, zeroed here rather than in the refill: the lock is held
// for less, and the object is in the cache when its thread uses it. `next` and `handed_out` are
// relaxed atomics: other threads read them under the lock (counters()) while their owner writes
// them without. One copy per size, its stride and zeroing constant (a few stores, no call): the
// size taken as a variable cost the take 20 more instructions.
template <std::size_t kBlocks>
[[gnu::always_inline]] inline unsigned char* pop_sized(ThreadRecord& me) {
    ThreadCache& c = me.caches[kBlocks - 1];
    unsigned char* object = c.next;
    if (object == c.end) return nullptr;
    __atomic_store_n(&c.next, object + kBlocks * kBlockBytes, __ATOMIC_RELAXED);
    __atomic_store_n(&me.handed_out, me.handed_out + 1, __ATOMIC_RELAXED);
    std::memset(object, 0, kBlocks * kBlockBytes);
    return object;
}

[[gnu::always_inline]] inline unsigned char* pop(ThreadRecord& me, std::size_t index) {
    if (__builtin_expect(index == 0, 1)) return pop_sized<1>(me);  // (the commonest size tested first)
    switch (index) {
        case 1: return pop_sized<2>(me);
        case 2: return pop_sized<3>(me);
        default: return pop_sized<4>(me);
    }
}

// An object from `me`'s cache, without the lock, if the fast path's conditions hold (the thread
// not inside lock() or a heap call, no collection waiting for it: caches_open is clear while
// `stopping` is set), or null: the caller then goes to allocate_slow(), which takes the lock.
// The caller has checked the size (kCacheMaxBytes) and flags (0). `popping` brackets the take,
// so that a signal stop between its read of `next` and its write sees it (C2); compiler fences
// suffice, the handler runs on this thread.
[[gnu::always_inline]] inline void* take_cached(const ThreadSet& set, ThreadRecord& me, std::size_t n_bytes) {
    if ((me.lock_depth | me.in_heap) != 0 || !__atomic_load_n(&set.caches_open, __ATOMIC_RELAXED)) return nullptr;
    me.popping = true;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    void* object = pop(me, cache_index(n_bytes));
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    me.popping = false;
    return object;
}

}  // namespace

// Heap::alloc() with threads enabled: the caller's cache (through the hooks' current()), or
// allocate_slow(), which takes the lock.
void* HeapImpl::allocate_shared(std::size_t n_bytes, unsigned flags, std::uint16_t tag) {
    if (n_bytes - 1 < kCacheMaxBytes && flags == 0) {
        ThreadRecord* me = threads->hooks.current(threads->hooks.user);
        if (me != nullptr) {
            if (void* object = take_cached(*threads, *me, n_bytes)) return object;
        }
    }
    return allocate_slow(n_bytes, flags, tag);
}

// allocate_slow() with the lock held: for a top-level call (not a finaliser's, not under the
// thread's lock()) whose size and flags a cache serves, refills the caller's empty cache and
// takes its first object; else, or if a collection is due or nothing fits, null (the usual
// path allocates this one). A batch doubles with every refill since
// the last collection, from kFirstBatch up to kBatchMaxBlocks, takes at most a sixteenth of the
// area's free blocks, so a small heap is not handed out in caches, and does not cross the
// collection threshold; it is shorter where its free run ends.
void* HeapImpl::allocate_from_refill(ThreadRecord& me, std::size_t n_bytes, unsigned flags) {
    if (n_bytes - 1 >= kCacheMaxBytes || flags != 0 || me.lock_depth != 0 || me.in_heap != 1) return nullptr;
    std::size_t index = cache_index(n_bytes);
    std::size_t n_blocks = index + 1;
    ThreadCache& c = me.caches[index];
    if (!__atomic_load_n(&threads->caches_open, __ATOMIC_RELAXED) || policy.fast_path_limit == 0) return nullptr;
    if (c.next == c.end) {
        Area& area = *areas.first;
        std::size_t objects = kFirstBatch << (me.refills < 8 ? me.refills : 8);
        std::size_t room = policy.blocks_since_collect < policy.fast_path_limit ? policy.fast_path_limit - policy.blocks_since_collect : 0;
        objects = std::min({objects, kBatchMaxBlocks / n_blocks, (area.tables.n_blocks - area.used_blocks) / 16 / n_blocks,
                            room / n_blocks});
        if (objects == 0) return nullptr;
        // The first object first fit, as alloc() would place it; then as many more as follow it
        // in its free run, end to end. (Asking for the whole batch in one run searched the tree
        // for a long run on every refill, 12 000 instructions under the lock, and skipped the
        // holes first fit fills.)
        FreeSpace& fs = area.space;
        std::size_t start = 0;
        if (!free_space_take_current(fs, n_blocks, &start)) {
            start = take_blocks(area, n_blocks);
            if (start == kNoRun) return nullptr;
        }
        std::size_t end = start + n_blocks;
        std::size_t more = std::min<std::size_t>(objects - 1, (fs.current_end - fs.current_begin) / n_blocks);
        std::size_t more_start = 0;
        if (more > 0 && fs.current_begin == end && free_space_take_current(fs, more * n_blocks, &more_start)) end += more * n_blocks;
        BlockTables& t = area.tables;
        if (n_blocks == 1) {
            set_bits(t.head, start, end);
        } else {
            for (std::size_t s = start; s < end; s += n_blocks) {
                set_bit(t.head, s);
                t.set_tails(s + 1, s + n_blocks);
            }
        }
        book_used(area, end, end - start);
        c.next = static_cast<unsigned char*>(area.ptr_of(start));
        c.end = static_cast<unsigned char*>(area.ptr_of(end));
        ++me.refills;
    }
    status = Status::ok;
    return pop(me, index);
}

// What is left of one thread's caches becomes free again, and what it handed out is counted.
// Called with the lock held and the thread parked, stopped or detaching (never inside a pop of
// its own); the blocks are freed as free() frees them. A thread stopped inside a pop keeps
// everything (C2).
void HeapImpl::release_caches_of(ThreadRecord& r) {
    if (r.popping) return;
    stats.allocations += r.handed_out;
    r.handed_out = 0;
    r.refills = 0;
    for (std::size_t index = 0; index < kThreadCacheSizes; ++index) {
        ThreadCache& c = r.caches[index];
        if (c.next != c.end) {
            Area& area = *areas.containing(reinterpret_cast<std::uintptr_t>(c.next));
            std::size_t begin = area.block_of(reinterpret_cast<std::uintptr_t>(c.next));
            std::size_t end = area.block_of(reinterpret_cast<std::uintptr_t>(c.end));
            std::size_t n_blocks = end - begin;
            area.tables.clear_blocks(begin, end);
            blocks_freed(area, begin, end);
            book_released(area, n_blocks);
            // (Never handed out: not allocated, as far as bytes_allocated and the debt go.)
            policy.blocks_since_collect -= n_blocks < policy.blocks_since_collect ? n_blocks : policy.blocks_since_collect;
        }
        c.next = c.end = nullptr;
    }
}

// begin_collection(), every other thread parked or stopped, the last sweep finished.
void HeapImpl::release_thread_caches() {
    for (ThreadRecord* r = threads->first; r != nullptr; r = r->next) release_caches_of(*r);
}

// The roots phase: the caches a signal stop found inside a pop are live (C2).
void HeapImpl::mark_kept_thread_caches() {
    for (const ThreadRecord* r = threads->first; r != nullptr; r = r->next) {
        if (!r->popping) continue;
        for (std::size_t index = 0; index < kThreadCacheSizes; ++index) {
            const ThreadCache& c = r->caches[index];
            for (unsigned char* p = c.next; p != c.end; p += (index + 1) * kBlockBytes) {
                void* const object = p;
                mark_root_words(&object, 1);
            }
        }
    }
}

// counters() (under the lock): what the caches handed out since the last collection (C3).
std::size_t HeapImpl::handed_out_by_caches() const {
    std::size_t n = 0;
    for (const ThreadRecord* r = threads->first; r != nullptr; r = r->next) n += __atomic_load_n(&r->handed_out, __ATOMIC_RELAXED);
    return n;
}

}  // namespace uheap::detail

namespace uheap {

// The same as alloc() but for the record lookup: a thread that has its record skips current().
// A miss goes straight to the lock (alloc() would look the record up and try the cache again).
void* Heap::alloc(ThreadRecord& caller, std::size_t n_bytes, unsigned flags, std::uint16_t tag) {
    detail::HeapImpl& self = detail::HeapImpl::of(*this);
    if (!self.shared()) return alloc(n_bytes, flags, tag);
    if (n_bytes - 1 < detail::kCacheMaxBytes && flags == 0) {
        UHEAP_ASSERT(self.threads->hooks.current(self.threads->hooks.user) == &caller);  // the caller's own
        if (void* object = detail::take_cached(*self.threads, caller, n_bytes)) return object;
    }
    return self.allocate_slow(n_bytes, flags, tag);
}

}  // namespace uheap
