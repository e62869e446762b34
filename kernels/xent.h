/* xent.h - launchers of softmax cross-entropy with label smoothing on the
 * GPU, PyTorch's definition as in src/backend/cpu/ref_loss.c: with K classes
 * and smoothing e the target of row n is t_k = (1 - e) [k == label_n] + e / K,
 * and loss = mean_n ( -sum_k t_k log softmax(z_n)_k ). Logits (N, K) f32,
 * labels (N) i32, the loss and its gradient are device memory; the work is
 * queued on `stream`. A label outside [0, K) cannot be reported without
 * waiting for the GPU, so it makes its row's loss and gradient NaN instead
 * (the CPU reference fails with CF_ERR_INVALID_ARG). Used by
 * src/backend/cuda/cuda_misc.c; tests/test_cuda_ops.c (label gpu) tests both
 * against the CPU reference.
 *
 *   CF_TRY(cf_kernel_xent_forward(z, labels, N, K, 0.1, loss, ctx->stream));   // loss: 1 float
 *   CF_TRY(cf_kernel_xent_backward(z, labels, N, K, 0.1, dloss, dz, ctx->stream));
 */
#ifndef CF_KERNELS_XENT_H
#define CF_KERNELS_XENT_H

#include <cuda_runtime.h>
#include <stdint.h>

#include "cellforge/status.h"
#include "cellforge/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* loss[0] = the mean loss over the n rows, computed in double, summed in a
 * fixed order (the same bits on every run). */
cf_status cf_kernel_xent_forward(const void *logits, cf_dtype dt, const int32_t *labels, int64_t n, int64_t k,
                                 double smoothing, float *loss, cudaStream_t stream);
/* logits and dlogits of dtype dt (f32, bf16, f16), the loss f32.
 * dlogits[r, j] += dloss[0] * (softmax(z_r)_j - t_j) / n; dloss is one float of
 * device memory (the weight of this loss). */
cf_status cf_kernel_xent_backward(const void *logits, cf_dtype dt, const int32_t *labels, int64_t n, int64_t k,
                                  double smoothing, const float *dloss, void *dlogits, cudaStream_t stream);

#ifdef __cplusplus
}
#endif
#endif
