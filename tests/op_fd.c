/* op_fd.c - the finite-difference gradient check of op_harness.h: the
 * reference backend in f64 against central differences, on the cases of the
 * table that carry a finite-difference note. Covered by test_grad.
 *
 * L = sum(y * r) with r the case's dout; backward with dout = r gives dL/dx;
 * every input and weight element is nudged by +-eps and (L+ - L-) / 2 eps
 * compared with it. Error = max |analytic - numeric| / max |numeric| per tensor.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "op_harness.h"

/* The reference lives in host memory: its f64 tensors are read in place. */
static double *f64(const cf_tensor *t) { return (double *)t->data; }

/* L = sum(y * r) after a forward. */
static double objective(oh_side *s) {
    CF_ASSERT(cf_op_forward(s->be, &s->a) == CF_OK);
    double L = 0.0;
    for (int64_t i = 0; i < cf_tensor_numel(&s->out); i++) L += f64(&s->out)[i] * f64(&s->dout)[i];
    return L;
}

/* max |analytic - numeric| / max |numeric| for x with gradient g. */
static double fd_error(oh_side *s, cf_tensor *x, const cf_tensor *g, double *max_numeric) {
    const double eps = 1e-6;
    double worst = 0.0, scale = 0.0;
    for (int64_t i = 0; i < cf_tensor_numel(x); i++) {
        const double keep = f64(x)[i];
        f64(x)[i] = keep + eps;
        const double lp = objective(s);
        f64(x)[i] = keep - eps;
        const double lm = objective(s);
        f64(x)[i] = keep;
        const double numeric = (lp - lm) / (2 * eps);
        const double diff = fabs(numeric - f64(g)[i]);
        if (diff > worst) worst = diff;
        if (fabs(numeric) > scale) scale = fabs(numeric);
    }
    *max_numeric = scale;
    return scale > 0 ? worst / scale : worst;
}

/* Smallest |bn(x)| of a batch norm + ReLU case: the kink is at bn(x) = 0,
 * which the inputs cannot be pushed from directly (it moves with the batch
 * statistics), so the cases are chosen where it is far, and this says so. */
static double bn_relu_gap(oh_side *s) {
    s->a.params.bn.relu = 0;
    CF_ASSERT(cf_op_forward(s->be, &s->a) == CF_OK);
    s->a.params.bn.relu = 1;
    double gap = INFINITY;
    for (int64_t i = 0; i < cf_tensor_numel(&s->out); i++) gap = fmin(gap, fabs(f64(&s->out)[i]));
    return gap;
}

/* Forward, then backward into zeroed gradients. */
static cf_status fd_prepare(oh_side *s, const oh_case *c, const oh_data *d) {
    CF_TRY(oh_side_load(s, c, d));
    if (c->kind == CF_OP_BATCHNORM && c->params.bn.relu) {
        const double gap = bn_relu_gap(s);
        CHECK(gap > 1e-3, "%s: bn(x) comes within %.3g of the ReLU kink; finite differences would cross it", c->name,
              gap);
    }
    CF_TRY(cf_op_forward(s->be, &s->a));
    for (int i = 0; i < c->n_inputs; i++)
        if (s->a.din[i]) memset(s->a.din[i]->data, 0, cf_tensor_bytes(s->a.din[i]));
    for (int i = 0; i < CF_OP_MAX_WEIGHTS; i++)
        if (s->a.dw[i]) memset(s->dw[i].data, 0, cf_tensor_bytes(&s->dw[i]));
    return cf_op_backward(s->be, &s->a);
}

void oh_check_fd(const oh_case *c) {
    CF_ASSERT(c->fd != NULL);
    oh_data d;
    oh_side s;
    oh_data_make(&d, c);
    cf_status st = oh_side_setup(&s, c, cf_backend_cpu_ref(), CF_DTYPE_F64);
    if (st == CF_OK) st = fd_prepare(&s, c, &d);
    CHECK(st == CF_OK, "%s: reference forward and backward: %s", c->name, cf_error_message());
    double scale;
    for (int i = 0; st == CF_OK && i < c->n_inputs; i++) {
        if (!s.a.din[i] || s.a.in[i] != &s.in[i]) continue; /* labels; a repeated input is nudged as input 0 */
        const double err = fd_error(&s, &s.in[i], &s.din[i], &scale);
        CHECK(err <= OH_FD_TOL, "%s: input %d: FD error %.3g > %.1g (%s)", c->name, i, err, OH_FD_TOL, c->fd);
    }
    for (int i = 0; st == CF_OK && i < CF_OP_MAX_WEIGHTS; i++) {
        if (!s.a.w[i]) continue;
        const double err = fd_error(&s, &s.w[i], &s.dw[i], &scale);
        CHECK(err <= OH_FD_TOL, "%s: weight %d: FD error %.3g > %.1g (%s)", c->name, i, err, OH_FD_TOL, c->fd);
        CHECK(scale > 0, "%s: weight %d: gradient is zero everywhere", c->name, i);
    }
    oh_side_free(&s);
    oh_data_free(&d);
}
