// SPDX-License-Identifier: MIT
/// @file
/// Heaptrack bridge: reports every uheap object to heaptrack (https://github.com/KDE/heaptrack)
/// as if it had been malloc()ed and free()d at the host's call site, so heaptrack_print and
/// heaptrack_gui show the heap's allocations, peaks and leftovers by backtrace.
///
/// Optional and outside the core library (target uheap_heaptrack_bridge, docs/bridges.md). It
/// needs no heaptrack header at build time: heaptrack's entry points (heaptrack_malloc,
/// heaptrack_realloc, heaptrack_free, which heaptrack_api.h's heaptrack_report_* macros call) are
/// looked up when the bridge is attached, and are only there when the process runs under
/// `heaptrack` (its libheaptrack_preload.so defines them). Otherwise attaching installs nothing.
#pragma once

#include <cstddef>

#include "uheap/events.hpp"
#include "uheap/heap.hpp"

namespace uheap::bridges {

/// The bridge's state, owned by the caller for as long as it is attached (EventHooks has one
/// `user` pointer: this is it). Zero-initialised, it is detached.
struct HeaptrackBridge {
    Heap* heap = nullptr;   ///< the heap it is attached to; null when detached
    EventHooks previous{};  ///< the hooks in force before attaching: called from the bridge's, restored by detach
    void (*report_alloc)(void* ptr, std::size_t size) = nullptr;                ///< heaptrack_malloc
    void (*report_realloc)(void* old_ptr, std::size_t size, void* new_ptr) = nullptr;  ///< heaptrack_realloc
    void (*report_free)(void* ptr) = nullptr;                                   ///< heaptrack_free
};

/// Whether this process runs under heaptrack (its reporting entry points are loaded).
bool heaptrack_running();

/// Reports every object on `heap` to heaptrack from now on: allocations (realloc()'s new copies
/// included), frees (explicit, swept at the collection that finds the object dead, the old copy
/// of a move) and in-place resizes, with whole-block sizes. Objects already on the heap are
/// reported as allocated here. The hooks in force are kept in `bridge.previous` and still called.
/// Returns false, installing nothing (no cost), when heaptrack is not running or `bridge` is
/// already attached. Call it outside a collection; the heap's later attachers must chain too
/// (uheap::Profiler::attach() replaces the hooks: attach the profiler first).
bool attach_heaptrack(Heap& heap, HeaptrackBridge& bridge);

/// Restores `bridge.previous` and reports the heap's live objects as freed (heaptrack forgets the
/// heap; objects still alive when the program ends without detaching show as leaked). Returns
/// false, changing nothing, if `bridge` is not attached or if hooks installed after it are in
/// force (detach in the reverse order of attaching).
bool detach_heaptrack(HeaptrackBridge& bridge);

}  // namespace uheap::bridges
