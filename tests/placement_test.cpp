// SPDX-License-Identifier: MIT
// Where objects go and what the heap writes: address-ordered first fit, and never a byte of the
// heap's own into a free block (the free space is kept outside the pool).
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "test_support.hpp"

namespace {

using uheap::kBlockBytes;
using uheap::Status;
using uheap_test::blocks;
using uheap_test::RootArray;
using uheap_test::TestHeap;

/// Fills a heap (automatic collection off) with one-block objects from block 0 up.
std::vector<unsigned char*> fill_with_one_block_objects(uheap::Heap& heap) {
    heap.set_auto_collect(false);
    std::vector<unsigned char*> objects;
    while (void* p = heap.alloc(kBlockBytes)) objects.push_back(static_cast<unsigned char*>(p));
    return objects;
}

// MicroPython's placement, which fragments least on real programs: the lowest run that fits,
// whatever the order in which the holes were made.
TEST(Placement, AddressOrderedFirstFit) {
    TestHeap heap(16 * 1024);
    std::vector<unsigned char*> o = fill_with_one_block_objects(*heap);
    ASSERT_GT(o.size(), 40u);
    for (std::size_t b : {20u, 21u}) ASSERT_EQ(heap->free(o[b]), Status::ok);      // hole of 2 at 20
    for (std::size_t b : {10u, 11u, 12u}) ASSERT_EQ(heap->free(o[b]), Status::ok);  // hole of 3 at 10
    ASSERT_EQ(heap->free(o[5]), Status::ok);                                        // hole of 1 at 5
    EXPECT_EQ(heap->alloc(blocks(2)), o[10]);  // the first hole of 2 or more
    EXPECT_EQ(heap->alloc(blocks(1)), o[5]);   // the lowest hole of all
    EXPECT_EQ(heap->alloc(blocks(1)), o[12]);  // what is left of the hole at 10
    EXPECT_EQ(heap->alloc(blocks(2)), o[20]);
    EXPECT_EQ(heap->alloc(blocks(1)), nullptr);
    EXPECT_VERIFIED(*heap);
}

// After a collection the holes it left are filled from the bottom of the heap up, so long-lived
// objects pack low and the largest free run stays high.
TEST(Placement, AfterACollectionTheLowestHolesFillFirst) {
    TestHeap heap(16 * 1024);
    RootArray roots(*heap, 64);
    std::vector<unsigned char*> o = fill_with_one_block_objects(*heap);
    for (std::size_t i = 0; i < 64; ++i) roots[i] = o[i * 4];  // keep every fourth of the first 256
    ASSERT_EQ(heap->collect(), Status::ok);
    for (std::size_t i = 0; i < 64 * 3; ++i) {
        auto* p = static_cast<unsigned char*>(heap->alloc(kBlockBytes));
        ASSERT_NE(p, nullptr);
        ASSERT_LT(p, o[256]) << "allocation " << i << " skipped a lower hole";
    }
    EXPECT_VERIFIED(*heap);
}

// A host use-after-free must read what it left there, whatever the heap does elsewhere: every
// free block is filled with a pattern, then objects are allocated, freed, reallocated, collected
// and swept; every block that stayed free throughout still holds the pattern.
TEST(Placement, NeverWritesIntoAFreeBlock) {
    constexpr unsigned char kPattern = 0xa7;
    TestHeap heap(64 * 1024, uheap_test::unpoisoned());  // (poisoning writes its own pattern)
    RootArray roots(*heap, 32);
    std::mt19937 rng(11);
    std::vector<unsigned char*> live;
    for (int i = 0; i < 300; ++i) live.push_back(static_cast<unsigned char*>(heap->alloc(blocks(1 + rng() % 6))));
    for (std::size_t i = 0; i < live.size(); i += 2) ASSERT_EQ(heap->free(live[i]), Status::ok);
    for (std::size_t i = 0; i < 32; ++i) roots[i] = live[1 + 2 * i];
    // Every free block gets the pattern; `touched` records the blocks objects occupy later.
    const unsigned char* pool = static_cast<const unsigned char*>(heap->area_pool(0).begin);
    const std::size_t n_blocks = heap->area_pool(0).n_blocks;
    std::vector<bool> was_free(n_blocks, false);
    std::vector<bool> touched(n_blocks, false);
    heap->walk(
        [](void* user, const uheap::HeapSpan& span) {
            if (span.object != nullptr) return;
            auto* flags = static_cast<std::vector<bool>*>(user);
            for (std::size_t b = span.first_block; b < span.first_block + span.n_blocks; ++b) (*flags)[b] = true;
        },
        &was_free);
    for (std::size_t b = 0; b < n_blocks; ++b) {
        if (was_free[b]) std::memset(const_cast<unsigned char*>(pool) + b * kBlockBytes, kPattern, kBlockBytes);
    }
    auto note = [&](void* p) {
        if (p == nullptr) return;
        std::size_t first = (static_cast<unsigned char*>(p) - pool) / kBlockBytes;
        for (std::size_t b = first; b < first + heap->size_of(p) / kBlockBytes; ++b) touched[b] = true;
    };
    for (int step = 0; step < 400; ++step) {
        switch (rng() % 5) {
            case 0: case 1: {
                void* p = heap->alloc(blocks(1 + rng() % 8));
                note(p);
                if (p != nullptr) roots[rng() % 32] = p;
                break;
            }
            case 2:
                if (void* p = roots[rng() % 32]) {
                    note(p);  // its blocks, and any it grows into
                    void* q = heap->realloc(p, blocks(1 + rng() % 10));
                    note(q);
                    for (std::size_t i = 0; i < 32; ++i) {
                        if (roots[i] == p) roots[i] = q;
                    }
                }
                break;
            case 3:
                roots[rng() % 32] = nullptr;
                break;
            default:
                ASSERT_EQ(heap->collect(), Status::ok);
                break;
        }
    }
    ASSERT_EQ(heap->sweep_all(), Status::ok);
    std::size_t checked = 0;
    for (std::size_t b = 0; b < n_blocks; ++b) {
        if (!was_free[b] || touched[b]) continue;
        for (std::size_t i = 0; i < kBlockBytes; ++i) {
            ASSERT_EQ(pool[b * kBlockBytes + i], kPattern) << "block " << b << " byte " << i;
        }
        ++checked;
    }
    EXPECT_GT(checked, 100u);
    EXPECT_VERIFIED(*heap);
}

}  // namespace
