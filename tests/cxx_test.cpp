// SPDX-License-Identifier: MIT
// The C++ conveniences (include/uheap/cxx.hpp): OwnedHeap, make / make_with_flags, Root and Weak
// handles including their moves.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

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
    UHEAP_TEST_NEEDS(uheap::kFeatureFinalisers);
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
    UHEAP_TEST_NEEDS(uheap::kFeatureFinalisers);
    TestHeap heap(64 * 1024);
    Tracked::constructed = Tracked::destroyed = 0;
    Tracked* t = uheap::make<Tracked>(*heap, 3, 2.5);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->a, 3);
    EXPECT_EQ(t->b, 2.5);
    EXPECT_EQ(Tracked::constructed, 1);
    EXPECT_TRUE(uheap_test::block_aligned(t));
    EXPECT_EQ(heap->flags_of(t), unsigned(uheap::kDestructor));
    EXPECT_GE(heap->size_of(t), sizeof(Tracked) + sizeof(void*));  // room for the destroy thunk
    EXPECT_GE(heap->size_of(t), 2 * kBlockBytes);                  // the flag is on the first tail
    EXPECT_EQ(heap->finaliser(), nullptr);                         // the heap's callback is the host's
    uheap_test::RootArray none(*heap, 1);
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_EQ(Tracked::destroyed, 1);
    ASSERT_EQ(heap->collect(), Status::ok);
    ASSERT_EQ(heap->sweep_all(), Status::ok);
    EXPECT_EQ(Tracked::destroyed, 1);
}

TEST(Cxx, SweepAllDestroysEveryMadeObject) {
    UHEAP_TEST_NEEDS(uheap::kFeatureFinalisers);
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
    UHEAP_TEST_NEEDS(uheap::kFeatureFinalisers);
    TestHeap heap(64 * 1024);
    Plain* p = uheap::make<Plain>(*heap);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(heap->flags_of(p), 0u);
    EXPECT_EQ(heap->finaliser(), nullptr);
    EXPECT_EQ(heap->size_of(p), (sizeof(Plain) + kBlockBytes - 1) / kBlockBytes * kBlockBytes);
    Plain* q = uheap::make_with_flags<Plain>(*heap, uheap::kNoScan);
    EXPECT_EQ(heap->flags_of(q) & uheap::kNoScan, sizeof(Plain) > kBlockBytes ? unsigned(uheap::kNoScan) : 0u);
}

// Issue 12 item 2: a host finaliser (every interpreter has one) and make<T> in one heap. Each
// dead object is finalised its own way: the host's objects by the host's callback, make<T>'s by
// ~T(); the host never receives a T, whichever was set first.
TEST(Cxx, MadeObjectsAndAHostFinaliserLiveSideBySide) {
    UHEAP_TEST_NEEDS(uheap::kFeatureFinalisers);
    for (bool host_first : {true, false}) {
        TestHeap heap(64 * 1024);
        uheap_test::RootArray roots(*heap, 1);
        struct Host {
            std::vector<void*> finalised;
        } host;
        auto install = [&] {
            heap->set_finaliser([](void* user, void* object) { static_cast<Host*>(user)->finalised.push_back(object); }, &host);
        };
        Tracked::destroyed = 0;
        if (host_first) install();
        void* own = heap->alloc(48, uheap::kFinaliser);
        Tracked* made = uheap::make<Tracked>(*heap, 1, 1.0);
        void* own2 = heap->alloc(16, uheap::kFinaliser);
        ASSERT_TRUE(own && made && own2);
        if (!host_first) install();
        EXPECT_EQ(heap->flags_of(own), unsigned(uheap::kFinaliser));
        EXPECT_EQ(heap->flags_of(made), unsigned(uheap::kDestructor));
        ASSERT_EQ(heap->collect(), Status::ok);
        EXPECT_EQ(Tracked::destroyed, 1);
        EXPECT_EQ(host.finalised, (std::vector<void*>{own, own2}));
        EXPECT_EQ(heap->counters().finalisers_run, 3u);
        EXPECT_VERIFIED(*heap);
    }
}

