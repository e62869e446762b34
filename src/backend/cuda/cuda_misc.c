/* cuda_misc.c - the CUDA backend's ops on its own kernels (kernels/): ReLU,
 * global average pooling, sum, a supernet's mix, zero, identity, concat,
 * slice, softmax cross-entropy and dropout, and the optimizer's loops
 * (drop-path, scale, gradient norm, SGD step). Plain C: each function turns a
 * validated cf_op_args (contiguous NCHW device tensors of f32, bf16 or f16,
 * checked by backend_cuda.c) into sizes and pointers for a launcher, on ctx->stream,
 * without waiting; only the gradient norm waits, as its value goes back to
 * the host.
 *
 * Backward adds into din[k] (a NULL din[k] is not wanted), except ReLU and
 * mix, which write din[k] outright when din_assign[k] is set (cuda_assigns in
 * backend_cuda.c says so; for every other op cf_op_backward has zeroed such
 * a din[k] first). tests/test_cuda_ops.c (label gpu) tests every function
 * here against the CPU reference op or host loop of the same name.
 */
#include "cuda_ops.h"
#include "kernels/dropout.h"
#include "kernels/elementwise.h"
#include "kernels/mix.h"
#include "kernels/sgd.h"
#include "kernels/step.h"
#include "kernels/xent.h"

static size_t numel(const cf_tensor *t) { return (size_t)cf_tensor_numel(t); }
static float *fdata(const cf_tensor *t) { return (float *)t->data; }
static size_t bytes_of(const cf_tensor *t) { return cf_tensor_bytes(t); }

/* The window of a whole contiguous tensor, corner (c0, top, left). */
static cf_kernel_window window_of(const cf_tensor *t, int64_t c0, int64_t top, int64_t left) {
    return (cf_kernel_window){.c = t->shape[1], .h = t->shape[2], .w = t->shape[3], .c0 = c0, .top = top, .left = left};
}

/* ---- ReLU ----------------------------------------------------------------- */

cf_status cf_cuda_relu_forward(cf_cuda_ctx *ctx, const cf_op_args *a) {
    return cf_kernel_relu_forward(a->in[0]->data, a->out->data, a->out->dtype, numel(a->out), ctx->stream);
}

cf_status cf_cuda_relu_backward(cf_cuda_ctx *ctx, const cf_op_args *a) {
    if (!a->din[0]) return CF_OK;
    return cf_kernel_relu_backward(a->in[0]->data, a->dout->data, a->din[0]->data, a->dout->dtype, numel(a->din[0]),
                                   a->din_assign[0], ctx->stream);
}

/* ---- global average pooling ------------------------------------------------ */

cf_status cf_cuda_global_avgpool_forward(cf_cuda_ctx *ctx, const cf_op_args *a) {
    const cf_tensor *x = a->in[0]; /* (N, C, H, W) -> (N, C, 1, 1) */
    return cf_kernel_global_avgpool_forward(x->data, a->out->data, x->dtype, (size_t)(x->shape[0] * x->shape[1]),
                                            (size_t)(x->shape[2] * x->shape[3]), ctx->stream);
}

cf_status cf_cuda_global_avgpool_backward(cf_cuda_ctx *ctx, const cf_op_args *a) {
    const cf_tensor *x = a->in[0];
    if (!a->din[0]) return CF_OK;
    return cf_kernel_global_avgpool_backward(a->dout->data, a->din[0]->data, x->dtype,
                                             (size_t)(x->shape[0] * x->shape[1]), (size_t)(x->shape[2] * x->shape[3]),
                                             ctx->stream);
}

/* ---- sum, zero, identity ---------------------------------------------------- */

cf_status cf_cuda_sum_forward(cf_cuda_ctx *ctx, const cf_op_args *a) {
    const void *x[CF_OP_MAX_INPUTS];
    for (int k = 0; k < a->n_inputs; k++) x[k] = a->in[k]->data;
    return cf_kernel_sum(a->out->data, x, a->out->dtype, a->n_inputs, numel(a->out), ctx->stream);
}

