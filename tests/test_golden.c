/* test_golden.c - the CPU reference ops against PyTorch, from the fixtures that
 * tools/make_golden.py writes (format: tests/golden/README.md).
 *
 * ops.bin holds one case per op configuration; everything about a case (the
 * op, its parameters, which inputs, weights and gradients exist) comes from
 * the file, so a new case needs no change here. Each case runs twice: with
 * f64 tensors and with f32 tensors. net.bin holds a two-cell network whose
 * structure is written out twice, in the script and in build_net() below; it
 * checks that ops compose (activations feeding ops, gradients summed where a
 * tensor fans out) to torch's loss and gradients.
 *
 * Error of a tensor = max |got - want| / max(max |want|, 1e-6).
 *
 *   ./test_golden tests/golden
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cellforge/backend.h"
#include "check.h"

/* ---- tolerances --------------------------------------------------------- */

/* Bounds on the normalized error, per op kind, for f64 and f32 tensors.
 *
 * f64: the fixture's inputs are float32 values, so the f64 run sees exactly
 * what torch saw and differs from it only in summation order (~1e-15); the
 * expected values were rounded to float32 once (2^-24 = 6e-8 relative). 1e-6
 * is that rounding with room, and far below what a real mistake gives (a wrong
 * index, sign or scale is an error of 1e-2 to 1).
 * f32: the reference still accumulates in double, but stores its result as
 * float32, one rounding like the fixture's: two half-ulp roundings, 1.2e-7.
 * A scatter-form backward adds each contribution into the float32 gradient
 * with its own rounding, so an element reached by k windows is off by up to k
 * half-ulps; the kinds below with more than 1e-6 say why. */
#define TOL_F64 1e-6
#define TOL_F32 1e-6

static const struct {
    double f64, f32;
    const char *why_f32; /* where f32 needs more than TOL_F32 */
} op_tol[CF_OP_COUNT] = {
    [CF_OP_CONV2D]         = {TOL_F64, TOL_F32, NULL},
    [CF_OP_BATCHNORM]      = {TOL_F64, 1e-5, "save_mean and save_invstd are float32 in an f32 run; the error they "
                                             "put into xhat grows with |mean| / std of a channel"},
    [CF_OP_RELU]           = {TOL_F64, TOL_F32, NULL},
    [CF_OP_AVGPOOL2D]      = {TOL_F64, 2e-6, "backward scatters into dx: up to 9 float32 roundings per element"},
    [CF_OP_MAXPOOL2D]      = {TOL_F64, TOL_F32, NULL},
    [CF_OP_GLOBAL_AVGPOOL] = {TOL_F64, TOL_F32, NULL},
    [CF_OP_LINEAR]         = {TOL_F64, TOL_F32, NULL},
    [CF_OP_SUM]            = {TOL_F64, TOL_F32, NULL},
    [CF_OP_ZERO]           = {TOL_F64, TOL_F32, NULL},
    [CF_OP_IDENTITY]       = {TOL_F64, TOL_F32, NULL},
    [CF_OP_CONCAT]         = {TOL_F64, TOL_F32, NULL},
    [CF_OP_SOFTMAX_XENT]   = {TOL_F64, TOL_F32, NULL},
    [CF_OP_DROPOUT]        = {TOL_F64, TOL_F32, "never used: PyTorch cannot give our dropout mask"},
    [CF_OP_MIX]            = {TOL_F64, TOL_F32, "never used: no fixture (PyTorch has no such op; test_grad holds it "
                                                "to finite differences)"},
};

/* The network: f64 as for one op (the inputs are exact, so composing ops adds
 * nothing but summation order). f32 stores every activation and gradient as
 * float32 between 20 ops, and the four batch norms divide by batch standard
 * deviations, which amplifies the rounding of their inputs; measured 1.1e-6,
 * 1e-5 leaves room for another compiler's rounding. */
#define TOL_NET_F64 1e-6
#define TOL_NET_F32 1e-5

/* ---- fixture reader ----------------------------------------------------- */

#define NAME_MAX_LEN 255

typedef struct golden_rec {
    char name[NAME_MAX_LEN + 1]; /* "<case>/<role>" */
    int is_i32;                  /* dtype byte 1; 0 is f32 */
    int64_t shape[4];
    int64_t numel;
    const unsigned char *data;   /* little-endian, inside golden_file.buf */
    size_t offset;               /* of the record in the file, for messages */
    int used;                    /* read by some check */
} golden_rec;

typedef struct golden_file {
    const char *path;            /* borrowed */
    unsigned char *buf;          /* owned */
    size_t size;
    golden_rec *recs;            /* owned */
    uint32_t count;
} golden_file;

static void golden_free(golden_file *g) {
    free(g->buf);
    free(g->recs);
    memset(g, 0, sizeof *g);
}

