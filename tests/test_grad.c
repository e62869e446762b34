/* test_grad.c - every reference op's backward against central finite
 * differences in double precision, and its f32 path against its f64 path.
 *
 * For each case: random inputs and weights, a random projection r of the
 * output, L = sum(y * r). Backward with dy = r gives dL/dinput; each input and
 * weight element is then nudged by +-eps and (L+ - L-) / 2 eps compared with
 * it. Error = max |analytic - numeric| / max |numeric| over a tensor.
 *
 *   ./test_grad            run every case
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cellforge/backend.h"
#include "cellforge/rng.h"
#include "check.h"

enum init_kind {
    INIT_NORMAL,  /* standard normal */
    INIT_SPACED,  /* distinct values 0.05 apart (max pool: no near ties for eps to cross) */
    INIT_NONZERO, /* normal, pushed at least 0.05 from 0 (ReLU's kink) */
};

#define MAX_T (CF_OP_MAX_INPUTS + CF_OP_MAX_WEIGHTS)

typedef struct grad_case {
    const char *name;
    cf_op_kind kind;
    cf_op_params params;
    int n_inputs;
    int64_t in[CF_OP_MAX_INPUTS][4];
    int64_t w[CF_OP_MAX_WEIGHTS][4]; /* all zero: absent */
    enum init_kind init;
    double tol;        /* bound on the normalized FD error */
    const char *why;   /* the reason for the bound */
} grad_case;

#define CONV(sh, sw, ph, pw, dh, dw, g) \
    {.conv = {.stride_h = sh, .stride_w = sw, .pad_h = ph, .pad_w = pw, .dil_h = dh, .dil_w = dw, .groups = g}}
#define POOL(kh, kw, sh, sw, ph, pw) \
    {.pool = {.kernel_h = kh, .kernel_w = kw, .stride_h = sh, .stride_w = sw, .pad_h = ph, .pad_w = pw}}
#define BN_TRAIN {.bn = {.eps = 1e-5, .momentum = 0.1, .training = 1}}
#define BN_RELU_TRAIN {.bn = {.eps = 1e-5, .momentum = 0.1, .training = 1, .relu = 1}}

/* With eps = 1e-6 the central difference truncation error is ~1e-12 relative
 * for these smooth (or piecewise-linear away from kinks) functions, and the
 * rounding error ~1e-16 / 1e-6 = 1e-10; 1e-6 leaves room and still catches
 * any wrong index, sign or scale, which show up as errors of order 1. */
#define TOL 1e-6
#define WHY "smooth in double: FD error ~1e-9"

