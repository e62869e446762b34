/* test_proxy.c - the zero-cost proxies against direct formulas: rank
 * correlations on hand-made data, the kernel and gradients of a network whose
 * output does not depend on its input, snip and grad_norm against finite
 * differences of the loss, the input and activation gradients behind
 * jacob_cov and fisher against finite differences, jacob_cov's formula
 * against a determinant and an inverse, Jacobi eigenvalues against known
 * spectra, and the same scores for the same seed. (Each proxy
 * equals PyTorch's computation on the same weights: python/tests/test_proxy.py.)
 *
 *   ctest -R test_proxy --output-on-failure
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cellforge/cost.h"
#include "cellforge/linalg.h"
#include "cellforge/model.h"
#include "cellforge/proxy.h"
#include "check.h"

static void test_correlations(void) {
    double a[] = {1, 2, 3, 4, 5}, b[] = {10, 20, 30, 40, 50}, c[] = {5, 4, 3, 2, 1};
    CHECK(fabs(cf_spearman(a, b, 5) - 1) < 1e-12 && fabs(cf_kendall(a, b, 5) - 1) < 1e-12, "monotone: 1");
    CHECK(fabs(cf_spearman(a, c, 5) + 1) < 1e-12 && fabs(cf_kendall(a, c, 5) + 1) < 1e-12, "reversed: -1");
    /* ties: ranks (1, 2.5, 2.5, 4) against (1, 2, 3, 4): rho = 4.5 / sqrt(4.5 * 5) */
    double t[] = {1, 2, 2, 3}, u[] = {1, 2, 3, 4};
    CHECK(fabs(cf_spearman(t, u, 4) - 4.5 / sqrt(4.5 * 5)) < 1e-12, "rho with ties %g", cf_spearman(t, u, 4));
    /* tau-b: 5 concordant, 0 discordant, 1 pair tied in t only: 5 / sqrt(5 * 6) */
    CHECK(fabs(cf_kendall(t, u, 4) - 5 / sqrt(30)) < 1e-12, "tau-b with ties %g", cf_kendall(t, u, 4));
    double k[] = {2, 2, 2};
    CHECK(isnan(cf_spearman(k, a, 3)) && isnan(cf_kendall(k, a, 3)), "a constant has no rank correlation");
    cf_proxy_kind p;
    CHECK(cf_proxy_parse("synflow", &p) && p == CF_PROXY_SYNFLOW && cf_proxy_parse("jacob_cov", &p) &&
              p == CF_PROXY_JACOB_COV && !cf_proxy_parse("grasp", &p), "names");
}

/* Jacobi against spectra known in closed form. */
static void test_eigenvalues(void) {
    double a[4] = {2, 1, 1, 2}, v[8];
    cf_linalg_sym_eigenvalues(a, 2, v);
    CHECK(fabs(v[0] - 1) < 1e-14 && fabs(v[1] - 3) < 1e-14, "[[2 1] [1 2]]: %g %g", v[0], v[1]);
    /* tridiagonal (-1, 2, -1): 2 - 2 cos(k pi / 9), k = 1..8, ascending */
    double t[64] = {0};
    for (int i = 0; i < 8; i++) {
        t[i * 8 + i] = 2;
        if (i + 1 < 8) t[i * 8 + i + 1] = t[(i + 1) * 8 + i] = -1;
    }
    cf_linalg_sym_eigenvalues(t, 8, v);
    for (int k = 0; k < 8; k++)
        CHECK(fabs(v[k] - (2 - 2 * cos((k + 1) * M_PI / 9))) < 1e-13, "tridiagonal eigenvalue %d: %.17g", k, v[k]);
}

/* numpy.corrcoef of the rows of j (n x d), plus k on the diagonal, into c. */
static void correlations(const double *j, int n, int d, double k, double *c) {
    for (int a = 0; a < n; a++)
        for (int b = 0; b < n; b++) {
            double ma = 0, mb = 0, ab = 0, aa = 0, bb = 0;
            for (int e = 0; e < d; e++) ma += j[a * d + e] / d, mb += j[b * d + e] / d;
            for (int e = 0; e < d; e++) {
                double x = j[a * d + e] - ma, y = j[b * d + e] - mb;
                ab += x * y, aa += x * x, bb += y * y;
            }
            c[a * n + b] = ab / sqrt(aa * bb) + (a == b ? k : 0);
        }
}

/* jacob_cov of j (n x d) without eigenvalues: with M = C + 1e-5 I, the sum of
 * log(v + 1e-5) is log det M and that of 1 / (v + 1e-5) the trace of M^-1. */
