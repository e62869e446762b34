/* op_harness.c - the runner of op_harness.h: draws a case's values, sets the
 * case up on a backend, runs forward and both backward fill modes, and
 * compares with the reference. Covered by test_cpu_fast, test_grad and
 * test_cuda_ops, which are its only users.
 */
#include "op_harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cellforge/rng.h"
#include "check.h"

static int is_label(const oh_case *c, int i) { return c->kind == CF_OP_SOFTMAX_XENT && i == 1; }
static int is_repeat(const oh_case *c, int i) { return c->repeat && i > 0 && i == c->n_inputs - 1; }
static int is_absent(const oh_case *c, int i) { return c->in[i][0] == 0; }
static int has_backward(const oh_case *c) { return !(c->kind == CF_OP_BATCHNORM && !c->params.bn.training); }
static int64_t numel4(const int64_t s[4]) { return s[0] * s[1] * s[2] * s[3]; }

oh_bound oh_case_bound(const oh_case *c, const char *what) {
    (void)what;
    return (oh_bound){c->tol, c->why};
}

oh_bound oh_half_bound_bf16(const oh_case *c, const char *what) {
    (void)what;
    return (oh_bound){c->tol + 0x1p-7, "bf16: one unit in the last place (2^-7) over the f32 bound"};
}

oh_bound oh_half_bound_f16(const oh_case *c, const char *what) {
    (void)what;
    return (oh_bound){c->tol + 0x1p-10, "f16: one unit in the last place (2^-10) over the f32 bound"};
}

const oh_case *oh_find_case(const char *name) {
    for (size_t i = 0; i < oh_n_cases; i++)
        if (strcmp(oh_cases[i].name, name) == 0) return &oh_cases[i];
    return NULL;
}

/* ---- drawing ------------------------------------------------------------- */

/* FNV-1a of the name: the case's RNG stream, independent of its table row. */
static uint64_t name_key(const char *name) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) h = (h ^ *p) * 0x100000001b3ull;
    return h;
}

static float *draw(int64_t n, oh_init init, cf_rng *r) {
    float *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    CF_ASSERT(v != NULL);
    if (init == OH_SPACED) {
        uint32_t *perm = malloc((size_t)n * sizeof *perm);
        CF_ASSERT(perm != NULL);
        cf_rng_permutation(r, perm, (size_t)n);
        for (int64_t i = 0; i < n; i++) v[i] = (float)(((double)perm[i] - (double)n / 2) * 0.05);
        free(perm);
        return v;
    }
    for (int64_t i = 0; i < n; i++) {
        float z = cf_rng_normal(r);
        if (init == OH_NONZERO && fabsf(z) < 0.05f) z = z < 0 ? z - 0.05f : z + 0.05f;
        v[i] = init == OH_OFFSET ? z + 5.0f : init == OH_WIDE ? z * 40.0f : z;
    }
    return v;
}

/* Running mean/var to blend into (and to normalize with in inference); saved
 * statistics that inference must leave alone. */
static void draw_bn_state(oh_data *d, int64_t C, cf_rng *r) {
    for (int i = 0; i < CF_OP_MAX_STATE; i++) d->state[i] = draw(C, OH_NORMAL, r);
    for (int64_t k = 0; k < C; k++) {
        const float var = 0.5f + cf_rng_uniform(r);
        d->state[0][k] *= 0.2f;
        d->state[1][k] = var;
        d->state[2][k] *= 0.2f;
        d->state[3][k] = 1.0f / sqrtf(var);
    }
}

