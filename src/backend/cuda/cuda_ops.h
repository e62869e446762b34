/* cuda_ops.h - the CUDA backend's context and the op entry points its vtable
 * (backend_cuda.c) dispatches to. Private to src/backend/cuda.
 *
 * Every op takes a call that passed cf_op_check_forward/backward, f32
 * contiguous NCHW tensors in device memory, and queues its work on ctx->stream
 * without synchronizing. Backward adds into din/dw (beta = 1) except where
 * din_assign[k] is set and cuda_assigns (backend_cuda.c) says the op writes
 * din[k] outright (beta = 0). A backward must not rely on `out` still holding
 * the forward's result (drop-path scales some outputs in place), except batch
 * norm with params.bn.relu, whose mask is out > 0: the network never fuses a
 * ReLU into a layer that goes through drop-path. Each op is tested against
 * the CPU reference op of the same kind by tests/test_cuda_ops.c (label gpu).
 */
#ifndef CF_CUDA_OPS_H
#define CF_CUDA_OPS_H

#include <stddef.h>

#include "../backend_impl.h"
#include "cuda_check.h"

/* The per-instance table of convolution shapes: descriptors and algorithms
 * chosen once per shape and reused (cuda_conv.c). */
typedef struct cf_cuda_conv_algos cf_cuda_conv_algos;
/* This instance's holds on datasets uploaded to its device (uint8 copies
 * shared by every instance there; cuda_data.c). */
typedef struct cf_cuda_data cf_cuda_data;

typedef struct cf_cuda_ctx {
    int device;                 /* CUDA ordinal */
    int deterministic;          /* pin deterministic convolution algorithms */
    int own_depthwise;          /* depthwise convolutions on kernels/depthwise.cu, not cuDNN
                                   (CELLFORGE_DEPTHWISE=ours; cuDNN by default until measured) */
    cudaStream_t stream;        /* every op and copy of this instance */
    cudnnHandle_t cudnn;        /* bound to stream */
    cublasHandle_t cublas;      /* bound to stream */
    void *workspace;            /* cuDNN workspace, grows to the largest need, then stays */
    size_t workspace_bytes;
    cf_cuda_conv_algos *algos;  /* per-shape algorithm cache (cuda_conv.c), owned */
    float *ones;                /* (ones_n) 1.0f: BN without affine parameters, bias sums */
    float *zeros;               /* (ones_n) 0.0f */
    float *junk;                /* (ones_n) gradients nobody wants land here */
    size_t ones_n;
    double *partial;            /* (CF_CUDA_PARTIALS) reduction partials: the gradient norm, the
                                   mix's coefficient gradients (stream-ordered: one use at a time) */
    double *host_partial;       /* pinned host copy of the reduced value */
    cf_cuda_data *data;         /* datasets used by this instance (cuda_data.c) */
} cf_cuda_ctx;

#define CF_CUDA_PARTIALS 1024

/* Workspace of at least `bytes` in ctx->workspace. Grows with cudaMalloc only
 * when a new shape needs more (the first steps), so steady-state steps never
 * allocate; an allocation failure is CF_ERR_DEVICE_OOM. */
cf_status cf_cuda_workspace(cf_cuda_ctx *ctx, size_t bytes);
/* ctx->ones/zeros/junk hold at least n floats (grown like the workspace). */
cf_status cf_cuda_constants(cf_cuda_ctx *ctx, size_t n);

/* ---- cuDNN and cuBLAS ops (cuda_conv.c, cuda_norm.c, cuda_pool.c, cuda_linear.c) ---- */
cf_status cf_cuda_conv2d_forward(cf_cuda_ctx *ctx, const cf_op_args *a);
cf_status cf_cuda_conv2d_backward(cf_cuda_ctx *ctx, const cf_op_args *a);
cf_status cf_cuda_batchnorm_forward(cf_cuda_ctx *ctx, const cf_op_args *a);
cf_status cf_cuda_batchnorm_backward(cf_cuda_ctx *ctx, const cf_op_args *a);
cf_status cf_cuda_avgpool2d_forward(cf_cuda_ctx *ctx, const cf_op_args *a);
cf_status cf_cuda_avgpool2d_backward(cf_cuda_ctx *ctx, const cf_op_args *a);
cf_status cf_cuda_maxpool2d_forward(cf_cuda_ctx *ctx, const cf_op_args *a);
cf_status cf_cuda_maxpool2d_backward(cf_cuda_ctx *ctx, const cf_op_args *a);
cf_status cf_cuda_linear_forward(cf_cuda_ctx *ctx, const cf_op_args *a);
cf_status cf_cuda_linear_backward(cf_cuda_ctx *ctx, const cf_op_args *a);
void cf_cuda_conv_algos_destroy(cf_cuda_conv_algos *c); /* NULL accepted */

