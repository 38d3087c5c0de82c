// SPDX-License-Identifier: MIT
// Statistics: exact info() word-at-a-time, info_fast(), and MicroPython's two text reports
// printed through the host's callback (no stdio in the core).

#include "heap_impl.hpp"

namespace uheap::detail {
namespace {

/// Buffered text output through the host's PrintFn, with the few conversions the reports need.
class Printer {
public:
    Printer(PrintFn fn, void* user) : fn_(fn), user_(user) {}
    ~Printer() { flush(); }
    void put(char c) {
        if (used_ == sizeof buffer_) flush();
        buffer_[used_++] = c;
    }
    void text(const char* s) {
        while (*s != '\0') put(*s++);
    }
    void unsigned_decimal(std::size_t value) { digits(value, 10, 0); }
    /// Lowercase hex, zero-padded to `width` digits (MicroPython's %08x, and %p without prefix).
    void hex(std::uintptr_t value, unsigned width) { digits(value, 16, width); }
    void flush() {
        if (used_ > 0 && fn_ != nullptr) fn_(user_, buffer_, used_);
        used_ = 0;
    }

private:
    void digits(std::uintptr_t value, unsigned base, unsigned width) {
        char reversed[32];
        unsigned n = 0;
        do {
            reversed[n++] = "0123456789abcdef"[value % base];
            value /= base;
        } while (value != 0);
        while (n < width && n < sizeof reversed) reversed[n++] = '0';
        while (n > 0) put(reversed[--n]);
    }
    PrintFn fn_;
    void* user_;
    char buffer_[80];  // a line of the block map; small enough for a microcontroller task's stack
    std::size_t used_ = 0;
};

/// An area's tables one word at a time, in address order, as the sweep will leave them: where a
/// lazy sweep has yet to pass, the blocks of dead objects read free (I8: they are booked free
/// already), so info() reports the same heap whether or not the sweep has run, without running it.
class SweptWords {
public:
    explicit SweptWords(const Area& a) : t_(a.tables), sweep_from_(a.sweep_from) {}
    struct Bits {
        Word heads;
        Word tails;  ///< tail blocks (a head's own tail bit, its finaliser flag, excluded)
        Word free;
    };
    /// Word `w`; words are asked for in increasing order, each once.
    Bits at(std::size_t w) {
        Bits b{t_.head[w], t_.tails_in(w), t_.free_in(w)};
        if (!built::kLazySweep || (w + 1) * kWordBits <= sweep_from_) return b;
        Word dead = t_.head[w] & ~t_.mark[w];
        if (w * kWordBits < sweep_from_) dead &= bits_from(static_cast<unsigned>(sweep_from_ % kWordBits));
        if (dead == 0 && !carry_) return b;
        DeadBlocks d = dead_blocks_in(dead, b.tails, carry_);
        carry_ = d.runs_on;
        return Bits{b.heads & ~dead, b.tails & ~d.blocks, b.free | d.blocks};
    }

private:
    const BlockTables& t_;
    std::size_t sweep_from_;  ///< Area::kSwept when nothing is pending
    bool carry_ = false;
};

char block_char(const Area& a, std::size_t b, LetterFn letter, void* letter_user) {
    const BlockTables& t = a.tables;
    if (t.is_free(b)) return '.';
    if (!t.is_head(b)) return '=';
    if (t.is_marked(b)) return 'm';
    return letter != nullptr ? letter(letter_user, a.ptr_of(b)) : 'h';
}

}  // namespace
}  // namespace uheap::detail

