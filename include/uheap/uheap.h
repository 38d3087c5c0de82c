/* SPDX-License-Identifier: MIT */
/** @file
 * The C API of uheap: every heap operation for C hosts, a thin skin over the C++ Heap.
 *
 * Handle-based: a uheap_t lives inside the first region handed to uheap_create() (or in the
 * control memory the config gives), so a C host needs no allocator at all. Contracts (returns, failure cases, complexity) are those of the
 * matching member of uheap::Heap in uheap/heap.hpp; each function names it. Not thread-safe.
 *
 * The whole C++ API has its C form here: every public uheap::Heap member, every free function,
 * struct, enumeration and callback type of heap.hpp, mem_info.hpp, events.hpp and config.hpp
 * (tests/c_api/api_coverage.cmake fails otherwise). The structs that uheap.h shares with C++ are
 * the C++ ones field for field, checked at build time (src/c_api.cpp): registration nodes
 * (uheap_root_range_t, uheap_weak_slot_t) are linked by the heap as they are, never copied. What
 * the C++ headers add on top (uheap/cxx.hpp: make<T>, Root, Weak, OwnedHeap, PauseHistogram;
 * uheap/profiler.hpp) is C++ only. */
#ifndef UHEAP_UHEAP_H
#define UHEAP_UHEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "uheap/export.h"
#include "uheap/features.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A heap, as C sees it: a uheap::Heap. Made by uheap_create(); never freed (the memory is the
 * host's again once it stops using the heap; with poisoning on, after uheap_retire()). */
typedef struct uheap_heap uheap_t;

/** Statuses: same values and meaning as uheap::Status. */
typedef enum uheap_status_t {
    UHEAP_OK = 0,             /**< uheap::Status::ok */
    UHEAP_NULL_REGION,        /**< uheap::Status::null_region */
    UHEAP_REGION_TOO_SMALL,   /**< uheap::Status::region_too_small */
    UHEAP_SIZE_OVERFLOW,      /**< uheap::Status::size_overflow */
    UHEAP_INVALID_ARGUMENT,   /**< uheap::Status::invalid_argument */
    UHEAP_FOREIGN_POINTER,    /**< uheap::Status::foreign_pointer */
    UHEAP_NOT_OBJECT_START,   /**< uheap::Status::not_object_start */
    UHEAP_ALREADY_FREE,       /**< uheap::Status::already_free */
    UHEAP_LOCKED,             /**< uheap::Status::locked */
    UHEAP_COLLECTING,         /**< uheap::Status::collecting */
    UHEAP_NOT_COLLECTING,     /**< uheap::Status::not_collecting */
    UHEAP_OUT_OF_MEMORY,      /**< uheap::Status::out_of_memory */
    UHEAP_TOO_LARGE,          /**< uheap::Status::too_large */
    UHEAP_CORRUPTED,          /**< uheap::Status::corrupted (reserved: no longer returned) */
    UHEAP_WEAKLY_REFERENCED,  /**< uheap::Status::weakly_referenced */
    UHEAP_PINNED,             /**< uheap::Status::pinned */
    UHEAP_OVERLAP,            /**< uheap::Status::overlap */
    UHEAP_ALREADY_REGISTERED, /**< uheap::Status::already_registered */
    UHEAP_NO_ROOTS,           /**< uheap::Status::no_roots */
    UHEAP_UNSUPPORTED,        /**< uheap::Status::unsupported: the feature is not built in (uheap_features()) */
    UHEAP_NOT_ATTACHED        /**< uheap::Status::not_attached: a shared heap called from a thread not attached */
} uheap_status_t;

/* Allocation flags (uheap::AllocFlag). UHEAP_FINALISER equals MicroPython's
 * GC_ALLOC_FLAG_HAS_FINALISER. */
#define UHEAP_FINALISER 1u /**< uheap::kFinaliser: call the finaliser once when the object dies */
#define UHEAP_NO_SCAN 2u   /**< uheap::kNoScan: contents are never read by the collector */
#define UHEAP_WEAK 4u      /**< uheap::kWeak: report its death to the weak-freed callback */
#define UHEAP_DESTRUCTOR 8u /**< uheap::kDestructor: the last word holds a uheap_destructor_fn */
#define UHEAP_UNINITIALISED 16u /**< uheap::kUninitialised: with UHEAP_NO_SCAN, need not be zeroed */

/** uheap::DestructorFn: what a UHEAP_DESTRUCTOR object keeps in its last word. */
typedef void (*uheap_destructor_fn)(void *object);

