/* backend_cuda.c - the CUDA backend's vtable: one row per op kind, device
 * memory on the instance's stream, and the instance's lifetime (stream,
 * cuDNN and cuBLAS handles, workspace, constants). Plain C; the ops live in
 * cuda_conv.c, cuda_norm.c, cuda_pool.c, cuda_linear.c (cuDNN, cuBLAS) and
 * cuda_misc.c, cuda_data.c (kernels/).
 *
 * Memory: every allocation goes through cudaMallocAsync on the instance's
 * stream from the device's default memory pool, whose release threshold is
 * raised so that freed blocks stay in the pool: a trial's arena returns to
 * the pool at its end and the next trial on the device takes it back
 * without a trip to the driver. The training loop itself never allocates
 * (the model and trainer allocate before the first step).
 *
 * Tested by tests/test_cuda_ops.c and tests/test_cuda_train.c (label gpu).
 */
#include <stdlib.h>
#include <string.h>

#include "cuda_backend.h"
#include "cuda_ops.h"

typedef struct cuda_op {
    cf_status (*forward)(cf_cuda_ctx *ctx, const cf_op_args *a);
    cf_status (*backward)(cf_cuda_ctx *ctx, const cf_op_args *a);
} cuda_op;

static const cuda_op cuda_ops[CF_OP_COUNT] = {
    [CF_OP_CONV2D]         = {cf_cuda_conv2d_forward, cf_cuda_conv2d_backward},
    [CF_OP_BATCHNORM]      = {cf_cuda_batchnorm_forward, cf_cuda_batchnorm_backward},
    [CF_OP_RELU]           = {cf_cuda_relu_forward, cf_cuda_relu_backward},
    [CF_OP_AVGPOOL2D]      = {cf_cuda_avgpool2d_forward, cf_cuda_avgpool2d_backward},
    [CF_OP_MAXPOOL2D]      = {cf_cuda_maxpool2d_forward, cf_cuda_maxpool2d_backward},
    [CF_OP_GLOBAL_AVGPOOL] = {cf_cuda_global_avgpool_forward, cf_cuda_global_avgpool_backward},
    [CF_OP_LINEAR]         = {cf_cuda_linear_forward, cf_cuda_linear_backward},
    [CF_OP_SUM]            = {cf_cuda_sum_forward, cf_cuda_sum_backward},
    [CF_OP_ZERO]           = {cf_cuda_zero_forward, cf_cuda_zero_backward},
    [CF_OP_IDENTITY]       = {cf_cuda_identity_forward, cf_cuda_identity_backward},
    [CF_OP_CONCAT]         = {cf_cuda_concat_forward, cf_cuda_concat_backward},
    [CF_OP_SOFTMAX_XENT]   = {cf_cuda_softmax_xent_forward, cf_cuda_softmax_xent_backward},
    [CF_OP_DROPOUT]        = {cf_cuda_dropout_forward, cf_cuda_dropout_backward},
    [CF_OP_SLICE]          = {cf_cuda_slice_forward, cf_cuda_slice_backward},
    [CF_OP_MIX]            = {cf_cuda_mix_forward, cf_cuda_mix_backward},
};

static int on_gpu(const cf_tensor *t, int index) {
    return !t || (t->device.kind == CF_DEVICE_CUDA && t->device.index == index);
}

/* Only f32 (and i32 labels) contiguous tensors on this instance's GPU reach
 * the ops: anything else is a caller's mistake, reported with the op's name. */
static cf_status check_call(const cf_cuda_ctx *ctx, const cf_op_args *a, int backward) {
    const cf_tensor *all[CF_OP_MAX_INPUTS * 2 + CF_OP_MAX_WEIGHTS * 2 + CF_OP_MAX_STATE + 2];
    int n = 0;
    for (int i = 0; i < a->n_inputs; i++) all[n++] = a->in[i];
    for (int i = 0; i < CF_OP_MAX_WEIGHTS; i++) all[n++] = a->w[i];
    for (int i = 0; i < CF_OP_MAX_STATE; i++) all[n++] = a->state[i];
    all[n++] = a->out;
    if (backward) {
        all[n++] = a->dout;
        for (int i = 0; i < a->n_inputs; i++) all[n++] = a->din[i];
        for (int i = 0; i < CF_OP_MAX_WEIGHTS; i++) all[n++] = a->dw[i];
    }
    for (int i = 0; i < n; i++) {
        const cf_tensor *t = all[i];
        if (!t) continue;
        if (!on_gpu(t, ctx->device))
            CF_FAIL(CF_ERR_INVALID_ARG, "cuda:%d: %s got a tensor that is not on this GPU", ctx->device,
                    cf_op_name(a->kind));
        if (t->dtype != CF_DTYPE_F32 && !cf_dtype_is_half(t->dtype) &&
            !(t->dtype == CF_DTYPE_I32 && a->kind == CF_OP_SOFTMAX_XENT))
            CF_FAIL(CF_ERR_UNSUPPORTED, "cuda:%d: %s in %s is not supported (f32, bf16, f16)", ctx->device,
                    cf_op_name(a->kind), cf_dtype_name(t->dtype));
        if (!cf_tensor_is_contiguous(t))
            CF_FAIL(CF_ERR_UNSUPPORTED, "cuda:%d: %s takes contiguous tensors only", ctx->device, cf_op_name(a->kind));
    }
    return CF_OK;
}