void oh_data_make(oh_data *d, const oh_case *c) {
    memset(d, 0, sizeof *d);
    cf_rng r = cf_rng_make(2024, cf_rng_stream(name_key(c->name), CF_RNG_PURPOSE_TEST));
    for (int i = 0; i < c->n_inputs; i++) {
        const int64_t n = numel4(c->in[i]);
        if (is_repeat(c, i) || is_absent(c, i)) continue;
        if (is_label(c, i)) {
            d->labels = malloc((size_t)n * sizeof *d->labels);
            CF_ASSERT(d->labels != NULL);
            for (int64_t k = 0; k < n; k++) d->labels[k] = (int32_t)cf_rng_below(&r, (uint32_t)c->in[0][1]);
            continue;
        }
        d->in[i] = draw(n, c->init, &r);
        d->din0[i] = draw(n, OH_NORMAL, &r);
    }
    for (int i = 0; i < CF_OP_MAX_WEIGHTS; i++) {
        if (c->w[i][0] == 0) continue;
        d->w[i] = draw(numel4(c->w[i]), OH_NORMAL, &r);
        d->dw0[i] = draw(numel4(c->w[i]), OH_NORMAL, &r);
    }
    if (c->kind == CF_OP_BATCHNORM) draw_bn_state(d, c->in[0][1], &r);
    if (c->kind == CF_OP_SOFTMAX_XENT) {
        d->dout = malloc(sizeof *d->dout);
        CF_ASSERT(d->dout != NULL);
        d->dout[0] = 0.7f; /* not 1: a backward that ignores dout shows */
        return;
    }
    oh_side shape; /* the output's shape, as the reference sets the case up */
    CF_ASSERT(oh_side_setup(&shape, c, cf_backend_cpu_ref(), CF_DTYPE_F32) == CF_OK);
    d->dout = draw(cf_tensor_numel(&shape.out), OH_NORMAL, &r);
    oh_side_free(&shape);
}

void oh_data_free(oh_data *d) {
    for (int i = 0; i < CF_OP_MAX_INPUTS; i++) free(d->in[i]), free(d->din0[i]);
    for (int i = 0; i < CF_OP_MAX_WEIGHTS; i++) free(d->w[i]), free(d->dw0[i]);
    for (int i = 0; i < CF_OP_MAX_STATE; i++) free(d->state[i]);
    free(d->labels);
    free(d->dout);
    memset(d, 0, sizeof *d);
}

/* ---- sides --------------------------------------------------------------- */

cf_status oh_side_tensor(oh_side *s, cf_tensor *t, cf_dtype dt, const int64_t shape[4]) {
    CF_TRY(cf_tensor_init_shape(t, dt, shape, cf_backend_device(s->be), NULL));
    CF_ASSERT(s->nmem < OH_MAX_MEM);
    CF_TRY(cf_backend_alloc(s->be, cf_tensor_bytes(t), &t->data));
    s->mem[s->nmem++] = t->data;
    return CF_OK;
}

void oh_side_free(oh_side *s) {
    for (int i = 0; i < s->nmem; i++) cf_backend_free(s->be, s->mem[i]);
    s->nmem = 0;
}

cf_status oh_side_setup(oh_side *s, const oh_case *c, const cf_backend *be, cf_dtype dt) {
    memset(s, 0, sizeof *s);
    s->be = be;
    cf_op_args *a = &s->a;
    a->kind = c->kind;
    a->params = c->params;
    a->n_inputs = c->n_inputs;
    for (int i = 0; i < c->n_inputs; i++) {
        if (is_absent(c, i)) continue; /* in[i] and din[i] stay NULL */
        if (is_repeat(c, i)) { /* the same tensor and the same gradient buffer as input 0 */
            a->in[i] = &s->in[0];
            a->din[i] = &s->din[0];
            continue;
        }
        CF_TRY(oh_side_tensor(s, &s->in[i], is_label(c, i) ? CF_DTYPE_I32 : dt, c->in[i]));
        a->in[i] = &s->in[i];
        if (is_label(c, i)) continue;
        CF_TRY(oh_side_tensor(s, &s->din[i], dt, c->in[i]));
        a->din[i] = &s->din[i];
    }
    /* 16-bit calls keep batch norm's and mix's weights, the state and the loss in f32 (ops.h) */
    const cf_dtype pdt = cf_op_param_dtype(dt);
    const cf_dtype wdt = c->kind == CF_OP_BATCHNORM || c->kind == CF_OP_MIX ? pdt : dt;
    for (int i = 0; i < CF_OP_MAX_WEIGHTS; i++) {
        if (c->w[i][0] == 0) continue;
        CF_TRY(oh_side_tensor(s, &s->w[i], wdt, c->w[i]));
        CF_TRY(oh_side_tensor(s, &s->dw[i], wdt, c->w[i]));
        a->w[i] = &s->w[i];
        a->dw[i] = &s->dw[i];
    }
    if (c->kind == CF_OP_BATCHNORM) {
        const int64_t vec[4] = {c->in[0][1], 1, 1, 1};
        for (int i = 0; i < CF_OP_MAX_STATE; i++) {
            CF_TRY(oh_side_tensor(s, &s->state[i], pdt, vec));
            a->state[i] = &s->state[i];
        }
    }
    int64_t out_shape[4];
    CF_TRY(cf_op_infer_shape(a, out_shape));
    const cf_dtype odt = c->kind == CF_OP_SOFTMAX_XENT ? pdt : dt;
    CF_TRY(oh_side_tensor(s, &s->out, odt, out_shape));
    CF_TRY(oh_side_tensor(s, &s->dout, odt, out_shape));
    a->out = &s->out;
    a->dout = &s->dout;
    return CF_OK;
}

