// SPDX-License-Identifier: MIT
// Build-time features (uheap/features.h): a feature left out is refused with a clear status and
// the heap works without it; a feature built in is accepted. Every test here runs in both the
// default build (everything in) and the minimal one (everything out: ctest -L minimal), and
// checks whichever the build is.
#include <gtest/gtest.h>

#include <cstring>

#include "heap_impl.hpp"
#include "test_support.hpp"

namespace {

using uheap::Status;
using uheap_test::RootArray;
using uheap_test::TestHeap;
namespace built = uheap::built;

/// What a refusable call answered: unsupported exactly when the feature is left out.
Status expected_for(bool feature_built) { return feature_built ? Status::ok : Status::unsupported; }

TEST(Features, LibraryAndHeadersAgree) {
    EXPECT_EQ(uheap::features(), uheap::kBuiltFeatures);
    EXPECT_EQ(uheap::kBuiltFeatures, static_cast<unsigned>(UHEAP_FEATURES_BUILT));
    EXPECT_EQ(sizeof(uheap::Counter), built::kCounters64 ? 8u : sizeof(std::size_t));
    EXPECT_STREQ(uheap::status_name(Status::unsupported), "unsupported");
}

TEST(Features, OptionsNeedingALeftOutFeatureFailCreate) {
    struct Case {
        const char* name;
        bool feature_built;
        void (*set)(uheap::HeapConfig&);
    };
    const Case cases[] = {
        {"interior_pointers", built::kInteriorPointers, [](uheap::HeapConfig& c) { c.interior_pointers = true; }},
        {"incremental", built::kIncremental, [](uheap::HeapConfig& c) { c.incremental = true; }},
        {"poison_freed", built::kPoison, [](uheap::HeapConfig& c) { c.poison_freed = true; }},
    };
    for (const Case& c : cases) {
        uheap::HeapConfig config = uheap_test::unpoisoned();
        c.set(config);
        TestHeap heap(16 * 1024, config);
        EXPECT_EQ(heap.status(), expected_for(c.feature_built)) << c.name;
        EXPECT_EQ(heap.get() != nullptr, c.feature_built) << c.name;
    }
    // A lazy sweep changes only when the work is done: asked for without it, the sweep is eager.
    uheap::HeapConfig lazy;
    lazy.lazy_sweep = true;
    TestHeap heap(16 * 1024, lazy);
    ASSERT_EQ(heap.status(), Status::ok);
}

// Without UHEAP_FEATURE_THREADS (or the stack scan it needs) no heap can be shared: refused, and
// the heap goes on single-threaded.
TEST(Features, EnablingThreadsNeedsTheFeature) {
    TestHeap heap(32 * 1024);
    ASSERT_NE(heap.get(), nullptr);
    uheap::ThreadSet set;
    set.hooks.lock = set.hooks.unlock = set.hooks.wait = set.hooks.notify_all = [](void*) {};
    set.hooks.current = [](void*) -> uheap::ThreadRecord* { return nullptr; };
    EXPECT_EQ(heap->enable_threads(&set), built::kThreads ? Status::ok : Status::unsupported);
    if (built::kThreads) return;
    EXPECT_NE(heap->alloc(16), nullptr);  // nothing refused as not_attached
}

// Setters that return nothing record the refusal as last_status() and keep nothing.
TEST(Features, SettersOfALeftOutFeatureAreRefused) {
    TestHeap heap(32 * 1024);
    ASSERT_NE(heap.get(), nullptr);
    auto finaliser = [](void*, void*) {};
    heap->set_finaliser(finaliser, nullptr);
    EXPECT_EQ(heap->last_status(), expected_for(built::kFinalisers));
    EXPECT_EQ(heap->finaliser() != nullptr, built::kFinalisers);

    heap->set_weak_callbacks([](void*, void*) {}, nullptr, nullptr);
    EXPECT_EQ(heap->last_status(), expected_for(built::kWeakReferences));

    heap->set_grow_callback([](void*, std::size_t, void**, std::size_t*) { return false; }, nullptr, nullptr);
    EXPECT_EQ(heap->last_status(), expected_for(built::kGrowth));

    uheap::EventHooks hooks;
    hooks.on_collect_start = [](void*) {};
    heap->set_event_hooks(hooks);
    EXPECT_EQ(heap->last_status(), expected_for(built::kEventHooks));
    EXPECT_EQ(heap->event_hooks().on_collect_start != nullptr, built::kEventHooks);

    heap->set_pacing(200);
    EXPECT_EQ(heap->last_status(), expected_for(built::kIncremental));

    int here = 0;
    heap->set_stack_base(&here);
    EXPECT_EQ(heap->last_status(), expected_for(built::kStackScan));
    uheap::WeakSlot slot;
    void* word = nullptr;
    slot.slot = &word;
    EXPECT_EQ(heap->add_weak_slot(&slot), expected_for(built::kWeakReferences));
    heap->remove_weak_slot(&slot);
}

TEST(Features, CollectStepIsRefusedWithoutIncrementalMarking) {
    TestHeap heap(32 * 1024);
    RootArray roots(*heap, 1);
    // Without the feature no heap can be incremental, so the answer names the build, not the config.
    EXPECT_EQ(heap->collect_step(64), built::kIncremental ? Status::invalid_argument : Status::unsupported);
}

TEST(Features, FlagsOfALeftOutFeature) {
    TestHeap heap(32 * 1024, uheap_test::unpoisoned());
    RootArray roots(*heap, 3);
    // kDestructor is refused: its destructor would never run.
    void* destructed = heap->alloc(2 * uheap::kBlockBytes, uheap::kDestructor);
    EXPECT_EQ(destructed != nullptr, built::kFinalisers);
    EXPECT_EQ(heap->last_status(), expected_for(built::kFinalisers));
    // kFinaliser and kWeak are accepted and, without their feature, have no effect (as py/gc.c
    // without MICROPY_ENABLE_FINALISER): flags_of() does not report them.
    void* finalised = heap->alloc(uheap::kBlockBytes, uheap::kFinaliser);
    void* weak = heap->alloc(uheap::kBlockBytes, uheap::kWeak);
    ASSERT_TRUE(finalised && weak);
    EXPECT_EQ(heap->flags_of(finalised), built::kFinalisers ? unsigned(uheap::kFinaliser) : 0u);
    EXPECT_EQ(heap->flags_of(weak), built::kWeakReferences ? unsigned(uheap::kWeak) : 0u);
    EXPECT_EQ(heap->set_weak(finalised), expected_for(built::kWeakReferences));
    // Unflagged, a weak object is freed like any other.
    if (!built::kWeakReferences) {
        EXPECT_EQ(heap->free(weak), Status::ok);
        EXPECT_EQ(heap->free(finalised), Status::ok);
    }
    EXPECT_VERIFIED(*heap);
}

// Without a stack scan the host reports its roots itself, as MicroPython's ports do; collect()
// then works from registered ranges (and the root callback) alone.
TEST(Features, CollectWorksFromReportedRootsAlone) {
    TestHeap heap(64 * 1024, uheap_test::unpoisoned());
    RootArray roots(*heap, 1);
    void* kept = heap->alloc(64);
    roots[0] = kept;
    for (int i = 0; i < 100; ++i) ASSERT_NE(heap->alloc(48), nullptr);
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_EQ(heap->info().objects, 1u);
    EXPECT_EQ(heap->size_of(kept), uheap::blocks_for_bytes(64) * uheap::kBlockBytes);
    // Three steps, as the MicroPython port collects.
    roots[0] = nullptr;
    ASSERT_EQ(heap->collect_start(), Status::ok);
    heap->collect_root(&kept, 1);
    ASSERT_EQ(heap->collect_end(), Status::ok);
    EXPECT_EQ(heap->info().objects, 1u);
    EXPECT_VERIFIED(*heap);
}

// Without lazy sweeping nothing is ever left to sweep once a collection returns.
TEST(Features, SweepIsEagerWithoutLazySweep) {
    TestHeap heap(64 * 1024, uheap_test::unpoisoned());
    RootArray roots(*heap, 1);
    for (int i = 0; i < 200; ++i) ASSERT_NE(heap->alloc(32), nullptr);
    ASSERT_EQ(heap->collect(), Status::ok);
    if (built::kLazySweep) {
        EXPECT_GT(heap->sweep_step(0), 0u);  // the default config sweeps lazily
    } else {
        EXPECT_EQ(heap->sweep_step(0), 0u);
    }
    EXPECT_EQ(heap->info().objects, 0u);
}

// verify() reports the invariant and the place either way; the text only when built with it.
TEST(Features, VerifyMessagesFollowTheBuild) {
    TestHeap heap(32 * 1024, uheap_test::unpoisoned());
    RootArray roots(*heap, 1);
    roots[0] = heap->alloc(32);
    ASSERT_NE(roots[0], nullptr);
    uheap::detail::Area& area = *uheap::detail::HeapImpl::of(*heap).areas.first;
    uheap::detail::set_bit(area.tables.mark, 0);  // a mark outside a collection: I3
    uheap::VerifyReport r = heap->verify();
    EXPECT_EQ(r.broken, uheap::Invariant::I3_no_marks);
    EXPECT_EQ(r.block, 0u);
    EXPECT_EQ(std::strlen(r.detail) != 0, built::kVerifyMessages) << r.detail;
    uheap::detail::clear_bit(area.tables.mark, 0);
    EXPECT_VERIFIED(*heap);
}

}  // namespace
