/* SPDX-License-Identifier: MIT */
/* The C API from plain C99: every function of uheap/uheap.h, linked without libstdc++.
 *
 * Each heap lives in a static buffer. Checks count into `passed` / `failed`; the last line is
 * "N passed, M failed" and the exit status is non-zero iff a check failed. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "uheap/uheap.h"
#include "uheap/version.h"

static unsigned passed;
static unsigned failed;

#define CHECK(condition) check((condition) ? 1 : 0, #condition, __LINE__)

static void check(int ok, const char *text, int line) {
    if (ok) {
        ++passed;
    } else {
        ++failed;
        printf("FAIL line %d: %s\n", line, text);
    }
}

/* ---- shared fixtures ------------------------------------------------------------------- */

#define REGION_BYTES 32768
#define SMALL_REGION_BYTES 6144

static union {
    long double align_ld;
    void *align_ptr;
    uint64_t align_u64;
    unsigned char bytes[REGION_BYTES];
} region_a, region_b, region_grow;

static union {
    long double align_ld;
    void *align_ptr;
    uint64_t align_u64;
    unsigned char bytes[SMALL_REGION_BYTES];
} region_small;

static size_t block_bytes;

static uheap_t *new_heap(void *region, size_t n_bytes, size_t mark_stack_entries) {
    uheap_config_t config;
    uheap_status_t status = UHEAP_CORRUPTED;
    memset(&config, 0, sizeof config);
    config.mark_stack_entries = mark_stack_entries;
    uheap_t *heap = uheap_create(region, n_bytes, &config, &status);
    CHECK(heap != NULL);
    CHECK(status == UHEAP_OK);
    return heap;
}

static int verify_ok(const uheap_t *heap) {
    uheap_verify_report_t report = uheap_verify(heap);
    if (report.invariant != 0) {
        printf("  verify: I%u at area %lu block %lu: %s\n", report.invariant, (unsigned long)report.area,
               (unsigned long)report.block, report.detail);
    }
    return report.invariant == 0;
}

static int all_zero(const void *ptr, size_t n_bytes) {
    const unsigned char *p = (const unsigned char *)ptr;
    for (size_t i = 0; i < n_bytes; ++i) {
        if (p[i] != 0) return 0;
    }
    return 1;
}

/* Text collected through the print callback. */
static char printed[16384];
static size_t printed_len;

static void print_to_buffer(void *user, const char *text, size_t len) {
    (void)user;
    if (printed_len + len >= sizeof printed) len = sizeof printed - 1 - printed_len;
    memcpy(printed + printed_len, text, len);
    printed_len += len;
    printed[printed_len] = '\0';
}

static void printed_clear(void) {
    printed_len = 0;
    printed[0] = '\0';
}

/* Callback recorders. */
static unsigned finaliser_calls;
static void *finalised[8];
static void *finaliser_frees; /* freed by the next finaliser call, if set */
static void *finaliser_alloc_result;
static uheap_status_t finaliser_collect_status;
static unsigned weak_freed_calls;
static void *weak_freed_last;
static unsigned weak_sweep_calls;
static int weak_sweep_saw_collecting;
static void *weak_sweep_alloc;
static unsigned root_calls;
static void *root_words[2];
static unsigned collect_calls;
static unsigned grow_calls;
static unsigned release_calls;
static uint64_t clock_now;

static void on_finalise(void *user, void *object) {
    uheap_t *heap = (uheap_t *)user;
    if (finaliser_calls < 8) finalised[finaliser_calls] = object;
    ++finaliser_calls;
    finaliser_alloc_result = uheap_alloc(heap, 8, 0);
    finaliser_collect_status = uheap_collect(heap);
    if (finaliser_frees != NULL) {
        CHECK(uheap_free(heap, finaliser_frees) == UHEAP_OK);
        finaliser_frees = NULL;
    }
}

static void on_weak_freed(void *user, void *object) {
    (void)user;
    ++weak_freed_calls;
    weak_freed_last = object;
}

static void on_weak_sweep(void *user) {
    uheap_t *heap = (uheap_t *)user;
    ++weak_sweep_calls;
    weak_sweep_saw_collecting = uheap_is_collecting(heap);
    weak_sweep_alloc = uheap_alloc(heap, 8, 0);
    uheap_free(heap, weak_sweep_alloc);
}

static void on_roots(void *user) {
    ++root_calls;
    uheap_collect_root((uheap_t *)user, root_words, 2);
}

static void on_collect(void *user) {
    uheap_t *heap = (uheap_t *)user;
    ++collect_calls;
    CHECK(uheap_collect_start(heap) == UHEAP_OK);
    uheap_collect_root(heap, root_words, 2);
    CHECK(uheap_collect_end(heap) == UHEAP_OK);
}

static bool on_grow(void *user, size_t min_region_bytes, void **region, size_t *region_bytes) {
    (void)user;
    ++grow_calls;
    if (min_region_bytes > sizeof region_grow.bytes) return false;
    *region = region_grow.bytes;
    *region_bytes = sizeof region_grow.bytes;
    return true;
}

