// SPDX-License-Identifier: MIT
// The free space of one area, kept outside the pool: a tree of summaries of the block tables, so
// the lowest-addressed free run of at least n blocks is found in O(log blocks) with word
// operations, and nothing of the heap's is ever written into a free block.
//
// A summary describes a span of blocks by three numbers (Go's page allocator keeps the same):
//
//   start    free blocks at the span's start
//   longest  the longest free run anywhere in it
//   end      free blocks at the span's end
//
// Two adjacent spans merge in O(1): the run at the join is a.end + b.start. Level 1 summarises
// kFanout words of the free bitmap (free = neither head nor tail), each level above kFanout
// nodes of the level below, up to one root. A word's own summary is computed from the tables when
// needed, never stored, so the whole tree costs ~0.2 bits per block.
//
// The tables are the truth; summaries are derived from them and may lag: a change to the tables
// marks the level-1 node covering it dirty (one bit), and a search refreshes dirty nodes and
// their ancestors before it reads them. Nothing here can be forged by a host writing into freed
// memory, because nothing here lives there.
//
// In a build without UHEAP_FEATURE_FREE_INDEX there is no tree: a search scans the tables from
// its hint to the first fit, as py/gc.c does (for heaps of tens of kilobytes, a few hundred table
// words at most), and the functions that keep the tree do nothing. Placement is the same.
//
// Placement is address-ordered first fit: the lowest run that fits. The allocation fast path
// carves from a current run, kept only while that is still first fit: every free run below the
// current run is shorter than `fit_floor` blocks, so a request of at least fit_floor blocks that
// fits in the current run would land there under first fit too.
#pragma once

#include <cstddef>
#include <cstdint>

#include "block_table.hpp"
#include "uheap/config.hpp"

