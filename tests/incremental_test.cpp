// SPDX-License-Identifier: MIT
// Incremental marking (HeapConfig::incremental): a collection as collect_step() calls with the
// host running in between. What a host relies on: nothing it can still reach is freed, whatever
// it stored (through write_barrier()) or allocated between steps; every step is bounded; the
// cycle ends by itself, and collect(), sweep_all(), pacing and idle time fit around it.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "test_support.hpp"

namespace {

using uheap::kBlockBytes;
using uheap::Status;
using uheap_test::blocks;
using uheap_test::RootArray;
using uheap_test::TestHeap;

uheap::HeapConfig incremental_config() {
    uheap::HeapConfig config;
    config.incremental = true;
    return config;
}

/// Steps until the cycle is over; returns the steps taken.
std::size_t run_cycle(uheap::Heap& heap, std::size_t budget) {
    std::size_t steps = 0;
    do {
        EXPECT_EQ(heap.collect_step(budget), Status::ok);
        ++steps;
    } while (heap.is_marking() && steps < 1000000);
    return steps;
}

/// An object of the model: `kLinks` link words, then a stamp.
constexpr std::size_t kLinks = 3;
struct Node {
    Node* link[kLinks];
    std::uintptr_t stamp;
};
/// What size_of() says of a Node: whole blocks (one of 32 B, two of 16 B).
const std::size_t kNodeBytes = uheap::blocks_for_bytes(sizeof(Node)) * kBlockBytes;

/// A chain of `n` nodes through link[0], its head returned (keep it reachable); with
/// `garbage_between`, an unreachable block after each node.
Node* make_chain(uheap::Heap& heap, int n, bool garbage_between = false) {
    Node* head = nullptr;
    for (int i = 0; i < n; ++i) {
        auto* node = static_cast<Node*>(heap.alloc(sizeof(Node)));
        EXPECT_NE(node, nullptr);
        if (node == nullptr) return head;
        node->link[0] = head;
        head = node;
        if (garbage_between) {
            EXPECT_NE(heap.alloc(kBlockBytes), nullptr);
        }
    }
    return head;
}

/// Counts the stops the heap reports through on_pause, by kind.
class PauseKinds {
public:
    explicit PauseKinds(uheap::Heap& heap) {
        uheap::EventHooks hooks;
        hooks.user = &counted_;
        hooks.on_pause = [](void* user, uheap::PauseKind kind, std::uint64_t) {
            ++(*static_cast<std::map<uheap::PauseKind, int>*>(user))[kind];
        };
        heap.set_event_hooks(hooks);
    }
    int operator[](uheap::PauseKind kind) { return counted_[kind]; }

private:
    std::map<uheap::PauseKind, int> counted_;
};

TEST(Incremental, StepsFinishACycleThatFreesOnlyGarbage) {
    UHEAP_TEST_NEEDS(uheap::kFeatureIncremental);
    TestHeap heap(256 * 1024, incremental_config());
    RootArray roots(*heap, 1);
    // A chain of 2 000 live nodes, and garbage between them.
    Node* head = nullptr;
    for (std::uintptr_t i = 0; i < 2000; ++i) {
        auto* n = static_cast<Node*>(heap->alloc(sizeof(Node)));
        ASSERT_NE(n, nullptr);
        n->link[0] = head;
        n->stamp = i;
        head = n;
        roots[0] = head;
        ASSERT_NE(heap->alloc(sizeof(Node)), nullptr);
    }
    std::uint64_t collections = heap->counters().collections;
    std::size_t steps = run_cycle(*heap, 64);
    EXPECT_GT(steps, 20u) << "a budget of 64 words marks 2 000 nodes in many steps";
    EXPECT_EQ(heap->counters().collections, collections + 1);
    EXPECT_EQ(heap->counters().last_collect_freed, 2000u);
    std::uintptr_t expect = 1999;
    for (Node* n = static_cast<Node*>(roots[0]); n != nullptr; n = n->link[0], --expect) ASSERT_EQ(n->stamp, expect);
    EXPECT_TRUE(heap->verify().ok()) << uheap_test::describe(heap->verify());
}

// The case the barrier exists for: B is reachable only through C, an object marking has not
// reached; the host copies the pointer into A, which marking has scanned, and clears it in C.
// Without the barrier nothing would look at A again (the final phase rescans roots, not heap
// objects) and B would be freed while A points at it.
TEST(Incremental, WriteBarrierKeepsAnObjectStoredIntoAScannedHolder) {
    UHEAP_TEST_NEEDS(uheap::kFeatureIncremental);
    enum Barrier { kBackward, kForward, kNone };
    for (Barrier kind : {kBackward, kForward, kNone}) {
        const bool barrier = kind != kNone;
        SCOPED_TRACE(kind == kBackward ? "write_barrier(holder)"
                     : kind == kForward ? "write_barrier(holder, value)"
                                        : "no barrier (the failure the barrier prevents)");
        TestHeap heap(64 * 1024, incremental_config());
        RootArray roots(*heap, 1);
        auto* a = static_cast<Node*>(heap->alloc(sizeof(Node)));
        roots[0] = a;
        a->link[1] = make_chain(*heap, 500);  // a -> a long chain whose far end is C
        Node* c = a->link[1];
        while (c->link[0] != nullptr) c = c->link[0];
        auto* b = static_cast<Node*>(heap->alloc(sizeof(Node)));
        b->stamp = 42;
        c->link[2] = b;
        ASSERT_EQ(heap->collect_step(8), Status::ok);  // A scanned; the chain, C and B are not
        ASSERT_TRUE(heap->is_marking());
        a->link[2] = c->link[2];  // the store into a scanned object
        if (kind == kBackward) heap->write_barrier(a);
        if (kind == kForward) heap->write_barrier(a, a->link[2]);
        c->link[2] = nullptr;
        // Only an integer copy of B is kept from here on, so no root retains it.
        const std::uintptr_t b_bits = reinterpret_cast<std::uintptr_t>(b) ^ 1;
        b = nullptr;
        run_cycle(*heap, 8);
        void* b_again = reinterpret_cast<void*>(b_bits ^ 1);
        if (barrier) {
            EXPECT_EQ(heap->size_of(b_again), kNodeBytes) << "B was freed while A points at it";
            EXPECT_EQ(static_cast<Node*>(b_again)->stamp, 42u);
        } else {
            EXPECT_EQ(heap->size_of(b_again), 0u) << "without the barrier the store is missed: this test can fail";
        }
        EXPECT_TRUE(heap->verify().ok()) << uheap_test::describe(heap->verify());
    }
}

// A random host between steps: allocating, linking (with the barrier), unlinking, dropping and
// taking roots, freeing; a model of what is reachable; after every cycle each reachable node
// still holds its stamp and its links; verify() after every step.
TEST(Incremental, RandomMutatorBetweenStepsLosesNothing) {
    UHEAP_TEST_NEEDS(uheap::kFeatureIncremental);
    for (std::uint32_t seed : {1u, 2u, 3u, 4u}) {
        SCOPED_TRACE(seed);
        TestHeap heap(96 * 1024, incremental_config());
        constexpr std::size_t kRoots = 16;
        RootArray roots(*heap, kRoots);
        std::mt19937 rng(seed);
        std::map<Node*, std::uintptr_t> stamps;  // every node allocated and not freed by the host
        std::uintptr_t next_stamp = 1;
        auto reachable = [&] {
            std::set<Node*> seen;
            std::vector<Node*> stack;
            for (std::size_t i = 0; i < kRoots; ++i) {
                if (roots[i] != nullptr) stack.push_back(static_cast<Node*>(roots[i]));
            }
            while (!stack.empty()) {
                Node* n = stack.back();
                stack.pop_back();
                if (!seen.insert(n).second) continue;
                for (Node* l : n->link) {
                    if (l != nullptr) stack.push_back(l);
                }
            }
            return seen;
        };
        auto any_reachable = [&]() -> Node* {
            std::set<Node*> r = reachable();
            if (r.empty()) return nullptr;
            auto it = r.begin();
            std::advance(it, static_cast<long>(rng() % r.size()));
            return *it;
        };
        std::uint64_t cycles_seen = heap->counters().collections;
        for (int step = 0; step < 6000; ++step) {
            for (int op = 0; op < 4; ++op) {
                unsigned what = rng() % 10;
                if (what < 4) {  // allocate, linked from a reachable node or a root
                    auto* n = static_cast<Node*>(heap->alloc(sizeof(Node) + rng() % 3 * kBlockBytes));
                    if (n == nullptr) continue;
                    n->stamp = next_stamp++;
                    stamps[n] = n->stamp;
                    Node* holder = any_reachable();
                    if (holder != nullptr && rng() % 2 == 0) {
                        holder->link[rng() % kLinks] = n;
                        heap->write_barrier(holder);
                    } else {
                        roots[rng() % kRoots] = n;
                    }
                } else if (what < 7) {  // move a pointer into a node, perhaps dropping its root
                    Node* holder = any_reachable();
                    Node* target = any_reachable();
                    if (holder == nullptr) continue;
                    holder->link[rng() % kLinks] = target;
                    heap->write_barrier(holder);
                    if (rng() % 2 == 0) roots[rng() % kRoots] = nullptr;
                } else if (what < 9) {  // unlink
                    if (Node* holder = any_reachable()) holder->link[rng() % kLinks] = nullptr;
                } else {  // take a reachable node into a root
                    roots[rng() % kRoots] = any_reachable();
                }
            }
            ASSERT_EQ(heap->collect_step(16 + rng() % 64), Status::ok);
            ASSERT_TRUE(heap->verify().ok()) << uheap_test::describe(heap->verify());
            if (heap->counters().collections == cycles_seen) continue;
            cycles_seen = heap->counters().collections;  // a cycle ended: what is reachable survived it
            for (Node* n : reachable()) {
                ASSERT_GT(heap->size_of(n), 0u) << "a reachable node was freed at step " << step;
                ASSERT_EQ(n->stamp, stamps.at(n));
            }
            // The host forgets what it cannot reach any more (the collector may have freed it).
            std::set<Node*> r = reachable();
            for (auto it = stamps.begin(); it != stamps.end();) it = r.count(it->first) ? std::next(it) : stamps.erase(it);
        }
        EXPECT_GT(heap->counters().collections, 20u);
        EXPECT_GT(heap->counters().last_pause_ns, 0u);
    }
}

// Objects allocated during a cycle are born marked: they survive it even if nothing reaches them
// (floating garbage, freed by the next cycle), and those that are reached survive either way.
TEST(Incremental, ObjectsAllocatedDuringACycleAreBornMarked) {
    UHEAP_TEST_NEEDS(uheap::kFeatureIncremental);
    TestHeap heap(128 * 1024, incremental_config());
    RootArray roots(*heap, 1);
    roots[0] = make_chain(*heap, 1000);
    ASSERT_EQ(heap->collect_step(8), Status::ok);
    ASSERT_TRUE(heap->is_marking());
    const std::uintptr_t floating = reinterpret_cast<std::uintptr_t>(heap->alloc(sizeof(Node))) ^ 1;
    run_cycle(*heap, 64);
    EXPECT_EQ(heap->size_of(reinterpret_cast<void*>(floating ^ 1)), kNodeBytes) << "born marked";
    run_cycle(*heap, 64);
    EXPECT_EQ(heap->size_of(reinterpret_cast<void*>(floating ^ 1)), 0u) << "freed by the next cycle";
}

// realloc() that moves an object during a cycle copies pointers the collector may not have seen
// yet into an object born marked: the heap re-greys the copy itself (a host cannot: it never
// stores those pointers). Y is reachable only through X; X moves before marking reaches it.
TEST(Incremental, ReallocMovingDuringACycleKeepsWhatTheCopyPointsTo) {
    UHEAP_TEST_NEEDS(uheap::kFeatureIncremental);
    TestHeap heap(128 * 1024, incremental_config());
    RootArray roots(*heap, 1);
    roots[0] = make_chain(*heap, 500);
    Node* c = static_cast<Node*>(roots[0]);
    while (c->link[0] != nullptr) c = c->link[0];  // the far end: marked last
    auto* x = static_cast<Node*>(heap->alloc(sizeof(Node)));
    ASSERT_NE(heap->alloc(kBlockBytes), nullptr);  // so that x cannot grow in place
    auto* y = static_cast<Node*>(heap->alloc(sizeof(Node)));
    y->stamp = 7;
    x->link[0] = y;
    c->link[2] = x;
    const std::uintptr_t y_bits = reinterpret_cast<std::uintptr_t>(y) ^ 1;
    y = nullptr;
    ASSERT_EQ(heap->collect_step(8), Status::ok);
    ASSERT_TRUE(heap->is_marking());
    void* moved = heap->realloc(x, 4 * sizeof(Node));
    ASSERT_NE(moved, nullptr);
    ASSERT_NE(moved, static_cast<void*>(x)) << "the test needs a move";
    c->link[2] = static_cast<Node*>(moved);
    heap->write_barrier(c, moved);
    x = nullptr;
    run_cycle(*heap, 8);
    void* y_again = reinterpret_cast<void*>(y_bits ^ 1);
    EXPECT_EQ(heap->size_of(y_again), kNodeBytes) << "Y, reachable through the moved copy, was freed";
    EXPECT_TRUE(heap->verify().ok()) << uheap_test::describe(heap->verify());
}

// Garbage allocated during a cycle is born marked and survives it: an allocation that finds the
// heap full mid-cycle finishes the cycle and, if that frees too little, collects once more, so
// it fails only where a stop-the-world heap would too.
TEST(Incremental, AnAllocationThatFillsTheHeapMidCycleStillFits) {
    UHEAP_TEST_NEEDS(uheap::kFeatureIncremental);
    TestHeap heap(64 * 1024, incremental_config());
    RootArray roots(*heap, 1);
    roots[0] = make_chain(*heap, 200);
    heap->set_pacing(0, 1);  // steps too rare to end the cycle before the heap is full
    ASSERT_EQ(heap->collect_step(1), Status::ok);
    ASSERT_TRUE(heap->is_marking());
    const std::size_t pool_blocks = heap->info_fast().total / kBlockBytes;
    PauseKinds kinds(*heap);
    for (std::size_t i = 0; i < 3 * pool_blocks; ++i) {
        ASSERT_NE(heap->alloc(kBlockBytes), nullptr) << "allocation " << i << ": " << uheap::status_name(heap->last_status());
    }
    EXPECT_EQ(heap->counters().out_of_memory, 0u);
    if (uheap::built::kEventHooks) {
        EXPECT_GT(kinds[uheap::PauseKind::forced_final], 0) << "the heap filled mid-cycle: said so";
    }
}

TEST(Incremental, CollectAndSweepAllFinishARunningCycle) {
    UHEAP_TEST_NEEDS(uheap::kFeatureIncremental);
    TestHeap heap(128 * 1024, incremental_config());
    RootArray roots(*heap, 1);
    roots[0] = make_chain(*heap, 1000, true);
    ASSERT_EQ(heap->collect_step(8), Status::ok);
    ASSERT_TRUE(heap->is_marking());
    EXPECT_EQ(heap->collect_start(), Status::collecting) << "no three-step collection inside a cycle";
    std::uint64_t collections = heap->counters().collections;
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_FALSE(heap->is_marking());
    EXPECT_EQ(heap->counters().collections, collections + 1);
    EXPECT_EQ(heap->counters().last_collect_freed, 1000u);
    ASSERT_EQ(heap->collect_step(8), Status::ok);
    ASSERT_EQ(heap->sweep_all(), Status::ok);
    EXPECT_FALSE(heap->is_marking());
    EXPECT_EQ(heap->info().objects, 0u);
    EXPECT_TRUE(heap->verify().ok()) << uheap_test::describe(heap->verify());
}

TEST(Incremental, RefusedWhereItCannotRun) {
    UHEAP_TEST_NEEDS(uheap::kFeatureIncremental);
    TestHeap plain(64 * 1024);
    EXPECT_EQ(plain->collect_step(100), Status::invalid_argument);
    TestHeap heap(64 * 1024, incremental_config());
    heap->lock();
    EXPECT_EQ(heap->collect_step(100), Status::locked);
    heap->unlock();
    ASSERT_EQ(heap->collect_start(), Status::ok);
    EXPECT_EQ(heap->collect_step(100), Status::collecting);
    ASSERT_EQ(heap->collect_end(), Status::ok);
}

// Pacing: with a pause of 200 %, the threshold follows what survived, a cycle starts when it is
// reached, and allocation carries it to its end; no stop-the-world collection is needed.
TEST(Incremental, PacingStartsCyclesThatAllocationCarries) {
    UHEAP_TEST_NEEDS(uheap::kFeatureIncremental | uheap::kFeatureEventHooks);
    TestHeap heap(1024 * 1024, incremental_config());
    RootArray roots(*heap, 4096);  // live data that takes several steps to mark
    heap->set_pacing(200, 32);
    PauseKinds kinds(*heap);
    std::mt19937 rng(9);
    for (int i = 0; i < 200000; ++i) {
        void* p = heap->alloc(blocks(1 + rng() % 3));
        ASSERT_NE(p, nullptr);
        if (rng() % 4 == 0) roots[rng() % 4096] = p;
    }
    EXPECT_GT(heap->counters().collections, 5u);
    EXPECT_EQ(kinds[uheap::PauseKind::collection], 0) << "every collection ran as a paced cycle";
    EXPECT_GT(kinds[uheap::PauseKind::step], kinds[uheap::PauseKind::final_step]);
    EXPECT_EQ(static_cast<std::uint64_t>(kinds[uheap::PauseKind::final_step]), heap->counters().collections);
    EXPECT_TRUE(heap->verify().ok()) << uheap_test::describe(heap->verify());
}

/// What a paced run saw: the collections it ran, by kind of final stop.
struct PacedRun {
    std::uint64_t collections = 0;
    int full_stops = 0;     ///< PauseKind::collection
    int forced_finals = 0;  ///< PauseKind::forced_final
    std::uint64_t out_of_memory = 0;
};

/// A live set of 4-block objects filling `live_percent` % of a 1 MB incremental heap, then
/// set_pacing(pause_percent, step_words) and four pool-fulls of one-block garbage, the live set
/// changing as the cycles run (one allocation in 64 replaces a root).
PacedRun run_paced(std::size_t live_percent, unsigned pause_percent, std::size_t step_words, unsigned seed) {
    PacedRun run;
    TestHeap heap(1024 * 1024, incremental_config());
    const std::size_t pool_blocks = heap->info_fast().total / kBlockBytes;
    const std::size_t live = pool_blocks * live_percent / 100 / 4;
    RootArray roots(*heap, live);
    for (std::size_t i = 0; i < live; ++i) {
        roots[i] = heap->alloc(blocks(4));
        EXPECT_NE(roots[i], nullptr);
    }
    EXPECT_EQ(heap->collect(), Status::ok);
    heap->set_pacing(pause_percent, step_words);
    PauseKinds kinds(*heap);
    std::mt19937 rng(seed);
    for (std::size_t i = 0; i < 4 * pool_blocks; ++i) {
        void* p = heap->alloc(kBlockBytes);
        EXPECT_NE(p, nullptr) << "allocation " << i;
        if (p == nullptr) break;
        if (rng() % 64 == 0) roots[rng() % live] = p;
    }
    EXPECT_TRUE(heap->verify().ok()) << uheap_test::describe(heap->verify());
    run.collections = heap->counters().collections;
    run.full_stops = kinds[uheap::PauseKind::collection];
    run.forced_finals = kinds[uheap::PauseKind::forced_final];
    run.out_of_memory = heap->counters().out_of_memory;
    return run;
}

// A pause the heap cannot afford: 400 % of a live set of ~45 % of the pool is past the pool's
// end, so the threshold alone would never start a cycle and every collection would be a full stop
// when the heap is full. Pacing starts each cycle early enough for allocation's steps to finish it.
TEST(Incremental, PacingStartsACycleWhileTheHeapStillHasRoomForIt) {
    UHEAP_TEST_NEEDS(uheap::kFeatureIncremental | uheap::kFeatureEventHooks);
    PacedRun run = run_paced(45, 400, 16, 5);
    EXPECT_GT(run.collections, 3u);
    EXPECT_EQ(run.full_stops, 0) << "a collection was a full stop: its cycle started too late";
    EXPECT_EQ(run.forced_finals, 0) << "a cycle ran out of room";
    EXPECT_EQ(run.out_of_memory, 0u);
}

// A heap mostly live (70 % of the pool): at 8 words per block, even a cycle that starts at once
// needs more room than is free, so the cycle marks faster instead (more words per block) and
// still ends by its steps, never by an allocation that finds the heap full.
TEST(Incremental, ACycleInAFullHeapMarksFasterToEndInTime) {
    UHEAP_TEST_NEEDS(uheap::kFeatureIncremental | uheap::kFeatureEventHooks);
    PacedRun run = run_paced(70, 200, 8, 11);
    EXPECT_GT(run.collections, 3u);
    EXPECT_EQ(run.full_stops, 0);
    EXPECT_EQ(run.forced_finals, 0) << "a cycle ran out of room: it marked too slowly";
}

// Idle time sweeps what a collection left and carries a cycle on, and says when nothing is left.
TEST(Incremental, IdleTimeFinishesTheSweepAndTheCycle) {
    UHEAP_TEST_NEEDS(uheap::kFeatureIncremental);
    TestHeap heap(256 * 1024, incremental_config());
    RootArray roots(*heap, 1);
    for (int i = 0; i < 3000; ++i) ASSERT_NE(heap->alloc(blocks(2)), nullptr);
    ASSERT_EQ(heap->collect(), Status::ok);
    ASSERT_GT(heap->sweep_step(0), 0u);
    EXPECT_FALSE(heap->collect_idle(UINT64_MAX)) << "nothing is left";
    EXPECT_EQ(heap->sweep_step(0), 0u);
    ASSERT_EQ(heap->collect_step(1), Status::ok);
    ASSERT_TRUE(heap->is_marking() || heap->counters().collections == 2);
    EXPECT_FALSE(heap->collect_idle(UINT64_MAX));
    EXPECT_FALSE(heap->is_marking());
    EXPECT_TRUE(heap->collect_idle(0) == false);  // a deadline in the past: no work, none left
}

}  // namespace