static cf_status cuda_forward(void *vctx, const cf_op_args *a) {
    cf_cuda_ctx *ctx = vctx;
    CF_TRY(check_call(ctx, a, 0));
    CF_CUDA_CHECK(cudaSetDevice(ctx->device));
    return cuda_ops[a->kind].forward(ctx, a);
}

static cf_status cuda_backward(void *vctx, const cf_op_args *a) {
    cf_cuda_ctx *ctx = vctx;
    CF_TRY(check_call(ctx, a, 1));
    CF_CUDA_CHECK(cudaSetDevice(ctx->device));
    return cuda_ops[a->kind].backward(ctx, a);
}

static int cuda_supports(void *vctx, cf_op_kind kind) {
    (void)vctx;
    return kind >= 0 && kind < CF_OP_COUNT && cuda_ops[kind].forward != NULL;
}

/* The ops whose backward writes din[0] with beta = 0 when asked: convolution
 * (cuDNN backward data), batch norm in training, ReLU and linear; and a mix,
 * every present input's din[k] (a NULL input's gets nothing, so
 * cf_op_backward zeroes it). */
static int cuda_assigns(void *vctx, const cf_op_args *a, int k) {
    (void)vctx;
    if (a->kind == CF_OP_MIX) return a->in[k] != NULL;
    if (k != 0) return 0;
    switch (a->kind) {
    case CF_OP_CONV2D:
    case CF_OP_RELU:
    case CF_OP_LINEAR: return 1;
    case CF_OP_BATCHNORM: return a->params.bn.training;
    default: return 0;
    }
}

/* ---- memory ------------------------------------------------------------------ */

static cf_status cuda_mem_alloc(void *vctx, size_t bytes, void **out) {
    cf_cuda_ctx *ctx = vctx;
    *out = NULL;
    CF_CUDA_CHECK(cudaSetDevice(ctx->device));
    void *p = NULL;
    cudaError_t e = cudaMallocAsync(&p, bytes, ctx->stream);
    if (e != cudaSuccess) {
        cudaGetLastError();
        return cf_error_set(cf_status_from_cuda(e), __FILE__, __LINE__, "cuda:%d: cannot allocate %zu bytes: %s",
                            ctx->device, bytes, cudaGetErrorString(e));
    }
    /* zeroed, as host allocations are */
    e = cudaMemsetAsync(p, 0, bytes, ctx->stream);
    if (e != cudaSuccess) {
        cudaFreeAsync(p, ctx->stream);
        return cf_error_set(cf_status_from_cuda(e), __FILE__, __LINE__, "cuda:%d: memset: %s", ctx->device,
                            cudaGetErrorString(e));
    }
    *out = p;
    return CF_OK;
}

static void cuda_mem_free(void *vctx, void *p) {
    cf_cuda_ctx *ctx = vctx;
    if (!p) return;
    cudaSetDevice(ctx->device);
    cudaFreeAsync(p, ctx->stream);
}

static cf_status cuda_mem_zero(void *vctx, void *p, size_t bytes) {
    cf_cuda_ctx *ctx = vctx;
    if (!bytes) return CF_OK;
    CF_CUDA_CHECK(cudaSetDevice(ctx->device));
    CF_CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, ctx->stream));
    return CF_OK;
}

