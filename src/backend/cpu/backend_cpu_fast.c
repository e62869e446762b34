/* backend_cpu_fast.c - the fast CPU backend: f32, contiguous NCHW, OpenMP
 * threads, OpenBLAS GEMMs. One row per op kind; a call the fast ops do not
 * cover (f64, strided views, dropout, sizes past int GEMM dimensions) runs the
 * reference op instead, so every op kind is supported.
 *
 *   cf_backend *be;
 *   CF_TRY(cf_backend_cpu_fast_create(2, &be));
 *   CF_TRY(cf_op_forward(be, &args));
 *   cf_backend_cpu_fast_destroy(be);
 *
 * Tested by tests/test_cpu_fast.c against the reference backend.
 */
#include <cblas.h>
#include <limits.h>
#include <omp.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "cellforge/log.h"
#include "cellforge/memlimit.h"

#include "../backend_impl.h"
#include "fast.h"
#include "ref.h"

typedef struct fast_op {
    cf_status (*forward)(fast_ctx *ctx, const cf_op_args *a);
    cf_status (*backward)(fast_ctx *ctx, const cf_op_args *a);
    cf_status (*ref_forward)(const cf_op_args *a);
    cf_status (*ref_backward)(const cf_op_args *a);
} fast_op;

static const fast_op fast_ops[CF_OP_COUNT] = {
    [CF_OP_CONV2D]         = {cf_fast_conv2d_forward, cf_fast_conv2d_backward,
                              cf_ref_conv2d_forward, cf_ref_conv2d_backward},
    [CF_OP_BATCHNORM]      = {cf_fast_batchnorm_forward, cf_fast_batchnorm_backward,
                              cf_ref_batchnorm_forward, cf_ref_batchnorm_backward},
    [CF_OP_RELU]           = {cf_fast_relu_forward, cf_fast_relu_backward,
                              cf_ref_relu_forward, cf_ref_relu_backward},
    [CF_OP_AVGPOOL2D]      = {cf_fast_avgpool2d_forward, cf_fast_avgpool2d_backward,
                              cf_ref_avgpool2d_forward, cf_ref_avgpool2d_backward},
    [CF_OP_MAXPOOL2D]      = {cf_fast_maxpool2d_forward, cf_fast_maxpool2d_backward,
                              cf_ref_maxpool2d_forward, cf_ref_maxpool2d_backward},
    [CF_OP_GLOBAL_AVGPOOL] = {cf_fast_global_avgpool_forward, cf_fast_global_avgpool_backward,
                              cf_ref_global_avgpool_forward, cf_ref_global_avgpool_backward},
    [CF_OP_LINEAR]         = {cf_fast_linear_forward, cf_fast_linear_backward,
                              cf_ref_linear_forward, cf_ref_linear_backward},
    [CF_OP_SUM]            = {cf_fast_sum_forward, cf_fast_sum_backward,
                              cf_ref_sum_forward, cf_ref_sum_backward},
    [CF_OP_ZERO]           = {cf_fast_zero_forward, cf_fast_zero_backward,
                              cf_ref_zero_forward, cf_ref_zero_backward},
    [CF_OP_IDENTITY]       = {cf_fast_identity_forward, cf_fast_identity_backward,
                              cf_ref_identity_forward, cf_ref_identity_backward},
    [CF_OP_CONCAT]         = {cf_fast_concat_forward, cf_fast_concat_backward,
                              cf_ref_concat_forward, cf_ref_concat_backward},
    [CF_OP_SLICE]          = {cf_fast_slice_forward, cf_fast_slice_backward,
                              cf_ref_slice_forward, cf_ref_slice_backward},
    [CF_OP_SOFTMAX_XENT]   = {cf_fast_softmax_xent_forward, cf_fast_softmax_xent_backward,
                              cf_ref_softmax_xent_forward, cf_ref_softmax_xent_backward},
    [CF_OP_MIX]            = {cf_fast_mix_forward, cf_fast_mix_backward,
                              cf_ref_mix_forward, cf_ref_mix_backward},
    /* dropout draws its mask from the counter RNG per element: reference only */
    [CF_OP_DROPOUT]        = {NULL, NULL, cf_ref_dropout_forward, cf_ref_dropout_backward},
};

