/* test_oneshot.c - supernets and one-shot search (oneshot.h).
 *
 *  - supernet networks: "supernet" parses, formats and builds for nb201 and
 *    darts (mix layers, rows and columns as build_supernet.c says) and is
 *    refused for nb101 and mobile;
 *  - paths: one architecture's paths alone (the other branches skipped) give
 *    the loss and weight gradients of the whole supernet run with that
 *    architecture's one-hot coefficients (f64);
 *  - gradients of the loss with respect to the mix coefficients, and to
 *    alpha through the softmax (rows shared by cells; at a temperature, as
 *    GDAS's soft sample), against central finite differences (f64, every
 *    path), on both supernets;
 *  - derivation: the k best architectures by alpha, best first, distinct,
 *    round-tripping through the arch parser; the best is NB201's argmax and
 *    DARTS's rule (two strongest edges, each with its strongest op);
 *  - on Fashion-MNIST (skipped without it): darts, gdas and spos supernets
 *    learn; gdas and spos repeat bit for bit; darts resumed from its state
 *    after epoch 1 ends as the run that never stopped; darts second order
 *    runs; a damaged state is reported and the run starts over.
 *
 *   build/tests/test_oneshot SPACES_DIR
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cellforge/log.h"
#include "cellforge/oneshot.h"
#include "cellforge/rng.h"
#include "check.h"
#include "space_kit.h"

static cf_model *supernet_model(const cf_space *s, const cf_net_input *in, const cf_backend *be, cf_dtype dtype,
                                int batch) {
    cf_arch a;
    cf_net *net = NULL;
    cf_model *m = NULL;
    CHECK_OK(cf_arch_parse(s, "supernet", &a));
    CHECK_OK(cf_net_build(s, &a, in, &net));
    if (!net) return NULL;
    CHECK_OK(cf_model_create_dtype(net, batch, be, 0, dtype, &m));
    if (m) cf_model_init(m, 3);
    return m;
}

static void test_build(void) {
    const char *names[4] = {"nb201", "darts", "nb101", "mobile"};
    for (int k = 0; k < 4; k++) {
        cf_space *s = NULL;
        CHECK_OK(cf_space_load(names[k], &s));
        if (!s) continue;
        cf_arch a;
        if (k >= 2) {
            CHECK_FAILS(cf_arch_parse(s, "supernet", &a), CF_ERR_UNSUPPORTED, "no supernet", names[k]);
            cf_space_destroy(s);
            continue;
        }
        CHECK_OK(cf_arch_parse(s, "supernet", &a));
        CHECK(a.supernet == 1, "%s: supernet flag", names[k]);
        char text[CF_ARCH_TEXT_MAX];
        CHECK_OK(cf_arch_format(s, &a, text, sizeof text));
        CHECK(strcmp(text, "supernet") == 0, "%s: formats as %s", names[k], text);
        cf_net_input in = {1, 28, 28, 10};
        cf_net *net = NULL;
        CHECK_OK(cf_net_build(s, &a, &in, &net));
        if (net) {
            int mixes = 0, bad = 0;
            for (int i = 0; i < net->n; i++)
                if (net->layers[i].kind == CF_OP_MIX) {
                    mixes++;
                    bad += net->layers[i].n_in != s->n_ops || net->layers[i].params.mix.row >= net->mix_rows;
                }
            int cells = k == 0 ? 3 * (int)cf_space_get(s, "N") : (int)cf_space_get(s, "layers");
            int rows = k == 0 ? 6 : 28, per_cell = k == 0 ? 6 : 14;
            CHECK(net->mix_rows == rows && net->mix_cols == s->n_ops, "%s: %d x %d rows", names[k], net->mix_rows,
                  net->mix_cols);
            CHECK(mixes == cells * per_cell && bad == 0, "%s: %d mix layers, %d bad", names[k], mixes, bad);
        }
        cf_net_destroy(net);
        cf_space_destroy(s);
    }
}

/* Random f64 images and labels for a batch. */
static void batch_data(int n, const cf_net_input *in, double *x, int32_t *y, uint64_t seed) {
    cf_rng r = cf_rng_make(seed, cf_rng_stream(0, CF_RNG_PURPOSE_TEST));
    for (int i = 0; i < n * in->c * in->h * in->w; i++) x[i] = cf_rng_normal_f64(&r);
    for (int i = 0; i < n; i++) y[i] = (int32_t)cf_rng_below(&r, (uint32_t)in->classes);
}