static double jacob_cov_direct(const double *j, int n, int d) {
    double *c = calloc((size_t)n * n, sizeof *c), *inv = calloc((size_t)n * n, sizeof *inv);
    correlations(j, n, d, 1e-5, c);
    for (int a = 0; a < n; a++) inv[a * n + a] = 1;
    for (int p = 0; p < n; p++) { /* Gauss-Jordan; M is positive definite: no pivoting */
        double d0 = c[p * n + p];
        for (int k = 0; k < n; k++) c[p * n + k] /= d0, inv[p * n + k] /= d0;
        for (int r = 0; r < n; r++) {
            double f = r == p ? 0 : c[r * n + p];
            for (int k = 0; k < n; k++) c[r * n + k] -= f * c[p * n + k], inv[r * n + k] -= f * inv[p * n + k];
        }
    }
    double trace = 0;
    for (int a = 0; a < n; a++) trace += inv[a * n + a];
    correlations(j, n, d, 1e-5, c);
    double logdet = cf_linalg_log_abs_det(c, n);
    free(c);
    free(inv);
    return -(logdet + trace);
}

/* The model hooks of the gradient checks: the backward one keeps a copy of
 * every conv and linear layer's output and output gradient; the forward one
 * moves element `elem` of layer `layer`'s output by h. */
typedef struct probe {
    double **y, **dy; /* (net->n) copies, NULL for the other layers */
    int layer;
    size_t elem;
    double h;
} probe;

static int probed(const cf_net_layer *l) {
    return !l->aux && l->n_w > 0 && (l->kind == CF_OP_CONV2D || l->kind == CF_OP_LINEAR);
}

static cf_status keep_gradient(cf_model *m, int i, void *y, const void *dy, void *ctx) {
    probe *p = ctx;
    if (!probed(&m->net->layers[i])) return CF_OK;
    size_t bytes = (size_t)m->n * (size_t)cf_net_layer_numel(&m->net->layers[i]) * sizeof(double);
    free(p->y[i]);
    free(p->dy[i]);
    p->y[i] = malloc(bytes);
    p->dy[i] = malloc(bytes);
    memcpy(p->y[i], y, bytes);
    memcpy(p->dy[i], dy, bytes);
    return CF_OK;
}

static cf_status nudge(cf_model *m, int i, void *y, const void *dy, void *ctx) {
    (void)m, (void)dy;
    const probe *p = ctx;
    if (i == p->layer) ((double *)y)[p->elem] += p->h;
    return CF_OK;
}

/* Loss of the f64 model m on the batch with element e of layer i's output moved by h. */
static double loss_nudged(cf_model *m, probe *p, int i, size_t e, double h, const double *x, const int32_t *y, int n) {
    p->layer = i, p->elem = e, p->h = h;
    cf_model_set_hooks(m, nudge, NULL, p);
    double loss = 0;
    CHECK_OK(cf_model_forward(m, x, n, 1));
    CHECK_OK(cf_model_loss(m, y, 0, &loss));
    cf_model_set_hooks(m, NULL, NULL, NULL);
    return loss;
}

/* fisher's activation gradients against differences of the loss, then the
 * score from them against the proxy's (f32, on the same weights). */
static void check_fisher(cf_model *m, const double *x, const int32_t *y, int n, double want) {
    const cf_net *net = m->net;
    probe p = {calloc((size_t)net->n, sizeof(double *)), calloc((size_t)net->n, sizeof(double *)), -1, 0, 0};
    double loss;
    cf_model_set_hooks(m, NULL, keep_gradient, &p);
    CHECK_OK(cf_model_forward(m, x, n, 1));
    CHECK_OK(cf_model_loss(m, y, 0, &loss));
    CHECK_OK(cf_model_backward(m));
    cf_model_set_hooks(m, NULL, NULL, NULL);
    double fisher = 0, worst = 0;
    int layers = 0;
    for (int i = 0; i < net->n; i++) {
        const cf_net_layer *l = &net->layers[i];
        if (!probed(l)) continue;
        CHECK(p.y[i] && p.dy[i], "layer %d's gradient reached the hook", i);
        if (!p.y[i] || !p.dy[i]) continue;
        layers++;
        size_t plane = (size_t)l->h * l->w, numel = (size_t)n * l->c * plane;
        for (size_t e = i % 5; e < numel; e += numel / 7 + 1) { /* about 7 elements a layer */
            const double h = 1e-6;
            double fd = (loss_nudged(m, &p, i, e, h, x, y, n) - loss_nudged(m, &p, i, e, -h, x, y, n)) / (2 * h);
            double err = fabs(fd - p.dy[i][e]) / (fabs(fd) + 1e-6);
            if (err > worst) worst = err;
        }
        for (int c = 0; c < l->c; c++) {
            double sq = 0;
            for (int b = 0; b < n; b++) {
                double dot = 0;
                for (size_t k = 0; k < plane; k++)
                    dot += p.y[i][((size_t)b * l->c + c) * plane + k] * p.dy[i][((size_t)b * l->c + c) * plane + k];
                sq += dot * dot;
            }
            fisher += 0.5 * sq / n * (double)cf_net_weight_numel(l, 0) / l->c;
        }
    }
    CHECK(layers > 3 && worst < 1e-5, "activation gradients of %d layers: worst relative difference %g", layers, worst);
    /* f32 against f64: the proxy's gradients are f32 ones */
    CHECK(fabs(fisher - want) < 1e-4 * fisher, "fisher %.8g, from the f64 gradients %.8g", want, fisher);
    for (int i = 0; i < net->n; i++) {
        free(p.y[i]);
        free(p.dy[i]);
    }
    free(p.y);
    free(p.dy);
}