static void on_release(void *user, void *region, size_t region_bytes) {
    (void)user;
    ++release_calls;
    CHECK(region == region_grow.bytes);
    CHECK(region_bytes == sizeof region_grow.bytes);
}

static uint64_t on_clock(void *user) {
    (void)user;
    clock_now += 1000;
    return clock_now;
}

static char letter_from_first_byte(void *user, const void *object) {
    (void)user;
    char c = *(const char *)object;
    return c != 0 ? c : 'h';
}

/* ---- the tests ------------------------------------------------------------------------- */

static void test_names_and_sizes(void) {
    block_bytes = uheap_block_bytes();
    CHECK(block_bytes >= 16 && (block_bytes & (block_bytes - 1)) == 0);
    CHECK(block_bytes == 4 * sizeof(void *));
    CHECK(strcmp(uheap_status_name(UHEAP_OK), "ok") == 0);
    CHECK(strcmp(uheap_status_name(UHEAP_ALREADY_FREE), "already_free") == 0);
    CHECK(strcmp(uheap_status_name(UHEAP_WEAKLY_REFERENCED), "weakly_referenced") == 0);
    /* The library linked is the one these headers describe. */
    CHECK(strcmp(uheap_version(), UHEAP_VERSION_STRING) == 0);
    CHECK(uheap_version_number() == UHEAP_VERSION_NUMBER);
    CHECK(uheap_region_bytes_for(1000) > 1000);
    CHECK(uheap_region_bytes_for(2000) > uheap_region_bytes_for(1000));
    CHECK(uheap_blocks_for_bytes(0) == 0 && uheap_blocks_for_bytes(1) == 1 && uheap_blocks_for_bytes(block_bytes + 1) == 2);
    CHECK(uheap_region_bytes_for((size_t)-1) == (size_t)-1);
}

static void test_create_errors(void) {
    uheap_status_t status = UHEAP_OK;
    CHECK(uheap_create(NULL, 4096, NULL, &status) == NULL);
    CHECK(status == UHEAP_NULL_REGION);
    unsigned char tiny[8];
    memset(tiny, 0x5a, sizeof tiny);
    CHECK(uheap_create(tiny, sizeof tiny, NULL, &status) == NULL);
    CHECK(status == UHEAP_REGION_TOO_SMALL);
    CHECK(tiny[0] == 0x5a && tiny[7] == 0x5a); /* nothing written */
    CHECK(uheap_create((void *)(UINTPTR_MAX - 15), 64, NULL, &status) == NULL);
    CHECK(status == UHEAP_SIZE_OVERFLOW);
    CHECK(uheap_create(NULL, 4096, NULL, NULL) == NULL); /* status pointer is optional */
}

/* Static control memory and mark stack, as the MicroPython port keeps them: the heap lives in
 * the control memory and the region is all tables and pool. */
static void test_static_control_memory(void) {
    static uint64_t control[(UHEAP_CONTROL_BYTES + 7) / 8];
    static void *stack[64];
    static unsigned char region[16384];
    CHECK(uheap_control_bytes() <= UHEAP_CONTROL_BYTES);
    uheap_config_t config;
    memset(&config, 0, sizeof config);
    config.control = control;
    config.control_bytes = sizeof control;
    config.mark_stack = stack;
    config.mark_stack_bytes = sizeof stack;
    uheap_status_t status = UHEAP_CORRUPTED;
    uheap_t *heap = uheap_create(region, sizeof region, &config, &status);
    CHECK(heap != NULL && status == UHEAP_OK);
    CHECK((void *)heap >= (void *)control && (unsigned char *)heap < (unsigned char *)control + sizeof control);
    uheap_info_t info;
    uheap_info(heap, &info);
    CHECK(info.metadata_bytes + info.total == sizeof region);
    CHECK(info.metadata_bytes < sizeof region / 20); /* tables only: ~4.3 bits per block */
    CHECK(uheap_alloc(heap, 100, 0) != NULL);
    config.control_bytes = uheap_control_bytes() / 2;
    CHECK(uheap_create(region, sizeof region, &config, &status) == NULL && status == UHEAP_INVALID_ARGUMENT);
}