static const grad_case cases[] = {
    {"conv3x3_pad1_bias", CF_OP_CONV2D, CONV(1, 1, 1, 1, 1, 1, 1), 1, {{2, 3, 5, 5}}, {{4, 3, 3, 3}, {4, 1, 1, 1}}, INIT_NORMAL, TOL, WHY},
    {"conv3x3_stride2", CF_OP_CONV2D, CONV(2, 2, 1, 1, 1, 1, 1), 1, {{2, 2, 6, 7}}, {{3, 2, 3, 3}}, INIT_NORMAL, TOL, WHY},
    {"conv1x1", CF_OP_CONV2D, CONV(1, 1, 0, 0, 1, 1, 1), 1, {{2, 4, 3, 3}}, {{5, 4, 1, 1}, {5, 1, 1, 1}}, INIT_NORMAL, TOL, WHY},
    {"conv5x5_pad2", CF_OP_CONV2D, CONV(1, 1, 2, 2, 1, 1, 1), 1, {{1, 2, 6, 6}}, {{2, 2, 5, 5}}, INIT_NORMAL, TOL, WHY},
    {"conv3x3_dil2", CF_OP_CONV2D, CONV(1, 1, 2, 2, 2, 2, 1), 1, {{2, 2, 7, 7}}, {{3, 2, 3, 3}}, INIT_NORMAL, TOL, WHY},
    {"conv5x5_dil2_stride2", CF_OP_CONV2D, CONV(2, 2, 4, 4, 2, 2, 1), 1, {{1, 2, 9, 9}}, {{2, 2, 5, 5}}, INIT_NORMAL, TOL, WHY},
    {"conv_groups2", CF_OP_CONV2D, CONV(1, 1, 1, 1, 1, 1, 2), 1, {{2, 4, 5, 5}}, {{6, 2, 3, 3}, {6, 1, 1, 1}}, INIT_NORMAL, TOL, WHY},
    {"conv_depthwise", CF_OP_CONV2D, CONV(1, 1, 1, 1, 1, 1, 3), 1, {{2, 3, 5, 5}}, {{3, 1, 3, 3}}, INIT_NORMAL, TOL, WHY},
    {"conv_depthwise_stride2_dil2", CF_OP_CONV2D, CONV(2, 2, 2, 2, 2, 2, 4), 1, {{1, 4, 8, 8}}, {{4, 1, 3, 3}}, INIT_NORMAL, TOL, WHY},
    {"conv_rect_asym", CF_OP_CONV2D, CONV(1, 2, 0, 1, 1, 1, 1), 1, {{2, 2, 5, 6}}, {{2, 2, 1, 3}}, INIT_NORMAL, TOL, WHY},
    {"batchnorm_affine", CF_OP_BATCHNORM, BN_TRAIN, 1, {{3, 4, 3, 3}}, {{4, 1, 1, 1}, {4, 1, 1, 1}}, INIT_NORMAL, TOL, WHY},
    {"batchnorm_plain", CF_OP_BATCHNORM, BN_TRAIN, 1, {{4, 3, 2, 2}}, {{0}}, INIT_NORMAL, TOL, WHY},
    {"batchnorm_relu_affine", CF_OP_BATCHNORM, BN_RELU_TRAIN, 1, {{3, 4, 3, 3}}, {{4, 1, 1, 1}, {4, 1, 1, 1}}, INIT_NORMAL, TOL,
     "bn(x) kept 1e-3 from the kink (checked in run_fd)"},
    {"batchnorm_relu_plain", CF_OP_BATCHNORM, BN_RELU_TRAIN, 1, {{4, 3, 2, 2}}, {{0}}, INIT_NORMAL, TOL,
     "bn(x) kept 1e-3 from the kink (checked in run_fd)"},
    {"relu", CF_OP_RELU, {{0}}, 1, {{2, 3, 4, 4}}, {{0}}, INIT_NONZERO, TOL, "inputs kept 0.05 from the kink"},
    {"avgpool3x3_s1_p1", CF_OP_AVGPOOL2D, POOL(3, 3, 1, 1, 1, 1), 1, {{2, 2, 5, 5}}, {{0}}, INIT_NORMAL, TOL, WHY},
    {"avgpool3x3_s2_p1", CF_OP_AVGPOOL2D, POOL(3, 3, 2, 2, 1, 1), 1, {{2, 2, 6, 6}}, {{0}}, INIT_NORMAL, TOL, WHY},
    {"maxpool3x3_s1_p1", CF_OP_MAXPOOL2D, POOL(3, 3, 1, 1, 1, 1), 1, {{2, 2, 5, 5}}, {{0}}, INIT_SPACED, TOL, "spaced inputs: no ties"},
    {"maxpool2x2_s2", CF_OP_MAXPOOL2D, POOL(2, 2, 2, 2, 0, 0), 1, {{2, 3, 6, 6}}, {{0}}, INIT_SPACED, TOL, "spaced inputs: no ties"},
    {"global_avgpool", CF_OP_GLOBAL_AVGPOOL, {{0}}, 1, {{2, 3, 4, 5}}, {{0}}, INIT_NORMAL, TOL, WHY},
    {"linear_bias", CF_OP_LINEAR, {{0}}, 1, {{3, 7, 1, 1}}, {{5, 7, 1, 1}, {5, 1, 1, 1}}, INIT_NORMAL, TOL, WHY},
    {"linear_flatten", CF_OP_LINEAR, {{0}}, 1, {{2, 2, 3, 2}}, {{4, 12, 1, 1}}, INIT_NORMAL, TOL, WHY},
    {"sum3", CF_OP_SUM, {{0}}, 3, {{2, 3, 4, 4}, {2, 3, 4, 4}, {2, 3, 4, 4}}, {{0}}, INIT_NORMAL, TOL, WHY},
    {"zero_s1", CF_OP_ZERO, {.zero = {.stride = 1}}, 1, {{2, 3, 4, 4}}, {{0}}, INIT_NORMAL, TOL, "gradient is exactly 0"},
    {"zero_s2", CF_OP_ZERO, {.zero = {.stride = 2}}, 1, {{2, 3, 5, 5}}, {{0}}, INIT_NORMAL, TOL, "gradient is exactly 0"},
    {"identity", CF_OP_IDENTITY, {{0}}, 1, {{2, 3, 4, 4}}, {{0}}, INIT_NORMAL, TOL, WHY},
    {"concat3", CF_OP_CONCAT, {{0}}, 3, {{2, 1, 3, 3}, {2, 3, 3, 3}, {2, 2, 3, 3}}, {{0}}, INIT_NORMAL, TOL, WHY},
    {"softmax_xent", CF_OP_SOFTMAX_XENT, {.xent = {.label_smoothing = 0.0}}, 2, {{5, 7, 1, 1}, {5, 1, 1, 1}}, {{0}}, INIT_NORMAL, TOL, WHY},
    {"softmax_xent_smooth", CF_OP_SOFTMAX_XENT, {.xent = {.label_smoothing = 0.1}}, 2, {{4, 10, 1, 1}, {4, 1, 1, 1}}, {{0}}, INIT_NORMAL, TOL, WHY},
    {"slice_channels", CF_OP_SLICE, {.slice = {.c0 = 0, .c = 2, .top = 0, .h = 4, .left = 0, .w = 4}}, 1, {{2, 5, 4, 4}}, {{0}}, INIT_NORMAL, TOL, WHY},
    {"slice_shift", CF_OP_SLICE, {.slice = {.c0 = 1, .c = 2, .top = 1, .h = 4, .left = 1, .w = 3}}, 1, {{2, 3, 5, 4}}, {{0}}, INIT_NORMAL, TOL, WHY},
    {"dropout", CF_OP_DROPOUT, {.dropout = {.p = 0.3, .seed = 7, .stream = 11, .offset = 5}}, 1, {{2, 3, 4, 4}}, {{0}}, INIT_NORMAL, TOL, "linear for a fixed mask"},
};

