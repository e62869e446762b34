/* test_cuda_loops.c - (gpu) the CUDA backend's memory and training-loop entries
 * against the host loops behind the cf_backend_* wrappers (what they run on
 * cf_backend_cpu_ref(), which has no device entries), from the same seeded
 * inputs (cf_rng):
 *
 *   memory     an absurd allocation fails with CF_ERR_DEVICE_OOM, not an abort,
 *              and the next one works; allocations are zeroed; zero and
 *              device-to-device copy move exactly the bytes asked for
 *   drop_path  bit for bit
 *   scale      bit for bit
 *   norm2      relative error 1e-6; NaN or infinity in g gives a non-finite sum
 *   sgd        Nesterov and plain, clip 1 and 0.5, with and without weight
 *              decay, two steps from a non-zero momentum buffer
 *   steps      step statistics on the device: hits and loss sums equal to
 *              the host's (ties take the first logit), the clipping factor
 *              of the host rule, a NaN, divergent or non-finite-gradient
 *              step marked once and no SGD update after it
 *   batch      a synthetic dataset, augmentation on and off, idx in device
 *              memory: x within 1e-6 of the host's floats, y exact; two
 *              datasets in turn (the device keeps a copy of each)
 *   16-bit     narrow, widen_add and drop-path in bf16 and f16 bit for bit;
 *              a bf16 batch within one bf16 unit; loss scaling on the
 *              device: the seeds, a scaled clip by the host rule, an
 *              overflow that halves the scale and an SGD step that skips
 *
 * Exits 77 (skipped) in a build without CUDA or on a machine without a GPU.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cellforge/backend.h"
#include "cellforge/data.h"
#include "cellforge/rng.h"
#include "check.h"
#include "cuda_test.h"
#include "op_harness.h" /* oh_norm_err */

/* What each comparison allows, and why. drop_path and scale must match bit for
 * bit: each element is one f32 multiply by the same f32 factor. */
#define TOL_NORM2 1e-6   /* relative: double sums of the same squares, in another order */
#define TOL_SGD 2.5e-7   /* normalized: the same f32 formula, but nvcc contracts a*b + c into one
                            FMA (one rounding fewer): measured 7e-8 with every such pair fused */
#define TOL_BATCH 1e-6   /* absolute, on values within [-3, 3]: v * scale + shift rounded once,
                            or fused: <= 1 ulp (2.4e-7) */

static cf_backend *gpu;
static const cf_backend *host;

/* ---- device buffers ----------------------------------------------------------- */

/* n floats of device memory holding v (NULL: as allocated); NULL on failure. */
static void *dev_put(const void *v, size_t bytes) {
    void *p = NULL;
    cf_status st = cf_backend_alloc(gpu, bytes, &p);
    if (st == CF_OK && v) st = cf_backend_copy(gpu, p, v, bytes, CF_COPY_TO_DEVICE);
    CHECK(st == CF_OK, "device buffer of %zu bytes: %s: %s", bytes, cf_status_name(st), cf_error_message());
    if (st != CF_OK) {
        cf_backend_free(gpu, p);
        return NULL;
    }
    return p;
}

static int dev_get(void *dst, const void *p, size_t bytes) {
    const cf_status st = cf_backend_copy(gpu, dst, p, bytes, CF_COPY_TO_HOST);
    CHECK(st == CF_OK, "copy of %zu bytes to the host: %s: %s", bytes, cf_status_name(st), cf_error_message());
    return st == CF_OK;
}

static float *normals(size_t n, float scale, cf_rng *r) {
    float *v = malloc((n ? n : 1) * sizeof *v);
    CF_ASSERT(v != NULL);
    for (size_t i = 0; i < n; i++) v[i] = cf_rng_normal(r) * scale;
    return v;
}

static double norm_err_f(const float *got, const float *want, size_t n) {
    double *g = malloc((n ? n : 1) * sizeof *g), *w = malloc((n ? n : 1) * sizeof *w);
    CF_ASSERT(g && w);
    for (size_t i = 0; i < n; i++) g[i] = got[i], w[i] = want[i];
    const double e = oh_norm_err(g, w, (int64_t)n);
    free(g);
    free(w);
    return e;
}

/* ---- memory ---------------------------------------------------------------------- */

