// SPDX-License-Identifier: MIT
// verify(): every invariant of block_table.hpp, checked from scratch, first failure reported.
#include "heap_impl.hpp"

namespace uheap::detail {
namespace {

/// What verify() says broke: the text, or nothing in a build without UHEAP_FEATURE_VERIFY_MESSAGES
/// (then no text is linked; the invariant and the place are still reported).
constexpr const char* why(const char* text) { return built::kVerifyMessages ? text : ""; }

struct Checker {
    VerifyReport report;
    bool fail(Invariant id, std::size_t area, std::size_t block, const char* detail) {
        if (report.ok()) report = VerifyReport{id, area, block, detail};
        return false;
    }
};

std::size_t first_bit_block(std::size_t w, Word bits) { return w * kWordBits + count_trailing_zeros(bits); }

/// Blocks of word `w` where the area's lazy sweep has yet to pass (none if it is not pending).
Word unswept_in(const Area& a, std::size_t w) {
    if (!a.sweep_pending() || (w + 1) * kWordBits <= a.sweep_from) return 0;
    return w * kWordBits >= a.sweep_from ? ~Word(0) : bits_from(static_cast<unsigned>(a.sweep_from - w * kWordBits));
}

// I1, I2, I3, I4, I7: one pass over the words of the tables.
bool check_tables(Checker& c, const Area& a, std::size_t ai, bool collecting) {
    const BlockTables& t = a.tables;
    Word previous_used_top = 0;  // was the block before this word a head or tail?
    Word previous_head_top = 0;
    for (std::size_t w = 0; w < t.n_words; ++w) {
        Word valid = t.valid_in(w);
        Word beyond = (t.head[w] | t.tail[w] | t.mark[w] | t.flag[w]) & ~valid;
        if (beyond) return c.fail(Invariant::I1_block_kind, ai, first_bit_block(w, beyond), why("bits set past the last block"));
        Word heads = t.head[w];
        Word tails = t.tails_in(w);
        Word used_before = ((heads | tails) << 1) | previous_used_top;
        if (Word orphan = tails & ~used_before) {
            return c.fail(Invariant::I2_extent, ai, first_bit_block(w, orphan), why("tail after a free block"));
        }
        Word first_tails = tails & ((heads << 1) | previous_head_top);
        Word marks = t.mark[w] & ~(collecting ? heads : heads & unswept_in(a, w)) & ~first_tails;
        if (marks) return c.fail(Invariant::I3_no_marks, ai, first_bit_block(w, marks), why("mark bit outside a collection, or on a later tail or free block"));
        if (Word stray = t.flag[w] & ~(heads | first_tails)) {
            return c.fail(Invariant::I4_flags_on_heads, ai, first_bit_block(w, stray), why("flag bit on a free block or later tail"));
        }
        std::size_t first = w * kWordBits;
        if (first + kWordBits > a.high_water) {
            Word must_be_free = first >= a.high_water ? ~Word(0) : bits_from(static_cast<unsigned>(a.high_water - first));
            if (Word used = (heads | tails) & must_be_free) {
                return c.fail(Invariant::I7_high_water, ai, first_bit_block(w, used), why("used block above the high-water mark"));
            }
        }
        previous_used_top = (heads | tails) >> (kWordBits - 1);
        previous_head_top = heads >> (kWordBits - 1);
    }
    // I2: realloc()'s remembered end is the end of a live object.
    if (a.resized_end != 0 && (a.resized_head >= t.n_blocks || !t.is_head(a.resized_head) ||
                               t.object_end(a.resized_head) != a.resized_end)) {
        return c.fail(Invariant::I2_extent, ai, a.resized_head, why("realloc's remembered object end disagrees with the tables"));
    }
    return true;
}

// I8: a pending lazy sweep stands on a word boundary, with the current run below it (the fast
// path carves unmarked objects, which the sweep would take for dead); the dead it has yet to
// free were finalised (no finaliser or weak flag left); the area's used count leaves them out.
// Returns the dead blocks awaiting the sweep through `dead_blocks`.
bool check_lazy_sweep(Checker& c, const Area& a, std::size_t ai, std::size_t* dead_blocks) {
    *dead_blocks = 0;
    const BlockTables& t = a.tables;
    if (a.space.limit != (a.sweep_pending() ? a.sweep_from : t.n_blocks)) {
        return c.fail(Invariant::I8_lazy_sweep, ai, a.space.limit, why("free space hands out blocks to where the sweep does not stand"));
    }
    if (!a.sweep_pending()) return true;
    if (a.sweep_from % kWordBits != 0) return c.fail(Invariant::I8_lazy_sweep, ai, a.sweep_from, why("lazy sweep not on a table word boundary"));
    if (a.space.current_begin != a.space.current_end && a.space.current_end > a.sweep_from) {
        return c.fail(Invariant::I8_lazy_sweep, ai, a.space.current_end - 1, why("current run reaches where the lazy sweep has yet to pass"));
    }
    bool carry = false;
    for (std::size_t w = a.sweep_from / kWordBits; w < t.n_words; ++w) {
        Word dead = t.head[w] & ~t.mark[w];
        if (Word flagged = dead & (t.tail[w] | t.flag[w])) {
            return c.fail(Invariant::I8_lazy_sweep, ai, first_bit_block(w, flagged), why("dead object awaiting the sweep still flagged for a finaliser or weak callback"));
        }
        DeadBlocks d = dead_blocks_in(dead, t.tails_in(w), carry);
        carry = d.runs_on;
        *dead_blocks += count_ones(d.blocks);
    }
    return true;
}

// I5: every summary of the free-space tree that is not marked stale agrees with the tables; the
// current run is free; every free run wholly below it is shorter than fit_floor (so carving from
// it is first fit); no grey bit is set outside a collection.
bool check_free_space(Checker& c, const Area& a, std::size_t ai, bool collecting) {
    const BlockTables& t = a.tables;
    const FreeSpace& fs = a.space;
    unsigned level = 0;
    std::size_t node = 0;
    if (!free_space_matches(fs, t, &level, &node)) {
        return c.fail(Invariant::I5_free_index, ai, node * kFanout * kWordBits, why("free-space summary disagrees with the tables"));
    }
    std::size_t begin = fs.current_begin;
    std::size_t end = fs.current_end;
    if (begin > end || end > t.n_blocks || t.free_run_length(begin, end) != end - begin) {
        return c.fail(Invariant::I5_free_index, ai, begin, why("current run is not free"));
    }
    if (begin < end && fs.fit_floor != kNoRun) {
        if (begin > 0 && t.is_free(begin - 1)) return c.fail(Invariant::I5_free_index, ai, begin - 1, why("a free block touches the current run from below"));
        LongestRun below;
        for (std::size_t w = 0; w < word_index(begin); ++w) below.feed(t.free_in(w));
        if (begin % kWordBits != 0) below.feed(t.free_in(word_index(begin)) & bits_below(static_cast<unsigned>(begin % kWordBits)));
        if (below.finish() >= fs.fit_floor) return c.fail(Invariant::I5_free_index, ai, begin, why("a free run below the current run reaches fit_floor: not first fit"));
    }
    // The hints: every free run that begins below hint[k] is shorter than k.
    std::size_t highest_hint = 0;
    for (std::size_t k = 1; k <= kHintSizes; ++k) highest_hint = fs.hint[k] > highest_hint ? fs.hint[k] : highest_hint;
    for (std::size_t b = 0; b < t.n_blocks && b < highest_hint;) {
        std::size_t run = t.free_run_length(b, t.n_blocks);
        if (run == 0) {
            ++b;
            continue;
        }
        for (std::size_t k = 1; k <= kHintSizes; ++k) {
            if (b < fs.hint[k] && run >= k) return c.fail(Invariant::I5_free_index, ai, b, why("a free run below a size hint reaches that size"));
        }
        b += run;
    }
    if (!collecting) {
        for (std::size_t gw = 0; gw < a.grey_words; ++gw) {
            if (a.grey[gw] != 0) return c.fail(Invariant::I3_no_marks, ai, gw * kWordBits * kGreyBlocks, why("grey group outside a collection"));
        }
    }
    return true;
}

}  // namespace
}  // namespace uheap::detail