static void test_alloc_free_size(void) {
    uheap_t *heap = new_heap(region_a.bytes, sizeof region_a.bytes, 0);
    uheap_info_t info;
    uheap_info(heap, &info);
    CHECK(info.total > 0 && info.total % block_bytes == 0);
    CHECK(info.used == 0 && info.free == info.total);
    CHECK(info.areas == 1 && info.objects == 0);
    CHECK(info.metadata_bytes > 0 && info.metadata_bytes + info.total <= sizeof region_a.bytes);
    CHECK(uheap_auto_collect(heap));
    CHECK(uheap_threshold(heap) == 0);
    CHECK(!uheap_is_locked(heap) && !uheap_is_collecting(heap) && uheap_lock_depth(heap) == 0);

    CHECK(uheap_alloc(heap, 0, 0) == NULL);
    CHECK(uheap_last_status(heap) == UHEAP_OK);
    CHECK(uheap_alloc(heap, SIZE_MAX, 0) == NULL);
    CHECK(uheap_last_status(heap) == UHEAP_TOO_LARGE);

    unsigned char *one = (unsigned char *)uheap_alloc(heap, 1, 0);
    unsigned char *two = (unsigned char *)uheap_alloc(heap, block_bytes + 1, UHEAP_FINALISER);
    unsigned char *scan_free = (unsigned char *)uheap_alloc_tagged(heap, 3 * block_bytes, UHEAP_NO_SCAN, 7);
    unsigned char *small_no_scan = (unsigned char *)uheap_alloc(heap, 4, UHEAP_NO_SCAN);
    CHECK(one != NULL && two != NULL && scan_free != NULL && small_no_scan != NULL);
    CHECK((uintptr_t)one % block_bytes == 0 && (uintptr_t)two % block_bytes == 0);
    CHECK(uheap_size_of(heap, one) == block_bytes);
    CHECK(uheap_size_of(heap, two) == 2 * block_bytes);
    CHECK(uheap_size_of(heap, scan_free) == 3 * block_bytes);
    CHECK(all_zero(one, block_bytes) && all_zero(two, 2 * block_bytes));
    CHECK(uheap_flags_of(heap, one) == 0);
    CHECK(uheap_flags_of(heap, two) == UHEAP_FINALISER);
    CHECK(uheap_flags_of(heap, scan_free) == UHEAP_NO_SCAN);
    CHECK(uheap_flags_of(heap, small_no_scan) == 0); /* one-block objects are always scanned */
    CHECK(uheap_contains(heap, one) && uheap_contains(heap, two + 1));
    CHECK(!uheap_contains(heap, &info) && !uheap_contains(heap, NULL));

    /* Bad pointers: a status each, nothing changed. */
    CHECK(uheap_free(heap, NULL) == UHEAP_OK);
    CHECK(uheap_free(heap, &info) == UHEAP_FOREIGN_POINTER);
    CHECK(uheap_free(heap, one + 1) == UHEAP_NOT_OBJECT_START);
    CHECK(uheap_free(heap, two + block_bytes) == UHEAP_NOT_OBJECT_START);
    CHECK(uheap_last_status(heap) == UHEAP_NOT_OBJECT_START);
    CHECK(uheap_size_of(heap, NULL) == 0);
    CHECK(uheap_size_of(heap, &info) == 0);
    CHECK(uheap_size_of(heap, one + 1) == 0);
    CHECK(uheap_size_of(heap, two + block_bytes) == 0);
    CHECK(uheap_flags_of(heap, two + block_bytes) == 0);
    CHECK(uheap_set_weak(heap, one + 1) == UHEAP_NOT_OBJECT_START);
    CHECK(uheap_realloc(heap, &info, 10, true) == NULL);
    CHECK(uheap_last_status(heap) == UHEAP_FOREIGN_POINTER);
    CHECK(verify_ok(heap));

    uheap_info(heap, &info);
    CHECK(info.used == 7 * block_bytes && info.objects == 4);
    CHECK(info.num_1block == 2 && info.num_2block == 1 && info.max_block == 3);

    CHECK(uheap_free(heap, one) == UHEAP_OK);
    CHECK(uheap_free(heap, one) == UHEAP_ALREADY_FREE);
    CHECK(uheap_size_of(heap, one) == 0);
    CHECK(uheap_free(heap, two) == UHEAP_OK);
    CHECK(uheap_free(heap, scan_free) == UHEAP_OK);
    CHECK(uheap_free(heap, small_no_scan) == UHEAP_OK);
    uheap_info(heap, &info);
    CHECK(info.used == 0 && info.objects == 0 && info.max_free * block_bytes == info.total);
    CHECK(verify_ok(heap));

    uheap_counters_t c;
    uheap_counters(heap, &c);
    CHECK(c.allocations == 4 && c.frees == 4);
    CHECK(c.bytes_allocated == 7 * block_bytes && c.used_bytes == 0 && c.peak_used_bytes == 7 * block_bytes);
    CHECK(c.out_of_memory == 1); /* the SIZE_MAX request */
}