/* One op call with every tensor allocated in `dtype`. */
typedef struct harness {
    cf_op_args a;
    cf_tensor in[CF_OP_MAX_INPUTS], w[CF_OP_MAX_WEIGHTS], state[CF_OP_MAX_STATE], out, dout;
    cf_tensor din[CF_OP_MAX_INPUTS], dw[CF_OP_MAX_WEIGHTS];
    void *blocks[64];
    int nblocks;
} harness;

static void *alloc_zero(harness *h, size_t bytes) {
    void *p = calloc(1, bytes ? bytes : 1);
    if (!p) abort();
    h->blocks[h->nblocks++] = p;
    return p;
}

static void make(harness *h, cf_tensor *t, cf_dtype dtype, const int64_t shape[4]) {
    cf_device cpu = {CF_DEVICE_CPU, 0};
    CF_ASSERT(cf_tensor_init_shape(t, dtype, shape, cpu, NULL) == CF_OK);
    t->data = alloc_zero(h, cf_tensor_bytes(t));
}

static double get(const cf_tensor *t, int64_t i) {
    return t->dtype == CF_DTYPE_F64 ? ((double *)t->data)[i] : ((float *)t->data)[i];
}
static void set(cf_tensor *t, int64_t i, double v) {
    if (t->dtype == CF_DTYPE_F64) ((double *)t->data)[i] = v;
    else ((float *)t->data)[i] = (float)v;
}

static void fill(cf_tensor *t, enum init_kind init, cf_rng *r) {
    int64_t n = cf_tensor_numel(t);
    if (init == INIT_SPACED) {
        uint32_t *perm = malloc((size_t)n * sizeof *perm);
        cf_rng_permutation(r, perm, (size_t)n);
        for (int64_t i = 0; i < n; i++) set(t, i, ((double)perm[i] - (double)n / 2) * 0.05);
        free(perm);
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        double v = cf_rng_normal_f64(r);
        if (init == INIT_NONZERO && fabs(v) < 0.05) v = v < 0 ? v - 0.05 : v + 0.05;
        set(t, i, v);
    }
}

/* Build the call for case c in dtype; inputs drawn from the same seed for
 * either dtype, so the f32 and f64 runs see the same values (rounded). */
