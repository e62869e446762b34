/* cuda_norm.c - batch normalization on cuDNN (CUDNN_BATCHNORM_SPATIAL: one
 * mean and variance per channel over N, H, W), the op of ref_norm.c. Tested
 * against ref_norm.c by tests/test_cuda_ops.c (label gpu).
 *
 * cuDNN keeps the same four statistics as the CPU reference, in the same
 * slots: state[0], state[1] the running mean and variance, updated as
 * running = (1 - m) running + m batch with m = params.bn.momentum and the
 * batch variance unbiased (M / (M - 1), M = N*H*W) as in PyTorch; state[2],
 * state[3] the batch mean and 1 / sqrt(biased variance + eps) that backward
 * reads back. Normalization itself uses the biased variance, as the CPU.
 *
 * Without affine parameters (w[0] = w[1] = NULL) gamma and beta are
 * ctx->ones and ctx->zeros, and the gamma and beta gradients cuDNN always
 * writes land in ctx->junk and ctx->junk + C, two regions nobody reads.
 * The descriptors are made per call: two host objects, no device work.
 *
 * 16-bit data (mixed precision): x, y, dx, dy are bf16 or f16, gamma, beta
 * and the statistics f32 (ops.h), which is cuDNN's own rule for 16-bit batch
 * norm: the descriptor cudnnDeriveBNTensorDescriptor derives from a 16-bit
 * input is f32.
 *
 * With params.bn.relu (batch norm then ReLU as one op) forward runs the
 * ReLU kernel in place on the output after cuDNN, and backward writes
 * dy * (out > 0) (the ReLU kernel's backward with out as its input: out > 0
 * exactly where bn(x) > 0) into the workspace, then hands that to cuDNN as
 * the output gradient: the two layers' arithmetic, one tensor fewer. The
 * workspace is stream-ordered: it is reused only by work queued after this.
 */
#include "cuda_dnn.h"
#include "kernels/elementwise.h"

typedef struct bn_descs {
    cudnnTensorDescriptor_t x;     /* (N, C, H, W): x, y, dx, dy */
    cudnnTensorDescriptor_t param; /* (1, C, 1, 1): gamma, beta and the four statistics */
} bn_descs;

static cf_status bn_descs_init(bn_descs *d, const cf_tensor *x) {
    CF_CUDNN_CHECK(cudnnCreateTensorDescriptor(&d->x));
    CF_CUDNN_CHECK(cudnnCreateTensorDescriptor(&d->param));
    CF_TRY(cf_cuda_tensor_desc(d->x, x, "batchnorm", "input"));
    CF_CUDNN_CHECK(cudnnDeriveBNTensorDescriptor(d->param, d->x, CUDNN_BATCHNORM_SPATIAL));
    return CF_OK;
}

static void bn_descs_fini(bn_descs *d) {
    if (d->x) cudnnDestroyTensorDescriptor(d->x);
    if (d->param) cudnnDestroyTensorDescriptor(d->param);
}

static cf_status bn_check_eps(const cf_cuda_ctx *ctx, double eps) {
    if (eps < CUDNN_BN_MIN_EPSILON)
        CF_FAIL(CF_ERR_UNSUPPORTED, "cuda:%d: batchnorm: eps %g is below cuDNN's minimum %g", ctx->device, eps,
                (double)CUDNN_BN_MIN_EPSILON);
    return CF_OK;
}

static cf_status bn_forward(cf_cuda_ctx *ctx, const cf_op_args *a, const bn_descs *d) {
    const cf_batchnorm_params *p = &a->params.bn;
    const cf_tensor *x = a->in[0];    /* (N, C, H, W) */
    const cf_tensor *gamma = a->w[0]; /* (C) or NULL */
    const cf_tensor *beta = a->w[1];  /* (C) or NULL */
    cf_tensor *y = a->out;            /* (N, C, H, W) */
    const size_t C = (size_t)x->shape[1];
    const float one = 1.0f, zero = 0.0f;
    CF_TRY(bn_check_eps(ctx, p->eps));
    /* 2C: the backward of this shape then finds its junk in place too */
    CF_TRY(cf_cuda_constants(ctx, 2 * C));
    const void *scale = gamma ? gamma->data : (const void *)ctx->ones;
    const void *bias = beta ? beta->data : (const void *)ctx->zeros;
    if (p->training) {
        CF_CUDNN_CHECK(cudnnBatchNormalizationForwardTraining(
            ctx->cudnn, CUDNN_BATCHNORM_SPATIAL, &one, &zero, d->x, x->data, d->x, y->data, d->param, scale, bias,
            p->momentum, a->state[0]->data, a->state[1]->data, p->eps, a->state[2]->data, a->state[3]->data));
    } else {
        CF_CUDNN_CHECK(cudnnBatchNormalizationForwardInference(ctx->cudnn, CUDNN_BATCHNORM_SPATIAL, &one, &zero, d->x,
                                                               x->data, d->x, y->data, d->param, scale, bias,
                                                               a->state[0]->data, a->state[1]->data, p->eps));
    }
    if (p->relu) CF_TRY(cf_kernel_relu_forward(y->data, y->data, y->dtype, (size_t)cf_tensor_numel(y), ctx->stream));
    return CF_OK;
}

