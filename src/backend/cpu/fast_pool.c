/* fast_pool.c - f32 average, max and global average pooling for the fast CPU
 * backend, one (n, c) plane per iteration, planes split over threads.
 *
 * Average pooling is separable: per output row, the valid input rows are
 * summed into a row buffer (a vectorizable loop over W), then each output
 * sums its window's columns of that buffer and divides by the in-bounds count
 * (padding not counted, as ref_pool.c). Backward runs the same two steps in
 * reverse. Max pooling scans each clipped window; ties and NaN follow
 * ref_pool.c (first maximum in row-major order; a NaN wins).
 *
 * Checked against ref_pool.c by tests/test_cpu_fast.c.
 */
#include <omp.h>

#include "fast.h"

typedef struct pool_geom {
    int64_t planes, H, W, OH, OW;
    int kh, kw, sh, sw, ph, pw;
} pool_geom;

static pool_geom pgeom(const cf_op_args *a, const cf_tensor *y) {
    const cf_pool2d_params *p = &a->params.pool;
    const cf_tensor *x = a->in[0];
    return (pool_geom){x->shape[0] * x->shape[1], x->shape[2], x->shape[3], y->shape[2], y->shape[3],
                       p->kernel_h, p->kernel_w, p->stride_h, p->stride_w, p->pad_h, p->pad_w};
}

/* Window [lo, hi) of output index o along one axis, clipped to [0, len). */
static inline void clip(int64_t o, int s, int pad, int k, int64_t len, int64_t *lo, int64_t *hi) {
    int64_t l = o * s - pad, h = l + k;
    *lo = l < 0 ? 0 : l;
    *hi = h > len ? len : h;
}

/* One plane: rows of the window summed into row (W), then columns. */
FAST_SIMD static void avg_plane(const pool_geom *g, const float *xp, float *yp, float *row) {
    for (int64_t oh = 0; oh < g->OH; oh++) {
        int64_t h0, h1;
        clip(oh, g->sh, g->ph, g->kh, g->H, &h0, &h1);
        const float *x0 = xp + h0 * g->W;
        for (int64_t w = 0; w < g->W; w++) row[w] = x0[w];
        for (int64_t h = h0 + 1; h < h1; h++) {
            const float *xr = xp + h * g->W;
            for (int64_t w = 0; w < g->W; w++) row[w] += xr[w];
        }
        const float rows = (float)(h1 - h0);
        for (int64_t ow = 0; ow < g->OW; ow++) {
            int64_t w0, w1;
            clip(ow, g->sw, g->pw, g->kw, g->W, &w0, &w1);
            float s = 0.0f;
            for (int64_t w = w0; w < w1; w++) s += row[w];
            yp[oh * g->OW + ow] = s / (rows * (float)(w1 - w0));
        }
    }
}

/* Run a per-plane average-pool kernel over every (n, c) plane in parallel,
 * each thread with its own row buffer of W floats from the workspace. */
typedef void (*avg_plane_fn)(const pool_geom *g, const float *src, float *dst, float *row);

static cf_status avg_planes(fast_ctx *ctx, const pool_geom *g, avg_plane_fn fn, const float *src,
                            int64_t src_plane, float *dst, int64_t dst_plane) {
    const size_t per_thread = fast_round((size_t)g->W);
    float *ws;
    CF_TRY(fast_workspace(ctx, per_thread * (size_t)ctx->threads, &ws));
#pragma omp parallel num_threads(ctx->threads)
    {
        float *row = ws + per_thread * (size_t)omp_get_thread_num(); /* (W) */
#pragma omp for schedule(static)
        for (int64_t i = 0; i < g->planes; i++) fn(g, src + i * src_plane, dst + i * dst_plane, row);
    }
    return CF_OK;
}

cf_status cf_fast_avgpool2d_forward(fast_ctx *ctx, const cf_op_args *a) {
    const pool_geom g = pgeom(a, a->out);
    const float *x = FDATA(a->in[0]); /* (N, C, H, W) */
    float *y = FDATA(a->out);         /* (N, C, OH, OW) */
    return avg_planes(ctx, &g, avg_plane, x, g.H * g.W, y, g.OH * g.OW);
}