/* ---- ops on our own kernels (cuda_misc.c over kernels/) ---- */
cf_status cf_cuda_relu_forward(cf_cuda_ctx *ctx, const cf_op_args *a);
cf_status cf_cuda_relu_backward(cf_cuda_ctx *ctx, const cf_op_args *a);
cf_status cf_cuda_global_avgpool_forward(cf_cuda_ctx *ctx, const cf_op_args *a);
cf_status cf_cuda_global_avgpool_backward(cf_cuda_ctx *ctx, const cf_op_args *a);
cf_status cf_cuda_sum_forward(cf_cuda_ctx *ctx, const cf_op_args *a);
cf_status cf_cuda_sum_backward(cf_cuda_ctx *ctx, const cf_op_args *a);
cf_status cf_cuda_mix_forward(cf_cuda_ctx *ctx, const cf_op_args *a);
cf_status cf_cuda_mix_backward(cf_cuda_ctx *ctx, const cf_op_args *a);
cf_status cf_cuda_zero_forward(cf_cuda_ctx *ctx, const cf_op_args *a);
cf_status cf_cuda_zero_backward(cf_cuda_ctx *ctx, const cf_op_args *a);
cf_status cf_cuda_identity_forward(cf_cuda_ctx *ctx, const cf_op_args *a);
cf_status cf_cuda_identity_backward(cf_cuda_ctx *ctx, const cf_op_args *a);
cf_status cf_cuda_concat_forward(cf_cuda_ctx *ctx, const cf_op_args *a);
cf_status cf_cuda_concat_backward(cf_cuda_ctx *ctx, const cf_op_args *a);
cf_status cf_cuda_slice_forward(cf_cuda_ctx *ctx, const cf_op_args *a);
cf_status cf_cuda_slice_backward(cf_cuda_ctx *ctx, const cf_op_args *a);
cf_status cf_cuda_softmax_xent_forward(cf_cuda_ctx *ctx, const cf_op_args *a);
cf_status cf_cuda_softmax_xent_backward(cf_cuda_ctx *ctx, const cf_op_args *a);
cf_status cf_cuda_dropout_forward(cf_cuda_ctx *ctx, const cf_op_args *a);
cf_status cf_cuda_dropout_backward(cf_cuda_ctx *ctx, const cf_op_args *a);

/* ---- the training loops of the vtable (cuda_misc.c, cuda_data.c) ---- */
cf_status cf_cuda_drop_path(cf_cuda_ctx *ctx, void *x, cf_dtype dt, int n, size_t per, double p, uint64_t seed,
                            uint64_t stream, uint64_t index0);
cf_status cf_cuda_scale(cf_cuda_ctx *ctx, float *x, size_t n, float a);
cf_status cf_cuda_narrow(cf_cuda_ctx *ctx, void *dst, cf_dtype dt, const float *src, size_t n);
cf_status cf_cuda_widen_add(cf_cuda_ctx *ctx, float *dst, const void *src, cf_dtype dt, size_t n);
cf_status cf_cuda_norm2(cf_cuda_ctx *ctx, const float *g, size_t n, double *out);
cf_status cf_cuda_sgd(cf_cuda_ctx *ctx, const cf_sgd_args *a);
cf_status cf_cuda_batch(cf_cuda_ctx *ctx, const cf_batch_args *a);
cf_status cf_cuda_step_stats(cf_cuda_ctx *ctx, const cf_step_stats_args *a);
cf_status cf_cuda_step_clip(cf_cuda_ctx *ctx, const float *g, size_t n, double max_norm, cf_step_stats *stats);
cf_status cf_cuda_step_seed(cf_cuda_ctx *ctx, float *seeds, double weight0, double weight1,
                            const cf_step_stats *stats);
/* Drop this instance's references to device datasets (cuda_data.c). */
void cf_cuda_data_release(cf_cuda_ctx *ctx);

#endif
