/* ref_norm.c - reference batch normalization over (N, H, W) per channel.
 *
 * Training: batch mean and biased variance normalize; the running variance is
 * updated with the unbiased one (M / (M - 1)), as PyTorch does. Inference uses
 * the running statistics. Without affine parameters gamma = 1, beta = 0.
 *
 * With params.bn.relu the op is batch norm then ReLU in one: the output is
 * max(0, bn(x)), and backward takes dy * (out > 0) as the gradient of bn(x).
 * out > 0 exactly where bn(x) > 0, so this is the two-layer computation bit
 * for bit, in f32 and f64 alike. */
#include <math.h>

#include "ref.h"

cf_status cf_ref_batchnorm_forward(const cf_op_args *a) {
    const cf_batchnorm_params *p = &a->params.bn;
    const cf_tensor *x = a->in[0];        /* (N, C, H, W) */
    const cf_tensor *gamma = a->w[0];     /* (C) or NULL */
    const cf_tensor *beta = a->w[1];      /* (C) or NULL */
    cf_tensor *rmean = a->state[0];       /* (C) */
    cf_tensor *rvar = a->state[1];        /* (C) */
    cf_tensor *save_mean = a->state[2];   /* (C), training only */
    cf_tensor *save_invstd = a->state[3]; /* (C), training only */
    cf_tensor *y = a->out;                /* (N, C, H, W) */
    const int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
    const int64_t M = N * H * W;

    for (int64_t c = 0; c < C; c++) {
        double mean, invstd;
        if (p->training) {
            double sum = 0.0;
            for (int64_t n = 0; n < N; n++)
                for (int64_t h = 0; h < H; h++)
                    for (int64_t w = 0; w < W; w++) sum += ref_get(x, AT(x, n, c, h, w));
            mean = sum / (double)M;
            double sq = 0.0;
            for (int64_t n = 0; n < N; n++)
                for (int64_t h = 0; h < H; h++)
                    for (int64_t w = 0; w < W; w++) {
                        double d = ref_get(x, AT(x, n, c, h, w)) - mean;
                        sq += d * d;
                    }
            double var = sq / (double)M;
            invstd = 1.0 / sqrt(var + p->eps);
            ref_set(save_mean, VEC(save_mean, c), mean);
            ref_set(save_invstd, VEC(save_invstd, c), invstd);
            double m = p->momentum;
            ref_set(rmean, VEC(rmean, c), (1.0 - m) * ref_get(rmean, VEC(rmean, c)) + m * mean);
            ref_set(rvar, VEC(rvar, c),
                    (1.0 - m) * ref_get(rvar, VEC(rvar, c)) + m * var * (double)M / (double)(M - 1));
        } else {
            mean = ref_get(rmean, VEC(rmean, c));
            invstd = 1.0 / sqrt(ref_get(rvar, VEC(rvar, c)) + p->eps);
        }
        const double g = gamma ? ref_get(gamma, VEC(gamma, c)) : 1.0;
        const double b = beta ? ref_get(beta, VEC(beta, c)) : 0.0;
        for (int64_t n = 0; n < N; n++)
            for (int64_t h = 0; h < H; h++)
                for (int64_t w = 0; w < W; w++) {
                    double xhat = (ref_get(x, AT(x, n, c, h, w)) - mean) * invstd;
                    ref_set(y, AT(y, n, c, h, w), g * xhat + b);
                    /* on the stored value, as a ReLU layer reading it would */
                    if (p->relu && !(ref_get(y, AT(y, n, c, h, w)) > 0.0)) ref_set(y, AT(y, n, c, h, w), 0.0);
                }
    }
    return CF_OK;
}

/* With xhat = (x - mean) * invstd over the M = N*H*W values of a channel:
 *   dbeta  = sum dy
 *   dgamma = sum dy * xhat
 *   dx     = gamma * invstd / M * (M * dy - sum dy - xhat * sum dy * xhat)
 * where dy is the output gradient, masked by (out > 0) first with relu. */
static double grad_at(const cf_op_args *a, int64_t n, int64_t c, int64_t h, int64_t w) {
    const cf_tensor *dy = a->dout, *y = a->out;
    if (a->params.bn.relu && !(ref_get(y, AT(y, n, c, h, w)) > 0.0)) return 0.0;
    return ref_get(dy, AT(dy, n, c, h, w));
}

cf_status cf_ref_batchnorm_backward(const cf_op_args *a) {
    const cf_tensor *x = a->in[0];            /* (N, C, H, W) */
    const cf_tensor *gamma = a->w[0];         /* (C) or NULL */
    const cf_tensor *save_mean = a->state[2]; /* (C) */
    const cf_tensor *save_invstd = a->state[3];
    cf_tensor *dx = a->din[0];
    cf_tensor *dgamma = a->dw[0];
    cf_tensor *dbeta = a->dw[1];
    const int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
    const double M = (double)(N * H * W);

    for (int64_t c = 0; c < C; c++) {
        const double mean = ref_get(save_mean, VEC(save_mean, c));
        const double invstd = ref_get(save_invstd, VEC(save_invstd, c));
        double sum_dy = 0.0, sum_dy_xhat = 0.0;
        for (int64_t n = 0; n < N; n++)
            for (int64_t h = 0; h < H; h++)
                for (int64_t w = 0; w < W; w++) {
                    double g_out = grad_at(a, n, c, h, w);
                    sum_dy += g_out;
                    sum_dy_xhat += g_out * (ref_get(x, AT(x, n, c, h, w)) - mean) * invstd;
                }
        if (dbeta) ref_add(dbeta, VEC(dbeta, c), sum_dy);
        if (dgamma) ref_add(dgamma, VEC(dgamma, c), sum_dy_xhat);
        if (!dx) continue;
        const double g = gamma ? ref_get(gamma, VEC(gamma, c)) : 1.0;
        const double scale = g * invstd / M;
        for (int64_t n = 0; n < N; n++)
            for (int64_t h = 0; h < H; h++)
                for (int64_t w = 0; w < W; w++) {
                    double xhat = (ref_get(x, AT(x, n, c, h, w)) - mean) * invstd;
                    double g_out = grad_at(a, n, c, h, w);
                    ref_add(dx, AT(dx, n, c, h, w), scale * (M * g_out - sum_dy - xhat * sum_dy_xhat));
                }
    }
    return CF_OK;
}