/* One plane: each output row's shares spread over row (W), then added to
 * the window's input rows. */
FAST_SIMD static void avg_grad_plane(const pool_geom *g, const float *dyp, float *dxp, float *row) {
    for (int64_t oh = 0; oh < g->OH; oh++) {
        int64_t h0, h1;
        clip(oh, g->sh, g->ph, g->kh, g->H, &h0, &h1);
        const float rows = (float)(h1 - h0);
        for (int64_t w = 0; w < g->W; w++) row[w] = 0.0f;
        for (int64_t ow = 0; ow < g->OW; ow++) {
            int64_t w0, w1;
            clip(ow, g->sw, g->pw, g->kw, g->W, &w0, &w1);
            const float share = dyp[oh * g->OW + ow] / (rows * (float)(w1 - w0));
            for (int64_t w = w0; w < w1; w++) row[w] += share;
        }
        for (int64_t h = h0; h < h1; h++) {
            float *dr = dxp + h * g->W;
            for (int64_t w = 0; w < g->W; w++) dr[w] += row[w];
        }
    }
}

cf_status cf_fast_avgpool2d_backward(fast_ctx *ctx, const cf_op_args *a) {
    if (!a->din[0]) return CF_OK;
    const pool_geom g = pgeom(a, a->dout);
    const float *dy = FDATA(a->dout); /* (N, C, OH, OW) */
    float *dx = FDATA(a->din[0]);     /* (N, C, H, W) */
    return avg_planes(ctx, &g, avg_grad_plane, dy, g.OH * g.OW, dx, g.H * g.W);
}

/* Offset (h * W + w) of the first maximum of window (oh, ow) of plane xp. */
static inline int64_t argmax(const pool_geom *g, const float *xp, int64_t oh, int64_t ow) {
    int64_t h0, h1, w0, w1;
    clip(oh, g->sh, g->ph, g->kh, g->H, &h0, &h1);
    clip(ow, g->sw, g->pw, g->kw, g->W, &w0, &w1);
    int64_t best = h0 * g->W + w0;
    float bv = xp[best];
    if (bv != bv) return best;
    for (int64_t h = h0; h < h1; h++)
        for (int64_t w = w0; w < w1; w++) {
            const float v = xp[h * g->W + w];
            if (v > bv || v != v) {
                bv = v;
                best = h * g->W + w;
                if (v != v) return best;
            }
        }
    return best;
}

/* v wins over m when larger or NaN: the reference's rule, as a select. */
static inline float max_nan(float m, float v) { return (v > m || v != v) ? v : m; }

/* One plane, separably: column maxima of the window's rows into row (W), then
 * the maximum over the window's columns. Equal to the first-maximum scan:
 * the maximum does not depend on order, and any NaN gives NaN. */
FAST_SIMD static void max_plane(const pool_geom *g, const float *xp, float *yp, float *row) {
    for (int64_t oh = 0; oh < g->OH; oh++) {
        int64_t h0, h1;
        clip(oh, g->sh, g->ph, g->kh, g->H, &h0, &h1);
        const float *x0 = xp + h0 * g->W;
        for (int64_t w = 0; w < g->W; w++) row[w] = x0[w];
        for (int64_t h = h0 + 1; h < h1; h++) {
            const float *xr = xp + h * g->W;
            for (int64_t w = 0; w < g->W; w++) row[w] = max_nan(row[w], xr[w]);
        }
        /* at stride 1 the windows that lie inside the row, [lo, hi), go as
         * vector loops over ow, one per column of the window, in the
         * window's order (so even which NaN comes out is the scalar loop's) */
        float *yr = yp + oh * g->OW;
        int64_t lo = g->OW, hi = g->OW;
        if (g->sw == 1) {
            lo = g->pw < g->OW ? g->pw : g->OW;
            hi = g->W - g->kw + g->pw + 1 < g->OW ? g->W - g->kw + g->pw + 1 : g->OW;
            if (hi < lo) hi = lo;
            const float *r0 = row - g->pw;
            for (int64_t ow = lo; ow < hi; ow++) yr[ow] = r0[ow];
            for (int k = 1; k < g->kw; k++)
                for (int64_t ow = lo; ow < hi; ow++) yr[ow] = max_nan(yr[ow], r0[ow + k]);
        }
        for (int64_t ow = 0; ow < g->OW; ow++) {
            if (ow == lo) ow = hi;
            if (ow >= g->OW) break;
            int64_t w0, w1;
            clip(ow, g->sw, g->pw, g->kw, g->W, &w0, &w1);
            float m = row[w0];
            for (int64_t w = w0 + 1; w < w1; w++) m = max_nan(m, row[w]);
            yr[ow] = m;
        }
    }
}

