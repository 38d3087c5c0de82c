/* SPDX-License-Identifier: MIT */
/* The C API of uheap: every heap operation for C hosts, a thin skin over the C++ Heap.
 *
 * Handle-based: a uheap_t lives inside the first region handed to uheap_create() (or in the
 * control memory the config gives), so a C host needs no allocator at all. Contracts (returns, failure cases, complexity) are those of the
 * matching member of uheap::Heap in uheap/heap.hpp; each function names it. Not thread-safe. */
#ifndef UHEAP_UHEAP_H
#define UHEAP_UHEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct uheap_heap uheap_t;

/* Statuses: same values and meaning as uheap::Status. */
typedef enum uheap_status_t {
    UHEAP_OK = 0,
    UHEAP_NULL_REGION,
    UHEAP_REGION_TOO_SMALL,
    UHEAP_SIZE_OVERFLOW,
    UHEAP_INVALID_ARGUMENT,
    UHEAP_FOREIGN_POINTER,
    UHEAP_NOT_OBJECT_START,
    UHEAP_ALREADY_FREE,
    UHEAP_LOCKED,
    UHEAP_COLLECTING,
    UHEAP_NOT_COLLECTING,
    UHEAP_OUT_OF_MEMORY,
    UHEAP_TOO_LARGE,
    UHEAP_CORRUPTED,
    UHEAP_WEAKLY_REFERENCED,
    UHEAP_PINNED,
    UHEAP_OVERLAP,
    UHEAP_ALREADY_REGISTERED
} uheap_status_t;

/* Allocation flags (uheap::AllocFlag). UHEAP_FINALISER equals MicroPython's
 * GC_ALLOC_FLAG_HAS_FINALISER. */
#define UHEAP_FINALISER 1u
#define UHEAP_NO_SCAN 2u
#define UHEAP_WEAK 4u

/* uheap::HeapConfig. Zero-initialise, then set what you need: 0 entries means the default
 * (sized from the region). */
typedef struct uheap_config_t {
    size_t mark_stack_entries;
    bool interior_pointers;
    bool collect_on_every_alloc;
    void *mark_stack;        /* the host's memory for the mark stack, or NULL */
    size_t mark_stack_bytes;
    void *control;           /* the host's memory for the heap's control data, or NULL */
    size_t control_bytes;
} uheap_config_t;

/* Bytes of control memory (uheap_config_t.control) that suffice on every target, for static
 * storage; uheap_control_bytes() gives the exact need (checked at build time). */
#define UHEAP_CONTROL_BYTES (73 * sizeof(void *) + 232)

/* uheap::Info: the first seven fields are MicroPython's gc_info_t. */
typedef struct uheap_info_t {
    size_t total, used, free, max_free, num_1block, num_2block, max_block;
    size_t objects, free_runs, areas, metadata_bytes;
    unsigned fragmentation_permille;
} uheap_info_t;

/* uheap::Counters. */
typedef struct uheap_counters_t {
    uint64_t allocations, frees, bytes_allocated, collections, objects_collected;
    size_t last_collect_freed;
    uint64_t last_pause_ns, max_pause_ns, total_pause_ns;
    size_t used_bytes, peak_used_bytes;
    uint64_t out_of_memory, mark_stack_overflows, finalisers_run, weak_notified, index_repairs;
    uint64_t areas_grown, areas_released;
} uheap_counters_t;

/* uheap::VerifyReport: invariant 0 = all hold, 1..7 = I1..I7. */
typedef struct uheap_verify_report_t {
    unsigned invariant;
    size_t area, block;
    const char *detail;
} uheap_verify_report_t;

typedef void (*uheap_print_fn)(void *user, const char *text, size_t len);
typedef char (*uheap_letter_fn)(void *user, const void *object);
typedef void (*uheap_finaliser_fn)(void *user, void *object);
typedef void (*uheap_weak_freed_fn)(void *user, void *object);
typedef void (*uheap_weak_sweep_fn)(void *user);
typedef void (*uheap_root_fn)(void *user);
typedef void (*uheap_collect_fn)(void *user);
typedef bool (*uheap_grow_fn)(void *user, size_t min_region_bytes, void **region, size_t *region_bytes);
typedef void (*uheap_release_fn)(void *user, void *region, size_t region_bytes);
typedef uint64_t (*uheap_clock_fn)(void *user);