static void check_memory(void) {
    void *p = (void *)&p;
    const cf_status st = cf_backend_alloc(gpu, (size_t)1 << 50, &p);
    CHECK(st == CF_ERR_DEVICE_OOM, "1 PiB allocation: %s, expected device_oom (%s)", cf_status_name(st),
          cf_error_message());
    CHECK(p == NULL, "a failed allocation left a pointer");
    printf("memory: 1 PiB allocation -> %s: %s\n", cf_status_name(st), cf_error_message());
    if (st == CF_OK) cf_backend_free(gpu, p);

    /* after the failure: a normal allocation, zeroed, and zero/copy on exact byte ranges */
    enum { BYTES = (1 << 20) + 13, LO = 1001, LEN = 4099 };
    unsigned char *want = malloc(BYTES), *back = malloc(BYTES);
    CF_ASSERT(want && back);
    void *a = dev_put(NULL, BYTES), *b = dev_put(NULL, BYTES);
    if (a && b && dev_get(back, a, BYTES)) {
        size_t nonzero = 0;
        for (size_t i = 0; i < BYTES; i++) nonzero += back[i] != 0;
        CHECK(nonzero == 0, "a fresh allocation has %zu non-zero bytes", nonzero);
        cf_rng r = cf_rng_make(1, cf_rng_stream(0, CF_RNG_PURPOSE_TEST));
        for (size_t i = 0; i < BYTES; i++) want[i] = (unsigned char)(cf_rng_u32(&r) | 1);
        CHECK_OK(cf_backend_copy(gpu, a, want, BYTES, CF_COPY_TO_DEVICE));
        CHECK_OK(cf_backend_zero(gpu, (char *)a + LO, LEN, 1));
        memset(want + LO, 0, LEN);
        CHECK_OK(cf_backend_copy(gpu, b, a, BYTES, CF_COPY_ON_DEVICE));
        memset(back, 0xAB, BYTES);
        if (dev_get(back, b, BYTES))
            CHECK(memcmp(back, want, BYTES) == 0, "zero of bytes [%d, %d) and a device copy: wrong bytes", LO, LO + LEN);
    }
    cf_backend_free(gpu, a);
    cf_backend_free(gpu, b);
    free(want);
    free(back);
}

/* ---- drop_path and scale: bit for bit ----------------------------------------------- */

typedef struct drop_case {
    int n;
    size_t per;
    double p;
    uint64_t seed, stream, index0;
} drop_case;

static const drop_case drop_cases[] = {
    {6, 8 * 7 * 7, 0.3, 7, 11, 0},
    {13, 3 * 5 * 5, 0.2, 0x9e3779b97f4a7c15ull, 0x0000000500000004ull, (1ull << 33) + 17},
    {4, 16 * 14 * 14, 0.0, 3, 4, 5},
};

static void check_drop_path(void) {
    for (size_t k = 0; k < sizeof drop_cases / sizeof drop_cases[0]; k++) {
        const drop_case *c = &drop_cases[k];
        const size_t n = (size_t)c->n * c->per;
        cf_rng r = cf_rng_make(2, cf_rng_stream(k, CF_RNG_PURPOSE_TEST));
        float *want = normals(n, 1.0f, &r), *got = malloc(n * sizeof *got);
        CF_ASSERT(got != NULL);
        float *x = dev_put(want, n * sizeof *want);
        CHECK_OK(cf_backend_drop_path(host, want, CF_DTYPE_F32, c->n, c->per, c->p, c->seed, c->stream, c->index0));
        if (x) {
            CHECK_OK(cf_backend_drop_path(gpu, x, CF_DTYPE_F32, c->n, c->per, c->p, c->seed, c->stream, c->index0));
            if (dev_get(got, x, n * sizeof *got)) {
                size_t differ = 0;
                for (size_t i = 0; i < n; i++) differ += memcmp(&got[i], &want[i], sizeof got[i]) != 0;
                CHECK(differ == 0, "drop_path %d x %zu p %g: %zu elements differ from the host", c->n, c->per, c->p,
                      differ);
                printf("drop_path %2d x %-5zu p %.1f: %zu elements differ\n", c->n, c->per, c->p, differ);
            }
        }
        cf_backend_free(gpu, x);
        free(want);
        free(got);
    }
}

static void check_scale(void) {
    static const size_t sizes[] = {1, 1000, (1u << 20) + 3};
    static const float factors[] = {0.37f, -2.5f};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
        for (size_t f = 0; f < sizeof factors / sizeof factors[0]; f++) {
            const size_t n = sizes[k];
            cf_rng r = cf_rng_make(3, cf_rng_stream(k, CF_RNG_PURPOSE_TEST));
            float *want = normals(n, 1.0f, &r), *got = malloc(n * sizeof *got);
            CF_ASSERT(got != NULL);
            float *x = dev_put(want, n * sizeof *want);
            CHECK_OK(cf_backend_scale(host, want, n, factors[f], 1));
            if (x) {
                CHECK_OK(cf_backend_scale(gpu, x, n, factors[f], 1));
                if (dev_get(got, x, n * sizeof *got))
                    CHECK(memcmp(got, want, n * sizeof *got) == 0, "scale of %zu floats by %g differs from the host",
                          n, factors[f]);
            }
            cf_backend_free(gpu, x);
            free(want);
            free(got);
        }
    printf("scale: %zu sizes x %zu factors compared bit for bit\n", sizeof sizes / sizeof sizes[0],
           sizeof factors / sizeof factors[0]);
}

