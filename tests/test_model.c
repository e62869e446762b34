/* test_model.c - whole networks of every family, forward and backward through
 * cf_model, against finite differences of the loss.
 *
 * In f64 on the reference backend. For each small network: random input
 * and labels, PyTorch-default weights, training mode (batch statistics; drop-path and the auxiliary head on where
 * the family has them, with the drop-path masks held fixed by rewinding the
 * model's step counter). The analytic gradient g is checked along random
 * directions d over all parameters at once, (L(w + e d) - L(w - e d)) / 2e
 * against g . d, and on single parameters of every layer kind. Also: the
 * inference forward uses running statistics (differs from training), two
 * forwards with the same step give the same loss, and a planned arena of a
 * larger batch runs a smaller one.
 *
 *   build/tests/test_model SPACES_DIR
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cellforge/model.h"
#include "check.h"
#include "space_kit.h"

typedef struct net_case {
    const char *space, *options, *arch;
    cf_net_input in;
    int with_aux;
    double drop_path;
} net_case;

static const net_case k_cases[] = {
    {"nb201", "C=4,N=1", "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|none~2|",
     {1, 8, 8, 3}, 0, 0.0},
    {"nb201", "C=3,N=2", "|none~0|+|nor_conv_3x3~0|skip_connect~1|+|skip_connect~0|avg_pool_3x3~1|nor_conv_1x1~2|",
     {2, 12, 8, 4}, 0, 0.0},
    {"darts", "C=4,layers=3,auxiliary=1,drop_path=0.3",
     "Genotype(normal=[('sep_conv_3x3', 0), ('dil_conv_3x3', 1), ('skip_connect', 0), ('max_pool_3x3', 2), "
     "('avg_pool_3x3', 1), ('sep_conv_5x5', 3), ('dil_conv_5x5', 2), ('skip_connect', 4)], normal_concat=[2, 3, 4, 5], "
     "reduce=[('max_pool_3x3', 0), ('skip_connect', 1), ('sep_conv_3x3', 2), ('avg_pool_3x3', 0), "
     "('dil_conv_3x3', 1), ('skip_connect', 3), ('none', 0), ('sep_conv_3x3', 4)], reduce_concat=[2, 3, 4, 5])",
     {1, 20, 20, 3}, 1, 0.3},
    {"nb101", "stem_channels=4,stacks=2,cells_per_stack=1",
     "{\"matrix\":[[0,1,1,0,0,1,0],[0,0,0,1,0,0,0],[0,0,0,0,1,0,1],[0,0,0,0,1,0,0],[0,0,0,0,0,0,1],"
     "[0,0,0,0,0,0,1],[0,0,0,0,0,0,0]],\"ops\":[\"input\",\"conv3x3-bn-relu\",\"maxpool3x3\","
     "\"conv1x1-bn-relu\",\"conv3x3-bn-relu\",\"conv1x1-bn-relu\",\"output\"]}",
     {3, 8, 8, 5}, 0, 0.0},
    {"mobile", "width=0.25", "k3e3|k5e4|k3e6-k7e3|k3e3|k5e3", {1, 12, 12, 3}, 0, 0.0},
};

static cf_model *build(const net_case *nc, int batch) {
    cf_net *net = kit_net(nc->space, nc->options, nc->arch, &nc->in);
    cf_model *m = NULL;
    if (net && cf_model_create_dtype(net, batch, cf_backend_cpu_ref(), nc->with_aux, CF_DTYPE_F64, &m) != CF_OK)
        CHECK(0, "%s: model: %s", nc->space, cf_error_message());
    if (m) {
        m->drop_path = nc->drop_path;
        m->seed = 99;
        cf_model_init(m, 1234);
    }
    return m;
}

/* Training-mode loss with the drop-path masks of step `step`. */
static double loss_at(cf_model *m, const double *x, const int32_t *y, int n, uint64_t step) {
    m->step = step - 1;
    double loss = NAN;
    CHECK_OK(cf_model_forward(m, x, n, 1));
    CHECK_OK(cf_model_loss(m, y, 0.1, &loss));
    return loss;
}

