/* test_assign.c - backward calls that write their input gradient outright.
 *
 * When the model knows a gradient buffer holds nothing yet it sets
 * din_assign[k], and a backend that can writes din[k] instead of adding into
 * it (cf_backend_assigns). For every op and shape where the fast backend
 * says it assigns, din is filled with NaN first: a kernel that still adds (or
 * skips an element) leaves NaN behind. The result must match the reference
 * backward into a zeroed buffer; where the backend does not assign,
 * cf_op_backward zeroes the buffer itself and the result must match too.
 * Then the same call in add mode: din holding 1 must end at 1 + the gradient.
 * Batch norm + ReLU is here in both modes, its ReLU mask read from `out`. A
 * sum, and a mix with a NULL input, take assigned, added and absent gradients
 * in one call.
 *
 *   build/tests/test_assign
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cellforge/backend.h"
#include "cellforge/rng.h"
#include "check.h"

typedef struct assign_case {
    const char *name;
    cf_op_kind kind;
    cf_op_params params;
    int64_t x[4], w[4];      /* w all zero: no weight */
    int expect_assign;       /* the fast backend is expected to write din outright */
} assign_case;

#define CONV1(s, p) {.conv = {.stride_h = s, .stride_w = s, .pad_h = p, .pad_w = p, .dil_h = 1, .dil_w = 1, .groups = 1}}

static const assign_case cases[] = {
    {"conv3x3_c16_s1", CF_OP_CONV2D, CONV1(1, 1), {3, 16, 12, 10}, {16, 16, 3, 3}, 1},
    {"conv3x3_c32to16_s1", CF_OP_CONV2D, CONV1(1, 1), {2, 32, 7, 7}, {16, 32, 3, 3}, 1},
    {"conv3x3_c16_s2", CF_OP_CONV2D, CONV1(2, 1), {2, 16, 9, 9}, {32, 16, 3, 3}, 0},
    {"conv3x3_c3", CF_OP_CONV2D, CONV1(1, 1), {2, 3, 8, 8}, {16, 3, 3, 3}, 0},
    {"conv1x1", CF_OP_CONV2D, CONV1(1, 0), {2, 8, 5, 5}, {8, 8, 1, 1}, 0},
    {"batchnorm", CF_OP_BATCHNORM, {.bn = {.eps = 1e-5, .momentum = 0.1, .training = 1}}, {4, 6, 5, 5}, {6, 1, 1, 1}, 1},
    {"batchnorm_relu", CF_OP_BATCHNORM, {.bn = {.eps = 1e-5, .momentum = 0.1, .training = 1, .relu = 1}}, {4, 6, 5, 5},
     {6, 1, 1, 1}, 1},
    {"batchnorm_relu_plain", CF_OP_BATCHNORM, {.bn = {.eps = 1e-5, .momentum = 0.1, .training = 1, .relu = 1}},
     {3, 4, 6, 6}, {0}, 1},
    {"relu", CF_OP_RELU, {{0}}, {3, 5, 4, 4}, {0}, 1},
    {"avgpool", CF_OP_AVGPOOL2D, {.pool = {3, 3, 1, 1, 1, 1}}, {2, 4, 6, 6}, {0}, 0},
    {"identity", CF_OP_IDENTITY, {{0}}, {2, 3, 5, 4}, {0}, 1},
};

typedef struct side {
    cf_tensor x, w, b, st[4], y, dy, dx, dw, db;
    float *mem[12];
    cf_op_args a;
} side;

static float *fill(cf_tensor *t, const int64_t shape[4], cf_rng *r, float *src) {
    int64_t n = shape[0] * shape[1] * shape[2] * shape[3];
    float *p = calloc((size_t)n, sizeof *p);
    for (int64_t i = 0; i < n; i++) p[i] = src ? src[i] : (r ? cf_rng_normal(r) : 0.0f);
    CF_ASSERT(cf_tensor_init_shape(t, CF_DTYPE_F32, shape, (cf_device){CF_DEVICE_CPU, 0}, p) == CF_OK);
    return p;
}

