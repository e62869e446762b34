/* ref_loss.c - reference softmax cross-entropy with label smoothing, mean
 * over the batch. With K classes and smoothing e the target of row n is
 *   t_k = (1 - e) [k == label_n] + e / K
 * and loss = mean_n ( -sum_k t_k log softmax(z_n)_k ), PyTorch's definition. */
#include <math.h>

#include "ref.h"

static double row_logsumexp(const cf_tensor *z, int64_t n, int64_t K) {
    double m = -INFINITY;
    for (int64_t k = 0; k < K; k++) {
        double v = ref_get(z, AT(z, n, k, 0, 0));
        if (v > m) m = v;
    }
    double s = 0.0;
    for (int64_t k = 0; k < K; k++) s += exp(ref_get(z, AT(z, n, k, 0, 0)) - m);
    return m + log(s);
}

static cf_status check_labels(const cf_tensor *labels, int64_t N, int64_t K) {
    const int32_t *lab = labels->data;
    for (int64_t n = 0; n < N; n++) {
        int32_t l = lab[n * labels->stride[0]];
        if (l < 0 || l >= K)
            CF_FAIL(CF_ERR_INVALID_ARG, "softmax_xent: label %d at row %lld is outside [0, %lld)", (int)l,
                    (long long)n, (long long)K);
    }
    return CF_OK;
}

cf_status cf_ref_softmax_xent_forward(const cf_op_args *a) {
    const cf_tensor *z = a->in[0];      /* (N, K) logits */
    const cf_tensor *labels = a->in[1]; /* (N) i32 */
    cf_tensor *loss = a->out;           /* (1) */
    const int64_t N = z->shape[0], K = z->shape[1];
    const double e = a->params.xent.label_smoothing;
    CF_TRY(check_labels(labels, N, K));
    const int32_t *lab = labels->data;
    double total = 0.0;
    for (int64_t n = 0; n < N; n++) {
        const double lse = row_logsumexp(z, n, K);
        const int32_t l = lab[n * labels->stride[0]];
        double row = 0.0;
        for (int64_t k = 0; k < K; k++) {
            double t = (k == l ? 1.0 - e : 0.0) + e / (double)K;
            row -= t * (ref_get(z, AT(z, n, k, 0, 0)) - lse);
        }
        total += row;
    }
    ref_set(loss, 0, total / (double)N);
    return CF_OK;
}

/* dz[n, k] += dloss * (softmax(z_n)_k - t_k) / N */
cf_status cf_ref_softmax_xent_backward(const cf_op_args *a) {
    const cf_tensor *z = a->in[0];
    const cf_tensor *labels = a->in[1];
    cf_tensor *dz = a->din[0];
    if (!dz) return CF_OK;
    const int64_t N = z->shape[0], K = z->shape[1];
    const double e = a->params.xent.label_smoothing;
    const double dloss = ref_get(a->dout, 0);
    CF_TRY(check_labels(labels, N, K));
    const int32_t *lab = labels->data;
    for (int64_t n = 0; n < N; n++) {
        const double lse = row_logsumexp(z, n, K);
        const int32_t l = lab[n * labels->stride[0]];
        for (int64_t k = 0; k < K; k++) {
            double prob = exp(ref_get(z, AT(z, n, k, 0, 0)) - lse);
            double t = (k == l ? 1.0 - e : 0.0) + e / (double)K;
            ref_add(dz, AT(dz, n, k, 0, 0), dloss * (prob - t) / (double)N);
        }
    }
    return CF_OK;
}
