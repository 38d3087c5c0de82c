// SPDX-License-Identifier: MIT
// Segregated lists of free runs, with every record checked against the block tables.
#include "free_index.hpp"

#include <cstring>

#include "uheap/config.hpp"

namespace uheap::detail {
namespace {

// Records are read and written with memcpy: the pool is plain bytes the host also uses.
FreeRunRecord read_record(const IndexedPool& p, std::size_t block) {
    FreeRunRecord r;
    std::memcpy(&r, p.pool + block * kBlockBytes, sizeof r);
    return r;
}

void write_record(const IndexedPool& p, std::size_t block, const FreeRunRecord& r) {
    std::memcpy(p.pool + block * kBlockBytes, &r, sizeof r);
}

void write_next(const IndexedPool& p, std::size_t block, std::uint32_t next) {
    std::memcpy(p.pool + block * kBlockBytes + offsetof(FreeRunRecord, next), &next, sizeof next);
}

void write_prev(const IndexedPool& p, std::size_t block, std::uint32_t prev) {
    std::memcpy(p.pool + block * kBlockBytes + offsetof(FreeRunRecord, prev), &prev, sizeof prev);
}

std::uint32_t read_start_tag(const IndexedPool& p, std::size_t block) {
    std::uint32_t start;
    std::memcpy(&start, p.pool + block * kBlockBytes + offsetof(FreeRunRecord, start), sizeof start);
    return start;
}

void set_class_bit(FreeIndex& index, unsigned c) { index.nonempty[c / kWordBits] |= Word(1) << (c % kWordBits); }
void clear_class_bit(FreeIndex& index, unsigned c) { index.nonempty[c / kWordBits] &= ~(Word(1) << (c % kWordBits)); }

/// True iff block b begins a free run according to the tables.
bool is_run_start(const BlockTables& t, std::size_t b) {
    return b < t.n_blocks && t.is_free(b) && (b == 0 || !t.is_free(b - 1));
}

/// Smallest non-empty class >= c, or kClasses.
unsigned first_nonempty_class_from(const FreeIndex& index, unsigned c) {
    if (c >= kClasses) return kClasses;
    unsigned w = c / static_cast<unsigned>(kWordBits);
    Word bits = index.nonempty[w] & bits_from(c % kWordBits);
    while (bits == 0) {
        if (++w >= kClassWords) return kClasses;
        bits = index.nonempty[w];
    }
    unsigned found = w * static_cast<unsigned>(kWordBits) + count_trailing_zeros(bits);
    return found < kClasses ? found : kClasses;
}

/// Links a new record into its class; at the front (first = it) or the back (before first).
/// Fails, writing nothing, if the class's first record does not validate.
bool link(const IndexedPool& p, std::size_t start, std::size_t n, bool at_front) {
    FreeIndex& index = *p.index;
    unsigned c = size_class(n);
    FreeRunRecord r{kNoBlock, kNoBlock, static_cast<std::uint32_t>(n), static_cast<std::uint32_t>(start)};
    std::uint32_t first = index.first[c];
    std::uint32_t last = kNoBlock;
    if (first != kNoBlock) {
        // Linking writes into `first` (from the index) and `last` (read from pool memory): both
        // must be free-run starts in the tables, so a forged link cannot aim a write at an object.
        last = read_record(p, first).prev;
        if (!is_run_start(*p.tables, first) || !is_run_start(*p.tables, last)) return false;
    }
    if (first == kNoBlock) {
        r.next = r.prev = static_cast<std::uint32_t>(start);
        index.first[c] = static_cast<std::uint32_t>(start);
        set_class_bit(index, c);
    } else {
        r.next = first;
        r.prev = last;
        write_next(p, last, static_cast<std::uint32_t>(start));
        write_prev(p, first, static_cast<std::uint32_t>(start));
        if (at_front) index.first[c] = static_cast<std::uint32_t>(start);
    }
    write_record(p, start, r);
    // The start tag in the last block lets a neighbour freed later find this run in O(1).
    std::uint32_t tag = static_cast<std::uint32_t>(start);
    std::memcpy(p.pool + (start + n - 1) * kBlockBytes + offsetof(FreeRunRecord, start), &tag, sizeof tag);
    index.free_blocks += n;
    index.n_runs += 1;
    return true;
}

/// Puts what is left of the current run back into the lists (the counts move with it).
bool retire_current(const IndexedPool& p) {
    FreeIndex& index = *p.index;
    std::size_t begin = index.current_begin;
    std::size_t n = index.current_end - index.current_begin;
    if (n == 0) return true;
    index.current_begin = index.current_end = 0;
    index.free_blocks -= n;
    index.n_runs -= 1;
    return index_insert(p, begin, n);
}

}  // namespace

unsigned size_class(std::size_t n_blocks) {
    if (n_blocks <= kExactClasses) return static_cast<unsigned>(n_blocks - 1);
    unsigned top = highest_bit(static_cast<Word>(n_blocks));  // >= 4
    unsigned sub = static_cast<unsigned>(n_blocks >> (top - 2)) & (kSubClassesPerPower - 1);
    return kExactClasses + (top - 4) * kSubClassesPerPower + sub;
}

void index_clear(const IndexedPool& p) {
    for (auto& f : p.index->first) f = kNoBlock;
    for (auto& w : p.index->nonempty) w = 0;
    p.index->current_begin = p.index->current_end = 0;
    p.index->free_blocks = 0;
    p.index->n_runs = 0;
}

bool index_insert(const IndexedPool& p, std::size_t start, std::size_t n) { return link(p, start, n, true); }
bool index_append(const IndexedPool& p, std::size_t start, std::size_t n) { return link(p, start, n, false); }

void index_remove(const IndexedPool& p, std::size_t start) {
    FreeIndex& index = *p.index;
    FreeRunRecord r = read_record(p, start);
    unsigned c = size_class(r.n_blocks);
    if (r.next == start) {
        index.first[c] = kNoBlock;
        clear_class_bit(index, c);
    } else {
        write_next(p, r.prev, r.next);
        write_prev(p, r.next, r.prev);
        if (index.first[c] == start) index.first[c] = r.next;
    }
    index.free_blocks -= r.n_blocks;
    index.n_runs -= 1;
}

// Structural checks only, O(1): enough that following the record's links and rewriting its
// neighbours never touches a block that is not free. Whether the blocks a caller is about to
// hand out are really free is checked separately, over exactly those blocks (index_take).
bool record_is_valid(const IndexedPool& p, std::size_t start) {
    const BlockTables& t = *p.tables;
    if (start >= t.n_blocks || !t.is_free(start)) return false;
    if (start > 0 && t.is_free(start - 1)) return false;
    FreeRunRecord r = read_record(p, start);
    if (r.start != start || r.n_blocks == 0 || r.n_blocks > t.n_blocks - start) return false;
    std::size_t end = start + r.n_blocks;
    if (!t.is_free(end - 1) || (end < t.n_blocks && t.is_free(end))) return false;
    if (read_start_tag(p, end - 1) != start) return false;
    return is_run_start(t, r.next) && is_run_start(t, r.prev);
}

bool run_length_at(const IndexedPool& p, std::size_t start, std::size_t* n) {
    if (!record_is_valid(p, start)) return false;
    *n = read_record(p, start).n_blocks;
    return true;
}

bool run_is_exact(const IndexedPool& p, std::size_t start, std::size_t n) {
    return p.tables->free_run_length(start, start + n) == n && (start + n == p.tables->n_blocks || !p.tables->is_free(start + n));
}

bool index_take_from(const IndexedPool& p, std::size_t run_start, std::size_t run_n, std::size_t n) {
    index_remove(p, run_start);
    return run_n <= n || index_insert(p, run_start + n, run_n - n);
}

FitResult index_take(const IndexedPool& p, std::size_t n, std::size_t* start) {
    FreeIndex& index = *p.index;
    if (index.current_end - index.current_begin >= n) {  // the fast path
        *start = index.current_begin;
        take_from_current(index, n);
        return FitResult::found;
    }
    unsigned own = size_class(n);
    bool own_class_is_exact = n <= kExactClasses;
    std::size_t found = kNoBlock;
    std::size_t found_n = 0;
    // Runs in the request's own class may be shorter than n (unless the class is exact).
    auto look_in_own_class = [&](std::size_t budget) -> bool {
        std::uint32_t b = index.first[own];
        for (std::size_t i = 0; b != kNoBlock && i < budget; ++i) {
            // A list holds only runs of its own class, at most n_runs of them: a forged link
            // to another class's run (or a cycle that never returns to the first) is corruption,
            // not a reason to walk forever.
            if (i > index.n_runs) return false;
            std::size_t len = 0;
            if (!run_length_at(p, b, &len) || size_class(len) != own) return false;
            if (len >= n) {
                found = b;
                found_n = len;
                return true;
            }
            b = read_record(p, b).next;
            if (b == index.first[own]) break;
        }
        return true;
    };
    if (!own_class_is_exact && !look_in_own_class(8)) return FitResult::corrupted;
    if (found == kNoBlock) {
        unsigned c = first_nonempty_class_from(index, own_class_is_exact ? own : own + 1);
        if (c < kClasses) {
            found = index.first[c];
            if (!run_length_at(p, found, &found_n) || found_n < n || size_class(found_n) != c) return FitResult::corrupted;
        }
    }
    if (found == kNoBlock && !own_class_is_exact && !look_in_own_class(~std::size_t(0))) {
        return FitResult::corrupted;
    }
    if (found == kNoBlock) return FitResult::none;
    // The whole run becomes the current run, whose bounds are trusted from now on: check every
    // block of it against the tables, whatever the record claims. O(found_n / 64), once per
    // run taken from the lists.
    if (!run_is_exact(p, found, found_n)) return FitResult::corrupted;
    // The found run becomes the current run; the old current run goes back to the lists.
    index_remove(p, found);
    if (!retire_current(p)) return FitResult::corrupted;
    index.current_begin = static_cast<std::uint32_t>(found);
    index.current_end = static_cast<std::uint32_t>(found + found_n);
    index.free_blocks += found_n;
    index.n_runs += 1;
    *start = found;
    take_from_current(index, n);
    return FitResult::found;
}

FitResult index_take_at(const IndexedPool& p, std::size_t start, std::size_t n) {
    FreeIndex& index = *p.index;
    if (index.current_begin != index.current_end && start == index.current_begin) {
        if (index.current_end - index.current_begin < n) return FitResult::none;
        take_from_current(index, n);
        return FitResult::found;
    }
    std::size_t run_n = 0;
    if (!run_length_at(p, start, &run_n) || !run_is_exact(p, start, run_n)) return FitResult::corrupted;
    if (run_n < n) return FitResult::none;
    return index_take_from(p, start, run_n, n) ? FitResult::found : FitResult::corrupted;
}

// Merging with the current run keeps it current (it only grows), so a free right after an
// allocation from the current run costs no list operation at all.
bool index_release(const IndexedPool& p, std::size_t start, std::size_t n, std::size_t* run_begin,
                   std::size_t* run_end) {
    FreeIndex& index = *p.index;
    const BlockTables& t = *p.tables;
    bool has_current = index.current_begin != index.current_end;
    bool joins_current = false;
    std::size_t begin = start;
    std::size_t end = start + n;
    // Neighbouring runs are measured in the tables; their records are only unlinked, and only
    // once they agree with that measure.
    if (begin > 0 && t.is_free(begin - 1)) {
        if (has_current && index.current_end == begin) {
            joins_current = true;
            begin = index.current_begin;
        } else {
            std::size_t left = t.free_run_begin(begin);
            std::size_t left_n = 0;
            if (!run_length_at(p, left, &left_n) || left + left_n != begin) return false;
            index_remove(p, left);
            begin = left;
        }
    }
    if (end < t.n_blocks && t.is_free(end)) {
        if (has_current && index.current_begin == end) {
            joins_current = true;
            end = index.current_end;
        } else {
            std::size_t right_n = t.free_run_length(end, t.n_blocks);
            std::size_t recorded_n = 0;
            if (!run_length_at(p, end, &recorded_n) || recorded_n != right_n) return false;
            index_remove(p, end);
            end += right_n;
        }
    }
    *run_begin = begin;
    *run_end = end;
    if (!joins_current) return index_insert(p, begin, end - begin);
    index.free_blocks += (end - begin) - (index.current_end - index.current_begin);
    index.current_begin = static_cast<std::uint32_t>(begin);
    index.current_end = static_cast<std::uint32_t>(end);
    return true;
}

std::size_t index_rebuild(const IndexedPool& p) {
    const BlockTables& t = *p.tables;
    index_clear(p);
    std::size_t largest = 0;
    for (std::size_t w = 0; w < t.n_words; ++w) {
        Word free_bits = t.free_in(w);
        while (free_bits != 0) {
            std::size_t start = w * kWordBits + count_trailing_zeros(free_bits);
            std::size_t n = t.free_run_length(start, t.n_blocks);
            index_append(p, start, n);
            if (n > largest) largest = n;
            std::size_t end = start + n;
            if (word_index(end) != w) {
                // The run crossed into later words: continue from the word it ends in.
                w = word_index(end);
                if (w >= t.n_words) return largest;
                free_bits = t.free_in(w) & bits_from(static_cast<unsigned>(end % kWordBits));
                continue;
            }
            free_bits &= bits_from(static_cast<unsigned>(end % kWordBits));
        }
    }
    return largest;
}

}  // namespace uheap::detail
