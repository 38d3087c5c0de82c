// SPDX-License-Identifier: MIT
// The per-block bitmaps and the word-at-a-time operations on them.
//
// Glossary (one word per concept, used everywhere in uheap):
//   block     kBlockBytes of pool memory, the unit of allocation.
//   object    a run of whole blocks handed out by alloc(); its first block is its head.
//   head      the first block of an object.
//   tail      every later block of an object.
//   free run  a maximal run of free blocks (neither head nor tail).
//   area      one region handed in by the host: control data, tables, and one pool.
//   pool      the block-aligned array of blocks inside an area.
//   root      a word outside the heap that may point at an object (stack, registers, host data).
//   live      reachable from a root at the last mark; dead = not live, freed by the sweep.
//   mark      the per-collection "reached" bit of a head.
//
// Four bitmaps, one bit per block each: 4 bits of metadata per block for every feature.
// A block's kind comes from `head` and `tail`; the spare bits of each kind carry the flags:
//
//   kind          head  tail        mark                 flag
//   free           0     0          0                    0
//   head           1     finaliser  marked (collection)  weak
//   first tail     0     1          destructor           no-scan (of its object)
//   later tail     0     1          0                    0
//
// Why this encoding: a head needs mark + finaliser + weak + no-scan (16 states) and free/tail
// need two more, 18 states in all, which four per-block bits cannot hold. Heads keep the two flags
// MicroPython itself has (finaliser, weak) so every object can carry them; no-scan, which only
// pays off for buffers, lives on the object's first tail. A one-block object therefore cannot be
// no-scan: it is scanned, which costs reading its own 2-4 words. The first tail's mark bit, which
// marking never sets (it marks heads), says the object's last word holds a DestructorFn
// (kDestructor, make<T>'s objects): so the host's finaliser and C++ destructors share one heap
// with no table of their own, for objects of two blocks or more.
//
// Invariants (checked by verify(), numbered as in docs/design.md):
//   I1 every block is exactly one of free, head, tail (by the table above; bits past the last
//      block of an area are zero in all four tables).
//   I2 a tail is preceded by a head or a tail of the same area (no tail follows a free block).
//   I3 outside a collection no head is marked; during one, marks are on heads only (a first
//      tail's destructor bit is not a mark).
//   I4 flag bits only as the table allows: `flag` on heads (weak) and first tails (no-scan);
//      `mark` on no later tail or free block.
//   I5 the free-space summaries agree with the tables (free_space.hpp); the current run is free
//      and first fit; every free run that begins below a size hint is shorter than that size.
//   I6 used + free == total in every area, and the O(1) counters agree with a full scan.
//   I7 every block at or above an area's high-water mark is free.
#pragma once

#include <cstddef>
#include <cstdint>

// The core never throws and never asks for a type at run time, but a microcontroller build with
// exceptions or RTTI on still links the unwinder and type information (about 4.4 KB on a
// Cortex-M4): such a build stops here, unless the host says it wants them anyway.
#if defined(__ARM_ARCH_PROFILE) && __ARM_ARCH_PROFILE == 'M' && !defined(UHEAP_ALLOW_EXCEPTIONS_AND_RTTI)
#if defined(__cpp_exceptions) || defined(__GXX_RTTI) || defined(__cpp_rtti)
#error "uheap's core on a Cortex-M: build it with -fno-exceptions -fno-rtti, or define UHEAP_ALLOW_EXCEPTIONS_AND_RTTI"
#endif
#endif

// Internal consistency checks, citing the invariant they protect (never bad input: that gets a
// Status). Define UHEAP_ASSERT to a handler of your own at build time; by default it traps in
// debug builds and vanishes otherwise.
#ifndef UHEAP_ASSERT
#ifdef NDEBUG
#define UHEAP_ASSERT(condition) ((void)0)
#else
#define UHEAP_ASSERT(condition) ((condition) ? (void)0 : __builtin_trap())
#endif
#endif

