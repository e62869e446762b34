/* fast_norm.c - f32 batch normalization (training and inference, forward and
 * backward) and ReLU for the fast CPU backend.
 *
 * Batch norm works one channel per iteration, channels split over threads:
 * the channel's N planes are read once for the statistics and once more to
 * normalize while they are still in cache. Statistics are summed in float per
 * plane (H*W values) and in double across planes, around a shift (the
 * channel's first value) so that sum of squares minus squared sum does not
 * cancel when the mean is large next to the spread.
 *
 * Checked against ref_norm.c and ref_elementwise.c by tests/test_cpu_fast.c.
 */
#include <math.h>
#include <omp.h>

#include "fast.h"

/* Element k of a per-channel vector (K, 1, 1, 1). */
#define FV(t, k) (FDATA(t)[(k) * (t)->stride[0]])

/* *s += sum (x - shift), *ss += sum (x - shift)^2 over one plane. */
FAST_SIMD static void plane_stats(const float *x, int64_t n, float shift, double *s, double *ss) {
    float ps = 0.0f, pss = 0.0f;
#pragma omp simd reduction(+ : ps, pss)
    for (int64_t i = 0; i < n; i++) {
        const float d = x[i] - shift;
        ps += d;
        pss += d * d;
    }
    *s += ps;
    *ss += pss;
}

/* y = x * scale + offset over one plane. */
FAST_SIMD static void plane_affine(const float *x, float *y, int64_t n, float scale, float offset) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) y[i] = x[i] * scale + offset;
}

/* *s += sum dy, *sx += sum dy * (x - mean) over one plane. */
FAST_SIMD static void plane_grad_sums(const float *x, const float *dy, int64_t n, float mean, double *s, double *sx) {
    float a = 0.0f, b = 0.0f;
#pragma omp simd reduction(+ : a, b)
    for (int64_t i = 0; i < n; i++) {
        a += dy[i];
        b += dy[i] * (x[i] - mean);
    }
    *s += a;
    *sx += b;
}

/* dx += A dy + B x + D over one plane (dx = ... when assign). */
FAST_SIMD static void plane_grad_apply(const float *x, const float *dy, float *dx, int64_t n, float A, float B, float D,
                                       int assign) {
    if (assign) {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) dx[i] = A * dy[i] + B * x[i] + D;
        return;
    }
#pragma omp simd
    for (int64_t i = 0; i < n; i++) dx[i] += A * dy[i] + B * x[i] + D;
}

