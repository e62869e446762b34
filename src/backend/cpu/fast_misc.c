/* fast_misc.c - f32 linear (one GEMM), sum, a supernet's mix, zero, identity,
 * concat, slice and softmax cross-entropy for the fast CPU backend.
 *
 * These are memory-bound copies and adds over contiguous tensors; the loops
 * are split over the instance's threads. Softmax cross-entropy is tiny
 * (batch x classes) and runs on one thread, in double like ref_loss.c. The
 * mix sums in double in the reference's order, so its output and input
 * gradients are the reference's bits.
 *
 * Checked against ref_linear.c, ref_elementwise.c and ref_loss.c by
 * tests/test_cpu_fast.c.
 */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "fast.h"

/* ---- linear: x (N, IN) read from (N, C, H, W) row-major, as a flatten ----- */

cf_status cf_fast_linear_forward(fast_ctx *ctx, const cf_op_args *a) {
    (void)ctx;
    const cf_tensor *xt = a->in[0], *wt = a->w[0], *bt = a->w[1];
    const int N = (int)xt->shape[0], IN = (int)wt->shape[1], OUT = (int)wt->shape[0];
    const float *x = FDATA(xt), *w = FDATA(wt); /* x (N, IN); w (OUT, IN) */
    float *y = FDATA(a->out);                   /* (N, OUT) */
    /* y = x . w^T */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OUT, IN, 1.0f, x, IN, w, IN, 0.0f, y, OUT);
    if (bt) {
        const float *b = FDATA(bt);
        for (int n = 0; n < N; n++)
            for (int o = 0; o < OUT; o++) y[n * OUT + o] += b[o];
    }
    return CF_OK;
}

cf_status cf_fast_linear_backward(fast_ctx *ctx, const cf_op_args *a) {
    (void)ctx;
    const cf_tensor *xt = a->in[0], *wt = a->w[0];
    const int N = (int)xt->shape[0], IN = (int)wt->shape[1], OUT = (int)wt->shape[0];
    const float *x = FDATA(xt), *w = FDATA(wt), *dy = FDATA(a->dout); /* dy (N, OUT) */
    if (a->din[0]) /* dx (N, IN) += dy . w */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, IN, OUT, 1.0f, dy, OUT, w, IN, 1.0f,
                    FDATA(a->din[0]), IN);
    if (a->dw[0]) /* dw (OUT, IN) += dy^T . x */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OUT, IN, N, 1.0f, dy, OUT, x, IN, 1.0f,
                    FDATA(a->dw[0]), IN);
    if (a->dw[1]) {
        float *db = FDATA(a->dw[1]);
        for (int o = 0; o < OUT; o++) {
            float s = 0.0f;
            for (int n = 0; n < N; n++) s += dy[n * OUT + o];
            db[o] += s;
        }
    }
    return CF_OK;
}

/* ---- element-wise ------------------------------------------------------- */

FAST_SIMD static void add_range(float *dst, const float *src, int64_t n) {
    for (int64_t i = 0; i < n; i++) dst[i] += src[i];
}

