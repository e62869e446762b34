/* test_proxy.c - the zero-cost proxies against direct formulas: rank
 * correlations on hand-made data, the kernel and gradients of a network whose
 * output does not depend on its input, snip and grad_norm against finite
 * differences of the loss, and the same scores for the same seed. (Each proxy
 * equals PyTorch's computation on the same weights: python/tests/test_proxy.py.)
 *
 *   ctest -R test_proxy --output-on-failure
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cellforge/cost.h"
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
    CHECK(cf_proxy_parse("synflow", &p) && p == CF_PROXY_SYNFLOW && !cf_proxy_parse("fisher", &p), "names");
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
    }
    cf_model_destroy(m);
    cf_net_destroy(net);
    cf_space_destroy(s);
}

int main(int argc, char **argv) {
    if (argc > 1) setenv("CELLFORGE_SPACES", argv[1], 1);
    test_correlations();
    test_network();
    return test_finish("test_proxy");
}