static cf_status cuda_mem_copy(void *vctx, void *dst, const void *src, size_t bytes, cf_copy_kind kind) {
    cf_cuda_ctx *ctx = vctx;
    if (!bytes || dst == src) return CF_OK;
    CF_CUDA_CHECK(cudaSetDevice(ctx->device));
    switch (kind) {
    case CF_COPY_TO_DEVICE:
        /* pageable host memory: the call returns once the source may be reused */
        CF_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, ctx->stream));
        return CF_OK;
    case CF_COPY_TO_HOST:
        CF_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, ctx->stream));
        CF_CUDA_CHECK(cudaStreamSynchronize(ctx->stream));
        return CF_OK;
    case CF_COPY_ON_DEVICE:
        CF_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, ctx->stream));
        return CF_OK;
    }
    CF_FAIL(CF_ERR_INVALID_ARG, "cuda: unknown copy kind %d", (int)kind);
}

static cf_status cuda_sync(void *vctx) {
    cf_cuda_ctx *ctx = vctx;
    CF_CUDA_CHECK(cudaStreamSynchronize(ctx->stream));
    return CF_OK;
}

static cf_status cuda_drop_path(void *vctx, void *x, cf_dtype dt, int n, size_t per, double p, uint64_t seed,
                                uint64_t stream, uint64_t index0) {
    return cf_cuda_drop_path(vctx, x, dt, n, per, p, seed, stream, index0);
}
static cf_status cuda_scale(void *vctx, float *x, size_t n, float a) { return cf_cuda_scale(vctx, x, n, a); }
static cf_status cuda_narrow(void *vctx, void *dst, cf_dtype dt, const float *src, size_t n) {
    return cf_cuda_narrow(vctx, dst, dt, src, n);
}
static cf_status cuda_widen_add(void *vctx, float *dst, const void *src, cf_dtype dt, size_t n) {
    return cf_cuda_widen_add(vctx, dst, src, dt, n);
}
static cf_status cuda_norm2(void *vctx, const float *g, size_t n, double *out) {
    return cf_cuda_norm2(vctx, g, n, out);
}
static cf_status cuda_sgd(void *vctx, const cf_sgd_args *a) { return cf_cuda_sgd(vctx, a); }
static cf_status cuda_batch(void *vctx, const cf_batch_args *a) { return cf_cuda_batch(vctx, a); }
static cf_status cuda_step_stats(void *vctx, const cf_step_stats_args *a) { return cf_cuda_step_stats(vctx, a); }
static cf_status cuda_step_seed(void *vctx, float *seeds, double w0, double w1, const cf_step_stats *stats) {
    return cf_cuda_step_seed(vctx, seeds, w0, w1, stats);
}
static cf_status cuda_step_clip(void *vctx, const float *g, size_t n, double max_norm, cf_step_stats *stats) {
    return cf_cuda_step_clip(vctx, g, n, max_norm, stats);
}

/* ---- CUDA graphs ----------------------------------------------------------------
 * Thread-local capture mode: another thread's CUDA calls (another trial on
 * this GPU) neither break this capture nor get caught in it. The work in a
 * capture must allocate nothing: the trainer runs the same step eagerly once
 * before, so workspaces and algorithm tables are at their size. */

static cf_status cuda_capture_begin(void *vctx) {
    cf_cuda_ctx *ctx = vctx;
    CF_CUDA_CHECK(cudaSetDevice(ctx->device));
    CF_CUDA_CHECK(cudaStreamBeginCapture(ctx->stream, cudaStreamCaptureModeThreadLocal));
    return CF_OK;
}

static cf_status cuda_capture_end(void *vctx, void **graph) {
    cf_cuda_ctx *ctx = vctx;
    *graph = NULL;
    cudaGraph_t g = NULL;
    cudaError_t e = cudaStreamEndCapture(ctx->stream, &g);
    if (e != cudaSuccess || !g) {
        cudaGetLastError(); /* an invalidated capture leaves its error behind */
        if (g) cudaGraphDestroy(g);
        return cf_error_set(CF_ERR_DEVICE, __FILE__, __LINE__, "cuda:%d: capturing a step as a graph failed: %s",
                            ctx->device, cudaGetErrorString(e));
    }
    cudaGraphExec_t exec = NULL;
    e = cudaGraphInstantiate(&exec, g, 0);
    cudaGraphDestroy(g);
    if (e != cudaSuccess) {
        cudaGetLastError();
        return cf_error_set(cf_status_from_cuda(e), __FILE__, __LINE__, "cuda:%d: instantiating a step graph: %s",
                            ctx->device, cudaGetErrorString(e));
    }
    *graph = exec;
    return CF_OK;
}