/** uheap::kHiddenPointerMask. */
#define UHEAP_HIDDEN_POINTER_MASK ((~(uintptr_t)0 >> 1 ^ ~(uintptr_t)0) | 1u)
/** uheap::hide_pointer(): what a weak slot holds (NULL stays 0). */
static inline void *uheap_hide_pointer(const void *ptr) {
    uintptr_t p = (uintptr_t)ptr;
    return (void *)(p == 0 ? 0 : p ^ UHEAP_HIDDEN_POINTER_MASK);
}
/** uheap::reveal_pointer(): the pointer uheap_hide_pointer() disguised (NULL for 0). */
static inline void *uheap_reveal_pointer(const void *hidden) {
    uintptr_t h = (uintptr_t)hidden;
    return (void *)(h == 0 ? 0 : h ^ UHEAP_HIDDEN_POINTER_MASK);
}

/** uheap::HeapConfig::poison_freed, as a choice where zero keeps the default. */
typedef enum uheap_poison_t {
    UHEAP_POISON_DEFAULT = 0, /**< on in debug builds of the library (NDEBUG not defined) */
    UHEAP_POISON_ON,          /**< always */
    UHEAP_POISON_OFF          /**< never */
} uheap_poison_t;

/** uheap::HeapConfig. Zero-initialise, then set what you need: 0 entries means the default
 * (sized from the region). */
typedef struct uheap_config_t {
    size_t mark_stack_entries;    /**< uheap::HeapConfig::mark_stack_entries (0: sized from the region) */
    bool interior_pointers;       /**< uheap::HeapConfig::interior_pointers */
    bool collect_on_every_alloc;  /**< uheap::HeapConfig::collect_on_every_alloc */
    bool eager_sweep;             /**< the opposite of uheap::HeapConfig::lazy_sweep, so that zero keeps the default (lazy) */
    bool incremental;             /**< uheap::HeapConfig::incremental: collections in uheap_collect_step()s, with a write barrier */
    void *mark_stack;        /**< the host's memory for the mark stack, or NULL */
    size_t mark_stack_bytes; /**< size of the memory at mark_stack; ignored when it is NULL */
    void *control;           /**< the host's memory for the heap's control data, or NULL */
    size_t control_bytes;    /**< size of the memory at control; ignored when it is NULL */
    uheap_poison_t poison;   /**< uheap::HeapConfig::poison_freed */
} uheap_config_t;

/** Bytes of control memory (uheap_config_t.control) that suffice on every target, for static
 * storage; uheap_control_bytes() gives the exact need (checked at build time). */
#define UHEAP_CONTROL_BYTES (73 * sizeof(void *) + 232)

/** uheap::Info, field for field: the first seven fields are MicroPython's gc_info_t. */
typedef struct uheap_info_t {
    size_t total,  /**< bytes in all block pools (tables and control data excluded) */
        used,      /**< bytes in blocks that belong to objects */
        free,      /**< bytes in free blocks; used + free == total */
        max_free,  /**< longest free run, in blocks (largest object that fits now) */
        num_1block, /**< objects exactly one block long */
        num_2block, /**< objects exactly two blocks long */
        max_block; /**< longest object, in blocks */
    size_t objects, /**< live objects (heads) */
        free_runs, /**< maximal runs of free blocks */
        areas,     /**< areas the heap spans */
        metadata_bytes; /**< bytes of the regions spent on control data, tables, mark stack, padding */
    unsigned fragmentation_permille; /**< 1 - max_free / free, in thousandths (uheap::Info) */
} uheap_info_t;

/** uheap::Counters, field for field. */
typedef struct uheap_counters_t {
    uheap_counter_t allocations, /**< successful allocations, realloc moves included */
        frees,            /**< objects released by uheap_free() and by realloc moves */
        bytes_allocated,  /**< whole-block bytes handed out, cumulative */
        collections,      /**< completed collections (uheap_sweep_all() included) */
        objects_collected; /**< objects freed by collections, cumulative */
    size_t last_collect_freed; /**< objects freed by the most recent collection */
    uheap_counter_t last_pause_ns, /**< duration of the most recent collection */
        max_pause_ns,       /**< longest collection so far */
        total_pause_ns;     /**< all collections added up */
    size_t used_bytes,      /**< bytes in use now (same as uheap_info_t.used) */
        peak_used_bytes;    /**< most bytes ever in use at once */
    uheap_counter_t out_of_memory, /**< allocations that returned NULL for lack of space */
        mark_stack_overflows, /**< times the mark stack was full and an object deferred */
        finalisers_run,     /**< finaliser callbacks made */
        weak_notified,      /**< dead weakly referenced objects reported */
        index_repairs;      /**< reserved: always 0 */
    uheap_counter_t areas_grown,   /**< areas obtained from the grow callback */
        areas_released;     /**< empty grown areas handed back */
} uheap_counters_t;

