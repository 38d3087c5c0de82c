// SPDX-License-Identifier: MIT
// Block tables (src/block_table.*): word-at-a-time range operations and searches, checked
// against a one-bit-at-a-time model, including ranges that cross word boundaries.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "block_table.hpp"
#include "test_support.hpp"

namespace {

using uheap::detail::BlockTables;
using uheap::detail::kWordBits;
using uheap::detail::Word;

// The word operations in the word's own width (no 64-bit libgcc helpers on 32-bit targets), checked
// against the obvious loops on every single bit and on random words.
TEST(BlockTables, WordOperationsMatchTheirDefinitions) {
    auto reference = [](Word w, unsigned* low, unsigned* high, unsigned* ones) {
        *ones = 0;
        for (unsigned b = 0; b < kWordBits; ++b) {
            if ((w >> b) & 1) {
                if (*ones == 0) *low = b;
                *high = b;
                ++*ones;
            }
        }
    };
    std::mt19937_64 rng(5);
    std::vector<Word> words;
    for (unsigned b = 0; b < kWordBits; ++b) words.push_back(Word(1) << b);
    words.push_back(~Word(0));
    for (int i = 0; i < 2000; ++i) words.push_back(static_cast<Word>(rng()) | Word(1) << (rng() % kWordBits));
    for (Word w : words) {
        unsigned low = 0, high = 0, ones = 0;
        reference(w, &low, &high, &ones);
        ASSERT_EQ(uheap::detail::count_trailing_zeros(w), low) << w;
        ASSERT_EQ(uheap::detail::highest_bit(w), high) << w;
        ASSERT_EQ(uheap::detail::count_ones(w), ones) << w;
    }
    EXPECT_EQ(uheap::detail::count_ones(0), 0u);
}

/// Tables over `n_blocks` blocks backed by vectors.
struct OwnedTables {
    explicit OwnedTables(std::size_t n_blocks)
        : n_words(uheap::detail::words_for_blocks(n_blocks)), storage(4 * n_words, 0) {
        t.head = storage.data();
        t.tail = storage.data() + n_words;
        t.mark = storage.data() + 2 * n_words;
        t.flag = storage.data() + 3 * n_words;
        t.n_blocks = n_blocks;
        t.n_words = n_words;
    }
    /// Lays an object [head, head + n) out as the encoding says (finaliser on the head's tail bit).
    void object(std::size_t head, std::size_t n, bool finaliser = false) {
        uheap::detail::set_bit(t.head, head);
        uheap::detail::set_bits(t.tail, head + 1, head + n);
        if (finaliser) uheap::detail::set_bit(t.tail, head);
    }
    std::size_t n_words;
    std::vector<Word> storage;
    BlockTables t;
};

TEST(BlockTable, SetAndClearBitsMatchBitByBitModelAcrossWordBoundaries) {
    const std::size_t n = 3 * kWordBits + 7;
    const std::size_t words = uheap::detail::words_for_blocks(n);
    for (std::size_t begin = 0; begin <= n; begin += 3) {
        for (std::size_t end = begin; end <= n; ++end) {
            std::vector<Word> set_table(words, 0);
            std::vector<Word> clear_table(words, ~Word(0));
            uheap::detail::set_bits(set_table.data(), begin, end);
            uheap::detail::clear_bits(clear_table.data(), begin, end);
            for (std::size_t b = 0; b < words * kWordBits; ++b) {
                bool inside = b >= begin && b < end;
                ASSERT_EQ(uheap::detail::test_bit(set_table.data(), b), inside) << begin << ".." << end << " bit " << b;
                ASSERT_EQ(uheap::detail::test_bit(clear_table.data(), b), !inside) << begin << ".." << end << " bit " << b;
            }
        }
    }
}

TEST(BlockTable, EmptyRangeWritesNothing) {
    std::vector<Word> table(2, 0x5a5a5a5aU);
    uheap::detail::set_bits(table.data(), 70, 70);
    uheap::detail::clear_bits(table.data(), 10, 10);
    EXPECT_EQ(table[0], Word(0x5a5a5a5aU));
    EXPECT_EQ(table[1], Word(0x5a5a5a5aU));
}

TEST(BlockTable, ObjectEndStopsAtNextHeadEvenWhenThatHeadHasAFinaliser) {
    OwnedTables o(4 * kWordBits);
    // I1 encoding: a head's tail bit is its finaliser flag, not a tail. Two finaliser objects
    // back to back must not merge.
    o.object(0, 3, true);
    o.object(3, 1, true);
    o.object(4, 2, false);
    EXPECT_EQ(o.t.object_end(0), 3u);
    EXPECT_EQ(o.t.object_end(3), 4u);
    EXPECT_EQ(o.t.object_end(4), 6u);
}

TEST(BlockTable, ObjectEndAcrossWordsAndAtTheLastBlock) {
    const std::size_t n = 3 * kWordBits + 5;
    OwnedTables o(n);
    o.object(kWordBits - 2, kWordBits + 4);  // spans a whole word
    EXPECT_EQ(o.t.object_end(kWordBits - 2), 2 * kWordBits + 2);
    o.object(2 * kWordBits + 2, n - (2 * kWordBits + 2));  // runs to the very last block
    EXPECT_EQ(o.t.object_end(2 * kWordBits + 2), n);
    OwnedTables last(n);
    last.object(n - 1, 1);
    EXPECT_EQ(last.t.object_end(n - 1), n);
}

/// Random layouts of objects and free runs; every query checked against a block-by-block model.
TEST(BlockTable, QueriesMatchModelOnRandomLayouts) {
    std::mt19937 rng(12345);
    for (int round = 0; round < 40; ++round) {
        const std::size_t n = 1 + rng() % (5 * kWordBits);
        OwnedTables o(n);
        std::vector<std::size_t> head_of(n, n);  // head of the object holding each block; n = free
        std::size_t b = 0;
        while (b < n) {
            std::size_t len = 1 + rng() % (rng() % 4 == 0 ? 2 * kWordBits : 5);
            if (len > n - b) len = n - b;
            if (rng() % 3 == 0) {
                b += len;  // a free run
                continue;
            }
            o.object(b, len, rng() % 2 == 0);
            for (std::size_t i = b; i < b + len; ++i) head_of[i] = b;
            b += len;
        }
        for (std::size_t i = 0; i < n; ++i) {
            SCOPED_TRACE(::testing::Message() << "round " << round << " n " << n << " block " << i);
            bool is_free = head_of[i] == n;
            ASSERT_EQ(o.t.is_free(i), is_free);
            ASSERT_EQ(o.t.is_head(i), !is_free && head_of[i] == i);
            ASSERT_EQ(o.t.is_tail(i), !is_free && head_of[i] != i);
            ASSERT_EQ(o.t.head_containing(i), head_of[i]);
            if (!is_free && head_of[i] == i) {
                std::size_t end = i + 1;
                while (end < n && head_of[end] == i) ++end;
                ASSERT_EQ(o.t.object_end(i), end);
            }
            for (std::size_t limit : {n, i + 1, i + 3, i + kWordBits + 1}) {
                std::size_t expected = 0;
                while (i + expected < n && i + expected < limit && head_of[i + expected] == n) ++expected;
                ASSERT_EQ(o.t.free_run_length(i, limit), expected) << "limit " << limit;
            }
        }
        // free_in / valid_in never report blocks past n_blocks (I1: those bits are not blocks).
        for (std::size_t w = 0; w < o.n_words; ++w) {
            for (unsigned bit = 0; bit < kWordBits; ++bit) {
                std::size_t blk = w * kWordBits + bit;
                bool valid = blk < n;
                ASSERT_EQ(((o.t.valid_in(w) >> bit) & 1) != 0, valid);
                ASSERT_EQ(((o.t.free_in(w) >> bit) & 1) != 0, valid && head_of[blk] == n);
            }
        }
    }
}

TEST(BlockTable, NoScanLivesOnTheFirstTailAndNeedsTwoBlocks) {
    OwnedTables o(2 * kWordBits);
    o.object(0, 1);
    o.object(1, 3);
    uheap::detail::set_bit(o.t.flag, 2);  // first tail of the object at 1
    EXPECT_TRUE(o.t.is_no_scan(1, 4));
    EXPECT_FALSE(o.t.is_no_scan(0, 1));   // one-block objects are always scanned
    uheap::detail::set_bit(o.t.flag, 0);  // on a head the flag bit means weak
    EXPECT_TRUE(o.t.is_weak(0));
    EXPECT_FALSE(o.t.is_no_scan(0, 1));
}

TEST(BlockTable, HeadContainingFindsHeadsInEarlierWords) {
    OwnedTables o(4 * kWordBits);
    o.object(5, 3 * kWordBits);
    EXPECT_EQ(o.t.head_containing(5), 5u);
    EXPECT_EQ(o.t.head_containing(3 * kWordBits + 4), 5u);
    EXPECT_EQ(o.t.head_containing(3 * kWordBits + 5), o.t.n_blocks);  // free
    EXPECT_EQ(o.t.head_containing(0), o.t.n_blocks);
    EXPECT_EQ(o.t.head_containing(4 * kWordBits), o.t.n_blocks);      // out of range
}

}  // namespace
