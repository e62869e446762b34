/* ref_linear.c - reference fully connected layer: y = x W^T + b, with x
 * (N, C, H, W) read as (N, C*H*W) in row-major (c, h, w) order, as a flatten
 * before nn.Linear does in PyTorch. */
#include "ref.h"

/* Offset of feature k of row n of a (N, C, H, W) tensor read as (N, C*H*W). */
static int64_t feature(const cf_tensor *t, int64_t n, int64_t k) {
    const int64_t H = t->shape[2], W = t->shape[3];
    return AT(t, n, k / (H * W), (k / W) % H, k % W);
}

cf_status cf_ref_linear_forward(const cf_op_args *a) {
    const cf_tensor *x = a->in[0]; /* (N, IN) */
    const cf_tensor *w = a->w[0];  /* (OUT, IN) */
    const cf_tensor *b = a->w[1];  /* (OUT) or NULL */
    cf_tensor *y = a->out;         /* (N, OUT) */
    const int64_t N = x->shape[0], IN = w->shape[1], OUT = w->shape[0];
    for (int64_t n = 0; n < N; n++)
        for (int64_t o = 0; o < OUT; o++) {
            double acc = b ? ref_get(b, VEC(b, o)) : 0.0;
            for (int64_t k = 0; k < IN; k++) acc += ref_get(x, feature(x, n, k)) * ref_get(w, AT(w, o, k, 0, 0));
            ref_set(y, AT(y, n, o, 0, 0), acc);
        }
    return CF_OK;
}

/* dx[n, k] += sum_o dy[n, o] w[o, k];  dw[o, k] += sum_n dy[n, o] x[n, k];  db[o] += sum_n dy[n, o] */
cf_status cf_ref_linear_backward(const cf_op_args *a) {
    const cf_tensor *x = a->in[0];
    const cf_tensor *w = a->w[0];
    const cf_tensor *dy = a->dout; /* (N, OUT) */
    cf_tensor *dx = a->din[0], *dw = a->dw[0], *db = a->dw[1];
    const int64_t N = x->shape[0], IN = w->shape[1], OUT = w->shape[0];
    if (dx)
        for (int64_t n = 0; n < N; n++)
            for (int64_t k = 0; k < IN; k++) {
                double acc = 0.0;
                for (int64_t o = 0; o < OUT; o++) acc += ref_get(dy, AT(dy, n, o, 0, 0)) * ref_get(w, AT(w, o, k, 0, 0));
                ref_add(dx, feature(dx, n, k), acc);
            }
    if (dw)
        for (int64_t o = 0; o < OUT; o++)
            for (int64_t k = 0; k < IN; k++) {
                double acc = 0.0;
                for (int64_t n = 0; n < N; n++) acc += ref_get(dy, AT(dy, n, o, 0, 0)) * ref_get(x, feature(x, n, k));
                ref_add(dw, AT(dw, o, k, 0, 0), acc);
            }
    if (db)
        for (int64_t o = 0; o < OUT; o++) {
            double acc = 0.0;
            for (int64_t n = 0; n < N; n++) acc += ref_get(dy, AT(dy, n, o, 0, 0));
            ref_add(db, VEC(db, o), acc);
        }
    return CF_OK;
}