/** uheap::VerifyReport: invariant 0 = all hold, 1..8 = I1..I8. */
typedef struct uheap_verify_report_t {
    unsigned invariant;  /**< the first invariant found broken (uheap::Invariant), 0 if all hold */
    size_t area,         /**< index of the area (0 = the first) */
        block;           /**< block number inside that area */
    const char *detail;  /**< static text, never freed */
} uheap_verify_report_t;

/** uheap::Invariant: the values of uheap_verify_report_t.invariant (docs/design.md §6). */
typedef enum uheap_invariant_t {
    UHEAP_INVARIANT_NONE = 0,              /**< uheap::Invariant::none: every invariant holds */
    UHEAP_INVARIANT_I1_BLOCK_KIND,         /**< uheap::Invariant::I1_block_kind */
    UHEAP_INVARIANT_I2_EXTENT,             /**< uheap::Invariant::I2_extent */
    UHEAP_INVARIANT_I3_NO_MARKS,           /**< uheap::Invariant::I3_no_marks */
    UHEAP_INVARIANT_I4_FLAGS_ON_HEADS,     /**< uheap::Invariant::I4_flags_on_heads */
    UHEAP_INVARIANT_I5_FREE_INDEX,         /**< uheap::Invariant::I5_free_index */
    UHEAP_INVARIANT_I6_ACCOUNTING,         /**< uheap::Invariant::I6_accounting */
    UHEAP_INVARIANT_I7_HIGH_WATER,         /**< uheap::Invariant::I7_high_water */
    UHEAP_INVARIANT_I8_LAZY_SWEEP          /**< uheap::Invariant::I8_lazy_sweep */
} uheap_invariant_t;

/** uheap::RootRange, the very node the heap links (not a copy; the library checks at build time
 * that the layouts match). Zero-initialise it, set words and n_words, register it with
 * uheap_add_root_range(), and keep it where it is until uheap_remove_root_range(). words and
 * n_words may change at any time outside a collection: each collection reads them afresh. */
typedef struct uheap_root_range_t {
    void *const *words;              /**< first word of the range */
    size_t n_words;                  /**< words in the range (0: nothing scanned) */
    struct uheap_root_range_t *prev; /**< maintained by the heap */
    struct uheap_root_range_t *next; /**< maintained by the heap */
} uheap_root_range_t;

/** uheap::WeakSlot, the very node the heap links (as uheap_root_range_t). `*slot` holds a pointer
 * disguised by uheap_hide_pointer() (write it so, read it with uheap_reveal_pointer()), so that no
 * conservative scan sees it wherever the word lives (stack, root range, scanned object); a
 * collection that finds the object it names unreachable sets `*slot` to 0 (NULL) before any
 * finaliser runs. */
typedef struct uheap_weak_slot_t {
    void **slot;                    /**< the word a collection clears when the object it names dies */
    struct uheap_weak_slot_t *prev; /**< maintained by the heap */
    struct uheap_weak_slot_t *next; /**< maintained by the heap */
} uheap_weak_slot_t;

/** uheap::HeapSpan: one stretch of a pool seen by uheap_walk(), an object or a maximal free run. */
typedef struct uheap_span_t {
    size_t area,         /**< index of the area (0 = the first) */
        first_block,     /**< block number inside the area */
        n_blocks;        /**< length of the object or of the free run, in blocks */
    void *object;        /**< the object's first byte; NULL for a free run */
    unsigned flags;      /**< UHEAP_* allocation flags of the object (UHEAP_NO_SCAN only on 2+ blocks) */
} uheap_span_t;

/** uheap::AreaPool: where an area's pool lies (uheap_area_pool()). */
typedef struct uheap_area_pool_t {
    const void *begin; /**< first block */
    size_t n_blocks;   /**< blocks in the pool */
} uheap_area_pool_t;

/** uheap::FreeReason: why an object's memory went back to the heap (the `reason` of
 * uheap_event_hooks_t.on_free, passed as a uint8_t like the C++ enum). */
typedef enum uheap_free_reason_t {
    UHEAP_FREE_EXPLICIT_FREE = 0, /**< uheap::FreeReason::explicit_free: uheap_free(), or uheap_realloc() to 0 bytes */
    UHEAP_FREE_SWEPT,             /**< uheap::FreeReason::swept: unreachable at a collection (or uheap_sweep_all()) */
    UHEAP_FREE_MOVED              /**< uheap::FreeReason::moved: uheap_realloc() copied it elsewhere; the old copy goes */
} uheap_free_reason_t;