cf_status oh_side_put(const oh_side *s, cf_tensor *t, const float *v) {
    const int64_t n = cf_tensor_numel(t);
    void *stage = malloc(cf_tensor_bytes(t));
    if (!stage) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "test: staging %zu bytes", cf_tensor_bytes(t));
    for (int64_t i = 0; i < n; i++) {
        const float f = v ? v[i] : NAN;
        if (t->dtype == CF_DTYPE_F64) ((double *)stage)[i] = f;
        else if (t->dtype == CF_DTYPE_BF16) ((uint16_t *)stage)[i] = cf_bf16_from_f32(f);
        else if (t->dtype == CF_DTYPE_F16) ((uint16_t *)stage)[i] = cf_f16_from_f32(f);
        else ((float *)stage)[i] = f;
    }
    const cf_status st = cf_backend_copy(s->be, t->data, stage, cf_tensor_bytes(t), CF_COPY_TO_DEVICE);
    free(stage);
    return st;
}

double oh_value_at(cf_dtype dt, const void *p, int64_t i) {
    switch (dt) {
    case CF_DTYPE_F64: return ((const double *)p)[i];
    case CF_DTYPE_BF16: return cf_bf16_to_f32(((const uint16_t *)p)[i]);
    case CF_DTYPE_F16: return cf_f16_to_f32(((const uint16_t *)p)[i]);
    default: return ((const float *)p)[i];
    }
}

/* f as a tensor of dtype dt holds it: rounded to 16 bits where dt is. */
static double as_stored(cf_dtype dt, float f) {
    if (dt == CF_DTYPE_BF16) return cf_bf16_to_f32(cf_bf16_from_f32(f));
    if (dt == CF_DTYPE_F16) return cf_f16_to_f32(cf_f16_from_f32(f));
    return f;
}

/* t's values, as double, into out (numel values). */
static cf_status side_get(const oh_side *s, const cf_tensor *t, double *out) {
    const int64_t n = cf_tensor_numel(t);
    void *stage = malloc(cf_tensor_bytes(t));
    if (!stage) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "test: staging %zu bytes", cf_tensor_bytes(t));
    const cf_status st = cf_backend_copy(s->be, stage, t->data, cf_tensor_bytes(t), CF_COPY_TO_HOST);
    for (int64_t i = 0; st == CF_OK && i < n; i++) out[i] = oh_value_at(t->dtype, stage, i);
    free(stage);
    return st;
}

cf_status oh_side_load(oh_side *s, const oh_case *c, const oh_data *d) {
    cf_op_args *a = &s->a;
    for (int i = 0; i < c->n_inputs; i++) {
        if (is_repeat(c, i) || is_absent(c, i)) continue;
        if (is_label(c, i))
            CF_TRY(cf_backend_copy(s->be, s->in[i].data, d->labels, cf_tensor_bytes(&s->in[i]), CF_COPY_TO_DEVICE));
        else
            CF_TRY(oh_side_put(s, &s->in[i], d->in[i]));
    }
    for (int i = 0; i < CF_OP_MAX_WEIGHTS; i++)
        if (a->w[i]) CF_TRY(oh_side_put(s, &s->w[i], d->w[i]));
    for (int i = 0; i < CF_OP_MAX_STATE; i++)
        if (a->state[i]) CF_TRY(oh_side_put(s, &s->state[i], d->state[i]));
    CF_TRY(oh_side_put(s, &s->out, NULL)); /* NaN: every element must be written */
    CF_TRY(oh_side_put(s, &s->dout, d->dout));
    memset(a->din_assign, 0, sizeof a->din_assign);
    return CF_OK;
}

/* ---- results ------------------------------------------------------------- */

void oh_result_free(oh_result *r) {
    for (int i = 0; i < r->n; i++) free(r->t[i].v);
    r->n = 0;
}

