/* cuda_conv.c - 2-D convolution on cuDNN's legacy descriptor API: forward
 * (plus bias), backward data, filter and bias; any kernel, stride, zero
 * padding, dilation and groups, exactly the op of ref_conv.c. Tested against
 * ref_conv.c by tests/test_cuda_ops.c (label gpu).
 *
 * fp32 stays fp32: every f32 convolution descriptor carries CUDNN_FMA_MATH, so
 * cuDNN never runs a TF32 tensor-core kernel behind the caller's back. 16-bit
 * data (mixed precision) accumulates in f32 on the tensor cores
 * (CUDNN_TENSOR_OP_MATH); its shapes are cached apart from the f32 ones.
 *
 * Algorithms. Each direction (forward, backward data, backward filter) of a
 * shape is chosen once, on its first use, from cuDNN's heuristic ranking
 * (cudnnGetConvolution*Algorithm_v7), which ranks without running anything.
 * The Find calls are not used: they time every candidate by running it, the
 * Ex variants on the caller's buffers (which would clobber the gradients that
 * backward accumulates into, beta = 1), the others on memory they allocate
 * on the spot. The choice is the first ranked algorithm that
 *   - reported CUDNN_STATUS_SUCCESS,
 *   - is CUDNN_DETERMINISTIC when the instance was created deterministic,
 *   - runs on FMA (or default) math, never a tensor-op math type,
 *   - has a workspace size cuDNN confirms for our descriptors, and
 *   - gets its workspace: a failed allocation moves on to the next one.
 * A first pass only takes algorithms needing at most CONV_WORKSPACE_SOFT
 * bytes; a second pass, reached only when none of those is usable, takes any.
 * The workspace (ctx->workspace, shared by every op of the instance) is grown
 * while choosing, so a steady-state call never allocates.
 *
 * Cache. A table owned by ctx->algos maps a shape (N, C, H, W, OC, KH, KW,
 * stride, padding, dilation, groups) to its descriptors, its three
 * algorithms and their workspace sizes: a steady-state call creates nothing
 * and asks cuDNN nothing. Entries live as long as the instance: five small
 * host objects each, and a search meets a few hundred shapes at most.
 *
 * Depthwise convolutions (groups == C == OC, weight (C, 1, KH, KW)) can skip
 * cuDNN, which is slow on them, and run our kernels (kernels/depthwise.cu)
 * where ctx->own_depthwise is set (CELLFORGE_DEPTHWISE=ours), under the same
 * contract: y written outright, dx written outright when
 * din_assign[0] is set (so cuda_assigns' answer for conv2d holds) and added
 * otherwise, dw and db always added. Those kernels are deterministic on every
 * instance and take no workspace and no cache entry.
 */
#include <stdlib.h>
#include <string.h>

#include "cellforge/log.h"
#include "cuda_dnn.h"
#include "kernels/depthwise.h"

/* The three directions, each with its own algorithm. */
enum { CONV_FWD, CONV_BWD_DATA, CONV_BWD_FILTER, CONV_DIRS };
static const char *const conv_dir_name[CONV_DIRS] = {"forward", "backward data", "backward filter"};

/* The first pass of the choice skips algorithms wanting more workspace than
 * this: the heuristic sometimes ranks an FFT variant first whose workspace
 * runs to gigabytes, and the workspace stays at its largest size for the
 * instance's life while several instances may share one GPU. */
#define CONV_WORKSPACE_SOFT ((size_t)256 << 20)

/* Heuristic answers hold at most this many rows (the forward count, the
 * largest of the three). */
#define CONV_MAX_ALGOS 8
_Static_assert(CUDNN_CONVOLUTION_FWD_ALGO_COUNT <= CONV_MAX_ALGOS &&
                   CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT <= CONV_MAX_ALGOS &&
                   CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT <= CONV_MAX_ALGOS,
               "CONV_MAX_ALGOS is below a cuDNN algorithm count");

#define CONV_TABLE_MIN 64 /* first capacity of the table (a power of two) */

/* Everything a convolution's descriptors and algorithms depend on. Only ints,
 * so it has no padding bytes and compares with memcmp. */
typedef struct conv_key {
    int n, c, h, w;                  /* input */
    int oc, kh, kw;                  /* weight (OC, C/groups, KH, KW) */
    int stride_h, stride_w, pad_h, pad_w, dil_h, dil_w, groups;
    int dtype;                       /* cf_dtype of x, w, y: f32, bf16 or f16 */
} conv_key;

