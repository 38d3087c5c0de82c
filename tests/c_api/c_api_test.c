/* SPDX-License-Identifier: MIT */
/* The C API from plain C99: every function of uheap/uheap.h, linked without libstdc++.
 * (api_coverage.cmake checks that every function uheap.h declares is called here, and that every
 * public member of uheap::Heap and every free function and type of the C++ headers has its C
 * counterpart in uheap.h.)
 *
 * It runs against the default library and the minimal one (every UHEAP_FEATURE_* off): each test
 * checks a feature in full where built() says the library has it, and test_features() checks
 * that those left out are refused (UHEAP_UNSUPPORTED) or ignored.
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

/* Whether the library linked has a feature (UHEAP_FEATURE_BIT_*). A test of a feature checks it
 * in full where it is built; where it is not, test_features() checks the refusal. */
static int built(unsigned bit) { return (uheap_features() & bit) != 0; }

/* What a call needing `bit` returns, or records as the last status, when it succeeds. */
static uheap_status_t ok_or_unsupported(unsigned bit) { return built(bit) ? UHEAP_OK : UHEAP_UNSUPPORTED; }

/* The allocation flag an object keeps: UHEAP_FINALISER and UHEAP_WEAK are accepted and ignored
 * where their feature is not built. */
static unsigned flag_kept(unsigned flag) {
    if (flag == UHEAP_FINALISER) return built(UHEAP_FEATURE_BIT_FINALISERS) ? flag : 0;
    if (flag == UHEAP_WEAK) return built(UHEAP_FEATURE_BIT_WEAK_REFERENCES) ? flag : 0;
    return flag;
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

/* A root range of one NULL word: a heap with it knows a root (uheap_collect() refuses to collect
 * on a heap that knows none, UHEAP_NO_ROOTS) and nothing is kept alive by it. One node per heap. */
static void *const null_word = NULL;
static uheap_root_range_t anchors[16];
static unsigned n_anchors;

static void anchor(uheap_t *heap) {
    uheap_root_range_t *node = &anchors[n_anchors++ % 16];
    memset(node, 0, sizeof *node);
    node->words = &null_word;
    node->n_words = 1;
    CHECK(uheap_add_root_range(heap, node) == UHEAP_OK);
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
    {
        char made[32];
        snprintf(made, sizeof made, "%d.%d.%d", UHEAP_VERSION_MAJOR, UHEAP_VERSION_MINOR, UHEAP_VERSION_PATCH);
        CHECK(strcmp(made, uheap_version()) == 0);
        CHECK(uheap_version_number() ==
              (uint32_t)((UHEAP_VERSION_MAJOR << 16) | (UHEAP_VERSION_MINOR << 8) | UHEAP_VERSION_PATCH));
    }
    CHECK(strcmp(uheap_status_name(UHEAP_ALREADY_REGISTERED), "already_registered") == 0);
    CHECK(strcmp(uheap_status_name(UHEAP_NO_ROOTS), "no_roots") == 0);
    CHECK(strcmp(uheap_invariant_name(UHEAP_INVARIANT_NONE), "none") == 0);
    CHECK(strcmp(uheap_invariant_name(UHEAP_INVARIANT_I1_BLOCK_KIND), "I1_block_kind") == 0);
    CHECK(strcmp(uheap_invariant_name(UHEAP_INVARIANT_I5_FREE_INDEX), "I5_free_index") == 0);
    CHECK(strcmp(uheap_invariant_name(UHEAP_INVARIANT_I8_LAZY_SWEEP), "I8_lazy_sweep") == 0);
    /* One mark-stack entry per 64 KiB of region, at least 16, at most 16384. */
    CHECK(uheap_default_mark_stack_entries(0) == 16);
    CHECK(uheap_default_mark_stack_entries(REGION_BYTES) == 16);
    CHECK(uheap_default_mark_stack_entries((size_t)64 << 20) == 1024);
    CHECK(uheap_default_mark_stack_entries((size_t)-1) == 16384);
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
    CHECK(uheap_flags_of(heap, two) == flag_kept(UHEAP_FINALISER));
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
    CHECK(uheap_set_weak(heap, one + 1) ==
          (built(UHEAP_FEATURE_BIT_WEAK_REFERENCES) ? UHEAP_NOT_OBJECT_START : UHEAP_UNSUPPORTED));
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
    {   /* UHEAP_UNINITIALISED: a buffer the host fills itself; a flag of the request, not kept */
        unsigned char *buffer = (unsigned char *)uheap_alloc(heap, 4 * block_bytes, UHEAP_NO_SCAN | UHEAP_UNINITIALISED);
        CHECK(buffer != NULL && uheap_size_of(heap, buffer) == 4 * block_bytes);
        CHECK(uheap_flags_of(heap, buffer) == UHEAP_NO_SCAN);
        CHECK(uheap_free(heap, buffer) == UHEAP_OK);
    }
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
    CHECK(uheap_flags_of(heap, moved) == flag_kept(UHEAP_FINALISER)); /* the flag travels */
    CHECK(uheap_size_of(heap, fin) == 0);                             /* the old copy is gone */
    CHECK(uheap_realloc(heap, moved, 0, true) == NULL);               /* 0 bytes frees */
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

/* The three-step collection with finalisers, weak references and their callbacks (where they are
 * built; without them, dying objects die just the same, unreported). */
static void test_collect_three_step(void) {
    const int finalisers = built(UHEAP_FEATURE_BIT_FINALISERS);
    const int weak_refs = built(UHEAP_FEATURE_BIT_WEAK_REFERENCES);
    uheap_t *heap = new_heap(region_a.bytes, sizeof region_a.bytes, 0);
    uheap_set_finaliser(heap, on_finalise, heap);
    uheap_set_weak_callbacks(heap, on_weak_freed, on_weak_sweep, heap);
    uheap_set_clock(heap, on_clock, NULL);
    {
        uint64_t before = clock_now;
        CHECK(uheap_now_ns(heap) == before + 1000); /* the host's clock, through the heap */
    }

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
    if (weak_refs) {
        CHECK(uheap_set_weak(heap, weak) == UHEAP_OK);
        CHECK(uheap_set_weak(heap, weak_live) == UHEAP_OK);
        CHECK(uheap_flags_of(heap, weak) == UHEAP_WEAK);
        CHECK(uheap_free(heap, weak) == UHEAP_WEAKLY_REFERENCED); /* weakly referenced: never freed explicitly */
        CHECK(uheap_size_of(heap, weak) == block_bytes);
    } else {
        CHECK(uheap_set_weak(heap, weak) == UHEAP_UNSUPPORTED); /* weak stays plain garbage */
    }

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
    if (finalisers) {
        CHECK(uheap_size_of(heap, freed_by_finaliser) == 0); /* freed from inside the finaliser */
        CHECK(finaliser_calls == 1 && finalised[0] == dying);
        CHECK(finaliser_alloc_result == NULL);               /* finalisers cannot allocate */
        CHECK(finaliser_collect_status == UHEAP_COLLECTING); /* nor collect */
    } else {
        CHECK(uheap_size_of(heap, freed_by_finaliser) == block_bytes); /* no finaliser freed it */
        CHECK(finaliser_calls == 0);
        finaliser_frees = NULL;
    }
    if (weak_refs) {
        CHECK(weak_freed_calls == 1 && weak_freed_last == weak);
        CHECK(weak_sweep_calls == 1 && !weak_sweep_saw_collecting && weak_sweep_alloc != NULL);
    } else {
        CHECK(weak_freed_calls == 0 && weak_sweep_calls == 0);
    }

    uheap_counters_t c;
    uheap_counters(heap, &c);
    CHECK(c.collections == 1);
    CHECK(c.last_collect_freed == 4); /* garbage, interior_only, dying, weak */
    CHECK(c.objects_collected == 4);
    CHECK(c.finalisers_run == (finalisers ? 1u : 0u) && c.weak_notified == (weak_refs ? 1u : 0u));
    CHECK(c.last_pause_ns > 0 && c.last_pause_ns % 1000 == 0 && c.max_pause_ns == c.last_pause_ns);
    CHECK(c.total_pause_ns == c.last_pause_ns);
    CHECK(verify_ok(heap));

    /* sweep_all: no roots, every finaliser runs, everything is freed. */
    void *last = uheap_alloc(heap, 16, UHEAP_FINALISER);
    finaliser_calls = 0;
    CHECK(uheap_sweep_all(heap) == UHEAP_OK);
    CHECK(finalisers ? finaliser_calls == 1 && finalised[0] == last : finaliser_calls == 0);
    CHECK(uheap_size_of(heap, root) == 0 && uheap_size_of(heap, child) == 0);
    uheap_info_t info;
    uheap_info(heap, &info);
    CHECK(info.used == 0 && info.objects == 0);
    CHECK(weak_refs ? weak_freed_calls == 2 && weak_freed_last == weak_live : weak_freed_calls == 0);
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

    /* Reachable only from this frame: collect_stack() finds it once the base is set. Without
     * stack scanning the stack is no root: it dies. */
    const int stack_scan = built(UHEAP_FEATURE_BIT_STACK_SCAN);
    const size_t stack_kept = stack_scan ? block_bytes : 0;
    uheap_set_stack_base(heap, stack_base);
    CHECK(uheap_last_status(heap) == ok_or_unsupported(UHEAP_FEATURE_BIT_STACK_SCAN));
    void *volatile on_stack = uheap_alloc(heap, 16, 0);
    CHECK(uheap_collect(heap) == UHEAP_OK);
    CHECK(uheap_size_of(heap, on_stack) == stack_kept);
    if (!stack_scan) on_stack = uheap_alloc(heap, 16, 0); /* a new one for the three steps */
    CHECK(uheap_collect_start(heap) == UHEAP_OK);
    uheap_collect_stack(heap);
    CHECK(uheap_last_status(heap) == ok_or_unsupported(UHEAP_FEATURE_BIT_STACK_SCAN));
    CHECK(uheap_collect_end(heap) == UHEAP_OK);
    CHECK(uheap_size_of(heap, on_stack) == stack_kept);
    uheap_collect_stack(heap); /* outside a collection: refused */
    CHECK(uheap_last_status(heap) == (stack_scan ? UHEAP_NOT_COLLECTING : UHEAP_UNSUPPORTED));
    uheap_set_root_callback(heap, NULL, NULL);
    root_words[0] = NULL;
    /* The stack base alone is a root source; without stack scanning there is none left. */
    CHECK(uheap_collect(heap) == (stack_scan ? UHEAP_OK : UHEAP_NO_ROOTS));
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
    if (!built(UHEAP_FEATURE_BIT_GROWTH)) return; /* test_features() checks the refusal */

    uheap_t *growing = new_heap(region_a.bytes, SMALL_REGION_BYTES, 8);
    anchor(growing);
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
    uheap_config_t config;
    memset(&config, 0, sizeof config);
    config.poison = UHEAP_POISON_OFF; /* poisoning would fill (and fence off) the freed block */
    uheap_t *heap = uheap_create(region_small.bytes, sizeof region_small.bytes, &config, NULL);
    CHECK(heap != NULL);
    anchor(heap);
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
    if (!built(UHEAP_FEATURE_BIT_INCREMENTAL)) return; /* test_features() checks the refusal */
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
    anchor(plain);
    CHECK(uheap_collect_step(plain, 8) == UHEAP_INVALID_ARGUMENT);
}

/* Root ranges: the host's node is the node the heap links; a registered range keeps what its
 * words reach alive, and unregistering it lets that die. */
static void test_root_ranges(void) {
    uheap_t *heap = new_heap(region_a.bytes, sizeof region_a.bytes, 0);
    void **kept = (void **)uheap_alloc(heap, 2 * sizeof(void *), 0);
    void *child = uheap_alloc(heap, 16, 0);
    void *loose = uheap_alloc(heap, 16, 0);
    CHECK(kept != NULL && child != NULL && loose != NULL);
    kept[0] = child; /* reached through kept */
    void *words[3];
    words[0] = NULL;
    words[1] = kept;
    words[2] = (unsigned char *)loose + 1; /* an interior pointer retains nothing */
    uheap_root_range_t range, other;
    memset(&range, 0, sizeof range);
    memset(&other, 0, sizeof other);
    range.words = words;
    range.n_words = 3;
    other.words = &null_word;
    other.n_words = 1;
    CHECK(uheap_add_root_range(heap, &range) == UHEAP_OK);
    CHECK(uheap_add_root_range(heap, &range) == UHEAP_ALREADY_REGISTERED);
    CHECK(uheap_last_status(heap) == UHEAP_ALREADY_REGISTERED);
    CHECK(uheap_add_root_range(heap, NULL) == UHEAP_INVALID_ARGUMENT);
    CHECK(uheap_add_root_range(heap, &other) == UHEAP_OK);
    /* Linked in place: the heap wrote its links into the host's two nodes. */
    CHECK(other.next == &range && range.prev == &other && other.prev == NULL && range.next == NULL);
    CHECK(uheap_collect(heap) == UHEAP_OK);
    CHECK(uheap_size_of(heap, kept) == block_bytes && uheap_size_of(heap, child) == block_bytes);
    CHECK(uheap_size_of(heap, loose) == 0);
    /* The range is read afresh at each collection: shrinking it drops kept. */
    range.n_words = 1;
    CHECK(uheap_collect(heap) == UHEAP_OK);
    CHECK(uheap_size_of(heap, kept) == 0 && uheap_size_of(heap, child) == 0);
    void *again = uheap_alloc(heap, 16, 0);
    words[0] = again;
    CHECK(uheap_collect(heap) == UHEAP_OK);
    CHECK(uheap_size_of(heap, again) == block_bytes);
    uheap_remove_root_range(heap, &range);
    CHECK(range.prev == NULL && range.next == NULL && other.next == NULL);
    uheap_remove_root_range(heap, &range); /* not linked: no-op */
    uheap_remove_root_range(heap, NULL);
    CHECK(uheap_collect(heap) == UHEAP_OK); /* other is still a root */
    CHECK(uheap_size_of(heap, again) == 0);
    CHECK(uheap_add_root_range(heap, &range) == UHEAP_OK); /* may be registered again */
    uheap_remove_root_range(heap, &range);
    uheap_remove_root_range(heap, &other);
    CHECK(verify_ok(heap));
}

/* Weak slots hold hidden pointers: the word may sit in a scanned root range without keeping its
 * object alive; it reads NULL once the object dies and stays put while it lives. */
static void test_weak_slots(void) {
    int local = 0;
    CHECK(uheap_hide_pointer(NULL) == NULL && uheap_reveal_pointer(NULL) == NULL);
    CHECK(uheap_hide_pointer(&local) != (void *)&local);
    CHECK(uheap_reveal_pointer(uheap_hide_pointer(&local)) == (void *)&local);
    CHECK(((uintptr_t)uheap_hide_pointer(&local) & 1u) == 1u); /* never block-aligned */
    if (!built(UHEAP_FEATURE_BIT_WEAK_REFERENCES)) return; /* test_features() checks the refusal */

    uheap_t *heap = new_heap(region_a.bytes, sizeof region_a.bytes, 0);
    void *strong = uheap_alloc(heap, 16, 0);
    void *weak_only = uheap_alloc(heap, 3 * block_bytes, 0);
    CHECK(strong != NULL && weak_only != NULL);
    CHECK(((uintptr_t)uheap_hide_pointer(weak_only) & 1u) == 1u);
    void *words[2];
    words[0] = strong;
    words[1] = uheap_hide_pointer(weak_only); /* a weak reference inside a scanned range */
    static void *weak_to_strong;              /* static data is not scanned */
    weak_to_strong = uheap_hide_pointer(strong);
    uheap_root_range_t range;
    memset(&range, 0, sizeof range);
    range.words = words;
    range.n_words = 2;
    CHECK(uheap_add_root_range(heap, &range) == UHEAP_OK);
    uheap_weak_slot_t slot_a, slot_b;
    memset(&slot_a, 0, sizeof slot_a);
    memset(&slot_b, 0, sizeof slot_b);
    slot_a.slot = &words[1];
    slot_b.slot = &weak_to_strong;
    CHECK(uheap_add_weak_slot(heap, &slot_a) == UHEAP_OK);
    CHECK(uheap_add_weak_slot(heap, &slot_a) == UHEAP_ALREADY_REGISTERED);
    CHECK(uheap_add_weak_slot(heap, NULL) == UHEAP_INVALID_ARGUMENT);
    CHECK(uheap_add_weak_slot(heap, &slot_b) == UHEAP_OK);
    CHECK(slot_b.next == &slot_a && slot_a.prev == &slot_b); /* linked in place */

    CHECK(uheap_collect(heap) == UHEAP_OK);
    CHECK(uheap_size_of(heap, weak_only) == 0); /* the hidden word did not retain it */
    CHECK(words[1] == NULL && uheap_reveal_pointer(words[1]) == NULL);
    CHECK(uheap_size_of(heap, strong) == block_bytes); /* alive: its slot is left as it was */
    CHECK(uheap_reveal_pointer(weak_to_strong) == strong);
    CHECK(uheap_collect(heap) == UHEAP_OK);
    CHECK(uheap_reveal_pointer(weak_to_strong) == strong);

    words[0] = NULL; /* the last strong reference goes: its weak slot reads NULL */
    CHECK(uheap_collect(heap) == UHEAP_OK);
    CHECK(uheap_size_of(heap, strong) == 0);
    CHECK(weak_to_strong == NULL);

    /* An unregistered slot is left alone. */
    void *later = uheap_alloc(heap, 16, 0);
    weak_to_strong = uheap_hide_pointer(later);
    uheap_remove_weak_slot(heap, &slot_b);
    CHECK(slot_b.prev == NULL && slot_b.next == NULL && slot_a.prev == NULL);
    uheap_remove_weak_slot(heap, &slot_b); /* not linked: no-op */
    CHECK(uheap_collect(heap) == UHEAP_OK);
    CHECK(uheap_size_of(heap, later) == 0);
    CHECK(uheap_reveal_pointer(weak_to_strong) == later);
    uheap_remove_weak_slot(heap, &slot_a);
    uheap_remove_root_range(heap, &range);
    CHECK(verify_ok(heap));
}

/* walk, area_count, area_pool. */
static size_t walk_spans, walk_objects, walk_free_runs, walk_blocks[2], walk_order_ok = 1;
static size_t walk_next_block[2];
static size_t walk_last_area;
static void *walk_seen[16];
static unsigned walk_seen_flags[16];
static size_t walk_seen_blocks[16];
static size_t walk_user_ok = 1;

static void on_span(void *user, const uheap_span_t *span) {
    if (user != &walk_spans) walk_user_ok = 0;
    ++walk_spans;
    if (span->area > 1 || span->area < walk_last_area) {
        walk_order_ok = 0;
        return;
    }
    walk_last_area = span->area;
    /* Spans of an area follow one another with no gap, in address order. */
    if (span->first_block != walk_next_block[span->area] || span->n_blocks == 0) walk_order_ok = 0;
    walk_next_block[span->area] = span->first_block + span->n_blocks;
    walk_blocks[span->area] += span->n_blocks;
    if (span->object == NULL) {
        ++walk_free_runs;
        if (span->flags != 0) walk_order_ok = 0;
    } else {
        if (walk_objects < 16) {
            walk_seen[walk_objects] = span->object;
            walk_seen_flags[walk_objects] = span->flags;
            walk_seen_blocks[walk_objects] = span->n_blocks;
        }
        ++walk_objects;
    }
}

static void walk_reset(void) {
    walk_spans = walk_objects = walk_free_runs = walk_last_area = 0;
    walk_blocks[0] = walk_blocks[1] = walk_next_block[0] = walk_next_block[1] = 0;
    walk_order_ok = walk_user_ok = 1;
}

static int walk_saw(void *object, unsigned flags, size_t n_blocks) {
    for (size_t i = 0; i < walk_objects && i < 16; ++i) {
        if (walk_seen[i] == object) return walk_seen_flags[i] == flags && walk_seen_blocks[i] == n_blocks;
    }
    return 0;
}

static void test_walk_and_areas(void) {
    uheap_t *heap = new_heap(region_a.bytes, sizeof region_a.bytes, 0);
    uheap_info_t info;
    uheap_info(heap, &info);
    CHECK(uheap_area_count(heap) == 1);
    uheap_area_pool_t pool = uheap_area_pool(heap, 0);
    CHECK(pool.begin != NULL && pool.n_blocks * block_bytes == info.total);
    CHECK((const unsigned char *)pool.begin >= region_a.bytes &&
          (const unsigned char *)pool.begin + pool.n_blocks * block_bytes <= region_a.bytes + REGION_BYTES);
    uheap_area_pool_t none = uheap_area_pool(heap, 1);
    CHECK(none.begin == NULL && none.n_blocks == 0);

    /* An empty heap is one free run. */
    walk_reset();
    uheap_walk(heap, on_span, &walk_spans);
    CHECK(walk_user_ok && walk_order_ok && walk_spans == 1 && walk_free_runs == 1 && walk_objects == 0);
    CHECK(walk_blocks[0] == pool.n_blocks);

    void *a = uheap_alloc(heap, 16, 0);
    void *b = uheap_alloc(heap, 2 * block_bytes, UHEAP_FINALISER);
    void *gap = uheap_alloc(heap, 3 * block_bytes, 0);
    void *c = uheap_alloc(heap, 4 * block_bytes, UHEAP_NO_SCAN);
    CHECK(a == pool.begin); /* first fit: the first object starts the pool */
    CHECK(uheap_free(heap, gap) == UHEAP_OK);
    CHECK(uheap_add_area(heap, region_b.bytes, sizeof region_b.bytes) == UHEAP_OK);
    CHECK(uheap_area_count(heap) == 2);
    uheap_area_pool_t second = uheap_area_pool(heap, 1);
    CHECK((const unsigned char *)second.begin >= region_b.bytes &&
          (const unsigned char *)second.begin + second.n_blocks * block_bytes <= region_b.bytes + REGION_BYTES);
    void *big = uheap_alloc(heap, (pool.n_blocks - 6) * block_bytes, UHEAP_WEAK); /* only fits the second */
    CHECK(big == second.begin);
    uheap_info(heap, &info);
    CHECK((pool.n_blocks + second.n_blocks) * block_bytes == info.total);

    walk_reset();
    uheap_walk(heap, on_span, &walk_spans);
    CHECK(walk_user_ok && walk_order_ok);
    CHECK(walk_blocks[0] == pool.n_blocks && walk_blocks[1] == second.n_blocks);
    CHECK((walk_blocks[0] + walk_blocks[1]) * block_bytes == info.total);
    CHECK(walk_objects == 4 && walk_objects == info.objects);
    CHECK(walk_free_runs == 3 && walk_free_runs == info.free_runs); /* the gap, the rest of each area */
    CHECK(walk_saw(a, 0, 1) && walk_saw(b, flag_kept(UHEAP_FINALISER), 2) && walk_saw(c, UHEAP_NO_SCAN, 4));
    CHECK(walk_saw(big, flag_kept(UHEAP_WEAK), pool.n_blocks - 6));
    CHECK(walk_seen[0] == a && walk_seen[1] == b && walk_seen[2] == c && walk_seen[3] == big); /* address order */
    CHECK(verify_ok(heap));
}

/* Event hooks: every allocation, free, resize, collection and pause, with pointers and sizes. */
#define MAX_EVENTS 256
typedef struct event_t {
    char kind; /* 'a'lloc 'f'ree 'r'ealloc 's'tart 'e'nd 'o'ut of memory 'p'ause */
    void *ptr, *ptr2;
    size_t n_bytes, n_bytes2;
    unsigned flags;
    unsigned detail; /* tag, free reason or pause kind */
    uint64_t ns;
} event_t;
static event_t events[MAX_EVENTS];
static size_t n_events;
static uheap_collection_stats_t last_stats;
static int hook_user_ok = 1;
static int hook_marker;

static event_t *record(void *user, char kind) {
    static event_t overflow;
    if (user != &hook_marker) hook_user_ok = 0;
    event_t *e = n_events < MAX_EVENTS ? &events[n_events] : &overflow;
    ++n_events;
    memset(e, 0, sizeof *e);
    e->kind = kind;
    return e;
}
static void hook_alloc(void *user, void *ptr, size_t n_bytes, unsigned flags, uint16_t tag) {
    event_t *e = record(user, 'a');
    e->ptr = ptr;
    e->n_bytes = n_bytes;
    e->flags = flags;
    e->detail = tag;
}
static void hook_free(void *user, void *ptr, size_t n_bytes, uint8_t reason) {
    event_t *e = record(user, 'f');
    e->ptr = ptr;
    e->n_bytes = n_bytes;
    e->detail = reason;
}
static void hook_realloc(void *user, void *old_ptr, void *new_ptr, size_t old_bytes, size_t new_bytes) {
    event_t *e = record(user, 'r');
    e->ptr = old_ptr;
    e->ptr2 = new_ptr;
    e->n_bytes = old_bytes;
    e->n_bytes2 = new_bytes;
}
static void hook_collect_start(void *user) { record(user, 's'); }
static void hook_collect_end(void *user, const uheap_collection_stats_t *stats) {
    event_t *e = record(user, 'e');
    e->n_bytes = stats->objects_freed;
    last_stats = *stats;
}
static void hook_out_of_memory(void *user, size_t n_bytes) { record(user, 'o')->n_bytes = n_bytes; }
static void hook_pause(void *user, uint8_t kind, uint64_t ns) {
    event_t *e = record(user, 'p');
    e->detail = kind;
    e->ns = ns;
}

static int event_is(size_t i, char kind, const void *ptr, size_t n_bytes, unsigned detail) {
    if (i >= n_events || i >= MAX_EVENTS) return 0;
    const event_t *e = &events[i];
    return e->kind == kind && e->ptr == ptr && e->n_bytes == n_bytes && e->detail == detail;
}

static void test_event_hooks(void) {
    if (!built(UHEAP_FEATURE_BIT_EVENT_HOOKS)) return; /* test_features() checks the refusal */
    uheap_t *heap = new_heap(region_a.bytes, sizeof region_a.bytes, 0);
    static uheap_event_hooks_t hooks; /* used in place by the heap */
    uheap_event_hooks_t got;
    uheap_event_hooks(heap, &got);
    CHECK(got.user == NULL && got.on_alloc == NULL && got.on_free == NULL && got.on_realloc == NULL &&
          got.on_collect_start == NULL && got.on_collect_end == NULL && got.on_out_of_memory == NULL &&
          got.on_pause == NULL);
    memset(&hooks, 0, sizeof hooks);
    hooks.user = &hook_marker;
    hooks.on_alloc = hook_alloc;
    hooks.on_free = hook_free;
    hooks.on_realloc = hook_realloc;
    hooks.on_collect_start = hook_collect_start;
    hooks.on_collect_end = hook_collect_end;
    hooks.on_out_of_memory = hook_out_of_memory;
    hooks.on_pause = hook_pause;
    uheap_set_event_hooks(heap, &hooks);
    memset(&got, 0, sizeof got);
    uheap_event_hooks(heap, &got);
    CHECK(got.user == &hook_marker && got.on_alloc == hook_alloc && got.on_free == hook_free &&
          got.on_realloc == hook_realloc && got.on_collect_start == hook_collect_start &&
          got.on_collect_end == hook_collect_end && got.on_out_of_memory == hook_out_of_memory &&
          got.on_pause == hook_pause);
    uheap_set_clock(heap, on_clock, NULL);

    n_events = 0;
    void **kept = (void **)uheap_alloc_tagged(heap, 10, UHEAP_FINALISER, 42);
    void *freed = uheap_alloc(heap, block_bytes + 1, UHEAP_NO_SCAN);
    CHECK(n_events == 2);
    CHECK(event_is(0, 'a', kept, block_bytes, 42) && events[0].flags == UHEAP_FINALISER);
    CHECK(event_is(1, 'a', freed, 2 * block_bytes, 0) && events[1].flags == UHEAP_NO_SCAN);
    CHECK(uheap_free(heap, freed) == UHEAP_OK);
    CHECK(n_events == 3 && event_is(2, 'f', freed, 2 * block_bytes, UHEAP_FREE_EXPLICIT_FREE));

    /* In place: one event; a move: alloc (tag 0), free (moved), realloc, in that order. */
    void *grown = uheap_alloc(heap, 16, 0);
    void *wall = uheap_alloc(heap, 16, 0);
    CHECK(grown != NULL && wall != NULL);
    n_events = 0;
    CHECK(uheap_realloc(heap, grown, 16, false) == grown);
    CHECK(n_events == 1 && event_is(0, 'r', grown, block_bytes, 0) && events[0].ptr2 == grown &&
          events[0].n_bytes2 == block_bytes);
    void *moved = uheap_realloc(heap, grown, 3 * block_bytes, true);
    CHECK(moved != NULL && moved != grown);
    CHECK(n_events == 4);
    CHECK(event_is(1, 'a', moved, 3 * block_bytes, 0));
    CHECK(event_is(2, 'f', grown, block_bytes, UHEAP_FREE_MOVED));
    CHECK(event_is(3, 'r', grown, block_bytes, 0) && events[3].ptr2 == moved && events[3].n_bytes2 == 3 * block_bytes);
    n_events = 0;
    CHECK(uheap_realloc(heap, moved, 0, true) == NULL);
    CHECK(n_events == 1 && event_is(0, 'f', moved, 3 * block_bytes, UHEAP_FREE_EXPLICIT_FREE));

    /* A collection: start, the dead (swept), the pause, the end with its figures. */
    void *words[1];
    words[0] = kept;
    uheap_root_range_t range;
    memset(&range, 0, sizeof range);
    range.words = words;
    range.n_words = 1;
    CHECK(uheap_add_root_range(heap, &range) == UHEAP_OK);
    void *garbage = uheap_alloc(heap, 5 * block_bytes, 0);
    CHECK(garbage != NULL);
    uheap_info_t before;
    uheap_info(heap, &before);
    n_events = 0;
    CHECK(uheap_collect(heap) == UHEAP_OK);
    CHECK(hook_user_ok);
    CHECK(n_events == 5);
    CHECK(event_is(0, 's', NULL, 0, 0));
    size_t dead_wall = event_is(1, 'f', wall, block_bytes, UHEAP_FREE_SWEPT) ? 1 : 2; /* address order */
    CHECK(event_is(dead_wall, 'f', wall, block_bytes, UHEAP_FREE_SWEPT));
    CHECK(event_is(3 - dead_wall, 'f', garbage, 5 * block_bytes, UHEAP_FREE_SWEPT));
    CHECK(event_is(3, 'p', NULL, 0, UHEAP_PAUSE_COLLECTION) && events[3].ns > 0 && events[3].ns % 1000 == 0);
    CHECK(event_is(4, 'e', NULL, 2, 0));
    uheap_info_t after;
    uheap_info(heap, &after);
    uheap_counters_t c;
    uheap_counters(heap, &c);
    CHECK(last_stats.index == 1 && last_stats.index == c.collections);
    CHECK(last_stats.objects_freed == 2 && last_stats.objects_freed == c.last_collect_freed);
    CHECK(last_stats.bytes_freed == 6 * block_bytes);
    CHECK(last_stats.objects_live == 1 && last_stats.objects_live == after.objects);
    CHECK(last_stats.used_bytes == after.used && last_stats.used_bytes == before.used - 6 * block_bytes);
    CHECK(last_stats.free_bytes == after.free);
    CHECK(last_stats.largest_free_bytes == after.max_free * block_bytes);
    CHECK(last_stats.free_runs == after.free_runs);
    CHECK(last_stats.mark_stack_overflows == 0);
    CHECK(last_stats.pause_ns == events[3].ns && last_stats.pause_ns == c.last_pause_ns);

    /* Out of memory: reported with the size asked for (more than is free, less than the area). */
    uheap_set_auto_collect(heap, false);
    size_t too_much = after.free + 1;
    CHECK(too_much < after.total);
    n_events = 0;
    CHECK(uheap_alloc(heap, too_much, 0) == NULL);
    CHECK(uheap_last_status(heap) == UHEAP_OUT_OF_MEMORY);
    CHECK(n_events == 1 && event_is(0, 'o', NULL, too_much, 0));

    /* NULL clears them. */
    uheap_set_event_hooks(heap, NULL);
    uheap_event_hooks(heap, &got);
    CHECK(got.user == NULL && got.on_alloc == NULL && got.on_pause == NULL && got.on_collect_end == NULL);
    n_events = 0;
    uheap_free(heap, uheap_alloc(heap, 16, 0));
    CHECK(n_events == 0);
    uheap_remove_root_range(heap, &range);
    CHECK(verify_ok(heap));

    /* Incremental steps report their own pause kinds. */
    if (!built(UHEAP_FEATURE_BIT_INCREMENTAL)) return; /* test_features() checks the refusal */
    uheap_config_t config;
    memset(&config, 0, sizeof config);
    config.incremental = true;
    uheap_t *inc = uheap_create(region_b.bytes, sizeof region_b.bytes, &config, NULL);
    CHECK(inc != NULL);
    anchor(inc);
    void *chain = NULL;
    for (int i = 0; i < 200; ++i) {
        void **n = (void **)uheap_alloc(inc, 2 * sizeof(void *), 0);
        n[0] = chain;
        chain = n;
    }
    uheap_root_range_t chain_root;
    memset(&chain_root, 0, sizeof chain_root);
    chain_root.words = &chain;
    chain_root.n_words = 1;
    CHECK(uheap_add_root_range(inc, &chain_root) == UHEAP_OK);
    uheap_set_event_hooks(inc, &got); /* all NULL: nothing */
    memset(&hooks, 0, sizeof hooks);
    hooks.user = &hook_marker;
    hooks.on_pause = hook_pause;
    uheap_set_event_hooks(inc, &hooks);
    n_events = 0;
    CHECK(uheap_collect_step(inc, 8) == UHEAP_OK);
    CHECK(n_events == 1 && events[0].kind == 'p' && events[0].detail == UHEAP_PAUSE_STEP);
    unsigned guard = 0;
    while (uheap_is_marking(inc) && ++guard < 10000) CHECK(uheap_collect_step(inc, 64) == UHEAP_OK);
    CHECK(n_events >= 2 && n_events <= MAX_EVENTS);
    CHECK(events[n_events - 1].kind == 'p' && events[n_events - 1].detail == UHEAP_PAUSE_FINAL_STEP);
    uheap_remove_root_range(inc, &chain_root);
}

/* The remaining getters and the calls that only do something in corner cases. */
static unsigned destructor_calls;
static void *destructed;
static void count_destructor(void *object) {
    ++destructor_calls;
    destructed = object;
}

static void test_getters_and_odds(void) {
    uheap_t *heap = new_heap(region_a.bytes, sizeof region_a.bytes, 0);
    anchor(heap);
    unsigned char *obj = (unsigned char *)uheap_alloc(heap, 3 * block_bytes, 0);
    CHECK(obj != NULL);
    CHECK(uheap_object_start(heap, obj) == obj);
    CHECK(uheap_object_start(heap, obj + 1) == obj);
    CHECK(uheap_object_start(heap, obj + 3 * block_bytes - 1) == obj);
    CHECK(uheap_object_start(heap, obj + 3 * block_bytes) == NULL); /* free */
    CHECK(uheap_object_start(heap, &obj) == NULL);                  /* foreign */
    CHECK(uheap_object_start(heap, NULL) == NULL);

    CHECK(uheap_finaliser(heap) == NULL);
    uheap_set_finaliser(heap, on_finalise, heap); /* refused without finalisers: none is kept */
    CHECK(uheap_finaliser(heap) == (built(UHEAP_FEATURE_BIT_FINALISERS) ? on_finalise : NULL));
    uheap_set_finaliser(heap, NULL, NULL);
    CHECK(uheap_finaliser(heap) == NULL);

    /* UHEAP_DESTRUCTOR: the last word names the function a collection calls. Refused without
     * finalisers (test_features()): it would never be called. */
    if (built(UHEAP_FEATURE_BIT_FINALISERS)) {
        void **with_destructor = (void **)uheap_alloc(heap, 2 * block_bytes, UHEAP_DESTRUCTOR);
        CHECK(with_destructor != NULL);
        CHECK((uheap_flags_of(heap, with_destructor) & UHEAP_DESTRUCTOR) != 0);
        {
            uheap_destructor_fn fn = count_destructor;
            memcpy((unsigned char *)with_destructor + uheap_size_of(heap, with_destructor) - sizeof fn, &fn, sizeof fn);
        }
        destructor_calls = 0;
        CHECK(uheap_collect(heap) == UHEAP_OK);
        CHECK(destructor_calls == 1 && destructed == (void *)with_destructor);
    }

    /* clear_stack overwrites dead stack below this frame; the heap is unaffected. */
    uheap_clear_stack(1024);
    uheap_clear_stack(0);
    CHECK(verify_ok(heap));

}

/* retire(): the regions are the host's again; and poisoning on request. Freed memory is only read
 * where AddressSanitizer is not watching (under it, the read would stop the test, as intended). */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

static void test_poison_and_retire(void) {
    uheap_config_t config;
    memset(&config, 0, sizeof config);
    config.poison = UHEAP_POISON_OFF;
    uheap_t *heap = uheap_create(region_b.bytes, sizeof region_b.bytes, &config, NULL);
    CHECK(heap != NULL);
    unsigned char *kept_bytes = (unsigned char *)uheap_alloc(heap, 16, 0);
    memset(kept_bytes, 0x77, block_bytes);
    CHECK(uheap_free(heap, kept_bytes) == UHEAP_OK);
    CHECK(kept_bytes[0] == 0x77 && kept_bytes[block_bytes - 1] == 0x77); /* left as it was */
    CHECK(uheap_collect_start(heap) == UHEAP_OK);
    CHECK(uheap_retire(heap) == UHEAP_COLLECTING); /* not during a collection */
    CHECK(uheap_collect_end(heap) == UHEAP_OK);
    CHECK(uheap_retire(heap) == UHEAP_OK);
    if (!built(UHEAP_FEATURE_BIT_POISON)) return; /* test_features() checks the refusal */

    config.poison = UHEAP_POISON_ON;
    heap = uheap_create(region_b.bytes, sizeof region_b.bytes, &config, NULL);
    CHECK(heap != NULL);
    anchor(heap);
    unsigned char *freed = (unsigned char *)uheap_alloc(heap, 3 * block_bytes, 0);
    unsigned char *swept = (unsigned char *)uheap_alloc(heap, 2 * block_bytes, 0);
    CHECK(freed != NULL && swept != NULL);
    memset(freed, 0x11, 3 * block_bytes);
    memset(swept, 0x22, 2 * block_bytes);
    CHECK(uheap_free(heap, freed) == UHEAP_OK);
    CHECK(uheap_collect(heap) == UHEAP_OK); /* swept is garbage */
    CHECK(uheap_size_of(heap, swept) == 0);
#if !UNDER_ASAN
    CHECK(freed[0] != 0x11 && freed[3 * block_bytes - 1] != 0x11); /* filled with the pattern */
    CHECK(swept[0] != 0x22 && swept[2 * block_bytes - 1] != 0x22);
#endif
    unsigned char *again = (unsigned char *)uheap_alloc(heap, 3 * block_bytes, 0);
    CHECK(again == freed && all_zero(again, 3 * block_bytes)); /* handed out zeroed, accessible */
    CHECK(verify_ok(heap));
    CHECK(uheap_retire(heap) == UHEAP_OK);
    memset(region_b.bytes, 0x33, sizeof region_b.bytes); /* all of it the host's again */
    CHECK(region_b.bytes[0] == 0x33 && region_b.bytes[REGION_BYTES - 1] == 0x33);
}

/* A heap that knows no root at all refuses to collect (everything would be freed). */
static void test_no_roots(void) {
    uheap_t *heap = new_heap(region_small.bytes, sizeof region_small.bytes, 8);
    void *p = uheap_alloc(heap, 16, 0);
    CHECK(uheap_collect(heap) == UHEAP_NO_ROOTS);
    CHECK(uheap_last_status(heap) == UHEAP_NO_ROOTS);
    CHECK(uheap_size_of(heap, p) == block_bytes); /* nothing collected */
    uheap_counters_t c;
    uheap_counters(heap, &c);
    CHECK(c.collections == 0);
    /* An allocation that does not fit: its automatic collection is refused, and it says why. */
    uheap_info_t info;
    uheap_info(heap, &info);
    CHECK(uheap_alloc(heap, info.free + 1, 0) == NULL);
    CHECK(uheap_last_status(heap) == UHEAP_NO_ROOTS);
    uheap_root_range_t range;
    memset(&range, 0, sizeof range);
    CHECK(uheap_add_root_range(heap, &range) == UHEAP_OK); /* even an empty range is a root */
    CHECK(uheap_collect(heap) == UHEAP_OK);
    CHECK(uheap_size_of(heap, p) == 0);
    uheap_remove_root_range(heap, &range);
    p = uheap_alloc(heap, 16, 0);
    CHECK(uheap_collect(heap) == UHEAP_NO_ROOTS);
    CHECK(uheap_sweep_all(heap) == UHEAP_OK); /* frees everything on purpose */
    CHECK(uheap_size_of(heap, p) == 0);

    if (!built(UHEAP_FEATURE_BIT_INCREMENTAL)) return; /* test_features() checks the refusal */
    uheap_config_t config;
    memset(&config, 0, sizeof config);
    config.incremental = true;
    uheap_t *inc = uheap_create(region_b.bytes, sizeof region_b.bytes, &config, NULL);
    CHECK(inc != NULL);
    CHECK(uheap_collect_step(inc, 8) == UHEAP_NO_ROOTS);
    CHECK(!uheap_is_marking(inc));
}

/* The holder-only barrier: an object allocated during a cycle is born marked and never scanned,
 * so pointers stored into it are seen only if the host says it stored some. */
static int run_holder_barrier(int with_barrier) {
    uheap_config_t config;
    memset(&config, 0, sizeof config);
    config.incremental = true;
    uheap_t *heap = uheap_create(region_a.bytes, sizeof region_a.bytes, &config, NULL);
    CHECK(heap != NULL);
    void *x = uheap_alloc(heap, 16, 0); /* reached at first only from the chain's far end */
    void **first = NULL;
    void *chain = NULL;
    for (int i = 0; i < 300; ++i) {
        void **n = (void **)uheap_alloc(heap, 2 * sizeof(void *), 0);
        if (first == NULL) first = n;
        n[0] = chain;
        chain = n;
    }
    first[1] = x;
    void *words[2];
    words[0] = chain;
    words[1] = NULL;
    uheap_root_range_t range;
    memset(&range, 0, sizeof range);
    range.words = words;
    range.n_words = 2;
    CHECK(uheap_add_root_range(heap, &range) == UHEAP_OK);
    uheap_write_barrier_holder(heap, first); /* no cycle: returns at once */
    CHECK(uheap_collect_step(heap, 8) == UHEAP_OK);
    CHECK(uheap_is_marking(heap));
    void **holder = (void **)uheap_alloc(heap, 2 * sizeof(void *), 0); /* born marked */
    words[1] = holder;
    holder[0] = x;
    if (with_barrier) uheap_write_barrier_holder(heap, holder);
    first[1] = NULL; /* the old path goes: x hangs on the holder alone */
    unsigned guard = 0;
    while (uheap_is_marking(heap) && ++guard < 10000) CHECK(uheap_collect_step(heap, 64) == UHEAP_OK);
    int x_lives = uheap_size_of(heap, x) == block_bytes;
    uheap_remove_root_range(heap, &range);
    return x_lives;
}

static void test_write_barrier_holder(void) {
    if (!built(UHEAP_FEATURE_BIT_INCREMENTAL)) return; /* test_features() checks the refusal */
    CHECK(run_holder_barrier(1));
}

/* The features: the library linked reports those these headers were compiled with, and each
 * one left out refuses what needs it (UHEAP_UNSUPPORTED) while the heap goes on without it. The
 * tests above check each feature that is built. */
static void check_config(const uheap_config_t *config, unsigned bit) {
    uheap_status_t status = UHEAP_CORRUPTED;
    uheap_t *heap = uheap_create(region_b.bytes, sizeof region_b.bytes, config, &status);
    CHECK(built(bit) ? heap != NULL && status == UHEAP_OK : heap == NULL && status == UHEAP_UNSUPPORTED);
}

static void test_features(void) {
    CHECK(uheap_features() == UHEAP_FEATURES_BUILT);
    CHECK(strcmp(uheap_status_name(UHEAP_UNSUPPORTED), "unsupported") == 0);
    CHECK(sizeof(uheap_counter_t) == (built(UHEAP_FEATURE_BIT_COUNTERS_64) ? sizeof(uint64_t) : sizeof(size_t)));

    /* A configuration that asks for a feature left out is refused. */
    uheap_config_t config;
    memset(&config, 0, sizeof config);
    config.interior_pointers = true;
    check_config(&config, UHEAP_FEATURE_BIT_INTERIOR_POINTERS);
    memset(&config, 0, sizeof config);
    config.incremental = true;
    check_config(&config, UHEAP_FEATURE_BIT_INCREMENTAL);
    memset(&config, 0, sizeof config);
    config.poison = UHEAP_POISON_ON;
    check_config(&config, UHEAP_FEATURE_BIT_POISON);

    /* Lazy sweeping (eager_sweep false, the default) is only a wish: without it every collection
     * sweeps before it returns. */
    uheap_t *heap = new_heap(region_a.bytes, sizeof region_a.bytes, 0);
    anchor(heap);
    void *garbage = uheap_alloc(heap, 16, 0);
    CHECK(uheap_collect(heap) == UHEAP_OK);
    CHECK(uheap_size_of(heap, garbage) == 0);
    if (!built(UHEAP_FEATURE_BIT_LAZY_SWEEP)) CHECK(uheap_sweep_step(heap, 0) == 0);

    /* The setters of a feature left out keep nothing and record UHEAP_UNSUPPORTED. (Each starts
     * from a last status of ok: uheap_free(heap, NULL) sets it.) */
    uheap_free(heap, NULL);
    uheap_set_finaliser(heap, on_finalise, heap);
    CHECK(uheap_last_status(heap) == ok_or_unsupported(UHEAP_FEATURE_BIT_FINALISERS));
    CHECK(uheap_finaliser(heap) == (built(UHEAP_FEATURE_BIT_FINALISERS) ? on_finalise : NULL));
    uheap_set_finaliser(heap, NULL, NULL);
    uheap_free(heap, NULL);
    uheap_set_weak_callbacks(heap, on_weak_freed, on_weak_sweep, heap);
    CHECK(uheap_last_status(heap) == ok_or_unsupported(UHEAP_FEATURE_BIT_WEAK_REFERENCES));
    uheap_set_weak_callbacks(heap, NULL, NULL, NULL);
    uheap_free(heap, NULL);
    uheap_set_grow_callback(heap, on_grow, on_release, NULL);
    CHECK(uheap_last_status(heap) == ok_or_unsupported(UHEAP_FEATURE_BIT_GROWTH));
    uheap_set_grow_callback(heap, NULL, NULL, NULL);
    static uheap_event_hooks_t hooks;
    uheap_event_hooks_t got;
    memset(&hooks, 0, sizeof hooks);
    hooks.user = &hook_marker;
    hooks.on_alloc = hook_alloc;
    uheap_free(heap, NULL);
    uheap_set_event_hooks(heap, &hooks);
    CHECK(uheap_last_status(heap) == ok_or_unsupported(UHEAP_FEATURE_BIT_EVENT_HOOKS));
    uheap_event_hooks(heap, &got);
    CHECK(got.on_alloc == (built(UHEAP_FEATURE_BIT_EVENT_HOOKS) ? hook_alloc : NULL));
    uheap_set_event_hooks(heap, NULL);
    uheap_free(heap, NULL);
    uheap_set_stack_base(heap, NULL);
    CHECK(uheap_last_status(heap) == ok_or_unsupported(UHEAP_FEATURE_BIT_STACK_SCAN));
    uheap_collect_stack(heap);
    CHECK(uheap_last_status(heap) ==
          (built(UHEAP_FEATURE_BIT_STACK_SCAN) ? UHEAP_NOT_COLLECTING : UHEAP_UNSUPPORTED));
    uheap_free(heap, NULL);
    uheap_set_pacing(heap, 100, 64);
    CHECK(uheap_last_status(heap) == ok_or_unsupported(UHEAP_FEATURE_BIT_INCREMENTAL));

    /* The calls that return a status return it. */
    CHECK(uheap_collect_step(heap, 8) == /* on a heap that is not incremental */
          (built(UHEAP_FEATURE_BIT_INCREMENTAL) ? UHEAP_INVALID_ARGUMENT : UHEAP_UNSUPPORTED));
    uheap_weak_slot_t slot;
    void *slot_word = NULL;
    memset(&slot, 0, sizeof slot);
    slot.slot = &slot_word;
    CHECK(uheap_add_weak_slot(heap, &slot) == ok_or_unsupported(UHEAP_FEATURE_BIT_WEAK_REFERENCES));
    uheap_remove_weak_slot(heap, &slot);
    void *plain = uheap_alloc(heap, 16, 0);
    CHECK(uheap_set_weak(heap, plain) == ok_or_unsupported(UHEAP_FEATURE_BIT_WEAK_REFERENCES));
    CHECK(uheap_flags_of(heap, plain) == flag_kept(UHEAP_WEAK));

    /* UHEAP_DESTRUCTOR without finalisers is refused (the destructor would never run);
     * UHEAP_FINALISER and UHEAP_WEAK are accepted and ignored: plain objects, freed as any. */
    if (!built(UHEAP_FEATURE_BIT_FINALISERS)) {
        CHECK(uheap_alloc(heap, 2 * block_bytes, UHEAP_DESTRUCTOR) == NULL);
        CHECK(uheap_last_status(heap) == UHEAP_UNSUPPORTED);
    }
    void *fin = uheap_alloc(heap, 16, UHEAP_FINALISER);
    void *weak = uheap_alloc(heap, 16, UHEAP_WEAK);
    CHECK(fin != NULL && weak != NULL);
    CHECK(uheap_flags_of(heap, fin) == flag_kept(UHEAP_FINALISER));
    CHECK(uheap_flags_of(heap, weak) == flag_kept(UHEAP_WEAK));
    CHECK(uheap_free(heap, fin) == UHEAP_OK);
    CHECK(uheap_free(heap, weak) ==
          (built(UHEAP_FEATURE_BIT_WEAK_REFERENCES) ? UHEAP_WEAKLY_REFERENCED : UHEAP_OK));
    CHECK(verify_ok(heap));
}

/* A shared heap driven by one thread (this test also runs on bare metal, without threads): the
 * hooks count, the calling thread's record is `thread_self` once attached, and a thread that has
 * not attached is refused. */
static uheap_thread_record_t thread_self;
static bool thread_attached;
static int thread_lock_depth;
static unsigned thread_lock_calls;
static void thread_lock(void *user) {
    (void)user;
    ++thread_lock_depth;
    ++thread_lock_calls;
}
static void thread_unlock(void *user) {
    (void)user;
    --thread_lock_depth;
}
static void thread_wait(void *user) { (void)user; }
static void thread_notify(void *user) { (void)user; }
static uheap_thread_record_t *thread_current(void *user) {
    (void)user;
    return thread_attached ? &thread_self : NULL;
}
static void thread_blocking_call(void *arg) { *(int *)arg = thread_lock_depth; }

static void test_threads(void *stack_base) {
    uheap_config_t config;
    memset(&config, 0, sizeof config);
    config.poison = UHEAP_POISON_OFF; /* (poisoning would close the threads' allocation caches) */
    uheap_t *heap = uheap_create(region_a.bytes, sizeof region_a.bytes, &config, NULL);
    CHECK(heap != NULL);
    static uheap_thread_set_t set;
    memset(&set, 0, sizeof set);
    if (!built(UHEAP_FEATURE_BIT_THREADS) || !built(UHEAP_FEATURE_BIT_STACK_SCAN)) {
        CHECK(uheap_enable_threads(heap, &set) == UHEAP_UNSUPPORTED);
        return;
    }
    CHECK(uheap_enable_threads(heap, NULL) == UHEAP_INVALID_ARGUMENT);
    CHECK(uheap_enable_threads(heap, &set) == UHEAP_INVALID_ARGUMENT); /* no hooks */
    set.hooks.lock = thread_lock;
    set.hooks.unlock = thread_unlock;
    set.hooks.wait = thread_wait;
    set.hooks.notify_all = thread_notify;
    set.hooks.current = thread_current;
    CHECK(uheap_enable_threads(heap, &set) == UHEAP_OK);
    CHECK(uheap_enable_threads(heap, &set) == UHEAP_ALREADY_REGISTERED);
    /* Not attached: refused, nothing done, no lock taken. */
    CHECK(uheap_alloc(heap, 16, 0) == NULL && uheap_last_status(heap) == UHEAP_NOT_ATTACHED);
    CHECK(uheap_attach_thread(heap, &thread_self, stack_base) == UHEAP_INVALID_ARGUMENT); /* current() is not it */
    thread_attached = true;
    CHECK(uheap_attach_thread(heap, &thread_self, stack_base) == UHEAP_OK);
    CHECK(uheap_attach_thread(heap, &thread_self, stack_base) == UHEAP_ALREADY_REGISTERED);
    CHECK(set.attached == 1 && set.first == &thread_self && thread_lock_depth == 0);
    /* Every call takes the lock once and gives it back. */
    unsigned calls = thread_lock_calls;
    void *volatile kept = uheap_alloc(heap, 16, 0);
    CHECK(kept != NULL && thread_lock_calls == calls + 1 && thread_lock_depth == 0);
    /* The next small objects come from the thread's cache, filled by that call: no lock, and
     * uheap_alloc_as() does not even ask current(). */
    calls = thread_lock_calls;
    CHECK(uheap_alloc(heap, 16, 0) != NULL && uheap_alloc_as(heap, &thread_self, 16, 0) != NULL); /* garbage */
    CHECK(thread_lock_calls == calls);
    /* The thread's own stack, from its record's base, is scanned; no heap-wide base was set. */
    CHECK(uheap_collect(heap) == UHEAP_OK && uheap_size_of(heap, kept) == block_bytes);
    CHECK(thread_lock_depth == 0);
    /* lock() depth is the thread's own. */
    uheap_lock(heap);
    CHECK(uheap_lock_depth(heap) == 1 && thread_self.lock_depth == 1 && uheap_alloc(heap, 16, 0) == NULL);
    uheap_unlock(heap);
    CHECK(uheap_lock_depth(heap) == 0);
    uheap_safe_point(heap); /* no collection waiting: returns at once */
    int depth_inside = -1;
    uheap_blocking(heap, thread_blocking_call, &depth_inside);
    CHECK(depth_inside == 0 && !thread_self.parked && set.parked == 0);
    uheap_detach_thread(heap);
    CHECK(set.attached == 0 && set.first == NULL && thread_lock_depth == 0);
    thread_attached = false;
}

int main(void) {
    int stack_base_marker = 0;
    test_names_and_sizes();
    test_features();
    test_create_errors();
    test_static_control_memory();
    test_alloc_free_size();
    test_realloc();
    test_lock();
    test_collect_three_step();
    {
        /* Called through a volatile pointer so that it is never inlined: its frame, on_stack and
         * all, must lie below the stack base taken here. */
        void (*volatile stack_test)(void *) = test_collect_callbacks_and_stack;
        stack_test(&stack_base_marker + 1);
    }
    test_threshold_and_auto_collect();
    test_areas_and_growth();
    test_reports();
    test_freed_memory_is_the_hosts();
    test_incremental();
    test_root_ranges();
    test_weak_slots();
    test_walk_and_areas();
    test_event_hooks();
    test_getters_and_odds();
    test_poison_and_retire();
    test_no_roots();
    test_write_barrier_holder();
    {
        void (*volatile threads_test)(void *) = test_threads;
        threads_test(&stack_base_marker + 1);
    }
    printf("%u passed, %u failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
