// SPDX-License-Identifier: MIT
// Marking: the explicit mark stack, its spill into scratch runs, deferred ranges, and the scan.
//
// Depth-first with a fixed stack of word ranges carved from the first region. Popped ranges pass
// through a small FIFO ring that prefetches them; large objects are scanned in chunks so wide
// objects do not flood the stack. A full stack spills its entries into free heap blocks lent for
// the collection (scratch runs), and only when none is left is an object deferred: marked,
// unscanned, its block widening its area's deferred range, rescanned after the stack drains
// (only that range, never the whole heap).
//
// Scratch memory is free memory the host could write (a use-after-free), so the collector keeps
// nothing there across host code: scratch runs are found from the block tables and described out
// of line (Collector::scratch), and spilled segments exist only within one drain of the stack,
// during which no host code runs. Every drain ends with the stack and the spill empty.
#include <cstring>

#include "heap_impl.hpp"

namespace uheap::detail {
namespace {

/// Words of one object scanned before the rest of it goes back on the stack.
constexpr std::size_t kScanChunkWords = 32;
/// A segment smaller than this many entries is not worth its header.
constexpr std::size_t kMinSegmentEntries = 4;

void defer(Area& area, std::size_t head) {
    if (area.deferred_lo >= area.deferred_hi) {
        area.deferred_lo = head;
        area.deferred_hi = head + 1;
        return;
    }
    if (head < area.deferred_lo) area.deferred_lo = head;
    if (head + 1 > area.deferred_hi) area.deferred_hi = head + 1;
}

/// First free block at or after `b` (n_blocks if none).
std::size_t next_free_block(const BlockTables& t, std::size_t b) {
    if (b >= t.n_blocks) return t.n_blocks;
    std::size_t w = word_index(b);
    Word free_bits = t.free_in(w) & bits_from(static_cast<unsigned>(b % kWordBits));
    while (free_bits == 0) {
        if (++w >= t.n_words) return t.n_blocks;
        free_bits = t.free_in(w);
    }
    return w * kWordBits + count_trailing_zeros(free_bits);
}

std::size_t bytes_for_entries(std::size_t n_entries) { return sizeof(SpillSegment) + n_entries * sizeof(MarkRange); }

}  // namespace

// A full stack spills into scratch memory; only when there is none left is the object deferred.
inline void HeapImpl::push_object(Area& area, std::size_t head, std::size_t end) {
    if (gc.depth == gc.capacity) {
        ++gc.overflows;
        if (!spill_mark_stack()) {
            defer(area, head);
            return;
        }
    }
    // I3 during a collection: only heads are marked, and an object is pushed only once marked.
    UHEAP_ASSERT(gc.depth < gc.capacity && area.tables.is_head(head) && area.tables.is_marked(head));
    auto* begin = static_cast<void* const*>(area.ptr_of(head));
    gc.stack[gc.depth++] = MarkRange{begin, begin + (end - head) * kBlockWords};
}

// Marks the object `word` points at, if it does (AreaSet::object_at decides), and pushes its
// contents unless it is no-scan. Templated so interior pointers cost nothing when off.
template <bool kInteriorPointers>
void HeapImpl::mark_word(std::uintptr_t word) {
    ObjectRef obj = areas.object_at<kInteriorPointers>(word);
    if (!obj) return;
    BlockTables& t = obj.area->tables;
    std::size_t block = obj.block;
    if (t.is_marked(block)) return;
    t.set_mark(block);
    // Most objects are one block: only look for the end when the next block is a tail.
    std::size_t next = block + 1;
    std::size_t end = next < t.n_blocks && t.is_tail(next) ? t.object_end(block) : next;
    if (t.is_no_scan(block, end)) return;  // marked, contents never read
    push_object(*obj.area, block, end);
}

// Lends one more free run to the mark stack, best first: an area's free top above its high-water
// mark (O(1)), then a run that holds a whole stack, then any run that holds a few entries (both
// found by scanning the tables). The area's index no longer matches its free blocks once a
// segment is written there, so it is marked for the sweep to rebuild.
bool HeapImpl::take_scratch_run() {
    if (gc.n_scratch == kMaxScratchRuns) return false;
    auto is_scratch = [&](const Area& a, std::size_t start, std::size_t n) {
        auto* begin = static_cast<unsigned char*>(a.ptr_of(start));
        auto* end = static_cast<unsigned char*>(a.ptr_of(start + n));
        for (unsigned i = 0; i < gc.n_scratch; ++i) {
            if (begin < gc.scratch[i].end && gc.scratch[i].begin < end) return true;
        }
        return false;
    };
    auto lend = [&](Area& a, std::size_t start, std::size_t n) {
        gc.scratch[gc.n_scratch++] = ScratchRun{static_cast<unsigned char*>(a.ptr_of(start)),
                                                static_cast<unsigned char*>(a.ptr_of(start + n))};
        a.index_stale = true;
        return true;
    };
    const std::size_t whole_stack = blocks_for_bytes(bytes_for_entries(gc.capacity));
    const std::size_t few_entries = blocks_for_bytes(bytes_for_entries(kMinSegmentEntries));
    for (Area* a = areas.first; a != nullptr; a = a->next) {
        std::size_t top = a->high_water;
        if (a->tables.n_blocks - top >= few_entries && !is_scratch(*a, top, a->tables.n_blocks - top)) return lend(*a, top, a->tables.n_blocks - top);
    }
    const std::size_t wants[2] = {whole_stack, few_entries};
    for (std::size_t want : wants) {
        for (Area* a = areas.first; a != nullptr; a = a->next) {
            const BlockTables& t = a->tables;
            for (std::size_t b = next_free_block(t, 0); b < t.n_blocks; b = next_free_block(t, b)) {
                std::size_t n = t.free_run_length(b, t.n_blocks);
                if (n >= want && !is_scratch(*a, b, n)) return lend(*a, b, n);
                b += n;
            }
        }
    }
    return false;
}

// Carves the next segment from the scratch runs, in stack order: segments are popped in the
// reverse order they were carved, so popping one gives its memory back (refill_mark_stack).
SpillSegment* HeapImpl::new_spill_segment() {
    for (;;) {
        if (gc.bump_run < gc.n_scratch) {
            const ScratchRun& run = gc.scratch[gc.bump_run];
            if (gc.bump_at == nullptr) gc.bump_at = run.begin;
            std::size_t left = static_cast<std::size_t>(run.end - gc.bump_at);
            if (left >= bytes_for_entries(kMinSegmentEntries)) {
                auto* segment = reinterpret_cast<SpillSegment*>(gc.bump_at);
                std::size_t capacity = (left - sizeof(SpillSegment)) / sizeof(MarkRange);
                segment->count = capacity < gc.capacity ? capacity : gc.capacity;
                segment->run = gc.bump_run;
                gc.bump_at += bytes_for_entries(segment->count);
                return segment;
            }
            ++gc.bump_run;
            gc.bump_at = nullptr;
            continue;
        }
        if (!take_scratch_run()) return nullptr;
    }
}

// Moves the top of the fixed stack into a new segment, leaving room to push.
bool HeapImpl::spill_mark_stack() {
    SpillSegment* segment = new_spill_segment();
    if (segment == nullptr) return false;
    std::size_t moved = segment->count < gc.depth ? segment->count : gc.depth;
    std::memcpy(segment->entries(), gc.stack + gc.depth - moved, moved * sizeof(MarkRange));
    segment->count = moved;
    gc.depth -= moved;
    segment->below = gc.spilled;
    gc.spilled = segment;
    return true;
}

// Brings the most recently spilled segment back when the fixed stack runs empty, and returns
// its memory to the bump pointer. A segment never holds more than the stack's capacity.
bool HeapImpl::refill_mark_stack() {
    SpillSegment* segment = gc.spilled;
    if (segment == nullptr) return false;
    UHEAP_ASSERT(gc.depth == 0 && segment->count <= gc.capacity);
    std::memcpy(gc.stack, segment->entries(), segment->count * sizeof(MarkRange));
    gc.depth = segment->count;
    gc.spilled = segment->below;
    gc.bump_run = segment->run;
    gc.bump_at = reinterpret_cast<unsigned char*>(segment);
    return true;
}

// Called when a drain is over (stack and spill empty): the next drain starts carving at the first
// scratch run again, writing every header afresh, so nothing written before host code ran is
// ever read.
void HeapImpl::end_drain() {
    UHEAP_ASSERT(gc.depth == 0 && gc.spilled == nullptr);
    gc.bump_run = 0;
    gc.bump_at = nullptr;
}

// Ranges popped from the stack wait in a small FIFO ring before they are scanned, and are
// prefetched as they enter it: by the time a range is scanned its first line has had
// kPrefetchRing - 1 other scans to arrive. Scanning straight off a LIFO stack touches each object
// right after the prefetch issued when it was pushed, which hides nothing.
constexpr unsigned kPrefetchRing = 8;

template <bool kInteriorPointers>
static void drain(HeapImpl& heap) {
    Collector& gc = heap.gc;
    const bool single_area = heap.areas.first->next == nullptr;
    const std::uintptr_t pool_begin = heap.areas.first->pool_begin;
    const std::size_t pool_bytes = heap.areas.first->pool_bytes;
    MarkRange ring[kPrefetchRing];
    bool chunk_in_ring[kPrefetchRing];
    unsigned first = 0;
    unsigned count = 0;
    unsigned chunks = 0;  // ring entries cut from a large object
    for (;;) {
        // Spilled entries are refilled only once the ring is empty, as before once the stack was.
        while (count < kPrefetchRing && (gc.depth > 0 || (count == 0 && heap.refill_mark_stack()))) {
            MarkRange range = gc.stack[gc.depth - 1];
            bool split = static_cast<std::size_t>(range.end - range.begin) > kScanChunkWords;
            // One chunk of a large object in the ring at a time: a ring full of chunks would push
            // up to kPrefetchRing * kScanChunkWords children at once and overflow a small stack.
            // The rest of the object stays on the stack until that chunk is scanned.
            if (split && chunks > 0) break;
            if (split) {
                gc.stack[gc.depth - 1] = MarkRange{range.begin + kScanChunkWords, range.end};
                range.end = range.begin + kScanChunkWords;
            } else {
                --gc.depth;
            }
            __builtin_prefetch(range.begin);
            unsigned slot = (first + count++) % kPrefetchRing;
            ring[slot] = range;
            chunk_in_ring[slot] = split;
            chunks += split;
        }
        if (count == 0) break;
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
    heap.end_drain();
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
            if (gc.depth > 0) drain<true>(*this);
        }
    } else {
        for (std::size_t i = 0; i < n_words; ++i) {
            mark_word<false>(reinterpret_cast<std::uintptr_t>(words[i]));
            if (gc.depth > 0) drain<false>(*this);
        }
    }
}

// Rescans the marked objects in each area's deferred range until no object is left deferred.
// Objects in the range that were already scanned are scanned again (harmless, their children
// are marked); the range is usually small because large objects are chunked.
void HeapImpl::scan_deferred() {
    for (bool again = true; again;) {
        again = false;
        for (Area* a = areas.first; a != nullptr; a = a->next) {
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

template void HeapImpl::mark_word<true>(std::uintptr_t);
template void HeapImpl::mark_word<false>(std::uintptr_t);

}  // namespace uheap::detail