FAST_SIMD static void sum2_range(float *y, const float *a, const float *b, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

/* Each thread sums all inputs over its share, in input order. */
cf_status cf_fast_sum_forward(fast_ctx *ctx, const cf_op_args *a) {
    float *y = FDATA(a->out);
    const int64_t n = cf_tensor_numel(a->out);
#pragma omp parallel num_threads(ctx->threads)
    {
        int64_t lo, hi;
        fast_share(n, omp_get_thread_num(), omp_get_num_threads(), &lo, &hi);
        if (a->n_inputs > 1) sum2_range(y + lo, FDATA(a->in[0]) + lo, FDATA(a->in[1]) + lo, hi - lo);
        else if (hi > lo) memcpy(y + lo, FDATA(a->in[0]) + lo, (size_t)(hi - lo) * sizeof(float));
        for (int j = 2; j < a->n_inputs; j++) add_range(y + lo, FDATA(a->in[j]) + lo, hi - lo);
    }
    return CF_OK;
}

/* Every input's gradient gets dy: added, or copied where din_assign says the
 * gradient holds nothing yet. One parallel region for all inputs. */
cf_status cf_fast_sum_backward(fast_ctx *ctx, const cf_op_args *a) {
    const float *dy = FDATA(a->dout);
    const int64_t n = cf_tensor_numel(a->dout);
#pragma omp parallel num_threads(ctx->threads)
    {
        int64_t lo, hi;
        fast_share(n, omp_get_thread_num(), omp_get_num_threads(), &lo, &hi);
        for (int k = 0; k < a->n_inputs && hi > lo; k++) {
            if (!a->din[k]) continue;
            float *dx = FDATA(a->din[k]);
            if (a->din_assign[k]) memcpy(dx + lo, dy + lo, (size_t)(hi - lo) * sizeof(float));
            else add_range(dx + lo, dy + lo, hi - lo);
        }
    }
    return CF_OK;
}

/* ---- mix: y = sum over the present k of coef[k] * x_k ----------------------- */

/* The present inputs of a mix in increasing k, with their coefficients. */
typedef struct mix_terms {
    int n;
    int k[CF_OP_MAX_INPUTS];          /* input slot */
    const float *x[CF_OP_MAX_INPUTS]; /* (numel) */
    float c[CF_OP_MAX_INPUTS];        /* coef[k] */
} mix_terms;

static mix_terms mix_present(const cf_op_args *a) {
    mix_terms t = {0};
    const float *coef = FDATA(a->w[0]); /* (K, 1, 1, 1) */
    for (int k = 0; k < a->n_inputs; k++) {
        if (!a->in[k]) continue;
        t.k[t.n] = k;
        t.x[t.n] = FDATA(a->in[k]);
        t.c[t.n++] = coef[k];
    }
    return t;
}

/* Elements per tile of double accumulators: 2 KiB, in L1 beside the inputs. */
#define MIX_TILE 256

/* y[lo, hi) in tiles: each term added across the tile (a vector loop), terms
 * in increasing k, so every element gets the reference's sum. */
FAST_SIMD static void mix_range(float *y, const mix_terms *t, int64_t lo, int64_t hi) {
    double acc[MIX_TILE];
    for (int64_t t0 = lo; t0 < hi; t0 += MIX_TILE) {
        const int64_t len = hi - t0 < MIX_TILE ? hi - t0 : MIX_TILE;
        for (int64_t i = 0; i < len; i++) acc[i] = 0.0;
        for (int j = 0; j < t->n; j++) {
            const double c = t->c[j];
            const float *x = t->x[j] + t0;
            for (int64_t i = 0; i < len; i++) acc[i] += c * (double)x[i];
        }
        for (int64_t i = 0; i < len; i++) y[t0 + i] = (float)acc[i];
    }
}

cf_status cf_fast_mix_forward(fast_ctx *ctx, const cf_op_args *a) {
    const mix_terms t = mix_present(a);
    float *y = FDATA(a->out);
    const int64_t n = cf_tensor_numel(a->out);
#pragma omp parallel num_threads(ctx->threads)
    {
        int64_t lo, hi;
        fast_share(n, omp_get_thread_num(), omp_get_num_threads(), &lo, &hi);
        mix_range(y, &t, lo, hi);
    }
    return CF_OK;
}

/* dx = c * dy (assign) or dx += c * dy: the float product is the rounded
 * exact product, as the reference's (float)(c * dy) in double. */
FAST_SIMD static void scaled_range(float *dx, const float *dy, float c, int64_t n, int assign) {
    if (assign)
        for (int64_t i = 0; i < n; i++) dx[i] = c * dy[i];
    else
        for (int64_t i = 0; i < n; i++) dx[i] += c * dy[i];
}

FAST_SIMD static double dot_range(const float *x, const float *dy, int64_t n) {
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += (double)x[i] * (double)dy[i];
    return s;
}

/* Chunks of a coefficient's gradient: partial dot products over fixed slices
 * of the elements, added in slice order, so the bits do not depend on the
 * thread count (as cf_backend_norm2's). */
#define MIX_CHUNKS 64

/* dcoef[k] += sum(x_k * dy) for the present k, in double. */
static void mix_dcoef(fast_ctx *ctx, const cf_op_args *a, const mix_terms *t) {
    const float *dy = FDATA(a->dout);
    const int64_t n = cf_tensor_numel(a->dout);
    double part[CF_OP_MAX_INPUTS][MIX_CHUNKS];
#pragma omp parallel for num_threads(ctx->threads) schedule(static)
    for (int ch = 0; ch < MIX_CHUNKS; ch++) {
        const int64_t lo = n * ch / MIX_CHUNKS, hi = n * (ch + 1) / MIX_CHUNKS;
        for (int j = 0; j < t->n; j++) part[j][ch] = dot_range(t->x[j] + lo, dy + lo, hi - lo);
    }
    float *dcoef = FDATA(a->dw[0]);
    for (int j = 0; j < t->n; j++) {
        double sum = 0.0;
        for (int ch = 0; ch < MIX_CHUNKS; ch++) sum += part[j][ch];
        dcoef[t->k[j]] += (float)sum;
    }
}

/* Input gradients in increasing k within each thread's share, so a gradient
 * passed in two slots is written (assign) before it is added to. */
cf_status cf_fast_mix_backward(fast_ctx *ctx, const cf_op_args *a) {
    const mix_terms t = mix_present(a);
    const float *dy = FDATA(a->dout);
    const int64_t n = cf_tensor_numel(a->dout);
#pragma omp parallel num_threads(ctx->threads)
    {
        int64_t lo, hi;
        fast_share(n, omp_get_thread_num(), omp_get_num_threads(), &lo, &hi);
        for (int j = 0; j < t.n && hi > lo; j++) {
            const int k = t.k[j];
            if (a->din[k]) scaled_range(FDATA(a->din[k]) + lo, dy + lo, t.c[j], hi - lo, a->din_assign[k]);
        }
    }
    if (a->dw[0]) mix_dcoef(ctx, a, &t);
    return CF_OK;
}

cf_status cf_fast_zero_forward(fast_ctx *ctx, const cf_op_args *a) {
    (void)ctx;
    memset(a->out->data, 0, (size_t)cf_tensor_numel(a->out) * sizeof(float));
    return CF_OK;
}

/* The output does not depend on the input: nothing flows back. */
cf_status cf_fast_zero_backward(fast_ctx *ctx, const cf_op_args *a) {
    (void)ctx;
    (void)a;
    return CF_OK;
}

cf_status cf_fast_identity_forward(fast_ctx *ctx, const cf_op_args *a) {
    const float *x = FDATA(a->in[0]);
    float *y = FDATA(a->out);
    const int64_t n = cf_tensor_numel(a->out);
#pragma omp parallel num_threads(ctx->threads)
    {
        int64_t lo, hi;
        fast_share(n, omp_get_thread_num(), omp_get_num_threads(), &lo, &hi);
        if (hi > lo) memcpy(y + lo, x + lo, (size_t)(hi - lo) * sizeof(float));
    }
    return CF_OK;
}

/* The sum's backward with one input. */
cf_status cf_fast_identity_backward(fast_ctx *ctx, const cf_op_args *a) { return cf_fast_sum_backward(ctx, a); }

/* ---- concat on channels: per image, input k is one block of C_k*H*W ------- */

cf_status cf_fast_concat_forward(fast_ctx *ctx, const cf_op_args *a) {
    const cf_tensor *yt = a->out;
    const int64_t N = yt->shape[0], HW = yt->shape[2] * yt->shape[3], YC = yt->shape[1] * HW;
    float *y = FDATA(yt);
#pragma omp parallel for num_threads(ctx->threads) schedule(static)
    for (int64_t n = 0; n < N; n++) {
        int64_t off = 0;
        for (int k = 0; k < a->n_inputs; k++) {
            const int64_t len = a->in[k]->shape[1] * HW;
            memcpy(y + n * YC + off, FDATA(a->in[k]) + n * len, (size_t)len * sizeof(float));
            off += len;
        }
    }
    return CF_OK;
}

cf_status cf_fast_concat_backward(fast_ctx *ctx, const cf_op_args *a) {
    const cf_tensor *dyt = a->dout;
    const int64_t N = dyt->shape[0], HW = dyt->shape[2] * dyt->shape[3], YC = dyt->shape[1] * HW;
    const float *dy = FDATA(dyt);
#pragma omp parallel for num_threads(ctx->threads) schedule(static)
    for (int64_t n = 0; n < N; n++) {
        int64_t off = 0;
        for (int k = 0; k < a->n_inputs; k++) {
            const int64_t len = a->in[k]->shape[1] * HW;
            if (a->din[k]) {
                add_range(FDATA(a->din[k]) + n * len, dy + n * YC + off, len);
            }
            off += len;
        }
    }
    return CF_OK;
}

/* ---- slice: y = x[:, c0:c0+c, top:top+h, left:left+w], one row at a time -- */

cf_status cf_fast_slice_forward(fast_ctx *ctx, const cf_op_args *a) {
    const cf_slice_params *p = &a->params.slice;
    const cf_tensor *xt = a->in[0];
    const int64_t N = xt->shape[0], C = xt->shape[1], H = xt->shape[2], W = xt->shape[3];
    const float *x = FDATA(xt);
    float *y = FDATA(a->out); /* (N, c, h, w) */
    const int64_t rows = N * p->c * p->h;
#pragma omp parallel for num_threads(ctx->threads) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const int64_t n = r / ((int64_t)p->c * p->h), c = (r / p->h) % p->c, h = r % p->h;
        memcpy(y + r * p->w, x + ((n * C + p->c0 + c) * H + p->top + h) * W + p->left, (size_t)p->w * sizeof(float));
    }
    return CF_OK;
}

