// SPDX-License-Identifier: MIT
// verify() (src/verify.cpp): each invariant I1..I8 broken on purpose through the internal tables,
// and verify() must name exactly that one (and pass again once it is restored).
#include <gtest/gtest.h>

#include <cstring>

#include "heap_impl.hpp"
#include "test_support.hpp"

namespace {

using uheap::Invariant;
using uheap::kBlockBytes;
using uheap::detail::Area;
using uheap::detail::HeapImpl;
using uheap::detail::kWordBits;
using uheap::detail::Word;
using uheap_test::blocks;
using uheap_test::describe;
using uheap_test::TestHeap;

/// A heap whose only area has a block count that is not a multiple of the word size, holding
/// objects of 1, 3 (finaliser, no-scan), 2 and 1 blocks, with a freed 2-block hole.
struct BrokenHeap : ::testing::Test {
    void SetUp() override {
        for (std::size_t bytes = 20 * 1024;; bytes += 40) {
            heap = std::make_unique<TestHeap>(bytes, uheap_test::unpoisoned());  // scribbles on free blocks
            if (area().tables.n_blocks % kWordBits != 0) break;
        }
        (*heap)->set_auto_collect(false);
        one = (*heap)->alloc(blocks(1));
        three = (*heap)->alloc(blocks(3), uheap::kFinaliser | uheap::kNoScan);
        hole = (*heap)->alloc(blocks(2));
        last = (*heap)->alloc(blocks(1), uheap::kWeak);
        ASSERT_EQ((*heap)->free(hole), uheap::Status::ok);
        ASSERT_VERIFIED(**heap);
    }
    HeapImpl& impl() { return static_cast<HeapImpl&>(**heap); }
    Area& area() { return *impl().areas.first; }
    std::size_t block_of(void* p) { return area().block_of(reinterpret_cast<std::uintptr_t>(p)); }
    /// verify() names `expected`; returns the report for further checks.
    uheap::VerifyReport expect_broken(Invariant expected) {
        uheap::VerifyReport r = (*heap)->verify();
        EXPECT_EQ(r.broken, expected) << describe(r);
        EXPECT_FALSE(r.ok());
        EXPECT_NE(std::string(r.detail), "ok");
        return r;
    }
    std::unique_ptr<TestHeap> heap;
    void *one = nullptr, *three = nullptr, *hole = nullptr, *last = nullptr;
};

TEST_F(BrokenHeap, I1BitsPastTheLastBlock) {
    std::size_t n = area().tables.n_blocks;
    uheap::detail::set_bit(area().tables.head, n);
    uheap::VerifyReport r = expect_broken(Invariant::I1_block_kind);
    EXPECT_EQ(r.block, n);
    uheap::detail::clear_bit(area().tables.head, n);
    uheap::detail::set_bit(area().tables.flag, n);
    expect_broken(Invariant::I1_block_kind);
    uheap::detail::clear_bit(area().tables.flag, n);
    EXPECT_VERIFIED(**heap);
}

TEST_F(BrokenHeap, I2TailAfterAFreeBlock) {
    std::size_t h = block_of(hole) + 1;  // second block of the freed hole: its predecessor is free
    uheap::detail::set_bit(area().tables.tail, h);
    uheap::VerifyReport r = expect_broken(Invariant::I2_extent);
    EXPECT_EQ(r.block, h);
    uheap::detail::clear_bit(area().tables.tail, h);
    EXPECT_VERIFIED(**heap);
}

TEST_F(BrokenHeap, I2ReallocRemembersAWrongEnd) {
    ASSERT_EQ((*heap)->realloc(three, blocks(3)), three);  // same size: remembered, still right
    EXPECT_VERIFIED(**heap);
    area().resized_end += 1;  // as if a free had not forgotten it
    uheap::VerifyReport r = expect_broken(Invariant::I2_extent);
    EXPECT_EQ(r.block, block_of(three));
    area().resized_head = static_cast<std::uint32_t>(block_of(hole));  // a freed block
    expect_broken(Invariant::I2_extent);
    ASSERT_EQ((*heap)->free(one), uheap::Status::ok);  // any free forgets it
    EXPECT_VERIFIED(**heap);
}

TEST_F(BrokenHeap, I2TailAtTheStartOfAnArea) {
    // Make block 0 a tail: the object at block 0 would extend from before the area.
    ASSERT_EQ(block_of(one), 0u);
    uheap::detail::clear_bit(area().tables.head, 0);
    uheap::detail::set_bit(area().tables.tail, 0);
    uheap::VerifyReport r = expect_broken(Invariant::I2_extent);
    EXPECT_EQ(r.block, 0u);
}

TEST_F(BrokenHeap, I3MarkOutsideACollection) {
    std::size_t b = block_of(three);
    uheap::detail::set_bit(area().tables.mark, b);
    uheap::VerifyReport r = expect_broken(Invariant::I3_no_marks);
    EXPECT_EQ(r.block, b);
    uheap::detail::clear_bit(area().tables.mark, b);
    EXPECT_VERIFIED(**heap);
}

TEST_F(BrokenHeap, I3MarkOnATailDuringACollection) {
    UHEAP_TEST_NEEDS(uheap::kFeatureFinalisers);
    ASSERT_EQ((*heap)->collect_start(), uheap::Status::ok);
    void* root = three;
    (*heap)->collect_root(&root, 1);
    EXPECT_VERIFIED(**heap);  // marks on heads are fine while collecting
    std::size_t b = block_of(three) + 2;  // a later tail (a first tail's mark bit is kDestructor)
    uheap::detail::set_bit(area().tables.mark, b);
    expect_broken(Invariant::I3_no_marks);
    uheap::detail::clear_bit(area().tables.mark, b);
    ASSERT_EQ((*heap)->collect_end(), uheap::Status::ok);
    EXPECT_VERIFIED(**heap);
}

TEST_F(BrokenHeap, I4FlagOnALaterTail) {
    std::size_t b = block_of(three) + 2;
    uheap::detail::set_bit(area().tables.flag, b);
    uheap::VerifyReport r = expect_broken(Invariant::I4_flags_on_heads);
    EXPECT_EQ(r.block, b);
    uheap::detail::clear_bit(area().tables.flag, b);
    EXPECT_VERIFIED(**heap);
}

TEST_F(BrokenHeap, I4FlagOnAFreeBlock) {
    std::size_t b = block_of(hole);
    uheap::detail::set_bit(area().tables.flag, b);
    expect_broken(Invariant::I4_flags_on_heads);
    uheap::detail::clear_bit(area().tables.flag, b);
    EXPECT_VERIFIED(**heap);
}

// Nothing of the heap's lives in free blocks any more: scribbling over one breaks nothing.
TEST_F(BrokenHeap, I5HostScribbleOverAFreeBlockBreaksNothing) {
    std::memset(hole, 0xa5, 2 * uheap::kBlockBytes);
    EXPECT_VERIFIED(**heap);
}

TEST_F(BrokenHeap, I5SummaryDisagreesWithTheTables) {
    UHEAP_TEST_NEEDS(uheap::kFeatureFreeIndex);
    auto& s = area().space;
    s.current_begin = s.current_end;  // no current run: no node is kept stale for it
    uheap::detail::free_space_refresh(s, area().tables);
    uheap::detail::Summary saved = s.nodes[s.level[1].node_at];
    s.nodes[s.level[1].node_at].longest += 1;
    uheap::VerifyReport r = expect_broken(Invariant::I5_free_index);
    EXPECT_EQ(r.block, 0u);
    s.nodes[s.level[1].node_at] = saved;
    EXPECT_VERIFIED(**heap);
}

TEST_F(BrokenHeap, I5CurrentRunNotFree) {
    auto& s = area().space;
    std::uint32_t begin = s.current_begin, end = s.current_end;
    s.current_begin = 0;  // block 0 holds an object
    s.current_end = 1;
    expect_broken(Invariant::I5_free_index);
    s.current_begin = begin;
    s.current_end = end;
    EXPECT_VERIFIED(**heap);
}

TEST_F(BrokenHeap, I6AreaCountDisagrees) {
    area().used_blocks += 1;
    expect_broken(Invariant::I6_accounting);
    area().used_blocks -= 1;
    EXPECT_VERIFIED(**heap);
}

// counters().used_bytes is derived from the areas' used-block counts: a count that disagrees
// with the tables is what verify() reports.
TEST_F(BrokenHeap, I6CountersDisagree) {
    const std::size_t used = (*heap)->counters().used_bytes;
    area().used_blocks += 1;
    EXPECT_EQ((*heap)->counters().used_bytes, used + kBlockBytes);
    expect_broken(Invariant::I6_accounting);
    area().used_blocks -= 1;
    EXPECT_VERIFIED(**heap);
}

TEST_F(BrokenHeap, I7UsedBlockAboveTheHighWaterMark) {
    std::size_t saved = area().high_water;
    ASSERT_EQ(saved, block_of(last) + 1);
    area().high_water = block_of(last);
    uheap::VerifyReport r = expect_broken(Invariant::I7_high_water);
    EXPECT_EQ(r.block, block_of(last));
    area().high_water = saved;
    EXPECT_VERIFIED(**heap);
}

// I8: the free space may hand out blocks only up to where the sweep stands (the whole area when
// no sweep is pending); a limit past a pending sweep would carve objects the sweep then frees.
TEST_F(BrokenHeap, I8FreeSpaceLimitPastTheSweep) {
    const std::uint32_t limit = area().space.limit;
    area().space.limit = limit - 1;
    expect_broken(Invariant::I8_lazy_sweep);
    area().space.limit = limit;
    EXPECT_VERIFIED(**heap);
}

TEST_F(BrokenHeap, ReportsTheAreaIndex) {
    std::vector<unsigned char> second(8 * 1024);
    ASSERT_EQ((*heap)->add_area(second.data(), second.size()), uheap::Status::ok);
    Area& a2 = *area().next;
    uheap::detail::set_bit(a2.tables.mark, 0);
    ASSERT_TRUE(a2.tables.is_free(0));
    uheap::VerifyReport r = (*heap)->verify();
    EXPECT_EQ(r.broken, Invariant::I3_no_marks);
    EXPECT_EQ(r.area, 1u);
    EXPECT_EQ(r.block, 0u);
    uheap::detail::clear_bit(a2.tables.mark, 0);
    EXPECT_VERIFIED(**heap);
}

}  // namespace
