// SPDX-License-Identifier: MIT
// Marking: the explicit mark stack, grey groups for its overflow, and the scan.
//
// Depth-first with a fixed stack of word ranges (the host's memory, or carved from the first
// region). Popped ranges pass through a small FIFO ring that prefetches them; large objects are
// scanned in chunks so wide objects do not flood the stack. When the stack is full, the object is
// deferred: it stays marked, and the grey bit of its head's group of kGreyBlocks blocks is set.
// After the stack drains, the marked heads of grey groups are scanned again (those already
// scanned too: harmless, their children are marked), until no group is grey. An overflow thus
// costs a rescan of at most kGreyBlocks blocks' heads, never a rescan of the heap, and nothing is
// ever written into free blocks.
#include "heap_impl.hpp"

namespace uheap::detail {
namespace {

/// Words of one object scanned before the rest of it goes back on the stack.
constexpr std::size_t kScanChunkWords = 32;

}  // namespace

// A full stack defers the object to its grey group.
inline void HeapImpl::push_object(Area& area, std::size_t head, std::size_t end, MarkStackView& s) {
    if (s.depth == s.capacity) {
        ++gc.overflows;
        defer_to_grey(area, head);
        return;
    }
    // I3 during a collection: only heads are marked, and an object is pushed only once marked.
    UHEAP_ASSERT(s.depth < s.capacity && area.tables.is_head(head) && area.tables.is_marked(head));
    auto* begin = static_cast<void* const*>(area.ptr_of(head));
    s.stack[s.depth++] = MarkRange{begin, begin + (end - head) * kBlockWords};
}

// Marks the object whose head is `block`, unless it is marked already, and pushes its contents
// unless it is no-scan. Inlined into both callers: mark_word and the drain loop. (At -Os it stays
// out of line: forcing it in cost 90 to 260 bytes of code on a Cortex-M4 for 24 bytes of stack.)
inline void HeapImpl::mark_head(Area& area, std::size_t block, MarkStackView& s) {
    BlockTables& t = area.tables;
    if (t.is_marked(block)) return;
    t.set_mark(block);
    // Most objects are one block: only look for the end when the next block is a tail.
    std::size_t next = block + 1;
    std::size_t end = next < t.n_blocks && t.is_tail(next) ? t.object_end(block) : next;
    if (t.is_no_scan(block, end)) return;  // marked, contents never read
    push_object(area, block, end, s);
}

// Marks the object `word` points at, if it does (AreaSet::object_at decides). Templated so
// interior pointers cost nothing when off.
template <bool kInteriorPointers>
void HeapImpl::mark_word(std::uintptr_t word, MarkStackView& s) {
    ObjectRef obj = areas.object_at<kInteriorPointers>(word);
    if (obj) mark_head(*obj.area, obj.block, s);
}

namespace {

/// The first area when it is the only one, its bounds copied where the scan loops keep them in
/// registers. With several areas, `area` is null and the bounds cover every address, so the one
/// bounds test of mark_candidate sends every word on to mark_word().
struct SingleArea {
    Area* area;
    std::uintptr_t pool_begin;
    std::size_t pool_bytes;
};

SingleArea single_area_of(const AreaSet& areas) {
    Area* first = areas.first;
    return first->next == nullptr ? SingleArea{first, first->pool_begin(), first->pool_bytes} : SingleArea{nullptr, 0, SIZE_MAX};
}

// Marks what `word` points at, if anything. Most words are not pointers into the pool (numbers,
// nulls, outside pointers): with a single area, AreaSet::object_at's classification is done here
// against bounds held in registers, without a call, and such words cost one subtraction and one
// comparison; mark_word() classifies for several areas.
template <bool kInteriorPointers>
__attribute__((always_inline)) inline void mark_candidate(HeapImpl& heap, const SingleArea& one, std::uintptr_t word, MarkStackView& s) {
    std::uintptr_t offset = word - one.pool_begin;
    if (offset >= one.pool_bytes) return;
    if (one.area == nullptr) {
        MarkStackView copy = s;  // `s` itself never has its address taken: it stays in registers
        heap.mark_word<kInteriorPointers>(word, copy);
        s.depth = copy.depth;
        return;
    }
    const BlockTables& t = one.area->tables;
    if constexpr (kInteriorPointers) {
        std::size_t head = t.head_containing(offset / kBlockBytes);
        if (head < t.n_blocks) heap.mark_head(*one.area, head, s);
    } else {
        if (offset % kBlockBytes != 0) return;
        std::size_t block = offset / kBlockBytes;
        if (t.is_head(block)) heap.mark_head(*one.area, block, s);
    }
}

// The candidate test as the scan loops call it. On a desktop it is inlined into them (a word
// costs no call). On a microcontroller a word that falls inside the pool goes to one out-of-line
// copy, so the test is not duplicated in each loop (232 bytes less code on a Cortex-M4, minimal
// configuration, than inlined; 8 bytes less stack), for a call per pool word.
template <bool kInteriorPointers>
__attribute__((noinline)) void mark_candidate_out_of_line(HeapImpl& heap, const SingleArea& one, std::uintptr_t word,
                                                          MarkStackView& s) {
    if (one.area == nullptr) {  // several areas: mark_word() classifies (its own frame, not this one's)
        heap.mark_word<kInteriorPointers>(word, s);
        return;
    }
    mark_candidate<kInteriorPointers>(heap, one, word, s);
}

template <bool kInteriorPointers>
__attribute__((always_inline)) inline void scan_word(HeapImpl& heap, const SingleArea& one, std::uintptr_t word,
                                                     MarkStackView& s) {
    if constexpr (kMicrocontroller) {
        if (word - one.pool_begin < one.pool_bytes) mark_candidate_out_of_line<kInteriorPointers>(heap, one, word, s);
    } else {
        mark_candidate<kInteriorPointers>(heap, one, word, s);
    }
}

}  // namespace

// Ranges popped from the stack wait in a small FIFO ring before they are scanned, and are
// prefetched as they enter it: by the time a range is scanned its first line has had
// kPrefetchRing - 1 other scans to arrive. Scanning straight off a LIFO stack touches each object
// right after the prefetch issued when it was pushed, which hides nothing.
constexpr unsigned kPrefetchRing = kMicrocontroller ? 1 : 16;  // (no data cache to hide on a Cortex-M: scanned as popped)
static_assert((kPrefetchRing & (kPrefetchRing - 1)) == 0, "ring indices wrap by masking");

// The ring's indices run freely (entries [scanned, queued) wait; slot = index % kPrefetchRing),
// so a range is stored once going in and read once coming out, with no count to keep. At most one chunk of a large
// object waits at a time (chunk_after: one past its index): a ring full of chunks would push up
// to kPrefetchRing * kScanChunkWords children at once and overflow a small stack. The rest of
// the object stays on the stack until that chunk is scanned.
// Takes the view by value and returns the depth, so the view lives in registers while it runs.
// kBudgeted (an incremental step): no range enters the ring once `*budget` words have entered it
// (what is in the ring is still scanned); the words are taken out of *budget.
template <bool kInteriorPointers, bool kBudgeted = false>
static std::size_t drain(HeapImpl& heap, MarkStackView s, std::size_t* budget = nullptr) {
    const SingleArea one = single_area_of(heap.areas);
    void* const* ring_begin[kPrefetchRing];  // two arrays, not one of MarkRange: no pair to pack
    void* const* ring_end[kPrefetchRing];
    // (GCC cannot tell that a one-entry ring is written before it is read.)
    if constexpr (kPrefetchRing == 1) ring_begin[0] = ring_end[0] = nullptr;
    std::size_t scanned = 0;
    std::size_t queued = 0;
    std::size_t chunk_after = 0;
    // What is left of the budget, counted down: one register in the loop, not a count and a limit.
    std::ptrdiff_t left = kBudgeted ? static_cast<std::ptrdiff_t>(*budget < PTRDIFF_MAX ? *budget : PTRDIFF_MAX) : 0;
    for (;;) {
        while (queued - scanned < kPrefetchRing && s.depth > 0 && (!kBudgeted || left > 0)) {
            MarkRange& top = s.stack[s.depth - 1];
            void* const* begin = top.begin;
            void* const* end = top.end;
            if (static_cast<std::size_t>(end - begin) <= kScanChunkWords) {
                --s.depth;
            } else {
                if (scanned < chunk_after) break;
                end = begin + kScanChunkWords;
                top.begin = end;
                chunk_after = queued + 1;
            }
            __builtin_prefetch(begin);
            if constexpr (kBudgeted) left -= (end - begin) + 1;  // an empty range costs too
            ring_begin[queued % kPrefetchRing] = begin;
            ring_end[queued % kPrefetchRing] = end;
            ++queued;
        }
        if (queued == scanned) break;
        void* const* end = ring_end[scanned % kPrefetchRing];
        for (void* const* p = ring_begin[scanned++ % kPrefetchRing]; p < end; ++p) {
            scan_word<kInteriorPointers>(heap, one, reinterpret_cast<std::uintptr_t>(*p), s);
        }
    }
    if constexpr (kBudgeted) *budget = left > 0 ? static_cast<std::size_t>(left) : 0;
    return s.depth;
}

__attribute__((always_inline)) inline void HeapImpl::drain_view(MarkStackView& s) {
    s.depth = interior() ? drain<true>(*this, s) : drain<false>(*this, s);
}

// Roots are pushed until half the stack is in use, then traced: a long root range cannot overflow
// the stack by itself (each drain starts with half of it free), and the drain loop's set-up is
// paid once per half stack of roots instead of once per root (wide_graph's 100 000 roots).
// kShadeOnly (the first step of an incremental cycle): roots are marked and pushed, never traced
// here; a full stack defers them to their grey groups, and the steps trace them.
template <bool kInteriorPointers, bool kShadeOnly>
static std::size_t mark_roots(HeapImpl& heap, void* const* words, std::size_t n_words, MarkStackView s) {
    const SingleArea one = single_area_of(heap.areas);
    const std::size_t drain_at = s.capacity / 2;
    for (std::size_t i = 0; i < n_words; ++i) {
        scan_word<kInteriorPointers>(heap, one, reinterpret_cast<std::uintptr_t>(words[i]), s);
        if (!kShadeOnly && s.depth > drain_at) s.depth = drain<kInteriorPointers>(heap, s);
    }
    return !kShadeOnly && s.depth > 0 ? drain<kInteriorPointers>(heap, s) : s.depth;
}

void HeapImpl::mark_root_words(void* const* words, std::size_t n_words) {
    MarkStackView s(gc);
    if (built::kIncremental && gc.shade_only) {  // (only an incremental cycle shades)
        gc.depth = interior() ? mark_roots<true, true>(*this, words, n_words, s) : mark_roots<false, true>(*this, words, n_words, s);
    } else {
        gc.depth = interior() ? mark_roots<true, false>(*this, words, n_words, s) : mark_roots<false, false>(*this, words, n_words, s);
    }
}

// The marked heads of one grey group (its bit already clear), as bits from the group's first block.
Word HeapImpl::grey_heads(const Area& a, std::size_t group) {
    const BlockTables& t = a.tables;
    std::size_t first = group * kGreyBlocks;
    std::size_t w = word_index(first);
    unsigned shift = static_cast<unsigned>(first % kWordBits);
    return ((t.head[w] & t.mark[w]) >> shift) & bits_below(static_cast<unsigned>(kGreyBlocks));
}

// Pushes the heads of `pending` (grey_heads() bits) until the stack is full, never deferring
// them again; returns those left. A leaf: the caller drains between calls, so a stack smaller
// than a group adds no frame to the deepest path (scan_grey -> drain).
Word HeapImpl::push_grey_heads(Area& a, std::size_t group, Word pending, MarkStackView& s) {
    const BlockTables& t = a.tables;
    std::size_t first = group * kGreyBlocks;
    while (pending != 0 && s.depth < s.capacity) {
        std::size_t head = first + count_trailing_zeros(pending);
        pending &= pending - 1;
        std::size_t end = t.object_end(head);
        if (!t.is_no_scan(head, end)) push_object(a, head, end, s);
    }
    return pending;
}

// A grey group's heads go on the stack, drained (unbudgeted) whenever it fills before the last.
// Inlined into its two callers: no frame between theirs and the drain's.
__attribute__((always_inline)) inline void HeapImpl::push_grey_group(Area& a, std::size_t group, MarkStackView& s) {
    for (Word pending = grey_heads(a, group); (pending = push_grey_heads(a, group, pending, s)) != 0;) drain_view(s);
}

// The next grey group at or after the cursor, its bit cleared: false if none is grey. The cursor
// makes a pass over the grey bits linear; groups greyed behind it (by the scans themselves) are
// found by the next pass, which starts once this one reaches the end. An area's any_grey is
// cleared when a whole pass over it finds nothing.
bool HeapImpl::take_grey_group(GreyCursor& at, Area** area, std::size_t* group) {
    for (bool restarted = false;;) {
        if (at.area == nullptr) {
            if (restarted) return false;
            restarted = true;
            at = GreyCursor{areas.first, 0, false};
        }
        Area* a = at.area;
        if (a->any_grey) {
            for (; at.word < a->grey_words; ++at.word) {
                Word& bits = a->grey[at.word];
                if (bits == 0) continue;
                *group = at.word * kWordBits + count_trailing_zeros(bits);
                bits &= bits - 1;
                at.found = true;
                *area = a;
                return true;
            }
            if (!at.found) a->any_grey = false;  // a pass from its first word found nothing
        }
        at = GreyCursor{a->next, 0, false};
    }
}

// One incremental step of marking: the stack is traced and grey groups taken, until about
// `budget` words were scanned or nothing is left (true: marking is complete, until the final
// phase reports the roots again).
bool HeapImpl::mark_step(std::size_t budget) {
    MarkStackView s(gc);
    GreyCursor cursor;
    bool done = false;
    for (;;) {
        if (s.depth > 0) {
            s.depth = interior() ? drain<true, true>(*this, s, &budget) : drain<false, true>(*this, s, &budget);
        }
        if (s.depth > 0 || budget == 0) break;
        Area* a = nullptr;
        std::size_t group = 0;
        if (!take_grey_group(cursor, &a, &group)) {
            done = true;
            break;
        }
        push_grey_group(*a, group, s);
    }
    gc.depth = s.depth;
    return done;
}

// Rescans the marked heads of every grey group until none is grey. The grey bits are read and
// cleared a word at a time; a rescan can defer again (the stack may fill anew), so the areas are
// swept until a pass finds nothing.
void HeapImpl::scan_grey() {
    MarkStackView s(gc);
    if (s.depth > 0) drain_view(s);  // what incremental steps left on the stack
    GreyCursor cursor;
    for (;;) {
        Area* a = nullptr;
        std::size_t group = 0;
        if (!take_grey_group(cursor, &a, &group)) break;
        push_grey_group(*a, group, s);
        drain_view(s);
    }
    gc.depth = s.depth;
}

template void HeapImpl::mark_word<true>(std::uintptr_t, MarkStackView&);
template void HeapImpl::mark_word<false>(std::uintptr_t, MarkStackView&);

}  // namespace uheap::detail
