// SPDX-License-Identifier: MIT
// The C++ conveniences (include/uheap/cxx.hpp): OwnedHeap, make / make_with_flags, Root and Weak
// handles including their moves.
#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "test_support.hpp"

namespace {

using uheap::kBlockBytes;
using uheap::Status;
using uheap_test::TestHeap;

struct Tracked {
    static int constructed;
    static int destroyed;
    int a;
    double b;
    Tracked(int x, double y) : a(x), b(y) { ++constructed; }
    ~Tracked() { ++destroyed; }
};
int Tracked::constructed = 0;
int Tracked::destroyed = 0;

struct Plain {
    int values[20];
};

struct Node {
    Node* next = nullptr;
    int value = 0;
};

TEST(Cxx, OwnedHeapCreatesAndReportsStatus) {
    uheap::OwnedHeap heap(1 << 20);
    ASSERT_TRUE(heap);
    EXPECT_EQ(heap.status(), Status::ok);
    EXPECT_GT(heap->info().total, (1u << 20) * 9 / 10);
    void* p = heap->alloc(100);
    EXPECT_NE(p, nullptr);
    EXPECT_EQ((*heap).size_of(p), (100 + kBlockBytes - 1) / kBlockBytes * kBlockBytes);
    uheap::OwnedHeap tiny(8);
    EXPECT_FALSE(tiny);
    EXPECT_EQ(tiny.get(), nullptr);
    EXPECT_EQ(tiny.status(), Status::region_too_small);
    uheap::HeapConfig bad;
    unsigned char too_small[sizeof(void*)];  // less than one entry (two words)
    bad.mark_stack = too_small;
    bad.mark_stack_bytes = sizeof too_small;
    uheap::OwnedHeap invalid(1 << 16, bad);
    EXPECT_FALSE(invalid);
    EXPECT_EQ(invalid.status(), Status::invalid_argument);
}

TEST(Cxx, MakeConstructsAndTheDestructorRunsOnceAsFinaliser) {
    TestHeap heap(64 * 1024);
    Tracked::constructed = Tracked::destroyed = 0;
    Tracked* t = uheap::make<Tracked>(*heap, 3, 2.5);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->a, 3);
    EXPECT_EQ(t->b, 2.5);
    EXPECT_EQ(Tracked::constructed, 1);
    EXPECT_TRUE(uheap_test::block_aligned(t));
    EXPECT_EQ(heap->flags_of(t), unsigned(uheap::kFinaliser));
    EXPECT_GE(heap->size_of(t), sizeof(Tracked) + sizeof(void*));  // room for the destroy thunk
    EXPECT_NE(heap->finaliser(), nullptr);                        // installed by make<T>
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_EQ(Tracked::destroyed, 1);
    ASSERT_EQ(heap->collect(), Status::ok);
    ASSERT_EQ(heap->sweep_all(), Status::ok);
    EXPECT_EQ(Tracked::destroyed, 1);
}

TEST(Cxx, SweepAllDestroysEveryMadeObject) {
    TestHeap heap(64 * 1024);
    Tracked::constructed = Tracked::destroyed = 0;
    uheap::Root<Tracked> a(*heap, uheap::make<Tracked>(*heap, 1, 0.0));
    uheap::Root<Tracked> b(*heap, uheap::make<Tracked>(*heap, 2, 0.0));
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_EQ(Tracked::destroyed, 0);
    ASSERT_EQ(heap->sweep_all(), Status::ok);
    EXPECT_EQ(Tracked::destroyed, 2);
}

TEST(Cxx, TriviallyDestructibleTypesNeedNoFinaliser) {
    TestHeap heap(64 * 1024);
    Plain* p = uheap::make<Plain>(*heap);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(heap->flags_of(p), 0u);
    EXPECT_EQ(heap->finaliser(), nullptr);
    EXPECT_EQ(heap->size_of(p), (sizeof(Plain) + kBlockBytes - 1) / kBlockBytes * kBlockBytes);
    Plain* q = uheap::make_with_flags<Plain>(*heap, uheap::kNoScan);
    EXPECT_EQ(heap->flags_of(q) & uheap::kNoScan, sizeof(Plain) > kBlockBytes ? unsigned(uheap::kNoScan) : 0u);
}

