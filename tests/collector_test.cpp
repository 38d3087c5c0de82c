// SPDX-License-Identifier: MIT
// The collector (src/collector.cpp, src/stack_scan.cpp): reachability from roots, no-scan,
// interior pointers, finalisers, weak references, C++ handles, the bounded mark stack, sweep_all,
// the three-step form, several areas, and growing / releasing areas.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "test_support.hpp"

namespace {

using uheap::kBlockBytes;
using uheap::Status;
using uheap_test::blocks;
using uheap_test::RootArray;
using uheap_test::TestHeap;

constexpr std::size_t kRegion = 256 * 1024;

/// Records every callback the collector makes, in order.
struct Recorder {
    enum Kind { finaliser, weak_freed, weak_sweep };
    struct Event {
        Kind kind;
        void* object;
        bool still_allocated;  // size_of(object) != 0 when the callback ran
        bool collecting;
    };
    uheap::Heap* heap = nullptr;
    std::vector<Event> events;
    void install(uheap::Heap& h) {
        heap = &h;
        h.set_finaliser(&Recorder::on_finalise, this);
        h.set_weak_callbacks(&Recorder::on_weak_freed, &Recorder::on_weak_sweep, this);
    }
    std::vector<void*> of(Kind k) const {
        std::vector<void*> out;
        for (const Event& e : events) {
            if (e.kind == k) out.push_back(e.object);
        }
        return out;
    }
    static void on_finalise(void* user, void* object) {
        auto* r = static_cast<Recorder*>(user);
        r->events.push_back({finaliser, object, r->heap->size_of(object) != 0, r->heap->is_collecting()});
    }
    static void on_weak_freed(void* user, void* object) {
        auto* r = static_cast<Recorder*>(user);
        r->events.push_back({weak_freed, object, r->heap->size_of(object) != 0, r->heap->is_collecting()});
    }
    static void on_weak_sweep(void* user) {
        auto* r = static_cast<Recorder*>(user);
        r->events.push_back({weak_sweep, nullptr, false, r->heap->is_collecting()});
    }
};

TEST(Collector, UnreachableObjectsAndCyclesAreFreed) {
    TestHeap heap(kRegion);
    RootArray roots(*heap, 1);
    // A rooted cycle of three and an unreachable cycle of three.
    void** a = static_cast<void**>(heap->alloc(blocks(1)));
    void** b = static_cast<void**>(heap->alloc(blocks(2)));
    void** c = static_cast<void**>(heap->alloc(blocks(1)));
    a[0] = b;
    b[uheap::kBlockWords] = c;
    c[0] = a;
    roots[0] = a;
    void** x = static_cast<void**>(heap->alloc(blocks(1)));
    void** y = static_cast<void**>(heap->alloc(blocks(3)));
    void** z = static_cast<void**>(heap->alloc(blocks(1)));
    x[0] = y;
    y[3 * uheap::kBlockWords - 1] = z;  // last word of a multi-block object is scanned too
    z[uheap::kBlockWords - 1] = x;
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_EQ(heap->counters().last_collect_freed, 3u);
    EXPECT_EQ(heap->size_of(a), blocks(1));
    EXPECT_EQ(heap->size_of(b), blocks(2));
    EXPECT_EQ(heap->size_of(c), blocks(1));
    EXPECT_EQ(heap->size_of(x), 0u);
    EXPECT_EQ(heap->size_of(y), 0u);
    EXPECT_EQ(heap->size_of(z), 0u);
    EXPECT_EQ(heap->info().objects, 3u);
    EXPECT_VERIFIED(*heap);  // I3: no marks left after the collection
    roots[0] = nullptr;
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_EQ(heap->info().objects, 0u);
    EXPECT_EQ(heap->info().used, 0u);
    EXPECT_VERIFIED(*heap);
}

TEST(Collector, ObjectReachableOnlyThroughNoScanObjectIsFreed) {
    TestHeap heap(kRegion);
    RootArray roots(*heap, 2);
    void** buffer = static_cast<void**>(heap->alloc(blocks(2), uheap::kNoScan));
    void** scanned = static_cast<void**>(heap->alloc(blocks(2)));
    void* hidden = heap->alloc(blocks(1));
    void* visible = heap->alloc(blocks(1));
    buffer[0] = hidden;
    scanned[0] = visible;
    roots[0] = buffer;
    roots[1] = scanned;
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_EQ(heap->size_of(buffer), blocks(2));  // marked itself
    EXPECT_EQ(heap->size_of(hidden), 0u);          // contents never read
    EXPECT_EQ(heap->size_of(visible), blocks(1));
    EXPECT_VERIFIED(*heap);
}

TEST(Collector, OneBlockNoScanObjectIsScannedAsDocumented) {
    TestHeap heap(kRegion);
    RootArray roots(*heap, 1);
    void** small = static_cast<void**>(heap->alloc(blocks(1), uheap::kNoScan));
    EXPECT_EQ(heap->flags_of(small) & uheap::kNoScan, 0u);  // the flag cannot be kept on one block
    void* child = heap->alloc(blocks(1));
    small[0] = child;
    roots[0] = small;
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_EQ(heap->size_of(child), blocks(1));  // so its words still retain
}

__attribute__((noinline)) void* make_garbage_free_frame(uheap::Heap& heap) {
    void* volatile p = heap.alloc(blocks(2));
    return p;
}

/// Collects while `local` lives only in this frame (and the caller's volatile).
__attribute__((noinline)) void collect_with_local(uheap::Heap& heap, void* const volatile* local) {
    (void)local;
    ASSERT_EQ(heap.collect(), Status::ok);
}

TEST(Collector, LocalVariableKeepsObjectAliveThroughStackScan) {
    UHEAP_TEST_NEEDS(uheap::kFeatureStackScan);
    TestHeap heap(kRegion);
    heap->set_stack_base(uheap_test::g_stack_base);
    void* volatile local = make_garbage_free_frame(*heap);
    ASSERT_NE(local, nullptr);
    std::memset(local, 0x5a, blocks(2));
    collect_with_local(*heap, &local);
    EXPECT_EQ(heap->size_of(local), blocks(2));
    EXPECT_EQ(static_cast<unsigned char*>(local)[blocks(2) - 1], 0x5a);
    // The three-step form with collect_stack().
    ASSERT_EQ(heap->collect_start(), Status::ok);
    heap->collect_stack();
    ASSERT_EQ(heap->collect_end(), Status::ok);
    EXPECT_EQ(heap->size_of(local), blocks(2));
    EXPECT_VERIFIED(*heap);
}

TEST(Collector, WithoutStackBaseTheStackIsNotARoot) {
    TestHeap heap(kRegion);
    uheap_test::NoRoots no_roots(*heap);
    void* volatile local = heap->alloc(blocks(2));
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_EQ(heap->size_of(local), 0u);
}

TEST(Collector, InteriorPointersDoNotRetainByDefault) {
    TestHeap heap(kRegion);
    RootArray roots(*heap, 2);
    auto* a = static_cast<unsigned char*>(heap->alloc(blocks(3)));
    auto* b = static_cast<unsigned char*>(heap->alloc(blocks(1)));
    roots[0] = a + kBlockBytes;  // a tail block
    roots[1] = b + 8;            // inside the head block
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_EQ(heap->size_of(a), 0u);
    EXPECT_EQ(heap->size_of(b), 0u);
}

TEST(Collector, InteriorPointersRetainWithTheOption) {
    UHEAP_TEST_NEEDS(uheap::kFeatureInteriorPointers);
    uheap::HeapConfig config;
    config.interior_pointers = true;
    TestHeap heap(kRegion, config);
    RootArray roots(*heap, 3);
    auto* a = static_cast<unsigned char*>(heap->alloc(blocks(3)));
    auto* b = static_cast<unsigned char*>(heap->alloc(blocks(1)));
    auto* c = static_cast<unsigned char*>(heap->alloc(blocks(2)));
    void** d = static_cast<void**>(heap->alloc(blocks(1)));
    auto* e = static_cast<unsigned char*>(heap->alloc(blocks(2)));
    roots[0] = a + 2 * kBlockBytes + 3;  // last tail, odd byte
    roots[1] = b + 8;
    roots[2] = d;
    d[0] = e + kBlockBytes + 1;  // interior pointers inside objects retain too
    (void)c;
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_EQ(heap->size_of(a), blocks(3));
    EXPECT_EQ(heap->size_of(b), blocks(1));
    EXPECT_EQ(heap->size_of(c), 0u);
    EXPECT_EQ(heap->size_of(e), blocks(2));
    EXPECT_VERIFIED(*heap);
}

TEST(Collector, FinalisersRunExactlyOnceInAddressOrderBeforeAnythingIsFreed) {
    UHEAP_TEST_NEEDS(uheap::kFeatureFinalisers);
    TestHeap heap(kRegion);
    Recorder rec;
    rec.install(*heap);
    RootArray roots(*heap, 1);
    std::vector<void*> dead;
    std::mt19937 rng(3);
    void* survivor = nullptr;
    for (int i = 0; i < 40; ++i) {
        void* p = heap->alloc(blocks(1 + rng() % 3), i % 3 == 0 ? 0u : unsigned(uheap::kFinaliser));
        if (i == 7) {
            survivor = p;
        } else if (i % 3 != 0) {
            dead.push_back(p);
        }
    }
    // Free a few first so address order is not allocation order.
    heap->free(dead[0]);
    heap->free(dead[5]);
    dead.erase(dead.begin() + 5);
    dead.erase(dead.begin());
    void* refill = heap->alloc(blocks(1), uheap::kFinaliser);
    dead.push_back(refill);
    roots[0] = survivor;
    ASSERT_EQ(heap->collect(), Status::ok);
    std::sort(dead.begin(), dead.end());
    EXPECT_EQ(rec.of(Recorder::finaliser), dead);
    for (const auto& e : rec.events) {
        if (e.kind != Recorder::finaliser) continue;
        EXPECT_TRUE(e.still_allocated);  // nothing freed before every finaliser ran
        EXPECT_TRUE(e.collecting);
    }
    EXPECT_EQ(heap->counters().finalisers_run, dead.size());
    rec.events.clear();
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_TRUE(rec.of(Recorder::finaliser).empty());  // once, never again
    roots[0] = nullptr;
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_EQ(rec.of(Recorder::finaliser), std::vector<void*>{survivor});
    EXPECT_VERIFIED(*heap);
}

struct FinaliserProbe {
    uheap::Heap* heap = nullptr;
    void* to_free = nullptr;
    Status free_status = Status::corrupted;
    void* alloc_result = reinterpret_cast<void*>(1);
    Status alloc_status = Status::ok;
    Status collect_status = Status::ok;
    Status sweep_all_status = Status::ok;
    Status start_status = Status::ok;
    Status add_area_status = Status::ok;
    bool locked = false;
    int calls = 0;
};

void probe_finaliser(void* user, void* object) {
    auto* p = static_cast<FinaliserProbe*>(user);
    ++p->calls;
    p->locked = p->heap->is_locked();
    (void)object;
    if (p->to_free != nullptr) p->free_status = p->heap->free(p->to_free);
    p->alloc_result = p->heap->alloc(blocks(1));
    p->alloc_status = p->heap->last_status();
    p->collect_status = p->heap->collect();
    p->sweep_all_status = p->heap->sweep_all();
    p->start_status = p->heap->collect_start();
    static unsigned char spare[4096];
    p->add_area_status = p->heap->add_area(spare, sizeof spare);
}

TEST(Collector, FinaliserMayFreeButNotAllocateOrCollect) {
    UHEAP_TEST_NEEDS(uheap::kFeatureFinalisers);
    TestHeap heap(kRegion);
    RootArray roots(*heap, 1);
    FinaliserProbe probe;
    probe.heap = heap.get();
    heap->set_finaliser(&probe_finaliser, &probe);
    void* victim = heap->alloc(blocks(2));
    roots[0] = victim;  // live, but the finaliser frees it anyway
    probe.to_free = victim;
    heap->alloc(blocks(1), uheap::kFinaliser);
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_EQ(probe.calls, 1);
    EXPECT_TRUE(probe.locked);
    EXPECT_EQ(probe.free_status, Status::ok);
    EXPECT_EQ(probe.alloc_result, nullptr);
    EXPECT_EQ(probe.alloc_status, Status::locked);
    EXPECT_EQ(probe.collect_status, Status::collecting);
    EXPECT_EQ(probe.sweep_all_status, Status::collecting);
    EXPECT_EQ(probe.start_status, Status::collecting);
    EXPECT_EQ(probe.add_area_status, Status::collecting);
    EXPECT_EQ(heap->size_of(victim), 0u);
    EXPECT_EQ(heap->info().objects, 0u);
    EXPECT_FALSE(heap->is_collecting());
    EXPECT_VERIFIED(*heap);
    // The heap works normally afterwards.
    EXPECT_NE(heap->alloc(blocks(3)), nullptr);
}

TEST(Collector, FinaliserMayFreeItsOwnObjectAndOtherDeadOnes) {
    UHEAP_TEST_NEEDS(uheap::kFeatureFinalisers);
    TestHeap heap(kRegion);
    uheap_test::NoRoots no_roots(*heap);
    FinaliserProbe probe;
    probe.heap = heap.get();
    heap->set_finaliser(&probe_finaliser, &probe);
    void* self = heap->alloc(blocks(2), uheap::kFinaliser);
    probe.to_free = self;
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_EQ(probe.calls, 1);
    EXPECT_EQ(probe.free_status, Status::ok);
    EXPECT_EQ(heap->info().objects, 0u);
    EXPECT_VERIFIED(*heap);
    // A finaliser that frees a later dead finaliser object: that one's finaliser never runs.
    void* first = heap->alloc(blocks(1), uheap::kFinaliser);
    void* second = heap->alloc(blocks(1), uheap::kFinaliser);
    ASSERT_LT(first, second);
    probe = FinaliserProbe{};
    probe.heap = heap.get();
    probe.to_free = second;
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_EQ(probe.calls, 1);
    EXPECT_EQ(heap->info().objects, 0u);
    EXPECT_VERIFIED(*heap);
}

TEST(Collector, WeakFreedReportsEachDeadWeakObjectOnceAfterItsFinaliserBeforeSweep) {
    UHEAP_TEST_NEEDS(uheap::kFeatureFinalisers | uheap::kFeatureWeakReferences);
    TestHeap heap(kRegion);
    Recorder rec;
    rec.install(*heap);
    RootArray roots(*heap, 1);
    void* w1 = heap->alloc(blocks(1), uheap::kWeak);
    void* f1 = heap->alloc(blocks(1), uheap::kFinaliser);
    void* w2 = heap->alloc(blocks(2));
    ASSERT_EQ(heap->set_weak(w2), Status::ok);
    void* wf = heap->alloc(blocks(1), uheap::kWeak | uheap::kFinaliser);
    void* live_weak = heap->alloc(blocks(1), uheap::kWeak);
    void* f2 = heap->alloc(blocks(1), uheap::kFinaliser);
    roots[0] = live_weak;
    ASSERT_EQ(heap->collect(), Status::ok);
    std::vector<void*> expected_weak{w1, w2, wf};
    std::sort(expected_weak.begin(), expected_weak.end());
    std::vector<void*> expected_fin{f1, wf, f2};
    std::sort(expected_fin.begin(), expected_fin.end());
    EXPECT_EQ(rec.of(Recorder::weak_freed), expected_weak);
    EXPECT_EQ(rec.of(Recorder::finaliser), expected_fin);
    // Order: an object's finaliser before its weak notification (MicroPython interleaves the
    // two passes a few blocks at a time, so only this per-object order is promised); all of
    // them before the sweep; then weak_sweep once, after the collection.
    ASSERT_EQ(rec.events.size(), 7u);
    std::size_t wf_finalised = 7, wf_notified = 7;
    for (std::size_t i = 0; i < 6; ++i) {
        EXPECT_NE(rec.events[i].kind, Recorder::weak_sweep) << i;
        EXPECT_TRUE(rec.events[i].still_allocated) << "callbacks run before the sweep";
        EXPECT_TRUE(rec.events[i].collecting);
        if (rec.events[i].object == wf) (rec.events[i].kind == Recorder::finaliser ? wf_finalised : wf_notified) = i;
    }
    EXPECT_LT(wf_finalised, wf_notified);
    EXPECT_EQ(rec.events[6].kind, Recorder::weak_sweep);
    EXPECT_FALSE(rec.events[6].collecting);  // after the collecting flag is cleared
    EXPECT_EQ(heap->counters().weak_notified, 3u);
    EXPECT_EQ(heap->size_of(live_weak), blocks(1));
    EXPECT_EQ(heap->flags_of(live_weak), unsigned(uheap::kWeak));
    rec.events.clear();
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_TRUE(rec.of(Recorder::weak_freed).empty());  // once only
    EXPECT_VERIFIED(*heap);
}

struct SweepAllocator {
    uheap::Heap* heap;
    void* allocated = nullptr;
    Status status = Status::corrupted;
};

TEST(Collector, AfterSweepWeakCallbackMayAllocate) {
    UHEAP_TEST_NEEDS(uheap::kFeatureWeakReferences);
    TestHeap heap(kRegion);
    uheap_test::NoRoots no_roots(*heap);
    SweepAllocator s{heap.get()};
    heap->set_weak_callbacks(
        nullptr,
        [](void* user) {
            auto* self = static_cast<SweepAllocator*>(user);
            self->allocated = self->heap->alloc(blocks(2));
            self->status = self->heap->last_status();
        },
        &s);
    heap->alloc(blocks(1), uheap::kWeak);
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_NE(s.allocated, nullptr);
    EXPECT_EQ(s.status, Status::ok);
    EXPECT_EQ(heap->size_of(s.allocated), blocks(2));
    EXPECT_VERIFIED(*heap);
}

TEST(Collector, WeakSlotsClearWhenTheTargetDies) {
    UHEAP_TEST_NEEDS(uheap::kFeatureWeakReferences);
    TestHeap heap(kRegion);
    RootArray roots(*heap, 1);
    void* target = heap->alloc(blocks(2));
    void* other = heap->alloc(blocks(1));
    void* slot_target = uheap::hide_pointer(target);
    void* slot_other = uheap::hide_pointer(other);
    void* slot_foreign = uheap::hide_pointer(&roots);
    uheap::WeakSlot s1{&slot_target};
    uheap::WeakSlot s2{&slot_other};
    uheap::WeakSlot s3{&slot_foreign};
    heap->add_weak_slot(&s1);
    heap->add_weak_slot(&s2);
    heap->add_weak_slot(&s3);
    roots[0] = target;
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_EQ(uheap::reveal_pointer(slot_target), target);  // alive: unchanged, and the slot is not a root
    EXPECT_EQ(slot_other, nullptr);
    EXPECT_EQ(uheap::reveal_pointer(slot_foreign), &roots);  // not ours: untouched
    EXPECT_EQ(heap->size_of(other), 0u);
    roots[0] = nullptr;
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_EQ(slot_target, nullptr);
    heap->remove_weak_slot(&s1);
    heap->remove_weak_slot(&s2);
    heap->remove_weak_slot(&s3);
}

struct Counted {
    static int destroyed;
    int value;
    explicit Counted(int v) : value(v) {}
    ~Counted() { ++destroyed; }
};
int Counted::destroyed = 0;

TEST(Collector, WeakHandleReadsNullOnlyAfterItsTargetIsCollected) {
    UHEAP_TEST_NEEDS(uheap::kFeatureFinalisers | uheap::kFeatureWeakReferences);
    TestHeap heap(kRegion);
    uheap_test::NoRoots no_roots(*heap);
    auto* obj = uheap::make<Counted>(*heap, 5);
    ASSERT_NE(obj, nullptr);
    uheap::Weak<Counted> weak(*heap, obj);
    {
        uheap::Root<Counted> root(*heap, obj);
        ASSERT_EQ(heap->collect(), Status::ok);
        EXPECT_EQ(weak.get(), obj);
        EXPECT_TRUE(weak);
        EXPECT_EQ(weak.get()->value, 5);
    }
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_EQ(weak.get(), nullptr);
    EXPECT_FALSE(weak);
}

TEST(Collector, RootHandleKeepsAliveAndMakeRunsTheDestructorExactlyOnce) {
    UHEAP_TEST_NEEDS(uheap::kFeatureFinalisers);
    TestHeap heap(kRegion);
    uheap_test::NoRoots no_roots(*heap);
    Counted::destroyed = 0;
    {
        uheap::Root<Counted> root(*heap, uheap::make<Counted>(*heap, 9));
        ASSERT_TRUE(root);
        for (int i = 0; i < 3; ++i) ASSERT_EQ(heap->collect(), Status::ok);
        EXPECT_EQ(root->value, 9);
        EXPECT_EQ(Counted::destroyed, 0);
    }
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_EQ(Counted::destroyed, 1);
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_EQ(Counted::destroyed, 1);
    EXPECT_EQ(heap->info().objects, 0u);
}

// ---- the bounded mark stack -----------------------------------------------------------------

/// Builds `n_chains` chains of 1..4 one-block objects, all reachable from a pointer array held
/// in the heap, with unreachable garbage between them. Returns the live object count.
std::size_t build_wide_graph(uheap::Heap& heap, RootArray& roots, std::size_t n_chains, std::vector<void*>& live) {
    void** array = static_cast<void**>(heap.alloc(n_chains * sizeof(void*), uheap::kFinaliser));
    roots[0] = array;
    live.push_back(array);
    std::mt19937 rng(11);
    for (std::size_t i = 0; i < n_chains; ++i) {
        std::size_t len = 1 + rng() % 4;
        void** previous = nullptr;
        for (std::size_t j = 0; j < len; ++j) {
            void** node = static_cast<void**>(heap.alloc(blocks(1)));
            if (node == nullptr) return 0;
            live.push_back(node);
            if (previous == nullptr) {
                array[i] = node;
            } else {
                previous[uheap::kBlockWords - 1] = node;
            }
            previous = node;
            if (rng() % 3 == 0) {
                void** garbage = static_cast<void**>(heap.alloc(blocks(1)));
                garbage[0] = node;  // garbage pointing at live objects is still garbage
            }
        }
    }
    return live.size();
}

TEST(MarkStack, CapacityOneOnAWideGraph) {
    uheap::HeapConfig config;
    config.mark_stack_entries = 1;
    TestHeap heap(6 * 1024 * 1024, config);
    ASSERT_NE(heap.get(), nullptr);
    heap->set_auto_collect(false);
    RootArray roots(*heap, 1);
    std::vector<void*> live;
    std::size_t n_live = build_wide_graph(*heap, roots, 10000, live);
    ASSERT_GT(n_live, 10000u);
    std::size_t before = heap->info().objects;
    ASSERT_GT(before, n_live);
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_EQ(heap->info().objects, n_live);
    EXPECT_EQ(heap->counters().last_collect_freed, before - n_live);
    for (void* p : live) ASSERT_NE(heap->size_of(p), 0u);
    EXPECT_GT(heap->counters().mark_stack_overflows, 0u);
    EXPECT_VERIFIED(*heap);
}

TEST(MarkStack, CapacityOneOnADeepGraph) {
    uheap::HeapConfig config;
    config.mark_stack_entries = 1;
    TestHeap heap(blocks(100000) * 5 / 2 + 64 * 1024, config);
    ASSERT_NE(heap.get(), nullptr);
    heap->set_auto_collect(false);
    RootArray roots(*heap, 1);
    void** head = nullptr;
    void** tail = nullptr;
    for (int i = 0; i < 100000; ++i) {
        void** node = static_cast<void**>(heap->alloc(blocks(1)));
        ASSERT_NE(node, nullptr);
        if (tail == nullptr) {
            head = node;
        } else {
            tail[i % uheap::kBlockWords] = node;  // the link sits in any word of the node
        }
        tail = node;
        ASSERT_NE(heap->alloc(blocks(1)), nullptr);  // garbage
    }
    roots[0] = head;
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_EQ(heap->info().objects, 100000u);
    EXPECT_EQ(heap->counters().last_collect_freed, 100000u);
    EXPECT_EQ(heap->size_of(tail), blocks(1));
    EXPECT_VERIFIED(*heap);
    roots[0] = nullptr;
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_EQ(heap->info().objects, 0u);
}

TEST(MarkStack, SmallStackOverflowsAndStillMarksEverything) {
    uheap::HeapConfig config;
    config.mark_stack_entries = 4;
    TestHeap heap(kRegion, config);
    RootArray roots(*heap, 1);
    // A node with 200 children, each with a child: MicroPython's gc_trace stress shape.
    void** parent = static_cast<void**>(heap->alloc(200 * sizeof(void*)));
    roots[0] = parent;
    std::vector<void*> all{parent};
    for (int i = 0; i < 200; ++i) {
        void** child = static_cast<void**>(heap->alloc(blocks(1)));
        child[0] = heap->alloc(blocks(1));
        parent[i] = child;
        all.push_back(child);
        all.push_back(child[0]);
        heap->alloc(blocks(1));  // garbage
    }
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_GT(heap->counters().mark_stack_overflows, 0u);
    EXPECT_EQ(heap->info().objects, all.size());
    for (void* p : all) EXPECT_NE(heap->size_of(p), 0u);
    EXPECT_VERIFIED(*heap);
}

// ---- sweep_all, the three-step form ------------------------------------------------------------

TEST(Collector, SweepAllRunsEveryFinaliserAndFreesEverything) {
    UHEAP_TEST_NEEDS(uheap::kFeatureFinalisers | uheap::kFeatureStackScan);
    TestHeap heap(kRegion);
    Recorder rec;
    rec.install(*heap);
    RootArray roots(*heap, 4);
    heap->set_stack_base(uheap_test::g_stack_base);
    std::vector<void*> fin;
    for (int i = 0; i < 4; ++i) {
        roots[i] = heap->alloc(blocks(1 + i), uheap::kFinaliser);
        fin.push_back(roots[i]);
        heap->alloc(blocks(1));
    }
    ASSERT_EQ(heap->sweep_all(), Status::ok);
    EXPECT_EQ(rec.of(Recorder::finaliser), fin);  // rooted or not, in address order
    EXPECT_EQ(heap->info().objects, 0u);
    EXPECT_EQ(heap->info().used, 0u);
    EXPECT_EQ(heap->counters().collections, 1u);
    EXPECT_VERIFIED(*heap);
}

TEST(Collector, ThreeStepFormWithHostReportedRoots) {
    TestHeap heap(kRegion);
    void* kept = heap->alloc(blocks(2));
    void* lost = heap->alloc(blocks(2));
    void* words[3] = {nullptr, kept, reinterpret_cast<void*>(0x1234)};
    heap->collect_root(words, 3);
    EXPECT_EQ(heap->last_status(), Status::not_collecting);
    EXPECT_EQ(heap->collect_end(), Status::not_collecting);
    ASSERT_EQ(heap->collect_start(), Status::ok);
    EXPECT_TRUE(heap->is_collecting());
    EXPECT_TRUE(heap->is_locked());
    EXPECT_EQ(heap->collect_start(), Status::collecting);  // nested start refused
    EXPECT_EQ(heap->collect(), Status::collecting);
    heap->collect_root(words, 3);
    EXPECT_VERIFIED(*heap);  // I3 allows marks on heads during a collection
    ASSERT_EQ(heap->collect_end(), Status::ok);
    EXPECT_FALSE(heap->is_collecting());
    EXPECT_EQ(heap->size_of(kept), blocks(2));
    EXPECT_EQ(heap->size_of(lost), 0u);
    EXPECT_VERIFIED(*heap);
}

TEST(Collector, RootCallbackReportsRoots) {
    TestHeap heap(kRegion);
    struct Host {
        uheap::Heap* heap;
        void* root;
        int calls = 0;
    } host{heap.get(), heap->alloc(blocks(1))};
    heap->set_root_callback(
        [](void* user) {
            auto* h = static_cast<Host*>(user);
            ++h->calls;
            h->heap->collect_root(&h->root, 1);
        },
        &host);
    void* lost = heap->alloc(blocks(1));
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_EQ(host.calls, 1);
    EXPECT_EQ(heap->size_of(host.root), blocks(1));
    EXPECT_EQ(heap->size_of(lost), 0u);
}

// ---- areas ----------------------------------------------------------------------------------

TEST(Areas, ObjectsAndRootsAcrossSeveralAreas) {
    TestHeap heap(16 * 1024);
    std::vector<unsigned char> second(16 * 1024 + 3), third(8 * 1024);
    ASSERT_EQ(heap->add_area(second.data() + 3, second.size() - 3), Status::ok);  // any alignment
    ASSERT_EQ(heap->add_area(third.data(), third.size()), Status::ok);
    EXPECT_EQ(heap->info().areas, 3u);
    heap->set_auto_collect(false);
    // Fill everything with 1-block objects; remember one per area.
    std::vector<void*> objects;
    while (void* p = heap->alloc(blocks(1))) objects.push_back(p);
    auto in = [&](void* p, const std::vector<unsigned char>& v) {
        return p >= static_cast<const void*>(v.data()) && p < static_cast<const void*>(v.data() + v.size());
    };
    void** in_first = nullptr;
    void* in_second = nullptr;
    void* in_third = nullptr;
    for (void* p : objects) {
        if (in(p, second)) {
            if (in_second == nullptr) in_second = p;
        } else if (in(p, third)) {
            if (in_third == nullptr) in_third = p;
        } else if (in_first == nullptr) {
            in_first = static_cast<void**>(p);
        }
    }
    ASSERT_NE(in_first, nullptr);
    ASSERT_NE(in_second, nullptr);
    ASSERT_NE(in_third, nullptr);
    // Areas fill in the order they were added.
    EXPECT_EQ(objects.front(), static_cast<void*>(in_first));
    EXPECT_TRUE(in(objects.back(), third));
    static_cast<void**>(in_second)[0] = in_third;
    static_cast<void**>(in_third)[0] = in_first;
    RootArray roots(*heap, 1);
    roots[0] = in_second;
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_EQ(heap->info().objects, 3u);
    EXPECT_EQ(heap->size_of(in_first), blocks(1));
    EXPECT_EQ(heap->size_of(in_second), blocks(1));
    EXPECT_EQ(heap->size_of(in_third), blocks(1));
    EXPECT_EQ(heap->info().areas, 3u);  // areas the host added are never released
    EXPECT_VERIFIED(*heap);
    // An object never spans two areas (I2): the largest fit is the largest area's free run.
    heap->set_auto_collect(true);
    roots[0] = nullptr;
    ASSERT_EQ(heap->collect(), Status::ok);
    std::size_t max_free = heap->info().max_free;
    EXPECT_LT(max_free * kBlockBytes, heap->info().total);
    void* biggest = heap->alloc(blocks(max_free));
    ASSERT_NE(biggest, nullptr);
    EXPECT_VERIFIED(*heap);
}

struct Grower {
    std::vector<std::unique_ptr<unsigned char[]>> regions;
    std::vector<std::pair<void*, std::size_t>> granted;
    std::vector<std::pair<void*, std::size_t>> released;
    std::size_t asked = 0;
    int allow = 1;
    static bool grow(void* user, std::size_t min_bytes, void** region, std::size_t* region_bytes) {
        auto* g = static_cast<Grower*>(user);
        g->asked = min_bytes;
        if (g->allow-- <= 0) return false;
        g->regions.emplace_back(new unsigned char[min_bytes]);
        *region = g->regions.back().get();
        *region_bytes = min_bytes;
        g->granted.emplace_back(*region, min_bytes);
        return true;
    }
    static void release(void* user, void* region, std::size_t region_bytes) {
        static_cast<Grower*>(user)->released.emplace_back(region, region_bytes);
    }
};

TEST(Areas, GrowCallbackAddsAnAreaAndAnEmptyGrownAreaIsReleased) {
    UHEAP_TEST_NEEDS(uheap::kFeatureGrowth);
    TestHeap heap(16 * 1024);
    Grower grower;
    heap->set_grow_callback(&Grower::grow, &Grower::release, &grower);
    RootArray roots(*heap, 2048);
    std::size_t n = 0;
    std::size_t first_total = heap->info().total;
    // Fill the first area with rooted objects, then one more allocation must grow.
    while (heap->info().free >= kBlockBytes) roots[n++] = heap->alloc(blocks(1));
    std::uint64_t collections = heap->counters().collections;
    void* grown = heap->alloc(blocks(4));
    ASSERT_NE(grown, nullptr);
    EXPECT_EQ(heap->counters().collections, collections + 1);  // collect first, then grow
    EXPECT_EQ(heap->counters().areas_grown, 1u);
    ASSERT_EQ(grower.granted.size(), 1u);
    EXPECT_GE(grower.asked, uheap::Heap::region_bytes_for(blocks(4)));
    EXPECT_GE(grower.asked, first_total);  // roughly doubles the heap
    EXPECT_EQ(heap->info().areas, 2u);
    auto* g = static_cast<unsigned char*>(grower.granted[0].first);
    EXPECT_TRUE(grown >= static_cast<void*>(g) && grown < static_cast<void*>(g + grower.granted[0].second));
    EXPECT_VERIFIED(*heap);
    // The grown area empties: the next sweep hands it back, exactly as granted.
    ASSERT_EQ(heap->collect(), Status::ok);
    EXPECT_EQ(heap->counters().areas_released, 1u);
    ASSERT_EQ(grower.released.size(), 1u);
    EXPECT_EQ(grower.released[0], grower.granted[0]);
    EXPECT_EQ(heap->info().areas, 1u);
    EXPECT_EQ(heap->info().total, first_total);
    EXPECT_EQ(heap->size_of(roots[0]), blocks(1));
    EXPECT_VERIFIED(*heap);
}

TEST(Areas, RefusedGrowthEndsInOutOfMemory) {
    UHEAP_TEST_NEEDS(uheap::kFeatureGrowth);
    TestHeap heap(16 * 1024);
    Grower grower;
    grower.allow = 0;
    heap->set_grow_callback(&Grower::grow, &Grower::release, &grower);
    RootArray roots(*heap, 2048);
    std::size_t n = 0;
    while (heap->info().free >= kBlockBytes) roots[n++] = heap->alloc(blocks(1));
    EXPECT_EQ(heap->alloc(blocks(1)), nullptr);
    EXPECT_EQ(heap->last_status(), Status::out_of_memory);
    EXPECT_EQ(heap->info().areas, 1u);
    EXPECT_VERIFIED(*heap);
}

TEST(Areas, HugeRequestWithGrowCallbackFailsWithoutCollecting) {
    UHEAP_TEST_NEEDS(uheap::kFeatureGrowth);
    TestHeap heap(16 * 1024);
    Grower grower;
    heap->set_grow_callback(&Grower::grow, &Grower::release, &grower);
    std::uint64_t collections = heap->counters().collections;
    EXPECT_EQ(heap->alloc(SIZE_MAX), nullptr);
    EXPECT_EQ(heap->last_status(), Status::too_large);
    EXPECT_EQ(heap->alloc(SIZE_MAX / 2), nullptr);
    EXPECT_EQ(heap->last_status(), Status::too_large);
    EXPECT_EQ(heap->counters().collections, collections);  // no collection needed to decide
    EXPECT_TRUE(grower.granted.empty());
    EXPECT_VERIFIED(*heap);
}

}  // namespace