namespace uheap::detail {

/// Free runs of a span of blocks.
struct Summary {
    std::uint32_t start = 0;
    std::uint32_t longest = 0;
    std::uint32_t end = 0;
};

/// Children per node (table words per level-1 node): a level-1 node covers 512 blocks on every
/// target, so the tree costs the same ~0.21 bit per block with 32- and 64-bit words.
inline constexpr unsigned kFanout = static_cast<unsigned>(512 / kWordBits);
inline constexpr unsigned kMaxLevels = 10;   ///< 2^32 blocks need 9 levels at fanout 8, 7 at 16
inline constexpr std::size_t kNoRun = SIZE_MAX;
/// Block numbers and run lengths are kept in 32 bits.
inline constexpr std::size_t kMaxAreaBlocks = 0xfffffff0u;

/// Bits of `f` where a run of at least n set bits starts (inside the word). O(log n).
inline Word runs_at_least(Word f, std::size_t n) {
    std::size_t have = 1;
    while (have < n && f != 0) {
        std::size_t shift = have < n - have ? have : n - have;
        f &= f >> shift;
        have += shift;
    }
    return f;
}

/// Longest run of set bits in a word. O(log kWordBits): doubling, then binary refinement.
inline unsigned longest_run(Word f) {
    if (f == 0) return 0;
    if (f == ~Word(0)) return static_cast<unsigned>(kWordBits);
    unsigned length = 1;
    Word starts = f;  // where runs of at least `length` start
    for (Word longer; (longer = starts & (starts >> length)) != 0; length *= 2) starts = longer;
    for (unsigned step = length / 2; step > 0; step /= 2) {
        Word longer = starts & (starts >> step);
        if (longer != 0) {
            starts = longer;
            length += step;
        }
    }
    return length;
}

/// Summary of one word of free bits (set = free).
inline Summary word_summary(Word f) {
    if (f == ~Word(0)) {
        constexpr auto kAll = static_cast<std::uint32_t>(kWordBits);
        return Summary{kAll, kAll, kAll};
    }
    return Summary{count_trailing_zeros(~f), longest_run(f), static_cast<std::uint32_t>(kWordBits - 1 - highest_bit(~f))};
}

/// Summary of the span a then b (a covers a_span blocks, b covers b_span).
inline Summary merge(const Summary& a, std::uint64_t a_span, const Summary& b, std::uint64_t b_span) {
    Summary r;
    r.start = a.start == a_span ? static_cast<std::uint32_t>(a_span + b.start) : a.start;
    r.end = b.end == b_span ? static_cast<std::uint32_t>(b_span + a.end) : b.end;
    std::uint32_t join = a.end + b.start;
    r.longest = a.longest > b.longest ? a.longest : b.longest;
    if (join > r.longest) r.longest = join;
    return r;
}

/// Where one level of the tree lives. 32 bits each: an area has fewer than 2^32 blocks.
struct Level {
    std::uint32_t count;     ///< nodes of the level (level 0: table words)
    std::uint32_t node_at;   ///< index in `nodes` of the level's first node
    std::uint32_t dirty_at;  ///< word index in `dirty` of the level's bitmap (level 1's is first)
};

struct FreeSpace {
    Summary* nodes = nullptr;                 ///< every level, level 1 first
    Word* dirty = nullptr;                    ///< per level, one bit per node whose summary is stale
    /// levels + 1 entries, in the out-of-line memory beside the nodes (so an area's descriptor
    /// does not carry the table for the deepest tree any area could have).
    const Level* level = nullptr;
    std::uint8_t levels = 0;                  ///< node levels; level `levels` has one node (a few)
    bool any_dirty = false;
    /// The current run [current_begin, current_end): free blocks the fast path carves from.
    std::uint32_t current_begin = 0;
    std::uint32_t current_end = 0;
    /// Every free run that lies wholly below current_begin is shorter than this (blocks).
    std::size_t fit_floor = kNoRun;
    /// hint[k], k = 1..kHintSizes: every free run that begins below it is shorter than k blocks,
    /// so the first fit for a request of k blocks or more begins at or above it. hint[1] is the
    /// lowest free block (MicroPython's "first free" hint); the others let requests skip the
    /// small holes that fill the bottom of a fragmented heap. Each is raised only by searches
    /// for its own size (one store per search; hint[j] <= hint[k] for j < k is not kept, which
    /// costs nothing: each is a lower bound on its own).
    std::uint32_t hint[9] = {};
    /// Blocks from here on are not handed out: a pending lazy sweep's sweep_from (I8), else the
    /// area's n_blocks. The sweep moves it (free_space_sweep_reached); searches and the current
    /// run stop at it. (In the padding after hint on 64-bit targets; on 32-bit ones `levels` is a
    /// byte to make room: the control data's budget, areas.cpp.)
    std::uint32_t limit = 0;
};
inline constexpr std::size_t kHintSizes = 8;

/// Bytes of out-of-line storage the free space of an area of n_words table words needs.
std::size_t free_space_bytes(std::size_t n_words);
/// Lays the free space over `memory` (free_space_bytes() of it, Word-aligned) and summarises
/// the tables.
void free_space_init(FreeSpace& fs, void* memory, const BlockTables& t);
/// The tables changed in blocks [begin, end): their summaries are stale. O(1) per level-1 node.
inline void free_space_changed(FreeSpace& fs, std::size_t begin, std::size_t end) {
    constexpr std::size_t kBlocksPerNode = kFanout * kWordBits;
    if (!built::kFreeIndex || begin >= end) return;
    for (std::size_t node = begin / kBlocksPerNode; node <= (end - 1) / kBlocksPerNode; ++node) {
        fs.dirty[node / kWordBits] |= Word(1) << (node % kWordBits);  // level 1's bitmap comes first
    }
    fs.any_dirty = true;
}
/// The allocation fast path: n blocks from the start of the current run, if that is first fit
/// (n >= fit_floor) and they fit. Marks them changed; the caller marks them used in the tables.
/// No dirty bit is set here: every level-1 node that overlaps the current run is kept marked
/// dirty (free_space_refresh marks them again after it refreshed them), so carving from it needs
/// no bookkeeping beyond moving current_begin.
inline bool free_space_take_current(FreeSpace& fs, std::size_t n, std::size_t* start) {
    if (n < fs.fit_floor || fs.current_end - fs.current_begin < n) return false;
    *start = fs.current_begin;
    fs.current_begin += static_cast<std::uint32_t>(n);
    return true;
}
/// First fit below fs.limit: the lowest n free blocks (the current run if that is first fit,
/// else a search), or kNoRun. What follows them in their run, up to fs.limit, becomes the
/// current run. Marks them changed; the caller marks them used in the tables. O(kFanout ×
/// levels) for a search.
std::size_t free_space_take(FreeSpace& fs, const BlockTables& t, std::size_t n);
/// The search of free_space_take alone: the lowest block where n free blocks begin, if they end
/// by fs.limit, else kNoRun; it starts from the hints (which it raises). The free space is
/// otherwise unchanged, so a caller may change the tables (a lazy sweep, which moves the limit)
/// and search again before it takes the blocks.
std::size_t free_space_search(FreeSpace& fs, const BlockTables& t, std::size_t n);
/// Takes the n free blocks at `start` (a first fit from free_space_search); what follows them in
/// their run, up to fs.limit, becomes the current run.
std::size_t free_space_take_at(FreeSpace& fs, const BlockTables& t, std::size_t start, std::size_t n);
/// A lazy sweep stands at `limit` (a multiple of kWordBits, or n_blocks when it is done): nothing
/// is handed out from there on (I8). The current run is cut back to it.
void free_space_sweep_reached(FreeSpace& fs, std::size_t limit);
/// The tables now show blocks [begin, end) free (a free, a shrink). Keeps the current run first
/// fit: a run freed just below it joins it, anything else below it stops the fast path until
/// the next search. Returns where the free run holding them now begins. O(free run below / 64).
std::size_t free_space_released(FreeSpace& fs, const BlockTables& t, std::size_t begin, std::size_t end);
/// Blocks [begin, end) were taken other than through free_space_take (realloc growing in place).
void free_space_taken(FreeSpace& fs, std::size_t begin, std::size_t end);
/// A sweep freed blocks, the lowest at `lowest_freed`: if that lies below the current run, the
/// fast path waits for the next search; the hints come down to the free run that block is in.
/// O(that run / 64).
void free_space_swept(FreeSpace& fs, const BlockTables& t, std::size_t lowest_freed);
/// Brings every stale summary up to date, then marks the nodes over the current run dirty again
/// (see free_space_take_current). O(dirty nodes × kFanout × levels).
void free_space_refresh(FreeSpace& fs, const BlockTables& t);
/// Every summary recomputed from the tables (after a sweep changed many). O(n_words).
void free_space_rebuild(FreeSpace& fs, const BlockTables& t);
/// The lowest block where n free blocks begin, or kNoRun. Refreshes first.
/// O(kFanout × levels).
std::size_t free_space_find(FreeSpace& fs, const BlockTables& t, std::size_t n);
/// The longest free run of the area. Refreshes first. O(1) after that.
std::size_t free_space_longest(FreeSpace& fs, const BlockTables& t);
/// The first stale-free node whose stored summary differs from the tables (verify(), I5):
/// false and *level / *node set if one does.
bool free_space_matches(const FreeSpace& fs, const BlockTables& t, unsigned* level, std::size_t* node);

}  // namespace uheap::detail