cf_status fast_workspace(fast_ctx *ctx, size_t floats, float **out) {
    if (floats > ctx->ws_floats) {
        const size_t bytes = (fast_round(floats) * sizeof(float) + 63) & ~(size_t)63;
        CF_TRY(cf_mem_check("cpu-fast: workspace", bytes));
        float *p = aligned_alloc(64, bytes);
        if (!p) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "cpu-fast: workspace of %zu bytes", bytes);
        free(ctx->ws);
        ctx->ws = p;
        ctx->ws_floats = bytes / sizeof(float);
    }
    *out = ctx->ws;
    return CF_OK;
}

/* A tensor the fast ops can take: f32 (or i32 where allowed), contiguous, and
 * small enough that every dimension product fits the int of a BLAS call. */
static int fast_tensor(const cf_tensor *t, int allow_i32) {
    if (!t) return 1;
    if (t->dtype != CF_DTYPE_F32 && !(allow_i32 && t->dtype == CF_DTYPE_I32)) return 0;
    return t->device.kind == CF_DEVICE_CPU && cf_tensor_is_contiguous(t) && cf_tensor_numel(t) < INT_MAX;
}

static int fast_eligible(const cf_op_args *a, int backward) {
    if (!fast_ops[a->kind].forward) return 0;
    const int labels = a->kind == CF_OP_SOFTMAX_XENT;
    for (int i = 0; i < a->n_inputs; i++)
        if (!fast_tensor(a->in[i], labels && i == 1)) return 0;
    for (int i = 0; i < CF_OP_MAX_WEIGHTS; i++)
        if (!fast_tensor(a->w[i], 0)) return 0;
    for (int i = 0; i < CF_OP_MAX_STATE; i++)
        if (!fast_tensor(a->state[i], 0)) return 0;
    if (!backward) return fast_tensor(a->out, 0);
    if (!fast_tensor(a->dout, 0)) return 0;
    for (int i = 0; i < a->n_inputs; i++)
        if (!fast_tensor(a->din[i], 0)) return 0;
    for (int i = 0; i < CF_OP_MAX_WEIGHTS; i++)
        if (!fast_tensor(a->dw[i], 0)) return 0;
    return 1;
}

static cf_status check_host(const cf_op_args *a) {
    const cf_tensor *x = cf_op_first_input(a); /* input 0 but in a mix */
    if (x->device.kind != CF_DEVICE_CPU)
        CF_FAIL(CF_ERR_INVALID_ARG, "cpu-fast: %s got tensors on a GPU", cf_op_name(a->kind));
    if (x->dtype != CF_DTYPE_F32 && x->dtype != CF_DTYPE_F64)
        CF_FAIL(CF_ERR_UNSUPPORTED, "cpu-fast: %s in %s is not supported (f32 or f64)", cf_op_name(a->kind),
                cf_dtype_name(x->dtype));
    return CF_OK;
}

static cf_status fast_forward(void *ctx, const cf_op_args *a) {
    CF_TRY(check_host(a));
    if (fast_eligible(a, 0)) return fast_ops[a->kind].forward(ctx, a);
    return fast_ops[a->kind].ref_forward(a);
}

static cf_status fast_backward(void *ctx, const cf_op_args *a) {
    CF_TRY(check_host(a));
    if (fast_eligible(a, 1)) return fast_ops[a->kind].backward(ctx, a);
    return fast_ops[a->kind].ref_backward(a);
}

static int fast_supports(void *ctx, cf_op_kind kind) {
    (void)ctx;
    return kind >= 0 && kind < CF_OP_COUNT && fast_ops[kind].ref_forward != NULL;
}

/* Backward paths that write their input gradient outright when asked:
 * batch norm, ReLU, the direct 3x3 convolution's stride-1 data gradient,
 * every input of a sum, identity, and every present input of a mix (a NULL
 * one gets nothing, so cf_op_backward zeroes its gradient). */
static int fast_assigns(void *ctx, const cf_op_args *a, int k) {
    (void)ctx;
    if (!fast_eligible(a, 1)) return 0;
    if (a->kind == CF_OP_SUM || a->kind == CF_OP_IDENTITY) return 1;
    if (a->kind == CF_OP_MIX) return a->in[k] != NULL;
    if (k != 0) return 0;
    switch (a->kind) {
    case CF_OP_BATCHNORM: return a->params.bn.training;
    case CF_OP_RELU: return 1;
    case CF_OP_CONV2D: return fast_direct_conv_assigns(a);
    default: return 0;
    }
}

static void fast_destroy(cf_backend *be) { cf_backend_cpu_fast_destroy(be); }