static void setup(harness *h, const grad_case *c, cf_dtype dtype) {
    memset(h, 0, sizeof *h);
    cf_rng r = cf_rng_make(1234, cf_rng_stream((uint64_t)(c - cases), CF_RNG_PURPOSE_TEST));
    cf_op_args *a = &h->a;
    a->kind = c->kind;
    a->params = c->params;
    a->n_inputs = c->n_inputs;
    for (int i = 0; i < c->n_inputs; i++) {
        int is_label = c->kind == CF_OP_SOFTMAX_XENT && i == 1;
        make(h, &h->in[i], is_label ? CF_DTYPE_I32 : dtype, c->in[i]);
        if (is_label) {
            int32_t *lab = h->in[i].data;
            for (int64_t k = 0; k < c->in[i][0]; k++) lab[k] = (int32_t)cf_rng_below(&r, (uint32_t)c->in[0][1]);
        } else {
            fill(&h->in[i], c->init, &r);
            make(h, &h->din[i], dtype, c->in[i]);
            a->din[i] = &h->din[i];
        }
        a->in[i] = &h->in[i];
    }
    for (int i = 0; i < CF_OP_MAX_WEIGHTS; i++) {
        if (c->w[i][0] == 0) continue;
        make(h, &h->w[i], dtype, c->w[i]);
        fill(&h->w[i], INIT_NORMAL, &r);
        make(h, &h->dw[i], dtype, c->w[i]);
        a->w[i] = &h->w[i];
        a->dw[i] = &h->dw[i];
    }
    if (c->kind == CF_OP_BATCHNORM) {
        const int64_t vec[4] = {c->in[0][1], 1, 1, 1};
        for (int i = 0; i < 4; i++) {
            make(h, &h->state[i], dtype, vec);
            a->state[i] = &h->state[i];
        }
        for (int64_t k = 0; k < vec[0]; k++) set(&h->state[1], k, 1.0); /* running_var starts at 1 */
    }
    int64_t out_shape[4];
    CF_ASSERT(cf_op_infer_shape(a, out_shape) == CF_OK);
    make(h, &h->out, dtype, out_shape);
    make(h, &h->dout, dtype, out_shape);
    fill(&h->dout, INIT_NORMAL, &r);
    a->out = &h->out;
    a->dout = &h->dout;
}

static void teardown(harness *h) {
    for (int i = 0; i < h->nblocks; i++) free(h->blocks[i]);
    h->nblocks = 0;
}

/* L = sum(y * r) after a forward. */
static double objective(harness *h) {
    CF_ASSERT(cf_op_forward(cf_backend_cpu_ref(), &h->a) == CF_OK);
    double L = 0.0;
    for (int64_t i = 0; i < cf_tensor_numel(&h->out); i++) L += get(&h->out, i) * get(&h->dout, i);
    return L;
}

/* max |analytic - numeric| / max |numeric| for one tensor x with gradient g. */
static double fd_error(harness *h, cf_tensor *x, const cf_tensor *g, double *max_numeric) {
    const double eps = 1e-6;
    double worst = 0.0, scale = 0.0;
    for (int64_t i = 0; i < cf_tensor_numel(x); i++) {
        double keep = get(x, i);
        set(x, i, keep + eps);
        double lp = objective(h);
        set(x, i, keep - eps);
        double lm = objective(h);
        set(x, i, keep);
        double numeric = (lp - lm) / (2 * eps);
        double diff = fabs(numeric - get(g, i));
        if (diff > worst) worst = diff;
        if (fabs(numeric) > scale) scale = fabs(numeric);
    }
    *max_numeric = scale;
    return scale > 0 ? worst / scale : worst;
}

/* Smallest |bn(x)| of a batch norm + ReLU case: the kink is at bn(x) = 0,
 * which the inputs cannot be pushed from directly (it moves with the batch
 * statistics), so the cases are chosen where it is far, and this says so. */
static double bn_relu_gap(const grad_case *c) {
    harness h;
    setup(&h, c, CF_DTYPE_F64);
    h.a.params.bn.relu = 0;
    CF_ASSERT(cf_op_forward(cf_backend_cpu_ref(), &h.a) == CF_OK);
    double gap = INFINITY;
    for (int64_t i = 0; i < cf_tensor_numel(&h.out); i++) gap = fmin(gap, fabs(get(&h.out, i)));
    teardown(&h);
    return gap;
}

