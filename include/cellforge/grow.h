/* grow.h - the one way a growing array gets more room.
 *
 *   cf_trial *trials = NULL; size_t cap = 0, n = 0;
 *   CF_TRY(cf_grow((void **)&trials, &cap, n + 1, sizeof *trials));
 *   trials[n++] = t;
 *
 * Tested by tests/test_core_file.c.
 */
#ifndef CELLFORGE_GROW_H
#define CELLFORGE_GROW_H

#include <stddef.h>

#include "cellforge/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Make *p (an array of *cap elements of elem bytes, owned by the caller; NULL
 * when *cap is 0) hold at least need elements. The capacity doubles (from 16)
 * so n appends cost O(n) copies; the new elements are not initialized. On
 * failure (no memory, or need * elem past SIZE_MAX) it returns
 * CF_ERR_OUT_OF_MEMORY and leaves *p and *cap as they were. */
cf_status cf_grow(void **p, size_t *cap, size_t need, size_t elem);

#ifdef __cplusplus
}
#endif
#endif