cf_status cf_fast_maxpool2d_forward(fast_ctx *ctx, const cf_op_args *a) {
    const pool_geom g = pgeom(a, a->out);
    const float *x = FDATA(a->in[0]);
    float *y = FDATA(a->out);
    const size_t per_thread = fast_round((size_t)g.W);
    float *ws;
    CF_TRY(fast_workspace(ctx, per_thread * (size_t)ctx->threads, &ws));
#pragma omp parallel num_threads(ctx->threads)
    {
        float *row = ws + per_thread * (size_t)omp_get_thread_num(); /* (W) */
#pragma omp for schedule(static)
        for (int64_t i = 0; i < g.planes; i++) max_plane(&g, x + i * g.H * g.W, y + i * g.OH * g.OW, row);
    }
    return CF_OK;
}

/* The argmax is recomputed from x rather than stored by the forward: no state
 * to keep between the calls, and the scan costs about what the forward does. */
cf_status cf_fast_maxpool2d_backward(fast_ctx *ctx, const cf_op_args *a) {
    if (!a->din[0]) return CF_OK;
    const pool_geom g = pgeom(a, a->dout);
    const float *x = FDATA(a->in[0]), *dy = FDATA(a->dout);
    float *dx = FDATA(a->din[0]);
#pragma omp parallel for num_threads(ctx->threads) schedule(static)
    for (int64_t i = 0; i < g.planes; i++) {
        const float *xp = x + i * g.H * g.W, *dyp = dy + i * g.OH * g.OW;
        float *dxp = dx + i * g.H * g.W;
        for (int64_t oh = 0; oh < g.OH; oh++)
            for (int64_t ow = 0; ow < g.OW; ow++) dxp[argmax(&g, xp, oh, ow)] += dyp[oh * g.OW + ow];
    }
    return CF_OK;
}

cf_status cf_fast_global_avgpool_forward(fast_ctx *ctx, const cf_op_args *a) {
    const cf_tensor *xt = a->in[0]; /* (N, C, H, W) */
    const float *x = FDATA(xt);
    float *y = FDATA(a->out);       /* (N, C, 1, 1) */
    const int64_t planes = xt->shape[0] * xt->shape[1], HW = xt->shape[2] * xt->shape[3];
#pragma omp parallel for num_threads(ctx->threads) schedule(static)
    for (int64_t i = 0; i < planes; i++) {
        const float *xp = x + i * HW;
        float s = 0.0f;
#pragma omp simd reduction(+ : s)
        for (int64_t k = 0; k < HW; k++) s += xp[k];
        y[i] = s / (float)HW;
    }
    return CF_OK;
}

cf_status cf_fast_global_avgpool_backward(fast_ctx *ctx, const cf_op_args *a) {
    if (!a->din[0]) return CF_OK;
    const cf_tensor *xt = a->in[0];
    const float *dy = FDATA(a->dout);
    float *dx = FDATA(a->din[0]);
    const int64_t planes = xt->shape[0] * xt->shape[1], HW = xt->shape[2] * xt->shape[3];
#pragma omp parallel for num_threads(ctx->threads) schedule(static)
    for (int64_t i = 0; i < planes; i++) {
        const float share = dy[i] / (float)HW;
        float *dp = dx + i * HW;
#pragma omp simd
        for (int64_t k = 0; k < HW; k++) dp[k] += share;
    }
    return CF_OK;
}