static void test_realloc(void) {
    uheap_t *heap = new_heap(region_a.bytes, sizeof region_a.bytes, 0);
    unsigned char *p = (unsigned char *)uheap_realloc(heap, NULL, 10, true); /* null: allocates */
    CHECK(p != NULL && uheap_size_of(heap, p) == block_bytes);
    memset(p, 0xab, block_bytes);
    CHECK(uheap_realloc(heap, p, block_bytes, false) == p); /* same block count */
    unsigned char *q = (unsigned char *)uheap_realloc(heap, p, 3 * block_bytes, false); /* grows in place */
    CHECK(q == p && uheap_size_of(heap, p) == 3 * block_bytes);
    CHECK(p[0] == 0xab && all_zero(p + block_bytes, 2 * block_bytes));
    CHECK(uheap_realloc(heap, p, block_bytes, false) == p); /* shrinks in place */
    CHECK(uheap_size_of(heap, p) == block_bytes);

    /* A neighbour blocks in-place growth: no move -> NULL, original intact; move -> copied. */
    unsigned char *fin = (unsigned char *)uheap_alloc(heap, block_bytes, UHEAP_FINALISER);
    unsigned char *wall = (unsigned char *)uheap_alloc(heap, block_bytes, 0);
    CHECK(fin != NULL && wall != NULL);
    memset(fin, 0x11, block_bytes);
    CHECK(uheap_realloc(heap, fin, 4 * block_bytes, false) == NULL);
    CHECK(uheap_last_status(heap) == UHEAP_OUT_OF_MEMORY);
    CHECK(uheap_size_of(heap, fin) == block_bytes && fin[0] == 0x11);
    unsigned char *moved = (unsigned char *)uheap_realloc(heap, fin, 4 * block_bytes, true);
    CHECK(moved != NULL && moved != fin);
    CHECK(uheap_size_of(heap, moved) == 4 * block_bytes);
    CHECK(moved[0] == 0x11 && moved[block_bytes - 1] == 0x11 && all_zero(moved + block_bytes, 3 * block_bytes));
    CHECK(uheap_flags_of(heap, moved) == UHEAP_FINALISER); /* the flag travels */
    CHECK(uheap_size_of(heap, fin) == 0);                  /* the old copy is gone */
    CHECK(uheap_realloc(heap, moved, 0, true) == NULL);   /* 0 bytes frees */
    CHECK(uheap_size_of(heap, moved) == 0);
    CHECK(verify_ok(heap));
}

static void test_lock(void) {
    uheap_t *heap = new_heap(region_a.bytes, sizeof region_a.bytes, 0);
    void *p = uheap_alloc(heap, 16, 0);
    uheap_lock(heap);
    uheap_lock(heap);
    CHECK(uheap_is_locked(heap) && uheap_lock_depth(heap) == 2);
    CHECK(uheap_alloc(heap, 16, 0) == NULL);
    CHECK(uheap_last_status(heap) == UHEAP_LOCKED);
    CHECK(uheap_realloc(heap, p, 100, true) == NULL);
    CHECK(uheap_free(heap, p) == UHEAP_LOCKED); /* ignored */
    CHECK(uheap_free(heap, NULL) == UHEAP_OK);
    CHECK(uheap_size_of(heap, p) == block_bytes);
    uheap_unlock(heap);
    CHECK(uheap_is_locked(heap) && uheap_lock_depth(heap) == 1);
    uheap_unlock(heap);
    uheap_unlock(heap); /* extra unlocks are ignored */
    CHECK(!uheap_is_locked(heap) && uheap_lock_depth(heap) == 0);
    CHECK(uheap_free(heap, p) == UHEAP_OK);
}

