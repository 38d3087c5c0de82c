// SPDX-License-Identifier: MIT
// The heaptrack bridge: EventHooks that forward to heaptrack's reporting API, chained to the
// hooks that were there before.
#include "heaptrack_bridge.hpp"

#include <dlfcn.h>

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
    HeaptrackBridge& b = bridge_of(user);
    b.report_alloc(ptr, n_bytes);
    if (b.previous.on_alloc != nullptr) b.previous.on_alloc(b.previous.user, ptr, n_bytes, flags, tag);
}

// Every way an object goes (explicit free, swept, the old copy of a move) is a free to heaptrack.
// The previous hooks run first: the object is still theirs to read.
void on_free(void* user, void* ptr, std::size_t n_bytes, FreeReason reason) {
    HeaptrackBridge& b = bridge_of(user);
    if (b.previous.on_free != nullptr) b.previous.on_free(b.previous.user, ptr, n_bytes, reason);
    b.report_free(ptr);
}

// A move was already reported as an allocation and a free; only an in-place resize is new to
// heaptrack, which books it as a realloc() that returned the same pointer.
void on_realloc(void* user, void* old_ptr, void* new_ptr, std::size_t old_bytes, std::size_t new_bytes) {
    HeaptrackBridge& b = bridge_of(user);
    if (old_ptr == new_ptr && old_bytes != new_bytes) b.report_realloc(old_ptr, new_bytes, new_ptr);
    if (b.previous.on_realloc != nullptr) b.previous.on_realloc(b.previous.user, old_ptr, new_ptr, old_bytes, new_bytes);
}

// The events heaptrack has no use for go straight to the previous hooks (when there are any: a
// null hook stays null, so the heap keeps skipping it).
void on_collect_start(void* user) {
    HeaptrackBridge& b = bridge_of(user);
    b.previous.on_collect_start(b.previous.user);
}
void on_collect_end(void* user, const CollectionStats& stats) {
    HeaptrackBridge& b = bridge_of(user);
    b.previous.on_collect_end(b.previous.user, stats);
}
void on_out_of_memory(void* user, std::size_t n_bytes) {
    HeaptrackBridge& b = bridge_of(user);
    b.previous.on_out_of_memory(b.previous.user, n_bytes);
}
void on_pause(void* user, PauseKind kind, std::uint64_t ns) {
    HeaptrackBridge& b = bridge_of(user);
    b.previous.on_pause(b.previous.user, kind, ns);
}

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

// The bridge's hooks wrap whatever was installed: the previous hooks are kept in the bridge and
// called from its own, so a profiler (or the host's own observer) attached first keeps working.
bool attach_heaptrack(Heap& heap, HeaptrackBridge& bridge) {
    if (bridge.heap != nullptr) return false;
    HeaptrackApi api = find_heaptrack();
    if (api.malloc_fn == nullptr || api.free_fn == nullptr || api.realloc_fn == nullptr) return false;
    bridge.report_alloc = api.malloc_fn;
    bridge.report_realloc = api.realloc_fn;
    bridge.report_free = api.free_fn;
    bridge.previous = heap.event_hooks();
    bridge.heap = &heap;
    heap.walk(report_live_alloc, &bridge);

    const EventHooks& prev = bridge.previous;
    EventHooks hooks;
    hooks.user = &bridge;
    hooks.on_alloc = on_alloc;
    hooks.on_free = on_free;
    hooks.on_realloc = on_realloc;
    hooks.on_collect_start = prev.on_collect_start != nullptr ? on_collect_start : nullptr;
    hooks.on_collect_end = prev.on_collect_end != nullptr ? on_collect_end : nullptr;
    hooks.on_out_of_memory = prev.on_out_of_memory != nullptr ? on_out_of_memory : nullptr;
    hooks.on_pause = prev.on_pause != nullptr ? on_pause : nullptr;
    heap.set_event_hooks(hooks);
    return true;
}

// Only the bridge's own hooks are taken off: if someone chained on top of it since, removing it
// would cut them off too (and they still call into `bridge`), so it stays.
bool detach_heaptrack(HeaptrackBridge& bridge) {
    if (bridge.heap == nullptr) return false;
    Heap& heap = *bridge.heap;
    EventHooks current = heap.event_hooks();
    if (current.user != &bridge || current.on_alloc != on_alloc) return false;
    heap.set_event_hooks(bridge.previous);
    heap.walk(report_live_free, &bridge);
    bridge = HeaptrackBridge{};
    return true;
}

}  // namespace uheap::bridges
