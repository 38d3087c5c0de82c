// SPDX-License-Identifier: MIT
// MicroPython's garbage-collector interface (py/gc.h) implemented on uheap's C API.
//
// Compiled by a MicroPython build in place of py/gc.c, linked with libuheap.a. MicroPython keeps
// its policy state where the rest of the interpreter reads and writes it (MP_STATE_MEM for the
// threshold, auto-collect switch and collection count, MP_STATE_THREAD for the per-thread lock
// depth and collecting flag); this file turns that state into uheap calls at the moment it
// matters. uheap owns the blocks, the tables, the free-run index and the mark-and-sweep.
//
// Where things live:
//   - the uheap handle is stored in MP_STATE_MEM(area).gc_alloc_table_start, so code that
//     snapshots and restores the whole mp_state_mem_t (ports/unix/coverage.c does) gets the
//     matching heap back with it;
//   - uheap's own lock is never used: MicroPython's lock is per thread, so every entry point
//     checks MP_STATE_THREAD(gc_lock_depth) itself;
//   - MicroPython's policy state (auto-collect switch, threshold) lives in MP_STATE_MEM, where
//     py/modgc.c writes it directly; gc_alloc() hands it to uheap's policy when it changed
//     (port_sync_policy), and uheap's policy does the rest: the threshold collection, one try,
//     one collection (through port_collect, which releases the GC mutex around gc_collect() as
//     MicroPython does) and a retry, then growing a new area.
#include <assert.h>
#include <stddef.h>
#include <stdlib.h>  // malloc/free: the default MP_PLAT_ALLOC_HEAP / MP_PLAT_FREE_HEAP
#include <string.h>

#include "py/gc.h"
#include "py/runtime.h"

#include "uheap/uheap.h"

#if MICROPY_ENABLE_GC

#define UHEAP_PORT_BLOCK_BYTES (MICROPY_BYTES_PER_GC_BLOCK)

// The library's block size is fixed when it is built (four machine words unless UHEAP_BLOCK_BYTES
// says otherwise); it must be MicroPython's, or gc_nbytes() and the threshold would disagree.
#ifdef UHEAP_BLOCK_BYTES
MP_STATIC_ASSERT(UHEAP_BLOCK_BYTES == MICROPY_BYTES_PER_GC_BLOCK);
#else
MP_STATIC_ASSERT(4 * sizeof(void *) == MICROPY_BYTES_PER_GC_BLOCK);
#endif
MP_STATIC_ASSERT(UHEAP_FINALISER == GC_ALLOC_FLAG_HAS_FINALISER);

// ---- the GC mutex (threads without a GIL) ------------------------------------------------

#if MICROPY_PY_THREAD && !MICROPY_PY_THREAD_GIL
#define PORT_MUTEX_INIT() mp_thread_recursive_mutex_init(&MP_STATE_MEM(gc_mutex))
#define PORT_ENTER() mp_thread_recursive_mutex_lock(&MP_STATE_MEM(gc_mutex), 1)
#define PORT_EXIT() mp_thread_recursive_mutex_unlock(&MP_STATE_MEM(gc_mutex))
#else
// No threads, or the GIL already serialises every caller.
#define PORT_MUTEX_INIT()
#define PORT_ENTER()
#define PORT_EXIT()
#endif

// ---- state -------------------------------------------------------------------------------

static inline uheap_t *port_heap(void) {
    return (uheap_t *)(void *)MP_STATE_MEM(area).gc_alloc_table_start;
}


// gc_collect() reached again from inside a collection on the same thread (a finaliser calling
// gc.collect()): the inner start/end pair is a no-op. Only touched with the GC mutex held.
static unsigned port_nested_collections;

#if MICROPY_GC_SPLIT_HEAP_AUTO
// Bytes of the allocation in progress, for port_grow() (uheap's grow callback proposes a
// doubled heap, and this is what the allocation itself needs). Only touched with the mutex held.
static size_t port_pending_bytes;
#endif