/* The three-step collection with finalisers, weak references and their callbacks. */
static void test_collect_three_step(void) {
    uheap_t *heap = new_heap(region_a.bytes, sizeof region_a.bytes, 0);
    uheap_set_finaliser(heap, on_finalise, heap);
    uheap_set_weak_callbacks(heap, on_weak_freed, on_weak_sweep, heap);
    uheap_set_clock(heap, on_clock, NULL);

    void **root = (void **)uheap_alloc(heap, 2 * sizeof(void *), 0);
    void **child = (void **)uheap_alloc(heap, 3 * block_bytes, 0);
    void *garbage = uheap_alloc(heap, 16, 0);
    void *dying = uheap_alloc(heap, 16, UHEAP_FINALISER);
    void *weak = uheap_alloc(heap, 16, 0);
    void *weak_live = uheap_alloc(heap, 16, 0);
    void *freed_by_finaliser = uheap_alloc(heap, 16, 0);
    void *interior_only = uheap_alloc(heap, 2 * block_bytes, 0);
    root[0] = child;
    root[1] = weak_live;
    child[3 * block_bytes / sizeof(void *) - 1] = freed_by_finaliser; /* last word of the child */
    CHECK(uheap_set_weak(heap, weak) == UHEAP_OK);
    CHECK(uheap_set_weak(heap, weak_live) == UHEAP_OK);
    CHECK(uheap_flags_of(heap, weak) == UHEAP_WEAK);
    CHECK(uheap_free(heap, weak) == UHEAP_WEAKLY_REFERENCED); /* weakly referenced: never freed explicitly */
    CHECK(uheap_size_of(heap, weak) == block_bytes);

    /* Outside a collection the steps are refused. */
    uheap_collect_root(heap, (void *const *)&root, 1);
    CHECK(uheap_last_status(heap) == UHEAP_NOT_COLLECTING);
    CHECK(uheap_collect_end(heap) == UHEAP_NOT_COLLECTING);

    void *roots[2];
    roots[0] = root;
    roots[1] = (unsigned char *)interior_only + block_bytes; /* interior pointers do not retain */
    finaliser_frees = freed_by_finaliser;
    CHECK(uheap_collect_start(heap) == UHEAP_OK);
    CHECK(uheap_is_collecting(heap) && uheap_is_locked(heap));
    CHECK(uheap_collect_start(heap) == UHEAP_COLLECTING);
    CHECK(uheap_alloc(heap, 16, 0) == NULL);
    CHECK(uheap_last_status(heap) == UHEAP_LOCKED);
    CHECK(uheap_add_area(heap, region_b.bytes, sizeof region_b.bytes) == UHEAP_COLLECTING);
    uheap_collect_root(heap, roots, 2);
    CHECK(uheap_collect_end(heap) == UHEAP_OK);
    CHECK(!uheap_is_collecting(heap) && !uheap_is_locked(heap));

    CHECK(uheap_size_of(heap, root) == block_bytes);
    CHECK(uheap_size_of(heap, child) == 3 * block_bytes);
    CHECK(uheap_size_of(heap, weak_live) == block_bytes);
    CHECK(uheap_size_of(heap, garbage) == 0);
    CHECK(uheap_size_of(heap, interior_only) == 0);
    CHECK(uheap_size_of(heap, dying) == 0);
    CHECK(uheap_size_of(heap, weak) == 0);
    CHECK(uheap_size_of(heap, freed_by_finaliser) == 0); /* freed from inside the finaliser */
    CHECK(finaliser_calls == 1 && finalised[0] == dying);
    CHECK(finaliser_alloc_result == NULL);                 /* finalisers cannot allocate */
    CHECK(finaliser_collect_status == UHEAP_COLLECTING);   /* nor collect */
    CHECK(weak_freed_calls == 1 && weak_freed_last == weak);
    CHECK(weak_sweep_calls == 1 && !weak_sweep_saw_collecting && weak_sweep_alloc != NULL);

    uheap_counters_t c;
    uheap_counters(heap, &c);
    CHECK(c.collections == 1);
    CHECK(c.last_collect_freed == 4); /* garbage, interior_only, dying, weak */
    CHECK(c.objects_collected == 4);
    CHECK(c.finalisers_run == 1 && c.weak_notified == 1);
    CHECK(c.last_pause_ns > 0 && c.last_pause_ns % 1000 == 0 && c.max_pause_ns == c.last_pause_ns);
    CHECK(c.total_pause_ns == c.last_pause_ns);
    CHECK(verify_ok(heap));

    /* sweep_all: no roots, every finaliser runs, everything is freed. */
    void *last = uheap_alloc(heap, 16, UHEAP_FINALISER);
    finaliser_calls = 0;
    CHECK(uheap_sweep_all(heap) == UHEAP_OK);
    CHECK(finaliser_calls == 1 && finalised[0] == last);
    CHECK(uheap_size_of(heap, root) == 0 && uheap_size_of(heap, child) == 0);
    uheap_info_t info;
    uheap_info(heap, &info);
    CHECK(info.used == 0 && info.objects == 0);
    CHECK(weak_freed_calls == 2 && weak_freed_last == weak_live);
    CHECK(verify_ok(heap));
    /* The collection left its sweep pending (the default); steps finish it. */
    size_t left = uheap_sweep_step(heap, 0);
    CHECK(uheap_sweep_step(heap, 64) <= left);
    CHECK(uheap_sweep_step(heap, (size_t)-1) == 0);
    CHECK(verify_ok(heap));
}

/* collect(): registered root callback and the C stack. */
static void test_collect_callbacks_and_stack(void *stack_base) {
    uheap_t *heap = new_heap(region_a.bytes, sizeof region_a.bytes, 0);
    uheap_set_root_callback(heap, on_roots, heap);
    root_words[0] = uheap_alloc(heap, 16, 0);
    root_words[1] = NULL;
    void *garbage = uheap_alloc(heap, 16, 0);
    root_calls = 0;
    CHECK(uheap_collect(heap) == UHEAP_OK);
    CHECK(root_calls == 1);
    CHECK(uheap_size_of(heap, root_words[0]) == block_bytes);
    CHECK(uheap_size_of(heap, garbage) == 0);

    /* Reachable only from this frame: collect_stack() finds it once the base is set. */
    uheap_set_stack_base(heap, stack_base);
    void *volatile on_stack = uheap_alloc(heap, 16, 0);
    CHECK(uheap_collect(heap) == UHEAP_OK);
    CHECK(uheap_size_of(heap, on_stack) == block_bytes);
    CHECK(uheap_collect_start(heap) == UHEAP_OK);
    uheap_collect_stack(heap);
    CHECK(uheap_collect_end(heap) == UHEAP_OK);
    CHECK(uheap_size_of(heap, on_stack) == block_bytes);
    uheap_collect_stack(heap); /* outside a collection: refused */
    CHECK(uheap_last_status(heap) == UHEAP_NOT_COLLECTING);
    uheap_set_root_callback(heap, NULL, NULL);
    root_words[0] = NULL;
    CHECK(verify_ok(heap));
}

