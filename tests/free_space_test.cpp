// SPDX-License-Identifier: MIT
// The free-space tree (src/free_space.*): word summaries, merging, and first-fit search against a
// brute-force scan of the tables, through random changes with lazy refresh (I5).
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "free_space.hpp"
#include "test_support.hpp"

namespace {

using namespace uheap::detail;

/// Block tables over `n` blocks with their free space, and no pool at all.
struct Tables {
    explicit Tables(std::size_t n) : words(words_for_blocks(n)), storage(4 * words, 0) {
        t.head = storage.data();
        t.tail = t.head + words;
        t.mark = t.head + 2 * words;
        t.flag = t.head + 3 * words;
        t.n_blocks = n;
        t.n_words = words;
        space.resize(free_space_bytes(words) / sizeof(Word) + 1);
        free_space_init(fs, space.data(), t);
    }
    void use(std::size_t b) { set_bit(t.head, b); }
    void unuse(std::size_t b) { clear_bit(t.head, b); }
    /// Brute force: the lowest block where n free blocks begin.
    std::size_t first_fit(std::size_t n) const {
        std::size_t run = 0;
        for (std::size_t b = 0; b < t.n_blocks; ++b) {
            run = t.is_free(b) ? run + 1 : 0;
            if (run == n) return b + 1 - n;
        }
        return kNoRun;
    }
    std::size_t longest() const {
        std::size_t run = 0, best = 0;
        for (std::size_t b = 0; b < t.n_blocks; ++b) {
            run = t.is_free(b) ? run + 1 : 0;
            best = std::max(best, run);
        }
        return best;
    }
    std::size_t words;
    std::vector<Word> storage;
    std::vector<Word> space;
    BlockTables t;
    FreeSpace fs;
};

TEST(FreeSpace, WordSummaries) {
    EXPECT_EQ(word_summary(0).longest, 0u);
    Summary all = word_summary(~Word(0));
    EXPECT_EQ(all.start, kWordBits);
    EXPECT_EQ(all.longest, kWordBits);
    EXPECT_EQ(all.end, kWordBits);
    // free: bits 0-2, 5-11, top 4
    Word f = Word(0x7) | (Word(0x7f) << 5) | (Word(0xf) << (kWordBits - 4));
    Summary s = word_summary(f);
    EXPECT_EQ(s.start, 3u);
    EXPECT_EQ(s.longest, 7u);
    EXPECT_EQ(s.end, 4u);
}

TEST(FreeSpace, MergeJoinsRunsAcrossTheBoundary) {
    Summary a{2, 5, 3};
    Summary b{4, 4, 1};
    Summary m = merge(a, 64, b, 64);
    EXPECT_EQ(m.start, 2u);
    EXPECT_EQ(m.longest, 7u);  // 3 + 4 at the join
    EXPECT_EQ(m.end, 1u);
    Summary full{64, 64, 64};
    EXPECT_EQ(merge(full, 64, b, 64).start, 68u);
    EXPECT_EQ(merge(a, 64, full, 64).end, 67u);
}

// Random tables of many sizes; after each batch of changes (marked, not refreshed), every search
// agrees with the brute-force first fit, the longest run agrees, and the refreshed tree matches
// the tables node for node.
TEST(FreeSpace, FirstFitMatchesBruteForceThroughRandomChanges) {
    std::mt19937 rng(7);
    for (std::size_t n_blocks : {std::size_t(1), std::size_t(63), std::size_t(64), std::size_t(65), std::size_t(512),
                                 std::size_t(513), std::size_t(4096), std::size_t(5000), std::size_t(70000)}) {
        SCOPED_TRACE(n_blocks);
        Tables tb(n_blocks);
        for (std::size_t b = 0; b < n_blocks; ++b) {
            if (rng() % 3 == 0) tb.use(b);
        }
        free_space_rebuild(tb.fs, tb.t);
        for (int round = 0; round < 40; ++round) {
            for (int k = 0; k < 20; ++k) {
                std::size_t b = rng() % n_blocks;
                std::size_t len = 1 + rng() % std::min<std::size_t>(n_blocks - b, 200);
                bool use = rng() % 2 == 0;
                for (std::size_t i = b; i < b + len; ++i) use ? tb.use(i) : tb.unuse(i);
                free_space_changed(tb.fs, b, b + len);
            }
            for (std::size_t n : {std::size_t(1), std::size_t(2), std::size_t(3), std::size_t(7), std::size_t(63),
                                  std::size_t(64), std::size_t(65), std::size_t(100), std::size_t(700), std::size_t(5000)}) {
                ASSERT_EQ(free_space_find(tb.fs, tb.t, n), tb.first_fit(n)) << "n " << n << " round " << round;
            }
            ASSERT_EQ(free_space_longest(tb.fs, tb.t), tb.longest());
            unsigned level = 0;
            std::size_t node = 0;
            ASSERT_TRUE(free_space_matches(tb.fs, tb.t, &level, &node)) << "level " << level << " node " << node;
        }
    }
}

// verify() relies on this: a stored summary that disagrees with the tables (and is not marked
// stale) is found and named.
TEST(FreeSpace, MatchesFindsAStaleSummaryThatWasNotMarked) {
    UHEAP_TEST_NEEDS(uheap::kFeatureFreeIndex);
    Tables tb(4096);
    tb.use(100);  // changed without free_space_changed()
    unsigned level = 0;
    std::size_t node = 0;
    EXPECT_FALSE(free_space_matches(tb.fs, tb.t, &level, &node));
    EXPECT_EQ(level, 1u);
    EXPECT_EQ(node, 100 / (kFanout * kWordBits));
    free_space_changed(tb.fs, 100, 101);
    EXPECT_TRUE(free_space_matches(tb.fs, tb.t, &level, &node));  // marked: stale, not wrong
    free_space_refresh(tb.fs, tb.t);
    EXPECT_TRUE(free_space_matches(tb.fs, tb.t, &level, &node));
}

TEST(FreeSpace, StorageIsAFewPercentOfABitPerBlock) {
    UHEAP_TEST_NEEDS(uheap::kFeatureFreeIndex);
    // The level table is a fixed cost of an area (one entry per level, at most kMaxLevels + 1);
    // the rest grows with the area.
    const std::size_t level_table = (uheap::detail::kMaxLevels + 1) * sizeof(uheap::detail::Level);
    for (std::size_t n_words : {std::size_t(1), std::size_t(100), std::size_t(1) << 16}) {
        std::size_t bytes = free_space_bytes(n_words);
        bytes = bytes > level_table ? bytes - level_table : 0;
        double bits_per_block = 8.0 * bytes / double(n_words * kWordBits);
        EXPECT_LT(bits_per_block, n_words < 8 ? 8.0 : n_words < 1000 ? 0.3 : 0.22) << n_words;
    }
}

}  // namespace
