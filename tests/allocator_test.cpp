// SPDX-License-Identifier: MIT
// The allocator (src/allocator.cpp): alloc / free / size_of / flags_of and every case of
// MicroPython's gc_realloc contract, with exact statuses and the heap unchanged on bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

#include "test_support.hpp"

namespace {

using uheap::kBlockBytes;
using uheap::Status;
using uheap_test::all_zero;
using uheap_test::blocks;
using uheap_test::snapshot;
using uheap_test::TestHeap;

constexpr std::size_t kRegion = 64 * 1024;

TEST(Allocator, AllocReturnsZeroedBlockAlignedWholeBlocks) {
    TestHeap heap(kRegion);
    ASSERT_NE(heap.get(), nullptr);
    for (std::size_t n : {std::size_t(1), kBlockBytes - 1, kBlockBytes, kBlockBytes + 1, 5 * kBlockBytes - 3}) {
        void* p = heap->alloc(n);
        ASSERT_NE(p, nullptr) << n;
        EXPECT_EQ(heap->last_status(), Status::ok);
        EXPECT_TRUE(uheap_test::block_aligned(p));
        std::size_t whole = (n + kBlockBytes - 1) / kBlockBytes * kBlockBytes;
        EXPECT_EQ(heap->size_of(p), whole);
        EXPECT_TRUE(all_zero(p, whole));
        EXPECT_TRUE(heap->contains(p));
        std::memset(p, 0xab, whole);  // dirty it so a recycled block must be zeroed again
        EXPECT_EQ(heap->free(p), Status::ok);
    }
    // Recycled memory comes back zeroed too (MICROPY_GC_CONSERVATIVE_CLEAR).
    void* again = heap->alloc(5 * kBlockBytes);
    ASSERT_NE(again, nullptr);
    EXPECT_TRUE(all_zero(again, 5 * kBlockBytes));
    EXPECT_VERIFIED(*heap);
}

// kUninitialised skips the zeroing only where nothing reads the memory: a no-scan object (of
// three blocks or more). Anything the collector scans is zeroed whatever the flags say.
TEST(Allocator, UninitialisedSkipsZeroingOnlyForObjectsNeverScanned) {
    TestHeap heap(kRegion, uheap_test::unpoisoned());  // (poisoning would fill freed blocks itself)
    ASSERT_NE(heap.get(), nullptr);
    heap->set_auto_collect(false);
    auto recycled = [&](std::size_t n_blocks, unsigned flags) {
        void* p = heap->alloc(blocks(n_blocks));
        EXPECT_NE(p, nullptr);
        std::memset(p, 0xab, blocks(n_blocks));
        EXPECT_EQ(heap->free(p), Status::ok);
        void* q = heap->alloc(blocks(n_blocks), flags);
        EXPECT_EQ(q, p) << "first fit: the same blocks again";
        const bool zeroed = all_zero(q, blocks(n_blocks));
        EXPECT_EQ(heap->free(q), Status::ok);
        return zeroed;
    };
    EXPECT_FALSE(recycled(4, uheap::kNoScan | uheap::kUninitialised)) << "left as it was";
    EXPECT_FALSE(recycled(3, uheap::kNoScan | uheap::kUninitialised));
    EXPECT_TRUE(recycled(4, uheap::kNoScan));
    EXPECT_TRUE(recycled(4, uheap::kUninitialised)) << "scanned: always zeroed";
    EXPECT_TRUE(recycled(1, uheap::kNoScan | uheap::kUninitialised)) << "one block is always scanned";
    if (uheap::built::kFinalisers) {
        EXPECT_TRUE(recycled(4, uheap::kNoScan | uheap::kUninitialised | uheap::kDestructor)) << "the destructor word starts zero";
    }
    EXPECT_VERIFIED(*heap);
}

TEST(Allocator, AllocZeroIsNullWithOk) {
    TestHeap heap(kRegion);
    std::string before = snapshot(*heap);
    EXPECT_EQ(heap->alloc(0), nullptr);
    EXPECT_EQ(heap->last_status(), Status::ok);
    EXPECT_EQ(snapshot(*heap), before);
}

TEST(Allocator, TooLargeFailsWithoutCollecting) {
    TestHeap heap(kRegion);
    std::size_t total = heap->info().total;
    std::uint64_t collections = heap->counters().collections;
    EXPECT_EQ(heap->alloc(total + 1), nullptr);
    EXPECT_EQ(heap->last_status(), Status::too_large);
    EXPECT_EQ(heap->alloc(SIZE_MAX), nullptr);
    EXPECT_EQ(heap->last_status(), Status::too_large);
    EXPECT_EQ(heap->alloc(SIZE_MAX - kBlockBytes + 2), nullptr);  // rounding up would overflow
    EXPECT_EQ(heap->last_status(), Status::too_large);
    EXPECT_EQ(heap->counters().collections, collections);
    EXPECT_EQ(heap->counters().out_of_memory, 3u);
    EXPECT_VERIFIED(*heap);
}

TEST(Allocator, WholeHeapInOneObject) {
    TestHeap heap(kRegion);
    std::size_t total = heap->info().total;
    void* p = heap->alloc(total);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(heap->size_of(p), total);
    EXPECT_EQ(heap->info().free, 0u);
    EXPECT_VERIFIED(*heap);
    EXPECT_EQ(heap->free(p), Status::ok);
    EXPECT_EQ(heap->info().max_free * kBlockBytes, total);
    EXPECT_VERIFIED(*heap);
}

/// Fills a heap to its very last block with objects of `size` blocks, then the remainder.
TEST(Allocator, FillsToTheLastBlockWithEverySize) {
    for (std::size_t size = 1; size <= 24; ++size) {
        SCOPED_TRACE(size);
        TestHeap heap(16 * 1024 + 123 * size);
        heap->set_auto_collect(false);
        const std::size_t total_blocks = heap->info().total / kBlockBytes;
        std::vector<std::pair<unsigned char*, std::size_t>> objects;
        while (void* p = heap->alloc(blocks(size))) objects.emplace_back(static_cast<unsigned char*>(p), size);
        EXPECT_EQ(heap->last_status(), Status::out_of_memory);
        std::size_t remainder = total_blocks - objects.size() * size;
        ASSERT_LT(remainder, size);
        if (remainder > 0) {
            void* p = heap->alloc(blocks(remainder));
            ASSERT_NE(p, nullptr);
            objects.emplace_back(static_cast<unsigned char*>(p), remainder);
        }
        uheap::Info info = heap->info();
        EXPECT_EQ(info.free, 0u);
        EXPECT_EQ(info.max_free, 0u);
        EXPECT_EQ(info.used, info.total);
        EXPECT_EQ(heap->alloc(1), nullptr);
        EXPECT_EQ(heap->last_status(), Status::out_of_memory);
        // Objects are disjoint and tile the pool exactly.
        std::sort(objects.begin(), objects.end());
        for (std::size_t i = 0; i + 1 < objects.size(); ++i) {
            EXPECT_EQ(objects[i].first + blocks(objects[i].second), objects[i + 1].first);
        }
        for (auto& [p, n] : objects) {
            EXPECT_EQ(heap->size_of(p), blocks(n));
            EXPECT_TRUE(all_zero(p, blocks(n)));
        }
        EXPECT_TRUE(heap->contains(objects.back().first + blocks(objects.back().second) - 1));
        EXPECT_FALSE(heap->contains(objects.back().first + blocks(objects.back().second)));
        EXPECT_VERIFIED(*heap);
        std::shuffle(objects.begin(), objects.end(), std::mt19937(static_cast<unsigned>(size)));
        for (auto& [p, n] : objects) ASSERT_EQ(heap->free(p), Status::ok);
        EXPECT_EQ(heap->info().max_free, total_blocks);  // I5: freed neighbours coalesce
        EXPECT_VERIFIED(*heap);
    }
}

TEST(Allocator, ObjectsOfSizes1ToNBlocksFillTheHeapExactly) {
    TestHeap heap(32 * 1024);
    heap->set_auto_collect(false);
    const std::size_t total_blocks = heap->info().total / kBlockBytes;
    std::vector<void*> objects;
    std::size_t used = 0;
    std::size_t n = 1;
    for (; used + n <= total_blocks; ++n) {
        void* p = heap->alloc(blocks(n));
        ASSERT_NE(p, nullptr) << n;
        objects.push_back(p);
        used += n;
    }
    if (used < total_blocks) {
        ASSERT_NE(heap->alloc(blocks(total_blocks - used)), nullptr);
    }
    EXPECT_EQ(heap->info().free, 0u);
    EXPECT_EQ(heap->info().max_block, std::max(n - 1, total_blocks - used));
    for (std::size_t i = 0; i < objects.size(); ++i) EXPECT_EQ(heap->size_of(objects[i]), blocks(i + 1));
    EXPECT_VERIFIED(*heap);
}

TEST(Allocator, FreeNullIsOk) {
    TestHeap heap(kRegion);
    EXPECT_EQ(heap->free(nullptr), Status::ok);
}

TEST(Allocator, BadFreesHaveExactStatusesAndChangeNothing) {
    UHEAP_TEST_NEEDS(uheap::kFeatureWeakReferences);
    TestHeap heap(kRegion);
    void* a = heap->alloc(blocks(3));
    void* b = heap->alloc(blocks(1));
    void* gone = heap->alloc(blocks(2));
    ASSERT_EQ(heap->free(gone), Status::ok);
    int on_stack = 0;
    std::string before = snapshot(*heap);
    struct Case {
        void* ptr;
        Status status;
    } cases[] = {
        {gone, Status::already_free},                                        // double free
        {static_cast<char*>(a) + 1, Status::not_object_start},               // misaligned interior
        {static_cast<char*>(a) + kBlockBytes, Status::not_object_start},     // a tail block
        {static_cast<char*>(b) + kBlockBytes / 2, Status::not_object_start},
        {&on_stack, Status::foreign_pointer},
        {heap.region(), Status::foreign_pointer},                            // control data, not pool
        {reinterpret_cast<void*>(std::uintptr_t(16)), Status::foreign_pointer},
    };
    for (const Case& c : cases) {
        EXPECT_EQ(heap->free(c.ptr), c.status) << c.ptr;
        EXPECT_EQ(heap->last_status(), c.status);
        EXPECT_EQ(heap->size_of(c.ptr), 0u);
        EXPECT_EQ(heap->realloc(c.ptr, blocks(4)), nullptr);
        EXPECT_EQ(heap->last_status(), c.status);
        EXPECT_EQ(heap->set_weak(c.ptr), c.status);
        EXPECT_EQ(heap->flags_of(c.ptr), 0u);
        EXPECT_EQ(snapshot(*heap), before);
    }
    EXPECT_EQ(heap->size_of(a), blocks(3));
    EXPECT_EQ(heap->size_of(b), blocks(1));
    EXPECT_VERIFIED(*heap);
}

TEST(Allocator, FreeOfAWeakObjectIsRefused) {
    UHEAP_TEST_NEEDS(uheap::kFeatureWeakReferences);
    TestHeap heap(kRegion);
    void* w = heap->alloc(blocks(2), uheap::kWeak);
    void* v = heap->alloc(blocks(2));
    ASSERT_EQ(heap->set_weak(v), Status::ok);
    std::string before = snapshot(*heap);
    EXPECT_EQ(heap->free(w), Status::weakly_referenced);
    EXPECT_EQ(heap->free(v), Status::weakly_referenced);
    EXPECT_EQ(snapshot(*heap), before);
    EXPECT_EQ(heap->size_of(w), blocks(2));
}

TEST(Allocator, FlagsOfReportsWhatWasAsked) {
    UHEAP_TEST_NEEDS(uheap::kFeatureFinalisers | uheap::kFeatureWeakReferences);
    TestHeap heap(kRegion);
    using namespace uheap;
    void* f = heap->alloc(blocks(1), kFinaliser);
    void* ns = heap->alloc(blocks(2), kNoScan);
    void* ns1 = heap->alloc(blocks(1), kNoScan);
    void* all = heap->alloc(blocks(3), kFinaliser | kNoScan | kWeak);
    void* none = heap->alloc(blocks(1));
    EXPECT_EQ(heap->flags_of(f), unsigned(kFinaliser));
    EXPECT_EQ(heap->flags_of(ns), unsigned(kNoScan));
    EXPECT_EQ(heap->flags_of(ns1), 0u);  // one-block objects are always scanned (documented)
    EXPECT_EQ(heap->flags_of(all), unsigned(kFinaliser | kNoScan | kWeak));
    EXPECT_EQ(heap->flags_of(none), 0u);
    EXPECT_VERIFIED(*heap);  // I4: flags only on heads / first tails
}

TEST(Allocator, FreedBlocksAreReusedAndCoalesce) {
    TestHeap heap(kRegion);
    heap->set_auto_collect(false);
    void* a = heap->alloc(blocks(2));
    void* b = heap->alloc(blocks(3));
    void* c = heap->alloc(blocks(2));
    void* d = heap->alloc(blocks(1));  // keeps c's run from merging with the end of the heap
    while (heap->alloc(blocks(1)) != nullptr) {
    }  // the rest is used: the 7-block run below is the only free space
    ASSERT_EQ(heap->free(a), Status::ok);
    ASSERT_EQ(heap->free(c), Status::ok);
    ASSERT_EQ(heap->free(b), Status::ok);  // merges with both neighbours: one run of 7
    EXPECT_VERIFIED(*heap);                // I5: only maximal runs
    void* big = heap->alloc(blocks(7));
    EXPECT_EQ(big, a);  // found only because the three frees coalesced
    EXPECT_EQ(heap->size_of(d), kBlockBytes);
    EXPECT_VERIFIED(*heap);
}

TEST(Allocator, OutOfMemoryCollectsOnceThenFails) {
    TestHeap heap(16 * 1024);
    uheap_test::RootArray roots(*heap, 1024);
    std::size_t i = 0;
    heap->set_auto_collect(false);
    while (void* p = heap->alloc(blocks(1))) roots[i++] = p;
    heap->set_auto_collect(true);
    std::uint64_t collections = heap->counters().collections;
    std::uint64_t oom = heap->counters().out_of_memory;
    EXPECT_EQ(heap->alloc(blocks(1)), nullptr);
    EXPECT_EQ(heap->last_status(), Status::out_of_memory);
    EXPECT_EQ(heap->counters().collections, collections + 1);
    EXPECT_EQ(heap->counters().out_of_memory, oom + 1);
    roots[0] = nullptr;  // now one collection frees a block and the retry succeeds
    EXPECT_NE(heap->alloc(blocks(1)), nullptr);
    EXPECT_EQ(heap->counters().collections, collections + 2);
    EXPECT_VERIFIED(*heap);
}

// ---- realloc, case by case (MicroPython's gc_realloc) ------------------------------------------

TEST(Realloc, NullPointerAllocates) {
    TestHeap heap(kRegion);
    void* p = heap->realloc(nullptr, 3 * kBlockBytes);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(heap->size_of(p), blocks(3));
    EXPECT_TRUE(all_zero(p, blocks(3)));
}

TEST(Realloc, ZeroBytesFreesAndReturnsNull) {
    TestHeap heap(kRegion);
    void* p = heap->alloc(blocks(2));
    EXPECT_EQ(heap->realloc(p, 0), nullptr);
    EXPECT_EQ(heap->size_of(p), 0u);
    EXPECT_EQ(heap->counters().used_bytes, 0u);
    EXPECT_VERIFIED(*heap);
}

TEST(Realloc, SameBlockCountReturnsSamePointer) {
    TestHeap heap(kRegion);
    void* p = heap->alloc(2 * kBlockBytes - 5);
    std::memset(p, 0x5c, 2 * kBlockBytes);
    std::string before = snapshot(*heap);
    EXPECT_EQ(heap->realloc(p, 2 * kBlockBytes), p);
    EXPECT_EQ(heap->realloc(p, kBlockBytes + 1), p);
    EXPECT_EQ(heap->realloc(p, kBlockBytes + 1, false), p);
    EXPECT_EQ(snapshot(*heap), before);
    EXPECT_EQ(static_cast<unsigned char*>(p)[2 * kBlockBytes - 1], 0x5c);
}

TEST(Realloc, ShrinkIsInPlaceAndFreesTheTail) {
    UHEAP_TEST_NEEDS(uheap::kFeatureFinalisers);
    TestHeap heap(kRegion);
    heap->set_auto_collect(false);
    auto* p = static_cast<unsigned char*>(heap->alloc(blocks(6), uheap::kFinaliser | uheap::kNoScan));
    void* after = heap->alloc(blocks(1));
    std::size_t filler = heap->info().free;
    ASSERT_NE(heap->alloc(filler), nullptr);  // only freed tails will be free
    for (std::size_t i = 0; i < blocks(6); ++i) p[i] = static_cast<unsigned char>(i);
    EXPECT_EQ(heap->realloc(p, blocks(2), false), p);
    EXPECT_EQ(heap->size_of(p), blocks(2));
    EXPECT_EQ(heap->flags_of(p), unsigned(uheap::kFinaliser | uheap::kNoScan));
    for (std::size_t i = 0; i < blocks(2); ++i) ASSERT_EQ(p[i], static_cast<unsigned char>(i));
    EXPECT_EQ(heap->info().free, blocks(4));
    EXPECT_EQ(heap->counters().used_bytes, heap->info().used);
    EXPECT_VERIFIED(*heap);  // I4: the dropped tails took no flag bits with them; I5: run indexed
    // Shrinking to one block drops no-scan (a one-block object is always scanned).
    EXPECT_EQ(heap->realloc(p, 1), p);
    EXPECT_EQ(heap->flags_of(p), unsigned(uheap::kFinaliser));
    EXPECT_EQ(heap->size_of(after), kBlockBytes);
    EXPECT_VERIFIED(*heap);
    // The freed tail blocks are usable: a 5-block object fits between p and `after`.
    void* fill = heap->alloc(blocks(5));
    EXPECT_EQ(fill, p + kBlockBytes);
    EXPECT_VERIFIED(*heap);
}

TEST(Realloc, GrowInPlaceZeroesTheNewBytes) {
    TestHeap heap(kRegion);
    auto* p = static_cast<unsigned char*>(heap->alloc(blocks(2)));
    void* next = heap->alloc(blocks(4));
    void* stopper = heap->alloc(blocks(1));
    std::memset(p, 0x77, blocks(2));
    std::memset(next, 0x99, blocks(4));  // dirty, then freed: the grow must zero it
    ASSERT_EQ(heap->free(next), Status::ok);
    EXPECT_EQ(heap->realloc(p, blocks(5), false), p);
    EXPECT_EQ(heap->size_of(p), blocks(5));
    for (std::size_t i = 0; i < blocks(2); ++i) ASSERT_EQ(p[i], 0x77);
    EXPECT_TRUE(all_zero(p + blocks(2), blocks(3)));
    EXPECT_EQ(heap->size_of(stopper), kBlockBytes);
    EXPECT_VERIFIED(*heap);
    // And into the exact remainder.
    EXPECT_EQ(heap->realloc(p, blocks(6), false), p);
    EXPECT_TRUE(all_zero(p + blocks(5), blocks(1)));
    EXPECT_EQ(heap->info().num_1block, 1u);
    EXPECT_VERIFIED(*heap);
}

// realloc() remembers where the object it last resized ends (appending to a buffer asks for
// that every call). An object later allocated at the same address, after a free or a sweep,
// must not inherit the remembered end: here a stale end (6 blocks) would make the realloc of a
// 2-block object "shrink" into its neighbour and cut that neighbour's tail blocks away.
void expect_new_object_at_resized_address_has_its_own_length(bool freed_by_sweep) {
    TestHeap heap(kRegion);
    uheap_test::RootArray roots(*heap, 3);
    void* p = heap->alloc(blocks(1));
    ASSERT_EQ(heap->realloc(p, blocks(6), false), p);  // grown in place: its end is remembered
    if (freed_by_sweep) {
        ASSERT_EQ(heap->collect(), Status::ok);  // p is not a root: swept
        ASSERT_EQ(heap->size_of(p), 0u);
    } else {
        ASSERT_EQ(heap->free(p), Status::ok);
    }
    void* q = roots[0] = heap->alloc(blocks(2));
    ASSERT_EQ(q, p);  // first fit: the same address
    auto* neighbour = static_cast<unsigned char*>(roots[1] = heap->alloc(blocks(3)));
    ASSERT_EQ(neighbour, static_cast<unsigned char*>(q) + blocks(2));
    std::memset(neighbour, 0x3c, blocks(3));
    void* r = roots[2] = heap->realloc(q, blocks(3));  // cannot grow in place: moves
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(heap->size_of(r), blocks(3));
    EXPECT_EQ(heap->size_of(neighbour), blocks(3));
    for (std::size_t i = 0; i < blocks(3); ++i) ASSERT_EQ(neighbour[i], 0x3c);
    EXPECT_VERIFIED(*heap);
}

TEST(Realloc, AnObjectAtAFreedResizedObjectsAddressHasItsOwnLength) {
    expect_new_object_at_resized_address_has_its_own_length(false);
}

TEST(Realloc, AnObjectAtASweptResizedObjectsAddressHasItsOwnLength) {
    expect_new_object_at_resized_address_has_its_own_length(true);
}

// Appending to a buffer one piece at a time: every realloc() sees the length the last one left.
TEST(Realloc, RepeatedGrowthAndShrinkKeepTheRightLength) {
    TestHeap heap(kRegion);
    auto* p = static_cast<unsigned char*>(heap->alloc(1));
    for (std::size_t n = 2; n <= blocks(40); n += 7) {
        ASSERT_EQ(heap->realloc(p, n, false), p);
        ASSERT_EQ(heap->size_of(p), (n + kBlockBytes - 1) / kBlockBytes * kBlockBytes);
        p[n - 1] = 0x5a;
    }
    for (int k = 40; k >= 1; k -= 3) {
        const std::size_t n = blocks(static_cast<std::size_t>(k));
        ASSERT_EQ(heap->realloc(p, n, false), p);
        ASSERT_EQ(heap->size_of(p), n);
        EXPECT_VERIFIED(*heap);
    }
}

// A weakly referenced object never moves (Regression.ReallocRefusesToMoveAWeakObject).
TEST(Realloc, MoveKeepsContentsAndFlags) {
    UHEAP_TEST_NEEDS(uheap::kFeatureFinalisers);
    TestHeap heap(kRegion);
    unsigned flags = uheap::kFinaliser | uheap::kNoScan;
    auto* p = static_cast<unsigned char*>(heap->alloc(blocks(2), flags));
    void* blocker = heap->alloc(blocks(1));
    for (std::size_t i = 0; i < blocks(2); ++i) p[i] = static_cast<unsigned char>(i * 7);
    std::uint64_t frees = heap->counters().frees;
    auto* q = static_cast<unsigned char*>(heap->realloc(p, blocks(4)));
    ASSERT_NE(q, nullptr);
    ASSERT_NE(q, p);
    EXPECT_EQ(heap->last_status(), Status::ok);
    EXPECT_EQ(heap->size_of(q), blocks(4));
    EXPECT_EQ(heap->flags_of(q), flags);
    for (std::size_t i = 0; i < blocks(2); ++i) ASSERT_EQ(q[i], static_cast<unsigned char>(i * 7));
    EXPECT_TRUE(all_zero(q + blocks(2), blocks(2)));
    EXPECT_EQ(heap->size_of(p), 0u);  // the old copy is released
    EXPECT_EQ(heap->counters().frees, frees + 1);
    EXPECT_EQ(heap->size_of(blocker), kBlockBytes);
    EXPECT_VERIFIED(*heap);
}

TEST(Realloc, NoMoveAllowedFailsAndLeavesTheOriginal) {
    UHEAP_TEST_NEEDS(uheap::kFeatureFinalisers);
    TestHeap heap(kRegion);
    auto* p = static_cast<unsigned char*>(heap->alloc(blocks(2), uheap::kFinaliser));
    heap->alloc(blocks(1));
    std::memset(p, 0x42, blocks(2));
    std::string before = snapshot(*heap);
    EXPECT_EQ(heap->realloc(p, blocks(3), false), nullptr);
    EXPECT_EQ(heap->last_status(), Status::out_of_memory);
    EXPECT_EQ(snapshot(*heap), before);
    EXPECT_EQ(heap->size_of(p), blocks(2));
    EXPECT_EQ(heap->flags_of(p), unsigned(uheap::kFinaliser));
    for (std::size_t i = 0; i < blocks(2); ++i) ASSERT_EQ(p[i], 0x42);
    EXPECT_VERIFIED(*heap);
}

TEST(Realloc, OutOfMemoryLeavesTheOriginalIntact) {
    TestHeap heap(16 * 1024);
    uheap_test::RootArray roots(*heap, 2);
    auto* p = static_cast<unsigned char*>(heap->alloc(blocks(2)));
    roots[0] = p;
    roots[1] = heap->alloc(blocks(1));  // no growing in place
    std::memset(p, 0x3d, blocks(2));
    std::size_t total = heap->info().total;
    // Bigger than the free space but not than the heap: a collection runs (p survives it,
    // pinned even without the root), the grow attempt has no callback, then null.
    void* q = heap->realloc(p, total - kBlockBytes);
    EXPECT_EQ(q, nullptr);
    EXPECT_EQ(heap->last_status(), Status::out_of_memory);
    EXPECT_EQ(heap->size_of(p), blocks(2));
    for (std::size_t i = 0; i < blocks(2); ++i) ASSERT_EQ(p[i], 0x3d);
    // Too large for any area: null at once, original intact.
    EXPECT_EQ(heap->realloc(p, total * 2), nullptr);
    EXPECT_EQ(heap->last_status(), Status::too_large);
    EXPECT_EQ(heap->size_of(p), blocks(2));
    EXPECT_VERIFIED(*heap);
}

TEST(Realloc, OriginalSurvivesTheCollectionItsMoveTriggers) {
    TestHeap heap(16 * 1024);
    // No root anywhere: only the pin keeps p alive through the collection the move causes.
    auto* p = static_cast<unsigned char*>(heap->alloc(blocks(2)));
    std::memset(p, 0x61, blocks(2));
    heap->alloc(blocks(1));  // garbage right after p: growing in place is impossible
    std::vector<void*> garbage;
    heap->set_auto_collect(false);
    while (void* g = heap->alloc(blocks(3))) garbage.push_back(g);
    heap->set_auto_collect(true);
    std::uint64_t collections = heap->counters().collections;
    auto* q = static_cast<unsigned char*>(heap->realloc(p, blocks(3)));
    ASSERT_NE(q, nullptr);
    EXPECT_EQ(heap->counters().collections, collections + 1);
    for (std::size_t i = 0; i < blocks(2); ++i) ASSERT_EQ(q[i], 0x61);
    EXPECT_VERIFIED(*heap);
}

TEST(Realloc, LockedIsRefusedAndChangesNothing) {
    TestHeap heap(kRegion);
    void* p = heap->alloc(blocks(2));
    heap->lock();
    std::string before = snapshot(*heap);
    EXPECT_EQ(heap->realloc(p, blocks(4)), nullptr);
    EXPECT_EQ(heap->last_status(), Status::locked);
    EXPECT_EQ(heap->realloc(p, blocks(1)), nullptr);
    EXPECT_EQ(heap->last_status(), Status::locked);
    EXPECT_EQ(heap->realloc(nullptr, blocks(1)), nullptr);
    EXPECT_EQ(heap->last_status(), Status::locked);
    EXPECT_EQ(heap->realloc(p, 0), nullptr);  // free, ignored while locked
    EXPECT_EQ(heap->last_status(), Status::locked);
    EXPECT_EQ(snapshot(*heap), before);
    heap->unlock();
    EXPECT_EQ(heap->size_of(p), blocks(2));
}

}  // namespace

