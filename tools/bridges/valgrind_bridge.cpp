// SPDX-License-Identifier: MIT
// The Valgrind bridge: EventHooks that issue Valgrind's malloc-like client requests, chained to
// the hooks that were there before.
#include "valgrind_bridge.hpp"

#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>

namespace uheap::bridges {
namespace {

ValgrindBridge& bridge_of(void* user) { return *static_cast<ValgrindBridge*>(user); }

// Valgrind records the stack of the client request, so the block is described from inside the
// hook, below the host's call to alloc() or realloc(): that call is the site massif and memcheck
// name. No red zone: objects are packed block against block. The heap has zeroed the object, so
// it is described as defined. The tool hears first (memcheck now lets anyone read the object),
// then the previous hooks.
void on_alloc(void* user, void* ptr, std::size_t n_bytes, unsigned flags, std::uint16_t tag) {
    ValgrindBridge& b = bridge_of(user);
    VALGRIND_MALLOCLIKE_BLOCK(ptr, n_bytes, 0, 1);
    if (b.previous.on_alloc != nullptr) b.previous.on_alloc(b.previous.user, ptr, n_bytes, flags, tag);
}

// Every way an object goes (explicit free, swept, the old copy of a move) is a free to Valgrind;
// memcheck makes the block inaccessible and remembers where it was freed. The previous hooks run
// first, while they may still read it.
void on_free(void* user, void* ptr, std::size_t n_bytes, FreeReason reason) {
    ValgrindBridge& b = bridge_of(user);
    if (b.previous.on_free != nullptr) b.previous.on_free(b.previous.user, ptr, n_bytes, reason);
    VALGRIND_FREELIKE_BLOCK(ptr, 0);
}

// A move was already described as an allocation and a free; only an in-place resize is new. The
// heap zeroed the bytes an object grows by, which memcheck would otherwise take as undefined.
void on_realloc(void* user, void* old_ptr, void* new_ptr, std::size_t old_bytes, std::size_t new_bytes) {
    ValgrindBridge& b = bridge_of(user);
    if (old_ptr == new_ptr && old_bytes != new_bytes) {
        VALGRIND_RESIZEINPLACE_BLOCK(old_ptr, old_bytes, new_bytes, 0);
        if (new_bytes > old_bytes) VALGRIND_MAKE_MEM_DEFINED(static_cast<char*>(old_ptr) + old_bytes, new_bytes - old_bytes);
    }
    if (b.previous.on_realloc != nullptr) b.previous.on_realloc(b.previous.user, old_ptr, new_ptr, old_bytes, new_bytes);
}

// The events Valgrind has no use for go straight to the previous hooks (when there are any: a
// null hook stays null, so the heap keeps skipping it).
void on_collect_start(void* user) {
    ValgrindBridge& b = bridge_of(user);
    b.previous.on_collect_start(b.previous.user);
}
void on_collect_end(void* user, const CollectionStats& stats) {
    ValgrindBridge& b = bridge_of(user);
    b.previous.on_collect_end(b.previous.user, stats);
}
void on_out_of_memory(void* user, std::size_t n_bytes) {
    ValgrindBridge& b = bridge_of(user);
    b.previous.on_out_of_memory(b.previous.user, n_bytes);
}
void on_pause(void* user, PauseKind kind, std::uint64_t ns) {
    ValgrindBridge& b = bridge_of(user);
    b.previous.on_pause(b.previous.user, kind, ns);
}

// Objects that were there before the bridge have to be described in one go, or memcheck would
// take their frees for frees of memory never allocated ("Invalid free()"). Their contents count
// as defined, as they did before.
void describe_live(void*, const HeapSpan& span) {
    if (span.object != nullptr) VALGRIND_MALLOCLIKE_BLOCK(span.object, span.n_blocks * kBlockBytes, 0, 1);
}

// When the bridge leaves, Valgrind forgets the live objects, but memcheck keeps them readable:
// the host still uses them.
void withdraw_live(void*, const HeapSpan& span) {
    if (span.object == nullptr) return;
    std::size_t n_bytes = span.n_blocks * kBlockBytes;
    VALGRIND_FREELIKE_BLOCK(span.object, 0);
    VALGRIND_MAKE_MEM_DEFINED(span.object, n_bytes);
}

}  // namespace

bool valgrind_running() { return RUNNING_ON_VALGRIND != 0; }

// The bridge's hooks wrap whatever was installed: the previous hooks are kept in the bridge and
// called from its own, so a profiler (or the host's own observer) attached first keeps working.
bool attach_valgrind(Heap& heap, ValgrindBridge& bridge) {
    if (bridge.heap != nullptr || !valgrind_running()) return false;
    bridge.previous = heap.event_hooks();
    bridge.heap = &heap;
    heap.walk(describe_live, &bridge);

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
bool detach_valgrind(ValgrindBridge& bridge) {
    if (bridge.heap == nullptr) return false;
    Heap& heap = *bridge.heap;
    EventHooks current = heap.event_hooks();
    if (current.user != &bridge || current.on_alloc != on_alloc) return false;
    heap.set_event_hooks(bridge.previous);
    heap.walk(withdraw_live, &bridge);
    bridge = ValgrindBridge{};
    return true;
}

}  // namespace uheap::bridges
