// SPDX-License-Identifier: MIT
// Packaging test host: allocate, collect, verify through whichever way uheap was consumed.
#include "uheap/uheap.hpp"

int main() {
    uheap::OwnedHeap heap(64 * 1024);
    if (!heap) return 1;
    uheap::Root<void> kept(*heap, heap->alloc(100));
    heap->alloc(100);  // garbage
    heap->collect();
    return kept.get() != nullptr && heap->size_of(kept.get()) >= 100 && heap->verify().ok() ? 0 : 1;
}