static double loss_of(cf_model *m, const double *x, const int32_t *y, int n, int backward) {
    double loss = NAN;
    CHECK_OK(cf_model_forward(m, x, n, 1));
    CHECK_OK(cf_model_loss(m, y, 0, &loss));
    if (backward) CHECK_OK(cf_model_backward(m));
    return loss;
}

/* One architecture's paths alone equal the full supernet with its one-hot coefficients. */
static void test_paths(const char *what, const cf_space *s, const cf_net_input *in) {
    const int n = 4;
    cf_model *m = supernet_model(s, in, cf_backend_cpu_ref(), CF_DTYPE_F64, n);
    if (!m) return;
    double *x = malloc(sizeof(double) * (size_t)n * in->c * in->h * in->w);
    int32_t y[4];
    batch_data(n, in, x, y, 11);
    cf_rng r = cf_rng_make(5, cf_rng_stream(1, CF_RNG_PURPOSE_TEST));
    cf_arch a;
    cf_arch_sample(s, &r, &a);
    CHECK_OK(cf_oneshot_set_arch(m, s, &a));
    CHECK(m->skip != NULL, "%s: paths set", what);
    int skipped = 0;
    for (int i = 0; i < m->net->n; i++) skipped += m->skip && m->skip[i];
    CHECK(skipped > 0, "%s: some layers skipped", what);
    double alone = loss_of(m, x, y, n, 1);
    double *g1 = malloc(m->mix_offset * sizeof *g1);
    memcpy(g1, m->grad, m->mix_offset * sizeof *g1);
    CHECK_OK(cf_model_set_paths(m, NULL));
    double full = loss_of(m, x, y, n, 1);
    const double *g2 = m->grad;
    double worst = 0;
    for (size_t i = 0; i < m->mix_offset; i++) {
        double d = fabs(g1[i] - g2[i]) / (1e-8 + fabs(g2[i]));
        worst = d > worst ? d : worst;
    }
    /* f64: a skipped branch adds exactly 0 x its output; only rounding order differs */
    CHECK(fabs(alone - full) <= 1e-12 * fabs(full), "%s: loss alone %.17g vs full %.17g", what, alone, full);
    CHECK(worst < 1e-9, "%s: weight gradients differ by %g (relative)", what, worst);
    free(g1);
    free(x);
    cf_model_destroy(m);
}

/* dL/dcoef against central differences, every path, random coefficients. */
static void test_coef_grad(const char *what, const cf_space *s, const cf_net_input *in) {
    const int n = 3;
    cf_model *m = supernet_model(s, in, cf_backend_cpu_ref(), CF_DTYPE_F64, n);
    if (!m) return;
    double *x = malloc(sizeof(double) * (size_t)n * in->c * in->h * in->w);
    int32_t y[3];
    batch_data(n, in, x, y, 13);
    cf_rng r = cf_rng_make(9, cf_rng_stream(2, CF_RNG_PURPOSE_TEST));
    double *coef = (double *)m->param + m->mix_offset;
    const size_t nc = m->n_params - m->mix_offset;
    for (size_t i = 0; i < nc; i++) coef[i] = 0.05 + cf_rng_uniform_f64(&r);
    loss_of(m, x, y, n, 1);
    double *g = malloc(nc * sizeof *g);
    memcpy(g, (double *)m->grad + m->mix_offset, nc * sizeof *g);
    double worst = 0;
    int checked = 0;
    for (int i = 0; i < m->net->n && checked < 24; i++) {
        const cf_net_layer *l = &m->net->layers[i];
        if (l->kind != CF_OP_MIX || i % 3) continue;
        for (int k = 0; k < l->n_in; k += 2) {
            double *c = (double *)cf_model_weight(m, i, 0) + k, keep = *c, h = 1e-5;
            *c = keep + h;
            double up = loss_of(m, x, y, n, 0);
            *c = keep - h;
            double down = loss_of(m, x, y, n, 0);
            *c = keep;
            double fd = (up - down) / (2 * h), an = g[m->layers[i].w_offset[0] - m->mix_offset + (size_t)k];
            double err = fabs(fd - an) / (1e-6 + fabs(fd) + fabs(an));
            worst = err > worst ? err : worst;
            checked++;
        }
    }
    /* f64 central differences with h = 1e-5: truncation ~1e-10, rounding ~1e-11 */
    CHECK(checked > 8 && worst < 1e-6, "%s: %d coefficient gradients, worst relative error %g", what, checked, worst);
    free(g);
    free(x);
    cf_model_destroy(m);
}