/* dx with beta 0 when din_assign[0] (or when dx is not wanted and cuDNN's
 * dx goes to the workspace), else 1; dgamma and dbeta always add. With relu
 * the workspace holds the masked dy first, and the scratch dx after it. */
static cf_status bn_backward(cf_cuda_ctx *ctx, const cf_op_args *a, const bn_descs *d) {
    const cf_batchnorm_params *p = &a->params.bn;
    const cf_tensor *x = a->in[0];    /* (N, C, H, W) */
    const cf_tensor *gamma = a->w[0]; /* (C) or NULL */
    const cf_tensor *dy = a->dout;    /* (N, C, H, W) */
    cf_tensor *dx = a->din[0];        /* (N, C, H, W) or NULL */
    cf_tensor *dgamma = a->dw[0];     /* (C) or NULL */
    cf_tensor *dbeta = a->dw[1];      /* (C) or NULL */
    const size_t C = (size_t)x->shape[1];
    const size_t numel = (size_t)cf_tensor_numel(x), bytes = cf_tensor_bytes(x);
    const float one = 1.0f, zero = 0.0f;
    CF_TRY(bn_check_eps(ctx, p->eps));
    CF_TRY(cf_cuda_constants(ctx, 2 * C));
    /* workspace: [masked dy (relu)] [scratch dx (no dx wanted)]; each 256-byte aligned */
    const size_t part = (bytes + 255) & ~(size_t)255;
    CF_TRY(cf_cuda_workspace(ctx, (p->relu ? part : 0) + (dx ? 0 : part)));
    const void *dy_data = dy->data;
    char *scratch = ctx->workspace;
    if (p->relu) {
        CF_TRY(cf_kernel_relu_backward(a->out->data, dy->data, scratch, x->dtype, numel, 1, ctx->stream));
        dy_data = scratch;
        scratch += part;
    }
    void *dx_data;
    const float *beta_data;
    if (dx) {
        dx_data = dx->data;
        beta_data = a->din_assign[0] ? &zero : &one;
    } else {
        /* the network's input: cuDNN writes dx regardless, so give it scratch */
        dx_data = scratch;
        beta_data = &zero;
    }
    /* read after cf_cuda_constants, which may have moved them */
    const void *scale = gamma ? gamma->data : (const void *)ctx->ones;
    void *dscale = dgamma ? dgamma->data : (void *)ctx->junk;
    void *dbias = dbeta ? dbeta->data : (void *)(ctx->junk + C);
    CF_CUDNN_CHECK(cudnnBatchNormalizationBackward(ctx->cudnn, CUDNN_BATCHNORM_SPATIAL, &one, beta_data, &one, &one,
                                                   d->x, x->data, d->x, dy_data, d->x, dx_data, d->param, scale,
                                                   dscale, dbias, p->eps, a->state[2]->data, a->state[3]->data));
    return CF_OK;
}

cf_status cf_cuda_batchnorm_forward(cf_cuda_ctx *ctx, const cf_op_args *a) {
    bn_descs d = {0};
    cf_status st = bn_descs_init(&d, a->in[0]);
    if (st == CF_OK) st = bn_forward(ctx, a, &d);
    bn_descs_fini(&d);
    return st;
}

cf_status cf_cuda_batchnorm_backward(cf_cuda_ctx *ctx, const cf_op_args *a) {
    if (!a->params.bn.training)
        CF_FAIL(CF_ERR_UNSUPPORTED, "cuda:%d: batchnorm: backward needs a forward in training mode (batch statistics)",
                ctx->device);
    if (!a->din[0] && !a->dw[0] && !a->dw[1]) return CF_OK; /* nothing wanted */
    bn_descs d = {0};
    cf_status st = bn_descs_init(&d, a->in[0]);
    if (st == CF_OK) st = bn_backward(ctx, a, &d);
    bn_descs_fini(&d);
    return st;
}