/* ---- norm2 ---------------------------------------------------------------------------- */

/* Sum of squares on both sides; `poison` (if not 0) is written at index `at` first. */
static void norm2_case(size_t n, size_t at, float poison, int want_finite) {
    cf_rng r = cf_rng_make(4, cf_rng_stream(n, CF_RNG_PURPOSE_TEST));
    float *g = normals(n, 1.0f, &r);
    if (poison != 0.0f) g[at] = poison; /* NaN != 0 too */
    double want = 0, got = NAN;
    float *d = dev_put(g, n * sizeof *g);
    CHECK_OK(cf_backend_norm2(host, g, n, 1, &want));
    if (d || n == 0) {
        const cf_status st = cf_backend_norm2(gpu, d, n, 1, &got);
        CHECK(st == CF_OK, "norm2 of %zu floats: %s: %s", n, cf_status_name(st), cf_error_message());
        if (!want_finite) {
            CHECK(!isfinite(got), "norm2 of %zu floats with %g at %zu: %g, expected NaN or infinity", n, poison, at,
                  got);
            printf("norm2 %8zu floats with %g at %zu: %g\n", n, poison, at, got);
        } else {
            const double e = fabs(got - want) / (want > 0 ? want : 1.0);
            CHECK(e <= TOL_NORM2, "norm2 of %zu floats: %.17g, host %.17g: relative error %.3g > %g", n, got, want, e,
                  TOL_NORM2);
            printf("norm2 %8zu floats%s: relative error %.1e\n", n, poison != 0.0f ? " with 1e20 in it" : "", e);
        }
    }
    cf_backend_free(gpu, d);
    free(g);
}

static void check_norm2(void) {
    norm2_case(0, 0, 0.0f, 1);
    norm2_case(1, 0, 0.0f, 1);
    norm2_case(1000, 0, 0.0f, 1);
    norm2_case((1u << 20) + 7, 0, 0.0f, 1);
    norm2_case(3000017, 0, 0.0f, 1);
    /* squared in double, as the host does: 1e20^2 overflows f32, not f64 */
    norm2_case(100003, 99, 1e20f, 1);
    norm2_case(1, 0, NAN, 0);
    norm2_case(3000017, 3000015, NAN, 0);
    norm2_case(100003, 0, INFINITY, 0);
    norm2_case(100003, 50000, -INFINITY, 0);
}

/* ---- sgd -------------------------------------------------------------------------------- */

typedef struct sgd_case {
    int nesterov;
    float clip, weight_decay;
} sgd_case;

static const sgd_case sgd_cases[] = {
    {1, 1.0f, 3e-4f}, {0, 1.0f, 3e-4f}, {1, 0.5f, 3e-4f}, {0, 0.5f, 3e-4f}, {1, 1.0f, 0.0f}, {0, 0.5f, 0.0f},
};