/** uheap::PauseKind: what kind of stop uheap_event_hooks_t.on_pause reports (as a uint8_t). */
typedef enum uheap_pause_kind_t {
    UHEAP_PAUSE_COLLECTION = 0, /**< uheap::PauseKind::collection: a stop-the-world collection */
    UHEAP_PAUSE_STEP,           /**< uheap::PauseKind::step: an incremental step that left the cycle running */
    UHEAP_PAUSE_FINAL_STEP,     /**< uheap::PauseKind::final_step: the step that ran the final phase */
    UHEAP_PAUSE_FORCED_FINAL    /**< uheap::PauseKind::forced_final: an allocation found the heap full mid-cycle and ended it */
} uheap_pause_kind_t;

/** uheap::CollectionStats, field for field: one finished collection (on_collect_end). */
typedef struct uheap_collection_stats_t {
    uint64_t index;              /**< 1 for the first collection of this heap */
    size_t objects_freed,        /**< objects the sweep freed (uheap_counters_t.last_collect_freed) */
        bytes_freed,             /**< their whole-block bytes */
        objects_live,            /**< objects that survived */
        used_bytes,              /**< after the sweep */
        free_bytes,              /**< after the sweep */
        largest_free_bytes,      /**< longest free run after the sweep, in bytes */
        free_runs,               /**< maximal runs of free blocks after the sweep */
        mark_stack_overflows;    /**< times this collection found the mark stack full */
    uint64_t pause_ns;           /**< collect_start to the end of the sweep */
} uheap_collection_stats_t;

/** uheap::EventHooks, field for field (checked at build time): how a profiler or any observer
 * hears about every allocation, free and collection. Every member may be NULL; zero-initialise,
 * then set what you need. Unlike the C++ hooks, the heap uses the host's struct in place (see
 * uheap_set_event_hooks()). Hooks run inside the heap's operations: they must not call back into
 * the heap except for read-only queries (uheap_size_of(), uheap_info(), uheap_counters()). */
typedef struct uheap_event_hooks_t {
    void *user; /**< passed unchanged as every hook's first argument */
    /** After a successful allocation: n_bytes is the whole-block size, tag what the host passed
     * to uheap_alloc_tagged() (0 if none). */
    void (*on_alloc)(void *user, void *ptr, size_t n_bytes, unsigned flags, uint16_t tag);
    /** Before an object's blocks are released; reason is a uheap_free_reason_t. */
    void (*on_free)(void *user, void *ptr, size_t n_bytes, uint8_t reason);
    /** After uheap_realloc() resized an object (in place when old_ptr == new_ptr). A move is three
     * events: on_alloc for the new copy (tag 0), on_free (UHEAP_FREE_MOVED), then on_realloc. */
    void (*on_realloc)(void *user, void *old_ptr, void *new_ptr, size_t old_bytes, size_t new_bytes);
    /** When a collection starts (before any root is scanned). */
    void (*on_collect_start)(void *user);
    /** When a collection has finished sweeping; *stats lives only during the call. */
    void (*on_collect_end)(void *user, const uheap_collection_stats_t *stats);
    /** When an allocation of n_bytes is about to return NULL for lack of space. */
    void (*on_out_of_memory)(void *user, size_t n_bytes);
    /** After every stop the collector makes the host wait for; kind is a uheap_pause_kind_t. */
    void (*on_pause)(void *user, uint8_t kind, uint64_t ns);
} uheap_event_hooks_t;

/** uheap::PrintFn: receives len bytes of text (not NUL-terminated). */
typedef void (*uheap_print_fn)(void *user, const char *text, size_t len);
/** uheap::LetterFn: the character uheap_dump_alloc_table() draws for an object head. */
typedef char (*uheap_letter_fn)(void *user, const void *object);
/** uheap::FinaliserFn: called once per dead object flagged UHEAP_FINALISER. */
typedef void (*uheap_finaliser_fn)(void *user, void *object);
/** uheap::WeakFreedFn: called once per dead object flagged UHEAP_WEAK. */
typedef void (*uheap_weak_freed_fn)(void *user, void *object);
/** uheap::WeakSweepFn: called at the very end of a collection. */
typedef void (*uheap_weak_sweep_fn)(void *user);
/** uheap::RootFn: reports roots with uheap_collect_root() during uheap_collect(). */
typedef void (*uheap_root_fn)(void *user);
/** uheap::CollectFn: replaces uheap_collect() for automatic collections. */
typedef void (*uheap_collect_fn)(void *user);
/** uheap::GrowFn: grants a new area of at least min_region_bytes by returning true. */
typedef bool (*uheap_grow_fn)(void *user, size_t min_region_bytes, void **region, size_t *region_bytes);
/** uheap::ReleaseFn: receives a grown area back once a sweep finds it empty. */
typedef void (*uheap_release_fn)(void *user, void *region, size_t region_bytes);
/** uheap::ClockFn: monotonic nanoseconds, for pause times. */
typedef uint64_t (*uheap_clock_fn)(void *user);
/** uheap::WalkFn: receives each span of uheap_walk() in address order; *span lives only during
 * the call. */