FAST_SIMD static void relu_range(const float *x, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

/* Both loads unconditional so the select vectorizes. */
FAST_SIMD static void relu_grad_range(const float *x, const float *dy, float *dx, int64_t n, int assign) {
    if (assign) {
        for (int64_t i = 0; i < n; i++) {
            const float g = dy[i];
            dx[i] = x[i] > 0.0f ? g : 0.0f;
        }
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        const float g = dy[i];
        dx[i] += x[i] > 0.0f ? g : 0.0f;
    }
}

cf_status cf_fast_batchnorm_forward(fast_ctx *ctx, const cf_op_args *a) {
    const cf_batchnorm_params *p = &a->params.bn;
    const cf_tensor *xt = a->in[0];           /* (N, C, H, W) */
    const cf_tensor *gamma = a->w[0];         /* (C) or NULL */
    const cf_tensor *beta = a->w[1];          /* (C) or NULL */
    cf_tensor *rmean = a->state[0];           /* (C) */
    cf_tensor *rvar = a->state[1];            /* (C) */
    cf_tensor *save_mean = a->state[2];       /* (C), training only */
    cf_tensor *save_invstd = a->state[3];     /* (C), training only */
    const int64_t N = xt->shape[0], C = xt->shape[1], HW = xt->shape[2] * xt->shape[3];
    const int64_t M = N * HW;
    const float *x = FDATA(xt);
    float *y = FDATA(a->out);

#pragma omp parallel for num_threads(ctx->threads) schedule(static)
    for (int64_t c = 0; c < C; c++) {
        double mean, invstd;
        if (p->training) {
            const float shift = x[c * HW];
            double s = 0.0, ss = 0.0;
            for (int64_t n = 0; n < N; n++) plane_stats(x + (n * C + c) * HW, HW, shift, &s, &ss);
            const double dm = s / (double)M;
            double var = ss / (double)M - dm * dm;
            if (var < 0.0) var = 0.0;
            mean = (double)shift + dm;
            invstd = 1.0 / sqrt(var + p->eps);
            FV(save_mean, c) = (float)mean;
            FV(save_invstd, c) = (float)invstd;
            const double m = p->momentum;
            FV(rmean, c) = (float)((1.0 - m) * FV(rmean, c) + m * mean);
            FV(rvar, c) = (float)((1.0 - m) * FV(rvar, c) + m * var * (double)M / (double)(M - 1));
        } else {
            mean = FV(rmean, c);
            invstd = 1.0 / sqrt((double)FV(rvar, c) + p->eps);
        }
        const double g = gamma ? FV(gamma, c) : 1.0, b = beta ? FV(beta, c) : 0.0;
        const float scale = (float)(g * invstd), offset = (float)(b - mean * g * invstd);
        for (int64_t n = 0; n < N; n++) plane_affine(x + (n * C + c) * HW, y + (n * C + c) * HW, HW, scale, offset);
    }
    return CF_OK;
}

/* With xhat = (x - mean) * invstd over the M values of a channel, as ref_norm.c:
 *   dx = gamma * invstd / M * (M dy - sum dy - xhat * sum dy xhat)
 * written as dx += A dy + B x + D with per-channel A, B, D. */
cf_status cf_fast_batchnorm_backward(fast_ctx *ctx, const cf_op_args *a) {
    const cf_tensor *xt = a->in[0];             /* (N, C, H, W) */
    const cf_tensor *gamma = a->w[0];           /* (C) or NULL */
    const cf_tensor *save_mean = a->state[2];   /* (C) */
    const cf_tensor *save_invstd = a->state[3]; /* (C) */
    cf_tensor *dxt = a->din[0], *dgamma = a->dw[0], *dbeta = a->dw[1];
    const int64_t N = xt->shape[0], C = xt->shape[1], HW = xt->shape[2] * xt->shape[3];
    const double M = (double)(N * HW);
    const float *x = FDATA(xt), *dy = FDATA(a->dout);
    float *dx = dxt ? FDATA(dxt) : NULL;

#pragma omp parallel for num_threads(ctx->threads) schedule(static)
    for (int64_t c = 0; c < C; c++) {
        const float mean = FV(save_mean, c);
        const double invstd = FV(save_invstd, c);
        double sdy = 0.0, sdyx = 0.0; /* sum dy, sum dy * (x - mean) */
        for (int64_t n = 0; n < N; n++)
            plane_grad_sums(x + (n * C + c) * HW, dy + (n * C + c) * HW, HW, mean, &sdy, &sdyx);
        const double sdy_xhat = sdyx * invstd;
        if (dbeta) FV(dbeta, c) += (float)sdy;
        if (dgamma) FV(dgamma, c) += (float)sdy_xhat;
        if (!dx) continue;
        const double g = gamma ? FV(gamma, c) : 1.0;
        const double scale = g * invstd / M;
        const float A = (float)(g * invstd);
        const float B = (float)(-scale * sdy_xhat * invstd);
        const float D = (float)(-scale * sdy + scale * sdy_xhat * invstd * (double)mean);
        for (int64_t n = 0; n < N; n++) {
            const int64_t o = (n * C + c) * HW;
            plane_grad_apply(x + o, dy + o, dx + o, HW, A, B, D, a->din_assign[0]);
        }
    }
    return CF_OK;
}

cf_status cf_fast_relu_forward(fast_ctx *ctx, const cf_op_args *a) {
    const float *x = FDATA(a->in[0]);
    float *y = FDATA(a->out);
    const int64_t n = cf_tensor_numel(a->in[0]);
#pragma omp parallel num_threads(ctx->threads)
    {
        int64_t lo, hi;
        fast_share(n, omp_get_thread_num(), omp_get_num_threads(), &lo, &hi);
        relu_range(x + lo, y + lo, hi - lo);
    }
    return CF_OK;
}

/* The gradient at 0 is 0, as in the reference and PyTorch. */
cf_status cf_fast_relu_backward(fast_ctx *ctx, const cf_op_args *a) {
    if (!a->din[0]) return CF_OK;
    const float *x = FDATA(a->in[0]), *dy = FDATA(a->dout);
    float *dx = FDATA(a->din[0]);
    const int64_t n = cf_tensor_numel(a->in[0]);
#pragma omp parallel num_threads(ctx->threads)
    {
        int64_t lo, hi;
        fast_share(n, omp_get_thread_num(), omp_get_num_threads(), &lo, &hi);
        relu_grad_range(x + lo, dy + lo, dx + lo, hi - lo, a->din_assign[0]);
    }
    return CF_OK;
}
