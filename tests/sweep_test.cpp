// SPDX-License-Identifier: MIT
// The lazy sweep: a collection ends once the dead are found, finalised and counted, and their
// blocks are freed later, as allocation reaches them or sweep_step() is called. What a host sees
// must not depend on when that happens: the same placement, the same answers about dead objects,
// exact counters, finalisers at the collection, and nothing allocated where the sweep has yet to
// pass (which would read as dead and be freed under the host).
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

uheap::HeapConfig sweep_config(bool lazy) {
    uheap::HeapConfig config;
    config.lazy_sweep = lazy;
    return config;
}

/// Allocates `n` objects of `n_blocks` each, none of them rooted: garbage at the next collection.
void make_garbage(uheap::Heap& heap, std::size_t n, std::size_t n_blocks) {
    for (std::size_t i = 0; i < n; ++i) ASSERT_NE(heap.alloc(blocks(n_blocks)), nullptr);
}

// The same program on a lazily and an eagerly swept heap: every allocation lands at the same
// offset, every collection frees the same, and the counters agree at every step. First fit looks
// in the swept part only, and sweeps a fit that reaches past it first (sweep.cpp), which is what
// makes the placement exact; this is the test that says so.
TEST(LazySweep, PlacesEveryObjectWhereAnEagerSweepWould) {
    constexpr std::size_t kRegion = 96 * 1024;
    TestHeap lazy(kRegion, sweep_config(true));
    TestHeap eager(kRegion, sweep_config(false));
    ASSERT_NE(lazy.get(), nullptr);
    ASSERT_NE(eager.get(), nullptr);
    RootArray lazy_roots(*lazy, 256);
    RootArray eager_roots(*eager, 256);
    auto offset = [](const TestHeap& h, void* p) {
        return p == nullptr ? SIZE_MAX : static_cast<std::size_t>(static_cast<unsigned char*>(p) - h.region());
    };
    std::mt19937 rng(7);
    for (int step = 0; step < 20000; ++step) {
        SCOPED_TRACE(step);
        unsigned op = rng() % 100;
        std::size_t slot = rng() % 256;
        if (op < 70) {
            std::size_t n_blocks = rng() % 8 == 0 ? 1 + rng() % 60 : 1 + rng() % 3;
            void* a = lazy->alloc(blocks(n_blocks));
            void* b = eager->alloc(blocks(n_blocks));
            ASSERT_EQ(offset(lazy, a), offset(eager, b));
            if (rng() % 3 == 0) {  // a third of them live on
                lazy_roots[slot] = a;
                eager_roots[slot] = b;
            }
        } else if (op < 80) {
            ASSERT_EQ(lazy->free(lazy_roots[slot]), eager->free(eager_roots[slot]));
            lazy_roots[slot] = eager_roots[slot] = nullptr;
        } else if (op < 92) {
            std::size_t n_bytes = blocks(1 + rng() % 20);
            void* a = lazy->realloc(lazy_roots[slot], n_bytes);
            void* b = eager->realloc(eager_roots[slot], n_bytes);
            ASSERT_EQ(offset(lazy, a), offset(eager, b));
            if (a != nullptr) {
                lazy_roots[slot] = a;
                eager_roots[slot] = b;
            }
        } else if (op < 95) {
            ASSERT_EQ(lazy->collect(), Status::ok);
            ASSERT_EQ(eager->collect(), Status::ok);
        } else {
            lazy->sweep_step(rng() % 500);
        }
        ASSERT_EQ(lazy->counters().used_bytes, eager->counters().used_bytes);
        ASSERT_EQ(lazy->counters().last_collect_freed, eager->counters().last_collect_freed);
        if (step % 50 == 0) {
            ASSERT_TRUE(lazy->verify().ok()) << uheap_test::describe(lazy->verify());
            ASSERT_TRUE(eager->verify().ok()) << uheap_test::describe(eager->verify());
        }
    }
    EXPECT_GT(lazy->counters().collections, 50u);  // automatic ones too
    EXPECT_EQ(uheap_test::describe(lazy->info()), uheap_test::describe(eager->info()));
}