typedef void (*uheap_walk_fn)(void *user, const uheap_span_t *span);

/** Bytes per block the library was built with (uheap::kBlockBytes). */
UHEAP_API size_t uheap_block_bytes(void);
/** Static name of a status (uheap::status_name()). */
UHEAP_API const char *uheap_status_name(uheap_status_t status);
/** Static name of an invariant, "I5_free_index"... (uheap::invariant_name()). */
UHEAP_API const char *uheap_invariant_name(uheap_invariant_t invariant);
/** The version of the library linked: "MAJOR.MINOR.PATCH" (static text, uheap::version()).
 * The headers compiled against give theirs in uheap/version.h (UHEAP_VERSION_STRING). */
UHEAP_API const char *uheap_version(void);
/** The same as one number, (MAJOR << 16) | (MINOR << 8) | PATCH, which compares in version order
 * (UHEAP_VERSION_NUMBER in uheap/version.h). */
UHEAP_API uint32_t uheap_version_number(void);
/** The features built into the library linked, as UHEAP_FEATURE_BIT_* bits (uheap::features()):
 * equal to UHEAP_FEATURES_BUILT when the program was compiled with the library's values. */
UHEAP_API unsigned uheap_features(void);

/** uheap::Heap::create(): config may be NULL for defaults; *status (if non-NULL) receives the
 * outcome. Returns the heap, or NULL. */
UHEAP_API uheap_t *uheap_create(void *region, size_t region_bytes, const uheap_config_t *config, uheap_status_t *status);
/** uheap::Heap::add_area(). */
UHEAP_API uheap_status_t uheap_add_area(uheap_t *heap, void *region, size_t region_bytes);
/** uheap::Heap::retire(): ends the heap, making its regions accessible again to AddressSanitizer
 * and Valgrind (undoing uheap_config_t.poison) so the host may reuse the memory; no finaliser
 * runs and the heap must not be used afterwards. UHEAP_COLLECTING during a collection. */
UHEAP_API uheap_status_t uheap_retire(uheap_t *heap);
/** uheap::Heap::region_bytes_for(): smallest region that can hold one object of n_bytes. */
UHEAP_API size_t uheap_region_bytes_for(size_t n_bytes);
/** uheap::blocks_for_bytes(): whole blocks an object of n_bytes takes. */
UHEAP_API size_t uheap_blocks_for_bytes(size_t n_bytes);
/** uheap::Heap::control_bytes(): the exact control memory a heap needs (at most UHEAP_CONTROL_BYTES). */
UHEAP_API size_t uheap_control_bytes(void);
/** uheap::Heap::default_mark_stack_entries(): the mark stack a heap over region_bytes gets when
 * uheap_config_t.mark_stack_entries is 0 (an incremental heap gets the figure for four times
 * region_bytes, at most 16384). */
UHEAP_API size_t uheap_default_mark_stack_entries(size_t region_bytes);

/** uheap::Heap::alloc() with tag 0. */
UHEAP_API void *uheap_alloc(uheap_t *heap, size_t n_bytes, unsigned flags);
/** uheap::Heap::alloc(); `tag` goes to uheap::EventHooks::on_alloc only (the profiler). */
UHEAP_API void *uheap_alloc_tagged(uheap_t *heap, size_t n_bytes, unsigned flags, uint16_t tag);
/** uheap::Heap::free(). */
UHEAP_API uheap_status_t uheap_free(uheap_t *heap, void *ptr);
/** uheap::Heap::realloc(). */
UHEAP_API void *uheap_realloc(uheap_t *heap, void *ptr, size_t n_bytes, bool allow_move);
/** uheap::Heap::size_of(). */
UHEAP_API size_t uheap_size_of(const uheap_t *heap, const void *ptr);
/** uheap::Heap::object_start(): the first byte of the object ptr points into (its start or any
 * byte inside it), or NULL. */
UHEAP_API void *uheap_object_start(const uheap_t *heap, const void *ptr);
/** uheap::Heap::flags_of(). */
UHEAP_API unsigned uheap_flags_of(const uheap_t *heap, const void *ptr);
/** uheap::Heap::set_weak(). */
UHEAP_API uheap_status_t uheap_set_weak(uheap_t *heap, void *ptr);
/** uheap::Heap::contains(). */
UHEAP_API bool uheap_contains(const uheap_t *heap, const void *ptr);