static const cf_backend_ops cpu_fast_ops = {
    .name = "cpu-fast",
    .forward = fast_forward,
    .backward = fast_backward,
    .supports = fast_supports,
    .assigns = fast_assigns,
    .destroy = fast_destroy,
    /* host memory: every device entry stays NULL and the cf_backend_*
     * wrappers run the host loops */
};

/* Threads of the live cpu-fast backends, summed: how many GEMMs may run at
 * once in this process, so how many BLAS buffers OpenBLAS may need. */
static atomic_int g_live_threads;

/* Under an address-space limit (`ulimit -v`), everything the threads will map
 * is mapped now, while a failure is still an error: their stacks (libgomp ends
 * the process when it cannot start a thread) and a BLAS buffer for each GEMM
 * that may run at once (OpenBLAS maps one for each concurrent caller on first
 * use, keeps it, and retries a failed mapping forever). Every live backend's
 * threads run one GEMM together, at once (a barrier, then a product long
 * enough to overlap), a few times, so the buffers exist before training
 * starts; what training maps afterwards is plain malloc, which fails cleanly.
 * Without a limit nothing is done here. */
static cf_status claim_threads(fast_ctx *ctx) {
    const int all = atomic_fetch_add(&g_live_threads, ctx->threads) + ctx->threads;
    ctx->counted = 1;
    const size_t room = cf_mem_headroom();
    if (room == SIZE_MAX) return CF_OK;
    CF_LOG_DEBUG("cpu-fast: %.0f MiB free under the address-space limit; mapping the stacks and BLAS buffers of %d "
                 "threads", (double)room / (1 << 20), all);
    struct rlimit rl;
    size_t stack = (size_t)8 << 20; /* glibc's default where RLIMIT_STACK is unlimited */
    if (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur > 0)
        stack = (size_t)rl.rlim_cur;
    enum { N = 384 }; /* 2*N^3 flops: a few milliseconds, long enough to overlap */
    char what[112];
    snprintf(what, sizeof what, "cpu-fast: %d thread%s (their stacks and OpenBLAS buffers)", all, all == 1 ? "" : "s");
    CF_TRY(cf_mem_check(what, (size_t)all * (stack + CF_MEM_BLAS_BUFFER + (size_t)N * N * sizeof(float)) +
                                  (size_t)2 * N * N * sizeof(float)));
    float *ab = calloc((size_t)2 * N * N, sizeof *ab);
    float *c = calloc((size_t)all * N * N, sizeof *c);
    if (!ab || !c) {
        free(ab);
        free(c);
        CF_FAIL(CF_ERR_OUT_OF_MEMORY, "%s: no memory", what);
    }
    for (int round = 0; round < 3; round++) {
#pragma omp parallel num_threads(all)
        {
#pragma omp barrier
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, N, N, 1.0f, ab, N, ab + N * N, N, 0.0f,
                        c + (size_t)omp_get_thread_num() * N * N, N);
        }
    }
    free(ab);
    free(c);
    return CF_OK;
}

cf_status cf_backend_cpu_fast_create(int threads, cf_backend **out) {
    if (!out) CF_FAIL(CF_ERR_INVALID_ARG, "cpu-fast: create: no output pointer");
    *out = NULL;
    cf_backend *be = calloc(1, sizeof *be);
    fast_ctx *ctx = calloc(1, sizeof *ctx);
    if (!be || !ctx) {
        free(be);
        free(ctx);
        CF_FAIL(CF_ERR_OUT_OF_MEMORY, "cpu-fast: create");
    }
    ctx->threads = threads > 0 ? threads : omp_get_num_procs();
    /* Each OpenMP thread calls OpenBLAS on one image: OpenBLAS's own pool
     * would only oversubscribe the cores. The setting is process-wide and the
     * same for every instance, so instances never disagree about it. */
    openblas_set_num_threads(1);
    cf_status st = claim_threads(ctx);
    if (st != CF_OK) {
        atomic_fetch_sub(&g_live_threads, ctx->threads);
        free(be);
        free(ctx);
        return st;
    }
    be->ops = &cpu_fast_ops;
    be->ctx = ctx;
    be->device = (cf_device){CF_DEVICE_CPU, 0};
    *out = be;
    return CF_OK;
}

void cf_backend_cpu_fast_destroy(cf_backend *be) {
    if (!be) return;
    fast_ctx *ctx = be->ctx;
    if (ctx) {
        free(ctx->ws);
        if (ctx->counted) atomic_fetch_sub(&g_live_threads, ctx->threads);
    }
    free(ctx);
    free(be);
}
