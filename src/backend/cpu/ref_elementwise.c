/* ref_elementwise.c - reference ReLU, sum of several inputs, the weighted sum
 * of a supernet's mix, zero, identity, channel concat, slice and dropout.
 * Tested by tests/test_grad.c (finite differences) and tests/test_golden.c
 * (PyTorch fixtures; mix has none, see there). */
#include "cellforge/rng.h"
#include "ref.h"

/* Visit every (n, c, h, w) of shape s in row-major order; `i` counts visits. */
#define FOR_EACH(s, body)                                                           \
    do {                                                                            \
        int64_t i = 0;                                                              \
        for (int64_t n = 0; n < (s)[0]; n++)                                        \
            for (int64_t c = 0; c < (s)[1]; c++)                                    \
                for (int64_t h = 0; h < (s)[2]; h++)                                \
                    for (int64_t w = 0; w < (s)[3]; w++, i++) { body; }             \
        (void)i;                                                                    \
    } while (0)

cf_status cf_ref_relu_forward(const cf_op_args *a) {
    const cf_tensor *x = a->in[0];
    cf_tensor *y = a->out;
    FOR_EACH(x->shape, {
        double v = ref_get(x, AT(x, n, c, h, w));
        ref_set(y, AT(y, n, c, h, w), v > 0.0 ? v : 0.0);
    });
    return CF_OK;
}

/* The gradient at 0 is taken as 0, as in PyTorch. */
cf_status cf_ref_relu_backward(const cf_op_args *a) {
    const cf_tensor *x = a->in[0], *dy = a->dout;
    cf_tensor *dx = a->din[0];
    if (!dx) return CF_OK;
    FOR_EACH(x->shape, {
        if (ref_get(x, AT(x, n, c, h, w)) > 0.0) ref_add(dx, AT(dx, n, c, h, w), ref_get(dy, AT(dy, n, c, h, w)));
    });
    return CF_OK;
}

cf_status cf_ref_sum_forward(const cf_op_args *a) {
    cf_tensor *y = a->out;
    FOR_EACH(y->shape, {
        double acc = 0.0;
        for (int k = 0; k < a->n_inputs; k++) acc += ref_get(a->in[k], AT(a->in[k], n, c, h, w));
        ref_set(y, AT(y, n, c, h, w), acc);
    });
    return CF_OK;
}

cf_status cf_ref_sum_backward(const cf_op_args *a) {
    const cf_tensor *dy = a->dout;
    for (int k = 0; k < a->n_inputs; k++) {
        cf_tensor *dx = a->din[k];
        if (!dx) continue;
        FOR_EACH(dy->shape, ref_add(dx, AT(dx, n, c, h, w), ref_get(dy, AT(dy, n, c, h, w))));
    }
    return CF_OK;
}

/* y = sum over the present k of coef[k] * x_k, in increasing k: a NULL x_k
 * is a branch not computed this step and adds nothing. */
cf_status cf_ref_mix_forward(const cf_op_args *a) {
    const cf_tensor *coef = a->w[0]; /* (K, 1, 1, 1) */
    cf_tensor *y = a->out;           /* (N, C, H, W), the shape of every present x_k */
    FOR_EACH(y->shape, {
        double acc = 0.0;
        for (int k = 0; k < a->n_inputs; k++)
            if (a->in[k]) acc += ref_get(coef, VEC(coef, k)) * ref_get(a->in[k], AT(a->in[k], n, c, h, w));
        ref_set(y, AT(y, n, c, h, w), acc);
    });
    return CF_OK;
}

/* dx_k += coef[k] * dy and dcoef[k] += sum(x_k * dy) for the present k; a
 * branch not computed gets no gradient and adds none to its coefficient. */
cf_status cf_ref_mix_backward(const cf_op_args *a) {
    const cf_tensor *coef = a->w[0], *dy = a->dout;
    cf_tensor *dcoef = a->dw[0]; /* (K, 1, 1, 1) or NULL */
    for (int k = 0; k < a->n_inputs; k++) {
        const cf_tensor *x = a->in[k];
        cf_tensor *dx = a->din[k];
        if (!x) continue;
        const double ck = ref_get(coef, VEC(coef, k));
        if (dx) FOR_EACH(dy->shape, ref_add(dx, AT(dx, n, c, h, w), ck * ref_get(dy, AT(dy, n, c, h, w))));
        if (!dcoef) continue;
        double dot = 0.0;
        FOR_EACH(dy->shape, dot += ref_get(x, AT(x, n, c, h, w)) * ref_get(dy, AT(dy, n, c, h, w)));
        ref_add(dcoef, VEC(dcoef, k), dot);
    }
    return CF_OK;
}