// The MicroPython policy state last handed to uheap, so gc_alloc() pays a comparison, not a call,
// when nothing changed. Only touched with the GC mutex held.
static bool port_synced_auto_collect = true;
#if MICROPY_GC_ALLOC_THRESHOLD
static size_t port_synced_threshold = (size_t)-1;
#endif

// Set by port_collect(): other threads allocated while the GC mutex was released around the
// collection, so what it freed may be theirs now (see port_retry_allocation). Only touched with
// the GC mutex held.
static bool port_others_allocated;

// ---- callbacks uheap makes ---------------------------------------------------------------

#if MICROPY_ENABLE_FINALISER
// A dead object allocated with GC_ALLOC_FLAG_HAS_FINALISER: its first word is its type (NULL if
// the caller never set it). Call the type's __del__, if any, the way the VM calls any function
// that must not unwind into the collector: protected, with the scheduler held off. Anything it
// tries to allocate fails (the collecting flag is set), and the exception that causes is printed.
static void port_run_finaliser(void *user, void *object) {
    (void)user;
    mp_obj_base_t *base = (mp_obj_base_t *)object;
    if (base->type == NULL) {
        return;
    }
    mp_obj_t method[2];
    mp_load_method_maybe(MP_OBJ_FROM_PTR(base), MP_QSTR___del__, method);
    if (method[0] == MP_OBJ_NULL) {
        return;
    }
    #if MICROPY_ENABLE_SCHEDULER
    mp_sched_lock();
    #endif
    mp_call_function_1_protected(method[0], method[1]);
    #if MICROPY_ENABLE_SCHEDULER
    mp_sched_unlock();
    #endif
}
#endif

#if MICROPY_PY_WEAKREF
static void port_weak_object_dying(void *user, void *object) {
    (void)user;
    gc_weakref_about_to_be_freed(object);
}
#endif

// uheap's automatic collection (out of memory, threshold) is MicroPython's gc_collect(), run with
// the GC mutex released as py/gc.c's gc_alloc() does, so the collection's own entry and exit and
// the weakref callbacks at its end see the mutex as they would there.
static void port_collect(void *user) {
    (void)user;
    uheap_counters_t before, after;
    uheap_counters(port_heap(), &before);
    PORT_EXIT();
    gc_collect();
    PORT_ENTER();
    uheap_counters(port_heap(), &after);
    port_others_allocated = after.allocations != before.allocations;
}

// MicroPython's threshold is in blocks, (size_t)-1 = off, 0 = before every allocation; uheap's
// is in bytes, 0 = off, and at least one block: 0 becomes one block (a collection before every
// allocation but the first after a collection).
static void port_sync_policy(uheap_t *heap) {
    bool auto_collect = MP_STATE_MEM(gc_auto_collect_enabled) != 0;
    if (auto_collect != port_synced_auto_collect) {
        uheap_set_auto_collect(heap, auto_collect);
        port_synced_auto_collect = auto_collect;
    }
    #if MICROPY_GC_ALLOC_THRESHOLD
    size_t threshold = MP_STATE_MEM(gc_alloc_threshold);
    if (threshold != port_synced_threshold) {
        size_t blocks = threshold == (size_t)-1 ? 0 : (threshold == 0 ? 1 : threshold);
        uheap_set_threshold(heap, blocks > (size_t)-1 / UHEAP_PORT_BLOCK_BYTES ? (size_t)-1 : blocks * UHEAP_PORT_BLOCK_BYTES);
        port_synced_threshold = threshold;
    }
    #endif
}