static cf_status cuda_graph_launch(void *vctx, void *graph) {
    cf_cuda_ctx *ctx = vctx;
    CF_CUDA_CHECK(cudaSetDevice(ctx->device));
    CF_CUDA_CHECK(cudaGraphLaunch((cudaGraphExec_t)graph, ctx->stream));
    return CF_OK;
}

static void cuda_graph_free(void *vctx, void *graph) {
    cf_cuda_ctx *ctx = vctx;
    if (!graph) return;
    cudaSetDevice(ctx->device);
    cudaGraphExecDestroy((cudaGraphExec_t)graph);
}

static const cf_backend_ops cuda_backend_ops = {
    .name = "cuda",
    .half = 1,
    .forward = cuda_forward,
    .backward = cuda_backward,
    .supports = cuda_supports,
    .assigns = cuda_assigns,
    .destroy = cf_backend_cuda_destroy,
    .mem_alloc = cuda_mem_alloc,
    .mem_free = cuda_mem_free,
    .mem_zero = cuda_mem_zero,
    .mem_copy = cuda_mem_copy,
    .sync = cuda_sync,
    .drop_path = cuda_drop_path,
    .scale = cuda_scale,
    .norm2 = cuda_norm2,
    .sgd = cuda_sgd,
    .batch = cuda_batch,
    .narrow = cuda_narrow,
    .widen_add = cuda_widen_add,
    .step_stats = cuda_step_stats,
    .step_clip = cuda_step_clip,
    .step_seed = cuda_step_seed,
    .capture_begin = cuda_capture_begin,
    .capture_end = cuda_capture_end,
    .graph_launch = cuda_graph_launch,
    .graph_free = cuda_graph_free,
};

/* ---- workspace and constants ---------------------------------------------------- */

cf_status cf_cuda_workspace(cf_cuda_ctx *ctx, size_t bytes) {
    if (bytes <= ctx->workspace_bytes) return CF_OK;
    bytes = (bytes + 0xFFFFF) & ~(size_t)0xFFFFF; /* whole MiB: fewer regrowths */
    /* Stream-ordered: the old block is released after the work queued on it,
     * without stalling the other instances on the device; a failed growth
     * keeps the old workspace. */
    void *p = NULL;
    cudaError_t e = cudaMallocAsync(&p, bytes, ctx->stream);
    if (e != cudaSuccess) {
        cudaGetLastError();
        return cf_error_set(cf_status_from_cuda(e), __FILE__, __LINE__,
                            "cuda:%d: cannot allocate a %zu-byte cuDNN workspace: %s", ctx->device, bytes,
                            cudaGetErrorString(e));
    }
    if (ctx->workspace) cudaFreeAsync(ctx->workspace, ctx->stream);
    ctx->workspace = p;
    ctx->workspace_bytes = bytes;
    return CF_OK;
}

cf_status cf_cuda_constants(cf_cuda_ctx *ctx, size_t n) {
    if (n <= ctx->ones_n) return CF_OK;
    n = (n + 1023) & ~(size_t)1023;
    CF_CUDA_CHECK(cudaStreamSynchronize(ctx->stream));
    cudaFree(ctx->ones);
    cudaFree(ctx->zeros);
    cudaFree(ctx->junk);
    ctx->ones = ctx->zeros = ctx->junk = NULL;
    ctx->ones_n = 0;
    float *host = malloc(n * sizeof *host);
    if (!host) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "cuda: no host memory for %zu constants", n);
    for (size_t i = 0; i < n; i++) host[i] = 1.0f;
    cudaError_t e = cudaMalloc((void **)&ctx->ones, n * sizeof(float));
    if (e == cudaSuccess) e = cudaMalloc((void **)&ctx->zeros, n * sizeof(float));
    if (e == cudaSuccess) e = cudaMalloc((void **)&ctx->junk, n * sizeof(float));
    if (e == cudaSuccess) e = cudaMemcpy(ctx->ones, host, n * sizeof(float), cudaMemcpyHostToDevice);
    if (e == cudaSuccess) e = cudaMemset(ctx->zeros, 0, n * sizeof(float));
    free(host);
    if (e != cudaSuccess) {
        cudaGetLastError();
        cudaFree(ctx->ones);
        cudaFree(ctx->zeros);
        cudaFree(ctx->junk);
        ctx->ones = ctx->zeros = ctx->junk = NULL;
        return cf_error_set(cf_status_from_cuda(e), __FILE__, __LINE__, "cuda:%d: constants of %zu floats: %s",
                            ctx->device, n, cudaGetErrorString(e));
    }
    ctx->ones_n = n;
    return CF_OK;
}

