// SPDX-License-Identifier: MIT
// The collector: roots, mark (bounded stack that spills into free blocks), weak slots, finalisers, sweep.
//
// A collection, in order (docs/design.md §5):
//   1 start     collecting = true: alloc refused, free still allowed (finalisers may free)
//   2 roots     registered ranges, the pinned realloc original, then what the host reports
//   3 mark      depth-first with an explicit stack of word ranges; popped ranges pass through
//               a small FIFO ring that prefetches them; large objects are scanned in chunks so
//               wide objects do not flood the stack; a full stack spills into free heap blocks,
//               and only when none is left is an object deferred (marked, unscanned, its block
//               widening its area's deferred range, rescanned after the stack drains: only that
//               range, never the whole heap)
//   4 weak      weak slots whose target is unmarked read null
//   5 finalise  for each dead head in address order: the finaliser, then the weak callback
//   6 sweep     word-at-a-time to the high-water mark: free dead objects, clear marks, rebuild
//               the free-run index, recompute the high-water mark; hand back empty grown areas
//   7 end       collecting = false, counters, then the after-sweep weak callback (may allocate)
#include <cstring>

#include "heap_impl.hpp"

namespace uheap::detail {
namespace {

/// Words of one object scanned before the rest of it goes back on the stack.
constexpr std::size_t kScanChunkWords = 32;

void defer(Area& area, std::size_t head) {
    if (area.deferred_lo >= area.deferred_hi) {
        area.deferred_lo = head;
        area.deferred_hi = head + 1;
        return;
    }
    if (head < area.deferred_lo) area.deferred_lo = head;
    if (head + 1 > area.deferred_hi) area.deferred_hi = head + 1;
}

/// One past the last used block of an area (0 if it is empty), searching down from `from`.
std::size_t last_used_block_end(const BlockTables& t, std::size_t from) {
    for (std::size_t w = words_for_blocks(from); w-- > 0;) {
        Word used = t.head[w] | t.tail[w];
        if (used != 0) return w * kWordBits + highest_bit(used) + 1;
    }
    return 0;
}

}  // namespace

// A full stack spills into free heap blocks; only when the heap has no free run left is the
// object deferred (marked, unscanned, rescanned later through its area's deferred range).
inline void HeapImpl::push_object(Area& area, std::size_t head, std::size_t end) {
    if (mark_depth == mark_capacity) {
        ++overflows_this_collection;
        if (!spill_mark_stack()) {
            defer(area, head);
            return;
        }
    }
    // I3 during a collection: only heads are marked, and an object is pushed only once marked.
    UHEAP_ASSERT(mark_depth < mark_capacity && area.tables.is_head(head) && area.tables.is_marked(head));
    auto* begin = static_cast<void* const*>(area.ptr_of(head));
    mark_stack[mark_depth++] = MarkRange{begin, begin + (end - head) * kBlockWords};
}

// Marks the object `word` points at, if it does: exactly at its first byte (MicroPython's rule)
// or, with interior pointers, anywhere inside it. Templated so the rule costs nothing when off.
template <bool kInteriorPointers>
void HeapImpl::mark_word(std::uintptr_t word) {
    Area* area = first_area;
    while (!area->contains(word)) {
        area = area->next;
        if (area == nullptr) return;
    }
    std::uintptr_t offset = word - area->pool_begin;
    std::size_t block = offset / kBlockBytes;
    BlockTables& t = area->tables;
    if constexpr (kInteriorPointers) {
        block = t.head_containing(block);
        if (block >= t.n_blocks) return;
    } else {
        if (offset % kBlockBytes != 0 || !t.is_head(block)) return;
    }
    if (t.is_marked(block)) return;
    set_bit(t.mark, block);
    // Most objects are one block: only look for the end when the next block is a tail.
    std::size_t next = block + 1;
    std::size_t end = next < t.n_blocks && t.is_tail(next) ? t.object_end(block) : next;
    if (t.is_no_scan(block, end)) return;  // marked, contents never read
    push_object(*area, block, end);
}

// Scratch for spilled entries: the largest free run of the first area that has one. A run too
// small for a few entries is dropped (it is scratch anyway) and the next one tried.
SpillSegment* HeapImpl::new_spill_segment() {
    constexpr std::size_t kMinEntries = 4;
    for (Area* a = first_area; a != nullptr; a = a->next) {
        for (int attempt = 0; attempt < 4; ++attempt) {
            std::size_t start = 0;
            std::size_t n = 0;
            if (!index_take_largest_run(a->indexed(), &start, &n)) break;
            a->index_stale = true;
            std::size_t capacity = (n * kBlockBytes - sizeof(SpillSegment)) / sizeof(MarkRange);
            if (n * kBlockBytes < sizeof(SpillSegment) || capacity < kMinEntries) continue;
            auto* segment = static_cast<SpillSegment*>(a->ptr_of(start));
            segment->below = nullptr;
            segment->count = 0;
            segment->capacity = capacity;
            return segment;
        }
    }
    return nullptr;
}

// Moves the top of the fixed stack into a segment, leaving room to push.
bool HeapImpl::spill_mark_stack() {
    SpillSegment* segment = spare_segments;
    if (segment != nullptr) {
        spare_segments = segment->below;
    } else if ((segment = new_spill_segment()) == nullptr) {
        return false;
    }
    std::size_t moved = segment->capacity < mark_depth ? segment->capacity : mark_depth;
    std::memcpy(segment->entries(), mark_stack + mark_depth - moved, moved * sizeof(MarkRange));
    segment->count = moved;
    mark_depth -= moved;
    segment->below = spilled;
    spilled = segment;
    return true;
}

// Brings the most recently spilled entries back when the fixed stack runs empty.
bool HeapImpl::refill_mark_stack() {
    SpillSegment* segment = spilled;
    if (segment == nullptr) return false;
    std::size_t moved = segment->count < mark_capacity ? segment->count : mark_capacity;
    std::memcpy(mark_stack, segment->entries() + segment->count - moved, moved * sizeof(MarkRange));
    segment->count -= moved;
    mark_depth = moved;
    if (segment->count == 0) {
        spilled = segment->below;
        segment->below = spare_segments;
        spare_segments = segment;
    }
    return true;
}

// Ranges popped from the stack wait in a small FIFO ring before they are scanned, and are
// prefetched as they enter it: by the time a range is scanned its first line has had
// kPrefetchRing - 1 other scans to arrive. Scanning straight off a LIFO stack touches each object
// right after the prefetch issued when it was pushed, which hides nothing.
constexpr unsigned kPrefetchRing = 8;

template <bool kInteriorPointers>
static void drain(HeapImpl& heap) {
    const bool single_area = heap.first_area->next == nullptr;
    const std::uintptr_t pool_begin = heap.first_area->pool_begin;
    const std::size_t pool_bytes = heap.first_area->pool_bytes;
    MarkRange ring[kPrefetchRing];
    bool chunk_in_ring[kPrefetchRing];
    unsigned first = 0;
    unsigned count = 0;
    unsigned chunks = 0;  // ring entries cut from a large object
    for (;;) {
        // Deferred objects are refilled only once the ring is empty, as before once the stack was.
        while (count < kPrefetchRing && (heap.mark_depth > 0 || (count == 0 && heap.refill_mark_stack()))) {
            MarkRange range = heap.mark_stack[heap.mark_depth - 1];
            bool split = static_cast<std::size_t>(range.end - range.begin) > kScanChunkWords;
            // One chunk of a large object in the ring at a time: a ring full of chunks would push
            // up to kPrefetchRing * kScanChunkWords children at once and overflow a small stack.
            // The rest of the object stays on the stack until that chunk is scanned.
            if (split && chunks > 0) break;
            if (split) {
                heap.mark_stack[heap.mark_depth - 1] = MarkRange{range.begin + kScanChunkWords, range.end};
                range.end = range.begin + kScanChunkWords;
            } else {
                --heap.mark_depth;
            }
            __builtin_prefetch(range.begin);
            unsigned slot = (first + count++) % kPrefetchRing;
            ring[slot] = range;
            chunk_in_ring[slot] = split;
            chunks += split;
        }
        if (count == 0) return;
        MarkRange range = ring[first];
        chunks -= chunk_in_ring[first];
        first = (first + 1) % kPrefetchRing;
        --count;
        for (void* const* p = range.begin; p < range.end; ++p) {
            auto word = reinterpret_cast<std::uintptr_t>(*p);
            // Most words are not pointers into the pool (numbers, nulls, outside pointers). With a
            // single area they are rejected here against bounds held in registers, before the
            // call; mark_word() repeats the full test for everything else.
            if (single_area) {
                std::uintptr_t offset = word - pool_begin;
                if (offset >= pool_bytes) continue;
                if (!kInteriorPointers && offset % kBlockBytes != 0) continue;
            }
            heap.mark_word<kInteriorPointers>(word);
        }
    }
}

void HeapImpl::drain_mark_stack() {
    if (config.interior_pointers) {
        drain<true>(*this);
    } else {
        drain<false>(*this);
    }
}

// Each root that marks something is traced at once, so the stack holds one root's subgraph at a
// time and a long root range cannot overflow it by itself.
void HeapImpl::mark_root_words(void* const* words, std::size_t n_words) {
    if (config.interior_pointers) {
        for (std::size_t i = 0; i < n_words; ++i) {
            mark_word<true>(reinterpret_cast<std::uintptr_t>(words[i]));
            if (mark_depth > 0 || spilled != nullptr) drain<true>(*this);
        }
    } else {
        for (std::size_t i = 0; i < n_words; ++i) {
            mark_word<false>(reinterpret_cast<std::uintptr_t>(words[i]));
            if (mark_depth > 0 || spilled != nullptr) drain<false>(*this);
        }
    }
}

// Rescans the marked objects in each area's deferred range until no object is left deferred.
// Objects in the range that were already scanned are scanned again (harmless, their children
// are marked); the range is usually small because large objects are chunked.
void HeapImpl::scan_deferred() {
    for (bool again = true; again;) {
        again = false;
        for (Area* a = first_area; a != nullptr; a = a->next) {
            if (a->deferred_lo >= a->deferred_hi) continue;
            again = true;
            std::size_t lo = a->deferred_lo;
            std::size_t hi = a->deferred_hi;
            a->deferred_lo = a->deferred_hi = 0;
            const BlockTables& t = a->tables;
            for (std::size_t w = word_index(lo); w <= word_index(hi - 1); ++w) {
                Word pending = t.head[w] & t.mark[w];
                if (w == word_index(lo)) pending &= bits_from(static_cast<unsigned>(lo % kWordBits));
                if (w == word_index(hi - 1)) pending &= bits_below(static_cast<unsigned>((hi - 1) % kWordBits) + 1);
                while (pending != 0) {
                    std::size_t head = w * kWordBits + count_trailing_zeros(pending);
                    pending &= pending - 1;
                    std::size_t end = t.object_end(head);
                    if (t.is_no_scan(head, end)) continue;
                    push_object(*a, head, end);
                    drain_mark_stack();
                }
            }
        }
    }
}

// A slot is cleared only when it names an object (its first byte, or any byte of it with
// interior pointers) that the mark did not reach. Anything else it may hold (null, a tagged
// integer that happens to fall inside a pool, a pointer outside the heap) is left alone.
void HeapImpl::clear_dead_weak_slots() {
    for (WeakSlot* s = weak_slots; s != nullptr; s = s->next) {
        auto target = reinterpret_cast<std::uintptr_t>(*s->slot);
        Area* area = target != 0 ? area_containing(target) : nullptr;
        if (area == nullptr) continue;
        const BlockTables& t = area->tables;
        std::size_t block = area->block_of(target);
        if (config.interior_pointers) {
            block = t.head_containing(block);
            if (block >= t.n_blocks) continue;
        } else if ((target - area->pool_begin) % kBlockBytes != 0 || !t.is_head(block)) {
            continue;
        }
        if (!t.is_marked(block)) *s->slot = nullptr;
    }
}

// Each flag is cleared before its callback runs, and the word is re-read after every callback,
// because a finaliser may free objects (its own included) anywhere in the heap.
void HeapImpl::finalise_dead() {
    for (Area* a = first_area; a != nullptr; a = a->next) {
        BlockTables& t = a->tables;
        std::size_t n_words = words_for_blocks(a->high_water);
        for (std::size_t w = 0; w < n_words; ++w) {
            for (;;) {
                Word dead = t.head[w] & ~t.mark[w];
                Word pending = dead & (t.tail[w] | t.flag[w]);  // on a head: finaliser | weak
                if (pending == 0) break;
                std::size_t block = w * kWordBits + count_trailing_zeros(pending);
                void* object = a->ptr_of(block);
                if (t.has_finaliser(block)) {
                    clear_bit(t.tail, block);
                    ++stats.finalisers_run;
                    if (finaliser_fn != nullptr) finaliser_fn(finaliser_user, object);
                }
                if (t.is_head(block) && t.is_weak(block)) {
                    clear_bit(t.flag, block);
                    ++stats.weak_notified;
                    if (weak_freed_fn != nullptr) weak_freed_fn(weak_user, object);
                }
            }
        }
    }
}

// Finds every block of every dead object in one word of the tables at once. Seeds sit just after
// each dead head (D << 1), plus bit 0 when a dead object runs on from the previous word. Adding
// the seeds to the tail-only bits Q carries through exactly the tail run that starts at a seed,
// flipping it to zero; (Q + seeds) ^ Q, masked by Q, is those tails. A run of Q has one head
// before it, so it meets at most one seed, and a carry leaving a run lands on a head or free
// block, which is not in Q, so it stops there. A carry out of the top bit continues the last
// dead object into the next word.
struct DeadBlocks {
    Word blocks;     ///< dead heads and their tails
    bool runs_on;    ///< the last dead object continues into the next word
};

static DeadBlocks dead_blocks_in(Word dead_heads, Word tails, bool continued) {
    Word seeds = (dead_heads << 1) | (continued ? 1 : 0);
    Word sum = 0;
    bool carry = __builtin_add_overflow(tails, seeds, &sum);
    bool head_at_top = (dead_heads >> (kWordBits - 1)) != 0;
    return DeadBlocks{dead_heads | ((sum ^ tails) & tails), carry || head_at_top};
}

void HeapImpl::sweep() {
    std::size_t freed_objects = 0;
    std::size_t freed_blocks = 0;
    for (Area* a = first_area; a != nullptr; a = a->next) {
        BlockTables& t = a->tables;
        std::size_t n_words = words_for_blocks(a->high_water);
        std::size_t area_freed_blocks = 0;
        bool carry = false;
        for (std::size_t w = 0; w < n_words; ++w) {
            Word dead = t.head[w] & ~t.mark[w];
            t.mark[w] = 0;
            if (dead == 0 && !carry) continue;
            if (hooks.on_free != nullptr) report_swept(*a, w, dead);
            DeadBlocks freed = dead_blocks_in(dead, t.tails_in(w), carry);
            carry = freed.runs_on;
            t.head[w] &= ~dead;
            t.tail[w] &= ~freed.blocks;
            t.flag[w] &= ~freed.blocks;
            freed_objects += count_ones(dead);
            area_freed_blocks += count_ones(freed.blocks);
        }
        a->used_blocks -= area_freed_blocks;
        freed_blocks += area_freed_blocks;
        a->high_water = last_used_block_end(t, a->high_water);
        // An area where nothing died keeps its index as it is: still exact, and rebuilding it
        // would touch every free run of the pool for nothing.
        if (area_freed_blocks != 0 || a->index_stale) index_rebuild(a->indexed());
        a->index_stale = false;
    }
    stats.used_bytes -= freed_blocks * kBlockBytes;
    last_collect_freed_bytes = freed_blocks * kBlockBytes;
    stats.objects_collected += freed_objects;
    stats.last_collect_freed = freed_objects;
}

// Only when an observer listens: each dead object of word `w`, with its size, before it goes.
void HeapImpl::report_swept(Area& area, std::size_t w, Word dead) {
    while (dead != 0) {
        std::size_t head = w * kWordBits + count_trailing_zeros(dead);
        dead &= dead - 1;
        std::size_t n_bytes = (area.tables.object_end(head) - head) * kBlockBytes;
        hooks.on_free(hooks.user, area.ptr_of(head), n_bytes, FreeReason::swept);
    }
}

void HeapImpl::release_empty_areas() {
    Area** link = &first_area->next;  // the first area holds the heap itself: never released
    while (*link != nullptr) {
        Area* area = *link;
        if (!area->grown || area->used_blocks != 0 || release_fn == nullptr) {
            link = &area->next;
            continue;
        }
        *link = area->next;
        --n_areas;
        max_area_blocks = 0;
        for (const Area* a = first_area; a != nullptr; a = a->next) {
            if (a->tables.n_blocks > max_area_blocks) max_area_blocks = a->tables.n_blocks;
        }
        metadata_bytes -= area->region_bytes - area->pool_bytes;
        ++stats.areas_released;
        void* region = area->region;
        std::size_t region_bytes = area->region_bytes;
        release_fn(grow_user, region, region_bytes);  // `area` lived in that region: not used after
    }
}

}  // namespace uheap::detail