#if MICROPY_GC_SPLIT_HEAP_AUTO
// uheap asks for a new area when an allocation does not fit after a collection. It proposes a
// size that roughly doubles the heap; take that, or as much as the system has, as long as the
// failed allocation fits.
static bool port_grow(void *user, size_t proposed_bytes, void **region, size_t *region_bytes) {
    (void)user;
    if (port_pending_bytes == 0) {
        return false;
    }
    size_t needed = uheap_region_bytes_for(port_pending_bytes);
    size_t available = gc_get_max_new_split();
    if (available < needed) {
        return false;
    }
    size_t wanted = MAX(proposed_bytes, needed);
    size_t n_bytes = MIN(available, wanted);
    void *memory = MP_PLAT_ALLOC_HEAP(n_bytes);
    if (memory == NULL) {
        return false;
    }
    *region = memory;
    *region_bytes = n_bytes;
    return true;
}

static void port_release(void *user, void *region, size_t region_bytes) {
    (void)user;
    (void)region_bytes;
    MP_PLAT_FREE_HEAP(region);
}
#endif

// ---- creation ----------------------------------------------------------------------------

// The heap's control data, in static memory as py/gc.c keeps its own state, so the region
// MicroPython hands in is all tables and pool. One heap at a time can live there: the one over
// `port_control_region`. A gc_init() over the same region (a soft reset) reuses it. A gc_init()
// over another region while a heap lives there lays the new heap's control data in its own
// region instead (a smaller pool), because the old heap may still be in use: the unix coverage
// test saves MicroPython's memory state, builds and drops small heaps, then restores the state
// and carries on with the original heap.
static uint64_t port_control[(UHEAP_CONTROL_BYTES + 7) / 8];
static void *port_control_region;

void gc_init(void *start, void *end) {
    size_t region_bytes = (size_t)((byte *)end - (byte *)start);
    uheap_config_t config;
    memset(&config, 0, sizeof(config));
    // uheap's mark stack is MicroPython's own static one (gc_block_stack, which nothing else
    // uses with this heap). Any size is correct: an overflow rescans the marked objects of a
    // few blocks, never the heap.
    config.mark_stack = (void *)MP_STATE_MEM(gc_block_stack);
    config.mark_stack_bytes = sizeof(MP_STATE_MEM(gc_block_stack));
    bool static_control = port_control_region == NULL || port_control_region == start;
    if (static_control) {
        config.control = port_control;
        config.control_bytes = sizeof(port_control);
    }
    uheap_t *heap = NULL;
    if (uheap_block_bytes() == UHEAP_PORT_BLOCK_BYTES) {
        heap = uheap_create(start, region_bytes, &config, NULL);
    }
    if (heap != NULL && static_control) {
        port_control_region = start;
    }
    assert(heap != NULL);

    mp_state_mem_area_t *area = &MP_STATE_MEM(area);
    memset(area, 0, sizeof(*area));
    area->gc_alloc_table_start = (byte *)(void *)heap;
    area->gc_pool_start = (byte *)start;
    area->gc_pool_end = (byte *)end;
    #if MICROPY_GC_SPLIT_HEAP
    MP_STATE_MEM(area_pool_min) = (byte *)start;
    MP_STATE_MEM(area_pool_max) = (byte *)end;
    MP_STATE_MEM(gc_last_free_area) = area;
    #endif

    if (heap != NULL) {
        #if MICROPY_ENABLE_FINALISER
        uheap_set_finaliser(heap, port_run_finaliser, NULL);
        #endif
        #if MICROPY_PY_WEAKREF
        // The after-sweep weak callback is not given to uheap: gc_weakref_sweep() must run after
        // this thread's collecting flag is cleared and the GC mutex released (gc_collect_end).
        uheap_set_weak_callbacks(heap, port_weak_object_dying, NULL, NULL);
        #endif
        uheap_set_collect_callback(heap, port_collect, NULL);
        port_synced_auto_collect = true;  // uheap's default, and MicroPython's below
        #if MICROPY_GC_ALLOC_THRESHOLD
        port_synced_threshold = (size_t)-1;
        #endif
        #if MICROPY_GC_SPLIT_HEAP_AUTO
        uheap_set_grow_callback(heap, port_grow, port_release, NULL);
        #endif
    }

    MP_STATE_THREAD(gc_lock_depth) = 0;
    MP_STATE_MEM(gc_auto_collect_enabled) = 1;
    #if MICROPY_GC_ALLOC_THRESHOLD
    MP_STATE_MEM(gc_alloc_threshold) = (size_t)-1;  // off
    MP_STATE_MEM(gc_alloc_amount) = 0;              // unused: uheap counts what was allocated
    #endif
    #if MICROPY_PY_GC_COLLECT_RETVAL
    MP_STATE_MEM(gc_collected) = 0;
    #endif
    PORT_MUTEX_INIT();
}