static uint64_t read_le(const unsigned char *p, int bytes) {
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* Parse buf[0..size) (taking ownership of buf, freed by golden_free even on
 * failure). Every error names the file and the byte offset. */
static cf_status golden_parse(golden_file *g, const char *path, unsigned char *buf, size_t size) {
    memset(g, 0, sizeof *g);
    g->path = path;
    g->buf = buf;
    g->size = size;
    if (size < 8) CF_FAIL(CF_ERR_PARSE, "%s: byte 0: file is %zu bytes, shorter than the 8-byte header", path, size);
    if (memcmp(buf, "CFG1", 4) != 0)
        CF_FAIL(CF_ERR_PARSE, "%s: byte 0: bad magic (expected \"CFG1\"): not a golden fixture", path);
    g->count = (uint32_t)read_le(buf + 4, 4);
    /* every record takes at least 2 + 1 + 1 + 32 + 4 bytes */
    if (g->count == 0 || g->count > (size - 8) / 40)
        CF_FAIL(CF_ERR_PARSE, "%s: byte 4: record count %u does not fit a %zu-byte file", path, g->count, size);
    g->recs = calloc(g->count, sizeof *g->recs);
    if (!g->recs) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "%s: %u records", path, g->count);
    size_t off = 8;
    for (uint32_t r = 0; r < g->count; r++) {
        golden_rec *rec = &g->recs[r];
        rec->offset = off;
        if (size - off < 2) CF_FAIL(CF_ERR_PARSE, "%s: byte %zu: truncated in record %u of %u (name length)", path, off, r, g->count);
        size_t len = (size_t)read_le(buf + off, 2);
        off += 2;
        if (len == 0 || len > NAME_MAX_LEN)
            CF_FAIL(CF_ERR_PARSE, "%s: byte %zu: record %u has a name of %zu bytes (1..%d allowed)", path, off - 2, r, len,
                    NAME_MAX_LEN);
        if (size - off < len + 1 + 32)
            CF_FAIL(CF_ERR_PARSE, "%s: byte %zu: truncated in record %u of %u (name, dtype, shape)", path, off, r, g->count);
        memcpy(rec->name, buf + off, len);
        rec->name[len] = '\0';
        if (strlen(rec->name) != len || !strchr(rec->name, '/'))
            CF_FAIL(CF_ERR_PARSE, "%s: byte %zu: record name \"%s\" is not \"<case>/<role>\"", path, off, rec->name);
        off += len;
        unsigned dtype = buf[off];
        if (dtype > 1) CF_FAIL(CF_ERR_PARSE, "%s: byte %zu: %s: dtype %u (0 = f32, 1 = i32 allowed)", path, off, rec->name, dtype);
        rec->is_i32 = dtype == 1;
        off += 1;
        rec->numel = 1;
        for (int d = 0; d < 4; d++) {
            int64_t v = (int64_t)read_le(buf + off + 8 * (size_t)d, 8);
            if (v < 1 || v > (int64_t)(size / 4))
                CF_FAIL(CF_ERR_PARSE, "%s: byte %zu: %s: dimension %d is %lld", path, off + 8 * (size_t)d, rec->name, d,
                        (long long)v);
            rec->shape[d] = v;
            rec->numel *= v;
            if (rec->numel > (int64_t)(size / 4))
                CF_FAIL(CF_ERR_PARSE, "%s: byte %zu: %s: shape larger than the file", path, off, rec->name);
        }
        off += 32;
        size_t bytes = (size_t)rec->numel * 4;
        if (size - off < bytes)
            CF_FAIL(CF_ERR_PARSE, "%s: byte %zu: %s: truncated data (%zu bytes needed, %zu left)", path, off, rec->name,
                    bytes, size - off);
        rec->data = buf + off;
        off += bytes;
        for (uint32_t q = 0; q < r; q++)
            if (strcmp(g->recs[q].name, rec->name) == 0)
                CF_FAIL(CF_ERR_PARSE, "%s: byte %zu: record \"%s\" appears twice", path, rec->offset, rec->name);
    }
    if (off != size)
        CF_FAIL(CF_ERR_PARSE, "%s: byte %zu: %zu bytes after the last of %u records", path, off, size - off, g->count);
    return CF_OK;
}

static cf_status golden_load(golden_file *g, const char *dir, const char *file, char *path, size_t path_size) {
    memset(g, 0, sizeof *g);
    snprintf(path, path_size, "%s/%s", dir, file);
    FILE *f = fopen(path, "rb");
    if (!f) CF_FAIL(CF_ERR_IO, "%s: cannot open: %s (regenerate with tools/make_golden.py)", path, strerror(errno));
    unsigned char *buf = NULL;
    size_t size = 0, cap = 0, got;
    do {
        if (size == cap) {
            cap = cap ? 2 * cap : 1 << 16;
            unsigned char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                CF_FAIL(CF_ERR_OUT_OF_MEMORY, "%s: reading %zu bytes", path, cap);
            }
            buf = nb;
        }
        got = fread(buf + size, 1, cap - size, f);
        size += got;
    } while (got > 0);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        CF_FAIL(CF_ERR_IO, "%s: read error after %zu bytes", path, size);
    }
    return golden_parse(g, path, buf, size);
}

