// SPDX-License-Identifier: MIT
/// @file
/// Valgrind bridge: describes every uheap object to Valgrind as a malloc-like block
/// (VALGRIND_MALLOCLIKE_BLOCK / VALGRIND_FREELIKE_BLOCK), so massif attributes the heap's bytes
/// to the host's call sites, and memcheck names the allocation and free sites of an object the
/// host uses after the heap freed it ("block was alloc'd at ...").
///
/// Optional and outside the core library (target uheap_valgrind_bridge, built when
/// <valgrind/valgrind.h> and <valgrind/memcheck.h> are found; docs/bridges.md). Outside Valgrind
/// the client requests cost a few instructions, and attaching installs nothing at all.
/// Memcheck then sees the heap's own later writes into freed blocks (zeroing a block it hands out
/// again): tools/bridges/uheap.supp suppresses those.
#pragma once

#include "uheap/events.hpp"
#include "uheap/heap.hpp"

namespace uheap::bridges {

/// The bridge's state, owned by the caller for as long as it is attached (EventHooks has one
/// `user` pointer: this is it). Zero-initialised, it is detached.
struct ValgrindBridge {
    Heap* heap = nullptr;   ///< the heap it is attached to; null when detached
    EventHooks previous{};  ///< the hooks in force before attaching: called from the bridge's, restored by detach
};

/// Whether this process runs under Valgrind (any tool).
bool valgrind_running();

/// Describes every object on `heap` to Valgrind from now on: each allocation (realloc()'s new
/// copies included) as a zeroed malloc-like block of its whole-block size, each free (explicit,
/// swept at the collection that finds the object dead, the old copy of a move) as a free, and
/// in-place resizes. Objects already on the heap are described here, as allocated by this call.
/// The hooks in force are kept in `bridge.previous` and still called. Returns false, installing
/// nothing (no cost), when not running under Valgrind or if `bridge` is already attached. Call it
/// outside a collection; later attachers must chain too (uheap::Profiler::attach() replaces the
/// hooks: attach the profiler first).
bool attach_valgrind(Heap& heap, ValgrindBridge& bridge);

/// Restores `bridge.previous` and withdraws the heap's live objects from Valgrind (they stay
/// readable and defined to memcheck; it no longer reports on them). Returns false, changing
/// nothing, if `bridge` is not attached or if hooks installed after it are in force (detach in
/// the reverse order of attaching).
bool detach_valgrind(ValgrindBridge& bridge);

}  // namespace uheap::bridges