/** uheap::Heap::collect(). */
UHEAP_API uheap_status_t uheap_collect(uheap_t *heap);
/** uheap::Heap::collect_start(). */
UHEAP_API uheap_status_t uheap_collect_start(uheap_t *heap);
/** uheap::Heap::collect_root(). */
UHEAP_API void uheap_collect_root(uheap_t *heap, void *const *words, size_t n_words);
/** uheap::Heap::collect_stack(). */
UHEAP_API void uheap_collect_stack(uheap_t *heap);
/** uheap::Heap::collect_end(). */
UHEAP_API uheap_status_t uheap_collect_end(uheap_t *heap);
/** uheap::Heap::sweep_all(). */
UHEAP_API uheap_status_t uheap_sweep_all(uheap_t *heap);
/** uheap::Heap::sweep_step(): sweeps up to max_blocks of a lazy sweep; returns the blocks left. */
UHEAP_API size_t uheap_sweep_step(uheap_t *heap, size_t max_blocks);
/** uheap::Heap::collect_step(): about budget_words of incremental marking (uheap_config_t.incremental). */
UHEAP_API uheap_status_t uheap_collect_step(uheap_t *heap, size_t budget_words);
/** uheap::Heap::is_marking(): an incremental cycle is between steps. */
UHEAP_API bool uheap_is_marking(const uheap_t *heap);
/** uheap::Heap::write_barrier(holder, value): after storing `value` into the heap object at
 * `holder` (any byte of it) during an incremental cycle. A call; it returns at once when no
 * cycle runs (C++ hosts get the same test inline). */
UHEAP_API void uheap_write_barrier(uheap_t *heap, const void *holder, const void *value);
/** uheap::Heap::write_barrier(holder): after storing pointers into the heap object at `holder`
 * (any byte of it) whose values are not at hand; during a cycle the holder is scanned again. */
UHEAP_API void uheap_write_barrier_holder(uheap_t *heap, const void *holder);
/** uheap::Heap::collect_idle(): bounded collection work until the clock reads deadline_ns;
 * true if work remains. */
UHEAP_API bool uheap_collect_idle(uheap_t *heap, uint64_t deadline_ns);
/** uheap::Heap::set_pacing(). */
UHEAP_API void uheap_set_pacing(uheap_t *heap, unsigned pause_percent, size_t step_words_per_block);
/** uheap::Heap::set_stack_base(). */
UHEAP_API void uheap_set_stack_base(uheap_t *heap, const void *stack_base);
/** uheap::clear_stack(): overwrites n_bytes of the calling thread's stack below the current frame
 * with zeros, so stale words of dead frames cannot retain garbage (call it at quiet points). */
UHEAP_API void uheap_clear_stack(size_t n_bytes);

/** uheap::kThreadCacheSizes: objects of 1 to this many blocks come from a thread's own cache. */
#define UHEAP_THREAD_CACHE_SIZES 4

/** uheap::ThreadCache: objects of one size a thread hands out without the lock. */
typedef struct uheap_thread_cache_t {
    unsigned char *next;                 /**< the next object to hand out */
    unsigned char *end;                  /**< past the last */
} uheap_thread_cache_t;

/** uheap::ThreadRecord (threads.hpp): one attached thread, host-owned; the host sets
 * stack_base (through uheap_attach_thread()) and host, the heap maintains the rest. */
typedef struct uheap_thread_record_t {
    const void *stack_base;              /**< highest address of the thread's stack */
    void *host;                          /**< the host's own per-thread data */
    const void *stack_top;               /**< maintained by the heap: innermost published address */
    unsigned lock_depth;                 /**< maintained by the heap: this thread's uheap_lock() depth */
    unsigned in_heap;                    /**< maintained by the heap: nested heap calls under way */
    bool parked;                         /**< maintained by the heap: published, touching no heap memory */
    bool popping;                        /**< maintained by the heap: taking from a cache now */
    struct uheap_thread_record_t *prev;  /**< maintained by the heap */
    struct uheap_thread_record_t *next;  /**< maintained by the heap */
    uheap_thread_cache_t caches[UHEAP_THREAD_CACHE_SIZES]; /**< maintained by the heap: caches[n - 1], n blocks */
    size_t handed_out;                   /**< maintained by the heap: objects handed out, not yet counted */
    unsigned refills;                    /**< maintained by the heap: refills since the last collection */
} uheap_thread_record_t;

