/* dropout.cu - dropout and drop-path on the GPU with the counter RNG's words
 * (kernels/philox.cuh): the same masks and the same floats as the CPU
 * (src/backend/cpu/ref_elementwise.c, cf_backend_drop_path in
 * src/backend/backend.c). tests/test_cuda_ops.c (label gpu) tests them
 * against the CPU. */
#include "dropout.h"

#include "launch.cuh"
#include "philox.cuh"

/* Dropout: one thread per Philox block, i.e. per four consecutive words of
 * the stream; word w belongs to element w - offset. `first` is the block of
 * word `offset`, `blocks` the number of blocks the n words touch. */
template <typename T>
static __global__ void dropout_kernel(const T *src, T *dst, size_t n, double p, double scale,
                                      uint64_t seed, uint64_t rng_stream, uint64_t offset, uint64_t first,
                                      size_t blocks, int backward) {
    CF_KERNEL_FOR(t, blocks) {
        const uint64_t block = first + t;
        uint32_t words[4];
        cf_philox_block(seed, rng_stream, block, words);
        for (int j = 0; j < 4; j++) {
            const uint64_t w = block * 4 + (uint64_t)j;
            if (w < offset) continue;
            const uint64_t i = w - offset;
            if (i >= n) break;
            const bool keep = cf_philox_keep(words[j], p);
            if (backward) {
                if (keep) dst[i] = cf_st<T>(__fadd_rn(cf_ld(dst[i]), (float)((double)cf_ld(src[i]) * scale)));
            } else {
                dst[i] = cf_st<T>(keep ? (float)((double)cf_ld(src[i]) * scale) : 0.0f);
            }
        }
    }
}

static cf_status dropout_launch(const void *src, void *dst, cf_dtype dt, size_t n, double p, uint64_t seed,
                                uint64_t rng_stream, uint64_t offset, int backward, cudaStream_t stream) {
    if (n == 0) return CF_OK;
    const uint64_t first = offset / 4, last = (offset + (uint64_t)n - 1) / 4;
    const size_t blocks = (size_t)(last - first + 1);
    CF_KERNEL_DTYPE(dt, "dropout", dropout_kernel<T><<<cf_kernel_blocks(blocks), CF_KERNEL_THREADS, 0, stream>>>(
                                       (const T *)src, (T *)dst, n, p, 1.0 / (1.0 - p), seed, rng_stream, offset,
                                       first, blocks, backward));
    return CF_KERNEL_LAUNCHED(backward ? "dropout_backward" : "dropout_forward");
}

extern "C" cf_status cf_kernel_dropout_forward(const void *x, void *y, cf_dtype dt, size_t n, double p, uint64_t seed,
                                               uint64_t rng_stream, uint64_t offset, cudaStream_t stream) {
    return dropout_launch(x, y, dt, n, p, seed, rng_stream, offset, 0, stream);
}

extern "C" cf_status cf_kernel_dropout_backward(const void *dy, void *dx, cf_dtype dt, size_t n, double p,
                                                uint64_t seed, uint64_t rng_stream, uint64_t offset,
                                                cudaStream_t stream) {
    return dropout_launch(dy, dx, dt, n, p, seed, rng_stream, offset, 1, stream);
}

/* Drop-path: blockIdx.y walks the images, each thread draws its image's word
 * once and scales its share of the image's floats. */
template <typename T>
static __global__ void drop_path_kernel(T *x, int n, size_t per, double p, float kept_scale, uint64_t seed,
                                        uint64_t rng_stream, uint64_t index0) {
    for (int b = blockIdx.y; b < n; b += gridDim.y) {
        const uint32_t word = cf_philox_word_at(seed, rng_stream, index0 + (uint64_t)b);
        const float scale = cf_philox_keep(word, p) ? kept_scale : 0.0f;
        T *v = x + (size_t)b * per;
        CF_KERNEL_FOR(j, per) v[j] = cf_st<T>(__fmul_rn(cf_ld(v[j]), scale));
    }
}

extern "C" cf_status cf_kernel_drop_path(void *x, cf_dtype dt, int n, size_t per, double p, uint64_t seed,
                                         uint64_t rng_stream, uint64_t index0, cudaStream_t stream) {
    if (n <= 0 || per == 0) return CF_OK;
    const unsigned images = n < 65535 ? (unsigned)n : 65535u;
    unsigned per_image = cf_kernel_blocks(per);
    const unsigned cap = CF_KERNEL_MAX_BLOCKS / images > 0 ? CF_KERNEL_MAX_BLOCKS / images : 1;
    if (per_image > cap) per_image = cap;
    const float kept_scale = (float)(1.0 / (1.0 - p));
    CF_KERNEL_DTYPE(dt, "drop_path",
                    drop_path_kernel<T><<<dim3(per_image, images), CF_KERNEL_THREADS, 0, stream>>>(
                        (T *)x, n, per, p, kept_scale, seed, rng_stream, index0));
    return CF_KERNEL_LAUNCHED("drop_path");
}
