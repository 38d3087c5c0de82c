// SPDX-License-Identifier: MIT
// Packaging test host: allocate, collect, verify through whichever way uheap was consumed; with
// CONSUMER_WITH_PROFILER, a profiler watches. The library linked is the one the headers describe.
#include <cstring>
#include <string>

#include "uheap/uheap.hpp"
#include "uheap/version.h"
#ifdef CONSUMER_WITH_PROFILER
#include "uheap/profiler.hpp"
#endif

int main() {
    if (std::strcmp(uheap::version(), UHEAP_VERSION_STRING) != 0) return 1;
    uheap::OwnedHeap heap(64 * 1024);
    if (!heap) return 1;
#ifdef CONSUMER_WITH_PROFILER
    uheap::Profiler profiler;
    profiler.attach(*heap);
#endif
    uheap::Root<void> kept(*heap, heap->alloc(100));
    heap->alloc(100);  // garbage
    heap->collect();
#ifdef CONSUMER_WITH_PROFILER
    if (profiler.tag_stats(0).allocations != 2 || profiler.json().find("uheap-profile") == std::string::npos) return 1;
#endif
    return kept.get() != nullptr && heap->size_of(kept.get()) >= 100 && heap->verify().ok() ? 0 : 1;
}