namespace uheap {

using detail::Area;
using detail::HeapImpl;

VerifyReport Heap::verify() const {
    const HeapImpl& self = HeapImpl::of(*this);
    detail::SharedSection shared(self);
    if (shared.refused()) return VerifyReport{Invariant::none, 0, 0, "not attached: nothing checked (last_status)"};
    detail::Checker c;
    std::size_t ai = 0;
    // Marks and grey bits are legal while a collection runs, and between incremental steps.
    const bool marking = detail::is_collecting(self.gc.phase) || self.gc.phase == detail::Phase::incremental;
    for (Area* a = self.areas.first; a != nullptr; a = a->next, ++ai) {
        if (!detail::check_tables(c, *a, ai, marking)) return c.report;
        const detail::BlockTables& t = a->tables;
        std::size_t used = 0;
        std::size_t free_blocks = 0;
        for (std::size_t w = 0; w < t.n_words; ++w) {
            used += detail::count_ones(t.head[w] | t.tail[w]);
            free_blocks += detail::count_ones(t.free_in(w));
        }
        std::size_t awaiting_sweep = 0;
        if (!detail::check_lazy_sweep(c, *a, ai, &awaiting_sweep)) return c.report;
        if (used + free_blocks != t.n_blocks || used - awaiting_sweep != a->used_blocks) {
            c.fail(Invariant::I6_accounting, ai, 0, detail::why("area used-block count disagrees with the tables"));
            return c.report;
        }
        if (!detail::check_free_space(c, *a, ai, marking)) return c.report;
    }
    return c.report;
}

}  // namespace uheap