/* Threshold, automatic collection on/off and the collect callback. */
static void test_threshold_and_auto_collect(void) {
    uheap_t *heap = new_heap(region_small.bytes, sizeof region_small.bytes, 8);
    uheap_set_collect_callback(heap, on_collect, heap);
    root_words[0] = root_words[1] = NULL;

    uheap_set_threshold(heap, 1);
    CHECK(uheap_threshold(heap) == block_bytes); /* whole blocks, rounded up */
    uheap_set_threshold(heap, block_bytes + 5);
    CHECK(uheap_threshold(heap) == 2 * block_bytes);
    collect_calls = 0;
    CHECK(uheap_alloc(heap, block_bytes, 0) != NULL);
    CHECK(uheap_allocated_since_collect(heap) == block_bytes);
    CHECK(uheap_alloc(heap, block_bytes, 0) != NULL);
    CHECK(collect_calls == 0 && uheap_allocated_since_collect(heap) == 2 * block_bytes);
    CHECK(uheap_alloc(heap, block_bytes, 0) != NULL); /* threshold reached: collects first */
    CHECK(collect_calls == 1);
    CHECK(uheap_allocated_since_collect(heap) == block_bytes);
    uheap_set_threshold(heap, 0);
    CHECK(uheap_threshold(heap) == 0);

    /* Fill the heap with rooted objects; with auto collect off a miss fails at once. */
    uheap_info_t info;
    uheap_info(heap, &info);
    size_t n_blocks = info.total / block_bytes;
    void **chain = NULL;
    for (size_t i = 0; i < n_blocks; ++i) {
        void **node = (void **)uheap_alloc(heap, block_bytes, 0);
        if (node == NULL) break;
        node[0] = chain;
        chain = node;
        root_words[0] = chain;
    }
    uheap_info(heap, &info);
    CHECK(info.free == 0);
    uheap_set_auto_collect(heap, false);
    CHECK(!uheap_auto_collect(heap));
    collect_calls = 0;
    CHECK(uheap_alloc(heap, block_bytes, 0) == NULL);
    CHECK(uheap_last_status(heap) == UHEAP_OUT_OF_MEMORY);
    CHECK(collect_calls == 0);
    uheap_set_auto_collect(heap, true);
    CHECK(uheap_alloc(heap, block_bytes, 0) == NULL); /* one collection, one retry */
    CHECK(collect_calls == 1);
    root_words[0] = chain[0]; /* drop the newest node: the next miss collects and fits */
    CHECK(uheap_alloc(heap, block_bytes, 0) != NULL);
    CHECK(collect_calls == 2);
    uheap_counters_t c;
    uheap_counters(heap, &c);
    CHECK(c.out_of_memory == 2);
    CHECK(verify_ok(heap));
    root_words[0] = NULL;
    uheap_set_collect_callback(heap, NULL, NULL);
}

/* add_area and the grow / release callbacks. */
static void test_areas_and_growth(void) {
    uheap_t *heap = new_heap(region_small.bytes, sizeof region_small.bytes, 8);
    uheap_info_t before;
    uheap_info(heap, &before);
    CHECK(uheap_add_area(heap, NULL, 4096) == UHEAP_NULL_REGION);
    CHECK(uheap_add_area(heap, region_b.bytes, 4) == UHEAP_REGION_TOO_SMALL);
    CHECK(uheap_add_area(heap, region_b.bytes, sizeof region_b.bytes) == UHEAP_OK);
    uheap_info_t after;
    uheap_info(heap, &after);
    CHECK(after.areas == 2 && after.total > before.total + sizeof region_b.bytes / 2);
    void *big = uheap_alloc(heap, sizeof region_b.bytes / 2, 0); /* fits only the second area */
    CHECK(big != NULL && uheap_contains(heap, big));
    CHECK(uheap_free(heap, big) == UHEAP_OK);

    /* Larger than every area: without a grow callback it fails at once. */
    size_t huge = sizeof region_b.bytes + sizeof region_b.bytes / 4;
    CHECK(uheap_alloc(heap, huge, 0) == NULL);
    CHECK(uheap_last_status(heap) == UHEAP_TOO_LARGE);

    uheap_t *growing = new_heap(region_a.bytes, SMALL_REGION_BYTES, 8);
    uheap_set_grow_callback(growing, on_grow, on_release, NULL);
    grow_calls = release_calls = 0;
    /* what fits in region_grow once its metadata (~4.4 bits per block) is taken out */
    size_t fits_grown = sizeof region_grow.bytes - uheap_region_bytes_for(0) - sizeof region_grow.bytes / 24;
    void *grown = uheap_alloc(growing, fits_grown, 0);
    CHECK(grown != NULL && grow_calls == 1);
    uheap_info(growing, &after);
    CHECK(after.areas == 2);
    CHECK((unsigned char *)grown >= region_grow.bytes && (unsigned char *)grown < region_grow.bytes + REGION_BYTES);
    CHECK(release_calls == 0);
    CHECK(uheap_collect(growing) == UHEAP_OK); /* nothing rooted: the grown area empties */
    CHECK(release_calls == 1);
    uheap_info(growing, &after);
    CHECK(after.areas == 1);
    void *too_big = uheap_alloc(growing, 4 * REGION_BYTES, 0); /* the callback declines */
    CHECK(too_big == NULL && grow_calls == 2);
    CHECK(uheap_last_status(growing) == UHEAP_OUT_OF_MEMORY);
    uheap_counters_t c;
    uheap_counters(growing, &c);
    CHECK(c.areas_grown == 1 && c.areas_released == 1);
    CHECK(verify_ok(growing));
}