/* ---- lifetime --------------------------------------------------------------------- */

static void ctx_free(cf_cuda_ctx *ctx) {
    if (!ctx) return;
    cudaSetDevice(ctx->device);
    if (ctx->stream) cudaStreamSynchronize(ctx->stream);
    cf_cuda_data_release(ctx);
    cf_cuda_conv_algos_destroy(ctx->algos);
    if (ctx->workspace) cudaFreeAsync(ctx->workspace, ctx->stream);
    if (ctx->stream) cudaStreamSynchronize(ctx->stream);
    cudaFree(ctx->ones);
    cudaFree(ctx->zeros);
    cudaFree(ctx->junk);
    cudaFree(ctx->partial);
    cudaFreeHost(ctx->host_partial);
    if (ctx->cublas) cublasDestroy(ctx->cublas);
    if (ctx->cudnn) cudnnDestroy(ctx->cudnn);
    if (ctx->stream) cudaStreamDestroy(ctx->stream);
    free(ctx);
}

/* Stream, handles and scratch of a new instance; ctx_free undoes any part. */
static cf_status ctx_init(cf_cuda_ctx *ctx) {
    CF_CUDA_CHECK(cudaSetDevice(ctx->device));
    /* Freed blocks stay in the device's pool for the next trial. */
    cudaMemPool_t pool;
    if (cudaDeviceGetDefaultMemPool(&pool, ctx->device) == cudaSuccess) {
        uint64_t keep = UINT64_MAX;
        cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep);
    }
    CF_CUDA_CHECK(cudaStreamCreateWithFlags(&ctx->stream, cudaStreamNonBlocking));
    CF_CUDNN_CHECK(cudnnCreate(&ctx->cudnn));
    CF_CUDNN_CHECK(cudnnSetStream(ctx->cudnn, ctx->stream));
    CF_CUBLAS_CHECK(cublasCreate(&ctx->cublas));
    CF_CUBLAS_CHECK(cublasSetStream(ctx->cublas, ctx->stream));
    /* fp32 stays fp32: no TF32 behind the caller's back (the cross-backend
     * tests hold the GPU to the CPU reference at fp32 tolerances) */
    CF_CUBLAS_CHECK(cublasSetMathMode(ctx->cublas, CUBLAS_DEFAULT_MATH));
    CF_CUDA_CHECK(cudaMalloc((void **)&ctx->partial, CF_CUDA_PARTIALS * sizeof(double)));
    CF_CUDA_CHECK(cudaMallocHost((void **)&ctx->host_partial, 4 * sizeof(double)));
    return cf_cuda_constants(ctx, 4096);
}

cf_status cf_backend_cuda_create(int device, int deterministic, cf_backend **out) {
    if (!out) CF_FAIL(CF_ERR_INVALID_ARG, "cuda: create: no output pointer");
    *out = NULL;
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
        cudaGetLastError();
        CF_FAIL(CF_ERR_NO_DEVICE, "cuda:%d: no GPU (%s)", device, cudaGetErrorString(e));
    }
    if (device < 0 || device >= count)
        CF_FAIL(CF_ERR_NO_DEVICE, "cuda:%d: there is no such GPU (%d found)", device, count);
    cf_backend *be = calloc(1, sizeof *be);
    cf_cuda_ctx *ctx = calloc(1, sizeof *ctx);
    cf_status st = CF_OK;
    if (!be || !ctx) {
        free(be);
        free(ctx);
        CF_FAIL(CF_ERR_OUT_OF_MEMORY, "cuda: create");
    }
    ctx->device = device;
    ctx->deterministic = deterministic;
    const char *dw = getenv("CELLFORGE_DEPTHWISE");
    ctx->own_depthwise = dw && strcmp(dw, "ours") == 0;
    CF_TRY_GOTO(st, ctx_init(ctx), fail);
    be->ops = &cuda_backend_ops;
    be->ctx = ctx;
    be->device = (cf_device){CF_DEVICE_CUDA, device};
    *out = be;
    return CF_OK;
fail:
    ctx_free(ctx);
    free(be);
    return st;
}

void cf_backend_cuda_destroy(cf_backend *be) {
    if (!be) return;
    ctx_free(be->ctx);
    free(be);
}

int cf_backend_cuda_built(void) { return 1; }
