/* test_grad.c - the reference ops themselves: every backward of the shared op
 * table (op_cases.c) against central finite differences in double precision
 * (the cases small enough for them), the f32 path against the f64 path on
 * every case through the op harness (output, state and gradients, added and
 * assigned), a second backward that doubles the gradients, batch norm + ReLU
 * equal bit for bit to batch norm then ReLU, dropout's drop rate, and a mix
 * with a NULL input computed by hand.
 *
 *   ./test_grad            run every case
 *   ./test_grad -v         also print each case's f32 against f64 errors
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cellforge/backend.h"
#include "cellforge/rng.h"
#include "check.h"
#include "op_harness.h"

/* f32 storage must give the f64 result up to float rounding: the reference
 * accumulates in double either way, so 1e-5 normalized is generous. */
static oh_bound f32_bound(const oh_case *c, const char *what) {
    (void)c, (void)what;
    return (oh_bound){1e-5, "the reference accumulates in double in either dtype: one f32 rounding"};
}

/* Backward adds: f64 doubling is exact but for the order of the adds. */
#define TOL_TWICE 1e-12

/* Batch norm + ReLU is batch norm then ReLU bit for bit: output, running
 * statistics, and every gradient of the two-layer backward. */
static cf_status bn_relu_exact_run(oh_side *f, oh_side *u, cf_op_args *relu, const oh_case *c, const oh_data *d) {
    CF_TRY(oh_side_load(f, c, d));
    CF_TRY(oh_side_load(u, c, d));
    for (int k = 0; k < CF_OP_MAX_WEIGHTS; k++)
        if (f->a.dw[k]) {
            CF_TRY(cf_backend_zero(f->be, f->dw[k].data, cf_tensor_bytes(&f->dw[k]), 1));
            CF_TRY(cf_backend_zero(u->be, u->dw[k].data, cf_tensor_bytes(&u->dw[k]), 1));
        }
    CF_TRY(cf_backend_zero(f->be, f->din[0].data, cf_tensor_bytes(&f->din[0]), 1));
    CF_TRY(cf_backend_zero(u->be, u->din[0].data, cf_tensor_bytes(&u->din[0]), 1));
    CF_TRY(cf_op_forward(f->be, &f->a));
    CF_TRY(cf_op_backward(f->be, &f->a));
    CF_TRY(cf_op_forward(u->be, &u->a));
    CF_TRY(cf_op_forward(u->be, relu));
    CF_TRY(cf_op_backward(u->be, relu));
    return cf_op_backward(u->be, &u->a);
}

static void check_bn_relu_exact(const oh_case *c, cf_dtype dtype) {
    oh_side f, u;
    oh_data d;
    cf_tensor y, dbn;
    oh_data_make(&d, c);
    CHECK_OK(oh_side_setup(&f, c, cf_backend_cpu_ref(), dtype));
    CHECK_OK(oh_side_setup(&u, c, cf_backend_cpu_ref(), dtype)); /* the same values */
    CHECK_OK(oh_side_tensor(&u, &y, dtype, u.out.shape));
    CHECK_OK(oh_side_tensor(&u, &dbn, dtype, u.out.shape));
    u.a.params.bn.relu = 0;
    u.a.dout = &dbn;
    cf_op_args relu = {.kind = CF_OP_RELU, .n_inputs = 1, .in = {&u.out}, .out = &y, .dout = &u.dout, .din = {&dbn}};
    CHECK_OK(bn_relu_exact_run(&f, &u, &relu, c, &d));
    const char *dt = cf_dtype_name(dtype);
    CHECK(memcmp(f.out.data, y.data, cf_tensor_bytes(&y)) == 0, "%s %s: output is not batchnorm then relu", c->name, dt);
    CHECK(memcmp(f.din[0].data, u.din[0].data, cf_tensor_bytes(&y)) == 0, "%s %s: input gradient differs", c->name, dt);
    for (int k = 0; k < CF_OP_MAX_STATE; k++)
        CHECK(memcmp(f.state[k].data, u.state[k].data, cf_tensor_bytes(&f.state[k])) == 0, "%s %s: statistic %d differs",
              c->name, dt, k);
    for (int k = 0; k < CF_OP_MAX_WEIGHTS; k++)
        if (f.a.w[k])
            CHECK(memcmp(f.dw[k].data, u.dw[k].data, cf_tensor_bytes(&f.dw[k])) == 0, "%s %s: weight %d gradient differs",
                  c->name, dt, k);
    /* the same in inference mode, forward only */
    f.a.params.bn.training = u.a.params.bn.training = 0;
    CHECK_OK(cf_op_forward(cf_backend_cpu_ref(), &f.a));
    CHECK_OK(cf_op_forward(cf_backend_cpu_ref(), &u.a));
    CHECK_OK(cf_op_forward(cf_backend_cpu_ref(), &relu));
    CHECK(memcmp(f.out.data, y.data, cf_tensor_bytes(&y)) == 0, "%s %s: inference output is not batchnorm then relu",
          c->name, dt);
    /* backward reads the forward output: without it the call is refused */
    f.a.params.bn.training = 1;
    f.a.out = NULL;
    CHECK_FAILS(cf_op_backward(cf_backend_cpu_ref(), &f.a), CF_ERR_INVALID_ARG, "batchnorm+relu", "forward output");
    oh_side_free(&f);
    oh_side_free(&u);
    oh_data_free(&d);
}