struct uheap_thread_set_t;
/** uheap::ThreadHooks: the host's mutex, a condition variable on it, the calling thread's record,
 * and optionally a way to stop the other threads (both stop_others and resume_others, or neither). */
typedef struct uheap_thread_hooks_t {
    void (*lock)(void *user);                       /**< takes the heap's mutex */
    void (*unlock)(void *user);                     /**< releases it */
    void (*wait)(void *user);                       /**< condition variable wait on that mutex */
    void (*notify_all)(void *user);                 /**< wakes every waiter */
    uheap_thread_record_t *(*current)(void *user);  /**< the calling thread's record, or NULL */
    void (*stop_others)(struct uheap_thread_set_t *set, void *user);    /**< optional: stop the unparked threads */
    void (*resume_others)(struct uheap_thread_set_t *set, void *user);  /**< optional: let them go */
    void *user;                                     /**< passed back to each hook */
} uheap_thread_hooks_t;

/** uheap::ThreadSet: host-owned, outlives the heap's use; the host fills hooks, the heap the rest. */
typedef struct uheap_thread_set_t {
    uheap_thread_hooks_t hooks;        /**< filled by the host before uheap_enable_threads() */
    uheap_thread_record_t *first;      /**< maintained by the heap: the attached threads */
    size_t attached;                   /**< maintained by the heap */
    size_t parked;                     /**< maintained by the heap */
    uheap_thread_record_t *collector;  /**< maintained by the heap */
    bool stopping;                     /**< maintained by the heap (a relaxed atomic) */
    bool caches_open;                  /**< maintained by the heap (a relaxed atomic) */
} uheap_thread_set_t;

/** What uheap_blocking() runs. */
typedef void (*uheap_blocking_fn)(void *arg);

/** uheap::Heap::enable_threads(): every call then takes the host's lock; collections stop and
 * scan every attached thread (docs/embedding.md, "Threads"). */
UHEAP_API uheap_status_t uheap_enable_threads(uheap_t *heap, uheap_thread_set_t *set);
/** uheap::Heap::attach_thread(): the calling thread, whose record hooks.current() returns. */
UHEAP_API uheap_status_t uheap_attach_thread(uheap_t *heap, uheap_thread_record_t *record, const void *stack_base);
/** uheap::Heap::detach_thread(): the calling thread, before it exits. */
UHEAP_API void uheap_detach_thread(uheap_t *heap);
/** uheap::Heap::safe_point(): parks here while another thread's collection runs. */
UHEAP_API void uheap_safe_point(uheap_t *heap);
/** uheap::Heap::blocking(): runs fn(arg) parked, for a call that may block. */
UHEAP_API void uheap_blocking(uheap_t *heap, uheap_blocking_fn fn, void *arg);
/** uheap::Heap::alloc(ThreadRecord&, ...): uheap_alloc() for a thread passing its own record
 * (skips the current() hook when the object comes from the thread's cache). */
UHEAP_API void *uheap_alloc_as(uheap_t *heap, uheap_thread_record_t *caller, size_t n_bytes, unsigned flags);

/** uheap::Heap::add_root_range(): links the host's node (not a copy), O(1); NULL is
 * UHEAP_INVALID_ARGUMENT, a node already linked UHEAP_ALREADY_REGISTERED. */
UHEAP_API uheap_status_t uheap_add_root_range(uheap_t *heap, uheap_root_range_t *range);
/** uheap::Heap::remove_root_range(): unlinks it, O(1); a node not linked: no-op. */
UHEAP_API void uheap_remove_root_range(uheap_t *heap, uheap_root_range_t *range);
/** uheap::Heap::add_weak_slot(): as uheap_add_root_range(). */
UHEAP_API uheap_status_t uheap_add_weak_slot(uheap_t *heap, uheap_weak_slot_t *slot);
/** uheap::Heap::remove_weak_slot(): as uheap_remove_root_range(). */
UHEAP_API void uheap_remove_weak_slot(uheap_t *heap, uheap_weak_slot_t *slot);

/** uheap::Heap::lock(). */
UHEAP_API void uheap_lock(uheap_t *heap);
/** uheap::Heap::unlock(). */
UHEAP_API void uheap_unlock(uheap_t *heap);
/** uheap::Heap::is_locked(). */
UHEAP_API bool uheap_is_locked(const uheap_t *heap);
/** uheap::Heap::lock_depth(). */
UHEAP_API unsigned uheap_lock_depth(const uheap_t *heap);
/** uheap::Heap::is_collecting(). */
UHEAP_API bool uheap_is_collecting(const uheap_t *heap);
/** uheap::Heap::set_auto_collect(). */
UHEAP_API void uheap_set_auto_collect(uheap_t *heap, bool enabled);
/** uheap::Heap::auto_collect(). */
UHEAP_API bool uheap_auto_collect(const uheap_t *heap);
/** uheap::Heap::set_threshold(). */
UHEAP_API void uheap_set_threshold(uheap_t *heap, size_t n_bytes);
/** uheap::Heap::threshold(). */
UHEAP_API size_t uheap_threshold(const uheap_t *heap);
/** uheap::Heap::allocated_since_collect(). */
UHEAP_API size_t uheap_allocated_since_collect(const uheap_t *heap);

