/* elementwise.h - launchers of the element-wise kernels of the CUDA backend:
 * ReLU, scale, add-into, the sum of several inputs, the window copy behind
 * concat and slice, and global average pooling, in f32, bf16 or f16 (dt;
 * scale and add are f32 only), and the mixed-precision copies. Every pointer
 * is device memory (borrowed for the call), every size counts values, and the work is
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
#include "cellforge/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* y = max(x, 0) (NaN gives 0, as in the reference); y may be x. */
cf_status cf_kernel_relu_forward(const void *x, void *y, cf_dtype dt, size_t n, cudaStream_t stream);
/* dx += dy where x > 0; with assign, dx = x > 0 ? dy : 0 (dx's old contents unread). */
cf_status cf_kernel_relu_backward(const void *x, const void *dy, void *dx, cf_dtype dt, size_t n, int assign,
                                  cudaStream_t stream);
/* x *= a. */
cf_status cf_kernel_scale(float *x, size_t n, float a, cudaStream_t stream);
/* y += x. */
cf_status cf_kernel_add(float *y, const float *x, size_t n, cudaStream_t stream);

#define CF_KERNEL_SUM_MAX 8
/* y = x[0] + ... + x[k-1], added in double in that order, 1 <= k <= CF_KERNEL_SUM_MAX.
 * x is a host array of k device pointers. */
cf_status cf_kernel_sum(void *y, const void *const *x, cf_dtype dt, int k, size_t n, cudaStream_t stream);

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
cf_status cf_kernel_window_copy(void *dst, cf_kernel_window dw, const void *src, cf_kernel_window sw, cf_dtype dt,
                                int64_t N, int64_t wc, int64_t wh, int64_t ww, int add, cudaStream_t stream);

/* y[r] = (sum of x[r * hw .. r * hw + hw) in double, in order) / hw, for rows r < rows. */
cf_status cf_kernel_global_avgpool_forward(const void *x, void *y, cf_dtype dt, size_t rows, size_t hw,
                                           cudaStream_t stream);
/* dx[r * hw + j] += (float)(dy[r] / (double)hw). */
cf_status cf_kernel_global_avgpool_backward(const void *dy, void *dx, cf_dtype dt, size_t rows, size_t hw,
                                            cudaStream_t stream);

/* Mixed precision. dst (16-bit dt) = src rounded; dst (f32) += src widened. */
cf_status cf_kernel_narrow(void *dst, cf_dtype dt, const float *src, size_t n, cudaStream_t stream);
cf_status cf_kernel_widen_add(float *dst, const void *src, cf_dtype dt, size_t n, cudaStream_t stream);
/* y (rows, cols) = b (cols) in every row; db (cols) += the column sums of dy
 * (rows, cols), added in double in row order and rounded once. */
cf_status cf_kernel_rows_fill(void *y, const void *b, cf_dtype dt, size_t rows, size_t cols, cudaStream_t stream);
cf_status cf_kernel_cols_add(void *db, const void *dy, cf_dtype dt, size_t rows, size_t cols, cudaStream_t stream);

#ifdef __cplusplus
}
#endif
#endif
