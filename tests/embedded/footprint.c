/* SPDX-License-Identifier: MIT */
/* RAM figures for docs/embedded.md, printed by tools/size-table: run under qemu-arm (32-bit, the
 * Cortex-M builds; tests/embedded/qemu_user_shim.c) or on any host.
 *
 *   region  what a heap over a region of each size keeps for itself and leaves to the pool, with
 *           everything in the region (the default) and with the control data and the mark stack
 *           in the host's static memory (uheap_config_t.control / .mark_stack)
 *   stack   the deepest stack each operation used, measured by painting the stack below the
 *           caller with a pattern and finding the lowest byte overwritten; it counts from the
 *           caller's stack pointer, so the C API's wrapper frame is included
 *
 * One line per figure, words separated by spaces (tools/size-table makes the tables):
 *   block_bytes N | control_bytes N | pointer_bytes N
 *   region BYTES STATUS METADATA POOL LARGEST MARK_ENTRIES STATIC_STATUS STATIC_POOL
 *   stack BYTES WHAT (the rest of the line)
 * The exit status is 0 unless an operation failed. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "uheap/uheap.h"

/* Regions start on a 64-byte boundary (any block size up to 64 bytes), so that no figure depends
 * on where the linker happened to put them: a region that starts off its block size loses up to
 * one block to padding. */
#define MAX_REGION 65536
static struct {
    unsigned char bytes[MAX_REGION];
} region __attribute__((aligned(64)));
static struct {
    unsigned char bytes[UHEAP_CONTROL_BYTES];
} control __attribute__((aligned(64)));
/* The default (smallest) mark stack: 16 entries of two words. */
static void *mark_stack[2 * 16];
static int failures;

static void fail(const char *what) {
    printf("FAIL %s\n", what);
    ++failures;
}

/* ---- RAM per region size --------------------------------------------------------------- */

static void region_row(size_t n_bytes) {
    uheap_status_t status = UHEAP_OK;
    uheap_info_t info;
    memset(&info, 0, sizeof info);
    memset(region.bytes, 0, sizeof region.bytes);
    uheap_t *heap = uheap_create(region.bytes, n_bytes, NULL, &status);
    if (heap != NULL) uheap_info(heap, &info);
    /* The same region with the control data and the mark stack outside it. */
    uheap_config_t config;
    memset(&config, 0, sizeof config);
    config.control = control.bytes;
    config.control_bytes = sizeof control.bytes;
    config.mark_stack = mark_stack;
    config.mark_stack_bytes = sizeof mark_stack;
    uheap_status_t static_status = UHEAP_OK;
    uheap_info_t static_info;
    memset(&static_info, 0, sizeof static_info);
    memset(region.bytes, 0, sizeof region.bytes);
    uheap_t *static_heap = uheap_create(region.bytes, n_bytes, &config, &static_status);
    if (static_heap != NULL) uheap_info(static_heap, &static_info);
    printf("region %lu %s %lu %lu %lu %lu %s %lu\n", (unsigned long)n_bytes, uheap_status_name(status),
           (unsigned long)info.metadata_bytes, (unsigned long)info.total,
           (unsigned long)(info.max_free * uheap_block_bytes()), (unsigned long)uheap_default_mark_stack_entries(n_bytes),
           uheap_status_name(static_status), (unsigned long)static_info.total);
}

/* ---- stack depth ------------------------------------------------------------------------- */

#define PAINT_BYTES 8192
#define PAINT 0xa5

static uintptr_t stack_pointer(void) {
    uintptr_t sp;
#if defined(__arm__) || defined(__thumb__)
    __asm__ volatile("mov %0, sp" : "=r"(sp));
#else
    volatile char here;
    sp = (uintptr_t)&here;
#endif
    return sp;
}

/* Paints PAINT_BYTES below its own frame (a volatile loop: no memset call). x86-64 and AArch64
 * leaf functions may keep data in the 128 bytes below the stack pointer; 32-bit ARM does not. */
#if defined(__arm__) || defined(__thumb__)
#define RED_ZONE 0
#else
#define RED_ZONE 128
#endif
__attribute__((noinline)) static void paint(void) {
    volatile unsigned char *p = (volatile unsigned char *)(stack_pointer() - PAINT_BYTES);
    volatile unsigned char *end = (volatile unsigned char *)(stack_pointer() - RED_ZONE);
    while (p < end) *p++ = PAINT;
}

/* Bytes of stack below `top` that op() wrote. */
__attribute__((noinline)) static size_t measure(void (*op)(void)) {
    uintptr_t top = stack_pointer();
    paint();
    op();
    const unsigned char *p = (const unsigned char *)(top - PAINT_BYTES);
    while ((uintptr_t)p < top && *p == PAINT) ++p;
    return (size_t)(top - (uintptr_t)p);
}

/* The workload: a 16 KiB heap holding a random graph of small objects (two pointers and two
 * words each, one block on 32-bit) reached from a root array, dense enough that marking
 * overflows the 16-entry mark stack. */
#define GRAPH_REGION 16384
#define N_ROOTS 8
static uheap_t *heap;
static void *roots[N_ROOTS];
static uint32_t seed = 12345;
static volatile size_t sink;

