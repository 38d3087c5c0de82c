/* SPDX-License-Identifier: MIT */
/* tools/size-table, "py/gc.h feature set": the minimal port surface plus what MicroPython's
 * py/gc.h offers a port: gc_free, gc_realloc, gc_nbytes, gc_lock / gc_unlock, finalisers
 * (GC_ALLOC_FLAG_HAS_FINALISER), the allocation threshold, gc_dump_info and gc_dump_alloc_table. */
#include <stddef.h>

#include "uheap/uheap.h"

static unsigned char region[16384];
static volatile unsigned finalised;
static volatile size_t printed;

static void finaliser(void *user, void *object) {
    (void)user;
    (void)object;
    ++finalised;
}

static void print(void *user, const char *text, size_t n_bytes) {
    (void)user;
    (void)text;
    printed += n_bytes;
}

int main(void) {
    uheap_t *heap = uheap_create(region, sizeof region, 0, 0);
    uheap_set_finaliser(heap, finaliser, 0);
    uheap_set_threshold(heap, 4096);
    void *object = uheap_alloc(heap, 32, UHEAP_FINALISER);
    void *other = uheap_alloc(heap, 64, 0);
    other = uheap_realloc(heap, other, 200, true);
    size_t n_bytes = uheap_size_of(heap, other);
    uheap_free(heap, other);
    uheap_lock(heap);
    void *refused = uheap_alloc(heap, 16, 0);
    uheap_unlock(heap);
    uheap_collect_start(heap);
    uheap_collect_root(heap, &object, 1);
    uheap_collect_end(heap);
    uheap_info_t info;
    uheap_info(heap, &info);
    uheap_dump_info(heap, print, 0);
    uheap_dump_alloc_table(heap, print, 0, 0, 0);
    return (int)(info.used + n_bytes + (refused != 0) + finalised + printed);
}
