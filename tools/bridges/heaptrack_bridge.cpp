// SPDX-License-Identifier: MIT
// The heaptrack bridge: EventHooks that forward to heaptrack's reporting API, chained to the
// hooks that were there before (hook_chain.hpp does the chaining).
#include "heaptrack_bridge.hpp"

#include <dlfcn.h>

#include "hook_chain.hpp"

namespace uheap::bridges {
namespace {

// heaptrack's three entry points, or null when it is not loaded. Looked up by name in the whole
// process rather than declared weak as heaptrack_api.h does: a weak reference from a main
// executable or a static library may be bound to null at link time (heaptrack_api.h says so),
// and the bridge is a static library linked into executables. No heaptrack header is needed.
struct HeaptrackApi {
    void (*malloc_fn)(void*, std::size_t) = nullptr;
    void (*realloc_fn)(void*, std::size_t, void*) = nullptr;
    void (*free_fn)(void*) = nullptr;
};

HeaptrackApi find_heaptrack() {
    HeaptrackApi api;
    api.malloc_fn = reinterpret_cast<void (*)(void*, std::size_t)>(dlsym(RTLD_DEFAULT, "heaptrack_malloc"));
    api.realloc_fn = reinterpret_cast<void (*)(void*, std::size_t, void*)>(dlsym(RTLD_DEFAULT, "heaptrack_realloc"));
    api.free_fn = reinterpret_cast<void (*)(void*)>(dlsym(RTLD_DEFAULT, "heaptrack_free"));
    return api;
}

HeaptrackBridge& bridge_of(void* user) { return *static_cast<HeaptrackBridge*>(user); }

// Heaptrack takes the backtrace when it is told, so the allocation is reported from inside the
// hook, below the host's call to alloc() or realloc(): that call is the site heaptrack shows.
// The tool hears first, then the previous hooks, which may read the object.
void on_alloc(void* user, void* ptr, std::size_t n_bytes, unsigned flags, std::uint16_t tag) {
    bridge_of(user).report_alloc(ptr, n_bytes);
    hook_chain::forward_alloc<HeaptrackBridge>(user, ptr, n_bytes, flags, tag);
}

// Every way an object goes (explicit free, swept, the old copy of a move) is a free to heaptrack.
// The previous hooks run first: the object is still theirs to read.
void on_free(void* user, void* ptr, std::size_t n_bytes, FreeReason reason) {
    hook_chain::forward_free<HeaptrackBridge>(user, ptr, n_bytes, reason);
    bridge_of(user).report_free(ptr);
}

// A move was already reported as an allocation and a free; only an in-place resize is new to
// heaptrack, which books it as a realloc() that returned the same pointer.
void on_realloc(void* user, void* old_ptr, void* new_ptr, std::size_t old_bytes, std::size_t new_bytes) {
    if (old_ptr == new_ptr && old_bytes != new_bytes) bridge_of(user).report_realloc(old_ptr, new_bytes, new_ptr);
    hook_chain::forward_realloc<HeaptrackBridge>(user, old_ptr, new_ptr, old_bytes, new_bytes);
}

constexpr hook_chain::ToolHooks kToolHooks{on_alloc, on_free, on_realloc};

// Objects that were there before the bridge (or are still there when it leaves) have to be
// announced (or withdrawn) in one go, or heaptrack would see frees it never saw allocated.
void report_live_alloc(void* user, const HeapSpan& span) {
    if (span.object != nullptr) bridge_of(user).report_alloc(span.object, span.n_blocks * kBlockBytes);
}
void report_live_free(void* user, const HeapSpan& span) {
    if (span.object != nullptr) bridge_of(user).report_free(span.object);
}

}  // namespace

bool heaptrack_running() {
    HeaptrackApi api = find_heaptrack();
    return api.malloc_fn != nullptr && api.free_fn != nullptr;
}

// The entry points are looked up once, here, and kept in the bridge for its hooks; without
// heaptrack nothing is installed, so the heap keeps its fast allocation path.
bool attach_heaptrack(Heap& heap, HeaptrackBridge& bridge) {
    if (bridge.heap != nullptr) return false;
    HeaptrackApi api = find_heaptrack();
    if (api.malloc_fn == nullptr || api.free_fn == nullptr || api.realloc_fn == nullptr) return false;
    bridge.report_alloc = api.malloc_fn;
    bridge.report_realloc = api.realloc_fn;
    bridge.report_free = api.free_fn;
    hook_chain::attach(heap, bridge, kToolHooks, report_live_alloc);
    return true;
}

bool detach_heaptrack(HeaptrackBridge& bridge) { return hook_chain::detach(bridge, kToolHooks, report_live_free); }

}  // namespace uheap::bridges
