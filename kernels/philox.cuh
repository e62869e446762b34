/* philox.cuh - Philox4x32-10 on the device: the rounds of
 * include/cellforge/philox.h, the same words as cf_rng_word_at
 * (src/core/rng.c) for the same (seed, stream, index), so dropout, drop-path
 * and augmentation draw on the GPU exactly what the CPU draws. Included by
 * the .cu files only; tests/test_cuda_ops.c (label gpu) checks the masks and
 * batches it gives against the CPU's. */
#ifndef CF_KERNELS_PHILOX_CUH
#define CF_KERNELS_PHILOX_CUH

#include <stdint.h>

#include "cellforge/philox.h"

/* Block `block` of stream (seed, stream): counter (block lo, block hi,
 * stream lo, stream hi), key (seed lo, seed hi), as rng.c forms them. */
static __device__ __forceinline__ void cf_philox_block(uint64_t seed, uint64_t stream, uint64_t block,
                                                       uint32_t out[4]) {
    const uint32_t c[4] = {(uint32_t)block, (uint32_t)(block >> 32), (uint32_t)stream, (uint32_t)(stream >> 32)};
    cf_philox_rounds(c, (uint32_t)seed, (uint32_t)(seed >> 32), out);
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