/* Every mix layer's coefficients: softmax(alpha / tau) of its row. */
static void set_alpha(cf_model *m, const double *alpha, int rows, int cols, double tau, double *p) {
    double *scaled = malloc((size_t)rows * cols * sizeof *scaled);
    for (int i = 0; i < rows * cols; i++) scaled[i] = alpha[i] / tau;
    cf_oneshot_softmax(scaled, rows, cols, p);
    free(scaled);
    for (int i = 0; i < m->net->n; i++)
        if (m->net->layers[i].kind == CF_OP_MIX)
            memcpy(cf_model_weight(m, i, 0), p + (size_t)m->net->layers[i].params.mix.row * cols, (size_t)cols * sizeof *p);
}

/* dL/dalpha (rows shared by several cells, through the softmax at temperature
 * tau) against central differences on alpha. */
static void test_alpha_grad(const char *what, const cf_space *s, const cf_net_input *in, double tau) {
    const int n = 3;
    cf_model *m = supernet_model(s, in, cf_backend_cpu_ref(), CF_DTYPE_F64, n);
    if (!m) return;
    const int rows = m->net->mix_rows, cols = m->net->mix_cols;
    double *x = malloc(sizeof(double) * (size_t)n * in->c * in->h * in->w), *alpha = calloc((size_t)rows * cols, sizeof(double)),
           *p = malloc(sizeof(double) * rows * cols), *g = calloc((size_t)rows * cols, sizeof(double));
    int32_t y[3];
    batch_data(n, in, x, y, 17);
    cf_rng r = cf_rng_make(8, cf_rng_stream(4, CF_RNG_PURPOSE_TEST));
    for (int i = 0; i < rows * cols; i++) alpha[i] = cf_rng_normal_f64(&r);
    set_alpha(m, alpha, rows, cols, tau, p);
    loss_of(m, x, y, n, 1);
    for (int i = 0; i < m->net->n; i++)
        if (m->net->layers[i].kind == CF_OP_MIX) {
            const double *d = cf_model_weight_grad(m, i, 0);
            for (int c = 0; c < cols; c++) g[(size_t)m->net->layers[i].params.mix.row * cols + c] += d[c];
        }
    cf_oneshot_softmax_backward(p, rows, cols, tau, g);
    double worst = 0;
    int checked = 0;
    for (int i = 0; i < rows * cols; i += 3, checked++) {
        const double keep = alpha[i], h = 1e-5;
        alpha[i] = keep + h;
        set_alpha(m, alpha, rows, cols, tau, p);
        double up = loss_of(m, x, y, n, 0);
        alpha[i] = keep - h;
        set_alpha(m, alpha, rows, cols, tau, p);
        double down = loss_of(m, x, y, n, 0);
        alpha[i] = keep;
        double fd = (up - down) / (2 * h), err = fabs(fd - g[i]) / (1e-6 + fabs(fd) + fabs(g[i]));
        worst = err > worst ? err : worst;
    }
    /* as test_coef_grad: f64 central differences */
    CHECK(worst < 1e-6, "%s: %d alpha gradients (tau %g), worst relative error %g", what, checked, tau, worst);
    free(x);
    free(alpha);
    free(p);
    free(g);
    cf_model_destroy(m);
}