namespace uheap {

using detail::Area;
using detail::HeapImpl;

Status Heap::collect_start() {
    HeapImpl& self = HeapImpl::of(*this);
    if (self.collecting) return self.status = Status::collecting;
    self.collecting = true;
    self.refresh_fast_path();
    self.collect_started_ns = self.now_ns();
    self.mark_depth = 0;
    self.spilled = self.spare_segments = nullptr;
    self.overflows_this_collection = 0;
    self.blocks_since_collect = 0;
    for (Area* a = self.first_area; a != nullptr; a = a->next) a->deferred_lo = a->deferred_hi = 0;
    if (self.hooks.on_collect_start != nullptr) self.hooks.on_collect_start(self.hooks.user);
    if (self.scanning_roots_allowed) {
        for (RootRange* r = self.roots; r != nullptr; r = r->next) self.mark_root_words(r->words, r->n_words);
        if (self.pinned != nullptr) {
            void* const pinned = const_cast<void*>(self.pinned);
            self.mark_root_words(&pinned, 1);
        }
    }
    return self.status = Status::ok;
}

void Heap::collect_root(void* const* words, std::size_t n_words) {
    HeapImpl& self = HeapImpl::of(*this);
    if (!self.collecting) {
        self.status = Status::not_collecting;
        return;
    }
    if (!self.scanning_roots_allowed) return;
    self.mark_root_words(words, n_words);
}

Status Heap::collect_end() {
    HeapImpl& self = HeapImpl::of(*this);
    if (!self.collecting) return self.status = Status::not_collecting;
    self.scan_deferred();
    self.clear_dead_weak_slots();
    self.finalise_dead();
    self.sweep();
    self.release_empty_areas();
    self.collecting = false;
    self.refresh_fast_path();

    std::uint64_t pause = self.now_ns() - self.collect_started_ns;
    Counters& c = self.stats;
    c.collections += 1;
    c.last_pause_ns = pause;
    c.total_pause_ns += pause;
    if (pause > c.max_pause_ns) c.max_pause_ns = pause;
    c.mark_stack_overflows += self.overflows_this_collection;
    if (self.hooks.on_collect_end != nullptr) {
        Info now = info();
        CollectionStats s;
        s.index = c.collections;
        s.objects_freed = c.last_collect_freed;
        s.bytes_freed = self.last_collect_freed_bytes;
        s.objects_live = now.objects;
        s.used_bytes = now.used;
        s.free_bytes = now.free;
        s.largest_free_bytes = now.max_free * kBlockBytes;
        s.free_runs = now.free_runs;
        s.mark_stack_overflows = self.overflows_this_collection;
        s.pause_ns = pause;
        self.hooks.on_collect_end(self.hooks.user, s);
    }
    self.status = Status::ok;
    // After the collecting flag is cleared, so the host may allocate here (MicroPython's order).
    if (self.weak_sweep_fn != nullptr) self.weak_sweep_fn(self.weak_user);
    return Status::ok;
}

Status Heap::collect() {
    HeapImpl& self = HeapImpl::of(*this);
    Status started = collect_start();
    if (started != Status::ok) return started;
    if (self.root_fn != nullptr) self.root_fn(self.root_user);
    if (self.stack_base != nullptr) collect_stack();
    return collect_end();
}

Status Heap::sweep_all() {
    HeapImpl& self = HeapImpl::of(*this);
    if (self.collecting) return self.status = Status::collecting;
    self.scanning_roots_allowed = false;
    collect_start();
    Status result = collect_end();
    self.scanning_roots_allowed = true;
    return result;
}

}  // namespace uheap