typedef struct conv_entry {
    conv_key key;
    int used;                           /* this slot holds an entry */
    cudnnTensorDescriptor_t x;          /* (N, C, H, W): x, dx */
    cudnnTensorDescriptor_t y;          /* (N, OC, OH, OW): y, dy */
    cudnnTensorDescriptor_t bias;       /* (1, OC, 1, 1): bias, dbias */
    cudnnFilterDescriptor_t w;          /* (OC, C/groups, KH, KW): weight, dweight */
    cudnnConvolutionDescriptor_t conv;  /* cross-correlation, groups, FMA math */
    int chosen[CONV_DIRS];              /* algo[d] and bytes[d] are set */
    int algo[CONV_DIRS];                /* cudnnConvolution{Fwd,BwdData,BwdFilter}Algo_t */
    size_t bytes[CONV_DIRS];            /* workspace of algo[d] */
} conv_entry;

/* Open addressing with linear probing, at most half full. Owns every
 * entry's descriptors; freed by cf_cuda_conv_algos_destroy. */
struct cf_cuda_conv_algos {
    conv_entry *slots; /* (cap) */
    size_t cap;        /* 0 or a power of two */
    size_t count;      /* slots in use */
};

/* ---- the table ------------------------------------------------------------- */

static size_t conv_hash(const conv_key *k) {
    const unsigned char *b = (const unsigned char *)k;
    uint64_t h = 14695981039346656037ull; /* FNV-1a */
    for (size_t i = 0; i < sizeof *k; i++) h = (h ^ b[i]) * 1099511628211ull;
    return (size_t)h;
}

/* The slot holding k, or the empty slot where k would go. */
static conv_entry *conv_slot(const cf_cuda_conv_algos *t, const conv_key *k) {
    const size_t mask = t->cap - 1;
    for (size_t i = conv_hash(k) & mask;; i = (i + 1) & mask) {
        conv_entry *e = &t->slots[i];
        if (!e->used || memcmp(&e->key, k, sizeof *k) == 0) return e;
    }
}

static cf_status conv_table_grow(cf_cuda_conv_algos *t) {
    const size_t cap = t->cap ? 2 * t->cap : CONV_TABLE_MIN;
    conv_entry *slots = calloc(cap, sizeof *slots);
    if (!slots) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "cuda: conv2d: no host memory for %zu cached shapes", cap);
    conv_entry *old = t->slots;
    const size_t old_cap = t->cap;
    t->slots = slots;
    t->cap = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].used) *conv_slot(t, &old[i].key) = old[i]; /* descriptors are handles: moving is fine */
    free(old);
    return CF_OK;
}

static void conv_entry_fini(conv_entry *e) {
    if (e->x) cudnnDestroyTensorDescriptor(e->x);
    if (e->y) cudnnDestroyTensorDescriptor(e->y);
    if (e->bias) cudnnDestroyTensorDescriptor(e->bias);
    if (e->w) cudnnDestroyFilterDescriptor(e->w);
    if (e->conv) cudnnDestroyConvolutionDescriptor(e->conv);
    memset(e, 0, sizeof *e);
}

void cf_cuda_conv_algos_destroy(cf_cuda_conv_algos *c) {
    if (!c) return;
    for (size_t i = 0; i < c->cap; i++)
        if (c->slots[i].used) conv_entry_fini(&c->slots[i]);
    free(c->slots);
    free(c);
}

/* ---- one shape ------------------------------------------------------------- */

static cf_status conv_key_of(const cf_op_args *a, conv_key *k) {
    const cf_conv2d_params *p = &a->params.conv;
    int x[4], w[4];
    CF_TRY(cf_cuda_dims(a->in[0], "conv2d", "input", x));
    CF_TRY(cf_cuda_dims(a->w[0], "conv2d", "weight", w));
    memset(k, 0, sizeof *k);
    k->n = x[0];
    k->c = x[1];
    k->h = x[2];
    k->w = x[3];
    k->oc = w[0];
    k->kh = w[2];
    k->kw = w[3];
    k->stride_h = p->stride_h;
    k->stride_w = p->stride_w;
    k->pad_h = p->pad_h;
    k->pad_w = p->pad_w;
    k->dil_h = p->dil_h;
    k->dil_w = p->dil_w;
    k->groups = p->groups;
    k->dtype = (int)a->in[0]->dtype;
    return CF_OK;
}