static void test_derive(void) {
    cf_space *nb = NULL, *da = NULL;
    CHECK_OK(cf_space_load("nb201", &nb));
    CHECK_OK(cf_space_load("darts", &da));
    if (!nb || !da) return;
    /* nb201: row i favors op (i + 2) mod 5 */
    double alpha[28 * 8];
    for (int i = 0; i < 6; i++)
        for (int c = 0; c < 5; c++) alpha[i * 5 + c] = c == (i + 2) % 5 ? 1.0 : 0.1 * c;
    cf_arch out[4];
    double score[4];
    int n = 0;
    CHECK_OK(cf_oneshot_derive(nb, alpha, 6, 5, 4, out, score, &n));
    CHECK(n == 4, "nb201: %d derived", n);
    char text[CF_ARCH_TEXT_MAX];
    for (int k = 0; k < n; k++) {
        cf_arch back;
        CHECK_OK(cf_arch_format(nb, &out[k], text, sizeof text));
        CHECK_OK(cf_arch_parse(nb, text, &back));
        cf_arch_canonical(nb, &back, &back);
        CHECK(memcmp(&back, &out[k], sizeof back) == 0, "nb201 derived %d round-trips: %s", k, text);
        if (k) CHECK(score[k] <= score[k - 1], "scores fall: %g then %g", score[k - 1], score[k]);
        for (int j = 0; j < k; j++) CHECK(memcmp(&out[j], &out[k], sizeof out[k]) != 0, "derived %d == %d", j, k);
    }
    cf_arch want;
    cf_arch_format(nb, &out[0], text, sizeof text);
    CHECK_OK(cf_arch_parse(nb, "|nor_conv_1x1~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|none~0|skip_connect~1|"
                               "nor_conv_1x1~2|", &want));
    /* ops of nb201.json in order: none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3 */
    cf_arch_canonical(nb, &want, &want);
    CHECK(memcmp(&want, &out[0], sizeof want) == 0, "nb201 best is the argmax: %s", text);
    /* darts: random alpha; the best is DARTS's rule */
    cf_rng r = cf_rng_make(4, cf_rng_stream(3, CF_RNG_PURPOSE_TEST));
    for (int i = 0; i < 28 * 8; i++) alpha[i] = cf_rng_normal_f64(&r);
    CHECK_OK(cf_oneshot_derive(da, alpha, 28, 8, 3, out, score, &n));
    CHECK(n == 3, "darts: %d derived", n);
    int none = cf_space_op_index(da, "none");
    cf_arch rule;
    memset(&rule, 0, sizeof rule);
    rule.n_cells = 2;
    for (int t = 0, row = 0; t < 2; t++) {
        rule.cell[t].n_nodes = 6;
        for (int j = 2; j < 6; j++) {
            double best[5];
            int op[5];
            for (int i = 0; i < j; i++, row++) {
                const double *a = alpha + row * 8;
                double mx = a[0], z = 0;
                for (int c = 1; c < 8; c++) mx = a[c] > mx ? a[c] : mx;
                for (int c = 0; c < 8; c++) z += exp(a[c] - mx);
                best[i] = -1;
                for (int c = 0; c < 8; c++)
                    if (c != none && exp(a[c] - mx) / z > best[i]) best[i] = exp(a[c] - mx) / z, op[i] = c;
            }
            int i1 = 0;
            for (int i = 1; i < j; i++) i1 = best[i] > best[i1] ? i : i1;
            int i2 = i1 == 0 ? 1 : 0;
            for (int i = 0; i < j; i++) i2 = i != i1 && best[i] > best[i2] ? i : i2;
            int lo = i1 < i2 ? i1 : i2, hi = i1 < i2 ? i2 : i1;
            rule.cell[t].n_in[j] = 2;
            rule.cell[t].in[j][0] = (cf_arch_in){(int8_t)lo, (int8_t)op[lo]};
            rule.cell[t].in[j][1] = (cf_arch_in){(int8_t)hi, (int8_t)op[hi]};
            rule.cell[t].concat |= (uint16_t)(1u << j);
        }
    }
    CHECK_OK(cf_arch_validate(da, &rule));
    cf_arch_canonical(da, &rule, &rule);
    CHECK(memcmp(&rule, &out[0], sizeof rule) == 0, "darts best follows DARTS's rule");
    for (int k = 0; k < n; k++) {
        cf_arch back;
        CHECK_OK(cf_arch_format(da, &out[k], text, sizeof text));
        CHECK_OK(cf_arch_parse(da, text, &back));
        cf_arch_canonical(da, &back, &back);
        CHECK(memcmp(&back, &out[k], sizeof back) == 0, "darts derived %d round-trips: %s", k, text);
    }
    CHECK_FAILS(cf_oneshot_derive(da, alpha, 28, 8, 0, out, score, &n), CF_ERR_INVALID_ARG, "derive 0", "1..");
    cf_space_destroy(nb);
    cf_space_destroy(da);
}

/* ---- on Fashion-MNIST ----------------------------------------------------------- */

typedef struct run_out {
    cf_oneshot_result *res;
    double alpha_sum;
} run_out;

typedef struct backup_ctx {
    const char *state, *copy;
    int epoch;
} backup_ctx;

