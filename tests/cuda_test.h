/* cuda_test.h - what the GPU tests (test_cuda_ops.c, test_cuda_loops.c) share:
 * opening the CUDA backend or skipping, and the normalized error they compare
 * by. Included after check.h, whose counters its CHECKs update, so its
 * functions are static inline like check.h's.
 */
#ifndef CF_TESTS_CUDA_TEST_H
#define CF_TESTS_CUDA_TEST_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cellforge/backend.h"
#include "check.h"

/* The CUDA backend on GPU 0; the caller frees it with cf_backend_cuda_destroy.
 * Where there is nothing to test (a build without CUDA: CF_ERR_UNSUPPORTED; no
 * GPU or driver: CF_ERR_NO_DEVICE) it prints why and returns NULL with *skip
 * set; any other failure is a failed check and NULL with *skip clear. */
static inline cf_backend *cuda_test_open(int deterministic, int *skip) {
    cf_backend *be = NULL;
    const cf_status st = cf_backend_cuda_create(0, deterministic, &be);
    *skip = st == CF_ERR_UNSUPPORTED || st == CF_ERR_NO_DEVICE;
    if (*skip) {
        printf("skipped: %s (%s)\n", cf_error_message(), cf_status_name(st));
        return NULL;
    }
    CHECK(st == CF_OK && be != NULL, "cf_backend_cuda_create(0, %d): %s: %s", deterministic, cf_status_name(st),
          cf_error_message());
    return st == CF_OK ? be : NULL;
}

/* The largest difference of a from the reference b over the largest
 * magnitude of b (at least 1e-6); NaN in a counts as the worst. */
static inline double cuda_test_norm_err(const float *a, const float *b, size_t n) {
    double worst = 0, scale = 1e-6;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= worst)) worst = d; /* NaN sticks */
        if (fabs((double)b[i]) > scale) scale = fabs((double)b[i]);
    }
    return worst / scale;
}

#endif
