// SPDX-License-Identifier: MIT
// The workload the bridges' tool tests run: objects allocated, freed, swept, moved and resized at
// call sites with distinctive names, and the figures a tool that sees every object must report
// for each site. The programs print those figures ("expect ..." lines) for run_tool.py.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>

#include "uheap/uheap.hpp"

namespace bridge_test {

using uheap::kBlockBytes;

constexpr std::size_t kWidgetBytes = 96;     // a whole number of blocks at 16 and 32 bytes per block
constexpr std::size_t kGrownBytes = 512;
constexpr std::size_t kShrunkBytes = 256;
static_assert(kWidgetBytes % kBlockBytes == 0 && kShrunkBytes % kBlockBytes == 0, "sizes are reported in whole blocks");

constexpr std::size_t kWidgets = 1000;  // allocated at bridge_test_make_widget
constexpr std::size_t kFreed = 200;     // widgets [0, 200) freed with free()
constexpr std::size_t kDropped = 300;   // widgets [200, 500) left to the collector
constexpr std::size_t kGrown = 50;      // widgets [500, 550) grown by realloc(): each moves
constexpr std::size_t kShrunk = 10;     // of those, [500, 510) then shrunk in place

// The heap's memory is static: massif and heaptrack would count a malloc()ed region as one more
// allocation of its own.
alignas(64) inline unsigned char region[1 << 20];
inline void* widgets[kWidgets];  // registered as a root range

}  // namespace bridge_test

// The distinctive call sites. extern "C" keeps their names plain in every tool's output; noinline
// and the empty asm after the call keep each one a frame of its own (no inlining, no tail call).
extern "C" __attribute__((noinline)) inline void* bridge_test_make_widget(uheap::Heap& heap) {
    void* widget = heap.alloc(bridge_test::kWidgetBytes);
    asm volatile("" : : "r"(widget) : "memory");
    return widget;
}
extern "C" __attribute__((noinline)) inline void* bridge_test_grow_widget(uheap::Heap& heap, void* widget) {
    void* grown = heap.realloc(widget, bridge_test::kGrownBytes);
    asm volatile("" : : "r"(grown) : "memory");
    return grown;
}
extern "C" __attribute__((noinline)) inline void* bridge_test_shrink_widget(uheap::Heap& heap, void* widget) {
    void* shrunk = heap.realloc(widget, bridge_test::kShrunkBytes);
    asm volatile("" : : "r"(shrunk) : "memory");
    return shrunk;
}