static void run_fd(const grad_case *c) {
    harness h;
    setup(&h, c, CF_DTYPE_F64);
    if (c->kind == CF_OP_BATCHNORM && c->params.bn.relu) {
        double gap = bn_relu_gap(c);
        CHECK(gap > 1e-3, "%s: bn(x) comes within %.3g of the ReLU kink; finite differences would cross it", c->name,
              gap);
    }
    CHECK_OK(cf_op_forward(cf_backend_cpu_ref(), &h.a));
    CHECK_OK(cf_op_backward(cf_backend_cpu_ref(), &h.a));
    char what[64];
    double scale;
    for (int i = 0; i < c->n_inputs; i++) {
        if (!h.a.din[i]) continue;
        double err = fd_error(&h, &h.in[i], &h.din[i], &scale);
        snprintf(what, sizeof what, "input %d", i);
        CHECK(err <= c->tol, "%s: %s: FD error %.3g > %.1g (%s)", c->name, what, err, c->tol, c->why);
    }
    for (int i = 0; i < CF_OP_MAX_WEIGHTS; i++) {
        if (!h.a.w[i]) continue;
        double err = fd_error(&h, &h.w[i], &h.dw[i], &scale);
        CHECK(err <= c->tol, "%s: weight %d: FD error %.3g > %.1g (%s)", c->name, i, err, c->tol, c->why);
        CHECK(scale > 0, "%s: weight %d: gradient is zero everywhere", c->name, i);
    }
    teardown(&h);
}

/* f32 storage must give the f64 result up to float rounding: the reference
 * accumulates in double either way, so 1e-5 normalized is generous. */
static double max_rel(const cf_tensor *a, const cf_tensor *b) {
    double worst = 0.0, scale = 1e-30;
    for (int64_t i = 0; i < cf_tensor_numel(a); i++) {
        double d = fabs(get(a, i) - get(b, i));
        if (d > worst) worst = d;
        if (fabs(get(b, i)) > scale) scale = fabs(get(b, i));
    }
    return worst / scale;
}

static void run_f32_vs_f64(const grad_case *c) {
    harness h64, h32;
    setup(&h64, c, CF_DTYPE_F64);
    setup(&h32, c, CF_DTYPE_F32);
    /* the f32 inputs are the rounded f64 ones; round the f64 ones too so both see equal values */
    for (int i = 0; i < c->n_inputs; i++)
        if (h64.in[i].dtype == CF_DTYPE_F64)
            for (int64_t k = 0; k < cf_tensor_numel(&h64.in[i]); k++) set(&h64.in[i], k, get(&h32.in[i], k));
    for (int i = 0; i < CF_OP_MAX_WEIGHTS; i++)
        if (h64.a.w[i])
            for (int64_t k = 0; k < cf_tensor_numel(&h64.w[i]); k++) set(&h64.w[i], k, get(&h32.w[i], k));
    for (int64_t k = 0; k < cf_tensor_numel(&h64.dout); k++) set(&h64.dout, k, get(&h32.dout, k));
    CHECK_OK(cf_op_forward(cf_backend_cpu_ref(), &h64.a));
    CHECK_OK(cf_op_backward(cf_backend_cpu_ref(), &h64.a));
    CHECK_OK(cf_op_forward(cf_backend_cpu_ref(), &h32.a));
    CHECK_OK(cf_op_backward(cf_backend_cpu_ref(), &h32.a));
    double e = max_rel(&h32.out, &h64.out);
    CHECK(e < 1e-5, "%s: f32 forward differs from f64 by %.3g", c->name, e);
    for (int i = 0; i < c->n_inputs; i++)
        if (h64.a.din[i]) {
            e = max_rel(&h32.din[i], &h64.din[i]);
            CHECK(e < 1e-5, "%s: f32 input %d gradient differs from f64 by %.3g", c->name, i, e);
        }
    for (int i = 0; i < CF_OP_MAX_WEIGHTS; i++)
        if (h64.a.w[i]) {
            e = max_rel(&h32.dw[i], &h64.dw[i]);
            CHECK(e < 1e-5, "%s: f32 weight %d gradient differs from f64 by %.3g", c->name, i, e);
        }
    teardown(&h64);
    teardown(&h32);
}

/* Backward adds into gradients: two backward calls give twice the gradient. */
static void run_accumulates(const grad_case *c) {
    harness h;
    setup(&h, c, CF_DTYPE_F64);
    CHECK_OK(cf_op_forward(cf_backend_cpu_ref(), &h.a));
    CHECK_OK(cf_op_backward(cf_backend_cpu_ref(), &h.a));
    cf_tensor *g = h.a.din[0];
    int64_t n = cf_tensor_numel(g);
    double *once = malloc((size_t)n * sizeof *once);
    for (int64_t i = 0; i < n; i++) once[i] = get(g, i);
    CHECK_OK(cf_op_backward(cf_backend_cpu_ref(), &h.a));
    double worst = 0.0;
    for (int64_t i = 0; i < n; i++) worst = fmax(worst, fabs(get(g, i) - 2 * once[i]));
    CHECK(worst < 1e-12, "%s: a second backward did not add (max deviation %.3g)", c->name, worst);
    free(once);
    teardown(&h);
}