static void setup(side *s, const assign_case *c, uint64_t seed) {
    memset(s, 0, sizeof *s);
    cf_rng r = cf_rng_make(seed, cf_rng_stream(0, CF_RNG_PURPOSE_TEST));
    int m = 0;
    s->mem[m++] = fill(&s->x, c->x, &r, NULL);
    s->a.kind = c->kind;
    s->a.params = c->params;
    s->a.n_inputs = 1;
    s->a.in[0] = &s->x;
    if (c->w[0]) {
        s->mem[m++] = fill(&s->w, c->w, &r, NULL);
        s->a.w[0] = &s->w;
        s->mem[m++] = fill(&s->dw, c->w, NULL, NULL);
        s->a.dw[0] = &s->dw;
        if (c->kind == CF_OP_BATCHNORM) {
            s->mem[m++] = fill(&s->b, c->w, &r, NULL);
            s->a.w[1] = &s->b;
            s->mem[m++] = fill(&s->db, c->w, NULL, NULL);
            s->a.dw[1] = &s->db;
        }
    }
    if (c->kind == CF_OP_BATCHNORM)
        for (int k = 0; k < 4; k++) {
            int64_t sh[4] = {c->x[1], 1, 1, 1};
            s->mem[m++] = fill(&s->st[k], sh, NULL, NULL);
            s->a.state[k] = &s->st[k];
        }
    int64_t out[4];
    CF_ASSERT(cf_op_infer_shape(&s->a, out) == CF_OK);
    s->mem[m++] = fill(&s->y, out, NULL, NULL);
    s->a.out = &s->y;
    s->mem[m++] = fill(&s->dy, out, &r, NULL);
    s->a.dout = &s->dy;
    s->mem[m++] = fill(&s->dx, c->x, NULL, NULL);
    s->a.din[0] = &s->dx;
}

static void release(side *s) {
    for (int i = 0; i < 12; i++) free(s->mem[i]);
}

/* A sum of three inputs whose gradients are: assigned (NaN before), added to
 * (ones before), and absent. dy passes unchanged, so both results are exact. */
static void check_sum(cf_backend *fast) {
    const int64_t shape[4] = {3, 5, 7, 9};
    const int64_t n = shape[0] * shape[1] * shape[2] * shape[3];
    cf_rng r = cf_rng_make(7, cf_rng_stream(0, CF_RNG_PURPOSE_TEST));
    cf_tensor x[3], y, dy, dx[2];
    float *mem[7];
    for (int k = 0; k < 3; k++) mem[k] = fill(&x[k], shape, &r, NULL);
    mem[3] = fill(&y, shape, NULL, NULL);
    mem[4] = fill(&dy, shape, &r, NULL);
    for (int k = 0; k < 2; k++) mem[5 + k] = fill(&dx[k], shape, NULL, NULL);
    cf_op_args a = {.kind = CF_OP_SUM, .n_inputs = 3, .in = {&x[0], &x[1], &x[2]}, .out = &y, .dout = &dy,
                    .din = {&dx[0], &dx[1], NULL}, .din_assign = {1, 0, 0}};
    CHECK_OK(cf_op_forward(fast, &a));
    for (int64_t j = 0; j < n; j++) {
        mem[5][j] = NAN;
        mem[6][j] = 1.0f;
    }
    CHECK(cf_backend_assigns(fast, &a, 0) && cf_backend_assigns(fast, &a, 1),
          "sum: the fast backend assigns every input");
    CHECK_OK(cf_op_backward(fast, &a));
    int64_t bad0 = 0, bad1 = 0;
    for (int64_t j = 0; j < n; j++) {
        bad0 += mem[5][j] != mem[4][j];
        bad1 += mem[6][j] != 1.0f + mem[4][j];
    }
    CHECK(bad0 == 0, "sum: %lld assigned gradient elements differ from dy", (long long)bad0);
    CHECK(bad1 == 0, "sum: %lld added gradient elements differ from 1 + dy", (long long)bad1);
    for (int k = 0; k < 7; k++) free(mem[k]);
}

/* A mix of four slots, input 1 NULL (a branch not computed) and input 3's
 * gradient not wanted: din[0] assigned (NaN before), din[1] assigned too but
 * its input is NULL, din[2] added to (ones before). The fast backend assigns
 * the present inputs only, so cf_op_backward zeroes din[1]; the products
 * coef * dy round like the reference's, so every result is exact. */