/* dx += dy over whole tensors: the f32 add, or a whole-tensor window for 16-bit values. */
static cf_status add_into(cf_cuda_ctx *ctx, cf_tensor *dx, const cf_tensor *dy) {
    if (dx->dtype == CF_DTYPE_F32) return cf_kernel_add(fdata(dx), fdata(dy), numel(dy), ctx->stream);
    return cf_kernel_window_copy(dx->data, window_of(dx, 0, 0, 0), dy->data, window_of(dy, 0, 0, 0), dx->dtype,
                                 dx->shape[0], dx->shape[1], dx->shape[2], dx->shape[3], 1, ctx->stream);
}

/* One launch per wanted input, in order: two slots may name the same
 * gradient (x + x), which then receives dy twice, as on the CPU. */
cf_status cf_cuda_sum_backward(cf_cuda_ctx *ctx, const cf_op_args *a) {
    for (int k = 0; k < a->n_inputs; k++)
        if (a->din[k]) CF_TRY(add_into(ctx, a->din[k], a->dout));
    return CF_OK;
}

/* ---- mix: the weighted sum of the branches computed this step --------------
 * coef (K, 1, 1, 1) stays on the device: the kernels read it there. */

cf_status cf_cuda_mix_forward(cf_cuda_ctx *ctx, const cf_op_args *a) {
    const void *x[CF_OP_MAX_INPUTS];
    for (int k = 0; k < a->n_inputs; k++) x[k] = a->in[k] ? a->in[k]->data : NULL;
    return cf_kernel_mix_forward(a->out->data, x, a->out->dtype, fdata(a->w[0]), a->n_inputs, numel(a->out),
                                 ctx->stream);
}

/* The coefficients' dot products go through ctx->partial, on the stream: no
 * wait, unlike the gradient norm, as their sums stay on the device. */
cf_status cf_cuda_mix_backward(cf_cuda_ctx *ctx, const cf_op_args *a) {
    const void *x[CF_OP_MAX_INPUTS];
    void *dx[CF_OP_MAX_INPUTS];
    for (int k = 0; k < a->n_inputs; k++) {
        x[k] = a->in[k] ? a->in[k]->data : NULL;
        dx[k] = a->din[k] ? a->din[k]->data : NULL;
    }
    return cf_kernel_mix_backward(x, a->dout->dtype, fdata(a->w[0]), a->dout->data, dx, a->din_assign,
                                  a->dw[0] ? fdata(a->dw[0]) : NULL, a->n_inputs, numel(a->dout), ctx->partial,
                                  CF_CUDA_PARTIALS, ctx->stream);
}

cf_status cf_cuda_zero_forward(cf_cuda_ctx *ctx, const cf_op_args *a) {
    CF_CUDA_CHECK(cudaMemsetAsync(a->out->data, 0, bytes_of(a->out), ctx->stream)); /* +0 in every storage */
    return CF_OK;
}

/* The output does not depend on the input: nothing flows back. */
cf_status cf_cuda_zero_backward(cf_cuda_ctx *ctx, const cf_op_args *a) {
    (void)ctx;
    (void)a;
    return CF_OK;
}

cf_status cf_cuda_identity_forward(cf_cuda_ctx *ctx, const cf_op_args *a) {
    if (a->out->data == a->in[0]->data) return CF_OK;
    CF_CUDA_CHECK(cudaMemcpyAsync(a->out->data, a->in[0]->data, bytes_of(a->out), cudaMemcpyDeviceToDevice,
                                  ctx->stream));
    return CF_OK;
}

cf_status cf_cuda_identity_backward(cf_cuda_ctx *ctx, const cf_op_args *a) {
    if (!a->din[0]) return CF_OK;
    return add_into(ctx, a->din[0], a->dout);
}

/* ---- concat and slice: window copies on channels (and rows, columns) -------- */

