// SPDX-License-Identifier: MIT
// Run under heaptrack by run_tool.py (test bridges.heaptrack): the workload with the heaptrack
// bridge attached (or not, with --no-bridge: the control run whose report must fail the check),
// then what heaptrack_print must show for each distinctive site, as "expect" lines.
#include <cstdio>
#include <cstring>

#include "heaptrack_bridge.hpp"
#include "workload.hpp"

using namespace bridge_test;

int main(int argc, char** argv) {
    const bool bridged = !(argc > 1 && std::strcmp(argv[1], "--no-bridge") == 0);
    uheap::Heap* heap = make_heap();
    if (heap == nullptr) return fail("heap"), 1;
    Counts counts;
    heap->set_event_hooks(counting_hooks(counts));  // the bridge must chain to these
    uheap::bridges::HeaptrackBridge bridge;
    if (bridged && !uheap::bridges::attach_heaptrack(*heap, bridge)) {
        std::fprintf(stderr, "workload: heaptrack is not running (heaptrack_running: %d)\n",
                     uheap::bridges::heaptrack_running());
        return 3;
    }
    if (!churn(*heap)) return fail("churn"), 1;
    if (!churn_counted(counts)) return fail("the hooks installed before the bridge missed events"), 1;
    if (bridged && !attach_late_and_detach(uheap::bridges::attach_heaptrack, uheap::bridges::detach_heaptrack)) return 1;

    // Heaptrack books an in-place resize as a realloc() at the resizing site: the shrunk widgets
    // belong to bridge_test_shrink_widget. Live objects at exit are "leaked".
    const std::size_t live_widgets = kWidgets - kFreed - kDropped - kGrown;
    std::printf("expect heaptrack bridge_test_make_widget allocations=%zu peak=%zu leaked=%zu\n", kWidgets,
                kWidgets * kWidgetBytes, live_widgets * kWidgetBytes);
    std::printf("expect heaptrack bridge_test_grow_widget allocations=%zu leaked=%zu\n", kGrown,
                (kGrown - kShrunk) * kGrownBytes);
    std::printf("expect heaptrack bridge_test_shrink_widget allocations=%zu leaked=%zu\n", kShrunk,
                kShrunk * kShrunkBytes);
    std::printf("expect heaptrack bridge_test_while_attached allocations=%zu leaked=0\n", kWhileAttached);
    std::printf("expect heaptrack uheap::bridges::attach_heaptrack allocations=%zu leaked=0\n", kBeforeAttach);
    return 0;
}