static void check_case(const net_case *nc) {
    const int batch = 4;
    cf_model *m = build(nc, batch);
    if (!m) return;
    cf_rng r = cf_rng_make(5, cf_rng_stream(0, CF_RNG_PURPOSE_TEST));
    size_t image = (size_t)nc->in.c * nc->in.h * nc->in.w;
    double *x = malloc(batch * image * sizeof *x);
    int32_t y[4];
    for (size_t i = 0; i < batch * image; i++) x[i] = cf_rng_normal(&r);
    for (int b = 0; b < batch; b++) y[b] = (int32_t)cf_rng_below(&r, (uint32_t)nc->in.classes);

    const uint64_t step = 7;
    double l0 = loss_at(m, x, y, batch, step);
    CHECK_OK(cf_model_backward(m));
    size_t np = m->n_params;
    double *g = malloc(np * sizeof *g), *w0 = malloc(np * sizeof *w0), *d = malloc(np * sizeof *d);
    double *w = m->param;
    memcpy(g, m->grad, np * sizeof *g);
    memcpy(w0, m->param, np * sizeof *w0);
    double again = loss_at(m, x, y, batch, step);
    CHECK(again == l0, "%s: same step, loss %.9g then %.9g", nc->space, l0, again);

    /* directional derivatives along random directions */
    double worst = 0;
    for (int trial = 0; trial < 4; trial++) {
        double gd = 0, norm = 0;
        for (size_t i = 0; i < np; i++) {
            d[i] = cf_rng_normal(&r);
            norm += (double)d[i] * d[i];
        }
        for (size_t i = 0; i < np; i++) {
            d[i] = d[i] / sqrt(norm);
            gd += g[i] * d[i];
        }
        const double e = 1e-6;
        for (size_t i = 0; i < np; i++) w[i] = w0[i] + e * d[i];
        double lp = loss_at(m, x, y, batch, step);
        for (size_t i = 0; i < np; i++) w[i] = w0[i] - e * d[i];
        double lm = loss_at(m, x, y, batch, step);
        memcpy(w, w0, np * sizeof *w0);
        double fd = (lp - lm) / (2 * e);
        double err = fabs(fd - gd) / fmax(fabs(fd), 1e-3);
        if (err > worst) worst = err;
        /* f64: loss rounding ~1e-16 over 2e-6 is 1e-10; curvature over e = 1e-6 is ~1e-12;
         * a ReLU kink crossed within 1e-6 is unlikely. Wiring mistakes give errors of order 1. */
        CHECK(err < 1e-6, "%s: direction %d: finite difference %.6g, analytic %.6g (rel err %.3g)",
              nc->space, trial, fd, gd, err);
    }
    printf("%-6s %-44s %6zu params, %4d layers: loss %.4f, directional rel err %.2e\n", nc->space,
           nc->options, np, m->net->n, l0, worst);

    /* inference uses running statistics: a different loss from training mode */
    double li = NAN;
    CHECK_OK(cf_model_forward(m, x, batch, 0));
    CHECK_OK(cf_model_loss(m, y, 0.1, &li));
    CHECK(isfinite(li) && li != l0, "%s: inference loss %g equals training loss", nc->space, li);
    CHECK(cf_model_backward(m) == CF_ERR_INVALID_ARG, "%s: backward after inference accepted", nc->space);
    /* a smaller batch in the same arena */
    double l2 = loss_at(m, x, y, 2, step);
    CHECK(isfinite(l2), "%s: batch of 2 loss %g", nc->space, l2);
    CHECK_OK(cf_model_backward(m));
    CHECK(cf_model_forward(m, x, batch + 1, 1) == CF_ERR_INVALID_ARG, "%s: oversized batch accepted", nc->space);
    free(x);
    free(g);
    free(w0);
    free(d);
    cf_model_destroy(m);
}

int main(int argc, char **argv) {
    if (argc > 1) setenv("CELLFORGE_SPACES", argv[1], 1);
    for (size_t i = 0; i < sizeof k_cases / sizeof k_cases[0]; i++) check_case(&k_cases[i]);
    return test_finish("test_model");
}
