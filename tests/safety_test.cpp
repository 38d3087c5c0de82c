// SPDX-License-Identifier: MIT
// Issue 12: the traps a new host falls into, closed. Weak references that conservative scans
// cannot see, a collection with no root source refused, freed memory poisoned (the fill pattern,
// AddressSanitizer), and root ranges that cannot be forgotten (RootSpan, RootedVector).
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "test_support.hpp"

#if defined(__SANITIZE_ADDRESS__)
#define UHEAP_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UHEAP_TEST_ASAN 1
#endif
#endif
#ifndef UHEAP_TEST_ASAN
#define UHEAP_TEST_ASAN 0
#endif

namespace {

using uheap::kBlockBytes;
using uheap::Status;
using uheap_test::TestHeap;

struct Payload {
    Payload* next = nullptr;
    long value = 42;
};

// ---- 1. Weak references are invisible to conservative scanning -------------------------------

// Allocates in its own frame, so no copy of the pointer outlives it in a caller's frame.
__attribute__((noinline)) bool point_weak_at_new_object(uheap::Heap& heap, uheap::Weak<Payload>& weak) {
    weak = static_cast<Payload*>(heap.alloc(sizeof(Payload)));
    return static_cast<bool>(weak);
}
__attribute__((noinline)) void point_root_at_new_object(uheap::Heap& heap, uheap::Root<Payload>& root) {
    root = static_cast<Payload*>(heap.alloc(sizeof(Payload)));
}

// The handle lives in this frame, which the stack scan covers. Returns whether its object
// survived a collection. Nothing here reads the handle before the collection: reading it puts a
// strong copy of the pointer in this frame (as it should: a value read is held).
__attribute__((noinline)) bool weak_on_the_stack_survives(uheap::Heap& heap) {
    uheap::Weak<Payload> weak(heap);
    if (!point_weak_at_new_object(heap, weak)) return true;
    uheap::clear_stack(4096);  // the callee's dead frame held the pointer too
    EXPECT_EQ(heap.collect(), Status::ok);
    return weak.get() != nullptr;
}
__attribute__((noinline)) bool root_on_the_stack_survives(uheap::Heap& heap) {
    uheap::Root<Payload> root(heap);
    point_root_at_new_object(heap, root);
    uheap::clear_stack(4096);
    EXPECT_EQ(heap.collect(), Status::ok);
    return root.get() != nullptr;
}

// Issue 12 item 1: a Weak<T> on a scanned C stack held its object alive (the scan saw the pointer
// the handle held). The Root<T> beside it shows that the stack is scanned.
TEST(Safety, WeakHandleOnAScannedStackDoesNotRetain) {
    UHEAP_TEST_NEEDS(uheap::kFeatureStackScan);
    TestHeap heap(64 * 1024);
    heap->set_stack_base(uheap_test::g_stack_base);
    EXPECT_TRUE(root_on_the_stack_survives(*heap));
    EXPECT_FALSE(weak_on_the_stack_survives(*heap));
    EXPECT_VERIFIED(*heap);
}

// The same for a raw WeakSlot whose word lies in a registered root range and in a scanned object.
TEST(Safety, WeakSlotInARootRangeOrObjectDoesNotRetain) {
    UHEAP_TEST_NEEDS(uheap::kFeatureWeakReferences);
    TestHeap heap(64 * 1024);
    uheap_test::RootArray roots(*heap, 2);
    void* target = heap->alloc(64);
    void* keeper = heap->alloc(64);  // a live object holding a second weak word
    void* target2 = heap->alloc(64);
    ASSERT_TRUE(target && keeper && target2);
    roots[0] = uheap::hide_pointer(target);  // a weak word inside a root range
    roots[1] = keeper;
    static_cast<void**>(keeper)[0] = uheap::hide_pointer(target2);
    uheap::WeakSlot in_range{&roots[0]};
    uheap::WeakSlot in_object{static_cast<void**>(keeper)};
    ASSERT_EQ(heap->add_weak_slot(&in_range), Status::ok);
    ASSERT_EQ(heap->add_weak_slot(&in_object), Status::ok);
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_EQ(roots[0], nullptr);
    EXPECT_EQ(static_cast<void**>(keeper)[0], nullptr);
    EXPECT_EQ(heap->size_of(target), 0u);
    EXPECT_EQ(heap->size_of(target2), 0u);
    EXPECT_EQ(heap->size_of(keeper), 64u);
    heap->remove_weak_slot(&in_range);
    heap->remove_weak_slot(&in_object);
}

// The disguise: null stays zero, it round-trips, and a hidden pointer is never a pointer into
// its own object (so not even interior-pointer marking retains through it).
TEST(Safety, HiddenPointersRoundTripAndNameNoObject) {
    UHEAP_TEST_NEEDS(uheap::kFeatureInteriorPointers | uheap::kFeatureWeakReferences);
    uheap::HeapConfig config;
    config.interior_pointers = true;
    TestHeap heap(64 * 1024, config);
    uheap_test::RootArray roots(*heap, 1);
    void* p = heap->alloc(1000);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(uheap::hide_pointer(nullptr), nullptr);
    EXPECT_EQ(uheap::reveal_pointer(nullptr), nullptr);
    EXPECT_EQ(uheap::reveal_pointer(uheap::hide_pointer(p)), p);
    EXPECT_EQ(heap->object_start(uheap::hide_pointer(p)), nullptr);
    roots[0] = uheap::hide_pointer(p);
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_EQ(heap->size_of(p), 0u);
}

// free() released the memory, but a weak reference kept naming it, and once the blocks were
// reused it named an unrelated object (found writing docs/embedding.md). Now free(), destroy()
// and a shrink's cut clear weak references into what they release, as a collection would.
TEST(Safety, FreeClearsWeakReferencesToWhatItReleases) {
    UHEAP_TEST_NEEDS(uheap::kFeatureInteriorPointers | uheap::kFeatureWeakReferences);
    uheap::HeapConfig config;
    config.interior_pointers = true;
    TestHeap heap(64 * 1024, config);
    uheap_test::NoRoots no_roots(*heap);
    auto* p = static_cast<Payload*>(heap->alloc(sizeof(Payload)));
    uheap::Weak<Payload> weak(*heap, p);
    ASSERT_EQ(weak.get(), p);
    ASSERT_EQ(heap->free(p), Status::ok);
    EXPECT_EQ(weak.get(), nullptr);
    void* reuse = heap->alloc(sizeof(Payload));
    EXPECT_EQ(reuse, p);  // the same blocks, and the weak reference does not name them
    EXPECT_EQ(weak.get(), nullptr);
    // A raw slot naming a byte in the part a realloc() cuts off.
    auto* big = static_cast<unsigned char*>(heap->alloc(4 * kBlockBytes));
    void* word = uheap::hide_pointer(big + 3 * kBlockBytes);
    uheap::WeakSlot slot{&word};
    ASSERT_EQ(heap->add_weak_slot(&slot), Status::ok);
    ASSERT_EQ(heap->realloc(big, kBlockBytes), big);
    EXPECT_EQ(word, nullptr);
    heap->remove_weak_slot(&slot);
}

TEST(Safety, ReallocMoveCarriesWeakReferencesAlong) {
    UHEAP_TEST_NEEDS(uheap::kFeatureWeakReferences);
    TestHeap heap(64 * 1024);
    uheap_test::RootArray roots(*heap, 2);
    auto* p = static_cast<Payload*>(heap->alloc(sizeof(Payload)));
    roots[0] = p;
    roots[1] = heap->alloc(kBlockBytes);  // right after p: growth cannot be in place
    uheap::Weak<Payload> weak(*heap, p);
    auto* q = static_cast<Payload*>(heap->realloc(p, 8 * kBlockBytes));
    ASSERT_NE(q, nullptr);
    ASSERT_NE(q, p);
    roots[0] = q;
    EXPECT_EQ(weak.get(), q);
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_EQ(weak.get(), q);
}

// collect_root() and collect_stack() say how they went, not what an earlier call left.
TEST(Safety, RootReportsSetTheirStatus) {
    UHEAP_TEST_NEEDS(uheap::kFeatureStackScan);
    TestHeap heap(64 * 1024);
    heap->lock();
    EXPECT_EQ(heap->alloc(64), nullptr);  // leaves `locked`
    heap->unlock();
    ASSERT_EQ(heap->collect_start(), Status::ok);
    void* none = nullptr;
    heap->collect_root(&none, 1);
    EXPECT_EQ(heap->last_status(), Status::ok);
    heap->collect_stack();  // no stack base: nothing scanned, and said so
    EXPECT_EQ(heap->last_status(), Status::no_roots);
    heap->set_stack_base(uheap_test::g_stack_base);
    heap->collect_stack();
    EXPECT_EQ(heap->last_status(), Status::ok);
    ASSERT_EQ(heap->collect_end(), Status::ok);
}

// Leaves 16 pointers in a dead frame about 6 KB below the caller: deeper than a collection's own
// frames reach, so only clear_stack() can overwrite them.
__attribute__((noinline)) void plant_pointers_deep(uheap::Heap& heap, int depth) {
    volatile char pad[1024];
    pad[0] = 0;
    if (depth > 0) {
        plant_pointers_deep(heap, depth - 1);
        pad[sizeof pad - 1] = 1;  // (no tail call: the frames stay)
        return;
    }
    void* volatile slots[16];
    for (auto& slot : slots) slot = heap.alloc(64);
}

// Collects from frames that cover the dead ones without writing them (the padding and unwritten
// slots a host's later deep call chain has): what the dead frames left is scanned as live stack.
__attribute__((noinline)) void collect_from_deep(uheap::Heap& heap, int depth) {
    volatile char pad[1024];
    pad[0] = 0;
    if (depth > 0) {
        collect_from_deep(heap, depth - 1);
        pad[sizeof pad - 1] = 1;
        return;
    }
    EXPECT_EQ(heap.collect(), Status::ok);
}

// clear_stack() clears every word of the dead frames below its caller: the words a dead frame
// left behind retain their objects until it runs, and nothing after it.
TEST(Safety, ClearStackLetsWhatDeadFramesHeldDie) {
    UHEAP_TEST_NEEDS(uheap::kFeatureStackScan);
    TestHeap heap(64 * 1024);
    heap->set_stack_base(uheap_test::g_stack_base);
    plant_pointers_deep(*heap, 6);
    collect_from_deep(*heap, 8);
    EXPECT_GE(heap->info().objects, 8u);  // stale words: conservative scanning keeps them
    uheap::clear_stack(32 * 1024);
    collect_from_deep(*heap, 8);
    EXPECT_EQ(heap->info().objects, 0u);
}

// ---- 3. A forgotten root source is a clear status, not a heap emptied ----------------------

// Issue 12 item 3: a host that forgot set_stack_base() (and has no other root source) had every
// object freed by collect(), and the next alloc() handed out the same address.
TEST(Safety, CollectWithNoRootSourceIsRefused) {
    UHEAP_TEST_NEEDS(uheap::kFeatureStackScan);
    TestHeap heap(64 * 1024);
    void* p = heap->alloc(64);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(heap->collect(), Status::no_roots);
    EXPECT_EQ(heap->last_status(), Status::no_roots);
    EXPECT_EQ(heap->size_of(p), 64u);  // nothing collected
    EXPECT_EQ(heap->counters().collections, 0u);
    EXPECT_STREQ(uheap::status_name(Status::no_roots), "no_roots");
    // Each root source makes it a collection.
    heap->set_stack_base(uheap_test::g_stack_base);
    EXPECT_EQ(heap->collect(), Status::ok);
    heap->set_stack_base(nullptr);
    EXPECT_EQ(heap->collect(), Status::no_roots);
    heap->set_root_callback([](void*) {}, nullptr);
    EXPECT_EQ(heap->collect(), Status::ok);
    heap->set_root_callback(nullptr, nullptr);
    {
        uheap::RootSpan none(*heap);
        EXPECT_EQ(heap->collect(), Status::ok);
    }
    EXPECT_EQ(heap->collect(), Status::no_roots);
    // Freeing everything on purpose is sweep_all(); the three-step form reports its own roots.
    EXPECT_EQ(heap->collect_start(), Status::ok);
    EXPECT_EQ(heap->collect_end(), Status::ok);
    EXPECT_EQ(heap->sweep_all(), Status::ok);
    EXPECT_VERIFIED(*heap);
}

// An allocation that needs the automatic collection says why it failed.
TEST(Safety, AllocationThatNeedsARefusedCollectionSaysNoRoots) {
    UHEAP_TEST_NEEDS(uheap::kFeatureIncremental);
    for (bool incremental : {false, true}) {
        uheap::HeapConfig config;
        config.incremental = incremental;
        TestHeap heap(16 * 1024, config);
        while (heap->alloc(kBlockBytes) != nullptr) {
        }
        EXPECT_EQ(heap->last_status(), Status::no_roots);
        EXPECT_EQ(heap->counters().collections, 0u);
        if (incremental) {
            EXPECT_EQ(heap->collect_step(100), Status::no_roots);
        }
        EXPECT_FALSE(heap->is_marking());
        EXPECT_VERIFIED(*heap);
    }
}

// ---- 3. Freed blocks are poisoned --------------------------------------------------------------

uheap::HeapConfig poisoning(bool on, bool lazy = true) {
    uheap::HeapConfig config;
    config.poison_freed = on;
    config.lazy_sweep = lazy;
    return config;
}

bool all_bytes(const void* p, std::size_t n, unsigned char value) {
    const auto* bytes = static_cast<const unsigned char*>(p);
    for (std::size_t i = 0; i < n; ++i) {
        if (bytes[i] != value) return false;
    }
    return true;
}

TEST(Safety, PoisoningIsOnByDefaultInDebugBuilds) {
    UHEAP_TEST_NEEDS(uheap::kFeatureEventHooks);
#ifdef NDEBUG
    EXPECT_FALSE(uheap::HeapConfig{}.poison_freed);
#else
    EXPECT_TRUE(uheap::HeapConfig{}.poison_freed);
#endif
}

#if !UHEAP_TEST_ASAN
// Without a sanitizer, the fill pattern is what a use after free reads: a freed object, one a
// collection found dead (lazily or eagerly swept), and a realloc()'s cut tail. Allocation hands
// zeroed memory back. (Under ASan these reads are the bug it reports: see the death test.)
TEST(Safety, FreedBlocksReadThePoisonPattern) {
    UHEAP_TEST_NEEDS(uheap::kFeaturePoison);
    for (bool lazy : {true, false}) {
        TestHeap heap(64 * 1024, poisoning(true, lazy));
        uheap_test::RootArray roots(*heap, 2);
        auto* freed = static_cast<unsigned char*>(heap->alloc(100));
        auto* dead = static_cast<unsigned char*>(heap->alloc(100));
        auto* shrunk = static_cast<unsigned char*>(heap->alloc(4 * kBlockBytes));
        ASSERT_TRUE(freed && dead && shrunk);
        roots[0] = shrunk;
        std::memset(freed, 0x11, 100);
        std::memset(dead, 0x22, 100);
        ASSERT_EQ(heap->free(freed), Status::ok);
        EXPECT_TRUE(all_bytes(freed, heap->size_of(dead), 0xdb));
        ASSERT_EQ(heap->collect(), Status::ok);
        EXPECT_TRUE(all_bytes(dead, 4 * kBlockBytes, 0xdb));
        ASSERT_EQ(heap->realloc(shrunk, kBlockBytes), shrunk);
        EXPECT_TRUE(all_bytes(shrunk + kBlockBytes, 3 * kBlockBytes, 0xdb));
        void* again = heap->alloc(100);
        EXPECT_TRUE(all_bytes(again, heap->size_of(again), 0));
        EXPECT_VERIFIED(*heap);
    }
}

// Off: nothing is written into freed blocks (MicroPython's behaviour, and release builds').
TEST(Safety, WithoutPoisoningFreedBlocksKeepTheirBytes) {
    TestHeap heap(64 * 1024, poisoning(false));
    auto* p = static_cast<unsigned char*>(heap->alloc(100));
    std::memset(p, 0x5a, 100);
    ASSERT_EQ(heap->free(p), Status::ok);
    EXPECT_TRUE(all_bytes(p, 100, 0x5a));
}
#endif

// A forgotten root, the example: the object held only in a local the collector was not
// told about is freed, and the host's next read of it is reported at the faulting line.
__attribute__((noinline)) long use_after_forgotten_root() {
    static unsigned char region[64 * 1024];
    uheap::HeapConfig config;
    config.poison_freed = true;
    uheap::Heap* heap = uheap::Heap::create(region, sizeof region, config);
    uheap::RootSpan only_globals(*heap);  // the host registered its globals, not its stack
    auto* local = static_cast<Payload*>(heap->alloc(sizeof(Payload)));
    local->value = 7;
    heap->collect();
    return local->value;  // the heap freed it: a use after free
}

#if UHEAP_TEST_ASAN
TEST(SafetyDeathTest, AddressSanitizerReportsAUseOfAnObjectTheCollectorFreed) {
    UHEAP_TEST_NEEDS(uheap::kFeaturePoison);
    EXPECT_DEATH(use_after_forgotten_root(), "use-after-poison");
}
#else
TEST(Safety, AForgottenRootReadsThePoisonNotTheValue) {
    UHEAP_TEST_NEEDS(uheap::kFeaturePoison);
    long value = use_after_forgotten_root();
    long poison;
    std::memset(&poison, 0xdb, sizeof poison);
    EXPECT_EQ(value, poison);
}
#endif

// retire() hands the regions back unpoisoned: the host may write anywhere in them again.
TEST(Safety, RetireMakesTheRegionTheHostsAgain) {
    UHEAP_TEST_NEEDS(uheap::kFeaturePoison);
    std::vector<unsigned char> region(32 * 1024);
    std::vector<unsigned char> second(16 * 1024);
    uheap::Heap* heap = uheap::Heap::create(region.data(), region.size(), poisoning(true));
    ASSERT_NE(heap, nullptr);
    ASSERT_EQ(heap->add_area(second.data(), second.size()), Status::ok);
    EXPECT_EQ(heap->retire(), Status::ok);
    std::memset(region.data(), 1, region.size());  // under ASan: no report after retire()
    std::memset(second.data(), 2, second.size());
    // And a new heap over the same memory works (create() undoes old poisoning itself too).
    uheap::Heap* again = uheap::Heap::create(region.data(), region.size(), poisoning(true));
    ASSERT_NE(again, nullptr);
    EXPECT_NE(again->alloc(100), nullptr);
    EXPECT_EQ(again->retire(), Status::ok);
}

// ---- 4. Root ranges that cannot be forgotten ---------------------------------------------------

TEST(Safety, RootSpanRootsItsWordsUntilItIsDestroyed) {
    TestHeap heap(64 * 1024);
    uheap_test::NoRoots no_roots(*heap);
    std::uintptr_t vm_stack[8] = {};  // a tagged VM's values: pointer-sized words
    void* a = heap->alloc(64);
    void* b = heap->alloc(64);
    vm_stack[0] = reinterpret_cast<std::uintptr_t>(a);
    vm_stack[5] = reinterpret_cast<std::uintptr_t>(b);
    {
        uheap::RootSpan span(*heap, vm_stack, 2);  // the stack's live part: a only
        ASSERT_EQ(heap->collect(), Status::ok);
        EXPECT_EQ(heap->size_of(a), 64u);
        EXPECT_EQ(heap->size_of(b), 0u);
        span.reset(vm_stack + 1, 0);
        ASSERT_EQ(heap->collect(), Status::ok);
        EXPECT_EQ(heap->size_of(a), 0u);
        void* c = heap->alloc(64);
        vm_stack[1] = reinterpret_cast<std::uintptr_t>(c);
        span.reset(vm_stack, 8);
        uheap::RootSpan moved(std::move(span));
        ASSERT_EQ(heap->collect(), Status::ok);
        EXPECT_EQ(heap->size_of(c), 64u);
        EXPECT_EQ(moved.size(), 8u);
    }
    // Both unregistered: the array may go, and the next collection frees what it held.
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_EQ(heap->info().objects, 0u);
}

TEST(Safety, RootedVectorKeepsEveryElementAliveAsItGrows) {
    TestHeap heap(256 * 1024);
    uheap_test::NoRoots no_roots(*heap);
    uheap::RootedVector<Payload*> values(*heap);
    for (int i = 0; i < 1000; ++i) {  // the vector's storage moves many times
        auto* p = static_cast<Payload*>(heap->alloc(sizeof(Payload)));
        ASSERT_NE(p, nullptr);
        p->value = i;
        values.push_back(p);
        if (i % 100 == 0) {
            ASSERT_EQ(heap->collect(), Status::ok);
        }
    }
    ASSERT_EQ(heap->collect(), Status::ok);
    for (int i = 0; i < 1000; ++i) {
        ASSERT_EQ(heap->size_of(values[i]), kBlockBytes);
        ASSERT_EQ(values[i]->value, i);
    }
    uheap::RootedVector<Payload*> taken(std::move(values));
    values.push_back(nullptr);  // the moved-from vector is usable and no longer names taken's storage
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_EQ(heap->info().objects, 1000u);
    taken.resize(10);
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_EQ(heap->info().objects, 10u);
    taken.clear();
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_EQ(heap->info().objects, 0u);
    EXPECT_VERIFIED(*heap);
}

}  // namespace