static cf_status snap(const oh_side *s, oh_result *r, const cf_tensor *t, const char *name, const char *what) {
    CF_ASSERT(r->n < OH_MAX_RESULTS);
    const int64_t n = cf_tensor_numel(t);
    double *v = malloc((size_t)n * sizeof *v);
    CF_ASSERT(v != NULL);
    r->t[r->n].v = v;
    r->t[r->n].len = n;
    r->t[r->n].what = what;
    snprintf(r->t[r->n].name, sizeof r->t[r->n].name, "%s", name);
    r->n++;
    return side_get(s, t, v);
}

static const char *const state_names[CF_OP_MAX_STATE] = {"running_mean", "running_var", "save_mean", "save_invstd"};
static const char *const dw_what[CF_OP_MAX_WEIGHTS] = {"dw0", "dw1"};

/* Inputs, weights and dout come out of forward and backward as they went in:
 * a kernel that writes through the wrong pointer shows here. */
static cf_status check_unchanged(const oh_side *s, const oh_case *c, const oh_data *d) {
    typedef struct kept_tensor {
        const cf_tensor *t;
        const float *v;
        const char *what;
    } kept_tensor;
    kept_tensor kept[CF_OP_MAX_INPUTS + CF_OP_MAX_WEIGHTS + 1];
    int n = 0;
    for (int i = 0; i < c->n_inputs; i++)
        if (d->in[i]) kept[n++] = (kept_tensor){&s->in[i], d->in[i], "an input"};
    for (int i = 0; i < CF_OP_MAX_WEIGHTS; i++)
        if (d->w[i]) kept[n++] = (kept_tensor){&s->w[i], d->w[i], "a weight"};
    kept[n++] = (kept_tensor){&s->dout, d->dout, "dout"};
    for (int k = 0; k < n; k++) {
        const int64_t len = cf_tensor_numel(kept[k].t);
        double *back = malloc((size_t)len * sizeof *back);
        CF_ASSERT(back != NULL);
        const cf_status st = side_get(s, kept[k].t, back);
        int64_t changed = 0;
        for (int64_t i = 0; st == CF_OK && i < len; i++) changed += back[i] != as_stored(kept[k].t->dtype, kept[k].v[i]);
        free(back);
        CF_TRY(st);
        CHECK(changed == 0, "%s: %s changed %lld of %lld elements of %s", c->name, cf_backend_name(s->be),
              (long long)changed, (long long)len, kept[k].what);
    }
    return CF_OK;
}

/* One backward call in fill mode assign (0: +, 1: =), and its gradients into r. */
static cf_status run_backward(oh_side *s, const oh_case *c, const oh_data *d, int assign, oh_result *r) {
    cf_op_args *a = &s->a;
    const char mark = assign ? '=' : '+';
    char name[16];
    for (int i = 0; i < c->n_inputs; i++) {
        if (!a->din[i] || is_repeat(c, i)) continue;
        CF_TRY(oh_side_put(s, &s->din[i], assign ? NULL : d->din0[i]));
        a->din_assign[i] = (unsigned char)assign; /* a repeated input's second use adds */
    }
    for (int i = 0; i < CF_OP_MAX_WEIGHTS; i++)
        if (a->dw[i]) CF_TRY(oh_side_put(s, &s->dw[i], d->dw0[i]));
    CF_TRY(cf_op_backward(s->be, a));
    for (int i = 0; i < c->n_inputs; i++) {
        if (!a->din[i] || is_repeat(c, i)) continue;
        snprintf(name, sizeof name, "din%d%c", i, mark);
        CF_TRY(snap(s, r, &s->din[i], name, "din"));
    }
    for (int i = 0; i < CF_OP_MAX_WEIGHTS; i++) {
        if (!a->dw[i]) continue;
        snprintf(name, sizeof name, "dw%d%c", i, mark);
        CF_TRY(snap(s, r, &s->dw[i], name, dw_what[i]));
    }
    return CF_OK;
}

cf_status oh_side_run(oh_side *s, const oh_case *c, const oh_data *d, oh_result *r) {
    cf_op_args *a = &s->a;
    CF_TRY(oh_side_load(s, c, d));
    CF_TRY(cf_op_forward(s->be, a));
    CF_TRY(snap(s, r, &s->out, "out", "out"));
    for (int i = 0; i < CF_OP_MAX_STATE; i++)
        if (a->state[i]) CF_TRY(snap(s, r, &s->state[i], state_names[i], "state"));
    if (!has_backward(c)) return check_unchanged(s, c, d);
    for (int assign = 0; assign < 2; assign++) CF_TRY(run_backward(s, c, d, assign, r));
    memset(a->din_assign, 0, sizeof a->din_assign);
    return check_unchanged(s, c, d);
}