/* Batch norm + ReLU is batch norm then ReLU bit for bit: output, running
 * statistics, and every gradient of the two-layer backward. */
static void check_bn_relu_exact(const grad_case *c, cf_dtype dtype) {
    harness f, u;
    setup(&f, c, dtype);
    setup(&u, c, dtype); /* the same values */
    CHECK_OK(cf_op_forward(cf_backend_cpu_ref(), &f.a));
    CHECK_OK(cf_op_backward(cf_backend_cpu_ref(), &f.a));
    cf_tensor y, dbn;
    make(&u, &y, dtype, u.out.shape);
    make(&u, &dbn, dtype, u.out.shape);
    u.a.params.bn.relu = 0;
    u.a.dout = &dbn;
    cf_op_args relu = {.kind = CF_OP_RELU, .n_inputs = 1, .in = {&u.out}, .out = &y, .dout = &u.dout, .din = {&dbn}};
    CHECK_OK(cf_op_forward(cf_backend_cpu_ref(), &u.a));
    CHECK_OK(cf_op_forward(cf_backend_cpu_ref(), &relu));
    CHECK_OK(cf_op_backward(cf_backend_cpu_ref(), &relu));
    CHECK_OK(cf_op_backward(cf_backend_cpu_ref(), &u.a));
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
    teardown(&f);
    teardown(&u);
}

/* Dropout: the same (seed, stream, offset) gives the same mask, the drop rate is p. */
static void check_dropout_statistics(void) {
    const int64_t shape[4] = {4, 8, 16, 16};
    harness h;
    memset(&h, 0, sizeof h);
    make(&h, &h.in[0], CF_DTYPE_F64, shape);
    make(&h, &h.out, CF_DTYPE_F64, shape);
    for (int64_t i = 0; i < cf_tensor_numel(&h.in[0]); i++) set(&h.in[0], i, 1.0);
    cf_op_args a = {.kind = CF_OP_DROPOUT, .n_inputs = 1, .in = {&h.in[0]}, .out = &h.out};
    a.params.dropout = (cf_dropout_params){.p = 0.25, .seed = 3, .stream = 9, .offset = 0};
    CHECK_OK(cf_op_forward(cf_backend_cpu_ref(), &a));
    int64_t n = cf_tensor_numel(&h.out), dropped = 0;
    for (int64_t i = 0; i < n; i++) {
        double v = get(&h.out, i);
        if (v == 0.0) dropped++;
        else CHECK(fabs(v - 1.0 / 0.75) < 1e-12, "dropout: kept value %g, expected 1/(1-p)", v);
    }
    double rate = (double)dropped / (double)n;
    /* n = 8192, sd of the rate = sqrt(p(1-p)/n) = 0.0048: 5 sd is 0.024 */
    CHECK(fabs(rate - 0.25) < 0.024, "dropout: drop rate %.4f, expected 0.25", rate);
    teardown(&h);
}

int main(void) {
    const size_t n_cases = sizeof cases / sizeof cases[0];
    for (size_t i = 0; i < n_cases; i++) {
        run_fd(&cases[i]);
        run_f32_vs_f64(&cases[i]);
        if (cases[i].kind != CF_OP_ZERO) run_accumulates(&cases[i]);
    }
    /* every op kind has at least one case */
    for (int k = 0; k < CF_OP_COUNT; k++) {
        int found = 0;
        for (size_t i = 0; i < n_cases; i++) found |= cases[i].kind == (cf_op_kind)k;
        CHECK(found, "op %s has no gradient case", cf_op_name((cf_op_kind)k));
    }
    for (size_t i = 0; i < n_cases; i++)
        if (cases[i].kind == CF_OP_BATCHNORM && cases[i].params.bn.relu) {
            check_bn_relu_exact(&cases[i], CF_DTYPE_F32);
            check_bn_relu_exact(&cases[i], CF_DTYPE_F64);
        }
    check_dropout_statistics();
    return test_finish("test_grad");
}