#if MICROPY_GC_SPLIT_HEAP
void gc_add(void *start, void *end) {
    PORT_ENTER();
    uheap_t *heap = port_heap();
    if (heap != NULL && uheap_add_area(heap, start, (size_t)((byte *)end - (byte *)start)) == UHEAP_OK) {
        MP_STATE_MEM(area_pool_min) = MIN(MP_STATE_MEM(area_pool_min), (byte *)start);
        MP_STATE_MEM(area_pool_max) = MAX(MP_STATE_MEM(area_pool_max), (byte *)end);
    }
    PORT_EXIT();
}
#endif

// ---- locking -----------------------------------------------------------------------------

// Per thread and without the mutex: each thread changes only its own depth.
void gc_lock(void) {
    MP_STATE_THREAD(gc_lock_depth) += (1 << GC_LOCK_DEPTH_SHIFT);
}

void gc_unlock(void) {
    MP_STATE_THREAD(gc_lock_depth) -= (1 << GC_LOCK_DEPTH_SHIFT);
}

bool gc_is_locked(void) {
    return MP_STATE_THREAD(gc_lock_depth) != 0;
}

// ---- collection --------------------------------------------------------------------------

void gc_collect_root(void **ptrs, size_t len) {
    if (port_nested_collections > 0) {
        return;  // the outer collection is already past its roots
    }
    uheap_t *heap = port_heap();
    // Reported in slices so a port's MICROPY_GC_HOOK_LOOP still runs during long root ranges.
    const size_t slice = 1024;
    for (size_t i = 0; i < len; i += slice) {
        MICROPY_GC_HOOK_LOOP(i);
        uheap_collect_root(heap, (void *const *)(ptrs + i), MIN(slice, len - i));
    }
}

void gc_collect_start(void) {
    PORT_ENTER();
    if (MP_STATE_THREAD(gc_lock_depth) & GC_COLLECT_FLAG) {
        ++port_nested_collections;
        return;
    }
    // uheap refuses to start while its own collection runs (Status::collecting): a __del__ that
    // released the GIL let this thread in while another thread's collection is finalising. Then
    // this is a nested collection too: it reports no roots into, and does not end, the other one.
    if (uheap_collect_start(port_heap()) != UHEAP_OK) {
        ++port_nested_collections;
        return;
    }
    MP_STATE_THREAD(gc_lock_depth) |= GC_COLLECT_FLAG;

    // The root-pointer section of the global state: from the thread state's dict_locals up to
    // (not including) the VM state's qstr_last_chunk, contiguous in mp_state_ctx.
    void **state = (void **)(void *)&mp_state_ctx;
    size_t roots_begin = offsetof(mp_state_ctx_t, thread.dict_locals) / sizeof(void *);
    size_t roots_end = offsetof(mp_state_ctx_t, vm.qstr_last_chunk) / sizeof(void *);
    gc_collect_root(state + roots_begin, roots_end - roots_begin);

    #if MICROPY_ENABLE_PYSTACK
    // The used part of this thread's Python stack.
    void **pystack = (void **)(void *)MP_STATE_THREAD(pystack_start);
    gc_collect_root(pystack, (size_t)(MP_STATE_THREAD(pystack_cur) - MP_STATE_THREAD(pystack_start)) / sizeof(void *));
    #endif
}

