/* dropout.h - launchers of dropout and drop-path on the GPU, drawing from the
 * counter RNG (Philox4x32-10, kernels/philox.cuh) exactly what the CPU draws:
 * element i of a dropout call is kept when the 24-bit uniform of word
 * (offset + i) of stream (seed, stream) is >= p, as in
 * src/backend/cpu/ref_elementwise.c; image b of a drop-path call by word
 * (index0 + b), as in cf_backend_drop_path (src/backend/backend.c). Pointers
 * are device memory, the work is queued on `stream`. Used by
 * src/backend/cuda/cuda_misc.c; tests/test_cuda_ops.c (label gpu) tests them
 * against the CPU.
 *
 *   CF_TRY(cf_kernel_dropout_forward(x, y, n, 0.2, seed, stream_id, offset, ctx->stream));
 */
#ifndef CF_KERNELS_DROPOUT_H
#define CF_KERNELS_DROPOUT_H

#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

#include "cellforge/status.h"
#include "cellforge/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* y[i] = kept ? (float)(x[i] * (1 / (1 - p))) : 0, the product in double. p is
 * not checked (cf_op_check_forward holds it to [0, 1)); y may be x. */
cf_status cf_kernel_dropout_forward(const void *x, void *y, cf_dtype dt, size_t n, double p, uint64_t seed,
                                    uint64_t rng_stream, uint64_t offset, cudaStream_t stream);
/* dx[i] += kept ? (float)(dy[i] * (1 / (1 - p))) : nothing. */
cf_status cf_kernel_dropout_backward(const void *dy, void *dx, cf_dtype dt, size_t n, double p, uint64_t seed,
                                     uint64_t rng_stream, uint64_t offset, cudaStream_t stream);
/* x[b * per + j] *= kept(b) ? (float)(1 / (1 - p)) : 0 for the n images b; any p,
 * as the host loop. */
cf_status cf_kernel_drop_path(void *x, cf_dtype dt, int n, size_t per, double p, uint64_t seed, uint64_t rng_stream,
                              uint64_t index0, cudaStream_t stream);

#ifdef __cplusplus
}
#endif
#endif