/* y[:, c0 : c0 + C_k] = x_k, inputs in order */
cf_status cf_cuda_concat_forward(cf_cuda_ctx *ctx, const cf_op_args *a) {
    const cf_tensor *y = a->out;
    int64_t c0 = 0;
    for (int k = 0; k < a->n_inputs; k++) {
        const cf_tensor *x = a->in[k];
        CF_TRY(cf_kernel_window_copy(y->data, window_of(y, c0, 0, 0), x->data, window_of(x, 0, 0, 0), y->dtype,
                                     x->shape[0], x->shape[1], x->shape[2], x->shape[3], 0, ctx->stream));
        c0 += x->shape[1];
    }
    return CF_OK;
}

cf_status cf_cuda_concat_backward(cf_cuda_ctx *ctx, const cf_op_args *a) {
    const cf_tensor *dy = a->dout;
    int64_t c0 = 0;
    for (int k = 0; k < a->n_inputs; k++) {
        const cf_tensor *dx = a->din[k];
        if (dx)
            CF_TRY(cf_kernel_window_copy(dx->data, window_of(dx, 0, 0, 0), dy->data, window_of(dy, c0, 0, 0),
                                         dy->dtype, dx->shape[0], dx->shape[1], dx->shape[2], dx->shape[3], 1,
                                         ctx->stream));
        c0 += a->in[k]->shape[1];
    }
    return CF_OK;
}

/* y = x[:, c0 : c0 + c, top : top + h, left : left + w] */
cf_status cf_cuda_slice_forward(cf_cuda_ctx *ctx, const cf_op_args *a) {
    const cf_slice_params *p = &a->params.slice;
    const cf_tensor *x = a->in[0], *y = a->out;
    return cf_kernel_window_copy(y->data, window_of(y, 0, 0, 0), x->data, window_of(x, p->c0, p->top, p->left),
                                 y->dtype, y->shape[0], y->shape[1], y->shape[2], y->shape[3], 0, ctx->stream);
}

/* The window of dx receives dy; the rest of dx is untouched. */
cf_status cf_cuda_slice_backward(cf_cuda_ctx *ctx, const cf_op_args *a) {
    const cf_slice_params *p = &a->params.slice;
    const cf_tensor *dy = a->dout, *dx = a->din[0];
    if (!dx) return CF_OK;
    return cf_kernel_window_copy(dx->data, window_of(dx, p->c0, p->top, p->left), dy->data, window_of(dy, 0, 0, 0),
                                 dy->dtype, dy->shape[0], dy->shape[1], dy->shape[2], dy->shape[3], 1, ctx->stream);
}

/* ---- softmax cross-entropy ---------------------------------------------------- */

/* logits (N, K), labels i32 (N) and the loss (1) are device memory: the loss
 * stays there until the caller copies it back. */
cf_status cf_cuda_softmax_xent_forward(cf_cuda_ctx *ctx, const cf_op_args *a) {
    const cf_tensor *z = a->in[0];
    return cf_kernel_xent_forward(z->data, z->dtype, (const int32_t *)a->in[1]->data, z->shape[0], z->shape[1],
                                  a->params.xent.label_smoothing, fdata(a->out), ctx->stream);
}

/* dout is the loss's weight, one float of device memory. */
cf_status cf_cuda_softmax_xent_backward(cf_cuda_ctx *ctx, const cf_op_args *a) {
    const cf_tensor *z = a->in[0];
    if (!a->din[0]) return CF_OK;
    return cf_kernel_xent_backward(z->data, z->dtype, (const int32_t *)a->in[1]->data, z->shape[0], z->shape[1],
                                   a->params.xent.label_smoothing, fdata(a->dout), a->din[0]->data, ctx->stream);
}

/* ---- dropout ------------------------------------------------------------------ */

cf_status cf_cuda_dropout_forward(cf_cuda_ctx *ctx, const cf_op_args *a) {
    const cf_dropout_params *p = &a->params.dropout;
    return cf_kernel_dropout_forward(a->in[0]->data, a->out->data, a->out->dtype, numel(a->out), p->p, p->seed,
                                     p->stream, p->offset, ctx->stream);
}