static void check_mix(cf_backend *fast) {
    const int64_t shape[4] = {3, 5, 7, 9}, cshape[4] = {4, 1, 1, 1};
    const int64_t n = shape[0] * shape[1] * shape[2] * shape[3];
    cf_rng r = cf_rng_make(8, cf_rng_stream(0, CF_RNG_PURPOSE_TEST));
    cf_tensor x[4], coef, y, dy, dx[3];
    float *mem[10];
    for (int k = 0; k < 4; k++) mem[k] = fill(&x[k], shape, &r, NULL);
    mem[4] = fill(&coef, cshape, &r, NULL);
    mem[5] = fill(&y, shape, NULL, NULL);
    mem[6] = fill(&dy, shape, &r, NULL);
    for (int k = 0; k < 3; k++) mem[7 + k] = fill(&dx[k], shape, NULL, NULL);
    cf_op_args a = {.kind = CF_OP_MIX, .n_inputs = 4, .in = {&x[0], NULL, &x[2], &x[3]}, .w = {&coef}, .out = &y,
                    .dout = &dy, .din = {&dx[0], &dx[1], &dx[2], NULL}, .din_assign = {1, 1, 0, 0}};
    CHECK_OK(cf_op_forward(fast, &a));
    for (int64_t j = 0; j < n; j++) {
        mem[7][j] = mem[8][j] = NAN;
        mem[9][j] = 1.0f;
    }
    CHECK(cf_backend_assigns(fast, &a, 0) && !cf_backend_assigns(fast, &a, 1) && cf_backend_assigns(fast, &a, 2),
          "mix: the fast backend assigns the present inputs' gradients only");
    CHECK_OK(cf_op_backward(fast, &a));
    const float *c = mem[4], *g = mem[6];
    int64_t bad0 = 0, bad1 = 0, bad2 = 0;
    for (int64_t j = 0; j < n; j++) {
        bad0 += mem[7][j] != c[0] * g[j];
        bad1 += mem[8][j] != 0.0f;
        bad2 += mem[9][j] != 1.0f + c[2] * g[j];
    }
    CHECK(bad0 == 0, "mix: %lld assigned gradient elements differ from coef[0] dy", (long long)bad0);
    CHECK(bad1 == 0, "mix: %lld elements of the NULL input's gradient are not 0", (long long)bad1);
    CHECK(bad2 == 0, "mix: %lld added gradient elements differ from 1 + coef[2] dy", (long long)bad2);
    for (int k = 0; k < 10; k++) free(mem[k]);
}

int main(void) {
    cf_backend *fast = NULL;
    CHECK_OK(cf_backend_cpu_fast_create(2, &fast));
    if (!fast) return test_finish("test_assign");
    check_sum(fast);
    check_mix(fast);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const assign_case *c = &cases[i];
        side ref, got;
        setup(&ref, c, 100 + i);
        setup(&got, c, 100 + i);
        CHECK_OK(cf_op_forward(cf_backend_cpu_ref(), &ref.a));
        CHECK_OK(cf_op_backward(cf_backend_cpu_ref(), &ref.a));
        CHECK_OK(cf_op_forward(fast, &got.a));
        int64_t n = cf_tensor_numel(&got.dx);
        float *dx = got.dx.data;
        for (int64_t j = 0; j < n; j++) dx[j] = NAN;
        got.a.din_assign[0] = 1;
        int assigns = cf_backend_assigns(fast, &got.a, 0);
        CHECK(assigns == c->expect_assign, "%s: the fast backend %s assign", c->name, assigns ? "does" : "does not");
        CHECK_OK(cf_op_backward(fast, &got.a));
        const float *want = ref.dx.data;
        double worst = 0, scale = 0;
        int nans = 0;
        for (int64_t j = 0; j < n; j++) {
            if (isnan(dx[j])) nans++;
            else if (fabs(dx[j] - want[j]) > worst) worst = fabs(dx[j] - want[j]);
            if (fabs(want[j]) > scale) scale = fabs(want[j]);
        }
        /* f32 kernels against the reference's double accumulation */
        CHECK(nans == 0 && worst <= 1e-5 * (scale > 1 ? scale : 1), "%s: %d NaN left, max error %g (scale %g)",
              c->name, nans, worst, scale);
        /* add mode on the same call: din holding 1 gets 1 + the gradient */
        for (int64_t j = 0; j < n; j++) dx[j] = 1.0f;
        got.a.din_assign[0] = 0;
        for (int k = 0; k < CF_OP_MAX_WEIGHTS; k++)
            if (got.a.dw[k]) memset(got.a.dw[k]->data, 0, cf_tensor_bytes(got.a.dw[k]));
        CHECK_OK(cf_op_backward(fast, &got.a));
        worst = 0;
        for (int64_t j = 0; j < n; j++) worst = fmax(worst, fabs(dx[j] - (1.0 + want[j])));
        CHECK(worst <= 1e-5 * (scale > 1 ? scale : 1), "%s: add mode: max error %g (scale %g)", c->name, worst, scale);
        release(&ref);
        release(&got);
    }
    cf_backend_cpu_fast_destroy(fast);
    return test_finish("test_assign");
}
