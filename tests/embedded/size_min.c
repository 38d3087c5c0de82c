/* SPDX-License-Identifier: MIT */
/* tools/size-table, "minimal port surface": what the smallest port calls. A heap over a static
 * region, allocation, a collection in three steps with the roots the port reports itself
 * (MicroPython's gc_collect_start / gc_collect_root / gc_collect_end), and the counts (gc_info). */
#include "uheap/uheap.h"

static unsigned char region[16384];

int main(void) {
    uheap_t *heap = uheap_create(region, sizeof region, 0, 0);
    void *object = uheap_alloc(heap, 32, 0);
    uheap_collect_start(heap);
    uheap_collect_root(heap, &object, 1);
    uheap_collect_end(heap);
    uheap_info_t info;
    uheap_info(heap, &info);
    return (int)info.used;
}
