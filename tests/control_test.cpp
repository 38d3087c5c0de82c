// SPDX-License-Identifier: MIT
// Control (src/heap.cpp): the nestable lock, automatic collection on/off, the allocation
// threshold, the collect-on-every-allocation stress mode, status names and the version.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "test_support.hpp"
#include "uheap/version.h"

namespace {

using uheap::kBlockBytes;
using uheap::Status;
using uheap_test::blocks;
using uheap_test::RootArray;
using uheap_test::snapshot;
using uheap_test::TestHeap;

constexpr std::size_t kRegion = 64 * 1024;

TEST(Control, LockIsNestableAndExtraUnlocksAreIgnored) {
    TestHeap heap(kRegion);
    EXPECT_FALSE(heap->is_locked());
    heap->lock();
    heap->lock();
    EXPECT_EQ(heap->lock_depth(), 2u);
    EXPECT_EQ(heap->alloc(blocks(1)), nullptr);
    EXPECT_EQ(heap->last_status(), Status::locked);
    heap->unlock();
    EXPECT_TRUE(heap->is_locked());
    EXPECT_EQ(heap->alloc(blocks(1)), nullptr);
    EXPECT_EQ(heap->last_status(), Status::locked);
    heap->unlock();
    EXPECT_FALSE(heap->is_locked());
    heap->unlock();  // ignored
    EXPECT_EQ(heap->lock_depth(), 0u);
    heap->lock();
    EXPECT_EQ(heap->lock_depth(), 1u);  // not -1 + 1
    heap->unlock();
    EXPECT_NE(heap->alloc(blocks(1)), nullptr);
}

TEST(Control, FreeIsIgnoredWhileLocked) {
    TestHeap heap(kRegion);
    void* p = heap->alloc(blocks(2));
    heap->lock();
    std::string before = snapshot(*heap);
    EXPECT_EQ(heap->free(p), Status::locked);
    EXPECT_EQ(heap->size_of(p), blocks(2));  // still there
    EXPECT_EQ(heap->free(nullptr), Status::ok);  // free(NULL) is a no-op even locked
    EXPECT_EQ(snapshot(*heap), before);
    heap->unlock();
    EXPECT_EQ(heap->free(p), Status::ok);
    EXPECT_EQ(heap->size_of(p), 0u);
}

TEST(Control, LockedAllocDoesNotCollect) {
    TestHeap heap(kRegion);
    heap->lock();
    std::string before = snapshot(*heap);
    EXPECT_EQ(heap->alloc(heap->info().total * 2), nullptr);
    EXPECT_EQ(heap->last_status(), Status::locked);
    EXPECT_EQ(snapshot(*heap), before);
    heap->unlock();
}

TEST(Control, IsLockedDuringACollection) {
    UHEAP_TEST_NEEDS(uheap::kFeatureFinalisers);
    TestHeap heap(kRegion);
    uheap_test::NoRoots no_roots(*heap);
    struct Seen {
        uheap::Heap* heap;
        bool locked = false;
        bool collecting = false;
        unsigned depth = 99;
    } seen{heap.get()};
    heap->set_finaliser(
        [](void* user, void*) {
            auto* s = static_cast<Seen*>(user);
            s->locked = s->heap->is_locked();
            s->collecting = s->heap->is_collecting();
            s->depth = s->heap->lock_depth();
        },
        &seen);
    heap->alloc(blocks(1), uheap::kFinaliser);
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_TRUE(seen.locked);
    EXPECT_TRUE(seen.collecting);
    EXPECT_EQ(seen.depth, 0u);  // the lock depth itself is the host's, untouched
    EXPECT_FALSE(heap->is_locked());
}

TEST(Control, CollectWhileLockedStillCollects) {
    // MicroPython: gc.collect() is allowed with the heap locked; only allocation is refused.
    TestHeap heap(kRegion);
    uheap_test::NoRoots no_roots(*heap);
    void* p = heap->alloc(blocks(1));
    heap->lock();
    EXPECT_EQ(heap->collect(), Status::ok);
    heap->unlock();
    EXPECT_EQ(heap->size_of(p), 0u);
}

TEST(Control, AutoCollectDisabledFailsAtOnce) {
    TestHeap heap(16 * 1024);
    uheap_test::NoRoots no_roots(*heap);
    heap->set_auto_collect(false);
    EXPECT_FALSE(heap->auto_collect());
    while (heap->alloc(blocks(1)) != nullptr) {
    }
    EXPECT_EQ(heap->last_status(), Status::out_of_memory);
    std::uint64_t collections = heap->counters().collections;
    EXPECT_EQ(heap->alloc(blocks(1)), nullptr);
    EXPECT_EQ(heap->counters().collections, collections);  // garbage everywhere, yet no collection
    EXPECT_EQ(collections, 0u);
    heap->set_auto_collect(true);
    EXPECT_NE(heap->alloc(blocks(1)), nullptr);
    EXPECT_EQ(heap->counters().collections, 1u);
    EXPECT_VERIFIED(*heap);
}

TEST(Control, ThresholdCollectsOnceThatManyBytesWereAllocated) {
    TestHeap heap(kRegion);
    uheap_test::NoRoots no_roots(*heap);
    heap->set_threshold(1);
    EXPECT_EQ(heap->threshold(), kBlockBytes);  // any byte count > 0 is at least one block
    heap->set_threshold(9 * kBlockBytes + kBlockBytes / 2);
    EXPECT_EQ(heap->threshold(), 10 * kBlockBytes);  // whole blocks, rounded up
    for (int i = 0; i < 10; ++i) ASSERT_NE(heap->alloc(blocks(1)), nullptr);
    EXPECT_EQ(heap->counters().collections, 0u);
    EXPECT_EQ(heap->allocated_since_collect(), 10 * kBlockBytes);
    ASSERT_NE(heap->alloc(blocks(1)), nullptr);  // 10 blocks reached: collect before this one
    EXPECT_EQ(heap->counters().collections, 1u);
    EXPECT_EQ(heap->allocated_since_collect(), kBlockBytes);
    ASSERT_NE(heap->alloc(blocks(9)), nullptr);
    EXPECT_EQ(heap->counters().collections, 1u);
    ASSERT_NE(heap->alloc(blocks(1)), nullptr);
    EXPECT_EQ(heap->counters().collections, 2u);
    heap->set_threshold(0);
    EXPECT_EQ(heap->threshold(), 0u);
    for (int i = 0; i < 50; ++i) ASSERT_NE(heap->alloc(blocks(1)), nullptr);
    EXPECT_EQ(heap->counters().collections, 2u);
}

TEST(Control, ThresholdIsIgnoredWithAutoCollectOff) {
    TestHeap heap(kRegion);
    heap->set_threshold(kBlockBytes);
    heap->set_auto_collect(false);
    for (int i = 0; i < 5; ++i) ASSERT_NE(heap->alloc(blocks(1)), nullptr);
    EXPECT_EQ(heap->counters().collections, 0u);
}

TEST(Control, ManualCollectResetsTheThresholdCounter) {
    TestHeap heap(kRegion);
    uheap_test::NoRoots no_roots(*heap);
    heap->set_threshold(4 * kBlockBytes);
    ASSERT_NE(heap->alloc(blocks(3)), nullptr);
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_EQ(heap->allocated_since_collect(), 0u);
    ASSERT_NE(heap->alloc(blocks(3)), nullptr);
    EXPECT_EQ(heap->counters().collections, 1u);
}

TEST(Control, CollectOnEveryAllocStressMode) {
    uheap::HeapConfig config;
    config.collect_on_every_alloc = true;
    TestHeap heap(kRegion, config);
    RootArray roots(*heap, 100);
    for (int i = 0; i < 100; ++i) {
        void** p = static_cast<void**>(heap->alloc(blocks(1 + i % 3)));
        ASSERT_NE(p, nullptr);
        if (i > 0) p[0] = roots[i - 1];
        roots[i] = p;
        EXPECT_EQ(heap->counters().collections, static_cast<std::uint64_t>(2 * i + 1));  // one per alloc
        heap->alloc(blocks(1));  // garbage, freed by the next allocation's collection
        ASSERT_VERIFIED(*heap);
    }
    EXPECT_EQ(heap->info().objects, 101u);
    for (std::size_t i = 0; i < 100; ++i) EXPECT_NE(heap->size_of(roots[i]), 0u);
}

TEST(Control, CollectCallbackReplacesAutomaticCollections) {
    TestHeap heap(16 * 1024);
    uheap_test::NoRoots no_roots(*heap);
    struct Host {
        uheap::Heap* heap;
        int calls = 0;
    } host{heap.get()};
    heap->set_collect_callback(
        [](void* user) {
            auto* h = static_cast<Host*>(user);
            ++h->calls;
            h->heap->collect_start();
            h->heap->collect_end();
        },
        &host);
    while (heap->info().free >= kBlockBytes) heap->alloc(blocks(1));
    EXPECT_NE(heap->alloc(blocks(1)), nullptr);
    EXPECT_EQ(host.calls, 1);
    EXPECT_EQ(heap->counters().collections, 1u);
    EXPECT_EQ(heap->collect(), Status::ok);  // an explicit collect() does not use the callback
    EXPECT_EQ(host.calls, 1);
}

TEST(Control, StatusNamesAreDistinct) {
    std::set<std::string> names;
    for (int s = 0; s <= static_cast<int>(Status::weakly_referenced); ++s) {
        names.insert(uheap::status_name(static_cast<Status>(s)));
    }
    EXPECT_EQ(names.size(), static_cast<std::size_t>(Status::weakly_referenced) + 1);
    EXPECT_STREQ(uheap::status_name(Status::already_free), "already_free");
    EXPECT_EQ(names.count("unknown"), 0u);
}

TEST(Control, VersionIsTheProjectVersion) {
    EXPECT_STREQ(uheap::version(), UHEAP_VERSION_STRING);
    EXPECT_EQ(std::to_string(UHEAP_VERSION_MAJOR) + "." + std::to_string(UHEAP_VERSION_MINOR) + "." +
                  std::to_string(UHEAP_VERSION_PATCH),
              UHEAP_VERSION_STRING);
}

}  // namespace
