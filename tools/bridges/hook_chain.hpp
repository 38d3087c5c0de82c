// SPDX-License-Identifier: MIT
// What the bridges share (internal: included by heaptrack_bridge.cpp and valgrind_bridge.cpp, not
// by hosts): chaining a bridge's EventHooks to the hooks that were there before. A bridge's state
// (`Bridge`: HeaptrackBridge, ValgrindBridge) has `Heap* heap` and `EventHooks previous`, and is
// the `user` of its hooks. The bridge writes only the three hooks that tell its tool something,
// and the walks that announce and withdraw the live objects; the events its tool has no use for,
// installing the chain and taking it off again are here.
#pragma once

#include <cstddef>
#include <cstdint>

#include "uheap/events.hpp"
#include "uheap/heap.hpp"

namespace uheap::bridges::hook_chain {

/// The bridge's own hooks: each tells the tool and calls the matching forward_*<Bridge>() below,
/// in the order that suits the tool (it is the bridge that knows whether the tool or the previous
/// hooks must hear first).
struct ToolHooks {
    decltype(EventHooks::on_alloc) on_alloc = nullptr;
    decltype(EventHooks::on_free) on_free = nullptr;
    decltype(EventHooks::on_realloc) on_realloc = nullptr;
};

// The three events every bridge hears go on to the previous hooks from inside the bridge's own
// hooks, so they must skip a previous hook that is null.
template <class Bridge>
void forward_alloc(void* user, void* ptr, std::size_t n_bytes, unsigned flags, std::uint16_t tag) {
    const EventHooks& prev = static_cast<Bridge*>(user)->previous;
    if (prev.on_alloc != nullptr) prev.on_alloc(prev.user, ptr, n_bytes, flags, tag);
}
template <class Bridge>
void forward_free(void* user, void* ptr, std::size_t n_bytes, FreeReason reason) {
    const EventHooks& prev = static_cast<Bridge*>(user)->previous;
    if (prev.on_free != nullptr) prev.on_free(prev.user, ptr, n_bytes, reason);
}
template <class Bridge>
void forward_realloc(void* user, void* old_ptr, void* new_ptr, std::size_t old_bytes, std::size_t new_bytes) {
    const EventHooks& prev = static_cast<Bridge*>(user)->previous;
    if (prev.on_realloc != nullptr) prev.on_realloc(prev.user, old_ptr, new_ptr, old_bytes, new_bytes);
}

// The events the tools have no use for go straight to the previous hooks. These are installed
// only over a previous hook that is not null (a null hook stays null, so the heap keeps skipping
// it), hence no check.
template <class Bridge>
void forward_collect_start(void* user) {
    const EventHooks& prev = static_cast<Bridge*>(user)->previous;
    prev.on_collect_start(prev.user);
}
template <class Bridge>
void forward_collect_end(void* user, const CollectionStats& stats) {
    const EventHooks& prev = static_cast<Bridge*>(user)->previous;
    prev.on_collect_end(prev.user, stats);
}
template <class Bridge>
void forward_out_of_memory(void* user, std::size_t n_bytes) {
    const EventHooks& prev = static_cast<Bridge*>(user)->previous;
    prev.on_out_of_memory(prev.user, n_bytes);
}
template <class Bridge>
void forward_pause(void* user, PauseKind kind, std::uint64_t ns) {
    const EventHooks& prev = static_cast<Bridge*>(user)->previous;
    prev.on_pause(prev.user, kind, ns);
}

/// Attaches a detached `bridge` (the caller checked) to `heap`: keeps the hooks in force in
/// `bridge.previous`, has `announce_live` tell the tool about every span already on the heap
/// (`user` is `&bridge`), then installs `own` chained to the previous hooks.
// The bridge's hooks wrap whatever was installed: the previous hooks are kept in the bridge and
// called from its own, so a profiler (or the host's own observer) attached first keeps working.
// The objects already there are announced before the hooks go in, so the tool never hears of the
// free of an object it was not told about.
template <class Bridge>
void attach(Heap& heap, Bridge& bridge, const ToolHooks& own, WalkFn announce_live) {
    bridge.previous = heap.event_hooks();
    bridge.heap = &heap;
    heap.walk(announce_live, &bridge);

    const EventHooks& prev = bridge.previous;
    EventHooks hooks;
    hooks.user = &bridge;
    hooks.on_alloc = own.on_alloc;
    hooks.on_free = own.on_free;
    hooks.on_realloc = own.on_realloc;
    hooks.on_collect_start = prev.on_collect_start != nullptr ? &forward_collect_start<Bridge> : nullptr;
    hooks.on_collect_end = prev.on_collect_end != nullptr ? &forward_collect_end<Bridge> : nullptr;
    hooks.on_out_of_memory = prev.on_out_of_memory != nullptr ? &forward_out_of_memory<Bridge> : nullptr;
    hooks.on_pause = prev.on_pause != nullptr ? &forward_pause<Bridge> : nullptr;
    heap.set_event_hooks(hooks);
}

/// Detaches `bridge`, attached with `own`: restores `bridge.previous`, has `withdraw_live` tell
/// the tool the live objects are gone (`user` is `&bridge`, still as attached), and resets
/// `bridge` to detached. Returns false, changing nothing, if `bridge` is not attached or if hooks
/// installed after it are in force.
// Only the bridge's own hooks are taken off: if someone chained on top of it since, removing it
// would cut them off too (and they still call into `bridge`), so it stays.
template <class Bridge>
bool detach(Bridge& bridge, const ToolHooks& own, WalkFn withdraw_live) {
    if (bridge.heap == nullptr) return false;
    Heap& heap = *bridge.heap;
    EventHooks current = heap.event_hooks();
    if (current.user != &bridge || current.on_alloc != own.on_alloc) return false;
    heap.set_event_hooks(bridge.previous);
    heap.walk(withdraw_live, &bridge);
    bridge = Bridge{};
    return true;
}

}  // namespace uheap::bridges::hook_chain
