// SPDX-License-Identifier: MIT
// docs/bridges.md quotes this file: a host whose uheap objects heaptrack and Valgrind can see.
#include <cstdio>

#include "heaptrack_bridge.hpp"
#include "uheap/uheap.hpp"
#include "valgrind_bridge.hpp"

alignas(16) static unsigned char region[256 * 1024];  // static: a malloc()ed region would count too

int main() {
    uheap::Heap* heap = uheap::Heap::create(region, sizeof region);
    heap->set_stack_base(__builtin_frame_address(0));

    // Each attach installs nothing unless its tool is running; the host owns the bridge's state.
    uheap::bridges::HeaptrackBridge heaptrack;
    uheap::bridges::ValgrindBridge valgrind;
    bool seen = uheap::bridges::attach_heaptrack(*heap, heaptrack) || uheap::bridges::attach_valgrind(*heap, valgrind);

    for (int i = 0; i < 1000; ++i) heap->alloc(64);  // reported with this line as their call site
    heap->collect();                                 // the dead are reported freed here

    uheap::bridges::detach_valgrind(valgrind);  // the tool forgets the live objects; no-op if not attached
    uheap::bridges::detach_heaptrack(heaptrack);
    std::printf("%s\n", seen ? "a tool sees the heap" : "no tool running");
}