static double rec_get(const golden_rec *r, int64_t i) {
    uint32_t bits = (uint32_t)read_le(r->data + 4 * i, 4);
    if (r->is_i32) return (double)(int32_t)bits;
    float v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

/* "<case>/<role>", or NULL; marks the record as read. */
static golden_rec *golden_find(golden_file *g, const char *case_name, const char *role) {
    char name[NAME_MAX_LEN + 2];
    snprintf(name, sizeof name, "%s/%s", case_name, role);
    for (uint32_t i = 0; i < g->count; i++)
        if (strcmp(g->recs[i].name, name) == 0) {
            g->recs[i].used = 1;
            return &g->recs[i];
        }
    return NULL;
}

/* Mark every record of a case read: used once the case has failed to set up
 * and been reported, so its records are not reported again one by one. */
static void golden_mark_case(golden_file *g, const char *case_name) {
    size_t len = strlen(case_name);
    for (uint32_t i = 0; i < g->count; i++)
        if (strncmp(g->recs[i].name, case_name, len) == 0 && g->recs[i].name[len] == '/') g->recs[i].used = 1;
}

/* ---- tensors ------------------------------------------------------------ */

/* Every buffer of one run, freed together. */
typedef struct pool {
    void *blocks[256];
    int n;
} pool;

static void pool_free(pool *p) {
    for (int i = 0; i < p->n; i++) free(p->blocks[i]);
    p->n = 0;
}

static void *pool_zeros(pool *p, size_t bytes) {
    if (p->n == (int)(sizeof p->blocks / sizeof p->blocks[0])) {
        fprintf(stderr, "test_golden: buffer pool exhausted\n");
        abort();
    }
    void *b = calloc(1, bytes ? bytes : 1);
    if (!b) {
        fprintf(stderr, "test_golden: out of memory (%zu bytes)\n", bytes);
        abort();
    }
    return p->blocks[p->n++] = b;
}

static cf_status tensor_zeros(pool *p, cf_tensor *t, cf_dtype dt, const int64_t shape[4]) {
    const cf_device cpu = {CF_DEVICE_CPU, 0};
    CF_TRY(cf_tensor_init_shape(t, dt, shape, cpu, NULL));
    t->data = pool_zeros(p, cf_tensor_bytes(t));
    return CF_OK;
}

static double tensor_get(const cf_tensor *t, int64_t i) {
    switch (t->dtype) {
    case CF_DTYPE_F64: return ((const double *)t->data)[i];
    case CF_DTYPE_F32: return ((const float *)t->data)[i];
    case CF_DTYPE_I32: return ((const int32_t *)t->data)[i];
    default: return NAN;
    }
}

static void tensor_set(cf_tensor *t, int64_t i, double v) {
    if (t->dtype == CF_DTYPE_F64) ((double *)t->data)[i] = v;
    else if (t->dtype == CF_DTYPE_F32) ((float *)t->data)[i] = (float)v;
    else ((int32_t *)t->data)[i] = (int32_t)v;
}

/* A tensor holding a record: i32 records stay i32, f32 ones become `dt`. */
static cf_status tensor_from(pool *p, cf_tensor *t, cf_dtype dt, const golden_rec *r) {
    CF_TRY(tensor_zeros(p, t, r->is_i32 ? CF_DTYPE_I32 : dt, r->shape));
    for (int64_t i = 0; i < r->numel; i++) tensor_set(t, i, rec_get(r, i));
    return CF_OK;
}

/* Normalized error of got against a record; INFINITY on a shape mismatch. */
static double rel_error(const cf_tensor *got, const golden_rec *want) {
    for (int d = 0; d < 4; d++)
        if (got->shape[d] != want->shape[d]) return INFINITY;
    double worst = 0.0, scale = 1e-6;
    for (int64_t i = 0; i < want->numel; i++) {
        double w = rec_get(want, i), d = fabs(tensor_get(got, i) - w);
        if (!(d <= worst)) worst = d; /* NaN sticks */
        if (fabs(w) > scale) scale = fabs(w);
    }
    return worst / scale;
}

/* The worst error of one run, kept for its summary line. */
typedef struct tally {
    double worst;
    char what[48];
} tally;

static void compare(tally *t, const char *case_name, cf_dtype dt, const char *what, const cf_tensor *got,
                    const golden_rec *want, double tol) {
    double e = rel_error(got, want);
    CHECK(e <= tol, "%s (%s): %s: error %.3g > %.0e, %s", case_name, cf_dtype_name(dt), what, e, tol,
          isinf(e) ? "shape differs from the fixture" : "values differ from PyTorch");
    if (!(e <= t->worst) || !t->what[0]) {
        t->worst = e;
        snprintf(t->what, sizeof t->what, "%s", what);
    }
}

/* ---- op cases ----------------------------------------------------------- */

/* One case, set up from the file. */
typedef struct op_case {
    const char *name;
    cf_op_args a;
    cf_tensor in[CF_OP_MAX_INPUTS], w[CF_OP_MAX_WEIGHTS], state[CF_OP_MAX_STATE], out, dout;
    cf_tensor din[CF_OP_MAX_INPUTS], dw[CF_OP_MAX_WEIGHTS];
    golden_rec *want_y, *want_state[2], *want_din[CF_OP_MAX_INPUTS], *want_dw[CF_OP_MAX_WEIGHTS];
    int backward; /* the fixture has dy */
} op_case;

/* Number of f32 parameters in the meta record of each kind. */
static int param_count(cf_op_kind kind) {
    switch (kind) {
    case CF_OP_CONV2D: return 7;
    case CF_OP_AVGPOOL2D:
    case CF_OP_MAXPOOL2D: return 6;
    case CF_OP_BATCHNORM: return 3;
    case CF_OP_SLICE: return 6;
    default: return 1; /* zero: stride; softmax_xent: smoothing; others: a placeholder 0 */
    }
}

static cf_status read_params(const golden_rec *meta, cf_op_kind kind, cf_op_params *p) {
    if (meta->numel != param_count(kind))
        CF_FAIL(CF_ERR_PARSE, "%s: %lld parameters, %s takes %d", meta->name, (long long)meta->numel,
                cf_op_name(kind), param_count(kind));
    double v[7];
    for (int i = 0; i < meta->numel; i++) v[i] = rec_get(meta, i);
    memset(p, 0, sizeof *p);
    switch (kind) {
    case CF_OP_CONV2D:
        p->conv = (cf_conv2d_params){.stride_h = (int)v[0], .stride_w = (int)v[1], .pad_h = (int)v[2],
                                     .pad_w = (int)v[3], .dil_h = (int)v[4], .dil_w = (int)v[5], .groups = (int)v[6]};
        break;
    case CF_OP_AVGPOOL2D:
    case CF_OP_MAXPOOL2D:
        p->pool = (cf_pool2d_params){.kernel_h = (int)v[0], .kernel_w = (int)v[1], .stride_h = (int)v[2],
                                     .stride_w = (int)v[3], .pad_h = (int)v[4], .pad_w = (int)v[5]};
        break;
    case CF_OP_BATCHNORM:
        p->bn = (cf_batchnorm_params){.eps = v[0], .momentum = v[1], .training = v[2] != 0.0};
        break;
    case CF_OP_ZERO: p->zero.stride = (int)v[0]; break;
    case CF_OP_SLICE:
        p->slice = (cf_slice_params){.c0 = (int)v[0], .c = (int)v[1], .top = (int)v[2], .h = (int)v[3],
                                     .left = (int)v[4], .w = (int)v[5]};
        break;
    case CF_OP_SOFTMAX_XENT: p->xent.label_smoothing = v[0]; break;
    case CF_OP_DROPOUT:
        CF_FAIL(CF_ERR_UNSUPPORTED, "%s: dropout's mask comes from our own RNG; PyTorch cannot give it", meta->name);
    default: break;
    }
    return CF_OK;
}

/* Build case `case_name` (whose meta record is `meta`) in dtype dt. Missing or
 * inconsistent records fail with the record's name. */
static cf_status op_case_setup(op_case *c, pool *p, golden_file *g, const char *case_name, const golden_rec *meta,
                               cf_dtype dt) {
    char role[32];
    memset(c, 0, sizeof *c);
    c->name = case_name;
    cf_op_args *a = &c->a;
    const char *op = strchr(meta->name, '/') + strlen("/meta:");
    CF_TRY(cf_op_lookup(op, &a->kind));
    CF_TRY(read_params(meta, a->kind, &a->params));

    for (int i = 0; i < CF_OP_MAX_INPUTS; i++) {
        snprintf(role, sizeof role, "x%d", i);
        golden_rec *r = golden_find(g, case_name, role);
        if (!r) break;
        CF_TRY(tensor_from(p, &c->in[i], dt, r));
        a->in[i] = &c->in[i];
        a->n_inputs = i + 1;
    }
    if (a->n_inputs == 0) CF_FAIL(CF_ERR_PARSE, "%s: case %s has no input x0", g->path, case_name);
    for (int i = 0; i < CF_OP_MAX_WEIGHTS; i++) {
        snprintf(role, sizeof role, "w%d", i);
        golden_rec *r = golden_find(g, case_name, role);
        if (!r) continue;
        CF_TRY(tensor_from(p, &c->w[i], dt, r));
        a->w[i] = &c->w[i];
    }
    if (a->kind == CF_OP_BATCHNORM) {
        const int64_t vec[4] = {a->in[0]->shape[1], 1, 1, 1};
        for (int i = 0; i < CF_OP_MAX_STATE; i++) {
            golden_rec *r = NULL;
            if (i < 2) {
                snprintf(role, sizeof role, "s%d", i);
                if (!(r = golden_find(g, case_name, role)))
                    CF_FAIL(CF_ERR_PARSE, "%s: batchnorm case %s has no %s (running stats)", g->path, case_name, role);
                CF_TRY(tensor_from(p, &c->state[i], dt, r));
                snprintf(role, sizeof role, "s%d_after", i);
                c->want_state[i] = golden_find(g, case_name, role);
            } else {
                CF_TRY(tensor_zeros(p, &c->state[i], dt, vec)); /* save_mean, save_invstd */
            }
            a->state[i] = &c->state[i];
        }
    }
    int64_t shape[4];
    CF_TRY(cf_op_infer_shape(a, shape));
    CF_TRY(tensor_zeros(p, &c->out, dt, shape));
    a->out = &c->out;
    if (!(c->want_y = golden_find(g, case_name, "y")))
        CF_FAIL(CF_ERR_PARSE, "%s: case %s has no expected output y", g->path, case_name);

    golden_rec *dy = golden_find(g, case_name, "dy");
    if (!dy) return CF_OK;
    c->backward = 1;
    CF_TRY(tensor_from(p, &c->dout, dt, dy));
    a->dout = &c->dout;
    int grads = 0;
    for (int i = 0; i < a->n_inputs; i++) {
        snprintf(role, sizeof role, "dx%d", i);
        if (!(c->want_din[i] = golden_find(g, case_name, role))) continue;
        CF_TRY(tensor_zeros(p, &c->din[i], dt, c->in[i].shape));
        a->din[i] = &c->din[i];
        grads++;
    }
    for (int i = 0; i < CF_OP_MAX_WEIGHTS; i++) {
        snprintf(role, sizeof role, "dw%d", i);
        if (!(c->want_dw[i] = golden_find(g, case_name, role))) continue;
        if (!a->w[i]) CF_FAIL(CF_ERR_PARSE, "%s: case %s has %s but no w%d", g->path, case_name, role, i);
        CF_TRY(tensor_zeros(p, &c->dw[i], dt, c->w[i].shape));
        a->dw[i] = &c->dw[i];
        grads++;
    }
    if (grads == 0) CF_FAIL(CF_ERR_PARSE, "%s: case %s has dy but no expected gradient", g->path, case_name);
    return CF_OK;
}

/* Run one case in dt; returns the worst error, -1 where it could not run. */
static double run_op_case(golden_file *g, const char *case_name, const golden_rec *meta, cf_dtype dt, double tol,
                          tally *t) {
    const cf_backend *be = cf_backend_cpu_ref();
    op_case c;
    pool p = {0};
    char what[32];
    cf_status s = op_case_setup(&c, &p, g, case_name, meta, dt);
    CHECK(s == CF_OK, "%s (%s): cannot set up: %s: %s", case_name, cf_dtype_name(dt), cf_status_name(s),
          cf_error_message());
    if (s != CF_OK) goto done;
    s = cf_op_forward(be, &c.a);
    CHECK(s == CF_OK, "%s (%s): forward: %s", case_name, cf_dtype_name(dt), cf_error_message());
    if (s != CF_OK) goto done;
    compare(t, case_name, dt, "y", &c.out, c.want_y, tol);
    for (int i = 0; i < 2; i++)
        if (c.want_state[i]) compare(t, case_name, dt, i ? "running_var" : "running_mean", &c.state[i], c.want_state[i], tol);
    if (!c.backward) goto done;
    s = cf_op_backward(be, &c.a);
    CHECK(s == CF_OK, "%s (%s): backward: %s", case_name, cf_dtype_name(dt), cf_error_message());
    if (s != CF_OK) goto done;
    for (int i = 0; i < CF_OP_MAX_INPUTS; i++)
        if (c.want_din[i]) {
            snprintf(what, sizeof what, "dx%d", i);
            compare(t, case_name, dt, what, &c.din[i], c.want_din[i], tol);
        }
    for (int i = 0; i < CF_OP_MAX_WEIGHTS; i++)
        if (c.want_dw[i]) {
            snprintf(what, sizeof what, "dw%d", i);
            compare(t, case_name, dt, what, &c.dw[i], c.want_dw[i], tol);
        }
done:
    pool_free(&p);
    return s == CF_OK ? t->worst : -1.0;
}

static void run_ops(golden_file *g) {
    int n_cases = 0, seen[CF_OP_COUNT] = {0};
    printf("%-24s %-15s %-32s %-32s\n", "case", "op", "f64 max error, bound (where)", "f32 max error, bound (where)");
    for (uint32_t i = 0; i < g->count; i++) {
        golden_rec *meta = &g->recs[i];
        char case_name[NAME_MAX_LEN + 1];
        const char *slash = strchr(meta->name, '/');
        if (strncmp(slash + 1, "meta:", 5) != 0) continue;
        meta->used = 1;
        n_cases++;
        snprintf(case_name, sizeof case_name, "%.*s", (int)(slash - meta->name), meta->name);
        cf_op_kind kind;
        cf_status s = cf_op_lookup(slash + 6, &kind);
        if (s == CF_OK) seen[kind] = 1;
        double tol64 = s == CF_OK ? op_tol[kind].f64 : TOL_F64, tol32 = s == CF_OK ? op_tol[kind].f32 : TOL_F32;
        tally t64 = {0}, t32 = {0};
        double e64 = run_op_case(g, case_name, meta, CF_DTYPE_F64, tol64, &t64);
        double e32 = run_op_case(g, case_name, meta, CF_DTYPE_F32, tol32, &t32);
        if (e64 < 0 || e32 < 0) golden_mark_case(g, case_name);
        char c64[80] = "not run", c32[80] = "not run";
        if (e64 >= 0) snprintf(c64, sizeof c64, "%.2e %s %.0e (%s)", e64, e64 <= tol64 ? "<=" : ">", tol64, t64.what);
        if (e32 >= 0) snprintf(c32, sizeof c32, "%.2e %s %.0e (%s)", e32, e32 <= tol32 ? "<=" : ">", tol32, t32.what);
        printf("%-24s %-15s %-32s %-32s\n", case_name, slash + 6, c64, c32);
    }
    CHECK(n_cases > 0, "%s: no cases (no \"<case>/meta:<op>\" records)", g->path);
    /* dropout: PyTorch cannot draw our mask; mix: a weighted sum PyTorch has no
     * op for, checked against finite differences and by hand in test_grad */
    for (int k = 0; k < CF_OP_COUNT; k++)
        if (k != CF_OP_DROPOUT && k != CF_OP_MIX)
            CHECK(seen[k], "%s: no case for op %s", g->path, cf_op_name((cf_op_kind)k));
    printf("%s: %d cases\n", g->path, n_cases);
}

/* ---- the network ---------------------------------------------------------- */

/* Parameters in the order of PARAMS in tools/make_golden.py. */
enum { P_STEM, P_BN0_G, P_BN0_B, P_C1_3X3, P_BN1_G, P_BN1_B, P_C1_1X1, P_BN2_G, P_BN2_B, P_C2_DW, P_C2_PW, P_FC_W,
       P_FC_B, N_PARAMS, P_NONE = -1 };
static const char *const param_names[N_PARAMS] = {
    "stem_conv", "bn0_gamma", "bn0_beta", "c1_conv3x3", "bn1_gamma", "bn1_beta", "c1_conv1x1",
    "bn2_gamma", "bn2_beta",  "c2_dwconv", "c2_pwconv", "fc_weight", "fc_bias",
};

/* Activations; A_X is the input, A_LABELS the i32 labels (no gradient). */
enum { A_X, A_LABELS, A_C0, A_S, A_R1, A_C1, A_N1, A_R2, A_C2, A_B2, A_P1, A_ID, A_OUT1, A_A, A_R3, A_D1, A_D2, A_B,
       A_OUT2, A_G, A_LOGITS, A_LOSS, N_ACT };

#define N_BN 4
#define MAX_LAYERS 24

typedef struct net {
    cf_dtype dt;
    pool mem;
    cf_tensor act[N_ACT], dact[N_ACT];     /* activations and their gradients */
    cf_tensor param[N_PARAMS], dparam[N_PARAMS];
    cf_tensor bn_state[N_BN][CF_OP_MAX_STATE]; /* running mean, running var, save mean, save invstd */
    int n_bn;
    cf_op_args layer[MAX_LAYERS];          /* in forward order */
    int n_layers;
} net;

/* Append out = kind(inputs; weights), allocating out and its gradient. */
static cf_status net_add(net *n, cf_op_kind kind, cf_op_params params, int n_in, const int *in, int w0, int w1,
                         int out) {
    CF_ASSERT(n->n_layers < MAX_LAYERS);
    cf_op_args *a = &n->layer[n->n_layers++];
    memset(a, 0, sizeof *a);
    a->kind = kind;
    a->params = params;
    a->n_inputs = n_in;
    for (int i = 0; i < n_in; i++) {
        a->in[i] = &n->act[in[i]];
        a->din[i] = in[i] == A_LABELS ? NULL : &n->dact[in[i]];
    }
    const int w[2] = {w0, w1};
    for (int i = 0; i < 2; i++)
        if (w[i] != P_NONE) {
            a->w[i] = &n->param[w[i]];
            a->dw[i] = &n->dparam[w[i]];
        }
    if (kind == CF_OP_BATCHNORM) {
        CF_ASSERT(n->n_bn < N_BN);
        const int64_t vec[4] = {a->in[0]->shape[1], 1, 1, 1};
        for (int i = 0; i < CF_OP_MAX_STATE; i++) {
            CF_TRY(tensor_zeros(&n->mem, &n->bn_state[n->n_bn][i], n->dt, vec));
            a->state[i] = &n->bn_state[n->n_bn][i];
        }
        for (int64_t c = 0; c < vec[0]; c++) tensor_set(&n->bn_state[n->n_bn][1], c, 1.0); /* running var 1 */
        n->n_bn++;
    }
    int64_t shape[4];
    CF_TRY(cf_op_infer_shape(a, shape));
    CF_TRY(tensor_zeros(&n->mem, &n->act[out], n->dt, shape));
    CF_TRY(tensor_zeros(&n->mem, &n->dact[out], n->dt, shape));
    a->out = &n->act[out];
    a->dout = &n->dact[out];
    return CF_OK;
}

#define CONV(sh, sw, ph, pw, g) \
    (cf_op_params){.conv = {.stride_h = sh, .stride_w = sw, .pad_h = ph, .pad_w = pw, .dil_h = 1, .dil_w = 1, .groups = g}}
#define POOL(k, s, p) \
    (cf_op_params){.pool = {.kernel_h = k, .kernel_w = k, .stride_h = s, .stride_w = s, .pad_h = p, .pad_w = p}}
#define BN (cf_op_params){.bn = {.eps = 1e-5, .momentum = 0.1, .training = 1}}
#define NONE (cf_op_params){.zero = {0}}
#define IN(...) (sizeof((int[]){__VA_ARGS__}) / sizeof(int)), (int[]){__VA_ARGS__}

/* The network of tools/make_golden.py's header, layer by layer. */
static cf_status build_net(net *n, golden_file *g) {
    golden_rec *r;
    if (!(r = golden_find(g, "net", "x"))) CF_FAIL(CF_ERR_PARSE, "%s: no net/x", g->path);
    CF_TRY(tensor_from(&n->mem, &n->act[A_X], n->dt, r));
    CF_TRY(tensor_zeros(&n->mem, &n->dact[A_X], n->dt, r->shape));
    if (!(r = golden_find(g, "net", "labels"))) CF_FAIL(CF_ERR_PARSE, "%s: no net/labels", g->path);
    CF_TRY(tensor_from(&n->mem, &n->act[A_LABELS], n->dt, r));
    for (int i = 0; i < N_PARAMS; i++) {
        char role[64];
        snprintf(role, sizeof role, "w/%s", param_names[i]);
        if (!(r = golden_find(g, "net", role))) CF_FAIL(CF_ERR_PARSE, "%s: no net/%s", g->path, role);
        CF_TRY(tensor_from(&n->mem, &n->param[i], n->dt, r));
        CF_TRY(tensor_zeros(&n->mem, &n->dparam[i], n->dt, r->shape));
    }
    /* stem: s = BN0(conv3x3(x)) */
    CF_TRY(net_add(n, CF_OP_CONV2D, CONV(1, 1, 1, 1, 1), IN(A_X), P_STEM, P_NONE, A_C0));
    CF_TRY(net_add(n, CF_OP_BATCHNORM, BN, IN(A_C0), P_BN0_G, P_BN0_B, A_S));
    /* cell 1: n1 = BN1(conv3x3(relu(s))) */
    CF_TRY(net_add(n, CF_OP_RELU, NONE, IN(A_S), P_NONE, P_NONE, A_R1));
    CF_TRY(net_add(n, CF_OP_CONV2D, CONV(1, 1, 1, 1, 1), IN(A_R1), P_C1_3X3, P_NONE, A_C1));
    CF_TRY(net_add(n, CF_OP_BATCHNORM, BN, IN(A_C1), P_BN1_G, P_BN1_B, A_N1));
    /* out1 = avgpool(s) + BN2(conv1x1(relu(n1))) + identity(s) */
    CF_TRY(net_add(n, CF_OP_RELU, NONE, IN(A_N1), P_NONE, P_NONE, A_R2));
    CF_TRY(net_add(n, CF_OP_CONV2D, CONV(1, 1, 0, 0, 1), IN(A_R2), P_C1_1X1, P_NONE, A_C2));
    CF_TRY(net_add(n, CF_OP_BATCHNORM, BN, IN(A_C2), P_BN2_G, P_BN2_B, A_B2));
    CF_TRY(net_add(n, CF_OP_AVGPOOL2D, POOL(3, 1, 1), IN(A_S), P_NONE, P_NONE, A_P1));
    CF_TRY(net_add(n, CF_OP_IDENTITY, NONE, IN(A_S), P_NONE, P_NONE, A_ID));
    CF_TRY(net_add(n, CF_OP_SUM, NONE, IN(A_P1, A_B2, A_ID), P_NONE, P_NONE, A_OUT1));
    /* cell 2: a = maxpool3x3_s2_p1(out1) */
    CF_TRY(net_add(n, CF_OP_MAXPOOL2D, POOL(3, 2, 1), IN(A_OUT1), P_NONE, P_NONE, A_A));
    /* b = BN3(conv1x1(dwconv3x3_s2(relu(out1)))), not affine */
    CF_TRY(net_add(n, CF_OP_RELU, NONE, IN(A_OUT1), P_NONE, P_NONE, A_R3));
    CF_TRY(net_add(n, CF_OP_CONV2D, CONV(2, 2, 1, 1, 4), IN(A_R3), P_C2_DW, P_NONE, A_D1));
    CF_TRY(net_add(n, CF_OP_CONV2D, CONV(1, 1, 0, 0, 1), IN(A_D1), P_C2_PW, P_NONE, A_D2));
    CF_TRY(net_add(n, CF_OP_BATCHNORM, BN, IN(A_D2), P_NONE, P_NONE, A_B));
    CF_TRY(net_add(n, CF_OP_CONCAT, NONE, IN(A_A, A_B), P_NONE, P_NONE, A_OUT2));
    /* head */
    CF_TRY(net_add(n, CF_OP_GLOBAL_AVGPOOL, NONE, IN(A_OUT2), P_NONE, P_NONE, A_G));
    CF_TRY(net_add(n, CF_OP_LINEAR, NONE, IN(A_G), P_FC_W, P_FC_B, A_LOGITS));
    CF_TRY(net_add(n, CF_OP_SOFTMAX_XENT, (cf_op_params){.xent = {.label_smoothing = 0.1}}, IN(A_LOGITS, A_LABELS),
                   P_NONE, P_NONE, A_LOSS));
    return CF_OK;
}

/* Forward in order, then backward in reverse order from dloss = 1. A tensor
 * read by several layers (s, out1) collects their gradients in one buffer,
 * since backward adds; the reverse order finishes it before its producer's
 * backward reads it. */
static cf_status net_train_step(net *n) {
    const cf_backend *be = cf_backend_cpu_ref();
    for (int i = 0; i < n->n_layers; i++) CF_TRY(cf_op_forward(be, &n->layer[i]));
    tensor_set(&n->dact[A_LOSS], 0, 1.0);
    for (int i = n->n_layers - 1; i >= 0; i--) CF_TRY(cf_op_backward(be, &n->layer[i]));
    return CF_OK;
}

static void run_net(golden_file *g, cf_dtype dt, double tol) {
    net n;
    memset(&n, 0, sizeof n);
    n.dt = dt;
    tally t = {0};
    cf_status s = build_net(&n, g);
    CHECK(s == CF_OK, "net (%s): cannot build: %s: %s", cf_dtype_name(dt), cf_status_name(s), cf_error_message());
    if (s == CF_OK) {
        s = net_train_step(&n);
        CHECK(s == CF_OK, "net (%s): %s: %s", cf_dtype_name(dt), cf_status_name(s), cf_error_message());
    }
    if (s != CF_OK) goto done;
    char role[64];
    const struct {
        const char *role;
        const cf_tensor *got;
    } acts[] = {{"loss", &n.act[A_LOSS]}, {"logits", &n.act[A_LOGITS]}, {"dx", &n.dact[A_X]}};
    for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++) {
        golden_rec *r = golden_find(g, "net", acts[i].role);
        CHECK(r, "%s: no net/%s", g->path, acts[i].role);
        if (r) compare(&t, "net", dt, acts[i].role, acts[i].got, r, tol);
    }
    for (int i = 0; i < N_PARAMS; i++) {
        snprintf(role, sizeof role, "dw/%s", param_names[i]);
        golden_rec *r = golden_find(g, "net", role);
        CHECK(r, "%s: no net/%s", g->path, role);
        if (r) compare(&t, "net", dt, role, &n.dparam[i], r, tol);
    }
    for (int b = 0; b < N_BN; b++)
        for (int k = 0; k < 2; k++) {
            snprintf(role, sizeof role, "bn%d/%s", b, k ? "var_after" : "mean_after");
            golden_rec *r = golden_find(g, "net", role);
            CHECK(r, "%s: no net/%s", g->path, role);
            if (r) compare(&t, "net", dt, role, &n.bn_state[b][k], r, tol);
        }
    printf("net %s: loss %.9f, max error %.2e %s %.0e (%s)\n", cf_dtype_name(dt), tensor_get(&n.act[A_LOSS], 0),
           t.worst, t.worst <= tol ? "<=" : ">", tol, t.what);
done:
    pool_free(&n.mem);
}