namespace uheap {

using detail::Area;
using detail::HeapImpl;
using detail::Word;
using detail::kWordBits;

// One pass over each area's tables. For every word: used and object counts by popcount; one- and
// two-block objects as heads whose next (and next-but-one) block is not a tail, using the tail
// bits shifted down with the next word's low bits carried in; longest free run and longest tail
// run with LongestRun; free runs as free bits whose predecessor is not free. A pending lazy sweep
// is read through (SweptWords), not run: info() changes nothing.
Info Heap::info() const {
    const HeapImpl& self = HeapImpl::of(*this);
    detail::SharedSection shared(self);
    if (shared.refused()) return Info{};
    Info info;
    std::size_t free_blocks = 0;
    std::size_t used_blocks = 0;
    std::size_t longest_tail_run = 0;
    for (const Area* a = self.areas.first; a != nullptr; a = a->next) {
        const detail::BlockTables& t = a->tables;
        info.total += a->pool_bytes;
        ++info.areas;
        detail::LongestRun free_run;
        detail::LongestRun tail_run;
        Word previous_free_top = 0;
        // I7: every block from the high-water mark up is free, so only the words below it are
        // read; the free tail above it is added at the end in O(1).
        const std::size_t n_words = detail::words_for_blocks(a->high_water);
        std::size_t area_free = 0;
        detail::SweptWords words(*a);
        detail::SweptWords::Bits now = n_words > 0 ? words.at(0) : detail::SweptWords::Bits{0, 0, 0};
        Word tails = now.tails;
        for (std::size_t w = 0; w < n_words; ++w) {
            detail::SweptWords::Bits next = w + 1 < n_words ? words.at(w + 1) : detail::SweptWords::Bits{0, 0, 0};
            Word next_tails = next.tails;
            Word heads = now.heads;
            Word free_bits = now.free;
            now = next;
            Word tail_after = (tails >> 1) | (next_tails << (kWordBits - 1));
            Word tail_after_two = (tails >> 2) | (next_tails << (kWordBits - 2));
            area_free += detail::count_ones(free_bits);
            info.objects += detail::count_ones(heads);
            info.num_1block += detail::count_ones(heads & ~tail_after);
            info.num_2block += detail::count_ones(heads & tail_after & ~tail_after_two);
            info.free_runs += detail::count_ones(free_bits & ~((free_bits << 1) | previous_free_top));
            previous_free_top = free_bits >> (kWordBits - 1);
            free_run.feed(free_bits);
            tail_run.feed(tails);
            tails = next_tails;
        }
        const std::size_t scanned = n_words * kWordBits < t.n_blocks ? n_words * kWordBits : t.n_blocks;
        const std::size_t above = t.n_blocks - scanned;
        if (above > 0) {
            area_free += above;
            if (previous_free_top == 0) ++info.free_runs;
            free_run.current += above;
        }
        free_blocks += area_free;
        used_blocks += t.n_blocks - area_free;  // I1: every block is free or used
        if (free_run.finish() > info.max_free) info.max_free = free_run.finish();
        if (tail_run.finish() > longest_tail_run) longest_tail_run = tail_run.finish();
    }
    info.used = used_blocks * kBlockBytes;
    info.free = free_blocks * kBlockBytes;
    info.max_block = info.objects > 0 ? longest_tail_run + 1 : 0;
    info.metadata_bytes = self.areas.metadata_bytes;
    info.fragmentation_permille = detail::fragmentation_permille(info.max_free, info.free / kBlockBytes);
    return info;
}

Info Heap::info_fast() const {
    const HeapImpl& self = HeapImpl::of(*this);
    detail::SharedSection shared(self);
    if (shared.refused()) return Info{};
    Info info;
    for (const Area* a = self.areas.first; a != nullptr; a = a->next) {
        info.total += a->pool_bytes;
        info.used += a->used_blocks * kBlockBytes;
    }
    info.free = info.total - info.used;
    return info;
}

void Heap::dump_info(PrintFn print, void* print_user) const {
    Info i = info();
    detail::Printer out(print, print_user);
    out.text("GC: total: ");
    out.unsigned_decimal(i.total);
    out.text(", used: ");
    out.unsigned_decimal(i.used);
    out.text(", free: ");
    out.unsigned_decimal(i.free);
    out.text("\n No. of 1-blocks: ");
    out.unsigned_decimal(i.num_1block);
    out.text(", 2-blocks: ");
    out.unsigned_decimal(i.num_2block);
    out.text(", max blk sz: ");
    out.unsigned_decimal(i.max_block);
    out.text(", max free sz: ");
    out.unsigned_decimal(i.max_free);
    out.text("\n");
}

// MicroPython's layout: per area a header, then lines of 64 blocks prefixed by the byte offset;
// where two or more whole lines from a line start are free, one "(N lines all free)" replaces them.
void Heap::dump_alloc_table(PrintFn print, void* print_user, LetterFn letter, void* letter_user) const {
    detail::SharedSection shared(HeapImpl::of(*this));
    if (shared.refused()) return;
    const HeapImpl& self = HeapImpl::swept(*this);
    constexpr std::size_t kBlocksPerLine = 64;
    detail::Printer out(print, print_user);
    for (const Area* a = self.areas.first; a != nullptr; a = a->next) {
        const std::size_t n = a->tables.n_blocks;
        out.text("GC memory layout; from ");
        out.hex(a->pool_begin(), 0);
        out.text(":");
        for (std::size_t b = 0; b < n; ++b) {
            if (b % kBlocksPerLine == 0) {
                std::size_t free_end = b + a->tables.free_run_length(b, n);
                if (free_end - b >= 2 * kBlocksPerLine) {
                    out.text("\n       (");
                    out.unsigned_decimal((free_end - b) / kBlocksPerLine);
                    out.text(" lines all free)");
                    b = free_end & ~(kBlocksPerLine - 1);
                    if (b >= n) break;
                }
                out.text("\n");
                out.hex(static_cast<std::uintptr_t>(static_cast<std::uint32_t>(b * kBlockBytes)), 8);
                out.text(": ");
            }
            out.put(detail::block_char(*a, b, letter, letter_user));
        }
        out.text("\n");
    }
}

// Objects come from the head bits (their ends from object_end); free runs from the free bits.
// Both are walked in one merged pass so spans arrive in address order.
void Heap::walk(WalkFn fn, void* user) const {
    detail::SharedSection shared(HeapImpl::of(*this));
    if (shared.refused()) return;
    const HeapImpl& self = HeapImpl::swept(*this);
    std::size_t ai = 0;
    for (const Area* a = self.areas.first; a != nullptr; a = a->next, ++ai) {
        const detail::BlockTables& t = a->tables;
        std::size_t b = 0;
        while (b < t.n_blocks) {
            HeapSpan span;
            span.area = ai;
            span.first_block = b;
            if (t.is_free(b)) {
                span.n_blocks = t.free_run_length(b, t.n_blocks);
            } else {
                std::size_t end = t.object_end(b);
                span.n_blocks = end - b;
                span.object = a->ptr_of(b);
                span.flags = (t.has_finaliser(b) ? kFinaliser : 0u) | (t.is_weak(b) ? kWeak : 0u) |
                             (t.is_no_scan(b, end) ? kNoScan : 0u);
            }
            fn(user, span);
            b += span.n_blocks;
        }
    }
}

std::size_t Heap::area_count() const { return HeapImpl::of(*this).areas.count; }

AreaPool Heap::area_pool(std::size_t index) const {
    detail::SharedSection shared(HeapImpl::of(*this));
    if (shared.refused()) return AreaPool{};
    const Area* a = HeapImpl::of(*this).areas.first;
    for (; a != nullptr && index > 0; a = a->next) --index;
    if (a == nullptr) return AreaPool{};
    return AreaPool{a->pool, a->tables.n_blocks};
}

const char* invariant_name(Invariant id) {
    switch (id) {
        case Invariant::none: return "none";
        case Invariant::I1_block_kind: return "I1_block_kind";
        case Invariant::I2_extent: return "I2_extent";
        case Invariant::I3_no_marks: return "I3_no_marks";
        case Invariant::I4_flags_on_heads: return "I4_flags_on_heads";
        case Invariant::I5_free_index: return "I5_free_index";
        case Invariant::I6_accounting: return "I6_accounting";
        case Invariant::I7_high_water: return "I7_high_water";
        case Invariant::I8_lazy_sweep: return "I8_lazy_sweep";
    }
    return "unknown";
}

}  // namespace uheap
