/* mix.h - launchers of a one-shot supernet's mix on the GPU (mix.cu): the
 * weighted sum of up to CF_KERNEL_MIX_MAX candidate outputs, any of them NULL
 * (a branch not computed this step), and its backward. The coefficients are
 * read on the device: nothing here waits for the host or copies to it, so a
 * step with a mix can still be captured into a CUDA graph. Every pointer is
 * device memory (borrowed for the call), sizes count floats, the work is
 * queued on `stream`. Each returns CF_ERR_DEVICE (or CF_ERR_DEVICE_OOM) when a
 * launch fails. Used by src/backend/cuda/cuda_misc.c; tests/test_cuda_ops.c
 * (label gpu) tests both against the CPU reference op.
 *
 *   const float *x[3] = {conv_out, NULL, pool_out};
 *   CF_TRY(cf_kernel_mix_forward(y, x, coef, 3, n, ctx->stream));
 */
#ifndef CF_KERNELS_MIX_H
#define CF_KERNELS_MIX_H

#include <cuda_runtime.h>
#include <stddef.h>

#include "cellforge/status.h"
#include "cellforge/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CF_KERNEL_MIX_MAX 8

/* y[i] = sum over the j < k with x[j] != NULL of coef[j] * x[j][i], products
 * and sums in double in increasing j, rounded once: the CPU reference's
 * floats. x is a host array of k device pointers (NULL: a branch not
 * computed); coef is (k) floats on the device. At least one x[j] is present. */
cf_status cf_kernel_mix_forward(void *y, const void *const *x, cf_dtype dt, const float *coef, int k, size_t n,
                                cudaStream_t stream);

/* For every j < k with x[j] != NULL:
 *   dx[j] != NULL:  dx[j][i] = coef[j] * dy[i] where assign[j], else dx[j][i] += coef[j] * dy[i]
 *                   (the product rounded to f32, then one f32 add, as on the CPU), slots in
 *                   increasing j, so a gradient named by two slots is written before it is added to;
 *   dcoef != NULL:  dcoef[j] += (float)(sum over i of x[j][i] * dy[i]), summed in double.
 * The dot products are deterministic: per slot a grid fixed by n and the slot count
 * writes one double per block into partial (n_partial doubles of scratch on the
 * device, at least k), then one block per slot adds them in a fixed tree; no atomics,
 * so two runs give the same bits. x, dx: host arrays of k device pointers; assign: k flags.
 * x, y, dy, dx are of dtype dt (f32, bf16, f16: computed in f32, rounded when written);
 * coef and dcoef are f32. */
cf_status cf_kernel_mix_backward(const void *const *x, cf_dtype dt, const float *coef, const void *dy,
                                 void *const *dx, const unsigned char *assign, float *dcoef, int k, size_t n,
                                 double *partial, int n_partial, cudaStream_t stream);

#ifdef __cplusplus
}
#endif
#endif