/* ---- the reader and driver on bad input ---------------------------------- */

static void put(unsigned char *buf, size_t *off, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; i++) buf[(*off)++] = (unsigned char)(v >> (8 * i));
}

static void put_record(unsigned char *buf, size_t *off, const char *name, const float *v, int64_t n) {
    put(buf, off, strlen(name), 2);
    memcpy(buf + *off, name, strlen(name));
    *off += strlen(name);
    put(buf, off, 0, 1);
    const int64_t shape[4] = {n, 1, 1, 1};
    for (int d = 0; d < 4; d++) put(buf, off, (uint64_t)shape[d], 8);
    for (int64_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &v[i], 4);
        put(buf, off, bits, 4);
    }
}

/* Every truncation of a real fixture fails with a parse error that names the
 * file and an offset; so do a bad magic and an unknown op name. */
static void check_bad_files(const golden_file *good) {
    size_t cuts[] = {0, 3, 7, 8, 9, 11, 20, 43, 60, good->size / 2, good->size - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        unsigned char *copy = malloc(good->size);
        if (!copy) abort();
        memcpy(copy, good->buf, cuts[i]);
        golden_file g;
        cf_status s = golden_parse(&g, "cut.bin", copy, cuts[i]);
        CHECK(s == CF_ERR_PARSE && strstr(cf_error_message(), "cut.bin: byte "),
              "a file cut to %zu bytes: %s: %s", cuts[i], cf_status_name(s), cf_error_message());
        golden_free(&g);
    }
    unsigned char *bad = malloc(good->size);
    if (!bad) abort();
    memcpy(bad, good->buf, good->size);
    bad[0] = 'X';
    golden_file g;
    cf_status s = golden_parse(&g, "magic.bin", bad, good->size);
    CHECK(s == CF_ERR_PARSE && strstr(cf_error_message(), "bad magic"), "bad magic: %s", cf_error_message());
    golden_free(&g);

    /* a case naming an op the registry does not know */
    unsigned char *buf = malloc(256);
    if (!buf) abort();
    size_t off = 0;
    const float zero = 0.0f, x[4] = {1, 2, 3, 4};
    memcpy(buf, "CFG1", 4);
    off = 4;
    put(buf, &off, 2, 4);
    put_record(buf, &off, "bad/meta:conv3d", &zero, 1);
    put_record(buf, &off, "bad/x0", x, 4);
    s = golden_parse(&g, "unknown_op.bin", buf, off);
    CHECK(s == CF_OK, "hand-made fixture: %s", cf_error_message());
    if (s == CF_OK) {
        op_case c;
        pool p = {0};
        s = op_case_setup(&c, &p, &g, "bad", &g.recs[0], CF_DTYPE_F64);
        CHECK(s == CF_ERR_UNKNOWN_NAME && strstr(cf_error_message(), "conv3d"),
              "a fixture with op conv3d: %s: %s", cf_status_name(s), cf_error_message());
        pool_free(&p);
    }
    golden_free(&g);
}