static void check_sgd(void) {
    enum { N = 100003 };
    for (size_t k = 0; k < sizeof sgd_cases / sizeof sgd_cases[0]; k++) {
        const sgd_case *c = &sgd_cases[k];
        cf_rng r = cf_rng_make(5, cf_rng_stream(k, CF_RNG_PURPOSE_TEST));
        float *w = normals(N, 1.0f, &r), *g = normals(N, 0.1f, &r), *buf = normals(N, 0.01f, &r);
        float *dw = dev_put(w, N * sizeof *w), *dg = dev_put(g, N * sizeof *g), *dbuf = dev_put(buf, N * sizeof *buf);
        float *gw = malloc(N * sizeof *gw), *gbuf = malloc(N * sizeof *gbuf);
        CF_ASSERT(gw && gbuf);
        cf_sgd_args a = {w, g, buf, N, 0.05f, 0.9f, c->weight_decay, c->clip, c->nesterov, 1, NULL};
        cf_sgd_args d = {dw, dg, dbuf, N, 0.05f, 0.9f, c->weight_decay, c->clip, c->nesterov, 1, NULL};
        for (int step = 0; step < 2; step++) {
            CHECK_OK(cf_backend_sgd(host, &a));
            if (dw && dg && dbuf) CHECK_OK(cf_backend_sgd(gpu, &d));
        }
        if (dw && dg && dbuf && dev_get(gw, dw, N * sizeof *gw) && dev_get(gbuf, dbuf, N * sizeof *gbuf)) {
            const double ew = norm_err_f(gw, w, N), eb = norm_err_f(gbuf, buf, N);
            CHECK(ew <= TOL_SGD, "sgd nesterov %d clip %g wd %g: w normalized error %.3g > %g", c->nesterov, c->clip,
                  c->weight_decay, ew, TOL_SGD);
            CHECK(eb <= TOL_SGD, "sgd nesterov %d clip %g wd %g: buf normalized error %.3g > %g", c->nesterov,
                  c->clip, c->weight_decay, eb, TOL_SGD);
            printf("sgd nesterov %d clip %.1f wd %g: w %.1e  buf %.1e\n", c->nesterov, c->clip, c->weight_decay, ew,
                   eb);
        }
        cf_backend_free(gpu, dw);
        cf_backend_free(gpu, dg);
        cf_backend_free(gpu, dbuf);
        free(w), free(g), free(buf), free(gw), free(gbuf);
    }
}

/* ---- step statistics ----------------------------------------------------------------------- */

/* Steps of (n, k) logits with a few ties, each loss given: the device's sums
 * against the host's arithmetic; then a bad step and an SGD step after it. */
static void steps_case(float bad_loss, int want_bad) {
    enum { N = 37, K = 10, STEPS = 3, P = 5000 };
    cf_rng r = cf_rng_make(8, cf_rng_stream((uint64_t)want_bad, CF_RNG_PURPOSE_TEST));
    cf_step_stats *dst = dev_put(NULL, sizeof *dst);
    float *dlog = dev_put(NULL, N * K * sizeof(float)), *dloss = dev_put(NULL, 2 * sizeof(float));
    int32_t *dlab = dev_put(NULL, N * sizeof(int32_t));
    float *g = normals(P, 1.0f, &r), *w = normals(P, 1.0f, &r), *buf = normals(P, 0.1f, &r);
    float *dg = dev_put(g, P * sizeof *g), *dw = dev_put(w, P * sizeof *w), *dbuf = dev_put(buf, P * sizeof *buf);
    if (!dst || !dlog || !dloss || !dlab || !dg || !dw || !dbuf) goto exit;
    double want_loss = 0, want_hits = 0;
    for (int s = 0; s < STEPS; s++) {
        float logits[N * K], loss[2] = {2.25f + 0.125f * (float)s, 0.75f};
        int32_t labels[N];
        for (int i = 0; i < N * K; i++) logits[i] = (float)cf_rng_below(&r, 4); /* ties */
        for (int i = 0; i < N; i++) {
            labels[i] = (int32_t)cf_rng_below(&r, K);
            int best = 0;
            for (int j = 1; j < K; j++)
                if (logits[i * K + j] > logits[i * K + best]) best = j;
            want_hits += best == labels[i];
        }
        want_loss += (double)loss[0] + 0.4 * (double)loss[1];
        CHECK_OK(cf_backend_copy(gpu, dlog, logits, sizeof logits, CF_COPY_TO_DEVICE));
        CHECK_OK(cf_backend_copy(gpu, dlab, labels, sizeof labels, CF_COPY_TO_DEVICE));
        CHECK_OK(cf_backend_copy(gpu, dloss, loss, sizeof loss, CF_COPY_TO_DEVICE));
        cf_step_stats_args a = {dlog, dlab, N, K, dloss, dloss + 1, 0.4, 1e4, dst, CF_DTYPE_F32};
        CHECK_OK(cf_backend_step_stats(gpu, &a));
    }
    /* clipping: |g| of P normals is about sqrt(P) = 70.7 */
    double norm2 = 0;
    for (int i = 0; i < P; i++) norm2 += (double)g[i] * (double)g[i];
    CHECK_OK(cf_backend_step_clip(gpu, dg, P, 10.0, dst));
    cf_step_stats h;
    if (!dev_get(&h, dst, sizeof h)) goto exit;
    CHECK(h.steps == STEPS && h.bad == CF_STEP_OK, "steps: %d counted, bad %d", h.steps, h.bad);
    CHECK(h.hits == want_hits, "steps: %g hits on the device, %g on the host", h.hits, want_hits);
    CHECK(fabs(h.loss_sum - want_loss) <= 1e-12 * want_loss, "steps: loss sum %.17g, host %.17g", h.loss_sum,
          want_loss);
    const float want_clip = (float)(10.0 / sqrt(norm2));
    CHECK(fabsf(h.clip - want_clip) <= 1e-6f * want_clip, "steps: clip %.9g, host rule %.9g", h.clip, want_clip);
    CHECK_OK(cf_backend_step_clip(gpu, dg, P, 0.0, dst));
    if (dev_get(&h, dst, sizeof h)) CHECK(h.clip == 1.0f, "steps: clip %g without a limit", h.clip);

    /* a bad step: marked once, sums unchanged, and SGD moves nothing after it */
    float loss[2] = {bad_loss, 0.0f};
    if (want_bad == CF_STEP_BAD_GRAD) {
        loss[0] = 1.0f;
        g[17] = NAN;
        CHECK_OK(cf_backend_copy(gpu, dg, g, P * sizeof *g, CF_COPY_TO_DEVICE));
    }
    CHECK_OK(cf_backend_copy(gpu, dloss, loss, sizeof loss, CF_COPY_TO_DEVICE));
    cf_step_stats_args a = {dlog, dlab, N, K, dloss, NULL, 0.4, 1e4, dst, CF_DTYPE_F32};
    CHECK_OK(cf_backend_step_stats(gpu, &a));
    CHECK_OK(cf_backend_step_clip(gpu, dg, P, 10.0, dst));
    cf_sgd_args d = {dw, dg, dbuf, P, 0.05f, 0.9f, 0.0f, 1.0f, 1, 1, dst};
    CHECK_OK(cf_backend_sgd(gpu, &d));
    float *w_after = malloc(P * sizeof *w_after);
    CF_ASSERT(w_after != NULL);
    if (dev_get(&h, dst, sizeof h) && dev_get(w_after, dw, P * sizeof *w_after)) {
        CHECK(h.bad == want_bad && h.bad_step == STEPS && h.steps == STEPS + 1, "bad step: kind %d at %d, want %d at %d",
              h.bad, h.bad_step, want_bad, STEPS);
        if (want_bad != CF_STEP_BAD_GRAD)
            CHECK(h.loss_sum == want_loss || fabs(h.loss_sum - want_loss) <= 1e-12 * want_loss,
                  "bad step: the loss sum moved to %g", h.loss_sum);
        CHECK(memcmp(w_after, w, P * sizeof *w) == 0, "bad step %d: SGD still updated the weights", want_bad);
    }
    free(w_after);
    printf("steps: %g hits, loss sum %.6f, clip %.6f; bad kind %d stops SGD\n", want_hits, want_loss, want_clip,
           want_bad);
exit:
    cf_backend_free(gpu, dst);
    cf_backend_free(gpu, dlog);
    cf_backend_free(gpu, dloss);
    cf_backend_free(gpu, dlab);
    cf_backend_free(gpu, dg);
    cf_backend_free(gpu, dw);
    cf_backend_free(gpu, dbuf);
    free(g), free(w), free(buf);
}