/* Descriptors of shape k; the output shape cuDNN derives must be the one the
 * op's shape rule gave `out`. On failure the caller frees what was made with
 * conv_entry_fini. */
static cf_status conv_entry_init(const cf_op_args *a, const conv_key *k, conv_entry *e) {
    int y[4], on, oc, oh, ow;
    CF_TRY(cf_cuda_dims(a->out, "conv2d", "output", y));
    CF_CUDNN_CHECK(cudnnCreateTensorDescriptor(&e->x));
    CF_CUDNN_CHECK(cudnnCreateTensorDescriptor(&e->y));
    CF_CUDNN_CHECK(cudnnCreateTensorDescriptor(&e->bias));
    CF_CUDNN_CHECK(cudnnCreateFilterDescriptor(&e->w));
    CF_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&e->conv));
    const cudnnDataType_t dt = cf_cudnn_type((cf_dtype)k->dtype);
    CF_CUDNN_CHECK(cudnnSetTensor4dDescriptor(e->x, CUDNN_TENSOR_NCHW, dt, k->n, k->c, k->h, k->w));
    CF_CUDNN_CHECK(cudnnSetFilter4dDescriptor(e->w, dt, CUDNN_TENSOR_NCHW, k->oc, k->c / k->groups, k->kh, k->kw));
    /* f32 accumulation in every case: 16-bit data is cuDNN's PSEUDO_HALF / PSEUDO_BFLOAT16 configuration */
    CF_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(e->conv, k->pad_h, k->pad_w, k->stride_h, k->stride_w, k->dil_h,
                                                   k->dil_w, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    CF_CUDNN_CHECK(cudnnSetConvolutionGroupCount(e->conv, k->groups));
    CF_CUDNN_CHECK(cudnnSetConvolutionMathType(e->conv, k->dtype == CF_DTYPE_F32 ? CUDNN_FMA_MATH : CUDNN_TENSOR_OP_MATH));
    CF_CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(e->conv, e->x, e->w, &on, &oc, &oh, &ow));
    if (on != y[0] || oc != y[1] || oh != y[2] || ow != y[3])
        CF_FAIL(CF_ERR_INTERNAL, "cuda: conv2d: cuDNN derives output (%d, %d, %d, %d), the shape rule (%d, %d, %d, %d)",
                on, oc, oh, ow, y[0], y[1], y[2], y[3]);
    CF_CUDNN_CHECK(cudnnSetTensor4dDescriptor(e->y, CUDNN_TENSOR_NCHW, dt, y[0], y[1], y[2], y[3]));
    CF_CUDNN_CHECK(cudnnSetTensor4dDescriptor(e->bias, CUDNN_TENSOR_NCHW, dt, 1, k->oc, 1, 1));
    e->key = *k;
    e->used = 1;
    return CF_OK;
}

/* The cached entry of this call's shape, made (descriptors only) on first
 * sight. The pointer is valid until the next conv_entry_get. */
static cf_status conv_entry_get(cf_cuda_ctx *ctx, const cf_op_args *a, conv_entry **out) {
    conv_key k;
    CF_TRY(conv_key_of(a, &k));
    if (!ctx->algos) {
        ctx->algos = calloc(1, sizeof *ctx->algos);
        if (!ctx->algos) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "cuda: conv2d: no host memory for the algorithm cache");
    }
    cf_cuda_conv_algos *t = ctx->algos;
    if (t->cap) {
        conv_entry *e = conv_slot(t, &k);
        if (e->used) {
            *out = e;
            return CF_OK;
        }
    }
    if (2 * (t->count + 1) > t->cap) CF_TRY(conv_table_grow(t));
    conv_entry fresh;
    memset(&fresh, 0, sizeof fresh);
    cf_status st;
    CF_TRY_GOTO(st, conv_entry_init(a, &k, &fresh), fail);
    conv_entry *e = conv_slot(t, &k);
    *e = fresh;
    t->count++;
    *out = e;
    return CF_OK;
fail:
    conv_entry_fini(&fresh);
    return st;
}

/* ---- choosing algorithms ----------------------------------------------------- */

/* One row of a heuristic answer, whichever direction it ranks. */
typedef struct conv_choice {
    int algo;
    cudnnStatus_t status;
    cudnnDeterminism_t determinism;
    cudnnMathType_t math;
} conv_choice;