// collect() returns with the sweep pending, and everything a host reads in O(areas) is already
// what the sweep will leave: used bytes, objects freed.
TEST(LazySweep, CountersAreExactBeforeTheSweep) {
    UHEAP_TEST_NEEDS(uheap::kFeatureLazySweep);
    TestHeap heap(64 * 1024, sweep_config(true));
    RootArray roots(*heap, 100);
    for (std::size_t i = 0; i < 100; ++i) roots[i] = heap->alloc(blocks(2));
    make_garbage(*heap, 300, 1);
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_GT(heap->sweep_step(0), 0u) << "the sweep is pending";
    EXPECT_EQ(heap->counters().last_collect_freed, 300u);
    EXPECT_EQ(heap->counters().used_bytes, blocks(200));
    EXPECT_EQ(heap->info_fast().used, blocks(200));
    EXPECT_TRUE(heap->verify().ok()) << uheap_test::describe(heap->verify());
    // info() reads through the pending sweep, and leaves it pending.
    uheap::Info pending = heap->info();
    EXPECT_EQ(pending.used, blocks(200));
    EXPECT_EQ(pending.objects, 100u);
    EXPECT_GT(heap->sweep_step(0), 0u);
    // walk() shows every block as it is: it finishes the sweep first.
    heap->walk([](void*, const uheap::HeapSpan&) {}, nullptr);
    EXPECT_EQ(heap->sweep_step(0), 0u);
    EXPECT_EQ(uheap_test::describe(heap->info()), uheap_test::describe(pending));
    EXPECT_TRUE(heap->verify().ok()) << uheap_test::describe(heap->verify());
}

// A dead object the sweep has not reached is free to every call that takes an object, as it
// would be after an eager sweep: nothing can free it twice, resize it or read its size.
TEST(LazySweep, DeadObjectsAwaitingTheSweepAreAlreadyFree) {
    UHEAP_TEST_NEEDS(uheap::kFeatureFinalisers | uheap::kFeatureWeakReferences);
    TestHeap heap(64 * 1024, sweep_config(true));
    RootArray roots(*heap, 1);
    roots[0] = heap->alloc(blocks(1));
    // Kept as an integer so no root, stack or register, retains it.
    const std::uintptr_t dead = reinterpret_cast<std::uintptr_t>(heap->alloc(blocks(3), uheap::kFinaliser)) ^ 1;
    ASSERT_EQ(heap->collect(), Status::ok);
    ASSERT_GT(heap->sweep_step(0), 0u);
    void* p = reinterpret_cast<void*>(dead ^ 1);
    EXPECT_EQ(heap->size_of(p), 0u);
    EXPECT_EQ(heap->flags_of(p), 0u);
    EXPECT_EQ(heap->object_start(static_cast<unsigned char*>(p) + kBlockBytes), nullptr);
    EXPECT_EQ(heap->free(p), Status::already_free);
    EXPECT_EQ(heap->set_weak(p), Status::already_free);
    EXPECT_EQ(heap->realloc(p, blocks(5)), nullptr);
    EXPECT_EQ(heap->last_status(), Status::already_free);
    EXPECT_EQ(heap->size_of(roots[0]), blocks(1));  // the live one is still itself
    EXPECT_TRUE(heap->verify().ok()) << uheap_test::describe(heap->verify());
}