static void check_steps(void) {
    steps_case(NAN, CF_STEP_BAD_LOSS);
    steps_case(5e4f, CF_STEP_DIVERGED);
    steps_case(1.0f, CF_STEP_BAD_GRAD);
}

/* ---- batch --------------------------------------------------------------------------------- */

/* n images of (c, h, w) with random pixels and labels. */
static cf_dataset *synthetic(const char *name, size_t n, int c, int h, int w, int classes, uint64_t seed) {
    cf_dataset *ds = NULL;
    CHECK_OK(cf_dataset_create(name, n, c, h, w, classes, &ds));
    if (!ds) return NULL;
    cf_rng r = cf_rng_make(seed, cf_rng_stream(0, CF_RNG_PURPOSE_TEST));
    for (size_t i = 0; i < n * cf_dataset_image_bytes(ds); i++) ds->images[i] = (uint8_t)cf_rng_below(&r, 256);
    for (size_t i = 0; i < n; i++) ds->labels[i] = (int32_t)cf_rng_below(&r, (uint32_t)classes);
    return ds;
}

/* One batch of n images on both sides, compared. */
static void batch_case(const cf_dataset *ds, int n, const cf_augment *aug, uint64_t epoch, uint64_t pos0) {
    static const float mean[3] = {0.49f, 0.48f, 0.45f}, stdv[3] = {0.25f, 0.24f, 0.26f};
    const size_t image = cf_dataset_image_bytes(ds), nx = (size_t)n * image;
    cf_rng r = cf_rng_make(6, cf_rng_stream(epoch * 1000 + pos0, CF_RNG_PURPOSE_TEST));
    uint32_t *idx = malloc((size_t)n * sizeof *idx);
    float *want_x = malloc(nx * sizeof *want_x), *got_x = malloc(nx * sizeof *got_x);
    int32_t *want_y = malloc((size_t)n * sizeof *want_y), *got_y = malloc((size_t)n * sizeof *got_y);
    CF_ASSERT(idx && want_x && got_x && want_y && got_y);
    for (int k = 0; k < n; k++) idx[k] = cf_rng_below(&r, (uint32_t)ds->n); /* repeats allowed */
    cf_batch_args a = {ds, idx, n, mean, stdv, aug, 42, epoch, pos0, want_x, want_y, 1, CF_DTYPE_F32};
    CHECK_OK(cf_backend_batch(host, &a));

    uint32_t *didx = dev_put(idx, (size_t)n * sizeof *idx);
    float *dx = dev_put(NULL, nx * sizeof *dx);
    int32_t *dy = dev_put(NULL, (size_t)n * sizeof *dy);
    if (didx && dx && dy) {
        cf_batch_args d = {ds, didx, n, mean, stdv, aug, 42, epoch, pos0, dx, dy, 1, CF_DTYPE_F32};
        const cf_status st = cf_backend_batch(gpu, &d);
        CHECK(st == CF_OK, "batch of %s: %s: %s", ds->name, cf_status_name(st), cf_error_message());
        if (st == CF_OK && dev_get(got_x, dx, nx * sizeof *got_x) && dev_get(got_y, dy, (size_t)n * sizeof *got_y)) {
            double worst = 0;
            size_t bad = 0;
            for (size_t i = 0; i < nx; i++) {
                const double e = fabs((double)got_x[i] - want_x[i]);
                if (!(e <= TOL_BATCH)) bad++;
                if (e > worst || e != e) worst = e != e ? INFINITY : e;
            }
            const int labels_ok = memcmp(got_y, want_y, (size_t)n * sizeof *got_y) == 0;
            const char *what = aug ? "augmented" : "plain";
            CHECK(bad == 0, "batch of %s (%s, epoch %llu, pos0 %llu): %zu of %zu pixels off by more than %g (worst %.3g)",
                  ds->name, what, (unsigned long long)epoch, (unsigned long long)pos0, bad, nx, TOL_BATCH, worst);
            CHECK(labels_ok, "batch of %s (%s): labels differ from the host", ds->name, what);
            printf("batch %-10s %-9s n %2d: worst pixel error %.1e, labels %s\n", ds->name, what, n, worst,
                   labels_ok ? "equal" : "DIFFER");
        }
    }
    cf_backend_free(gpu, didx);
    cf_backend_free(gpu, dx);
    cf_backend_free(gpu, dy);
    free(idx), free(want_x), free(got_x), free(want_y), free(got_y);
}