// A make<T> object's destructor runs once, whichever way it goes: destroy() now, or a collection.
TEST(Cxx, DestroyRunsTheDestructorOnceAndFrees) {
    UHEAP_TEST_NEEDS(uheap::kFeatureFinalisers);
    TestHeap heap(64 * 1024);
    uheap_test::RootArray roots(*heap, 1);
    Tracked::destroyed = 0;
    Tracked* t = uheap::make<Tracked>(*heap, 1, 1.0);
    roots[0] = t;
    EXPECT_EQ(uheap::destroy(*heap, t), Status::ok);
    EXPECT_EQ(Tracked::destroyed, 1);
    EXPECT_EQ(heap->size_of(t), 0u);
    roots[0] = nullptr;
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_EQ(Tracked::destroyed, 1);
    EXPECT_EQ(uheap::destroy<Tracked>(*heap, nullptr), Status::ok);
    Plain* p = uheap::make<Plain>(*heap);
    EXPECT_EQ(uheap::destroy(*heap, p), Status::ok);  // nothing to run, freed all the same
    EXPECT_EQ(heap->size_of(p), 0u);
    // Refused by free() (locked): destroyed now, and never again by a collection.
    Tracked* u = uheap::make<Tracked>(*heap, 2, 2.0);
    heap->lock();
    EXPECT_EQ(uheap::destroy(*heap, u), Status::locked);
    heap->unlock();
    EXPECT_EQ(Tracked::destroyed, 2);
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_EQ(Tracked::destroyed, 2);
    EXPECT_VERIFIED(*heap);
}

// realloc() would lose the destructor word at the object's end: refused, object intact.
TEST(Cxx, ReallocOfAMadeObjectIsRefused) {
    UHEAP_TEST_NEEDS(uheap::kFeatureFinalisers);
    TestHeap heap(64 * 1024);
    uheap_test::RootArray roots(*heap, 1);
    Tracked::destroyed = 0;
    Tracked* t = uheap::make<Tracked>(*heap, 7, 1.0);
    roots[0] = t;
    std::size_t size = heap->size_of(t);
    EXPECT_EQ(heap->realloc(t, size * 4), nullptr);
    EXPECT_EQ(heap->last_status(), Status::invalid_argument);
    EXPECT_EQ(heap->realloc(t, kBlockBytes), nullptr);
    EXPECT_EQ(heap->last_status(), Status::invalid_argument);
    EXPECT_EQ(heap->realloc(t, size), t);  // the same length is no change
    EXPECT_EQ(heap->size_of(t), size);
    EXPECT_EQ(t->a, 7);
    roots[0] = nullptr;
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_EQ(Tracked::destroyed, 1);
}

// A kDestructor object of one block's request still gets two (its flag is on the first tail),
// and one whose word was never written runs nothing.
TEST(Cxx, DestructorFlagOnARawAllocation) {
    UHEAP_TEST_NEEDS(uheap::kFeatureFinalisers);
    for (bool lazy : {true, false}) {
        uheap::HeapConfig config;
        config.lazy_sweep = lazy;
        TestHeap heap(64 * 1024, config);
        uheap_test::RootArray roots(*heap, 2);
        void* small = heap->alloc(8, uheap::kDestructor);
        void* unwritten = heap->alloc(100, uheap::kDestructor);
        ASSERT_TRUE(small && unwritten);
        EXPECT_EQ(heap->size_of(small), 2 * kBlockBytes);
        static int runs = 0;
        runs = 0;
        reinterpret_cast<uheap::DestructorFn*>(static_cast<char*>(small) + 2 * kBlockBytes)[-1] = [](void*) { ++runs; };
        roots[0] = small;
        ASSERT_EQ(heap->collect(), Status::ok);
        EXPECT_EQ(runs, 0);
        EXPECT_EQ(heap->flags_of(small), unsigned(uheap::kDestructor));
        EXPECT_VERIFIED(*heap);
        roots[0] = nullptr;
        ASSERT_EQ(heap->collect(), Status::ok);
        EXPECT_EQ(runs, 1);
        EXPECT_EQ(heap->size_of(small), 0u);
        EXPECT_VERIFIED(*heap);
        // Its blocks, reused by a plain object, carry no destructor.
        void* reuse = heap->alloc(2 * kBlockBytes);
        EXPECT_EQ(heap->flags_of(reuse), 0u);
        EXPECT_VERIFIED(*heap);
    }
}

TEST(Cxx, MakeReturnsNullWhenTheHeapCannotAllocate) {
    UHEAP_TEST_NEEDS(uheap::kFeatureFinalisers);
    TestHeap heap(64 * 1024);
    heap->lock();
    EXPECT_EQ(uheap::make<Tracked>(*heap, 1, 1.0), nullptr);
    EXPECT_EQ(heap->last_status(), Status::locked);
    heap->unlock();
}

TEST(Cxx, RootKeepsAGraphAliveAndCanBeReassigned) {
    UHEAP_TEST_NEEDS(uheap::kFeatureFinalisers);
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
    UHEAP_TEST_NEEDS(uheap::kFeatureFinalisers);
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
    UHEAP_TEST_NEEDS(uheap::kFeatureFinalisers | uheap::kFeatureWeakReferences);
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
    UHEAP_TEST_NEEDS(uheap::kFeatureFinalisers);
    TestHeap heap(64 * 1024);
    uheap_test::NoRoots no_roots(*heap);
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