cf_status cf_ref_zero_forward(const cf_op_args *a) {
    cf_tensor *y = a->out;
    FOR_EACH(y->shape, ref_set(y, AT(y, n, c, h, w), 0.0));
    return CF_OK;
}

/* The output does not depend on the input: nothing flows back. */
cf_status cf_ref_zero_backward(const cf_op_args *a) {
    (void)a;
    return CF_OK;
}

cf_status cf_ref_identity_forward(const cf_op_args *a) {
    const cf_tensor *x = a->in[0];
    cf_tensor *y = a->out;
    FOR_EACH(x->shape, ref_set(y, AT(y, n, c, h, w), ref_get(x, AT(x, n, c, h, w))));
    return CF_OK;
}

cf_status cf_ref_identity_backward(const cf_op_args *a) {
    const cf_tensor *dy = a->dout;
    cf_tensor *dx = a->din[0];
    if (!dx) return CF_OK;
    FOR_EACH(dy->shape, ref_add(dx, AT(dx, n, c, h, w), ref_get(dy, AT(dy, n, c, h, w))));
    return CF_OK;
}

/* y[:, c0 : c0 + C_k] = x_k, inputs in order */
cf_status cf_ref_concat_forward(const cf_op_args *a) {
    cf_tensor *y = a->out;
    int64_t c0 = 0;
    for (int k = 0; k < a->n_inputs; k++) {
        const cf_tensor *x = a->in[k];
        FOR_EACH(x->shape, ref_set(y, AT(y, n, c0 + c, h, w), ref_get(x, AT(x, n, c, h, w))));
        c0 += x->shape[1];
    }
    return CF_OK;
}

cf_status cf_ref_concat_backward(const cf_op_args *a) {
    const cf_tensor *dy = a->dout;
    int64_t c0 = 0;
    for (int k = 0; k < a->n_inputs; k++) {
        cf_tensor *dx = a->din[k];
        if (dx) FOR_EACH(dx->shape, ref_add(dx, AT(dx, n, c, h, w), ref_get(dy, AT(dy, n, c0 + c, h, w))));
        c0 += a->in[k]->shape[1];
    }
    return CF_OK;
}

/* y = x[:, c0 : c0 + c, top : top + h, left : left + w] */
cf_status cf_ref_slice_forward(const cf_op_args *a) {
    const cf_slice_params *p = &a->params.slice;
    const cf_tensor *x = a->in[0];
    cf_tensor *y = a->out;
    FOR_EACH(y->shape, ref_set(y, AT(y, n, c, h, w), ref_get(x, AT(x, n, p->c0 + c, p->top + h, p->left + w))));
    return CF_OK;
}

/* The window of dx receives dy; the rest of dx is untouched. */
cf_status cf_ref_slice_backward(const cf_op_args *a) {
    const cf_slice_params *p = &a->params.slice;
    const cf_tensor *dy = a->dout;
    cf_tensor *dx = a->din[0];
    if (!dx) return CF_OK;
    FOR_EACH(dy->shape, ref_add(dx, AT(dx, n, p->c0 + c, p->top + h, p->left + w), ref_get(dy, AT(dy, n, c, h, w))));
    return CF_OK;
}

/* Element i (row-major over the logical shape) is kept when the 24-bit uniform
 * from RNG word (offset + i) is >= p; kept values are scaled by 1 / (1 - p). */
static int dropout_keep(const cf_dropout_params *p, int64_t i) {
    uint32_t word = cf_rng_word_at(p->seed, p->stream, p->offset + (uint64_t)i);
    return (double)(word >> 8) * 0x1.0p-24 >= p->p;
}

cf_status cf_ref_dropout_forward(const cf_op_args *a) {
    const cf_dropout_params *p = &a->params.dropout;
    const cf_tensor *x = a->in[0];
    cf_tensor *y = a->out;
    const double scale = 1.0 / (1.0 - p->p);
    FOR_EACH(x->shape, {
        double v = dropout_keep(p, i) ? ref_get(x, AT(x, n, c, h, w)) * scale : 0.0;
        ref_set(y, AT(y, n, c, h, w), v);
    });
    return CF_OK;
}

cf_status cf_ref_dropout_backward(const cf_op_args *a) {
    const cf_dropout_params *p = &a->params.dropout;
    const cf_tensor *dy = a->dout;
    cf_tensor *dx = a->din[0];
    if (!dx) return CF_OK;
    const double scale = 1.0 / (1.0 - p->p);
    FOR_EACH(dy->shape, {
        if (dropout_keep(p, i)) ref_add(dx, AT(dx, n, c, h, w), ref_get(dy, AT(dy, n, c, h, w)) * scale);
    });
    return CF_OK;
}