/** uheap::Heap::set_root_callback(). */
UHEAP_API void uheap_set_root_callback(uheap_t *heap, uheap_root_fn fn, void *user);
/** uheap::Heap::set_finaliser(). */
UHEAP_API void uheap_set_finaliser(uheap_t *heap, uheap_finaliser_fn fn, void *user);
/** uheap::Heap::finaliser(): the finaliser in force, or NULL. */
UHEAP_API uheap_finaliser_fn uheap_finaliser(const uheap_t *heap);
/** uheap::Heap::set_weak_callbacks(). */
UHEAP_API void uheap_set_weak_callbacks(uheap_t *heap, uheap_weak_freed_fn freed, uheap_weak_sweep_fn after_sweep, void *user);
/** uheap::Heap::set_collect_callback(). */
UHEAP_API void uheap_set_collect_callback(uheap_t *heap, uheap_collect_fn fn, void *user);
/** uheap::Heap::set_grow_callback(). */
UHEAP_API void uheap_set_grow_callback(uheap_t *heap, uheap_grow_fn grow, uheap_release_fn release, void *user);
/** uheap::Heap::set_clock(). */
UHEAP_API void uheap_set_clock(uheap_t *heap, uheap_clock_fn fn, void *user);
/** uheap::Heap::now_ns(): that clock, now. */
UHEAP_API uint64_t uheap_now_ns(const uheap_t *heap);
/** uheap::Heap::set_event_hooks(), except that *hooks is not copied: the heap calls the hooks
 * through it (C function types are not the C++ ones, so it calls each through a C++ trampoline
 * that reads the host's struct), so keep it where it is (a static struct suits) until hooks are
 * set again, and set it again after changing it. NULL (or all members NULL) clears the hooks. */
UHEAP_API void uheap_set_event_hooks(uheap_t *heap, const uheap_event_hooks_t *hooks);
/** uheap::Heap::event_hooks(), written to *hooks: the hooks in force (to chain or restore them),
 * as uheap_set_event_hooks() was given them. Hooks set from C++ read back with on_free,
 * on_collect_end and on_pause NULL (their C++ types are not C's: they cannot be called from C). */
UHEAP_API void uheap_event_hooks(const uheap_t *heap, uheap_event_hooks_t *hooks);

/** uheap::Heap::info(), written to *info. */
UHEAP_API void uheap_info(const uheap_t *heap, uheap_info_t *info);
/** uheap::Heap::info_fast(), written to *info: total, used and free only, other fields 0. */
UHEAP_API void uheap_info_fast(const uheap_t *heap, uheap_info_t *info);
/** uheap::Heap::counters(), written to *counters. */
UHEAP_API void uheap_counters(const uheap_t *heap, uheap_counters_t *counters);
/** uheap::Heap::dump_info(). */
UHEAP_API void uheap_dump_info(const uheap_t *heap, uheap_print_fn print, void *print_user);
/** uheap::Heap::dump_alloc_table(); letter may be NULL. */
UHEAP_API void uheap_dump_alloc_table(const uheap_t *heap, uheap_print_fn print, void *print_user,
                                      uheap_letter_fn letter, void *letter_user);
/** uheap::Heap::walk(): calls fn for every object and every free run, area by area in address
 * order; fn must not change the heap. Finishes a pending lazy sweep first. */
UHEAP_API void uheap_walk(const uheap_t *heap, uheap_walk_fn fn, void *user);
/** uheap::Heap::area_count(): the areas the heap spans now. */
UHEAP_API size_t uheap_area_count(const uheap_t *heap);
/** uheap::Heap::area_pool(): where the pool of area `index` lies (in the order the areas were
 * added); all zero if out of range. */
UHEAP_API uheap_area_pool_t uheap_area_pool(const uheap_t *heap, size_t index);
/** uheap::Heap::verify(). */
UHEAP_API uheap_verify_report_t uheap_verify(const uheap_t *heap);
/** uheap::Heap::last_status(). */
UHEAP_API uheap_status_t uheap_last_status(const uheap_t *heap);

#ifdef __cplusplus
}
#endif

#endif /* UHEAP_UHEAP_H */