static void check_batch(void) {
    cf_dataset *ds = synthetic("synthetic", 50, 3, 12, 10, 10, 7);
    cf_dataset *ds2 = synthetic("synthetic2", 20, 1, 9, 7, 5, 8);
    if (!ds || !ds2) goto done;
    const cf_augment full = {.crop_pad = 2, .flip = 1, .cutout = 4, .erase = 0.5};
    const cf_augment crop = {.crop_pad = 2, .flip = 0, .cutout = 0};
    batch_case(ds, 17, NULL, 0, 0);
    batch_case(ds, 17, &full, 3, 100);
    batch_case(ds, 50, &full, 1, 0);
    batch_case(ds, 1, &full, 2, 49);
    batch_case(ds2, 9, &crop, 0, 5);  /* another dataset on the device beside the first */
    batch_case(ds, 17, &full, 3, 117);
    batch_case(ds2, 20, &full, 4, 0);
done:
    cf_dataset_destroy(ds);
    cf_dataset_destroy(ds2);
}

/* ---- mixed precision: the 16-bit copies, loops and loss scaling ------------------- */

static int half_equal(const uint16_t *a, const uint16_t *b, size_t n) { return memcmp(a, b, n * sizeof *a) == 0; }

static void check_half_loops(void) {
    enum { N = 5000 };
    static const cf_dtype dts[2] = {CF_DTYPE_BF16, CF_DTYPE_F16};
    cf_rng r = cf_rng_make(9, cf_rng_stream(1, CF_RNG_PURPOSE_TEST));
    float *src = normals(N, 3.0f, &r), *acc = normals(N, 1.0f, &r), *acc_dev = malloc(N * sizeof *acc_dev);
    uint16_t *want = malloc(N * sizeof *want), *got = malloc(N * sizeof *got);
    CF_ASSERT(acc_dev && want && got);
    for (int t = 0; t < 2; t++) {
        const cf_dtype dt = dts[t];
        /* narrow: the rounding of every value, bit for bit */
        float *dsrc = dev_put(src, N * sizeof *src);
        uint16_t *dh = dev_put(NULL, N * sizeof *dh);
        cf_half_from_f32(dt, want, src, N);
        if (dsrc && dh) {
            CHECK_OK(cf_backend_narrow(gpu, dh, dt, dsrc, N));
            if (dev_get(got, dh, N * sizeof *got))
                CHECK(half_equal(got, want, N), "narrow to %s: not the host's rounding", cf_dtype_name(dt));
        }
        /* widen_add: one f32 add of an exact value */
        float *dacc = dev_put(acc, N * sizeof *acc);
        if (dacc && dh) {
            CHECK_OK(cf_backend_widen_add(gpu, dacc, dh, dt, N));
            float *host_acc = malloc(N * sizeof *host_acc);
            CF_ASSERT(host_acc != NULL);
            memcpy(host_acc, acc, N * sizeof *acc);
            CHECK_OK(cf_backend_widen_add(host, host_acc, want, dt, N));
            if (dev_get(acc_dev, dacc, N * sizeof *acc_dev))
                CHECK(memcmp(acc_dev, host_acc, N * sizeof *acc_dev) == 0, "widen_add from %s: not the host's sums",
                      cf_dtype_name(dt));
            free(host_acc);
        }
        /* drop-path on 16-bit images: the f32 product rounded once */
        if (dh) {
            const drop_case *c = &drop_cases[0];
            const size_t n = (size_t)c->n * c->per;
            CF_ASSERT(n <= N);
            CHECK_OK(cf_backend_narrow(gpu, dh, dt, dsrc, N));
            CHECK_OK(cf_backend_drop_path(gpu, dh, dt, c->n, c->per, c->p, c->seed, c->stream, c->index0));
            memcpy(got, want, N * sizeof *got);
            CHECK_OK(cf_backend_drop_path(host, got, dt, c->n, c->per, c->p, c->seed, c->stream, c->index0));
            uint16_t *dev = malloc(N * sizeof *dev);
            CF_ASSERT(dev != NULL);
            if (dev_get(dev, dh, N * sizeof *dev))
                CHECK(half_equal(dev, got, n), "drop-path on %s: not the host's values", cf_dtype_name(dt));
            free(dev);
        }
        cf_backend_free(gpu, dsrc);
        cf_backend_free(gpu, dh);
        cf_backend_free(gpu, dacc);
    }
    free(src), free(acc), free(acc_dev), free(want), free(got);
}