namespace uheap::detail {

/// A Cortex-M part: no data cache worth prefetching for, and task stacks of a few KB. The buffers
/// the collector keeps on the stack (the marking loop's prefetch ring, the stack scan's batch) are
/// sized for it there, which takes about 200 bytes off a collection's stack.
#if defined(__ARM_ARCH_PROFILE) && __ARM_ARCH_PROFILE == 'M'
inline constexpr bool kMicrocontroller = true;
#else
inline constexpr bool kMicrocontroller = false;
#endif

using Word = std::uintptr_t;
inline constexpr std::size_t kWordBits = sizeof(Word) * 8;

inline std::size_t word_index(std::size_t block) { return block / kWordBits; }
inline Word bit_mask(std::size_t block) { return Word(1) << (block % kWordBits); }
inline std::size_t words_for_blocks(std::size_t n_blocks) { return (n_blocks + kWordBits - 1) / kWordBits; }

// The bit operations on a table word, each with the builtin of the word's own width: on a 32-bit
// target the 64-bit builtins are libgcc calls (__ctzdi2, __clzdi2), and a 64-bit multiply is
// __aeabi_lmul.

/// Index of the lowest set bit (w != 0).
inline unsigned count_trailing_zeros(Word w) {
    if constexpr (sizeof(Word) <= sizeof(unsigned)) {
        return static_cast<unsigned>(__builtin_ctz(static_cast<unsigned>(w)));
    } else {
        return static_cast<unsigned>(__builtin_ctzll(static_cast<unsigned long long>(w)));
    }
}
/// Index of the highest set bit (w != 0).
inline unsigned highest_bit(Word w) {
    if constexpr (sizeof(Word) <= sizeof(unsigned)) {
        return static_cast<unsigned>(kWordBits - 1 - __builtin_clz(static_cast<unsigned>(w)));
    } else {
        return static_cast<unsigned>(kWordBits - 1 - __builtin_clzll(static_cast<unsigned long long>(w)));
    }
}
/// Set bits of a word. Without a popcount instruction (baseline x86-64, Cortex-M) the builtin
/// calls into libgcc; the SWAR sum, in the word's own width, is as fast and stays inline.
inline unsigned count_ones(Word w) {
#if defined(__POPCNT__) || defined(__aarch64__)
    return static_cast<unsigned>(__builtin_popcountll(static_cast<unsigned long long>(w)));
#else
    constexpr Word k55 = ~Word(0) / 3, k33 = ~Word(0) / 15 * 3, k0f = ~Word(0) / 255 * 15, k01 = ~Word(0) / 255;
    Word x = w - ((w >> 1) & k55);
    x = (x & k33) + ((x >> 2) & k33);
    x = (x + (x >> 4)) & k0f;
    return static_cast<unsigned>((x * k01) >> (kWordBits - 8));
#endif
}

/// Mask of bits [from, kWordBits) of a word (from < kWordBits).
inline Word bits_from(unsigned from) { return ~Word(0) << from; }
/// Mask of bits [0, to) of a word (to <= kWordBits).
inline Word bits_below(unsigned to) { return to >= kWordBits ? ~Word(0) : (Word(1) << to) - 1; }

inline bool test_bit(const Word* table, std::size_t block) { return (table[word_index(block)] & bit_mask(block)) != 0; }
inline void set_bit(Word* table, std::size_t block) { table[word_index(block)] |= bit_mask(block); }
inline void clear_bit(Word* table, std::size_t block) { table[word_index(block)] &= ~bit_mask(block); }

/// Sets bits [begin, end) of a table, a word at a time.
void set_bits(Word* table, std::size_t begin, std::size_t end);
/// Clears bits [begin, end) of a table, a word at a time.
void clear_bits(Word* table, std::size_t begin, std::size_t end);

/// Longest run of set bits across a stream of words (lowest bit of each word first).
struct LongestRun {
    std::size_t current = 0;
    std::size_t longest = 0;

    void feed(Word bits) {
        if (bits == ~Word(0)) {
            current += kWordBits;
            return;
        }
        current += count_trailing_zeros(~bits);  // the low bits continue the run from before
        if (current > longest) longest = current;
        // Runs wholly inside this word matter only while the longest is shorter than a word.
        if (longest < kWordBits) {
            unsigned inside = 0;
            for (Word x = bits; x != 0; x &= x >> 1) ++inside;
            if (inside > longest) longest = inside;
        }
        current = kWordBits - 1 - highest_bit(~bits);  // the high bits start the next run
    }
    std::size_t finish() const { return current > longest ? current : longest; }
};

/// The blocks of the dead objects of one table word, found at once (the sweep and the census of
/// the dead both use it). Seeds sit just after each dead head (D << 1), plus bit 0 when a dead
/// object runs on from the previous word. Adding the seeds to the tail-only bits Q carries
/// through exactly the tail run that starts at a seed, flipping it to zero; (Q + seeds) ^ Q,
/// masked by Q, is those tails. A run of Q has one head before it, so it meets at most one seed,
/// and a carry leaving a run lands on a head or free block, which is not in Q, so it stops there.
/// A carry out of the top bit continues the last dead object into the next word.
struct DeadBlocks {
    Word blocks;   ///< dead heads and their tails
    bool runs_on;  ///< the last dead object continues into the next word
};

inline DeadBlocks dead_blocks_in(Word dead_heads, Word tails, bool continued) {
    Word seeds = (dead_heads << 1) | (continued ? 1 : 0);
    Word sum = 0;
    bool carry = __builtin_add_overflow(tails, seeds, &sum);
    bool head_at_top = (dead_heads >> (kWordBits - 1)) != 0;
    return DeadBlocks{dead_heads | ((sum ^ tails) & tails), carry || head_at_top};
}

/// The four tables of one area. All have `n_words` words; bits past `n_blocks` stay zero.
struct BlockTables {
    Word* head = nullptr;
    Word* tail = nullptr;
    Word* mark = nullptr;
    Word* flag = nullptr;
    std::size_t n_blocks = 0;
    std::size_t n_words = 0;

