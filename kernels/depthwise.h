/* depthwise.h - launchers of the depthwise convolution kernels of the CUDA
 * backend: the conv2d op with groups == C == OC, weight (C, 1, KH, KW), any
 * kernel size, stride, zero padding and dilation, NCHW f32. cuDNN is slow on
 * these (one channel per group), and DARTS's separable and dilated convs and
 * MBConv blocks are made of them. Every pointer is device memory (borrowed
 * for the call), contiguous, and the work is queued on `stream` without
 * waiting. Each returns CF_ERR_UNSUPPORTED for a tensor of more than
 * 2^31 - 1 elements (the kernels index in 32 bits, as cuDNN's descriptors
 * do), CF_ERR_DEVICE (or CF_ERR_DEVICE_OOM) when the launch fails. Every
 * result element is written by one thread or one block in a fixed order: the
 * results are the same bits on every run. Used by
 * src/backend/cuda/cuda_conv.c; tests/test_cuda_ops.c (label gpu) tests them
 * against the CPU reference (src/backend/cpu/ref_conv.c).
 *
 *   cf_kernel_dwconv s = {.n = N, .c = C, .h = H, .w = W, .oh = OH, .ow = OW, .kh = 3, .kw = 3,
 *                         .stride_h = 1, .stride_w = 1, .pad_h = 1, .pad_w = 1, .dil_h = 1, .dil_w = 1};
 *   CF_TRY(cf_kernel_dwconv_forward(x, w, bias, y, &s, ctx->stream));
 */
#ifndef CF_KERNELS_DEPTHWISE_H
#define CF_KERNELS_DEPTHWISE_H

#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

#include "cellforge/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The shape of one depthwise convolution: x (n, c, h, w), weight (c, 1, kh, kw),
 * y (n, c, oh, ow) with oh = (h + 2 pad_h - dil_h (kh - 1) - 1) / stride_h + 1
 * (the op's shape rule; the launchers take oh and ow as given). */
typedef struct cf_kernel_dwconv {
    int64_t n, c, h, w;
    int64_t oh, ow;
    int64_t kh, kw;
    int64_t stride_h, stride_w, pad_h, pad_w, dil_h, dil_w;
} cf_kernel_dwconv;

/* y[n, c, oh, ow] = bias[c] + sum over (kh, kw) of x[n, c, oh*s - p + kh*d, ow*s - p + kw*d] * w[c, 0, kh, kw]
 * (taps outside x count zero). bias (c) may be NULL; y is written outright. */
cf_status cf_kernel_dwconv_forward(const float *x, const float *w, const float *bias, float *y,
                                   const cf_kernel_dwconv *s, cudaStream_t stream);

/* dx[n, c, ih, iw] (= with assign, else +=) sum over the (kh, kw, oh, ow) that read
 * x[n, c, ih, iw] of w[c, 0, kh, kw] * dy[n, c, oh, ow]. With assign dx's old
 * contents are never read (NaN there is fine). */
cf_status cf_kernel_dwconv_backward_data(const float *dy, const float *w, float *dx, const cf_kernel_dwconv *s,
                                         int assign, cudaStream_t stream);

/* dw[c, 0, kh, kw] += sum over (n, oh, ow) of x[n, c, ih, iw] * dy[n, c, oh, ow], and
 * dbias[c] += sum over (n, oh, ow) of dy[n, c, oh, ow]: both always ADD into the
 * existing gradient. Either of dw, dbias may be NULL (that gradient is skipped). */
cf_status cf_kernel_dwconv_backward_weight(const float *x, const float *dy, float *dw, float *dbias,
                                           const cf_kernel_dwconv *s, cudaStream_t stream);

#ifdef __cplusplus
}
#endif
#endif
