/* philox.h - the ten Philox4x32-10 rounds, one definition for the host
 * (src/core/rng.c: cf_philox4x32_10, cf_rng_word_at) and the device
 * (kernels/philox.cuh: dropout, drop-path and batch draws), so both draw the
 * same words. Checked by tests/test_rng.c against the published Random123
 * known answers, and on a GPU by tests/test_cuda_ops.c against the CPU. */
#ifndef CELLFORGE_PHILOX_H
#define CELLFORGE_PHILOX_H

#include <stdint.h>

#ifdef __CUDACC__
#define CF_PHILOX_FN static __host__ __device__ __forceinline__
#else
#define CF_PHILOX_FN static inline
#endif

/* Counter c (4 words) -> out, under key (k0, k1). */
CF_PHILOX_FN void cf_philox_rounds(const uint32_t c[4], uint32_t k0, uint32_t k1, uint32_t out[4]) {
    uint32_t c0 = c[0], c1 = c[1], c2 = c[2], c3 = c[3];
#ifdef __CUDA_ARCH__ /* the device pass; the host compiler knows no such pragma */
#pragma unroll
#endif
    for (int round = 0; round < 10; round++) {
        if (round > 0) {
            k0 += 0x9E3779B9u; /* golden ratio */
            k1 += 0xBB67AE85u; /* sqrt(3) - 1 */
        }
        const uint64_t p0 = (uint64_t)0xD2511F53u * c0;
        const uint64_t p1 = (uint64_t)0xCD9E8D57u * c2;
        const uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        const uint32_t n1 = (uint32_t)p1;
        const uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        const uint32_t n3 = (uint32_t)p0;
        c0 = n0;
        c1 = n1;
        c2 = n2;
        c3 = n3;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

#endif