/* info_fast, dump_info and dump_alloc_table against expected text. */
static void append_hex(char *out, size_t *len, uintptr_t value, unsigned width) {
    char digits[32];
    unsigned n = 0;
    do {
        digits[n++] = "0123456789abcdef"[value % 16];
        value /= 16;
    } while (value != 0);
    while (n < width) digits[n++] = '0';
    while (n > 0) out[(*len)++] = digits[--n];
    out[*len] = '\0';
}

static void test_reports(void) {
    uheap_t *heap = new_heap(region_small.bytes, sizeof region_small.bytes, 8);
    unsigned char *t = (unsigned char *)uheap_alloc(heap, 16, 0);         /* block 0: 'T' */
    unsigned char *l = (unsigned char *)uheap_alloc(heap, 2 * block_bytes, 0); /* blocks 1-2: 'L' '=' */
    unsigned char *h = (unsigned char *)uheap_alloc(heap, 16, 0);         /* block 3: 'h' */
    unsigned char *gap = (unsigned char *)uheap_alloc(heap, 16, 0);       /* block 4: freed -> '.' */
    unsigned char *s = (unsigned char *)uheap_alloc(heap, 3 * block_bytes, 0); /* blocks 5-7 */
    CHECK(t != NULL && l != NULL && h != NULL && gap != NULL && s != NULL);
    CHECK(l == t + block_bytes && h == t + 3 * block_bytes && s == t + 5 * block_bytes);
    t[0] = 'T';
    l[0] = 'L';
    s[0] = 'S';
    CHECK(uheap_free(heap, gap) == UHEAP_OK);

    uheap_info_t info, fast;
    uheap_info(heap, &info);
    uheap_info_fast(heap, &fast);
    CHECK(fast.total == info.total && fast.used == info.used && fast.free == info.free);
    CHECK(fast.used == 7 * block_bytes);
    CHECK(fast.max_free == 0 && fast.num_1block == 0 && fast.num_2block == 0 && fast.max_block == 0);
    CHECK(info.num_1block == 2 && info.num_2block == 1 && info.max_block == 3 && info.objects == 4);
    CHECK(info.free_runs == 2);
    CHECK(info.max_free == info.total / block_bytes - 8);

    char expected[16384];
    printed_clear();
    uheap_dump_info(heap, print_to_buffer, NULL);
    snprintf(expected, sizeof expected,
             "GC: total: %lu, used: %lu, free: %lu\n No. of 1-blocks: %lu, 2-blocks: %lu, max blk sz: %lu, max free sz: %lu\n",
             (unsigned long)info.total, (unsigned long)info.used, (unsigned long)info.free,
             (unsigned long)info.num_1block, (unsigned long)info.num_2block, (unsigned long)info.max_block,
             (unsigned long)info.max_free);
    CHECK(strcmp(printed, expected) == 0);

    /* The block map: the first line holds the objects, then whole free lines collapse. */
    size_t n_blocks = info.total / block_bytes;
    size_t len = 0;
    len += (size_t)snprintf(expected, sizeof expected, "GC memory layout; from ");
    append_hex(expected, &len, (uintptr_t)t, 0);
    len += (size_t)snprintf(expected + len, sizeof expected - len, ":\n00000000: TL=h.S==");
    size_t first_line_end = n_blocks < 64 ? n_blocks : 64;
    for (size_t b = 8; b < first_line_end; ++b) expected[len++] = '.';
    expected[len] = '\0';
    size_t b = first_line_end;
    if (b < n_blocks && n_blocks - b >= 128) {
        len += (size_t)snprintf(expected + len, sizeof expected - len, "\n       (%lu lines all free)",
                                (unsigned long)((n_blocks - b) / 64));
        b = n_blocks & ~(size_t)63;
    }
    for (; b < n_blocks; ++b) {
        if (b % 64 == 0) {
            expected[len++] = '\n';
            append_hex(expected, &len, (uintptr_t)(b * block_bytes), 8);
            expected[len++] = ':';
            expected[len++] = ' ';
        }
        expected[len++] = '.';
    }
    expected[len++] = '\n';
    expected[len] = '\0';
    printed_clear();
    uheap_dump_alloc_table(heap, print_to_buffer, NULL, letter_from_first_byte, NULL);
    CHECK(strcmp(printed, expected) == 0);
    if (strcmp(printed, expected) != 0) printf("got:\n%s\nexpected:\n%s\n", printed, expected);

    /* Without a letter callback every head is 'h'; during a collection marked heads are 'm'. */
    printed_clear();
    uheap_dump_alloc_table(heap, print_to_buffer, NULL, NULL, NULL);
    CHECK(strstr(printed, ":\n00000000: hh=h.h==") != NULL);
    CHECK(uheap_collect_start(heap) == UHEAP_OK);
    void *root = l;
    uheap_collect_root(heap, &root, 1);
    printed_clear();
    uheap_dump_alloc_table(heap, print_to_buffer, NULL, letter_from_first_byte, NULL);
    CHECK(strstr(printed, ":\n00000000: Tm=h.S==") != NULL);
    CHECK(uheap_collect_end(heap) == UHEAP_OK);
    CHECK(uheap_size_of(heap, l) == 2 * block_bytes && uheap_size_of(heap, t) == 0);
    CHECK(verify_ok(heap));
}

