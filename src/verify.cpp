// SPDX-License-Identifier: MIT
// verify(): every invariant of block_table.hpp, checked from scratch, first failure reported.
#include "heap_impl.hpp"

namespace uheap::detail {
namespace {

struct Checker {
    VerifyReport report;
    bool fail(Invariant id, std::size_t area, std::size_t block, const char* detail) {
        if (report.ok()) report = VerifyReport{id, area, block, detail};
        return false;
    }
};

std::size_t first_bit_block(std::size_t w, Word bits) { return w * kWordBits + count_trailing_zeros(bits); }

// I1, I2, I3, I4, I7: one pass over the words of the tables.
bool check_tables(Checker& c, const Area& a, std::size_t ai, bool collecting) {
    const BlockTables& t = a.tables;
    Word previous_used_top = 0;  // was the block before this word a head or tail?
    Word previous_head_top = 0;
    for (std::size_t w = 0; w < t.n_words; ++w) {
        Word valid = t.valid_in(w);
        Word beyond = (t.head[w] | t.tail[w] | t.mark[w] | t.flag[w]) & ~valid;
        if (beyond) return c.fail(Invariant::I1_block_kind, ai, first_bit_block(w, beyond), "bits set past the last block");
        Word heads = t.head[w];
        Word tails = t.tails_in(w);
        Word used_before = ((heads | tails) << 1) | previous_used_top;
        if (Word orphan = tails & ~used_before) {
            return c.fail(Invariant::I2_extent, ai, first_bit_block(w, orphan), "tail after a free block");
        }
        Word marks = collecting ? t.mark[w] & ~heads : t.mark[w];
        if (marks) return c.fail(Invariant::I3_no_marks, ai, first_bit_block(w, marks), "mark bit outside a collection or on a non-head");
        Word first_tails = tails & ((heads << 1) | previous_head_top);
        if (Word stray = t.flag[w] & ~(heads | first_tails)) {
            return c.fail(Invariant::I4_flags_on_heads, ai, first_bit_block(w, stray), "flag bit on a free block or later tail");
        }
        std::size_t first = w * kWordBits;
        if (first + kWordBits > a.high_water) {
            Word must_be_free = first >= a.high_water ? ~Word(0) : bits_from(static_cast<unsigned>(a.high_water - first));
            if (Word used = (heads | tails) & must_be_free) {
                return c.fail(Invariant::I7_high_water, ai, first_bit_block(w, used), "used block above the high-water mark");
            }
        }
        previous_used_top = (heads | tails) >> (kWordBits - 1);
        previous_head_top = heads >> (kWordBits - 1);
    }
    return true;
}

// I5: every listed run is a maximal free run in the right class, lists are proper cycles, and
// together they account for exactly the free blocks and runs the tables hold.
bool check_index(Checker& c, Area& a, std::size_t ai, std::size_t table_free, std::size_t table_runs) {
    IndexedPool p = a.indexed();
    const BlockTables& t = a.tables;
    std::size_t listed_blocks = 0;
    std::size_t listed_runs = 0;
    for (unsigned cls = 0; cls < kClasses; ++cls) {
        std::uint32_t first = a.index.first[cls];
        bool bit = (a.index.nonempty[cls / kWordBits] >> (cls % kWordBits)) & 1;
        if (bit != (first != kNoBlock)) return c.fail(Invariant::I5_free_index, ai, cls, "class bitmap disagrees with its list");
        std::uint32_t b = first;
        std::uint32_t previous = kNoBlock;
        while (b != kNoBlock) {
            std::size_t n = 0;
            if (!run_length_at(p, b, &n)) return c.fail(Invariant::I5_free_index, ai, b, "free-run record does not match the tables");
            if (t.free_run_length(b, t.n_blocks) != n) return c.fail(Invariant::I5_free_index, ai, b, "free-run length is wrong");
            if (size_class(n) != cls) return c.fail(Invariant::I5_free_index, ai, b, "free run filed under the wrong class");
            FreeRunRecord r;
            __builtin_memcpy(&r, a.ptr_of(b), sizeof r);
            if (previous != kNoBlock && r.prev != previous) return c.fail(Invariant::I5_free_index, ai, b, "broken prev link");
            listed_blocks += n;
            if (++listed_runs > table_runs) return c.fail(Invariant::I5_free_index, ai, b, "more runs listed than exist (cycle or duplicate)");
            previous = b;
            b = r.next;
            if (b == first) break;
        }
    }
    if (a.index.current_begin != a.index.current_end) {
        std::size_t begin = a.index.current_begin;
        std::size_t n = a.index.current_end - begin;
        if (t.free_run_length(begin, t.n_blocks) != n || (begin > 0 && t.is_free(begin - 1))) {
            return c.fail(Invariant::I5_free_index, ai, begin, "current run is not a maximal free run");
        }
        listed_blocks += n;
        listed_runs += 1;
    }
    if (listed_runs != table_runs || listed_blocks != table_free) {
        return c.fail(Invariant::I5_free_index, ai, 0, "index misses free runs");
    }
    if (a.index.n_runs != table_runs || a.index.free_blocks != table_free) {
        return c.fail(Invariant::I5_free_index, ai, 0, "index totals are wrong");
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
    detail::Checker c;
    std::size_t used_bytes = 0;
    std::size_t ai = 0;
    for (Area* a = self.areas.first; a != nullptr; a = a->next, ++ai) {
        if (!detail::check_tables(c, *a, ai, detail::is_collecting(self.gc.phase))) return c.report;
        const detail::BlockTables& t = a->tables;
        std::size_t used = 0;
        std::size_t free_blocks = 0;
        std::size_t runs = 0;
        detail::Word previous_free_top = 0;
        for (std::size_t w = 0; w < t.n_words; ++w) {
            detail::Word free_bits = t.free_in(w);
            used += detail::count_ones(t.head[w] | t.tail[w]);
            free_blocks += detail::count_ones(free_bits);
            runs += detail::count_ones(free_bits & ~((free_bits << 1) | previous_free_top));
            previous_free_top = free_bits >> (detail::kWordBits - 1);
        }
        if (used + free_blocks != t.n_blocks || used != a->used_blocks) {
            c.fail(Invariant::I6_accounting, ai, 0, "area used-block count disagrees with the tables");
            return c.report;
        }
        used_bytes += used * kBlockBytes;
        // During a collection the index is stale until the sweep rebuilds it.
        if (!detail::is_collecting(self.gc.phase) && !detail::check_index(c, *a, ai, free_blocks, runs)) return c.report;
    }
    if (used_bytes != self.stats.used_bytes) {
        c.fail(Invariant::I6_accounting, 0, 0, "counters().used_bytes disagrees with the tables");
    }
    return c.report;
}

}  // namespace uheap