// Clears the collecting flag and the mutex, then lets the weakref module call its callbacks
// (which may allocate).
static void port_finish_collection(uheap_t *heap) {
    #if MICROPY_PY_GC_COLLECT_RETVAL
    uheap_counters_t counters;
    uheap_counters(heap, &counters);
    MP_STATE_MEM(gc_collected) = counters.last_collect_freed;
    #else
    (void)heap;
    #endif
    MP_STATE_THREAD(gc_lock_depth) &= ~GC_COLLECT_FLAG;
    PORT_EXIT();
    #if MICROPY_PY_WEAKREF
    gc_weakref_sweep();
    #endif
}

void gc_collect_end(void) {
    if (port_nested_collections > 0) {
        --port_nested_collections;
        PORT_EXIT();
        return;
    }
    uheap_t *heap = port_heap();
    uheap_collect_end(heap);
    port_finish_collection(heap);
}

void gc_sweep_all(void) {
    PORT_ENTER();
    assert((MP_STATE_THREAD(gc_lock_depth) & GC_COLLECT_FLAG) == 0);
    MP_STATE_THREAD(gc_lock_depth) |= GC_COLLECT_FLAG;
    uheap_t *heap = port_heap();
    uheap_sweep_all(heap);
    port_finish_collection(heap);
}

// ---- objects -----------------------------------------------------------------------------

#if MICROPY_PY_THREAD && MICROPY_PY_THREAD_GIL
#if defined(__unix__)
#include <sched.h>
// Lets a thread waiting for the GIL take it (see port_wait_for_other_collection).
static void port_yield(void) {
    sched_yield();
}
#else
static void port_yield(void) {
}
#endif

// With a GIL, a __del__ run by one thread's collection executes bytecode, and the VM hands the
// GIL to other threads as it runs. uheap refuses an allocation while a collection runs
// (Status::locked: MicroPython's lock is per thread, uheap's phase is per heap), and a second
// collection inside the first. Rather than fail, the allocating thread waits, with the GIL
// released, until that collection has ended: true if it waited.
static bool port_wait_for_other_collection(uheap_t *heap) {
    if (!uheap_is_collecting(heap) || (MP_STATE_THREAD(gc_lock_depth) & GC_COLLECT_FLAG)) {
        return false;  // no collection of another thread's to wait for
    }
    do {
        MP_THREAD_GIL_EXIT();
        port_yield();
        MP_THREAD_GIL_ENTER();
    } while (uheap_is_collecting(heap));
    return true;
}
#else
// Without a GIL the collecting thread holds the GC mutex from start to end, finalisers
// included, so no other thread allocates during a collection; without threads nothing can.
static bool port_wait_for_other_collection(uheap_t *heap) {
    (void)heap;
    return false;
}
#endif

// Attempts an allocation makes at most (each may collect once).
#define PORT_ALLOC_ATTEMPTS (4)

// Whether a failed allocation should try again. The collection an allocation runs happens with
// the GC mutex released (as py/gc.c does), so with threads another thread may take what it
// freed before this one retries: MemoryError although the live data fits. So: try again (and
// collect again) when other threads allocated during this attempt's collection, or after waiting for
// another thread's collection; a bounded number of times, so a heap that is really full still
// fails.
static bool port_retry_allocation(uheap_t *heap, unsigned attempt) {
    uheap_status_t why = uheap_last_status(heap);
    if ((why != UHEAP_OUT_OF_MEMORY && why != UHEAP_LOCKED) || attempt >= PORT_ALLOC_ATTEMPTS) {
        return false;
    }
    if (port_wait_for_other_collection(heap)) {
        return true;
    }
    return why == UHEAP_OUT_OF_MEMORY && port_others_allocated;
}