/* cuDNN's heuristic ranking for direction `dir`, best first (nothing runs). */
static cf_status conv_rank(cf_cuda_ctx *ctx, const conv_entry *e, int dir, conv_choice c[CONV_MAX_ALGOS], int *n) {
    int got = 0;
    *n = 0;
    switch (dir) {
    case CONV_FWD: {
        cudnnConvolutionFwdAlgoPerf_t p[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
        CF_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(ctx->cudnn, e->x, e->w, e->conv, e->y,
                                                              CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &got, p));
        if (got > CUDNN_CONVOLUTION_FWD_ALGO_COUNT) got = CUDNN_CONVOLUTION_FWD_ALGO_COUNT;
        for (int i = 0; i < got; i++)
            c[i] = (conv_choice){(int)p[i].algo, p[i].status, p[i].determinism, p[i].mathType};
        break;
    }
    case CONV_BWD_DATA: {
        cudnnConvolutionBwdDataAlgoPerf_t p[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
        CF_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(ctx->cudnn, e->w, e->y, e->conv, e->x,
                                                                   CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &got, p));
        if (got > CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT) got = CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT;
        for (int i = 0; i < got; i++)
            c[i] = (conv_choice){(int)p[i].algo, p[i].status, p[i].determinism, p[i].mathType};
        break;
    }
    default: {
        cudnnConvolutionBwdFilterAlgoPerf_t p[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
        CF_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(ctx->cudnn, e->x, e->y, e->conv, e->w,
                                                                     CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &got, p));
        if (got > CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT) got = CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT;
        for (int i = 0; i < got; i++)
            c[i] = (conv_choice){(int)p[i].algo, p[i].status, p[i].determinism, p[i].mathType};
        break;
    }
    }
    *n = got < 0 ? 0 : got;
    return CF_OK;
}

/* Workspace of `algo` for direction `dir` with our descriptors (FMA math);
 * a failure means the pair does not run and the candidate is skipped. */
static cudnnStatus_t conv_workspace_size(cf_cuda_ctx *ctx, const conv_entry *e, int dir, int algo, size_t *bytes) {
    switch (dir) {
    case CONV_FWD:
        return cudnnGetConvolutionForwardWorkspaceSize(ctx->cudnn, e->x, e->w, e->conv, e->y,
                                                       (cudnnConvolutionFwdAlgo_t)algo, bytes);
    case CONV_BWD_DATA:
        return cudnnGetConvolutionBackwardDataWorkspaceSize(ctx->cudnn, e->w, e->y, e->conv, e->x,
                                                            (cudnnConvolutionBwdDataAlgo_t)algo, bytes);
    default:
        return cudnnGetConvolutionBackwardFilterWorkspaceSize(ctx->cudnn, e->x, e->y, e->conv, e->w,
                                                              (cudnnConvolutionBwdFilterAlgo_t)algo, bytes);
    }
}

