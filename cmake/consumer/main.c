/* SPDX-License-Identifier: MIT */
/* Packaging test host in plain C, built with `cc $(pkg-config --cflags --libs uheap)`: allocate,
 * collect with one root, verify; the library linked is the one the headers describe. */
#include <string.h>

#include "uheap/uheap.h"
#include "uheap/version.h"

static union {
    void *align;
    unsigned char bytes[64 * 1024];
} region;

int main(void) {
    uheap_t *heap = uheap_create(region.bytes, sizeof region.bytes, NULL, NULL);
    if (heap == NULL || strcmp(uheap_version(), UHEAP_VERSION_STRING) != 0) return 1;
    void *kept = uheap_alloc(heap, 100, 0);
    uheap_alloc(heap, 100, 0); /* garbage */
    uheap_collect_start(heap);
    uheap_collect_root(heap, &kept, 1);
    uheap_collect_end(heap);
    uheap_info_t info;
    uheap_info(heap, &info);
    return kept != NULL && uheap_size_of(heap, kept) >= 100 && info.objects == 1 &&
                   uheap_verify(heap).invariant == 0
               ? 0
               : 1;
}
