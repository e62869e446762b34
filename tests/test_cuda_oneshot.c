/* test_cuda_oneshot.c - supernets on a device backend against the CPU
 * reference: the same weights, coefficients and batch give the same loss,
 * weight gradients and mix-coefficient gradients, with every path and with
 * one architecture's paths alone; then darts and gdas supernets train there
 * for an epoch on Fashion-MNIST (when present) and derive an architecture.
 *
 *   build/tests/test_cuda_oneshot SPACES_DIR [cuda|fast]
 *
 * cuda (the default, label gpu) skips with 77 without a GPU; fast runs the
 * same checks on the fast CPU backend (label unit), so what does not depend
 * on CUDA is checked on every machine.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cellforge/log.h"
#include "cellforge/oneshot.h"
#include "cellforge/rng.h"
#include "check.h"
#include "cuda_test.h"

/* Normalized by the largest reference magnitude: fp32 sums of a few thousand
 * terms in another order (cuDNN's and the fast backend's algorithms), as
 * test_cuda_train's one-step tolerance. */
#define TOL_STEP 2e-4
#define BATCH 8

static cf_model *supernet(const cf_space *s, const cf_net_input *in, const cf_backend *be) {
    cf_arch a;
    cf_net *net = NULL;
    cf_model *m = NULL;
    CHECK_OK(cf_arch_parse(s, "supernet", &a));
    CHECK_OK(cf_net_build(s, &a, in, &net));
    if (net) CHECK_OK(cf_model_create(net, BATCH, be, 0, &m));
    if (m) cf_model_init(m, 17);
    return m;
}

/* One step on both models; compare loss and gradients. */
static void compare_step(const char *what, cf_model *dev, cf_model *ref, const float *x, const int32_t *y) {
    double l_dev = NAN, l_ref = NAN;
    CHECK_OK(cf_model_forward(dev, x, BATCH, 1));
    CHECK_OK(cf_model_loss(dev, y, 0, &l_dev));
    CHECK_OK(cf_model_backward(dev));
    CHECK_OK(cf_model_forward(ref, x, BATCH, 1));
    CHECK_OK(cf_model_loss(ref, y, 0, &l_ref));
    CHECK_OK(cf_model_backward(ref));
    CHECK(fabs(l_dev - l_ref) <= TOL_STEP * fabs(l_ref), "%s: loss %.7g vs reference %.7g", what, l_dev, l_ref);
    float *g = malloc(dev->n_params * sizeof *g);
    if (!g) return;
    CHECK_OK(cf_backend_copy(dev->be, g, dev->grad, dev->n_params * sizeof *g, CF_COPY_TO_HOST));
    const float *gr = ref->grad;
    double ew = cuda_test_norm_err(g, gr, dev->mix_offset);
    double ec = cuda_test_norm_err(g + dev->mix_offset, gr + ref->mix_offset, dev->n_params - dev->mix_offset);
    CHECK(ew < TOL_STEP, "%s: weight gradients off by %g", what, ew);
    CHECK(ec < TOL_STEP, "%s: mix coefficient gradients off by %g", what, ec);
    free(g);
}

static void test_space(const char *name, const char *k1, const char *v1, const char *k2, const char *v2,
                       const cf_backend *be) {
    cf_space *s = NULL;
    CHECK_OK(cf_space_load(name, &s));
    if (!s) return;
    CHECK_OK(cf_space_set(s, k1, v1));
    CHECK_OK(cf_space_set(s, k2, v2));
    cf_net_input in = {1, 16, 16, 10};
    cf_model *dev = supernet(s, &in, be), *ref = supernet(s, &in, cf_backend_cpu_ref());
    float *x = malloc(sizeof(float) * BATCH * 16 * 16);
    int32_t y[BATCH];
    cf_rng r = cf_rng_make(3, cf_rng_stream(0, CF_RNG_PURPOSE_TEST));
    for (int i = 0; x && i < BATCH * 16 * 16; i++) x[i] = cf_rng_normal(&r);
    for (int i = 0; i < BATCH; i++) y[i] = (int32_t)cf_rng_below(&r, 10);
    if (dev && ref && x) {
        /* random coefficients, the same on both */
        float *cd = (float *)dev->param + dev->mix_offset, *cr = (float *)ref->param + ref->mix_offset;
        for (size_t i = 0; i < dev->n_params - dev->mix_offset; i++) cd[i] = cr[i] = 0.1f + cf_rng_uniform(&r);
        cf_model_host_changed(dev);
        char what[64];
        snprintf(what, sizeof what, "%s, every path", name);
        compare_step(what, dev, ref, x, y);
        cf_arch a;
        cf_arch_sample(s, &r, &a);
        CHECK_OK(cf_oneshot_set_arch(dev, s, &a));
        CHECK_OK(cf_oneshot_set_arch(ref, s, &a));
        snprintf(what, sizeof what, "%s, one architecture's paths", name);
        compare_step(what, dev, ref, x, y);
    }
    free(x);
    cf_model_destroy(dev);
    cf_model_destroy(ref);
    cf_space_destroy(s);
}