/* The window of dx receives dy; the rest of dx is untouched. */
cf_status cf_fast_slice_backward(fast_ctx *ctx, const cf_op_args *a) {
    if (!a->din[0]) return CF_OK;
    const cf_slice_params *p = &a->params.slice;
    const cf_tensor *xt = a->in[0];
    const int64_t N = xt->shape[0], C = xt->shape[1], H = xt->shape[2], W = xt->shape[3];
    const float *dy = FDATA(a->dout);
    float *dx = FDATA(a->din[0]);
    const int64_t rows = N * p->c * p->h;
#pragma omp parallel for num_threads(ctx->threads) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const int64_t n = r / ((int64_t)p->c * p->h), c = (r / p->h) % p->c, h = r % p->h;
        float *d = dx + ((n * C + p->c0 + c) * H + p->top + h) * W + p->left;
        add_range(d, dy + r * p->w, p->w);
    }
    return CF_OK;
}

/* ---- softmax cross-entropy with label smoothing, mean over the batch ------ */

static cf_status check_labels(const cf_tensor *labels, int64_t N, int64_t K) {
    const int32_t *lab = labels->data;
    for (int64_t n = 0; n < N; n++) {
        const int32_t l = lab[n * labels->stride[0]];
        if (l < 0 || l >= K)
            CF_FAIL(CF_ERR_INVALID_ARG, "softmax_xent: label %d at row %lld is outside [0, %lld)", (int)l,
                    (long long)n, (long long)K);
    }
    return CF_OK;
}