static uint32_t next_random(void) {
    seed = seed * 1103515245u + 12345u;
    return seed >> 8;
}

static void root_callback(void *user) {
    (void)user;
    uheap_collect_root(heap, roots, N_ROOTS);
}

static void finaliser(void *user, void *object) {
    (void)user;
    sink += (uintptr_t)object & 1u;
}

static void print(void *user, const char *text, size_t n_bytes) {
    (void)user;
    (void)text;
    sink += n_bytes;
}

/* Fills the heap with objects linked to random earlier ones; every fourth has a finaliser. */
static void build_graph(void) {
    memset(region.bytes, 0, sizeof region.bytes);
    uheap_status_t status;
    heap = uheap_create(region.bytes, GRAPH_REGION, NULL, &status);
    if (heap == NULL) {
        fail("create the graph heap");
        return;
    }
    uheap_set_root_callback(heap, root_callback, NULL);
    uheap_set_finaliser(heap, finaliser, NULL);
    uheap_set_auto_collect(heap, false);
    void **objects[1024];
    size_t n = 0;
    memset(roots, 0, sizeof roots);
    while (n < 1024) {
        void **object = (void **)uheap_alloc(heap, 4 * sizeof(void *), n % 4 == 3 ? UHEAP_FINALISER : 0);
        if (object == NULL) break;
        if (n > 0) {
            object[0] = objects[next_random() % n];
            object[1] = objects[n - 1 - next_random() % (n < 8 ? n : 8)];
        }
        objects[n++] = object;
        if (n % (1024 / N_ROOTS) == 0 || next_random() % 64 == 0) roots[next_random() % N_ROOTS] = object;
    }
    roots[0] = objects[n - 1];
    uheap_set_auto_collect(heap, true);
}

static void op_collect_three_steps(void) {
    uheap_collect_start(heap);
    uheap_collect_root(heap, roots, N_ROOTS);
    if (uheap_collect_end(heap) != UHEAP_OK) fail("collect_end");
}

static void op_collect_stack(void) {
    if (uheap_collect(heap) != UHEAP_OK) fail("collect");
}

static void op_alloc_sweeps(void) { sink += (uintptr_t)uheap_alloc(heap, 3 * uheap_block_bytes(), 0) & 1u; }

/* The operations' own frames stay small: what they read goes to static memory. */
static uheap_counters_t before;
static uheap_counters_t after;
static uheap_info_t info;

static void op_alloc_until_collection(void) {
    uheap_counters(heap, &before);
    do {
        if (uheap_alloc(heap, 2 * uheap_block_bytes(), 0) == NULL) {
            fail("alloc while collecting automatically");
            return;
        }
        uheap_counters(heap, &after);
    } while (after.collections == before.collections);
}

static void op_sweep_all(void) {
    if (uheap_sweep_all(heap) != UHEAP_OK) fail("sweep_all");
}

static void op_info(void) {
    uheap_info(heap, &info);
    sink += info.used;
}

static void op_dump_info(void) { uheap_dump_info(heap, print, NULL); }

static void op_dump_alloc_table(void) { uheap_dump_alloc_table(heap, print, NULL, NULL, NULL); }

static void op_verify(void) {
    if (uheap_verify(heap).invariant != 0) fail("verify");
}

static void op_nothing(void) { sink += 1; }

static void stack_row(const char *name, void (*op)(void)) { printf("stack %lu %s\n", (unsigned long)measure(op), name); }

/* stack_base: main()'s frame, the stack base for uheap_collect() (every measurement is below). */
__attribute__((noinline)) static void measure_all(const void *stack_base) {
    static const size_t sizes[] = {1024, 1536, 2048, 3072, 4096, 8192, 16384, 32768, 65536};
    printf("pointer_bytes %lu\n", (unsigned long)sizeof(void *));
    printf("block_bytes %lu\n", (unsigned long)uheap_block_bytes());
    printf("control_bytes %lu\n", (unsigned long)uheap_control_bytes());
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; ++i) region_row(sizes[i]);

    stack_row("(nothing: the floor of the method)", op_nothing);
    build_graph();
    if (heap == NULL) return;
    stack_row("uheap_collect_start / _root / _end", op_collect_three_steps);
    stack_row("uheap_alloc sweeping lazily after that collection", op_alloc_sweeps);
    build_graph();
    uheap_set_stack_base(heap, stack_base);
    stack_row("uheap_collect (root callback, registers and stack scanned)", op_collect_stack);
    build_graph();
    stack_row("uheap_alloc collecting a full heap (root callback)", op_alloc_until_collection);
    build_graph();
    stack_row("uheap_info", op_info);
    stack_row("uheap_dump_info", op_dump_info);
    stack_row("uheap_dump_alloc_table", op_dump_alloc_table);
    stack_row("uheap_verify", op_verify);
    stack_row("uheap_sweep_all (every finaliser runs)", op_sweep_all);
}

int main(void) {
    measure_all(__builtin_frame_address(0));
    return failures == 0 ? 0 : 1;
}