/* Dropout: the same (seed, stream, offset) gives the same mask, the drop rate is p. */
static void check_dropout_statistics(void) {
    enum { N = 4 * 8 * 16 * 16 };
    static double x[N], y[N];
    cf_tensor tx, ty;
    for (int i = 0; i < N; i++) x[i] = 1.0;
    CHECK_OK(cf_tensor_init(&tx, CF_DTYPE_F64, 4, 8, 16, 16, x));
    CHECK_OK(cf_tensor_init(&ty, CF_DTYPE_F64, 4, 8, 16, 16, y));
    cf_op_args a = {.kind = CF_OP_DROPOUT, .n_inputs = 1, .in = {&tx}, .out = &ty};
    a.params.dropout = (cf_dropout_params){.p = 0.25, .seed = 3, .stream = 9, .offset = 0};
    CHECK_OK(cf_op_forward(cf_backend_cpu_ref(), &a));
    int64_t dropped = 0;
    for (int i = 0; i < N; i++) {
        if (y[i] == 0.0) dropped++;
        else CHECK(fabs(y[i] - 1.0 / 0.75) < 1e-12, "dropout: kept value %g, expected 1/(1-p)", y[i]);
    }
    const double rate = (double)dropped / (double)N;
    /* n = 8192, sd of the rate = sqrt(p(1-p)/n) = 0.0048: 5 sd is 0.024 */
    CHECK(fabs(rate - 0.25) < 0.024, "dropout: drop rate %.4f, expected 0.25", rate);
}

/* A mix by hand in f64, input 1 NULL (a branch not computed): the output is
 * the coefficient-weighted sum of inputs 0 and 2 added in that order, bit for
 * bit; backward gives din = coef * dy to the present inputs, nothing to the
 * NULL one's buffer (zeros where it is assigned), and adds sum(x * dy) to
 * the present inputs' coefficients only. */