cf_status oh_run_on(const cf_backend *be, cf_dtype dt, const oh_case *c, const oh_data *d, oh_result *r) {
    oh_side s;
    cf_status st = oh_side_setup(&s, c, be, dt);
    if (st == CF_OK) st = oh_side_run(&s, c, d, r);
    oh_side_free(&s);
    return st;
}

/* ---- comparison ----------------------------------------------------------- */

double oh_norm_err(const double *got, const double *want, int64_t n) {
    double worst = 0.0, scale = 1e-6;
    for (int64_t i = 0; i < n; i++) {
        const double d = fabs(got[i] - want[i]);
        if (d != d) worst = INFINITY;
        else if (d > worst) worst = d;
        if (fabs(want[i]) > scale) scale = fabs(want[i]);
    }
    return worst / scale;
}

/* Elements that are zero on one side and not on the other: dropout's masks. */
static int64_t mask_mismatches(const double *got, const double *want, int64_t n) {
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++) bad += (got[i] == 0.0) != (want[i] == 0.0);
    return bad;
}

double oh_compare(const oh_case *c, const char *label, const oh_result *got, const oh_result *want, oh_bound_fn bound,
                  char *line, size_t size) {
    double worst = 0.0;
    size_t len = line ? strlen(line) : 0;
    CHECK(got->n == want->n, "%s %s: %d tensors, the reference has %d", c->name, label, got->n, want->n);
    for (int i = 0; i < got->n && i < want->n; i++) {
        const oh_bound b = bound(c, want->t[i].what);
        const double e = oh_norm_err(got->t[i].v, want->t[i].v, want->t[i].len);
        if (!(e <= worst)) worst = e;
        CHECK(b.tol >= 0, "%s: no bound for %s %s", c->name, cf_op_name(c->kind), want->t[i].what);
        CHECK(b.tol < 0 || e <= b.tol, "%s %s: %s normalized error %.3g > %.1g (%s)", c->name, label, want->t[i].name,
              e, b.tol, b.why);
        if (line && len < size) len += (size_t)snprintf(line + len, size - len, "  %s %.1e", want->t[i].name, e);
        const int masked = strcmp(want->t[i].name, "out") == 0 || strcmp(want->t[i].name, "din0=") == 0;
        if (c->kind == CF_OP_DROPOUT && masked) {
            const int64_t bad = mask_mismatches(got->t[i].v, want->t[i].v, want->t[i].len);
            if (bad) worst = INFINITY;
            CHECK(bad == 0, "%s %s: %s: %lld of %lld elements dropped on one side only", c->name, label,
                  want->t[i].name, (long long)bad, (long long)want->t[i].len);
        }
    }
    return worst;
}

/* The reference result in dtype dt, run once and kept in ref[dt]. */
static int reference(const oh_case *c, const oh_data *d, cf_dtype dt, oh_result ref[CF_DTYPE_COUNT],
                     int ran[CF_DTYPE_COUNT]) {
    const int k = (int)dt;
    if (ran[k]) return ran[k] > 0;
    const cf_status st = oh_run_on(cf_backend_cpu_ref(), dt, c, d, &ref[k]);
    CHECK(st == CF_OK, "%s: reference run (%s): %s", c->name, cf_dtype_name(dt), cf_error_message());
    ran[k] = st == CF_OK ? 1 : -1;
    return st == CF_OK;
}

