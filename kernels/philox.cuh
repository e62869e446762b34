/* philox.cuh - Philox4x32-10 on the device: the same words as cf_rng_word_at
 * (src/core/rng.c) for the same (seed, stream, index), so dropout, drop-path
 * and augmentation draw on the GPU exactly what the CPU draws. Included by
 * the .cu files only; tests/test_cuda_ops.c (label gpu) checks the masks and
 * batches it gives against the CPU's. */
#ifndef CF_KERNELS_PHILOX_CUH
#define CF_KERNELS_PHILOX_CUH

#include <stdint.h>

/* Block `block` of stream (seed, stream): counter (block lo, block hi,
 * stream lo, stream hi), key (seed lo, seed hi), ten rounds, written out as
 * in cf_philox4x32_10 with 64-bit products. */
static __device__ __forceinline__ void cf_philox_block(uint64_t seed, uint64_t stream, uint64_t block,
                                                       uint32_t out[4]) {
    uint32_t c0 = (uint32_t)block, c1 = (uint32_t)(block >> 32);
    uint32_t c2 = (uint32_t)stream, c3 = (uint32_t)(stream >> 32);
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
#pragma unroll
    for (int round = 0; round < 10; round++) {
        if (round > 0) {
            k0 += 0x9E3779B9u;
            k1 += 0xBB67AE85u;
        }
        uint64_t p0 = (uint64_t)0xD2511F53u * c0;
        uint64_t p1 = (uint64_t)0xCD9E8D57u * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        uint32_t n1 = (uint32_t)p1;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        uint32_t n3 = (uint32_t)p0;
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

/* cf_rng_word_at(seed, stream, index). */
static __device__ __forceinline__ uint32_t cf_philox_word_at(uint64_t seed, uint64_t stream, uint64_t index) {
    uint32_t out[4];
    cf_philox_block(seed, stream, index / 4, out);
    return out[index % 4];
}

/* The 24-bit uniform of a word against a probability, as the CPU writes it:
 * (double)(word >> 8) * 2^-24 >= p keeps. Exact in double. */
static __device__ __forceinline__ bool cf_philox_keep(uint32_t word, double p) {
    return (double)(word >> 8) * (1.0 / 16777216.0) >= p;
}

#endif
