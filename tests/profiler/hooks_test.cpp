// SPDX-License-Identifier: MIT
// The core's EventHooks, as the profiler relies on them: each event fires once, with the right
// arguments, in the documented order.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "profiler_support.hpp"
#include "uheap/events.hpp"

namespace uheap {
namespace {

using testing::TestHeap;

struct Event {
    std::string kind;
    void* ptr = nullptr;
    void* other = nullptr;
    std::size_t bytes = 0;
    std::size_t other_bytes = 0;
    unsigned flags = 0;
    std::uint16_t tag = 0;
    FreeReason reason = FreeReason::explicit_free;
    CollectionStats stats;
};

struct Recorder {
    std::vector<Event> events;

    EventHooks hooks() {
        EventHooks h;
        h.user = this;
        h.on_alloc = [](void* u, void* p, std::size_t n, unsigned flags, std::uint16_t tag) {
            Event e;
            e.kind = "alloc";
            e.ptr = p;
            e.bytes = n;
            e.flags = flags;
            e.tag = tag;
            static_cast<Recorder*>(u)->events.push_back(e);
        };
        h.on_free = [](void* u, void* p, std::size_t n, FreeReason reason) {
            Event e;
            e.kind = "free";
            e.ptr = p;
            e.bytes = n;
            e.reason = reason;
            static_cast<Recorder*>(u)->events.push_back(e);
        };
        h.on_realloc = [](void* u, void* old_ptr, void* new_ptr, std::size_t old_n, std::size_t new_n) {
            Event e;
            e.kind = "realloc";
            e.ptr = old_ptr;
            e.other = new_ptr;
            e.bytes = old_n;
            e.other_bytes = new_n;
            static_cast<Recorder*>(u)->events.push_back(e);
        };
        h.on_collect_start = [](void* u) {
            Event e;
            e.kind = "collect_start";
            static_cast<Recorder*>(u)->events.push_back(e);
        };
        h.on_collect_end = [](void* u, const CollectionStats& s) {
            Event e;
            e.kind = "collect_end";
            e.stats = s;
            static_cast<Recorder*>(u)->events.push_back(e);
        };
        h.on_out_of_memory = [](void* u, std::size_t n) {
            Event e;
            e.kind = "oom";
            e.bytes = n;
            static_cast<Recorder*>(u)->events.push_back(e);
        };
        return h;
    }
};

TEST(Hooks, AllocReportsWholeBlockSizeFlagsAndTag) {
    TestHeap heap(64 * 1024);
    Recorder rec;
    heap->set_event_hooks(rec.hooks());
    void* p = heap->alloc(3 * kBlockBytes - 1, kNoScan, 42);
    ASSERT_EQ(rec.events.size(), 1u);
    EXPECT_EQ(rec.events[0].kind, "alloc");
    EXPECT_EQ(rec.events[0].ptr, p);
    EXPECT_EQ(rec.events[0].bytes, 3 * kBlockBytes);
    EXPECT_EQ(rec.events[0].flags, unsigned{kNoScan});
    EXPECT_EQ(rec.events[0].tag, 42);
}

TEST(Hooks, FreeReportsExplicitReason) {
    TestHeap heap(64 * 1024);
    void* p = heap->alloc(2 * kBlockBytes);
    Recorder rec;
    heap->set_event_hooks(rec.hooks());
    ASSERT_EQ(heap->free(p), Status::ok);
    ASSERT_EQ(rec.events.size(), 1u);
    EXPECT_EQ(rec.events[0].kind, "free");
    EXPECT_EQ(rec.events[0].ptr, p);
    EXPECT_EQ(rec.events[0].bytes, 2 * kBlockBytes);
    EXPECT_EQ(rec.events[0].reason, FreeReason::explicit_free);
}

TEST(Hooks, ReallocInPlaceAndMoved) {
    TestHeap heap(64 * 1024);
    void* a = heap->alloc(kBlockBytes);
    Recorder rec;
    heap->set_event_hooks(rec.hooks());
    void* grown = heap->realloc(a, 4 * kBlockBytes);  // free blocks follow: in place
    ASSERT_EQ(grown, a);
    ASSERT_EQ(rec.events.size(), 1u);
    EXPECT_EQ(rec.events[0].kind, "realloc");
    EXPECT_EQ(rec.events[0].ptr, a);
    EXPECT_EQ(rec.events[0].other, a);
    EXPECT_EQ(rec.events[0].bytes, kBlockBytes);
    EXPECT_EQ(rec.events[0].other_bytes, 4 * kBlockBytes);

    heap.roots[0] = heap->alloc(kBlockBytes);  // a neighbour, so the next growth must move
    heap.roots[1] = a;
    rec.events.clear();
    void* moved = heap->realloc(a, 16 * kBlockBytes);
    ASSERT_NE(moved, nullptr);
    ASSERT_NE(moved, a);
    ASSERT_EQ(rec.events.size(), 3u);
    EXPECT_EQ(rec.events[0].kind, "alloc");
    EXPECT_EQ(rec.events[0].ptr, moved);
    EXPECT_EQ(rec.events[0].bytes, 16 * kBlockBytes);
    EXPECT_EQ(rec.events[1].kind, "free");
    EXPECT_EQ(rec.events[1].ptr, a);
    EXPECT_EQ(rec.events[1].reason, FreeReason::moved);
    EXPECT_EQ(rec.events[2].kind, "realloc");
    EXPECT_EQ(rec.events[2].ptr, a);
    EXPECT_EQ(rec.events[2].other, moved);
    EXPECT_EQ(rec.events[2].bytes, 4 * kBlockBytes);
    EXPECT_EQ(rec.events[2].other_bytes, 16 * kBlockBytes);
}

TEST(Hooks, CollectionReportsSweptObjectsAndStats) {
    TestHeap heap(64 * 1024);
    heap.roots[0] = heap->alloc(kBlockBytes, 0, 1);
    void* dead = heap->alloc(2 * kBlockBytes, 0, 2);
    Recorder rec;
    heap->set_event_hooks(rec.hooks());
    ASSERT_EQ(heap->collect(), Status::ok);
    ASSERT_EQ(rec.events.size(), 3u);
    EXPECT_EQ(rec.events[0].kind, "collect_start");
    EXPECT_EQ(rec.events[1].kind, "free");
    EXPECT_EQ(rec.events[1].ptr, dead);
    EXPECT_EQ(rec.events[1].reason, FreeReason::swept);
    EXPECT_EQ(rec.events[1].bytes, 2 * kBlockBytes);
    const CollectionStats& s = rec.events[2].stats;
    EXPECT_EQ(rec.events[2].kind, "collect_end");
    EXPECT_EQ(s.index, 1u);
    EXPECT_EQ(s.objects_freed, 1u);
    EXPECT_EQ(s.bytes_freed, 2 * kBlockBytes);
    EXPECT_EQ(s.objects_live, 1u);
    EXPECT_EQ(s.used_bytes, kBlockBytes);
    EXPECT_EQ(s.used_bytes + s.free_bytes, heap->info().total);
    EXPECT_EQ(s.largest_free_bytes, heap->info().max_free * kBlockBytes);
    EXPECT_EQ(s.pause_ns, 1000u);  // the fake clock advances 1000 ns per reading
}

TEST(Hooks, OutOfMemoryReportsRequestedBytes) {
    TestHeap heap(16 * 1024, /*auto_collect=*/false);
    std::size_t total_blocks = heap->info().total / kBlockBytes;
    heap.roots[0] = heap->alloc((total_blocks - 2) * kBlockBytes);
    ASSERT_NE(heap.roots[0], nullptr);
    Recorder rec;
    heap->set_event_hooks(rec.hooks());
    EXPECT_EQ(heap->alloc(4 * kBlockBytes - 3), nullptr);
    ASSERT_EQ(rec.events.size(), 1u);
    EXPECT_EQ(rec.events[0].kind, "oom");
    EXPECT_EQ(rec.events[0].bytes, 4 * kBlockBytes - 3);
}

TEST(Hooks, ClearedHooksFireNothing) {
    TestHeap heap(16 * 1024);
    Recorder rec;
    heap->set_event_hooks(rec.hooks());
    heap->set_event_hooks(EventHooks{});
    heap->free(heap->alloc(kBlockBytes));
    heap->collect();
    EXPECT_TRUE(rec.events.empty());
}

}  // namespace
}  // namespace uheap
