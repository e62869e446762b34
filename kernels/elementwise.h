/* elementwise.h - launchers of the element-wise kernels of the CUDA backend:
 * ReLU, scale, add-into, the sum of several inputs, the window copy behind
 * concat and slice, and global average pooling. Every pointer is device
 * memory (borrowed for the call), every size counts floats, and the work is
 * queued on `stream` without waiting. Each returns CF_ERR_DEVICE (or
 * CF_ERR_DEVICE_OOM) when the launch fails. Used by src/backend/cuda/cuda_misc.c;
 * tests/test_cuda_ops.c (label gpu) tests each against the CPU reference op.
 *
 *   CF_TRY(cf_kernel_relu_forward(x, y, n, ctx->stream));
 */
#ifndef CF_KERNELS_ELEMENTWISE_H
#define CF_KERNELS_ELEMENTWISE_H

#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

#include "cellforge/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* y = max(x, 0) (NaN gives 0, as in the reference); y may be x. */
cf_status cf_kernel_relu_forward(const float *x, float *y, size_t n, cudaStream_t stream);
/* dx += dy where x > 0; with assign, dx = x > 0 ? dy : 0 (dx's old contents unread). */
cf_status cf_kernel_relu_backward(const float *x, const float *dy, float *dx, size_t n, int assign,
                                  cudaStream_t stream);
/* x *= a. */
cf_status cf_kernel_scale(float *x, size_t n, float a, cudaStream_t stream);
/* y += x. */
cf_status cf_kernel_add(float *y, const float *x, size_t n, cudaStream_t stream);

#define CF_KERNEL_SUM_MAX 8
/* y = x[0] + ... + x[k-1], added in double in that order, 1 <= k <= CF_KERNEL_SUM_MAX.
 * x is a host array of k device pointers. */
cf_status cf_kernel_sum(float *y, const float *const *x, int k, size_t n, cudaStream_t stream);

/* One side of a window copy: a contiguous (N, c, h, w) tensor and the corner
 * (c0, top, left) of the window in it. */
typedef struct cf_kernel_window {
    int64_t c, h, w;
    int64_t c0, top, left;
} cf_kernel_window;
/* For every (n, c, h, w) of the window shape (N, wc, wh, ww):
 *   dst[n, dw.c0 + c, dw.top + h, dw.left + w] (=, or += with add) src[n, sw.c0 + c, sw.top + h, sw.left + w].
 * Concat forward writes an input into the output's channels, concat backward
 * adds them back, slice the same with a spatial window. The two must not overlap. */
cf_status cf_kernel_window_copy(float *dst, cf_kernel_window dw, const float *src, cf_kernel_window sw, int64_t N,
                                int64_t wc, int64_t wh, int64_t ww, int add, cudaStream_t stream);

/* y[r] = (sum of x[r * hw .. r * hw + hw) in double, in order) / hw, for rows r < rows. */
cf_status cf_kernel_global_avgpool_forward(const float *x, float *y, size_t rows, size_t hw, cudaStream_t stream);
/* dx[r * hw + j] += (float)(dy[r] / (double)hw). */
cf_status cf_kernel_global_avgpool_backward(const float *dy, float *dx, size_t rows, size_t hw,
                                            cudaStream_t stream);

#ifdef __cplusplus
}
#endif
#endif