/* A 16-bit batch: cf_data_batch's floats, rounded once (the f32 kernel may fuse: one bf16 unit). */
static void check_half_batch(void) {
    cf_dataset *ds = synthetic("synthetic", 30, 3, 12, 10, 10, 7);
    if (ds) {
        static const float mean[3] = {0.49f, 0.48f, 0.45f}, stdv[3] = {0.25f, 0.24f, 0.26f};
        const cf_augment full = {.crop_pad = 2, .flip = 1, .cutout = 4, .erase = 0.5};
        enum { B = 11 };
        const size_t nx = (size_t)B * cf_dataset_image_bytes(ds);
        uint32_t idx[B];
        for (int k = 0; k < B; k++) idx[k] = (uint32_t)(3 * k);
        uint16_t *hx = malloc(nx * sizeof *hx), *gx = malloc(nx * sizeof *gx);
        int32_t hy[B], gy[B];
        CF_ASSERT(hx && gx);
        cf_batch_args a = {ds, idx, B, mean, stdv, &full, 42, 2, 7, hx, hy, 1, CF_DTYPE_BF16};
        CHECK_OK(cf_backend_batch(host, &a));
        uint32_t *didx = dev_put(idx, sizeof idx);
        void *dx = dev_put(NULL, nx * sizeof *gx);
        int32_t *dy = dev_put(NULL, sizeof gy);
        if (didx && dx && dy) {
            cf_batch_args d = {ds, didx, B, mean, stdv, &full, 42, 2, 7, dx, dy, 1, CF_DTYPE_BF16};
            CHECK_OK(cf_backend_batch(gpu, &d));
            if (dev_get(gx, dx, nx * sizeof *gx) && dev_get(gy, dy, sizeof gy)) {
                double worst = 0;
                for (size_t i = 0; i < nx; i++)
                    worst = fmax(worst, fabs((double)cf_bf16_to_f32(gx[i]) - cf_bf16_to_f32(hx[i])));
                CHECK(worst <= 0x1p-6, "bf16 batch: a pixel off by %g (one bf16 unit at |v| < 4 is 2^-6)", worst);
                CHECK(memcmp(gy, hy, sizeof gy) == 0, "bf16 batch: labels differ");
                printf("batch bf16: worst pixel error %.1e\n", worst);
            }
        }
        cf_backend_free(gpu, didx);
        cf_backend_free(gpu, dx);
        cf_backend_free(gpu, dy);
        free(hx), free(gx);
        cf_dataset_destroy(ds);
    }
}

