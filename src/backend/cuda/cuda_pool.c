/* cuda_pool.c - average and max pooling on cuDNN, the ops of ref_pool.c.
 * Tested against ref_pool.c by tests/test_cuda_ops.c (label gpu).
 *
 * Average pooling is CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING: each window
 * divides by its in-bounds positions, as the CPU (PyTorch's
 * count_include_pad=False). Max pooling is CUDNN_POOLING_MAX_DETERMINISTIC
 * with NaN propagation (a NaN in a window wins, as on the CPU); padding never
 * wins. Backward adds into din[0] (beta 1): pools never write it outright.
 *
 * cuDNN's max-pool backward finds each window's maximum by matching x
 * against y. It is not handed the layer's output buffer for y: the model
 * scales a layer's output in place after forward (drop-path), so that buffer
 * no longer holds max(x) at backward time. Backward recomputes y from x into
 * the workspace first, which makes the result depend on x and dy only, as
 * the CPU reference does.
 *
 * The descriptors are made per call: three host objects, no device work.
 */
#include "cuda_dnn.h"

typedef struct pool_descs {
    cudnnPoolingDescriptor_t pool;
    cudnnTensorDescriptor_t x; /* (N, C, H, W): x, dx */
    cudnnTensorDescriptor_t y; /* (N, C, OH, OW): y, dy */
} pool_descs;

static void pool_descs_fini(pool_descs *d) {
    if (d->pool) cudnnDestroyPoolingDescriptor(d->pool);
    if (d->x) cudnnDestroyTensorDescriptor(d->x);
    if (d->y) cudnnDestroyTensorDescriptor(d->y);
}

/* Descriptors of this call; the output shape cuDNN derives must be the one
 * the op's shape rule gave `out` (both floor the window count). */
static cf_status pool_descs_init(pool_descs *d, const cf_op_args *a, cudnnPoolingMode_t mode) {
    const cf_pool2d_params *p = &a->params.pool;
    const char *op = cf_op_name(a->kind);
    int y[4], on, oc, oh, ow;
    CF_TRY(cf_cuda_dims(a->out, op, "output", y));
    CF_CUDNN_CHECK(cudnnCreatePoolingDescriptor(&d->pool));
    CF_CUDNN_CHECK(cudnnCreateTensorDescriptor(&d->x));
    CF_CUDNN_CHECK(cudnnCreateTensorDescriptor(&d->y));
    CF_CUDNN_CHECK(cudnnSetPooling2dDescriptor(d->pool, mode, CUDNN_PROPAGATE_NAN, p->kernel_h, p->kernel_w, p->pad_h,
                                               p->pad_w, p->stride_h, p->stride_w));
    CF_TRY(cf_cuda_tensor_desc(d->x, a->in[0], op, "input"));
    CF_CUDNN_CHECK(cudnnGetPooling2dForwardOutputDim(d->pool, d->x, &on, &oc, &oh, &ow));
    if (on != y[0] || oc != y[1] || oh != y[2] || ow != y[3])
        CF_FAIL(CF_ERR_INTERNAL, "cuda: %s: cuDNN derives output (%d, %d, %d, %d), the shape rule (%d, %d, %d, %d)", op,
                on, oc, oh, ow, y[0], y[1], y[2], y[3]);
    CF_CUDNN_CHECK(cudnnSetTensor4dDescriptor(d->y, CUDNN_TENSOR_NCHW, cf_cudnn_type(a->out->dtype), y[0], y[1], y[2],
                                              y[3]));
    return CF_OK;
}

static cf_status pool_forward(cf_cuda_ctx *ctx, const cf_op_args *a, const pool_descs *d) {
    const float one = 1.0f, zero = 0.0f;
    CF_CUDNN_CHECK(cudnnPoolingForward(ctx->cudnn, d->pool, &one, d->x, a->in[0]->data, &zero, d->y, a->out->data));
    return CF_OK;
}

/* dx += pool'(x) dy. Max pooling first recomputes y = max(x) into the
 * workspace (see the file comment); average pooling reads no y values. */
static cf_status pool_backward(cf_cuda_ctx *ctx, const cf_op_args *a, const pool_descs *d, int recompute_y) {
    const cf_tensor *x = a->in[0]; /* (N, C, H, W) */
    const cf_tensor *dy = a->dout; /* (N, C, OH, OW) */
    cf_tensor *dx = a->din[0];     /* (N, C, H, W) */
    const float one = 1.0f, zero = 0.0f;
    const void *y = a->out->data;
    if (recompute_y) {
        CF_TRY(cf_cuda_workspace(ctx, cf_tensor_bytes(a->out)));
        CF_CUDNN_CHECK(cudnnPoolingForward(ctx->cudnn, d->pool, &one, d->x, x->data, &zero, d->y, ctx->workspace));
        y = ctx->workspace;
    }
    CF_CUDNN_CHECK(cudnnPoolingBackward(ctx->cudnn, d->pool, &one, d->y, y, d->y, dy->data, d->x, x->data, &one, d->x,
                                        dx->data));
    return CF_OK;
}

static cf_status pool_run(cf_cuda_ctx *ctx, const cf_op_args *a, cudnnPoolingMode_t mode, int backward) {
    if (backward && !a->din[0]) return CF_OK; /* nothing wanted */
    pool_descs d = {0};
    cf_status st = pool_descs_init(&d, a, mode);
    if (st == CF_OK)
        st = backward ? pool_backward(ctx, a, &d, mode == CUDNN_POOLING_MAX_DETERMINISTIC) : pool_forward(ctx, a, &d);
    pool_descs_fini(&d);
    return st;
}

cf_status cf_cuda_avgpool2d_forward(cf_cuda_ctx *ctx, const cf_op_args *a) {
    return pool_run(ctx, a, CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING, 0);
}

cf_status cf_cuda_avgpool2d_backward(cf_cuda_ctx *ctx, const cf_op_args *a) {
    return pool_run(ctx, a, CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING, 1);
}

cf_status cf_cuda_maxpool2d_forward(cf_cuda_ctx *ctx, const cf_op_args *a) {
    return pool_run(ctx, a, CUDNN_POOLING_MAX_DETERMINISTIC, 0);
}

cf_status cf_cuda_maxpool2d_backward(cf_cuda_ctx *ctx, const cf_op_args *a) {
    return pool_run(ctx, a, CUDNN_POOLING_MAX_DETERMINISTIC, 1);
}
