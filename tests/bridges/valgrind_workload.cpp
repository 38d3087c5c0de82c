// SPDX-License-Identifier: MIT
// Run under Valgrind by run_tool.py with the Valgrind bridge attached (or not, with --no-bridge:
// the control run whose report must fail the check):
//   valgrind_workload massif SNAPSHOT [--no-bridge]   (test bridges.massif) the workload; at the
//       end a detailed massif snapshot is written to SNAPSHOT
//   valgrind_workload memcheck [--no-bridge]          (test bridges.memcheck) the host reads
//       objects the heap freed in three ways; nothing else may be reported
// and prints what ms_print or memcheck must show, as "expect" lines.
#include <cstdio>
#include <cstring>
#include <string>

#include <valgrind/valgrind.h>

#include "valgrind_bridge.hpp"
#include "workload.hpp"

using namespace bridge_test;

// The host's use-after-free: reads a word in the middle of an object (memcheck describes an
// address within 16 bytes of a live neighbour by that neighbour: docs/bridges.md, limits).
extern "C" __attribute__((noinline)) long bridge_test_host_reads(const void* object) {
    return static_cast<const volatile long*>(object)[kWidgetBytes / sizeof(long) / 2];
}

namespace {

int massif(const char* snapshot, bool bridged) {
    uheap::Heap* heap = make_heap();
    if (heap == nullptr) return 1;
    Counts counts;
    heap->set_event_hooks(counting_hooks(counts));
    uheap::bridges::ValgrindBridge bridge;
    if (bridged && !uheap::bridges::attach_valgrind(*heap, bridge)) {
        std::fprintf(stderr, "workload: not running under Valgrind\n");
        return 3;
    }
    if (!churn(*heap)) return fail("churn"), 1;
    if (!churn_counted(counts)) return fail("the hooks installed before the bridge missed events"), 1;
    if (bridged && !attach_late_and_detach(uheap::bridges::attach_valgrind, uheap::bridges::detach_valgrind)) return 1;
    std::string command = std::string("detailed_snapshot ") + snapshot;
    VALGRIND_MONITOR_COMMAND(command.c_str());

    // Massif books a block resized in place (VALGRIND_RESIZEINPLACE_BLOCK) to the resizing site:
    // the shrunk widgets belong to bridge_test_shrink_widget.
    const std::size_t live_widgets = kWidgets - kFreed - kDropped - kGrown;
    std::printf("expect massif bridge_test_make_widget peak=%zu end=%zu\n", kWidgets * kWidgetBytes,
                live_widgets * kWidgetBytes);
    std::printf("expect massif bridge_test_grow_widget peak=0 end=%zu\n", (kGrown - kShrunk) * kGrownBytes);
    std::printf("expect massif bridge_test_shrink_widget peak=0 end=%zu\n", kShrunk * kShrunkBytes);
    std::printf("expect massif bridge_test_while_attached peak=0 end=0\n");
    return 0;
}

int memcheck(bool bridged) {
    uheap::Heap* heap = make_heap();
    if (heap == nullptr) return 1;
    uheap::bridges::ValgrindBridge bridge;
    if (bridged && !uheap::bridges::attach_valgrind(*heap, bridge)) {
        std::fprintf(stderr, "workload: not running under Valgrind\n");
        return 3;
    }
    constexpr std::size_t n = 100;
    for (std::size_t i = 0; i < n; ++i) widgets[i] = bridge_test_make_widget(*heap);
    // Growth in place (free blocks follow the last widget): the new bytes are zeroed and defined.
    auto* last = static_cast<unsigned char*>(widgets[n - 1]);
    if (heap->realloc(last, 2 * kWidgetBytes) != last) return fail("in-place growth"), 1;
    for (std::size_t i = kWidgetBytes; i < 2 * kWidgetBytes; ++i) {
        if (last[i] != 0) return fail("grown bytes are not zero"), 1;
    }
    long sum = 0;
    // Called through a pointer: Valgrind follows a direct call into so short a function and then
    // reports its read at the caller's line, without the function's own frame.
    long (*volatile host_reads)(const void*) = bridge_test_host_reads;
    // 1. freed with free()
    void* freed = widgets[10];
    widgets[10] = nullptr;
    if (heap->free(freed) != uheap::Status::ok) return fail("free"), 1;
    sum += host_reads(freed);
    // 2. freed by a collection
    void* swept = widgets[30];
    for (std::size_t i = 20; i < 60; ++i) widgets[i] = nullptr;
    if (heap->collect() != uheap::Status::ok || heap->counters().last_collect_freed != 40) return fail("collect"), 1;
    sum += host_reads(swept);
    // 3. the old copy of an object realloc() moved
    void* old = widgets[70];
    widgets[70] = bridge_test_grow_widget(*heap, old);
    if (widgets[70] == old) return fail("the grown widget did not move"), 1;
    sum += host_reads(old);
    // The heap hands the freed blocks out again (zeroing them: uheap.supp), and reports them.
    for (std::size_t i = 20; i < 60; ++i) widgets[i] = bridge_test_make_widget(*heap);
    // Attaching late, detaching, and a conservative stack scan (uninitialised words: uheap.supp).
    if (bridged && !attach_late_and_detach(uheap::bridges::attach_valgrind, uheap::bridges::detach_valgrind)) return 1;
    uheap::Heap* scanned = uheap::Heap::create(second_region, sizeof second_region);
    scanned->set_stack_base(__builtin_frame_address(0));
    if (scanned->collect() != uheap::Status::ok) return fail("stack scan"), 1;

    std::printf("read %ld\n", sum);
    std::printf("expect memcheck invalid-read freed-by=uheap::Heap::free alloc-site=bridge_test_make_widget\n");
    std::printf("expect memcheck invalid-read freed-by=uheap::Heap::collect alloc-site=bridge_test_make_widget\n");
    std::printf("expect memcheck invalid-read freed-by=uheap::Heap::realloc alloc-site=bridge_test_make_widget\n");
    std::printf("expect memcheck errors=3\n");
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const bool bridged = !(argc > 1 && std::strcmp(argv[argc - 1], "--no-bridge") == 0);
    if (argc >= 3 && std::strcmp(argv[1], "massif") == 0) return massif(argv[2], bridged);
    if (argc >= 2 && std::strcmp(argv[1], "memcheck") == 0) return memcheck(bridged);
    std::fprintf(stderr, "usage: %s massif SNAPSHOT [--no-bridge] | memcheck [--no-bridge]\n", argv[0]);
    return 2;
}
