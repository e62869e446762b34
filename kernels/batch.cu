/* batch.cu - one batch on the GPU from the device copy of a uint8 dataset:
 * random crop with zero padding, flip, normalization and cutout, each float
 * equal to cf_data_batch's (src/data/batch.c): the same Philox words, the
 * same integer arithmetic for the draws, and v * scale + shift without a fused
 * multiply-add; 16-bit images are those floats rounded once. tests/test_cuda_ops.c (label gpu) tests it against
 * cf_data_batch. */
#include "batch.h"

#include <math.h>

#include "launch.cuh"
#include "philox.cuh"

/* The per-channel constants travel by value in the kernel's parameters. */
typedef struct channel_affine {
    float scale[CF_KERNEL_BATCH_MAX_C], shift[CF_KERNEL_BATCH_MAX_C];
} channel_affine;

/* blockIdx.y walks the batch's images; the threads of the x dimension share
 * one image's c * h * w floats. Image k's four draws (crop dy, crop dx, flip,
 * cutout centre) are the words of Philox block pos0 + k. */
template <typename T>
static __global__ void batch_kernel(cf_kernel_dataset ds, const uint32_t *idx, int n, channel_affine af,
                                    cf_kernel_augment aug, uint64_t seed, uint64_t rng_stream, uint64_t pos0,
                                    T *x, int32_t *y) {
    const int C = ds.c, H = ds.h, W = ds.w;
    const size_t image = (size_t)C * (size_t)H * (size_t)W;
    for (int k = blockIdx.y; k < n; k += gridDim.y) {
        const uint32_t i = idx[k];
        T *dst = x + (size_t)k * image;
        const bool valid = (size_t)i < ds.n;
        if (blockIdx.x == 0 && threadIdx.x == 0) y[k] = valid ? ds.labels[i] : -1;
        if (!valid) {
            CF_KERNEL_FOR(e, image) dst[e] = cf_st<T>(NAN);
            continue;
        }
        uint32_t draw[4];
        cf_philox_block(seed, rng_stream, pos0 + (uint64_t)k, draw);
        int dy = 0, dx = 0, flip = 0;
        if (aug.crop_pad > 0) {
            const uint32_t span = 2u * (uint32_t)aug.crop_pad + 1u;
            dy = (int)(draw[0] % span) - aug.crop_pad;
            dx = (int)(draw[1] % span) - aug.crop_pad;
        }
        if (aug.flip) flip = (int)(draw[2] & 1u);
        int h0 = 0, w0 = 0;
        if (aug.cutout > 0) {
            const int cy = (int)((draw[3] >> 16) % (uint32_t)H), cx = (int)((draw[3] & 0xffffu) % (uint32_t)W);
            h0 = cy - aug.cutout / 2;
            w0 = cx - aug.cutout / 2;
        }
        /* random erasing: cf_data_erase_rect's integer arithmetic on the words of
         * block pos0 + k of the erase stream */
        int ey = 0, ex = 0, eh = 0, ew = 0;
        if (aug.erase_threshold > 0) {
            uint32_t er[4];
            cf_philox_block(seed, aug.erase_stream, pos0 + (uint64_t)k, er);
            if ((uint64_t)er[0] < aug.erase_threshold) {
                const int hl = H / 8 > 0 ? H / 8 : 1, hh = H / 2 > hl ? H / 2 : hl;
                const int wl = W / 8 > 0 ? W / 8 : 1, wh = W / 2 > wl ? W / 2 : wl;
                eh = hl + (int)(er[1] % (uint32_t)(hh - hl + 1));
                ew = wl + (int)(er[2] % (uint32_t)(wh - wl + 1));
                ey = (int)((er[3] >> 16) % (uint32_t)(H - eh + 1));
                ex = (int)((er[3] & 0xffffu) % (uint32_t)(W - ew + 1));
            }
        }
        const uint8_t *src = ds.images + (size_t)i * image;
        CF_KERNEL_FOR(e, image) {
            const int w = (int)(e % (size_t)W), h = (int)(e / (size_t)W % (size_t)H), c = (int)(e / ((size_t)W * H));
            float v;
            if ((aug.cutout > 0 && h >= h0 && h < h0 + aug.cutout && w >= w0 && w < w0 + aug.cutout) ||
                (eh > 0 && h >= ey && h < ey + eh && w >= ex && w < ex + ew)) {
                v = 0.0f;
            } else {
                /* padding is black (0) before normalization, as torchvision pads */
                const int sh = h + dy, sw = (flip ? W - 1 - w : w) + dx;
                if (sh < 0 || sh >= H || sw < 0 || sw >= W)
                    v = af.shift[c];
                else
                    v = __fadd_rn(__fmul_rn((float)src[((size_t)c * H + sh) * W + sw], af.scale[c]), af.shift[c]);
            }
            dst[e] = cf_st<T>(v);
        }
    }
}

extern "C" cf_status cf_kernel_batch(cf_kernel_dataset ds, const uint32_t *idx, int n, const float *scale,
                                     const float *shift, cf_kernel_augment aug, uint64_t seed, uint64_t rng_stream,
                                     uint64_t pos0, void *x, cf_dtype dt, int32_t *y, cudaStream_t stream) {
    if (ds.c < 1 || ds.c > CF_KERNEL_BATCH_MAX_C || ds.h < 1 || ds.w < 1)
        CF_FAIL(CF_ERR_UNSUPPORTED, "batch kernel: images of (%d, %d, %d), it takes 1..%d channels", ds.c, ds.h, ds.w,
                CF_KERNEL_BATCH_MAX_C);
    if (n <= 0) return CF_OK;
    channel_affine af = {};
    for (int c = 0; c < ds.c; c++) {
        af.scale[c] = scale[c];
        af.shift[c] = shift[c];
    }
    const size_t image = (size_t)ds.c * (size_t)ds.h * (size_t)ds.w;
    const unsigned images = n < 65535 ? (unsigned)n : 65535u;
    unsigned per_image = cf_kernel_blocks(image);
    const unsigned cap = CF_KERNEL_MAX_BLOCKS / images > 0 ? CF_KERNEL_MAX_BLOCKS / images : 1;
    if (per_image > cap) per_image = cap;
    CF_KERNEL_DTYPE(dt, "batch",
                    batch_kernel<T><<<dim3(per_image, images), CF_KERNEL_THREADS, 0, stream>>>(
                        ds, idx, n, af, aug, seed, rng_stream, pos0, (T *)x, y));
    return CF_KERNEL_LAUNCHED("batch");
}