/* jacob_cov's input gradient against differences of the sum of the logits,
 * then its formula against jacob_cov_direct and the proxy's f32 score. */
static void check_jacob_cov(cf_model *m, const double *x, int n, double want) {
    const cf_net_input *in = &m->net->input;
    const int d = in->c * in->h * in->w;
    double *ones = malloc((size_t)n * in->classes * sizeof *ones), *xp = malloc((size_t)n * d * sizeof *xp);
    double *logits = malloc((size_t)n * in->classes * sizeof *logits), *j = malloc((size_t)n * d * sizeof *j);
    for (int k = 0; k < n * in->classes; k++) ones[k] = 1;
    CHECK_OK(cf_model_keep_input_gradient(m));
    CHECK_OK(cf_model_forward(m, x, n, 1));
    CHECK_OK(cf_model_output_gradient(m, ones));
    CHECK_OK(cf_model_backward(m));
    memcpy(j, cf_model_input_gradient(m), (size_t)n * d * sizeof *j); /* a host backend */
    double worst = 0, scale = 0;
    for (int e = 0; e < n * d; e++) scale = fmax(scale, fabs(j[e]));
    for (int e = 0; e < n * d; e += 5) {
        const double h = 1e-6;
        double r[2];
        for (int s = 0; s < 2; s++) {
            memcpy(xp, x, (size_t)n * d * sizeof *xp);
            xp[e] += s ? -h : h;
            CHECK_OK(cf_model_forward(m, xp, n, 1));
            CHECK_OK(cf_model_logits_host(m, logits));
            r[s] = 0;
            for (int k = 0; k < n * in->classes; k++) r[s] += logits[k];
        }
        worst = fmax(worst, fabs((r[0] - r[1]) / (2 * h) - j[e]));
    }
    CHECK(scale > 0 && worst < 1e-6 * scale, "input gradient: worst difference %g of %g", worst, scale);
    double got = 0, direct = jacob_cov_direct(j, n, d);
    CHECK_OK(cf_proxy_jacob_cov(j, n, (size_t)d, &got));
    CHECK(fabs(got - direct) < 1e-10 * fabs(direct), "jacob_cov %.17g, by det and inverse %.17g", got, direct);
    CHECK(fabs(want - got) < 1e-4 * fabs(got), "jacob_cov %.10g, from the f64 Jacobian %.10g", want, got);
    free(ones);
    free(xp);
    free(logits);
    free(j);
}

/* n images of the input, values from a fixed formula; labels k % classes. */
static void batch(const cf_net_input *in, int n, float *x, int32_t *y) {
    size_t per = (size_t)in->c * in->h * in->w;
    for (size_t i = 0; i < (size_t)n * per; i++) x[i] = (float)sin(0.37 * (double)i) * 1.5f;
    for (int k = 0; k < n; k++) y[k] = k % in->classes;
}

static cf_net *build(const cf_space *s, const char *text, const cf_net_input *in) {
    cf_arch a;
    cf_net *net = NULL;
    CHECK_OK(cf_arch_parse(s, text, &a));
    CHECK_OK(cf_net_build(s, &a, in, &net));
    return net;
}

/* Loss of the f64 model m on the batch with weight element e of layer i moved by h. */
static double loss_at(cf_model *m, int i, int64_t e, double h, const double *x, const int32_t *y, int n) {
    double *w = cf_model_weight(m, i, 0);
    double keep = w[e];
    w[e] = keep + h;
    cf_model_host_changed(m);
    double loss = 0;
    CHECK_OK(cf_model_forward(m, x, n, 1));
    CHECK_OK(cf_model_loss(m, y, 0, &loss));
    w[e] = keep;
    cf_model_host_changed(m);
    return loss;
}

