/* batch.h - launcher of the batch kernel: one training or evaluation batch
 * built on the GPU from a uint8 dataset already there, exactly as
 * cf_data_batch (src/data/batch.c) builds it on the CPU: the same RNG words
 * per image (kernels/philox.cuh), random crop with zero padding, horizontal
 * flip, cutout, and the host's per-channel scale and shift. Pointers are
 * device memory except scale and shift (host arrays copied into the launch);
 * the work is queued on `stream`. Used by src/backend/cuda/cuda_data.c;
 * tests/test_cuda_ops.c (label gpu) tests it against cf_data_batch.
 */
#ifndef CF_KERNELS_BATCH_H
#define CF_KERNELS_BATCH_H

#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

#include "cellforge/status.h"
#include "cellforge/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Channels a batch kernel takes: cf_data_batch's own limit. */
#define CF_KERNEL_BATCH_MAX_C 16

/* The dataset on the device: n images of (c, h, w) uint8 and n int32 labels. */
typedef struct cf_kernel_dataset {
    const uint8_t *images;
    const int32_t *labels;
    size_t n;
    int c, h, w;
} cf_kernel_dataset;

/* The augmentation, all 0 for none (cf_augment's fields). */
typedef struct cf_kernel_augment {
    int crop_pad, flip, cutout;
    uint64_t erase_threshold;  /* cf_data_erase_threshold(p); 0: off */
    uint64_t erase_stream;     /* cf_data_erase_stream(epoch) */
} cf_kernel_augment;

/* x[k] = image ds[idx[k]] as v * scale[c] + shift[c] (cf_data_batch's rule:
 * scale = 1 / (255 std), shift = -mean / std, computed by the caller), with
 * the draws of image k at words 4 (pos0 + k) + 0..3 of stream (seed,
 * rng_stream) (rng_stream is cf_data_batch's augmentation stream of the
 * epoch), rounded once when x is 16-bit (dt); y[k] = its label. An index past the dataset cannot be reported
 * without waiting for the GPU: its image becomes NaN and its label -1. */
cf_status cf_kernel_batch(cf_kernel_dataset ds, const uint32_t *idx, int n, const float *scale,
                          const float *shift, cf_kernel_augment aug, uint64_t seed, uint64_t rng_stream,
                          uint64_t pos0, void *x, cf_dtype dt, int32_t *y, cudaStream_t stream);

#ifdef __cplusplus
}
#endif
#endif
