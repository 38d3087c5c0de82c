// SPDX-License-Identifier: MIT
// The sweep: dead objects freed in the tables and marks cleared, word by word, either at once at
// the end of a collection (HeapConfig::lazy_sweep off) or lazily, in address order, as
// allocation needs the memory and as the host gives it steps (sweep_step()).
//
// A lazy sweep works because the collection already did everything else a death implies: the
// finalisers ran, weak slots were cleared, registrations inside the dead were unlinked, and
// count_dead() booked their blocks free. What is left is table work that no host code watches.
// Its one rule (I8): nothing is allocated where the sweep has yet to pass, since an unmarked head
// there reads as dead. So the first fit is sought in the swept part, and a fit that reaches past
// it is swept first, which also makes the placement exactly what an eager sweep would give.
#include "heap_impl.hpp"

namespace uheap::detail {
namespace {

/// One past the last used block of an area (0 if it is empty), searching down from `from`.
std::size_t last_used_block_end(const BlockTables& t, std::size_t from) {
    for (std::size_t w = words_for_blocks(from); w-- > 0;) {
        Word used = t.head[w] | t.tail[w];
        if (used != 0) return w * kWordBits + highest_bit(used) + 1;
    }
    return 0;
}

/// Blocks swept past a fit before it is taken, so the current run that follows it has room and
/// the next searches find the swept part ahead of them. Every step is followed by a search, so
/// fewer, larger steps search less; the sweep's own work is the same. 256 table words (~2 500
/// instructions, about a microsecond) left the lazy sweep's total where the eager sweep's is
/// (pauses/16M over 12 heap-fulls: 16 words +0.40 %, 64 words +0.05 %, 256 words +0.004 %).
constexpr std::size_t kSweepAheadBlocks = 256 * kWordBits;

}  // namespace

// Sweeps whole table words from where the area's sweep stands until block `until` is passed, and
// on past a dead object that runs over the last of them, so no dead object straddles sweep_from.
// Reaching the high-water mark finishes the area. Returns the blocks passed.
std::size_t HeapImpl::sweep_area(Area& area, std::size_t until) {
    BlockTables& t = area.tables;
    const std::size_t end_word = words_for_blocks(area.high_water);
    const std::size_t stop_word = words_for_blocks(until) < end_word ? words_for_blocks(until) : end_word;
    const std::size_t from = area.sweep_from;
    std::size_t w = from / kWordBits;
    std::size_t lowest_freed = kNoRun;
    bool carry = false;
    // (runs_on may also be set by an object that ends exactly at the word's end; the sweep goes on
    // only if the next word really starts with its tails.)
    for (; w < end_word && (w < stop_word || (carry && (t.tails_in(w) & 1) != 0)); ++w) {
        const Word heads = t.head[w];
        const Word marks = t.mark[w];
        const Word kept = marks & ~heads;  // the marks go; first tails' destructor bits stay with their objects
        const Word dead = heads & ~marks;
        if (dead == 0 && !carry) {
            t.mark[w] = kept;
            continue;
        }
        DeadBlocks freed = dead_blocks_in(dead, t.tails_in(w), carry);
        carry = freed.runs_on;
        t.head[w] = heads & ~dead;
        t.tail[w] &= ~freed.blocks;
        t.mark[w] = kept & ~freed.blocks;
        t.flag[w] &= ~freed.blocks;
        free_space_changed(area.space, w * kWordBits, (w + 1) * kWordBits);  // one bit, no pool write
        if (lowest_freed == kNoRun) lowest_freed = w * kWordBits + count_trailing_zeros(freed.blocks);
    }
    if (w >= end_word) {
        area.sweep_from = Area::kSwept;
        area.high_water = last_used_block_end(t, area.high_water);
        free_space_sweep_reached(area.space, t.n_blocks);
    } else {
        area.sweep_from = static_cast<std::uint32_t>(w * kWordBits);
        free_space_sweep_reached(area.space, area.sweep_from);
    }
    if (lowest_freed != kNoRun) free_space_swept(area.space, t, lowest_freed);
    return w * kWordBits - from;
}

void HeapImpl::finish_sweep() {
    for (Area* a = areas.first; a != nullptr; a = a->next) {
        if (a->sweep_from != Area::kSwept) sweep_area(*a, a->tables.n_blocks);
    }
}

// take_blocks() found no fit below sweep_from. A fit there is the fit an eager sweep would give:
// a lower one would lie wholly below sweep_from too, where the tables are the same either way.
// So the sweep moves on, in steps that double (a fit for a large request may lie far ahead), and
// the swept part is searched again. The search is bounded: past sweep_from the dead still read
// as used, and a search through them would look at every one.
std::size_t HeapImpl::take_blocks_sweeping(Area& area, std::size_t n_blocks) {
    std::size_t start = kNoRun;
    for (std::size_t step = kSweepAheadBlocks; start == kNoRun && area.sweep_pending(); step *= 2) {
        sweep_area(area, area.sweep_from + step);
        start = free_space_search(area.space, area.tables, n_blocks);
    }
    if (start == kNoRun) return kNoRun;
    return free_space_take_at(area.space, area.tables, start, n_blocks);
}

// find_object()'s answer for a block-aligned pointer to a tail: already_free if that tail belongs
// to a dead object the lazy sweep has yet to free (its blocks are free to an eager sweep), else
// not_object_start.
Status HeapImpl::in_dead_unswept(const void* ptr) const {
    auto address = reinterpret_cast<std::uintptr_t>(ptr);
    const Area* area = areas.containing(address);
    if (area == nullptr || !area->sweep_pending() || (address - area->pool_begin()) % kBlockBytes != 0) return Status::not_object_start;
    std::size_t block = area->block_of(address);
    if (block < area->sweep_from) return Status::not_object_start;
    std::size_t head = area->tables.head_containing(block);
    return head < area->tables.n_blocks && area->is_dead_unswept(head) ? Status::already_free : Status::not_object_start;
}

}  // namespace uheap::detail

namespace uheap {

using detail::Area;
using detail::HeapImpl;

std::size_t Heap::sweep_step(std::size_t max_blocks) {
    HeapImpl& self = HeapImpl::of(*this);
    detail::SharedSection shared(self);
    if (shared.refused()) return 0;
    std::size_t left = 0;
    for (Area* a = self.areas.first; a != nullptr; a = a->next) {
        if (!a->sweep_pending()) continue;
        if (max_blocks != 0) {
            std::size_t room = a->tables.n_blocks - a->sweep_from;
            std::size_t passed = self.sweep_area(*a, a->sweep_from + (max_blocks < room ? max_blocks : room));
            max_blocks = passed < max_blocks ? max_blocks - passed : 0;
        }
        if (a->sweep_pending()) left += a->high_water - a->sweep_from;
    }
    return left;
}

}  // namespace uheap
