// SPDX-License-Identifier: MIT
// The free-run index of one area: segregated lists of maximal free runs, so finding a run of n
// blocks costs O(1) however fragmented the pool is.
//
// Classes over run length (TLSF-style): lengths 1..16 have a class each; longer runs are grouped
// by their top bit and the two bits below it, four classes per power of two. A bitmap of
// non-empty classes finds the smallest class that can serve a request with one ctz.
//
// Each free run keeps a record in its own first block, and its start in its last block:
//
//   first block:  [ next | prev | n_blocks | start ]    (uint32 block numbers; kNoBlock = none)
//   last block:   [  ..  |  ..  |    ..    | start ]    (the same word when the run is 1 block)
//
// The records live in host-writable memory, so every record is validated against the block
// tables before it is trusted (see record_is_valid), and every length that is acted on (a run
// becoming the current run, a neighbour merged on release, a run grown into) is measured in the
// tables first (run_is_exact). A host that writes into freed memory gets Status::corrupted and a
// rebuilt index, never a write through a forged link nor a block handed out twice.
#pragma once

#include <cstddef>
#include <cstdint>

#include "block_table.hpp"

namespace uheap::detail {

inline constexpr std::uint32_t kNoBlock = 0xffffffffu;
inline constexpr std::size_t kMaxAreaBlocks = 0xfffffff0u;  // block numbers fit in 32 bits
inline constexpr unsigned kExactClasses = 16;
inline constexpr unsigned kSubClassesPerPower = 4;
inline constexpr unsigned kClasses = kExactClasses + (32 - 4) * kSubClassesPerPower;
inline constexpr unsigned kClassWords = (kClasses + kWordBits - 1) / kWordBits;

/// The record a free run keeps in its first block (and `start` in its last).
struct FreeRunRecord {
    std::uint32_t next;
    std::uint32_t prev;
    std::uint32_t n_blocks;
    std::uint32_t start;
};
static_assert(sizeof(FreeRunRecord) == 16, "the record must fit the smallest block");

struct FreeIndex {
    std::uint32_t first[kClasses];   ///< head of each class's circular list, kNoBlock if empty
    Word nonempty[kClassWords];      ///< bit c set iff class c has a run
    /// The current run [current_begin, current_end): one maximal free run detached from the
    /// lists. Allocations carve blocks from its start with no list operation, which is the
    /// allocation fast path; it goes back into the lists when a request does not fit in it.
    /// Its blocks keep no record (it is found through these two fields only).
    std::uint32_t current_begin;
    std::uint32_t current_end;
    std::size_t free_blocks;         ///< blocks in listed runs and the current run
    std::size_t n_runs;              ///< listed runs, plus one if the current run is not empty
};

/// The index operations need the pool and the tables of their area.
struct IndexedPool {
    FreeIndex* index;
    const BlockTables* tables;
    unsigned char* pool;
};

/// Class of a run of n >= 1 blocks.
unsigned size_class(std::size_t n_blocks);

/// Empties the index (no runs).
void index_clear(const IndexedPool& p);
/// Adds the run [start, start + n) at the front of its class list (most recently freed first).
/// The blocks must be free in the tables. False (nothing written) if a neighbouring record in
/// the list fails validation: the caller rebuilds the index.
bool index_insert(const IndexedPool& p, std::size_t start, std::size_t n);
/// Adds the run at the back of its class list (address order, used when rebuilding).
bool index_append(const IndexedPool& p, std::size_t start, std::size_t n);
/// Removes the indexed run starting at `start`, whose record the caller has validated.
void index_remove(const IndexedPool& p, std::size_t start);

/// True iff `start` begins a free run whose record agrees with the block tables:
/// in range, free, maximal on both sides, length consistent. O(1).
bool record_is_valid(const IndexedPool& p, std::size_t start);
/// Reads the length the record at `start` claims, after record_is_valid(); false if the record
/// is bad. Only the run's ends are checked: before a length is acted on, run_is_exact().
bool run_length_at(const IndexedPool& p, std::size_t start, std::size_t* n);
/// True iff the tables show exactly n free blocks from `start` (then a used block or the end).
/// O(n / 64).
bool run_is_exact(const IndexedPool& p, std::size_t start, std::size_t n);

/// Takes the first n blocks of the current run, which must hold at least n.
inline void take_from_current(FreeIndex& index, std::size_t n) {
    UHEAP_ASSERT(index.current_end - index.current_begin >= n);
    index.current_begin += static_cast<std::uint32_t>(n);
    index.free_blocks -= n;
    if (index.current_begin == index.current_end) {
        index.current_begin = index.current_end = 0;
        index.n_runs -= 1;
    }
}

/// Outcome of a search.
enum class FitResult { found, none, corrupted };
/// Takes n blocks. Fast path: the first n blocks of the current run. Otherwise finds a listed
/// run of at least n blocks (good fit: the smallest class that surely fits, after a short look
/// in the request's own class), returns the old current run to the lists, and makes what is left
/// of the found run the new current run. `*start` receives the first block. O(1) unless only
/// the request's own class has a fit, when its list is walked.
FitResult index_take(const IndexedPool& p, std::size_t n, std::size_t* start);
/// Takes exactly the n blocks starting at `start`, which must begin the current run or a listed
/// run (realloc growing in place). `none` if that run is shorter than n.
FitResult index_take_at(const IndexedPool& p, std::size_t start, std::size_t n);
/// Removes the run at `run_start` (length run_n, validated) and takes its first n blocks,
/// re-indexing the rest. False if re-indexing met a bad record.
bool index_take_from(const IndexedPool& p, std::size_t run_start, std::size_t run_n, std::size_t n);
/// Indexes the blocks [start, start + n), about to be freed in the tables (still marked used
/// while this runs, so neighbours validate against a consistent picture), merged with the free runs
/// on either side (which may be the current run) so only maximal runs are kept (I5). The merged
/// run is returned in *run_begin / *run_end. False if a neighbour's record is bad.
bool index_release(const IndexedPool& p, std::size_t start, std::size_t n, std::size_t* run_begin,
                   std::size_t* run_end);

/// Rebuilds the index from the block tables, runs in address order. Returns the largest run.
std::size_t index_rebuild(const IndexedPool& p);

}  // namespace uheap::detail