// One attempt at an allocation (or move) through uheap's policy, with MicroPython's settings
// handed over first.
static inline void *port_allocate_once(uheap_t *heap, void *ptr, size_t n_bytes, unsigned flags) {
    port_sync_policy(heap);
    #if MICROPY_GC_SPLIT_HEAP_AUTO
    port_pending_bytes = n_bytes;
    #endif
    void *out = ptr == NULL ? uheap_alloc(heap, n_bytes, flags) : uheap_realloc(heap, ptr, n_bytes, true);
    #if MICROPY_GC_SPLIT_HEAP_AUTO
    port_pending_bytes = 0;
    #endif
    return out;
}

// The attempts after a failed first one (port_retry_allocation), out of line so the common
// path stays one inlined attempt.
static MP_NOINLINE void *port_allocate_again(uheap_t *heap, void *ptr, size_t n_bytes, unsigned flags) {
    void *out = NULL;
    for (unsigned attempt = 1; out == NULL && port_retry_allocation(heap, attempt); ++attempt) {
        port_others_allocated = false;
        out = port_allocate_once(heap, ptr, n_bytes, flags);
    }
    return out;
}

// An allocation: one attempt, and more only when port_retry_allocation() says so.
static inline void *port_allocate(uheap_t *heap, void *ptr, size_t n_bytes, unsigned flags) {
    port_others_allocated = false;
    void *out = port_allocate_once(heap, ptr, n_bytes, flags);
    return out != NULL ? out : port_allocate_again(heap, ptr, n_bytes, flags);
}

void *gc_alloc(size_t n_bytes, unsigned int alloc_flags) {
    if (n_bytes == 0 || MP_STATE_THREAD(gc_lock_depth) > 0) {
        return NULL;
    }
    unsigned flags = 0;
    #if MICROPY_ENABLE_FINALISER
    // uheap zeroes the object, so a finaliser object's type word reads NULL until it is set.
    flags = (alloc_flags & GC_ALLOC_FLAG_HAS_FINALISER) ? UHEAP_FINALISER : 0;
    #else
    (void)alloc_flags;
    #endif
    PORT_ENTER();
    uheap_t *heap = port_heap();
    void *ptr = heap != NULL ? port_allocate(heap, NULL, n_bytes, flags) : NULL;
    PORT_EXIT();
    return ptr;
}

// Frees now without running the finaliser. Ignored while this thread holds gc_lock(), allowed
// while it is only collecting (finalisers may free).
void gc_free(void *ptr) {
    if (MP_STATE_THREAD(gc_lock_depth) & ~GC_COLLECT_FLAG) {
        return;
    }
    if (ptr == NULL) {
        return;
    }
    PORT_ENTER();
    uheap_status_t status = uheap_free(port_heap(), ptr);
    // MicroPython only frees what it allocated, and never an object with weak references.
    assert(status != UHEAP_FOREIGN_POINTER && status != UHEAP_NOT_OBJECT_START
        && status != UHEAP_ALREADY_FREE && status != UHEAP_WEAKLY_REFERENCED);
    (void)status;
    PORT_EXIT();
}

size_t gc_nbytes(const void *ptr) {
    PORT_ENTER();
    uheap_t *heap = port_heap();
    size_t n_bytes = heap != NULL ? uheap_size_of(heap, ptr) : 0;
    PORT_EXIT();
    return n_bytes;
}

void *gc_realloc(void *ptr, size_t n_bytes, bool allow_move) {
    if (ptr == NULL) {
        return gc_alloc(n_bytes, 0);
    }
    if (n_bytes == 0) {
        gc_free(ptr);
        return NULL;
    }
    if (MP_STATE_THREAD(gc_lock_depth) > 0) {
        return NULL;
    }
    PORT_ENTER();
    uheap_t *heap = port_heap();
    // In place first (same size, shrink, or grow into free blocks that follow): no policy needed.
    void *out = uheap_realloc(heap, ptr, n_bytes, false);
    if (out == NULL && allow_move) {
        // Moving is an allocation: threshold and out-of-memory policy apply. uheap keeps the
        // finaliser flag and pins `ptr` through any collection the move triggers.
        out = port_allocate(heap, ptr, n_bytes, 0);
    }
    PORT_EXIT();
    return out;
}

