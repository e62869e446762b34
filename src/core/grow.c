/* grow.c - doubling growth of caller-owned arrays (see grow.h).
 * Tested by tests/test_core_file.c (the overflow check included).
 */
#include "cellforge/grow.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

cf_status cf_grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return CF_OK;
    if (elem == 0) CF_FAIL(CF_ERR_INTERNAL, "cf_grow: elements of 0 bytes");
    size_t next = *cap ? *cap : 16;
    while (next < need) {
        /* doubling past SIZE_MAX / 2 would wrap: take exactly what is needed */
        if (next > SIZE_MAX / 2) {
            next = need;
            break;
        }
        next *= 2;
    }
    /* no object may be larger than PTRDIFF_MAX bytes: such a size is refused
     * here rather than handed to realloc (which fails, or under a sanitizer aborts) */
    if (next > (size_t)PTRDIFF_MAX / elem)
        CF_FAIL(CF_ERR_OUT_OF_MEMORY, "no memory for %zu elements of %zu bytes (past the address space)", need, elem);
    void *q = realloc(*p, next * elem);
    if (!q) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "no memory for %zu elements of %zu bytes", next, elem);
    *p = q;
    *cap = next;
    return CF_OK;
}