static void test_network(void) {
    cf_space *s = NULL;
    CHECK_OK(cf_space_load("nb201", &s));
    if (!s) return;
    CHECK_OK(cf_space_set(s, "C", "2"));
    CHECK_OK(cf_space_set(s, "N", "1"));
    cf_net_input in = {1, 12, 12, 3};
    enum { N = 6 };
    float x[N * 144];
    int32_t y[N];
    batch(&in, N, x, y);
    const cf_backend *be = cf_backend_cpu_ref();

    /* no path from the image to the classifier: nothing to score */
    cf_net *none = build(s, "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", &in);
    double v[CF_PROXY_COUNT];
    if (none) CHECK_OK(cf_proxy_score(none, be, 1, x, y, N, v));
    CHECK(v[CF_PROXY_SYNFLOW] == 0 && v[CF_PROXY_GRAD_NORM] == 0 && v[CF_PROXY_SNIP] == 0,
          "a dead cell: synflow %g grad_norm %g snip %g", v[CF_PROXY_SYNFLOW], v[CF_PROXY_GRAD_NORM], v[CF_PROXY_SNIP]);
    CHECK(isinf(v[CF_PROXY_NASWOT]) && v[CF_PROXY_NASWOT] < 0, "a dead cell: every image has the same pattern");
    cf_net_destroy(none);

    const char *arch = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|none~0|avg_pool_3x3~1|nor_conv_3x3~2|";
    cf_net *net = build(s, arch, &in);
    if (!net) return;
    double a[CF_PROXY_COUNT], b[CF_PROXY_COUNT], c[CF_PROXY_COUNT];
    CHECK_OK(cf_proxy_score(net, be, 7, x, y, N, a));
    CHECK_OK(cf_proxy_score(net, be, 7, x, y, N, b));
    CHECK_OK(cf_proxy_score(net, be, 8, x, y, N, c));
    CHECK(memcmp(a, b, sizeof a) == 0, "the same seed gives the same scores");
    CHECK(a[CF_PROXY_SNIP] != c[CF_PROXY_SNIP] && a[CF_PROXY_SYNFLOW] != c[CF_PROXY_SYNFLOW], "another seed, other weights");
    cf_cost cost;
    CHECK_OK(cf_cost_of_net(net, N, 0, &cost));
    CHECK(a[CF_PROXY_PARAMS] == (double)cost.params && a[CF_PROXY_MACS] == (double)cost.macs, "params and MACs");
    CHECK(isfinite(a[CF_PROXY_NASWOT]) && a[CF_PROXY_SYNFLOW] > 0, "naswot %g synflow %g", a[CF_PROXY_NASWOT],
          a[CF_PROXY_SYNFLOW]);

    /* snip and grad_norm from central differences of the loss, in f64 from the
     * same initial weights (the f32 scores differ by f32 rounding only) */
    cf_net *copy = NULL;
    CHECK_OK(cf_net_clone(net, &copy));
    cf_model *m = NULL;
    CHECK_OK(cf_model_create_dtype(copy, N, be, 0, CF_DTYPE_F64, &m));
    double xd[N * 144];
    for (int k = 0; k < N * 144; k++) xd[k] = x[k];
    if (m) {
        cf_model_init(m, 7);
        double snip = 0, grad_norm = 0;
        for (int i = 0; i < m->net->n; i++) {
            const cf_net_layer *l = &m->net->layers[i];
            if (l->n_w == 0 || (l->kind != CF_OP_CONV2D && l->kind != CF_OP_LINEAR)) continue;
            double sq = 0;
            for (int64_t e = 0; e < cf_net_weight_numel(l, 0); e++) {
                const double h = 1e-6;
                double g = (loss_at(m, i, e, h, xd, y, N) - loss_at(m, i, e, -h, xd, y, N)) / (2 * h);
                sq += g * g;
                snip += fabs(g * ((const double *)cf_model_weight(m, i, 0))[e]);
            }
            grad_norm += sqrt(sq);
        }
        CHECK(fabs(snip - a[CF_PROXY_SNIP]) < 1e-4 * snip, "snip %.6g, by differences %.6g", a[CF_PROXY_SNIP], snip);
        CHECK(fabs(grad_norm - a[CF_PROXY_GRAD_NORM]) < 1e-4 * grad_norm, "grad_norm %.6g, by differences %.6g",
              a[CF_PROXY_GRAD_NORM], grad_norm);
        check_fisher(m, xd, y, N, a[CF_PROXY_FISHER]);
        check_jacob_cov(m, xd, N, a[CF_PROXY_JACOB_COV]);
    }
    cf_model_destroy(m);
    cf_net_destroy(net);
    cf_space_destroy(s);
}

int main(int argc, char **argv) {
    if (argc > 1) setenv("CELLFORGE_SPACES", argv[1], 1);
    test_correlations();
    test_eigenvalues();
    test_network();
    return test_finish("test_proxy");
}