#if MICROPY_PY_WEAKREF
void gc_weakref_mark(void *ptr) {
    PORT_ENTER();
    uheap_status_t status = uheap_set_weak(port_heap(), ptr);
    assert(status == UHEAP_OK);
    (void)status;
    PORT_EXIT();
}
#endif

// ---- statistics and reports --------------------------------------------------------------

void gc_info(gc_info_t *info) {
    PORT_ENTER();
    uheap_info_t exact;
    memset(&exact, 0, sizeof(exact));
    if (port_heap() != NULL) {
        uheap_info(port_heap(), &exact);
    }
    info->total = exact.total;
    info->used = exact.used;
    info->free = exact.free;
    info->max_free = exact.max_free;
    info->num_1block = exact.num_1block;
    info->num_2block = exact.num_2block;
    info->max_block = exact.max_block;
    #if MICROPY_GC_SPLIT_HEAP_AUTO
    info->max_new_split = gc_get_max_new_split();
    #endif
    PORT_EXIT();
}

void gc_info_fast(gc_info_t *info) {
    PORT_ENTER();
    memset(info, 0, sizeof(*info));
    if (port_heap() != NULL) {
        uheap_info_t counted;
        uheap_info_fast(port_heap(), &counted);
        info->total = counted.total;
        info->used = counted.used;
        info->free = counted.free;
    }
    PORT_EXIT();
}

void gc_dump_info(const mp_print_t *print) {
    gc_info_t info;
    gc_info(&info);
    mp_printf(print, "GC: total: %u, used: %u, free: %u",
        (uint)info.total, (uint)info.used, (uint)info.free);
    #if MICROPY_GC_SPLIT_HEAP_AUTO
    mp_printf(print, ", max new split: %u", (uint)info.max_new_split);
    #endif
    mp_printf(print, "\n No. of 1-blocks: %u, 2-blocks: %u, max blk sz: %u, max free sz: %u\n",
        (uint)info.num_1block, (uint)info.num_2block, (uint)info.max_block, (uint)info.max_free);
}

static void port_print(void *user, const char *text, size_t len) {
    const mp_print_t *print = (const mp_print_t *)user;
    print->print_strn(print->data, text, len);
}

// The character for an object head in the block map, from its type word.
static char port_head_letter(void *user, const void *object) {
    (void)user;
    const void *type = *(const void *const *)object;
    if (type == &mp_type_tuple) {
        return 'T';
    }
    if (type == &mp_type_list) {
        return 'L';
    }
    if (type == &mp_type_dict) {
        return 'D';
    }
    if (type == &mp_type_str || type == &mp_type_bytes) {
        return 'S';
    }
    #if MICROPY_PY_BUILTINS_BYTEARRAY
    if (type == &mp_type_bytearray) {
        return 'A';
    }
    #endif
    #if MICROPY_PY_ARRAY
    if (type == &mp_type_array) {
        return 'A';
    }
    #endif
    #if MICROPY_PY_BUILTINS_FLOAT
    if (type == &mp_type_float) {
        return 'F';
    }
    #endif
    if (type == &mp_type_fun_bc) {
        return 'B';
    }
    if (type == &mp_type_module) {
        return 'M';
    }
    return 'h';
}

void gc_dump_alloc_table(const mp_print_t *print) {
    PORT_ENTER();
    if (port_heap() != NULL) {
        uheap_dump_alloc_table(port_heap(), port_print, (void *)print, port_head_letter, NULL);
    }
    PORT_EXIT();
}

#endif // MICROPY_ENABLE_GC