/* Bytes per block the library was built with. */
size_t uheap_block_bytes(void);
/* Static name of a status. */
const char *uheap_status_name(uheap_status_t status);

/* Heap::create: config may be NULL for defaults; *status (if non-NULL) receives the outcome. */
uheap_t *uheap_create(void *region, size_t region_bytes, const uheap_config_t *config, uheap_status_t *status);
uheap_status_t uheap_add_area(uheap_t *heap, void *region, size_t region_bytes);
size_t uheap_region_bytes_for(size_t n_bytes);
/* uheap::blocks_for_bytes: whole blocks an object of n_bytes takes. */
size_t uheap_blocks_for_bytes(size_t n_bytes);
/* Heap::control_bytes: the exact control memory a heap needs (at most UHEAP_CONTROL_BYTES). */
size_t uheap_control_bytes(void);

void *uheap_alloc(uheap_t *heap, size_t n_bytes, unsigned flags);
void *uheap_alloc_tagged(uheap_t *heap, size_t n_bytes, unsigned flags, uint16_t tag);
uheap_status_t uheap_free(uheap_t *heap, void *ptr);
void *uheap_realloc(uheap_t *heap, void *ptr, size_t n_bytes, bool allow_move);
size_t uheap_size_of(const uheap_t *heap, const void *ptr);
unsigned uheap_flags_of(const uheap_t *heap, const void *ptr);
uheap_status_t uheap_set_weak(uheap_t *heap, void *ptr);
bool uheap_contains(const uheap_t *heap, const void *ptr);

uheap_status_t uheap_collect(uheap_t *heap);
uheap_status_t uheap_collect_start(uheap_t *heap);
void uheap_collect_root(uheap_t *heap, void *const *words, size_t n_words);
void uheap_collect_stack(uheap_t *heap);
uheap_status_t uheap_collect_end(uheap_t *heap);
uheap_status_t uheap_sweep_all(uheap_t *heap);
void uheap_set_stack_base(uheap_t *heap, const void *stack_base);

void uheap_lock(uheap_t *heap);
void uheap_unlock(uheap_t *heap);
bool uheap_is_locked(const uheap_t *heap);
unsigned uheap_lock_depth(const uheap_t *heap);
bool uheap_is_collecting(const uheap_t *heap);
void uheap_set_auto_collect(uheap_t *heap, bool enabled);
bool uheap_auto_collect(const uheap_t *heap);
void uheap_set_threshold(uheap_t *heap, size_t n_bytes);
size_t uheap_threshold(const uheap_t *heap);
size_t uheap_allocated_since_collect(const uheap_t *heap);

void uheap_set_root_callback(uheap_t *heap, uheap_root_fn fn, void *user);
void uheap_set_finaliser(uheap_t *heap, uheap_finaliser_fn fn, void *user);
void uheap_set_weak_callbacks(uheap_t *heap, uheap_weak_freed_fn freed, uheap_weak_sweep_fn after_sweep, void *user);
void uheap_set_collect_callback(uheap_t *heap, uheap_collect_fn fn, void *user);
void uheap_set_grow_callback(uheap_t *heap, uheap_grow_fn grow, uheap_release_fn release, void *user);
void uheap_set_clock(uheap_t *heap, uheap_clock_fn fn, void *user);

void uheap_info(const uheap_t *heap, uheap_info_t *info);
void uheap_info_fast(const uheap_t *heap, uheap_info_t *info);
void uheap_counters(const uheap_t *heap, uheap_counters_t *counters);
void uheap_dump_info(const uheap_t *heap, uheap_print_fn print, void *print_user);
void uheap_dump_alloc_table(const uheap_t *heap, uheap_print_fn print, void *print_user,
                            uheap_letter_fn letter, void *letter_user);
uheap_verify_report_t uheap_verify(const uheap_t *heap);
uheap_status_t uheap_last_status(const uheap_t *heap);

#ifdef __cplusplus
}
#endif

#endif /* UHEAP_UHEAP_H */