/* Loss scaling on the device: the seeds, a good step, an overflow, and the SGD step that skips. */
static void check_half_scaling(void) {
    enum { P = 3000 };
    cf_rng q = cf_rng_make(4, cf_rng_stream(2, CF_RNG_PURPOSE_TEST));
    float *g = normals(P, 1024.0f, &q);
    cf_step_stats want_st = {0}, got_st;
    want_st.scale = 1024.0f;
    want_st.steps = 1;
    cf_step_stats *dst = dev_put(&want_st, sizeof want_st);
    float *dg = dev_put(g, P * sizeof *g), *dseeds = dev_put(NULL, 2 * sizeof(float));
    if (dst && dg && dseeds) {
        float seeds[2];
        CHECK_OK(cf_backend_step_seed(gpu, dseeds, 1.0, 0.4, dst));
        if (dev_get(seeds, dseeds, sizeof seeds))
            CHECK(seeds[0] == 1024.0f && seeds[1] == (float)(0.4 * 1024.0), "seeds %g, %g at scale 1024", seeds[0],
                  seeds[1]);
        double norm2 = 0;
        for (int i = 0; i < P; i++) norm2 += (double)g[i] * g[i];
        CHECK_OK(cf_backend_step_clip(gpu, dg, P, 5.0, dst));
        cf_step_clip_host(&want_st, norm2, 5.0);
        if (dev_get(&got_st, dst, sizeof got_st))
            CHECK(fabsf(got_st.clip - want_st.clip) <= 1e-6f * want_st.clip && got_st.skip == 0 && got_st.good == 1,
                  "scaled clip %.9g (host rule %.9g), skip %d, good %d", got_st.clip, want_st.clip, got_st.skip,
                  got_st.good);
        g[7] = INFINITY;
        CHECK_OK(cf_backend_copy(gpu, dg, g, P * sizeof *g, CF_COPY_TO_DEVICE));
        CHECK_OK(cf_backend_step_clip(gpu, dg, P, 5.0, dst));
        if (dev_get(&got_st, dst, sizeof got_st))
            CHECK(got_st.skip == 1 && got_st.scale == 512.0f && got_st.skipped == 1 && got_st.bad == CF_STEP_OK,
                  "an overflow: skip %d, scale %g, skipped %d, bad %d", got_st.skip, got_st.scale, got_st.skipped,
                  got_st.bad);
        /* the SGD step after it moves nothing */
        float *w = normals(P, 1.0f, &q), *back = malloc(P * sizeof *back);
        float *dw = dev_put(w, P * sizeof *w), *dbuf = dev_put(NULL, P * sizeof *w);
        cf_sgd_args sa = {dw, dg, dbuf, P, 0.1f, 0.9f, 0.0f, 1.0f, 1, 1, dst};
        if (dw && dbuf) {
            CHECK_OK(cf_backend_sgd(gpu, &sa));
            if (dev_get(back, dw, P * sizeof *back))
                CHECK(memcmp(back, w, P * sizeof *w) == 0, "a skipped step moved the weights");
        }
        cf_backend_free(gpu, dw);
        cf_backend_free(gpu, dbuf);
        free(w), free(back);
    }
    cf_backend_free(gpu, dst);
    cf_backend_free(gpu, dg);
    cf_backend_free(gpu, dseeds);
    free(g);
}

int main(void) {
    int skip = 0;
    gpu = cuda_test_open(0, &skip);
    if (!gpu) return skip ? CF_TEST_SKIP : test_finish("test_cuda_loops");
    host = cf_backend_cpu_ref();
    CHECK(cf_backend_on_device(gpu), "the CUDA backend has no device memory entries");
    CHECK(!cf_backend_on_device(host), "the reference backend has device memory entries");
    check_memory();
    check_drop_path();
    check_scale();
    check_norm2();
    check_sgd();
    check_steps();
    check_batch();
    check_half_loops();
    check_half_batch();
    check_half_scaling();
    cf_backend_cuda_destroy(gpu);
    return test_finish("test_cuda_loops");
}