TEST(Cxx, HostFinaliserCanRunMadeDestructors) {
    TestHeap heap(64 * 1024);
    struct Host {
        uheap::Heap* heap;
        int calls = 0;
    } host{heap.get()};
    heap->set_finaliser(
        [](void* user, void* object) {
            auto* h = static_cast<Host*>(user);
            ++h->calls;
            uheap::run_cxx_finaliser(*h->heap, object);
            uheap::run_cxx_finaliser(*h->heap, object);  // a second call destroys nothing
        },
        &host);
    Tracked::destroyed = 0;
    ASSERT_NE(uheap::make<Tracked>(*heap, 1, 1.0), nullptr);
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_EQ(host.calls, 1);
    EXPECT_EQ(Tracked::destroyed, 1);
}

TEST(Cxx, MakeReturnsNullWhenTheHeapCannotAllocate) {
    TestHeap heap(64 * 1024);
    heap->lock();
    EXPECT_EQ(uheap::make<Tracked>(*heap, 1, 1.0), nullptr);
    EXPECT_EQ(heap->last_status(), Status::locked);
    heap->unlock();
}

TEST(Cxx, RootKeepsAGraphAliveAndCanBeReassigned) {
    TestHeap heap(64 * 1024);
    uheap::Root<Node> list(*heap);
    EXPECT_FALSE(list);
    for (int i = 0; i < 10; ++i) {
        Node* n = uheap::make<Node>(*heap);
        n->next = list.get();
        n->value = i;
        list = n;
    }
    ASSERT_EQ(heap->collect(), Status::ok);
    int count = 0;
    for (Node* n = list.get(); n != nullptr; n = n->next) ++count;
    EXPECT_EQ(count, 10);
    EXPECT_EQ(heap->info().objects, 10u);
    EXPECT_EQ((*list).value, 9);
    list = list->next;  // drop the head
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_EQ(heap->info().objects, 9u);
}

TEST(Cxx, RootMoveKeepsTheObjectAliveAfterTheSourceDies) {
    TestHeap heap(64 * 1024);
    Node* n = uheap::make<Node>(*heap);
    auto moved = [&] {
        uheap::Root<Node> source(*heap, n);
        return uheap::Root<Node>(std::move(source));
    }();
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_EQ(moved.get(), n);
    EXPECT_NE(heap->size_of(n), 0u);
    uheap::Root<Node> other(*heap);
    {
        uheap::Root<Node> source(*heap, uheap::make<Node>(*heap));
        other = std::move(source);
    }
    Node* kept = other.get();
    ASSERT_NE(kept, nullptr);
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_NE(heap->size_of(kept), 0u);
    EXPECT_NE(heap->size_of(n), 0u);
}

TEST(Cxx, WeakMoveIsClearedLikeTheOriginal) {
    TestHeap heap(64 * 1024);
    Node* n = uheap::make<Node>(*heap);
    uheap::Root<Node> root(*heap, n);
    auto weak = [&] {
        uheap::Weak<Node> source(*heap, n);
        return uheap::Weak<Node>(std::move(source));
    }();
    uheap::Weak<Node> assigned(*heap);
    {
        uheap::Weak<Node> source(*heap, n);
        assigned = std::move(source);
    }
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_EQ(weak.get(), n);
    EXPECT_EQ(assigned.get(), n);
    root = nullptr;
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_EQ(weak.get(), nullptr);
    EXPECT_EQ(assigned.get(), nullptr);
    EXPECT_EQ(heap->info().objects, 0u);
}

TEST(Cxx, RootsAndWeaksUnregisterInAnyOrder) {
    TestHeap heap(64 * 1024);
    auto* a = new uheap::Root<Node>(*heap, uheap::make<Node>(*heap));
    auto* b = new uheap::Root<Node>(*heap, uheap::make<Node>(*heap));
    auto* c = new uheap::Root<Node>(*heap, uheap::make<Node>(*heap));
    Node* keep = c->get();
    delete b;  // middle of the list
    delete a;  // then the tail
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_EQ(heap->info().objects, 1u);
    EXPECT_NE(heap->size_of(keep), 0u);
    delete c;
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_EQ(heap->info().objects, 0u);
}

}  // namespace