static void copy_file(const char *from, const char *to) {
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    char buf[65536];
    size_t n;
    while (a && b && (n = fread(buf, 1, sizeof buf, a)) > 0) fwrite(buf, 1, n, b);
    if (a) fclose(a);
    if (b) fclose(b);
}

/* After epoch 1: keep a copy of the state and its sidecar, as a kill then would leave them. */
static void backup_after_first(void *ctx, const cf_epoch_record *r) {
    backup_ctx *b = ctx;
    if (r->epoch != 0) return;
    char from[512], to[512];
    copy_file(b->state, b->copy);
    snprintf(from, sizeof from, "%s.oneshot", b->state);
    snprintf(to, sizeof to, "%s.oneshot", b->copy);
    copy_file(from, to);
}

static cf_oneshot_result *run(const cf_space *s, cf_oneshot_config *cfg, const cf_dataset *train,
                              const cf_dataset *val, cf_backend *be, uint64_t init) {
    cf_net_input in = {1, 28, 28, 10};
    cf_model *m = supernet_model(s, &in, be, CF_DTYPE_F32, cfg->train.batch);
    if (!m) return NULL;
    m->threads = 1;
    cf_model_init(m, init);
    cf_oneshot_result *res = calloc(1, sizeof *res);
    CHECK_OK(cf_oneshot_run(m, s, train, val, cfg, res));
    cf_model_destroy(m);
    return res;
}

static int same_result(const cf_oneshot_result *a, const cf_oneshot_result *b) {
    if (a->epochs_done != b->epochs_done || a->n_derived != b->n_derived) return 0;
    for (int e = 0; e < a->epochs_done; e++)
        if (a->curve[e].train_loss != b->curve[e].train_loss || a->curve[e].val_acc != b->curve[e].val_acc) return 0;
    for (int k = 0; k < a->n_derived; k++)
        if (memcmp(&a->derived[k], &b->derived[k], sizeof a->derived[k]) != 0 || a->derived_acc[k] != b->derived_acc[k])
            return 0;
    return 1;
}