static double row_logsumexp(const float *z, int64_t K) {
    double m = -INFINITY, s = 0.0;
    for (int64_t k = 0; k < K; k++)
        if (z[k] > m) m = z[k];
    for (int64_t k = 0; k < K; k++) s += exp((double)z[k] - m);
    return m + log(s);
}

cf_status cf_fast_softmax_xent_forward(fast_ctx *ctx, const cf_op_args *a) {
    (void)ctx;
    const cf_tensor *zt = a->in[0], *labels = a->in[1]; /* (N, K) logits; (N) i32 */
    const int64_t N = zt->shape[0], K = zt->shape[1];
    const double e = a->params.xent.label_smoothing;
    CF_TRY(check_labels(labels, N, K));
    const int32_t *lab = labels->data;
    const float *z = FDATA(zt);
    double total = 0.0;
    for (int64_t n = 0; n < N; n++) {
        const float *zr = z + n * K;
        const double lse = row_logsumexp(zr, K);
        const int32_t l = lab[n * labels->stride[0]];
        double sum_z = 0.0;
        for (int64_t k = 0; k < K; k++) sum_z += zr[k];
        /* -sum_k t_k (z_k - lse) with t = (1 - e) one_hot(l) + e / K */
        total += (1.0 - e) * (lse - zr[l]) + e * (lse - sum_z / (double)K);
    }
    FDATA(a->out)[0] = (float)(total / (double)N);
    return CF_OK;
}

/* dz[n, k] += dloss * (softmax(z_n)_k - t_k) / N */
cf_status cf_fast_softmax_xent_backward(fast_ctx *ctx, const cf_op_args *a) {
    (void)ctx;
    if (!a->din[0]) return CF_OK;
    const cf_tensor *zt = a->in[0], *labels = a->in[1];
    const int64_t N = zt->shape[0], K = zt->shape[1];
    const double e = a->params.xent.label_smoothing;
    const double dloss = FDATA(a->dout)[0];
    CF_TRY(check_labels(labels, N, K));
    const int32_t *lab = labels->data;
    const float *z = FDATA(zt);
    float *dz = FDATA(a->din[0]);
    for (int64_t n = 0; n < N; n++) {
        const float *zr = z + n * K;
        const double lse = row_logsumexp(zr, K);
        const int32_t l = lab[n * labels->stride[0]];
        for (int64_t k = 0; k < K; k++) {
            const double t = (k == l ? 1.0 - e : 0.0) + e / (double)K;
            dz[n * K + k] += (float)(dloss * (exp((double)zr[k] - lse) - t) / (double)N);
        }
    }
    return CF_OK;
}