int oh_check_case(const oh_case *c, const oh_data *d, const oh_target *t, int n, oh_result *got, int verbose) {
    oh_result ref[CF_DTYPE_COUNT] = {{0}}, mine = {0};
    int ran[CF_DTYPE_COUNT] = {0}, done = 0;
    for (int k = 0; k < n; k++) {
        oh_result *r = got ? &got[k] : &mine;
        memset(r, 0, sizeof *r);
        if (!reference(c, d, t[k].ref_dtype, ref, ran)) continue;
        const cf_status st = oh_run_on(t[k].be, t[k].dtype, c, d, r);
        CHECK(st == CF_OK, "%s: %s run: %s: %s", c->name, t[k].label, cf_status_name(st), cf_error_message());
        char line[512];
        snprintf(line, sizeof line, "%-30s %-10s", c->name, t[k].label);
        if (st == CF_OK) {
            const double worst = oh_compare(c, t[k].label, r, &ref[t[k].ref_dtype], t[k].bound, line, sizeof line);
            if (verbose) printf("%s  worst %.1e\n", line, worst);
            done++;
        } else if (verbose) {
            printf("%s  FAIL (%s)\n", line, cf_status_name(st));
        }
        oh_result_free(&mine);
    }
    for (int k = 0; k < CF_DTYPE_COUNT; k++) oh_result_free(&ref[k]);
    return done;
}

/* ---- backward adds --------------------------------------------------------- */

static cf_status snap_grads(const oh_side *s, const oh_case *c, oh_result *r) {
    for (int i = 0; i < c->n_inputs; i++)
        if (s->a.din[i] && !is_repeat(c, i)) CF_TRY(snap(s, r, &s->din[i], "din", "din"));
    for (int i = 0; i < CF_OP_MAX_WEIGHTS; i++)
        if (s->a.dw[i]) CF_TRY(snap(s, r, &s->dw[i], dw_what[i], dw_what[i]));
    return CF_OK;
}

static cf_status accumulate_run(oh_side *s, const oh_case *c, const oh_data *d, oh_result *once, oh_result *twice) {
    CF_TRY(oh_side_load(s, c, d));
    CF_TRY(cf_op_forward(s->be, &s->a));
    for (int i = 0; i < c->n_inputs; i++)
        if (s->a.din[i] && !is_repeat(c, i)) CF_TRY(cf_backend_zero(s->be, s->din[i].data, cf_tensor_bytes(&s->din[i]), 1));
    for (int i = 0; i < CF_OP_MAX_WEIGHTS; i++)
        if (s->a.dw[i]) CF_TRY(cf_backend_zero(s->be, s->dw[i].data, cf_tensor_bytes(&s->dw[i]), 1));
    CF_TRY(cf_op_backward(s->be, &s->a));
    CF_TRY(snap_grads(s, c, once));
    CF_TRY(cf_op_backward(s->be, &s->a));
    return snap_grads(s, c, twice);
}

void oh_check_accumulates(const oh_case *c, const cf_backend *be, cf_dtype dt, double tol) {
    if (!has_backward(c)) return;
    oh_data d;
    oh_side s;
    oh_result once = {0}, twice = {0};
    oh_data_make(&d, c);
    cf_status st = oh_side_setup(&s, c, be, dt);
    if (st == CF_OK) st = accumulate_run(&s, c, &d, &once, &twice);
    CHECK(st == CF_OK, "%s: backward twice on %s: %s", c->name, cf_backend_name(be), cf_error_message());
    for (int i = 0; st == CF_OK && i < once.n; i++) {
        for (int64_t k = 0; k < once.t[i].len; k++) once.t[i].v[k] *= 2.0;
        const double e = oh_norm_err(twice.t[i].v, once.t[i].v, once.t[i].len);
        CHECK(e <= tol, "%s: %s %s: a second backward did not add (error %.3g)", c->name, cf_backend_name(be), once.t[i].name,
              e);
    }
    oh_result_free(&once);
    oh_result_free(&twice);
    oh_side_free(&s);
    oh_data_free(&d);
}

/* ---- the table ------------------------------------------------------------- */

void oh_check_table(void) {
    for (int k = 0; k < CF_OP_COUNT; k++) {
        int found = 0, fd = 0;
        for (size_t i = 0; i < oh_n_cases; i++) {
            found |= oh_cases[i].kind == (cf_op_kind)k;
            fd |= oh_cases[i].kind == (cf_op_kind)k && oh_cases[i].fd != NULL;
        }
        CHECK(found, "op %s has no case", cf_op_name((cf_op_kind)k));
        CHECK(fd, "op %s has no finite-difference case", cf_op_name((cf_op_kind)k));
    }
    for (size_t i = 0; i < oh_n_cases; i++)
        for (size_t j = i + 1; j < oh_n_cases; j++)
            CHECK(strcmp(oh_cases[i].name, oh_cases[j].name) != 0, "two cases named %s", oh_cases[i].name);
}