static void test_fmnist(const cf_space *s, const cf_dataset *train, const cf_dataset *val) {
    cf_backend *be = NULL;
    CHECK_OK(cf_backend_cpu_fast_create(1, &be));
    if (!be) return;
    const char *names[3] = {"darts", "gdas", "spos"};
    for (int k = 0; k < 3; k++) {
        cf_oneshot_config cfg;
        cf_oneshot_config_default(&cfg, (cf_oneshot_method)k);
        cfg.train.epochs = 3;
        cfg.train.lr = 0.1;
        cfg.train.seed = 21;
        cfg.population = 4;
        cfg.generations = 1;
        cfg.val_images = 256;
        cfg.derive = 2;
        if (k == 1) cfg.tau_max = 1; /* a short run: draw by alpha from the start */
        cf_oneshot_result *a = run(s, &cfg, train, val, be, 1);
        if (!a) continue;
        CHECK(a->status == CF_TRAIN_OK && a->epochs_done == 3, "%s: %s after %d epochs", names[k], a->reason,
              a->epochs_done);
        CHECK(a->curve[2].train_loss < a->curve[0].train_loss, "%s: loss %g -> %g", names[k], a->curve[0].train_loss,
              a->curve[2].train_loss);
        /* 48 steps: the mixture learns fast; one path per step (gdas, spos) slower, and an
           architecture alone on weights trained in a mixture (darts) is the known
           discretization gap: above chance (0.1) is what is asked of those */
        CHECK(a->n_derived == 2, "%s: %d derived", names[k], a->n_derived);
        CHECK(a->curve[2].val_acc > (k == 0 ? 0.4 : 0.15), "%s: supernet at %.3f", names[k], a->curve[2].val_acc);
        CHECK(k == 0 || a->derived_acc[0] > 0.15, "%s: the best derived at %.3f", names[k], a->derived_acc[0]);
        if (k == 2) CHECK(a->spos_scored >= 4, "spos scored %d", a->spos_scored);
        for (int e = 0; e < a->epochs_done; e++)
            printf("%s epoch %d: loss %.4f train %.3f val %.3f\n", names[k], e + 1, a->curve[e].train_loss, a->curve[e].train_acc, a->curve[e].val_acc);
        if (k > 0) { /* the draws are keyed by (seed, step): the same run twice is the same bits */
            cf_oneshot_result *b = run(s, &cfg, train, val, be, 1);
            CHECK(b && same_result(a, b), "%s: two runs differ", names[k]);
            free(b);
        }
        free(a);
    }
    /* darts: a run resumed from its state after epoch 1 ends as one that never stopped */
    char state[] = "/tmp/cf_oneshot_XXXXXX";
    int fd = mkstemp(state);
    if (fd >= 0) close(fd);
    unlink(state);
    char copy[600], side[700];
    snprintf(copy, sizeof copy, "%s.after1", state);
    cf_oneshot_config cfg;
    cf_oneshot_config_default(&cfg, CF_ONESHOT_DARTS);
    cfg.train.epochs = 2;
    cfg.train.seed = 5;
    cfg.state_path = state;
    backup_ctx b = {state, copy, 0};
    cfg.on_epoch = backup_after_first;
    cfg.epoch_ctx = &b;
    cf_oneshot_result *whole = run(s, &cfg, train, val, be, 1);
    copy_file(copy, state);
    snprintf(side, sizeof side, "%s.oneshot", copy);
    char side_state[700];
    snprintf(side_state, sizeof side_state, "%s.oneshot", state);
    copy_file(side, side_state);
    cfg.on_epoch = NULL;
    cf_oneshot_result *resumed = run(s, &cfg, train, val, be, 99); /* other weights: the state replaces them */
    CHECK(whole && resumed && same_result(whole, resumed), "darts: the resumed run differs");
    FILE *f = fopen(state, "wb"); /* a damaged state: reported, and the run starts over */
    if (f) {
        fputs("not a state", f);
        fclose(f);
    }
    cf_oneshot_result *again = run(s, &cfg, train, val, be, 1);
    CHECK(whole && again && same_result(whole, again), "darts: a run over a damaged state differs from a fresh one");
    free(again);
    free(whole);
    free(resumed);
    unlink(state);
    unlink(copy);
    unlink(side);
    unlink(side_state);
    /* second order: runs and learns something */
    cf_oneshot_config_default(&cfg, CF_ONESHOT_DARTS);
    cfg.order = 2;
    cfg.train.epochs = 1;
    cfg.train.max_epoch_fraction = 0.5;
    cf_oneshot_result *second = run(s, &cfg, train, val, be, 1);
    CHECK(second && second->status == CF_TRAIN_OK && second->n_derived == 1, "darts order 2: %s",
          second ? second->reason : "no result");
    free(second);
    cf_backend_cpu_fast_destroy(be);
}

int main(int argc, char **argv) {
    if (argc > 1) setenv("CELLFORGE_SPACES", argv[1], 1);
    cf_log_set_level(CF_LOG_LEVEL_WARN);
    test_build();
    cf_space *nb = kit_space("nb201", "C=2,N=1"), *da = kit_space("darts", "C=2,layers=3");
    cf_net_input small = {1, 8, 8, 4};
    if (nb && da) {
        test_paths("nb201", nb, &small);
        test_paths("darts", da, &small);
        test_coef_grad("nb201", nb, &small);
        test_coef_grad("darts", da, &small);
        test_alpha_grad("nb201", nb, &small, 1.0); /* darts: softmax(alpha) */
        test_alpha_grad("darts", da, &small, 2.0); /* gdas's soft sample: softmax(alpha / tau) */
    }
    test_derive();
    cf_space_destroy(nb);
    cf_space_destroy(da);
    cf_dataset *all = NULL;
    if (cf_dataset_load("fashion-mnist", NULL, "train", &all) != CF_OK) {
        printf("Fashion-MNIST not found (%s): the training checks are skipped\n", cf_error_message());
        return test_finish("test_oneshot");
    }
    /* 1024 training and 512 validation images */
    cf_dataset *train = NULL, *val = NULL, *rest = NULL, *part = NULL;
    CHECK_OK(cf_dataset_split(all, 1536.0 / 60000.0, 1, &rest, &part));
    CHECK_OK(cf_dataset_split(part, 1.0 / 3.0, 2, &train, &val));
    cf_space *s = kit_space("nb201", "C=4,N=1");
    if (s && train && val) test_fmnist(s, train, val);
    cf_space_destroy(s);
    cf_dataset_destroy(all);
    cf_dataset_destroy(rest);
    cf_dataset_destroy(part);
    cf_dataset_destroy(train);
    cf_dataset_destroy(val);
    return test_finish("test_oneshot");
}