/* Every record must have been read by some check: a role the test does not
 * know would otherwise be silently ignored. */
static void check_all_read(const golden_file *g) {
    for (uint32_t i = 0; i < g->count; i++)
        CHECK(g->recs[i].used, "%s: byte %zu: record \"%s\" is not read by any check (unknown role?)", g->path,
              g->recs[i].offset, g->recs[i].name);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s GOLDEN_DIR   (the folder with ops.bin and net.bin)\n", argv[0]);
        return 2;
    }
    char path_ops[1024], path_net[1024];
    golden_file ops, netf;
    cf_status s = golden_load(&ops, argv[1], "ops.bin", path_ops, sizeof path_ops);
    CHECK(s == CF_OK, "%s", cf_error_message());
    if (s == CF_OK) {
        run_ops(&ops);
        check_all_read(&ops);
        check_bad_files(&ops);
    }
    golden_free(&ops);

    s = golden_load(&netf, argv[1], "net.bin", path_net, sizeof path_net);
    CHECK(s == CF_OK, "%s", cf_error_message());
    if (s == CF_OK) {
        run_net(&netf, CF_DTYPE_F64, TOL_NET_F64);
        run_net(&netf, CF_DTYPE_F32, TOL_NET_F32);
        check_all_read(&netf);
    }
    golden_free(&netf);
    return test_finish("test_golden");
}
