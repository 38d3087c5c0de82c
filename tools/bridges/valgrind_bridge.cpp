// SPDX-License-Identifier: MIT
// The Valgrind bridge: EventHooks that issue Valgrind's malloc-like client requests, chained to
// the hooks that were there before (hook_chain.hpp does the chaining).
#include "valgrind_bridge.hpp"

#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>

#include "hook_chain.hpp"

namespace uheap::bridges {
namespace {

// Valgrind records the stack of the client request, so the block is described from inside the
// hook, below the host's call to alloc() or realloc(): that call is the site massif and memcheck
// name (the request stays in the hook itself, not in a helper, so that the hook is the innermost
// frame). No red zone: objects are packed block against block. The heap has zeroed the object,
// so it is described as defined. The tool hears first (memcheck now lets anyone read the object),
// then the previous hooks.
void on_alloc(void* user, void* ptr, std::size_t n_bytes, unsigned flags, std::uint16_t tag) {
    VALGRIND_MALLOCLIKE_BLOCK(ptr, n_bytes, 0, 1);
    hook_chain::forward_alloc<ValgrindBridge>(user, ptr, n_bytes, flags, tag);
}

// Every way an object goes (explicit free, swept, the old copy of a move) is a free to Valgrind;
// memcheck makes the block inaccessible and remembers where it was freed: from this hook, below
// the collection or the host's call to free() or realloc() that let the object go. The previous
// hooks run first, while they may still read it.
void on_free(void* user, void* ptr, std::size_t n_bytes, FreeReason reason) {
    hook_chain::forward_free<ValgrindBridge>(user, ptr, n_bytes, reason);
    VALGRIND_FREELIKE_BLOCK(ptr, 0);
}

// A move was already described as an allocation and a free; only an in-place resize is new. The
// heap zeroed the bytes an object grows by, which memcheck would otherwise take as undefined.
void on_realloc(void* user, void* old_ptr, void* new_ptr, std::size_t old_bytes, std::size_t new_bytes) {
    if (old_ptr == new_ptr && old_bytes != new_bytes) {
        VALGRIND_RESIZEINPLACE_BLOCK(old_ptr, old_bytes, new_bytes, 0);
        if (new_bytes > old_bytes) VALGRIND_MAKE_MEM_DEFINED(static_cast<char*>(old_ptr) + old_bytes, new_bytes - old_bytes);
    }
    hook_chain::forward_realloc<ValgrindBridge>(user, old_ptr, new_ptr, old_bytes, new_bytes);
}

constexpr hook_chain::ToolHooks kToolHooks{on_alloc, on_free, on_realloc};

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

// Outside Valgrind nothing is installed, so the heap keeps its fast allocation path.
bool attach_valgrind(Heap& heap, ValgrindBridge& bridge) {
    if (bridge.heap != nullptr || !valgrind_running()) return false;
    hook_chain::attach(heap, bridge, kToolHooks, describe_live);
    return true;
}

bool detach_valgrind(ValgrindBridge& bridge) { return hook_chain::detach(bridge, kToolHooks, withdraw_live); }

}  // namespace uheap::bridges