/* Choose direction `dir` of e once (see the file comment for the rule). */
static cf_status conv_choose(cf_cuda_ctx *ctx, conv_entry *e, int dir) {
    if (e->chosen[dir]) return CF_OK;
    const conv_key *k = &e->key;
    conv_choice c[CONV_MAX_ALGOS];
    int n = 0, oom = 0;
    CF_TRY(conv_rank(ctx, e, dir, c, &n));
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < n; i++) {
            if (c[i].status != CUDNN_STATUS_SUCCESS) continue;
            if (ctx->deterministic && c[i].determinism != CUDNN_DETERMINISTIC) continue;
            /* f32 stays f32 (no TF32); 16-bit data may use the tensor cores, never a conversion */
            if (c[i].math != CUDNN_FMA_MATH && c[i].math != CUDNN_DEFAULT_MATH &&
                !(k->dtype != CF_DTYPE_F32 && c[i].math == CUDNN_TENSOR_OP_MATH))
                continue;
            size_t bytes = 0;
            if (conv_workspace_size(ctx, e, dir, c[i].algo, &bytes) != CUDNN_STATUS_SUCCESS) continue;
            const int small = bytes <= CONV_WORKSPACE_SOFT;
            if (pass == 0 ? !small : small) continue; /* the second pass only adds the big ones */
            cf_status st = cf_cuda_workspace(ctx, bytes);
            if (st == CF_ERR_DEVICE_OOM) {
                CF_LOG_DEBUG("cuda:%d: conv2d %s: algorithm %d wants %zu bytes of workspace that cannot be had; "
                             "trying the next", ctx->device, conv_dir_name[dir], c[i].algo, bytes);
                cf_error_clear();
                oom = 1;
                continue;
            }
            CF_TRY(st);
            e->algo[dir] = c[i].algo;
            e->bytes[dir] = bytes;
            e->chosen[dir] = 1;
            CF_LOG_DEBUG("cuda:%d: conv2d %s of x (%d, %d, %d, %d), w (%d, %d, %d, %d), stride %dx%d, pad %dx%d, "
                         "dilation %dx%d, groups %d: algorithm %d, %zu bytes of workspace",
                         ctx->device, conv_dir_name[dir], k->n, k->c, k->h, k->w, k->oc, k->c / k->groups, k->kh,
                         k->kw, k->stride_h, k->stride_w, k->pad_h, k->pad_w, k->dil_h, k->dil_w, k->groups,
                         c[i].algo, bytes);
            return CF_OK;
        }
    if (oom)
        CF_FAIL(CF_ERR_DEVICE_OOM, "cuda:%d: conv2d %s of x (%d, %d, %d, %d), w (%d, %d, %d, %d): no usable "
                "algorithm's workspace fits in device memory", ctx->device, conv_dir_name[dir], k->n, k->c, k->h, k->w,
                k->oc, k->c / k->groups, k->kh, k->kw);
    CF_FAIL(CF_ERR_UNSUPPORTED, "cuda:%d: conv2d %s of x (%d, %d, %d, %d), w (%d, %d, %d, %d), stride %dx%d, "
            "pad %dx%d, dilation %dx%d, groups %d: cuDNN offers no %s%s algorithm", ctx->device,
            conv_dir_name[dir], k->n, k->c, k->h, k->w, k->oc, k->c / k->groups, k->kh, k->kw, k->stride_h,
            k->stride_w, k->pad_h, k->pad_w, k->dil_h, k->dil_w, k->groups,
            ctx->deterministic ? "deterministic " : "", k->dtype == CF_DTYPE_F32 ? "fp32 (FMA)" : cf_dtype_name((cf_dtype)k->dtype));
}

/* ---- depthwise: our kernels ---------------------------------------------------- */

/* One channel per group, one output channel per input channel. */
static int conv_is_depthwise(const cf_op_args *a) {
    const cf_tensor *x = a->in[0], *w = a->w[0];
    return a->params.conv.groups == x->shape[1] && w->shape[0] == x->shape[1] && w->shape[1] == 1 &&
           x->dtype == CF_DTYPE_F32 && w->dtype == CF_DTYPE_F32;
}

static cf_kernel_dwconv conv_dw_shape(const cf_op_args *a) {
    const cf_conv2d_params *p = &a->params.conv;
    const cf_tensor *x = a->in[0]; /* (N, C, H, W) */
    const cf_tensor *w = a->w[0];  /* (C, 1, KH, KW) */
    const cf_tensor *y = a->out;   /* (N, C, OH, OW) */
    return (cf_kernel_dwconv){.n = x->shape[0], .c = x->shape[1], .h = x->shape[2], .w = x->shape[3],
                              .oh = y->shape[2], .ow = y->shape[3], .kh = w->shape[2], .kw = w->shape[3],
                              .stride_h = p->stride_h, .stride_w = p->stride_w, .pad_h = p->pad_h,
                              .pad_w = p->pad_w, .dil_h = p->dil_h, .dil_w = p->dil_w};
}

static cf_status conv_dw_forward(cf_cuda_ctx *ctx, const cf_op_args *a) {
    const cf_kernel_dwconv s = conv_dw_shape(a);
    const cf_tensor *b = a->w[1]; /* (C) or NULL */
    return cf_kernel_dwconv_forward(a->in[0]->data, a->w[0]->data, b ? b->data : NULL, a->out->data, &s,
                                    ctx->stream);
}

static cf_status conv_dw_backward(cf_cuda_ctx *ctx, const cf_op_args *a) {
    const cf_kernel_dwconv s = conv_dw_shape(a);
    cf_tensor *dx = a->din[0]; /* (N, C, H, W) or NULL */
    cf_tensor *dw = a->dw[0];  /* (C, 1, KH, KW) or NULL */
    cf_tensor *db = a->dw[1];  /* (C) or NULL */
    if (dx)
        CF_TRY(cf_kernel_dwconv_backward_data(a->dout->data, a->w[0]->data, dx->data, &s, a->din_assign[0],
                                              ctx->stream));
    if (dw || db)
        CF_TRY(cf_kernel_dwconv_backward_weight(a->in[0]->data, a->dout->data, dw ? dw->data : NULL,
                                                db ? db->data : NULL, &s, ctx->stream));
    return CF_OK;
}

