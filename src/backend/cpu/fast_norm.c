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
 * With params.bn.relu (batch norm then ReLU as one op) the normalizing loop
 * clamps at 0 as it writes, and backward reads the ReLU mask from the output
 * (out > 0, which is bn(x) > 0) inside its two loops: dy * mask is the value
 * a ReLU layer would have stored as the batch norm's output gradient, so the
 * sums and dx are those of the two-layer backward, without the extra tensor
 * or the extra pass over it.
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

/* y = max(0, x * scale + offset) over one plane: the same value, then ReLU's select. */
FAST_SIMD static void plane_affine_relu(const float *x, float *y, int64_t n, float scale, float offset) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) {
        const float v = x[i] * scale + offset;
        y[i] = v > 0.0f ? v : 0.0f;
    }
}

/* The gradient a ReLU layer would pass back from output y: g where y > 0,
 * else 0 (also at 0, as ReLU's backward). Callers load both unconditionally,
 * so the select vectorizes. */
static inline float relu_mask(float y, float g) { return y > 0.0f ? g : 0.0f; }

/* *s += sum g, *sx += sum g * (x - mean) over one plane; g is dy, or with a
 * ReLU output y (not NULL) relu_mask(y, dy). */
FAST_SIMD static void plane_grad_sums(const float *x, const float *y, const float *dy, int64_t n, float mean,
                                      double *s, double *sx) {
    float a = 0.0f, b = 0.0f;
    if (y) {
#pragma omp simd reduction(+ : a, b)
        for (int64_t i = 0; i < n; i++) {
            const float g = relu_mask(y[i], dy[i]);
            a += g;
            b += g * (x[i] - mean);
        }
    } else {
#pragma omp simd reduction(+ : a, b)
        for (int64_t i = 0; i < n; i++) {
            a += dy[i];
            b += dy[i] * (x[i] - mean);
        }
    }
    *s += a;
    *sx += b;
}

/* dx += A g + B x + D over one plane (dx = ... when assign), g as in plane_grad_sums. */
FAST_SIMD static void plane_grad_apply(const float *x, const float *y, const float *dy, float *dx, int64_t n, float A,
                                       float B, float D, int assign) {
    if (y && assign) {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) dx[i] = A * relu_mask(y[i], dy[i]) + B * x[i] + D;
    } else if (y) {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) dx[i] += A * relu_mask(y[i], dy[i]) + B * x[i] + D;
    } else if (assign) {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) dx[i] = A * dy[i] + B * x[i] + D;
    } else {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) dx[i] += A * dy[i] + B * x[i] + D;
    }
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

/* A channel's planes lie C * H * W floats apart, each too short (H * W) for
 * the hardware prefetcher to get going before it ends: the loops below fetch
 * the next plane's lines while they work on one. */
static void prefetch_plane(const float *p, int64_t n, int write) {
    for (int64_t i = 0; i < n; i += FAST_ALIGN_FLOATS) {
        if (write) __builtin_prefetch(p + i, 1, 3);
        else __builtin_prefetch(p + i, 0, 3);
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
            for (int64_t n = 0; n < N; n++) {
                if (n + 1 < N) prefetch_plane(x + ((n + 1) * C + c) * HW, HW, 0);
                plane_stats(x + (n * C + c) * HW, HW, shift, &s, &ss);
            }
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
        for (int64_t n = 0; n < N; n++) {
            const int64_t o = (n * C + c) * HW;
            if (n + 1 < N) prefetch_plane(y + o + C * HW, HW, 1);
            if (p->relu) plane_affine_relu(x + o, y + o, HW, scale, offset);
            else plane_affine(x + o, y + o, HW, scale, offset);
        }
    }
    return CF_OK;
}

/* With xhat = (x - mean) * invstd over the M values of a channel, as ref_norm.c:
 *   dx = gamma * invstd / M * (M dy - sum dy - xhat * sum dy xhat)
 * written as dx += A dy + B x + D with per-channel A, B, D; with relu, dy
 * is masked by (out > 0) where it is read. */
cf_status cf_fast_batchnorm_backward(fast_ctx *ctx, const cf_op_args *a) {
    const cf_tensor *xt = a->in[0];             /* (N, C, H, W) */
    const cf_tensor *gamma = a->w[0];           /* (C) or NULL */
    const cf_tensor *save_mean = a->state[2];   /* (C) */
    const cf_tensor *save_invstd = a->state[3]; /* (C) */
    cf_tensor *dxt = a->din[0], *dgamma = a->dw[0], *dbeta = a->dw[1];
    const int64_t N = xt->shape[0], C = xt->shape[1], HW = xt->shape[2] * xt->shape[3];
    const double M = (double)(N * HW);
    const float *x = FDATA(xt), *dy = FDATA(a->dout);
    const float *y = a->params.bn.relu ? FDATA(a->out) : NULL; /* the ReLU mask, or none */
    float *dx = dxt ? FDATA(dxt) : NULL;

#pragma omp parallel for num_threads(ctx->threads) schedule(static)
    for (int64_t c = 0; c < C; c++) {
        const float mean = FV(save_mean, c);
        const double invstd = FV(save_invstd, c);
        double sdy = 0.0, sdyx = 0.0; /* sum dy, sum dy * (x - mean) */
        for (int64_t n = 0; n < N; n++) {
            if (n + 1 < N) {
                prefetch_plane(x + ((n + 1) * C + c) * HW, HW, 0);
                prefetch_plane(dy + ((n + 1) * C + c) * HW, HW, 0);
            }
            plane_grad_sums(x + (n * C + c) * HW, y ? y + (n * C + c) * HW : NULL, dy + (n * C + c) * HW, HW, mean,
                            &sdy, &sdyx);
        }
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
            if (n + 1 < N) prefetch_plane(dx + o + C * HW, HW, 1);
            plane_grad_apply(x + o, y ? y + o : NULL, dy + o, dx + o, HW, A, B, D, a->din_assign[0]);
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