cf_status cf_cuda_dropout_backward(cf_cuda_ctx *ctx, const cf_op_args *a) {
    const cf_dropout_params *p = &a->params.dropout;
    if (!a->din[0]) return CF_OK;
    return cf_kernel_dropout_backward(a->dout->data, a->din[0]->data, a->dout->dtype, numel(a->dout), p->p, p->seed,
                                      p->stream, p->offset, ctx->stream);
}

/* ---- the optimizer's loops -----------------------------------------------------
 * The vtable calls these without selecting the device first (the ops come
 * through cuda_forward/cuda_backward, which do), so they select it. */

cf_status cf_cuda_drop_path(cf_cuda_ctx *ctx, void *x, cf_dtype dt, int n, size_t per, double p, uint64_t seed,
                            uint64_t stream, uint64_t index0) {
    CF_CUDA_CHECK(cudaSetDevice(ctx->device));
    return cf_kernel_drop_path(x, dt, n, per, p, seed, stream, index0, ctx->stream);
}

cf_status cf_cuda_narrow(cf_cuda_ctx *ctx, void *dst, cf_dtype dt, const float *src, size_t n) {
    CF_CUDA_CHECK(cudaSetDevice(ctx->device));
    return cf_kernel_narrow(dst, dt, src, n, ctx->stream);
}

cf_status cf_cuda_widen_add(cf_cuda_ctx *ctx, float *dst, const void *src, cf_dtype dt, size_t n) {
    CF_CUDA_CHECK(cudaSetDevice(ctx->device));
    return cf_kernel_widen_add(dst, src, dt, n, ctx->stream);
}

cf_status cf_cuda_scale(cf_cuda_ctx *ctx, float *x, size_t n, float a) {
    CF_CUDA_CHECK(cudaSetDevice(ctx->device));
    return cf_kernel_scale(x, n, a, ctx->stream);
}

/* The one loop that waits: the sum goes through ctx->partial on the device
 * to the pinned ctx->host_partial. */
cf_status cf_cuda_norm2(cf_cuda_ctx *ctx, const float *g, size_t n, double *out) {
    CF_CUDA_CHECK(cudaSetDevice(ctx->device));
    CF_TRY(cf_kernel_norm2(g, n, ctx->partial, CF_CUDA_PARTIALS, ctx->stream));
    CF_CUDA_CHECK(
        cudaMemcpyAsync(ctx->host_partial, ctx->partial, sizeof(double), cudaMemcpyDeviceToHost, ctx->stream));
    CF_CUDA_CHECK(cudaStreamSynchronize(ctx->stream));
    *out = ctx->host_partial[0];
    return CF_OK;
}

cf_status cf_cuda_sgd(cf_cuda_ctx *ctx, const cf_sgd_args *a) {
    CF_CUDA_CHECK(cudaSetDevice(ctx->device));
    return cf_kernel_sgd(a->w, a->g, a->buf, a->n, a->lr, a->momentum, a->weight_decay, a->clip, a->nesterov,
                         a->stats, ctx->stream);
}

cf_status cf_cuda_step_stats(cf_cuda_ctx *ctx, const cf_step_stats_args *a) {
    CF_CUDA_CHECK(cudaSetDevice(ctx->device));
    return cf_kernel_step_stats(a->logits, a->dtype, a->labels, a->n, a->k, a->main, a->aux, a->aux_weight,
                                a->diverge, a->stats, ctx->stream);
}

cf_status cf_cuda_step_seed(cf_cuda_ctx *ctx, float *seeds, double weight0, double weight1,
                            const cf_step_stats *stats) {
    CF_CUDA_CHECK(cudaSetDevice(ctx->device));
    return cf_kernel_step_seed(seeds, weight0, weight1, stats, ctx->stream);
}

cf_status cf_cuda_step_clip(cf_cuda_ctx *ctx, const float *g, size_t n, double max_norm, cf_step_stats *stats) {
    CF_CUDA_CHECK(cudaSetDevice(ctx->device));
    return cf_kernel_step_clip(g, n, max_norm, ctx->partial, CF_CUDA_PARTIALS, stats, ctx->stream);
}