/* ---- the op ------------------------------------------------------------------ */

/* y = conv(x, w), then y += bias broadcast over (N, OH, OW). */
cf_status cf_cuda_conv2d_forward(cf_cuda_ctx *ctx, const cf_op_args *a) {
    const cf_tensor *x = a->in[0]; /* (N, C, H, W) */
    const cf_tensor *w = a->w[0];  /* (OC, C/groups, KH, KW) */
    const cf_tensor *b = a->w[1];  /* (OC) or NULL */
    cf_tensor *y = a->out;         /* (N, OC, OH, OW) */
    const float one = 1.0f, zero = 0.0f;
    if (ctx->own_depthwise && conv_is_depthwise(a)) return conv_dw_forward(ctx, a);
    conv_entry *e;
    CF_TRY(conv_entry_get(ctx, a, &e));
    CF_TRY(conv_choose(ctx, e, CONV_FWD));
    CF_TRY(cf_cuda_workspace(ctx, e->bytes[CONV_FWD]));
    /* 16-bit: the bias first and the convolution added to it (beta 1), so y is rounded once, as the reference */
    const int half = x->dtype != CF_DTYPE_F32;
    if (b && half) CF_CUDNN_CHECK(cudnnAddTensor(ctx->cudnn, &one, e->bias, b->data, &zero, e->y, y->data));
    CF_CUDNN_CHECK(cudnnConvolutionForward(ctx->cudnn, &one, e->x, x->data, e->w, w->data, e->conv,
                                           (cudnnConvolutionFwdAlgo_t)e->algo[CONV_FWD], ctx->workspace,
                                           e->bytes[CONV_FWD], b && half ? &one : &zero, e->y, y->data));
    if (b && !half) CF_CUDNN_CHECK(cudnnAddTensor(ctx->cudnn, &one, e->bias, b->data, &one, e->y, y->data));
    return CF_OK;
}

/* dx (beta 0 when din_assign[0], else 1), dw and db (beta 1: weight
 * gradients always add), each only when wanted. */
cf_status cf_cuda_conv2d_backward(cf_cuda_ctx *ctx, const cf_op_args *a) {
    const cf_tensor *x = a->in[0];  /* (N, C, H, W) */
    const cf_tensor *w = a->w[0];   /* (OC, C/groups, KH, KW) */
    const cf_tensor *dy = a->dout;  /* (N, OC, OH, OW) */
    cf_tensor *dx = a->din[0];      /* (N, C, H, W) or NULL */
    cf_tensor *dw = a->dw[0];       /* (OC, C/groups, KH, KW) or NULL */
    cf_tensor *db = a->dw[1];       /* (OC) or NULL */
    const float one = 1.0f, zero = 0.0f;
    if (!dx && !dw && !db) return CF_OK;
    if (ctx->own_depthwise && conv_is_depthwise(a)) return conv_dw_backward(ctx, a);
    conv_entry *e;
    CF_TRY(conv_entry_get(ctx, a, &e));
    if (dx) {
        CF_TRY(conv_choose(ctx, e, CONV_BWD_DATA));
        CF_TRY(cf_cuda_workspace(ctx, e->bytes[CONV_BWD_DATA]));
        CF_CUDNN_CHECK(cudnnConvolutionBackwardData(ctx->cudnn, &one, e->w, w->data, e->y, dy->data, e->conv,
                                                    (cudnnConvolutionBwdDataAlgo_t)e->algo[CONV_BWD_DATA],
                                                    ctx->workspace, e->bytes[CONV_BWD_DATA],
                                                    a->din_assign[0] ? &zero : &one, e->x, dx->data));
    }
    if (dw) {
        CF_TRY(conv_choose(ctx, e, CONV_BWD_FILTER));
        CF_TRY(cf_cuda_workspace(ctx, e->bytes[CONV_BWD_FILTER]));
        CF_CUDNN_CHECK(cudnnConvolutionBackwardFilter(ctx->cudnn, &one, e->x, x->data, e->y, dy->data, e->conv,
                                                      (cudnnConvolutionBwdFilterAlgo_t)e->algo[CONV_BWD_FILTER],
                                                      ctx->workspace, e->bytes[CONV_BWD_FILTER], &one, e->w,
                                                      dw->data));
    }
    if (db) CF_CUDNN_CHECK(cudnnConvolutionBackwardBias(ctx->cudnn, &one, e->y, dy->data, &one, e->bias, db->data));
    return CF_OK;
}
