/* sgd.h - launchers of the optimizer's loops on the GPU: the squared norm of
 * the gradients (for clipping) and the SGD step, PyTorch's rule as the host
 * loop of cf_backend_sgd (src/backend/backend.c) writes it. Pointers are
 * device memory, the work is queued on `stream` without waiting. Used by
 * src/backend/cuda/cuda_misc.c; tests/test_cuda_ops.c (label gpu) tests both
 * against the host loops.
 *
 *   CF_TRY(cf_kernel_norm2(g, n, ctx->partial, CF_CUDA_PARTIALS, ctx->stream));   // sum in partial[0]
 *   CF_TRY(cf_kernel_sgd(w, g, buf, n, lr, 0.9f, 3e-4f, clip, 1, NULL, ctx->stream));
 */
#ifndef CF_KERNELS_SGD_H
#define CF_KERNELS_SGD_H

#include <cuda_runtime.h>
#include <stddef.h>

#include "cellforge/backend.h"
#include "cellforge/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* partial[0] = sum of g[i]^2 over the n floats, in double: fixed-grid partial
 * sums (a grid that depends on n only) into partial[0 .. blocks), then one
 * block adds those in a fixed order, so the value has the same bits on every
 * run and every GPU. NaN or infinity in g comes through. partial holds
 * n_partial doubles (at least 1); its other elements are scratch. */
cf_status cf_kernel_norm2(const float *g, size_t n, double *partial, int n_partial, cudaStream_t stream);
/* The first half of it: the partial sums into partial[0 .. *blocks). */
cf_status cf_kernel_norm2_partial(const float *g, size_t n, double *partial, int n_partial, cudaStream_t stream,
                                  unsigned *blocks);

/* One step over n parameters, float arithmetic exactly as the host loop (no
 * fused multiply-add): g' = g clip + wd w; buf = mu buf + g';
 * w -= lr (g' + mu buf) with nesterov, w -= lr buf without. stats (device
 * memory) non-NULL: clip is stats->clip, and nothing moves after a bad step. */
cf_status cf_kernel_sgd(float *w, const float *g, float *buf, size_t n, float lr, float momentum,
                        float weight_decay, float clip, int nesterov, const cf_step_stats *stats,
                        cudaStream_t stream);

#ifdef __cplusplus
}
#endif
#endif