namespace bridge_test {

// A heap over the static region whose only roots are the widgets[] slots (no stack scan: what
// the collector frees does not depend on what the compiler left on the stack).
inline uheap::Heap* make_heap() {
    static uheap::RootRange roots;
    uheap::Heap* heap = uheap::Heap::create(region, sizeof region);
    if (heap == nullptr) return nullptr;
    roots.words = widgets;
    roots.n_words = kWidgets;
    heap->add_root_range(&roots);
    return heap;
}

// Every kind of event a bridge turns into a tool's malloc and free: allocations, explicit frees,
// a collection's frees, realloc() moves (an allocation and a free) and in-place shrinks. Returns
// false if the heap did not do what the expectations assume.
inline bool churn(uheap::Heap& heap) {
    for (std::size_t i = 0; i < kWidgets; ++i) {
        widgets[i] = bridge_test_make_widget(heap);
        if (widgets[i] == nullptr) return false;
    }
    for (std::size_t i = 0; i < kFreed; ++i) {
        if (heap.free(widgets[i]) != uheap::Status::ok) return false;
        widgets[i] = nullptr;
    }
    for (std::size_t i = kFreed; i < kFreed + kDropped; ++i) widgets[i] = nullptr;
    if (heap.collect() != uheap::Status::ok || heap.counters().last_collect_freed != kDropped) return false;
    for (std::size_t i = kFreed + kDropped; i < kFreed + kDropped + kGrown; ++i) {
        void* grown = bridge_test_grow_widget(heap, widgets[i]);
        if (grown == nullptr || grown == widgets[i]) return false;  // its neighbours are live: it moves
        widgets[i] = grown;
    }
    for (std::size_t i = kFreed + kDropped; i < kFreed + kDropped + kShrunk; ++i) {
        if (bridge_test_shrink_widget(heap, widgets[i]) != widgets[i]) return false;  // in place
    }
    return true;
}

// Hooks installed before a bridge, to check that it passes every event on (EventHooks::user
// points at one of these).
struct Counts {
    std::size_t allocs = 0, frees = 0, explicit_frees = 0, swept = 0, moved = 0, reallocs = 0;
    std::size_t collections_started = 0, collections = 0, pauses = 0;
};
inline uheap::EventHooks counting_hooks(Counts& counts) {
    uheap::EventHooks hooks;
    hooks.user = &counts;
    hooks.on_alloc = [](void* user, void*, std::size_t, unsigned, std::uint16_t) { ++static_cast<Counts*>(user)->allocs; };
    hooks.on_free = [](void* user, void*, std::size_t, uheap::FreeReason reason) {
        Counts& c = *static_cast<Counts*>(user);
        ++c.frees;
        if (reason == uheap::FreeReason::explicit_free) ++c.explicit_frees;
        if (reason == uheap::FreeReason::swept) ++c.swept;
        if (reason == uheap::FreeReason::moved) ++c.moved;
    };
    hooks.on_realloc = [](void* user, void*, void*, std::size_t, std::size_t) { ++static_cast<Counts*>(user)->reallocs; };
    hooks.on_collect_start = [](void* user) { ++static_cast<Counts*>(user)->collections_started; };
    hooks.on_collect_end = [](void* user, const uheap::CollectionStats&) { ++static_cast<Counts*>(user)->collections; };
    hooks.on_pause = [](void* user, uheap::PauseKind, std::uint64_t) { ++static_cast<Counts*>(user)->pauses; };
    return hooks;
}

// What churn() makes the hooks hear.
inline bool churn_counted(const Counts& c) {
    return c.allocs == kWidgets + kGrown && c.explicit_frees == kFreed && c.swept == kDropped && c.moved == kGrown &&
           c.frees == kFreed + kDropped + kGrown && c.reallocs == kGrown + kShrunk && c.collections_started == 1 &&
           c.collections == 1 && c.pauses == 1;
}

inline bool fail(const char* what) {
    std::fprintf(stderr, "workload: %s\n", what);
    return false;
}

}  // namespace bridge_test

// A second heap for attaching late and detaching: kBeforeAttach objects exist before the bridge
// (reported as allocated by the attach call itself), kWhileAttached are allocated at their own
// site, one of the early ones is freed, and detaching reports the rest freed: nothing of this
// heap is left allocated in the tool's view.
extern "C" __attribute__((noinline)) inline void* bridge_test_before_attach(uheap::Heap& heap) {
    void* object = heap.alloc(bridge_test::kWidgetBytes);
    asm volatile("" : : "r"(object) : "memory");
    return object;
}
extern "C" __attribute__((noinline)) inline void* bridge_test_while_attached(uheap::Heap& heap) {
    void* object = heap.alloc(bridge_test::kWidgetBytes);
    asm volatile("" : : "r"(object) : "memory");
    return object;
}

namespace bridge_test {

constexpr std::size_t kBeforeAttach = 3;
constexpr std::size_t kWhileAttached = 7;
alignas(64) inline unsigned char second_region[64 * 1024];

// Attach, chaining and detach on the second heap. `attach` / `detach` are the bridge's functions.
template <class Bridge>
bool attach_late_and_detach(bool (*attach)(uheap::Heap&, Bridge&), bool (*detach)(Bridge&)) {
    uheap::Heap* heap = uheap::Heap::create(second_region, sizeof second_region);
    if (heap == nullptr) return fail("second heap");
    void* early[kBeforeAttach];
    for (void*& object : early) object = bridge_test_before_attach(*heap);
    Bridge bridge;
    if (!attach(*heap, bridge)) return fail("attach to the second heap");
    if (attach(*heap, bridge)) return fail("attached twice");
    for (std::size_t i = 0; i < kWhileAttached; ++i) bridge_test_while_attached(*heap);
    if (heap->free(early[0]) != uheap::Status::ok) return fail("free");
    // Someone chained on top: the bridge refuses to leave, then leaves once they have gone.
    Counts counts;
    uheap::EventHooks below = heap->event_hooks();
    heap->set_event_hooks(counting_hooks(counts));
    if (detach(bridge)) return fail("detached from under later hooks");
    heap->set_event_hooks(below);
    if (!detach(bridge) || detach(bridge)) return fail("detach");
    if (heap->event_hooks().on_alloc != nullptr || bridge.heap != nullptr) return fail("hooks not restored");
    return true;
}

}  // namespace bridge_test
