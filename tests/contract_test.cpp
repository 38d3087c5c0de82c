// SPDX-License-Identifier: MIT
// The bad-input table of docs/design.md §7, row by row: the exact Status, and the heap unchanged
// (info() and counters() equal before and after).
#include <gtest/gtest.h>

#include <vector>

#include "test_support.hpp"

namespace {

using uheap::Heap;
using uheap::kBlockBytes;
using uheap::Status;
using uheap_test::blocks;
using uheap_test::snapshot;
using uheap_test::TestHeap;

/// A heap with a few objects, one freed, so bad pointers of every kind exist.
struct ContractHeap : ::testing::Test {
    ContractHeap() : heap(64 * 1024) {
        a = heap->alloc(blocks(3), uheap::kFinaliser);
        b = heap->alloc(blocks(1));
        freed = heap->alloc(blocks(2));
        heap->free(freed);
    }
    TestHeap heap;
    uheap_test::NoRoots no_roots{*heap};  // a collection frees everything unreachable
    void* a;
    void* b;
    void* freed;
    int not_in_heap = 0;
};

// Row: region null, too small for one block, or size overflow -> creation fails, nothing written.
TEST(ContractCreate, BadRegionsFailWithAStatusAndWriteNothing) {
    std::vector<unsigned char> buffer(512, 0x3c);
    Status status;
    EXPECT_EQ(Heap::create(nullptr, 4096, {}, &status), nullptr);
    EXPECT_EQ(status, Status::null_region);
    EXPECT_EQ(Heap::create(buffer.data(), 100, {}, &status), nullptr);
    EXPECT_EQ(status, Status::region_too_small);
    EXPECT_EQ(Heap::create(buffer.data(), SIZE_MAX - 8, {}, &status), nullptr);
    EXPECT_EQ(status, Status::size_overflow);
    for (unsigned char c : buffer) ASSERT_EQ(c, 0x3c);
}

// Row: free / realloc / size_of of a pointer not from this heap -> error status, heap unchanged.
TEST_F(ContractHeap, ForeignPointer) {
    TestHeap other(16 * 1024);
    void* elsewhere = other->alloc(blocks(1));
    std::string before = snapshot(*heap);
    for (void* p : {static_cast<void*>(&not_in_heap), elsewhere, static_cast<void*>(heap.region())}) {
        EXPECT_EQ(heap->free(p), Status::foreign_pointer);
        EXPECT_EQ(heap->realloc(p, 10), nullptr);
        EXPECT_EQ(heap->last_status(), Status::foreign_pointer);
        EXPECT_EQ(heap->realloc(p, 10, false), nullptr);
        EXPECT_EQ(heap->last_status(), Status::foreign_pointer);
        EXPECT_EQ(heap->size_of(p), 0u);
        EXPECT_FALSE(heap->contains(p));
    }
    EXPECT_EQ(snapshot(*heap), before);
    EXPECT_EQ(other->size_of(elsewhere), blocks(1));
}

// Row: ... not at an object start -> not_object_start, heap unchanged.
TEST_F(ContractHeap, NotAtAnObjectStart) {
    std::string before = snapshot(*heap);
    auto* base = static_cast<unsigned char*>(a);
    for (void* p : {static_cast<void*>(base + 1), static_cast<void*>(base + kBlockBytes),
                    static_cast<void*>(base + 2 * kBlockBytes + 5), static_cast<void*>(static_cast<char*>(b) + 8)}) {
        EXPECT_EQ(heap->free(p), Status::not_object_start);
        EXPECT_EQ(heap->realloc(p, blocks(5)), nullptr);
        EXPECT_EQ(heap->last_status(), Status::not_object_start);
        EXPECT_EQ(heap->size_of(p), 0u);
    }
    EXPECT_EQ(snapshot(*heap), before);
    EXPECT_EQ(heap->size_of(a), blocks(3));
}

// Row: ... already free (double free) -> already_free, heap unchanged.
TEST_F(ContractHeap, AlreadyFree) {
    std::string before = snapshot(*heap);
    EXPECT_EQ(heap->free(freed), Status::already_free);
    EXPECT_EQ(heap->realloc(freed, blocks(1)), nullptr);
    EXPECT_EQ(heap->last_status(), Status::already_free);
    EXPECT_EQ(heap->size_of(freed), 0u);
    // A free block inside the pool but past every object is "already free" too.
    auto* past = static_cast<unsigned char*>(b) + blocks(10);
    EXPECT_EQ(heap->free(past), Status::already_free);
    EXPECT_EQ(snapshot(*heap), before);
    EXPECT_VERIFIED(*heap);
}

// Row: alloc(0) -> null, not an error.
TEST_F(ContractHeap, AllocZero) {
    UHEAP_TEST_NEEDS(uheap::kFeatureFinalisers);
    std::string before = snapshot(*heap);
    EXPECT_EQ(heap->alloc(0), nullptr);
    EXPECT_EQ(heap->last_status(), Status::ok);
    EXPECT_EQ(heap->alloc(0, uheap::kFinaliser), nullptr);
    EXPECT_EQ(heap->last_status(), Status::ok);
    EXPECT_EQ(snapshot(*heap), before);
}

// Row: alloc of a size whose rounding would overflow, or larger than the heap -> null, no
// collection needed to decide. Only the out-of-memory counter moves.
TEST_F(ContractHeap, AllocTooLarge) {
    uheap::Info info_before = heap->info();
    uheap::Counters counters_before = heap->counters();
    for (std::size_t n : {info_before.total + 1, SIZE_MAX, SIZE_MAX - 1, SIZE_MAX / kBlockBytes * kBlockBytes + 1}) {
        EXPECT_EQ(heap->alloc(n), nullptr) << n;
        EXPECT_EQ(heap->last_status(), Status::too_large) << n;
    }
    uheap::Counters expected = counters_before;
    expected.out_of_memory += 4;
    EXPECT_EQ(uheap_test::describe(heap->counters()), uheap_test::describe(expected));
    EXPECT_EQ(uheap_test::describe(heap->info()), uheap_test::describe(info_before));
}

// Row: alloc while locked or during a finaliser -> null with "locked".
TEST_F(ContractHeap, AllocWhileLocked) {
    heap->lock();
    std::string before = snapshot(*heap);
    EXPECT_EQ(heap->alloc(blocks(1)), nullptr);
    EXPECT_EQ(heap->last_status(), Status::locked);
    EXPECT_EQ(heap->realloc(b, blocks(4)), nullptr);
    EXPECT_EQ(heap->last_status(), Status::locked);
    EXPECT_EQ(snapshot(*heap), before);
    heap->unlock();
}

TEST_F(ContractHeap, AllocDuringAFinaliser) {
    UHEAP_TEST_NEEDS(uheap::kFeatureFinalisers);
    struct Probe {
        Heap* heap;
        void* result = reinterpret_cast<void*>(1);
        Status status = Status::ok;
        std::string before, after;
        explicit Probe(Heap* h) : heap(h) {}
    } probe(heap.get());
    heap->set_finaliser(
        [](void* user, void*) {
            auto* p = static_cast<Probe*>(user);
            p->before = snapshot(*p->heap);
            p->result = p->heap->alloc(blocks(1));
            p->status = p->heap->last_status();
            p->after = snapshot(*p->heap);
        },
        &probe);
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_EQ(probe.result, nullptr);
    EXPECT_EQ(probe.status, Status::locked);
    EXPECT_EQ(probe.after, probe.before);
}

// Row: collect from inside a finaliser, or while a collection runs -> refused with a status.
TEST_F(ContractHeap, CollectWhileCollecting) {
    ASSERT_EQ(heap->collect_start(), Status::ok);
    std::string before = snapshot(*heap);
    EXPECT_EQ(heap->collect(), Status::collecting);
    EXPECT_EQ(heap->collect_start(), Status::collecting);
    EXPECT_EQ(heap->sweep_all(), Status::collecting);
    EXPECT_EQ(snapshot(*heap), before);
    ASSERT_EQ(heap->collect_end(), Status::ok);
}

TEST_F(ContractHeap, CollectFromAFinaliser) {
    UHEAP_TEST_NEEDS(uheap::kFeatureFinalisers);
    struct Probe {
        Heap* heap;
        Status collect = Status::ok;
        std::uint64_t collections = 0;
    } probe{heap.get()};
    heap->set_finaliser(
        [](void* user, void*) {
            auto* p = static_cast<Probe*>(user);
            p->collect = p->heap->collect();
            p->collections = p->heap->counters().collections;
        },
        &probe);
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_EQ(probe.collect, Status::collecting);
    EXPECT_EQ(probe.collections, 0u);  // nothing nested ran
    EXPECT_EQ(heap->counters().collections, 1u);
}

TEST_F(ContractHeap, EndOrRootWithoutStart) {
    UHEAP_TEST_NEEDS(uheap::kFeatureStackScan);
    std::string before = snapshot(*heap);
    EXPECT_EQ(heap->collect_end(), Status::not_collecting);
    void* words[1] = {a};
    heap->collect_root(words, 1);
    EXPECT_EQ(heap->last_status(), Status::not_collecting);
    heap->collect_stack();
    EXPECT_EQ(heap->last_status(), Status::not_collecting);
    EXPECT_EQ(snapshot(*heap), before);
}

// Row: mark stack of capacity 1 -> still collects correctly (slowly).
TEST(ContractMarkStack, CapacityOneCollectsCorrectly) {
    uheap::HeapConfig config;
    config.mark_stack_entries = 1;
    TestHeap heap(64 * 1024, config);
    ASSERT_NE(heap.get(), nullptr);
    uheap_test::RootArray roots(*heap, 1);
    // A binary tree of depth 7 (255 nodes) plus garbage.
    std::vector<void**> nodes;
    for (int i = 0; i < 255; ++i) {
        nodes.push_back(static_cast<void**>(heap->alloc(blocks(1))));
        heap->alloc(blocks(1));
    }
    for (int i = 0; 2 * i + 2 < 255; ++i) {
        nodes[i][0] = nodes[2 * i + 1];
        nodes[i][1] = nodes[2 * i + 2];
    }
    roots[0] = nodes[0];
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_EQ(heap->info().objects, 255u);
    for (void** n : nodes) EXPECT_EQ(heap->size_of(n), blocks(1));
    EXPECT_VERIFIED(*heap);
}

// MicroPython: an object with weak references must not be freed explicitly.
TEST_F(ContractHeap, FreeOfAWeaklyReferencedObject) {
    UHEAP_TEST_NEEDS(uheap::kFeatureWeakReferences);
    ASSERT_EQ(heap->set_weak(b), Status::ok);
    std::string before = snapshot(*heap);
    EXPECT_EQ(heap->free(b), Status::weakly_referenced);
    EXPECT_EQ(snapshot(*heap), before);
}

}  // namespace