/* Nothing of the heap's lives in freed memory: a host writing into it (a use after free) breaks
 * no invariant, and the heap never writes there itself. */
static void test_freed_memory_is_the_hosts(void) {
    uheap_t *heap = new_heap(region_small.bytes, sizeof region_small.bytes, 8);
    unsigned char *a = (unsigned char *)uheap_alloc(heap, 16, 0);
    unsigned char *b = (unsigned char *)uheap_alloc(heap, 16, 0);
    CHECK(a != NULL && b != NULL);
    memset(a, 0x5a, block_bytes);
    CHECK(uheap_free(heap, a) == UHEAP_OK);
    CHECK(a[0] == 0x5a && a[block_bytes - 1] == 0x5a); /* freeing wrote nothing into it */
    uheap_verify_report_t report = uheap_verify(heap);
    CHECK(report.invariant == 0 && report.detail != NULL && strcmp(report.detail, "ok") == 0);
    memset(a, 0xff, block_bytes); /* use after free */
    CHECK(verify_ok(heap));
    CHECK(uheap_collect(heap) == UHEAP_OK);
    CHECK(verify_ok(heap));
}

static void *incremental_root;
static void report_incremental_root(void *user) { uheap_collect_root((uheap_t *)user, &incremental_root, 1); }

/* Incremental marking from C: steps, the barrier (a store into a scanned object keeps its
 * value alive), pacing and idle time. */
static void test_incremental(void) {
    uheap_config_t config;
    memset(&config, 0, sizeof config);
    config.incremental = true;
    uheap_t *heap = uheap_create(region_a.bytes, sizeof region_a.bytes, &config, NULL);
    CHECK(heap != NULL);
    void **a = (void **)uheap_alloc(heap, 4 * sizeof(void *), 0);
    void *chain = NULL;
    for (int i = 0; i < 300; ++i) { /* a -> a long chain, so one small step cannot finish */
        void **n = (void **)uheap_alloc(heap, 4 * sizeof(void *), 0);
        n[0] = chain;
        chain = n;
    }
    a[1] = chain;
    incremental_root = a;  /* reported by the root callback at the start and at the final phase */
    uheap_set_root_callback(heap, report_incremental_root, heap);
    CHECK(!uheap_is_marking(heap));
    CHECK(uheap_collect_step(heap, 8) == UHEAP_OK);
    CHECK(uheap_is_marking(heap));
    void *b = uheap_alloc(heap, 16, 0); /* born marked */
    CHECK(b != NULL);
    a[2] = b;
    uheap_write_barrier(heap, a, b);
    while (uheap_is_marking(heap)) CHECK(uheap_collect_step(heap, 64) == UHEAP_OK);
    CHECK(uheap_size_of(heap, b) > 0);
    CHECK(uheap_collect_idle(heap, (uint64_t)-1) == false);
    uheap_set_pacing(heap, 200, 16);
    CHECK(verify_ok(heap));
    incremental_root = NULL;
    uheap_t *plain = new_heap(region_b.bytes, sizeof region_b.bytes, 0);
    CHECK(uheap_collect_step(plain, 8) == UHEAP_INVALID_ARGUMENT);
}

int main(void) {
    int stack_base_marker = 0;
    test_names_and_sizes();
    test_create_errors();
    test_static_control_memory();
    test_alloc_free_size();
    test_realloc();
    test_lock();
    test_collect_three_step();
    test_collect_callbacks_and_stack(&stack_base_marker + 1);
    test_threshold_and_auto_collect();
    test_areas_and_growth();
    test_reports();
    test_freed_memory_is_the_hosts();
    test_incremental();
    printf("%u passed, %u failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