static void test_train(const cf_backend *be) {
    cf_dataset *all = NULL, *train = NULL, *val = NULL, *rest = NULL, *part = NULL;
    if (cf_dataset_load("fashion-mnist", NULL, "train", &all) != CF_OK) {
        printf("Fashion-MNIST not found: the training checks are skipped\n");
        return;
    }
    CHECK_OK(cf_dataset_split(all, 1536.0 / 60000.0, 1, &rest, &part));
    CHECK_OK(cf_dataset_split(part, 1.0 / 3.0, 2, &train, &val));
    cf_space *s = NULL;
    CHECK_OK(cf_space_load("nb201", &s));
    if (s && train && val) {
        CHECK_OK(cf_space_set(s, "C", "4"));
        CHECK_OK(cf_space_set(s, "N", "1"));
        for (int k = 0; k < 2; k++) {
            cf_oneshot_config cfg;
            cf_oneshot_config_default(&cfg, k ? CF_ONESHOT_GDAS : CF_ONESHOT_DARTS);
            cfg.train.epochs = 2;
            cfg.train.lr = 0.1;
            cfg.order = 2;
            cf_net_input in = {1, 28, 28, 10};
            cf_arch a;
            cf_net *net = NULL;
            cf_model *m = NULL;
            CHECK_OK(cf_arch_parse(s, "supernet", &a));
            CHECK_OK(cf_net_build(s, &a, &in, &net));
            if (net) CHECK_OK(cf_model_create(net, cfg.train.batch, be, 0, &m));
            if (!m) continue;
            cf_model_init(m, 1);
            m->threads = 1;
            cf_oneshot_result *res = calloc(1, sizeof *res);
            CHECK_OK(cf_oneshot_run(m, s, train, val, &cfg, res));
            CHECK(res->status == CF_TRAIN_OK && res->n_derived == 1, "%s on %s: %s",
                  cf_oneshot_method_name(cfg.method), cf_backend_name(be), res->reason);
            CHECK(res->curve[1].train_loss < res->curve[0].train_loss, "%s: loss %g -> %g",
                  cf_oneshot_method_name(cfg.method), res->curve[0].train_loss, res->curve[1].train_loss);
            free(res);
            cf_model_destroy(m);
        }
    }
    cf_space_destroy(s);
    cf_dataset_destroy(all);
    cf_dataset_destroy(rest);
    cf_dataset_destroy(part);
    cf_dataset_destroy(train);
    cf_dataset_destroy(val);
}

int main(int argc, char **argv) {
    if (argc > 1) setenv("CELLFORGE_SPACES", argv[1], 1);
    cf_log_set_level(CF_LOG_LEVEL_WARN);
    const int fast = argc > 2 && strcmp(argv[2], "fast") == 0;
    cf_backend *be = NULL;
    if (fast) {
        CHECK_OK(cf_backend_cpu_fast_create(1, &be));
    } else {
        int skip = 0;
        be = cuda_test_open(1, &skip);
        if (skip) return CF_TEST_SKIP;
    }
    if (be) {
        test_space("nb201", "C", "4", "N", "1", be);
        test_space("darts", "C", "4", "layers", "3", be);
        test_train(be);
    }
    cf_backend_destroy(be);
    return test_finish(fast ? "test_cuda_oneshot (fast)" : "test_cuda_oneshot");
}