// Finalisers, weak callbacks and on_free(swept) belong to the collection that found the object
// dead, not to the sweep that frees its blocks later: a host's __del__ runs at gc.collect().
TEST(LazySweep, FinalisersAndFreeEventsHappenAtTheCollection) {
    UHEAP_TEST_NEEDS(uheap::kFeatureFinalisers | uheap::kFeatureEventHooks);
    TestHeap heap(64 * 1024, sweep_config(true));
    uheap_test::NoRoots no_roots(*heap);
    static int finalised = 0;
    static int freed_events = 0;
    finalised = freed_events = 0;
    heap->set_finaliser([](void*, void*) { ++finalised; }, nullptr);
    uheap::EventHooks hooks;
    hooks.on_free = [](void*, void*, std::size_t, uheap::FreeReason reason) {
        if (reason == uheap::FreeReason::swept) ++freed_events;
    };
    heap->set_event_hooks(hooks);
    for (int i = 0; i < 50; ++i) ASSERT_NE(heap->alloc(blocks(1), uheap::kFinaliser), nullptr);
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_EQ(finalised, 50);
    EXPECT_EQ(freed_events, 50);
    EXPECT_GT(heap->sweep_step(0), 0u);
    EXPECT_EQ(heap->sweep_step(SIZE_MAX), 0u);
    EXPECT_EQ(freed_events, 50) << "the sweep itself reports nothing again";
}

// The danger a lazy sweep brings: an object allocated where the sweep has yet to pass has no mark
// and would be taken for dead. Objects allocated between collections, through every path
// (current run, search, realloc in place and moving), must all survive the next collection.
TEST(LazySweep, ObjectsAllocatedBeforeTheSweepEndsSurvive) {
    TestHeap heap(128 * 1024, sweep_config(true));
    RootArray roots(*heap, 600);
    std::mt19937 rng(3);
    for (int round = 0; round < 30; ++round) {
        SCOPED_TRACE(round);
        for (std::size_t i = 0; i < roots.size(); ++i) {
            if (rng() % 2 == 0) continue;
            std::size_t n_bytes = blocks(1 + rng() % (i % 7 == 0 ? 30 : 3));
            void* p = rng() % 4 == 0 && roots[i] != nullptr ? heap->realloc(roots[i], n_bytes) : heap->alloc(n_bytes);
            if (p == nullptr) continue;
            std::memset(p, static_cast<int>(i & 0x7f) | 0x80, heap->size_of(p));  // never a pointer pattern
            roots[i] = p;
            make_garbage(*heap, rng() % 3, 1 + rng() % 4);
        }
        ASSERT_EQ(heap->collect(), Status::ok);
        ASSERT_TRUE(heap->verify().ok()) << uheap_test::describe(heap->verify());
        for (std::size_t i = 0; i < roots.size(); ++i) {
            if (roots[i] == nullptr) continue;
            auto* bytes = static_cast<unsigned char*>(roots[i]);
            std::size_t n = heap->size_of(bytes);
            ASSERT_GT(n, 0u) << "object " << i << " was lost";
            for (std::size_t b = 0; b < n; ++b) ASSERT_EQ(bytes[b], static_cast<unsigned char>((i & 0x7f) | 0x80)) << i;
        }
    }
}

// sweep_step() sweeps in address order and says what is left; the host's idle time can finish
// the sweep so allocation finds it done.
TEST(LazySweep, StepsSweepWhatTheyAreGiven) {
    UHEAP_TEST_NEEDS(uheap::kFeatureLazySweep);
    TestHeap heap(256 * 1024, sweep_config(true));
    uheap_test::NoRoots no_roots(*heap);
    make_garbage(*heap, 3000, 2);
    ASSERT_EQ(heap->collect(), Status::ok);
    std::size_t left = heap->sweep_step(0);
    ASSERT_GE(left, 6000u);
    for (std::size_t steps = 0; left != 0; ++steps) {
        ASSERT_LT(steps, 100u);
        std::size_t now = heap->sweep_step(512);
        EXPECT_LT(now, left);
        EXPECT_GE(now + 512, left) << "a step sweeps little more than it is given (whole table words)";
        left = now;
        ASSERT_TRUE(heap->verify().ok()) << uheap_test::describe(heap->verify());
    }
    EXPECT_EQ(heap->info().used, 0u);
}