static void check_mix_by_hand(void) {
    enum { N = 2 * 3 * 4 * 5 };
    static double x0[N], x2[N], y[N], dy[N], dx0[N], dx1[N], dx2[N];
    double coef[3] = {0.75, -3.0, -1.25}, dcoef[3] = {1.0, 2.0, 3.0};
    cf_rng r = cf_rng_make(11, cf_rng_stream(0, CF_RNG_PURPOSE_TEST));
    for (int i = 0; i < N; i++) {
        x0[i] = cf_rng_normal(&r);
        x2[i] = cf_rng_normal(&r);
        dy[i] = cf_rng_normal(&r);
        dx0[i] = dx2[i] = 0.0;
        dx1[i] = 7.0;
    }
    cf_tensor t0, t2, ty, tdy, td0, td1, td2, tc, tdc;
    CHECK_OK(cf_tensor_init(&t0, CF_DTYPE_F64, 2, 3, 4, 5, x0));
    CHECK_OK(cf_tensor_init(&t2, CF_DTYPE_F64, 2, 3, 4, 5, x2));
    CHECK_OK(cf_tensor_init(&ty, CF_DTYPE_F64, 2, 3, 4, 5, y));
    CHECK_OK(cf_tensor_init(&tdy, CF_DTYPE_F64, 2, 3, 4, 5, dy));
    CHECK_OK(cf_tensor_init(&td0, CF_DTYPE_F64, 2, 3, 4, 5, dx0));
    CHECK_OK(cf_tensor_init(&td1, CF_DTYPE_F64, 2, 3, 4, 5, dx1));
    CHECK_OK(cf_tensor_init(&td2, CF_DTYPE_F64, 2, 3, 4, 5, dx2));
    CHECK_OK(cf_tensor_init(&tc, CF_DTYPE_F64, 3, 1, 1, 1, coef));
    CHECK_OK(cf_tensor_init(&tdc, CF_DTYPE_F64, 3, 1, 1, 1, dcoef));
    cf_op_args a = {.kind = CF_OP_MIX, .n_inputs = 3, .in = {&t0, NULL, &t2}, .w = {&tc}, .out = &ty, .dout = &tdy,
                    .din = {&td0, &td1, &td2}, .dw = {&tdc}};
    CHECK_OK(cf_op_forward(cf_backend_cpu_ref(), &a));
    int bad = 0;
    double dot0 = 0.0, dot2 = 0.0;
    for (int i = 0; i < N; i++) {
        double want = 0.0;
        want += coef[0] * x0[i];
        want += coef[2] * x2[i];
        bad += y[i] != want;
        dot0 += x0[i] * dy[i];
        dot2 += x2[i] * dy[i];
    }
    CHECK(bad == 0, "mix: %d of %d outputs are not coef[0] x0 + coef[2] x2", bad, N);
    CHECK_OK(cf_op_backward(cf_backend_cpu_ref(), &a));
    bad = 0;
    for (int i = 0; i < N; i++) bad += dx0[i] != coef[0] * dy[i] || dx1[i] != 7.0 || dx2[i] != coef[2] * dy[i];
    CHECK(bad == 0, "mix: %d of %d input gradients are not coef * dy (or untouched for the NULL input)", bad, N);
    CHECK(dcoef[0] == 1.0 + dot0 && dcoef[1] == 2.0 && dcoef[2] == 3.0 + dot2,
          "mix: coefficient gradients %g %g %g, expected %g 2 %g", dcoef[0], dcoef[1], dcoef[2], 1.0 + dot0, 3.0 + dot2);
    a.din_assign[1] = 1; /* the NULL input's gradient holds garbage: it is zeroed, nothing flows into it */
    a.dw[0] = NULL;
    CHECK_OK(cf_op_backward(cf_backend_cpu_ref(), &a));
    bad = 0;
    for (int i = 0; i < N; i++) bad += dx1[i] != 0.0;
    CHECK(bad == 0, "mix: %d of %d elements of the NULL input's assigned gradient are not 0", bad, N);
}

int main(int argc, char **argv) {
    const int verbose = argc > 1 && strcmp(argv[1], "-v") == 0;
    const oh_target f32 = {"f32", cf_backend_cpu_ref(), CF_DTYPE_F32, CF_DTYPE_F64, f32_bound};
    int n_fd = 0, n_bn_relu = 0;
    oh_check_table();
    for (size_t i = 0; i < oh_n_cases; i++) {
        const oh_case *c = &oh_cases[i];
        oh_data d;
        oh_data_make(&d, c);
        oh_check_case(c, &d, &f32, 1, NULL, verbose);
        oh_data_free(&d);
        oh_check_accumulates(c, cf_backend_cpu_ref(), CF_DTYPE_F64, TOL_TWICE);
        if (!c->fd) continue;
        oh_check_fd(c);
        n_fd++;
        if (c->kind == CF_OP_BATCHNORM && c->params.bn.relu) {
            check_bn_relu_exact(c, CF_DTYPE_F32);
            check_bn_relu_exact(c, CF_DTYPE_F64);
            n_bn_relu++;
        }
    }
    check_dropout_statistics();
    check_mix_by_hand();
    printf("%zu table cases in f32 against f64, %d with finite differences, %d batch norm + relu\n", oh_n_cases, n_fd,
           n_bn_relu);
    return test_finish("test_grad");
}