// An on_alloc hook (a profiler) sends allocations through allocate_observed(), which must place
// every object where the fast path would have, and keep the counters and collections the same:
// observing a heap does not change what it does. The same random run, with and without the hook,
// object by object (offsets from each region), small and large sizes, frees and collections.
TEST(Allocator, AnObservedHeapPlacesEveryObjectAsAnUnobservedOne) {
    UHEAP_TEST_NEEDS(uheap::kFeatureEventHooks);
    struct Run {
        std::vector<std::ptrdiff_t> offsets;
        uheap::Counters counters;
        std::size_t observed = 0;
    };
    auto run = [](bool observed) {
        Run out;
        TestHeap heap(256 * 1024);
        uheap_test::RootArray roots(*heap, 512);
        uheap::EventHooks hooks;
        hooks.user = &out;
        if (observed) hooks.on_alloc = [](void* user, void*, std::size_t, unsigned, std::uint16_t) { ++static_cast<Run*>(user)->observed; };
        heap->set_event_hooks(hooks);
        heap->set_threshold(48 * 1024);  // collections by threshold, which the observed path must honour
        std::mt19937 rng(17);
        const auto* base = static_cast<const unsigned char*>(heap.region());
        for (int i = 0; i < 20000; ++i) {
            std::size_t slot = rng() % roots.size();
            std::size_t n_bytes = rng() % 8 == 0 ? blocks(8 + rng() % 100) : 1 + rng() % (3 * uheap::kBlockBytes);
            if (rng() % 5 == 0 && roots[slot] != nullptr) {
                EXPECT_EQ(heap->free(roots[slot]), Status::ok);
            }
            roots[slot] = heap->alloc(n_bytes, rng() % 3 == 0 ? uheap::kNoScan : 0u, static_cast<std::uint16_t>(i % 7));
            out.offsets.push_back(roots[slot] == nullptr ? -1 : static_cast<const unsigned char*>(roots[slot]) - base);
        }
        out.counters = heap->counters();
        EXPECT_TRUE(heap->verify().ok()) << uheap_test::describe(heap->verify());
        return out;
    };
    Run plain = run(false);
    Run observed = run(true);
    EXPECT_EQ(observed.observed, 20000u - static_cast<std::size_t>(std::count(observed.offsets.begin(), observed.offsets.end(), -1)));
    ASSERT_EQ(plain.offsets.size(), observed.offsets.size());
    EXPECT_TRUE(plain.offsets == observed.offsets) << "an object placed elsewhere once the hook was set";
    EXPECT_EQ(plain.counters.collections, observed.counters.collections);
    EXPECT_GT(plain.counters.collections, 2u);
    EXPECT_EQ(plain.counters.allocations, observed.counters.allocations);
    EXPECT_EQ(plain.counters.bytes_allocated, observed.counters.bytes_allocated);
}