// With the sweep off, a collection frees everything before it returns.
TEST(LazySweep, EagerSweepFinishesInTheCollection) {
    TestHeap heap(64 * 1024, sweep_config(false));
    uheap_test::NoRoots no_roots(*heap);
    make_garbage(*heap, 200, 1);
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_EQ(heap->sweep_step(0), 0u);
    EXPECT_TRUE(heap->verify().ok());
}

// realloc() grows in place over a dead neighbour, as it would once that is swept: the sweep
// reaches it first.
TEST(LazySweep, ReallocGrowsInPlaceOverADeadNeighbour) {
    UHEAP_TEST_NEEDS(uheap::kFeatureLazySweep);
    TestHeap heap(64 * 1024, sweep_config(true));
    RootArray roots(*heap, 2);
    roots[0] = heap->alloc(blocks(2));
    ASSERT_NE(heap->alloc(blocks(4)), nullptr);  // right after it, garbage
    roots[1] = heap->alloc(blocks(1));           // and a live one after that
    ASSERT_EQ(heap->collect(), Status::ok);
    ASSERT_GT(heap->sweep_step(0), 0u);
    EXPECT_EQ(heap->realloc(roots[0], blocks(6)), roots[0]);
    EXPECT_EQ(heap->size_of(roots[0]), blocks(6));
    EXPECT_TRUE(heap->verify().ok()) << uheap_test::describe(heap->verify());
}

// A request that fits only in garbage beyond the swept part is found: the sweep runs on until it
// fits, without a second collection.
TEST(LazySweep, ALargeRequestFindsRoomTheSweepHasNotReachedYet) {
    TestHeap heap(256 * 1024, sweep_config(true));
    RootArray roots(*heap, 1);
    std::size_t n = 0;
    heap->set_auto_collect(false);
    while (heap->alloc(blocks(1)) != nullptr) ++n;  // the whole pool, all garbage
    heap->set_auto_collect(true);
    ASSERT_EQ(heap->collect(), Status::ok);
    std::size_t collections = heap->counters().collections;
    roots[0] = heap->alloc(blocks(n / 2));
    EXPECT_NE(roots[0], nullptr);
    EXPECT_EQ(heap->counters().collections, collections);
    EXPECT_TRUE(heap->verify().ok()) << uheap_test::describe(heap->verify());
}

// Freeing a live object where the sweep has yet to pass, right after the current run, must not
// stretch the current run over unswept blocks (I8): the next objects carved there would be
// unmarked there and be swept as dead.
TEST(LazySweep, AFreeBesideTheCurrentRunKeepsItSwept) {
    TestHeap heap(256 * 1024, sweep_config(true));
    RootArray roots(*heap, 4000);
    for (std::size_t i = 0; i < roots.size(); ++i) {
        roots[i] = heap->alloc(blocks(1));
        ASSERT_NE(heap->alloc(blocks(1)), nullptr);  // garbage between live ones
    }
    ASSERT_EQ(heap->collect(), Status::ok);
    // The first allocation sweeps a little ahead of the lowest hole; free the live objects from
    // there up, one after another, beside the current run, allocating as we go.
    std::vector<void*> fresh;
    for (std::size_t i = 0; i < roots.size(); i += 1) {
        ASSERT_EQ(heap->free(roots[i]), Status::ok);
        roots[i] = nullptr;
        void* p = heap->alloc(blocks(1));
        ASSERT_NE(p, nullptr);
        roots[i] = p;
        ASSERT_TRUE(heap->verify().ok()) << i << ": " << uheap_test::describe(heap->verify());
    }
    ASSERT_EQ(heap->collect(), Status::ok);
    for (std::size_t i = 0; i < roots.size(); ++i) ASSERT_EQ(heap->size_of(roots[i]), blocks(1)) << i;
}

}  // namespace
