// SPDX-License-Identifier: MIT
// Word-at-a-time range operations and searches on the block tables.
#include "block_table.hpp"

namespace uheap::detail {

void set_bits(Word* table, std::size_t begin, std::size_t end) {
    while (begin < end) {
        std::size_t w = word_index(begin);
        unsigned from = static_cast<unsigned>(begin % kWordBits);
        std::size_t word_end = (w + 1) * kWordBits;
        unsigned to = end >= word_end ? static_cast<unsigned>(kWordBits) : static_cast<unsigned>(end % kWordBits);
        table[w] |= bits_from(from) & bits_below(to);
        begin = word_end;
    }
}

void clear_bits(Word* table, std::size_t begin, std::size_t end) {
    while (begin < end) {
        std::size_t w = word_index(begin);
        unsigned from = static_cast<unsigned>(begin % kWordBits);
        std::size_t word_end = (w + 1) * kWordBits;
        unsigned to = end >= word_end ? static_cast<unsigned>(kWordBits) : static_cast<unsigned>(end % kWordBits);
        table[w] &= ~(bits_from(from) & bits_below(to));
        begin = word_end;
    }
}

// The object ends at the first block after its head whose tail-only bit is zero. Scanning the
// complement a word at a time finds it with one ctz per 64 blocks.
std::size_t BlockTables::object_end(std::size_t head_block) const {
    std::size_t b = head_block + 1;
    if (b >= n_blocks) return n_blocks;
    std::size_t w = word_index(b);
    Word not_tail = ~tails_in(w) & bits_from(static_cast<unsigned>(b % kWordBits));
    while (not_tail == 0) {
        ++w;
        if (w >= n_words) return n_blocks;
        not_tail = ~tails_in(w);
    }
    std::size_t end = w * kWordBits + count_trailing_zeros(not_tail);
    return end < n_blocks ? end : n_blocks;
}

// Stops at the first used block or at `limit`, whichever comes first: callers checking a short
// prefix of a long run must not pay for the whole run. Blocks b .. w * kWordBits - 1 are free.
std::size_t BlockTables::free_run_length_from_word(std::size_t w, std::size_t b, std::size_t limit) const {
    const std::size_t last_word = word_index(limit - 1);
    for (; w <= last_word; ++w) {
        Word used = head[w] | tail[w];
        if (used != 0) {
            std::size_t end = w * kWordBits + count_trailing_zeros(used);
            return (end < limit ? end : limit) - b;
        }
    }
    return limit - b;
}

std::size_t BlockTables::free_run_begin(std::size_t end) const {
    std::size_t b = end - 1;
    std::size_t w = word_index(b);
    Word used = (head[w] | tail[w]) & bits_below(static_cast<unsigned>(b % kWordBits) + 1);
    while (used == 0) {
        if (w == 0) return 0;
        --w;
        used = head[w] | tail[w];
    }
    return w * kWordBits + highest_bit(used) + 1;
}

// Walks backwards to the nearest head; every block between must be a tail for `b` to belong to
// that head's object. Used only by interior-pointer marking and checks, never on hot paths
// with the option off.
std::size_t BlockTables::head_containing(std::size_t b) const {
    if (b >= n_blocks || is_free(b)) return n_blocks;
    std::size_t w = word_index(b);
    Word heads = head[w] & bits_below(static_cast<unsigned>(b % kWordBits) + 1);
    while (heads == 0) {
        if (w == 0) return n_blocks;
        --w;
        heads = head[w];
    }
    std::size_t h = w * kWordBits + highest_bit(heads);
    // Tails are contiguous behind their head (I2), so no free block can lie between h and b.
    return h;
}

}  // namespace uheap::detail