    bool is_head(std::size_t b) const { return test_bit(head, b); }
    bool is_tail(std::size_t b) const { return !test_bit(head, b) && test_bit(tail, b); }
    bool is_free(std::size_t b) const { return ((head[word_index(b)] | tail[word_index(b)]) & bit_mask(b)) == 0; }
    bool is_marked(std::size_t b) const { return test_bit(mark, b); }
    /// For a head: the finaliser flag (the head's `tail` bit).
    bool has_finaliser(std::size_t head_block) const { return test_bit(tail, head_block); }
    /// For a head: the weak flag (the head's `flag` bit).
    bool is_weak(std::size_t head_block) const { return test_bit(flag, head_block); }

    // Named transitions of the overloaded bits (the table above), so no caller writes
    // `set_bit(tail, head)` meaning "has a finaliser".
    void set_finaliser(std::size_t head_block) { set_bit(tail, head_block); }
    void clear_finaliser(std::size_t head_block) { clear_bit(tail, head_block); }
    void set_weak(std::size_t head_block) { set_bit(flag, head_block); }
    void clear_weak(std::size_t head_block) { clear_bit(flag, head_block); }
    /// On the first tail: only objects of two blocks or more can be no-scan.
    void set_no_scan(std::size_t head_block) { set_bit(flag, head_block + 1); }
    void set_mark(std::size_t head_block) { set_bit(mark, head_block); }
    /// On the first tail's mark bit: the object's last word holds a DestructorFn. Two blocks or
    /// more only (the caller makes sure).
    void set_destructor(std::size_t head_block) { set_bit(mark, head_block + 1); }
    bool has_destructor(std::size_t head_block) const {
        std::size_t first_tail = head_block + 1;
        return first_tail < n_blocks && is_tail(first_tail) && test_bit(mark, first_tail);
    }
    /// Makes [begin, end) tails of the object before them.
    void set_tails(std::size_t begin, std::size_t end) { set_bits(tail, begin, end); }
    /// Frees [begin, end) in every table: heads, tails, marks and flags.
    void clear_blocks(std::size_t begin, std::size_t end) {
        clear_bits(head, begin, end);
        clear_bits(tail, begin, end);
        clear_bits(mark, begin, end);
        clear_bits(flag, begin, end);
    }

    /// Tail blocks of word `w` (a head's tail bit is its finaliser flag, not a tail).
    Word tails_in(std::size_t w) const { return tail[w] & ~head[w]; }
    /// Free blocks of word `w`, only those below n_blocks.
    Word free_in(std::size_t w) const { return ~(head[w] | tail[w]) & valid_in(w); }
    /// Bits of word `w` that are real blocks.
    Word valid_in(std::size_t w) const {
        std::size_t first = w * kWordBits;
        return n_blocks - first >= kWordBits ? ~Word(0) : bits_below(static_cast<unsigned>(n_blocks - first));
    }

    /// Length of the longest free run, from the tables alone. O(n_words).
    std::size_t longest_free_run() const {
        LongestRun run;
        for (std::size_t w = 0; w < n_words; ++w) run.feed(free_in(w));
        return run.finish();
    }
    /// One past the last block of the object whose head is `head_block`: the first block after
    /// it that is not a tail. O(object blocks / 64).
    std::size_t object_end(std::size_t head_block) const;
    /// Length of the free run starting at `b` (0 if `b` is not free), bounded by `limit`.
    std::size_t free_run_length(std::size_t b, std::size_t limit) const {
        if (limit > n_blocks) limit = n_blocks;
        if (b >= limit) return 0;
        // The first word inline: most runs end in it (a used block at b itself gives 0).
        std::size_t w = word_index(b);
        Word used = (head[w] | tail[w]) & bits_from(static_cast<unsigned>(b % kWordBits));
        if (used != 0) {
            std::size_t end = w * kWordBits + count_trailing_zeros(used);
            return (end < limit ? end : limit) - b;
        }
        return free_run_length_from_word(w + 1, b, limit);
    }
    /// free_run_length()'s loop over the words after the first (`w`), for a run from b.
    std::size_t free_run_length_from_word(std::size_t w, std::size_t b, std::size_t limit) const;
    /// True iff the object at `head_block` is two blocks or more and flagged no-scan.
    bool is_no_scan(std::size_t head_block, std::size_t end) const {
        return end - head_block >= 2 && test_bit(flag, head_block + 1);
    }
    /// First block of the free run that ends at `end` (block end - 1 is free). O(run / 64).
    std::size_t free_run_begin(std::size_t end) const;
    /// The head of the object containing block `b`, or n_blocks if `b` is free.
    /// O(distance / 64) backwards.
    std::size_t head_containing(std::size_t b) const;
};

}  // namespace uheap::detail
