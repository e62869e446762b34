/* test_cuda_train.c - (gpu) whole networks on the GPU against the CPU: one
 * network per family, built twice from the same weights, one model on the
 * reference CPU backend and one on the backend under test.
 *
 *  1. One training step by hand: the logits, the loss and every parameter's
 *     gradient, against the reference in f32, and per layer against the
 *     reference in f64 (the exact answer to rounding).
 *  2. A few SGD steps through cf_train on a small synthetic dataset with
 *     augmentation (and drop-path and the auxiliary head for DARTS): the loss
 *     of the epoch, the weights and BN statistics after it, and the logits
 *     of cf_evaluate_logits on the validation images.
 *  3. Back on the host: a model trained on the device is saved and loaded
 *     again on the CPU, and gives the device's logits.
 *  4. Mixed precision (bf16, f16): one and ten steps of the nb201 network
 *     against the reference in the same precision (see mixed_run).
 *
 * The backend under test is the GPU (test_cuda_train, exits 77 (skipped) in
 * a build without CUDA or on a machine without a GPU) or, with the argument
 * `fast`, the fast CPU backend (test_fast_train, label unit): it sums in
 * another order too, so every check here that rounding could trip is tried
 * on every machine, GPU or not.
 *
 *   build/tests/test_cuda_train SPACES_DIR TMP_DIR [cuda|fast]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cellforge/checkpoint.h"
#include "cellforge/rng.h"
#include "cellforge/train.h"
#include "check.h"
#include "cuda_test.h"
#include "space_kit.h"

/* Steps of part 2. Trained on random labels at batch 8, the DARTS and mobile
 * networks are chaotic: on the reference backend itself, one weight nudged
 * by one ulp moves the weights after ten steps by ~1e-2 and the BN
 * statistics by ~5e-2 (any other summation order does the same), so ten
 * steps cannot tell a bug from rounding. Part 2 first checks that its
 * horizon is well-conditioned (the nudged reference stays within
 * TOL_TRAIN / 10) and then holds the device to TOL_TRAIN. */
#define DARTS_STEPS 4
#define MOBILE_STEPS 3

typedef struct net_case {
    const char *space, *options, *arch;
    int c, h, w, classes;
    int with_aux;
    double drop_path;
    int steps; /* SGD steps of part 2: as many as the problem stays well-conditioned (see below) */
} net_case;

static const net_case k_cases[] = {
    {"nb201", "C=8,N=1", "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|none~2|",
     1, 16, 16, 10, 0, 0.0, 10},
    {"darts", "C=8,layers=3,auxiliary=1,drop_path=0.3",
     "Genotype(normal=[('sep_conv_3x3', 0), ('dil_conv_3x3', 1), ('skip_connect', 0), ('max_pool_3x3', 2), "
     "('avg_pool_3x3', 1), ('sep_conv_5x5', 3), ('dil_conv_5x5', 2), ('skip_connect', 4)], normal_concat=[2, 3, 4, 5], "
     "reduce=[('max_pool_3x3', 0), ('skip_connect', 1), ('sep_conv_3x3', 2), ('avg_pool_3x3', 0), "
     "('dil_conv_3x3', 1), ('skip_connect', 3), ('none', 0), ('sep_conv_3x3', 4)], reduce_concat=[2, 3, 4, 5])",
     3, 20, 20, 10, 1, 0.3, DARTS_STEPS},
    {"nb101", "stem_channels=8,stacks=2,cells_per_stack=1",
     "{\"matrix\":[[0,1,1,0,0,1,0],[0,0,0,1,0,0,0],[0,0,0,0,1,0,1],[0,0,0,0,1,0,0],[0,0,0,0,0,0,1],"
     "[0,0,0,0,0,0,1],[0,0,0,0,0,0,0]],\"ops\":[\"input\",\"conv3x3-bn-relu\",\"maxpool3x3\","
     "\"conv1x1-bn-relu\",\"conv3x3-bn-relu\",\"conv1x1-bn-relu\",\"output\"]}",
     3, 16, 16, 10, 0, 0.0, 10},
    {"mobile", "width=0.5", "k3e3|k5e4|k3e6-k7e3|k3e3|k5e3", 3, 24, 24, 10, 0, 0.0, MOBILE_STEPS},
};

/* Tolerances, normalized by the largest reference magnitude. */
#define TOL_STEP 2e-4   /* one step: fp32 sums of a few thousand terms in another order */
#define TOL_TRAIN 5e-3  /* SGD steps: the one-step differences grow through the updates */
/* Per layer, against the f64 reference: 10 x TOL_STEP, normalized by the
 * layer's largest exact gradient but by no less than LAYER_FLOOR x the
 * model's. Below that floor the exact gradient is nearly zero and every f32
 * sum is rounding noise: the beta of a BN that reaches another BN through a
 * linear layer has gradient exactly 0 (the second BN removes any
 * per-channel shift), and the f32 reference itself is then off by 1e7. */
#define LAYER_FLOOR 1e-3
#define BATCH 8

static cf_model *build_dtype(const net_case *nc, const cf_backend *be, int batch, cf_dtype dtype) {
    const cf_net_input in = {nc->c, nc->h, nc->w, nc->classes};
    cf_net *net = kit_net(nc->space, nc->options, nc->arch, &in);
    cf_model *m = NULL;
    if (net && cf_model_create_dtype(net, batch, be, nc->with_aux, dtype, &m) != CF_OK)
        CHECK(0, "%s on %s: model: %s", nc->space, cf_backend_name(be), cf_error_message());
    if (m) {
        m->drop_path = nc->drop_path;
        m->seed = 99;
        cf_model_init(m, 1234);
    }
    return m;
}

static cf_model *build(const net_case *nc, const cf_backend *be, int batch) {
    return build_dtype(nc, be, batch, CF_DTYPE_F32);
}

/* Normalized error of a float array against a double one, the scale at
 * least `floor`. */
static double norm_err64(const float *a, const double *b, size_t n, double floor) {
    double worst = 0, scale = floor > 1e-30 ? floor : 1e-30;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= worst)) worst = d;
        if (fabs(b[i]) > scale) scale = fabs(b[i]);
    }
    return worst / scale;
}

static const char *g_name = "GPU"; /* the backend under test, in messages */

static cf_dataset *synthetic(const net_case *nc, size_t n, uint64_t seed) {
    cf_dataset *ds = NULL;
    if (cf_dataset_create("synthetic", n, nc->c, nc->h, nc->w, nc->classes, &ds) != CF_OK) return NULL;
    cf_rng r = cf_rng_make(seed, cf_rng_stream(7, CF_RNG_PURPOSE_TEST));
    for (size_t i = 0; i < n * cf_dataset_image_bytes(ds); i++) ds->images[i] = (uint8_t)cf_rng_below(&r, 256);
    for (size_t i = 0; i < n; i++) ds->labels[i] = (int32_t)cf_rng_below(&r, (uint32_t)nc->classes);
    return ds;
}

/* The gradient block of a model, on the host. */
static float *grad_host(const cf_model *m) {
    float *g = malloc(m->n_params * sizeof *g);
    if (g) CHECK_OK(cf_backend_copy(m->be, g, m->grad, m->n_params * sizeof *g, CF_COPY_TO_HOST));
    return g;
}

static void one_step(const net_case *nc, const cf_backend *gpu) {
    cf_model *cpu_m = build(nc, cf_backend_cpu_ref(), BATCH), *gpu_m = build(nc, gpu, BATCH);
    cf_model *exact = build_dtype(nc, cf_backend_cpu_ref(), BATCH, CF_DTYPE_F64);
    cf_dataset *ds = synthetic(nc, BATCH, 5);
    double *x64 = NULL;
    if (!cpu_m || !gpu_m || !exact || !ds) goto exit;
    const size_t image = cf_dataset_image_bytes(ds);
    float *x = malloc(BATCH * image * sizeof *x), mean[4] = {0.5f, 0.5f, 0.5f, 0.5f}, std[4] = {0.25f, 0.25f, 0.25f, 0.25f};
    int32_t y[BATCH];
    uint32_t idx[BATCH];
    for (int k = 0; k < BATCH; k++) idx[k] = (uint32_t)k;
    cf_data_batch(ds, idx, BATCH, mean, std, NULL, 0, 0, 0, x, y);
    double loss_cpu = 0, loss_gpu = 0;
    x64 = malloc(BATCH * image * sizeof *x64);
    if (!x64) goto exit;
    for (size_t i = 0; i < BATCH * image; i++) x64[i] = x[i];
    CHECK_OK(cf_model_forward(cpu_m, x, BATCH, 1));
    CHECK_OK(cf_model_forward(gpu_m, x, BATCH, 1));
    CHECK_OK(cf_model_forward(exact, x64, BATCH, 1));
    float lc[BATCH * 16], lg[BATCH * 16];
    CHECK_OK(cf_model_logits_host(cpu_m, lc));
    CHECK_OK(cf_model_logits_host(gpu_m, lg));
    double e = cuda_test_norm_err(lg, lc, (size_t)BATCH * nc->classes);
    printf("%-6s one step: logits %.2e", nc->space, e);
    CHECK(e <= TOL_STEP, "%s: logits differ by %.3g", nc->space, e);
    CHECK_OK(cf_model_loss(cpu_m, y, 0.1, &loss_cpu));
    CHECK_OK(cf_model_loss(gpu_m, y, 0.1, &loss_gpu));
    e = fabs(loss_gpu - loss_cpu) / fabs(loss_cpu);
    printf("  loss %.2e", e);
    CHECK(e <= TOL_STEP, "%s: loss %.6f on the %s, %.6f on the CPU", nc->space, loss_gpu, g_name, loss_cpu);
    double loss_exact = 0;
    CHECK_OK(cf_model_loss(exact, y, 0.1, &loss_exact));
    CHECK_OK(cf_model_backward(cpu_m));
    CHECK_OK(cf_model_backward(gpu_m));
    CHECK_OK(cf_model_backward(exact));
    float *g = grad_host(gpu_m);
    if (g) {
        e = cuda_test_norm_err(g, cpu_m->grad, cpu_m->n_params);
        printf("  gradients %.2e\n", e);
        CHECK(e <= TOL_STEP, "%s: gradients differ by %.3g", nc->space, e);
        /* per layer against the exact gradient, to name the first that differs */
        double worst_ratio = 0, worst_layer = 0, top = 0;
        for (size_t j = 0; j < exact->n_params; j++)
            if (fabs(((const double *)exact->grad)[j]) > top) top = fabs(((const double *)exact->grad)[j]);
        for (int i = 0; i < cpu_m->net->n; i++)
            for (int k = 0; k < cpu_m->net->layers[i].n_w; k++) {
                size_t off = cpu_m->layers[i].w_offset[k], n = (size_t)cf_net_weight_numel(&cpu_m->net->layers[i], k);
                const double *truth = (const double *)exact->grad + off;
                double le = norm_err64(g + off, truth, n, LAYER_FLOOR * top);
                double ref = norm_err64((const float *)cpu_m->grad + off, truth, n, LAYER_FLOOR * top);
                if (ref > 0 && le / ref > worst_ratio) worst_ratio = le / ref;
                if (le > worst_layer) worst_layer = le;
                CHECK(le <= 10 * TOL_STEP,
                      "%s: layer %d (%s) weight %d gradient is off the exact one by %.3g (the f32 reference "
                      "by %.3g)", nc->space, i, cpu_m->net->layers[i].name, k, le, ref);
            }
        printf("%-6s per layer: worst %.2e, %.1f x the f32 reference's\n", nc->space, worst_layer, worst_ratio);
    }
    free(g);
    free(x);
exit:
    free(x64);
    cf_model_destroy(cpu_m);
    cf_model_destroy(gpu_m);
    cf_model_destroy(exact);
    cf_dataset_destroy(ds);
}

/* The training of parts 2 and 4: one epoch at BATCH, lr 0.05, seed 3, the gradient clipped at 5. */
static cf_train_config steps_config(void) {
    cf_train_config cfg;
    cf_train_config_default(&cfg);
    cfg.epochs = 1;
    cfg.batch = BATCH;
    cfg.lr = 0.05;
    cfg.seed = 3;
    cfg.grad_clip = 5;
    return cfg;
}

static void sgd_steps(const net_case *nc, const cf_backend *gpu, const char *tmp) {
    cf_model *cpu_m = build(nc, cf_backend_cpu_ref(), BATCH), *gpu_m = build(nc, gpu, BATCH);
    cf_model *nudged = build(nc, cf_backend_cpu_ref(), BATCH);
    cf_dataset *train = synthetic(nc, (size_t)nc->steps * BATCH, 11), *val = synthetic(nc, 21, 12);
    cf_train_result *rc = calloc(1, sizeof *rc), *rg = calloc(1, sizeof *rg), *rn = calloc(1, sizeof *rn);
    float *lc = NULL, *lg = NULL;
    if (!cpu_m || !gpu_m || !nudged || !train || !val || !rc || !rg || !rn) goto exit;
    cf_train_config cfg = steps_config();
    cfg.drop_path = nc->drop_path;
    cfg.augment = (cf_augment){2, 1, 4, 0};
    CHECK_OK(cf_train(cpu_m, train, val, &cfg, rc));
    /* the horizon is well-conditioned: the first weight one ulp up moves nothing past TOL_TRAIN / 10 */
    float *w0 = nudged->param;
    w0[0] = nextafterf(w0[0], INFINITY);
    cf_model_host_changed(nudged);
    CHECK_OK(cf_train(nudged, train, val, &cfg, rn));
    double nw = cuda_test_norm_err(nudged->param, cpu_m->param, cpu_m->n_params);
    double ns = cuda_test_norm_err(nudged->state, cpu_m->state, cpu_m->n_state);
    CHECK(nw <= TOL_TRAIN / 10 && ns <= TOL_TRAIN / 10,
          "%s: %d steps are chaotic: one ulp in one weight moves the weights by %.3g, the BN statistics by %.3g",
          nc->space, nc->steps, nw, ns);
    CHECK_OK(cf_train(gpu_m, train, val, &cfg, rg));
    CHECK(rc->status == CF_TRAIN_OK && rg->status == CF_TRAIN_OK, "%s: cpu %s, gpu %s (%s)", nc->space,
          cf_train_status_name(rc->status), cf_train_status_name(rg->status), rg->reason);
    /* on the GPU every step after the first runs from the captured graph, unless drop-path masks change */
    if (strcmp(g_name, "GPU") == 0) {
        const int64_t want = nc->drop_path > 0 ? 0 : nc->steps - 1;
        CHECK(rg->graph_steps == want, "%s: %lld steps ran from a graph, want %lld", nc->space,
              (long long)rg->graph_steps, (long long)want);
    } else {
        CHECK(rg->graph_steps == 0, "%s: %lld graph steps on a host backend", nc->space, (long long)rg->graph_steps);
    }
    double le = fabs(rg->curve[0].train_loss - rc->curve[0].train_loss) / fabs(rc->curve[0].train_loss);
    /* cf_train leaves the host copies current: param and state are comparable as they are */
    double we = cuda_test_norm_err(gpu_m->param, cpu_m->param, cpu_m->n_params);
    double se = cuda_test_norm_err(gpu_m->state, cpu_m->state, cpu_m->n_state);
    printf("%-6s %2d steps: loss %.2e  weights %.2e  bn statistics %.2e (one ulp: %.1e, %.1e)", nc->space,
           nc->steps, le, we, se, nw, ns);
    CHECK(le <= TOL_TRAIN, "%s: epoch loss %.6f on the %s, %.6f on the CPU", nc->space, rg->curve[0].train_loss,
          g_name, rc->curve[0].train_loss);
    CHECK(we <= TOL_TRAIN, "%s: weights after %d steps differ by %.3g", nc->space, nc->steps, we);
    CHECK(se <= TOL_TRAIN, "%s: BN statistics after %d steps differ by %.3g", nc->space, nc->steps, se);
    lc = malloc(val->n * (size_t)nc->classes * sizeof *lc);
    lg = malloc(val->n * (size_t)nc->classes * sizeof *lg);
    double ac = 0, ag = 0;
    CHECK_OK(cf_evaluate_logits(cpu_m, val, rc->mean, rc->std, &ac, NULL, lc));
    CHECK_OK(cf_evaluate_logits(gpu_m, val, rg->mean, rg->std, &ag, NULL, lg));
    double ee = cuda_test_norm_err(lg, lc, val->n * (size_t)nc->classes);
    printf("  eval logits %.2e\n", ee);
    CHECK(ee <= TOL_TRAIN, "%s: evaluation logits differ by %.3g", nc->space, ee);

    /* back on the host through a checkpoint */
    char path[512];
    snprintf(path, sizeof path, "%s/cuda_train_%s.cfm", tmp, nc->space);
    cf_space *s = kit_space(nc->space, nc->options);
    if (s) {
        CHECK_OK(cf_checkpoint_save(path, s, nc->arch, gpu_m, &cfg, rg, -1));
        cf_model *back = NULL;
        cf_checkpoint_info info;
        if (cf_checkpoint_load(path, cf_backend_cpu_ref(), BATCH, &back, &info) == CF_OK) {
            double ab = 0;
            CHECK_OK(cf_evaluate_logits(back, val, rg->mean, rg->std, &ab, NULL, lc));
            double be = cuda_test_norm_err(lc, lg, val->n * (size_t)nc->classes);
            CHECK(be <= TOL_STEP, "%s: the saved %s model gives other logits on the CPU (%.3g)", nc->space, g_name, be);
            cf_model_destroy(back);
        } else {
            CHECK(0, "%s: %s", path, cf_error_message());
        }
        remove(path);
    }
    cf_space_destroy(s);
exit:
    free(lc);
    free(lg);
    free(rc);
    free(rg);
    free(rn);
    cf_model_destroy(cpu_m);
    cf_model_destroy(gpu_m);
    cf_model_destroy(nudged);
    cf_dataset_destroy(train);
    cf_dataset_destroy(val);
}

/* Part 4: mixed precision. The nb201 case in bf16 and in f16 (loss scaled)
 * through cf_train on the backend under test and on the reference, which
 * widens the same 16-bit values and rounds once as the backend does (ops.h).
 * Each op's f32-level difference can move a 16-bit rounding by one unit, and
 * batch norm's backward over small maps at batch 8 turns such flips into
 * gradient differences far above one unit (test_half measures the 16-bit
 * gradient against the f32 one on this kind of network), so one step is held
 * to a bound ten times what the fast CPU backend gives against the reference
 * (measured: weights 9e-5 in bf16, 1.2e-3 in f16), and ten steps, where the
 * flips compound (3e-2, 1e-1), only by the loss of the epoch (1.5e-3, 4.7e-3
 * measured; bound 3e-2) and the steps skipped. On the GPU every step after
 * the first runs from the graph, the seeds and the 16-bit weight copy inside it. */
typedef struct mixed_bound {
    cf_dtype dt;
    double one_step_weights; /* normalized, after one step */
    double loss;             /* relative, the epoch's loss after `steps` */
} mixed_bound;

static const mixed_bound mixed_bounds[2] = {{CF_DTYPE_BF16, 1e-3, 3e-2}, {CF_DTYPE_F16, 1.2e-2, 3e-2}};

/* One epoch of `steps` steps on both backends in m's precision; *we the weights' error. */
static void mixed_run(const net_case *nc, const cf_backend *gpu, const mixed_bound *mb, int steps, double *we) {
    const cf_dtype dt = mb->dt;
    net_case c = *nc;
    c.steps = steps;
    cf_model *cpu_m = build_dtype(&c, cf_backend_cpu_ref(), BATCH, dt), *gpu_m = build_dtype(&c, gpu, BATCH, dt);
    cf_dataset *train = synthetic(&c, (size_t)steps * BATCH, 11);
    cf_train_result *rc = calloc(1, sizeof *rc), *rg = calloc(1, sizeof *rg);
    *we = INFINITY;
    if (cpu_m && gpu_m && train && rc && rg) {
        cf_train_config cfg = steps_config();
        cfg.precision = dt;
        CHECK_OK(cf_train(cpu_m, train, NULL, &cfg, rc));
        CHECK_OK(cf_train(gpu_m, train, NULL, &cfg, rg));
        CHECK(rc->status == CF_TRAIN_OK && rg->status == CF_TRAIN_OK, "%s %s: cpu %s, %s %s (%s)", c.space,
              cf_dtype_name(dt), cf_train_status_name(rc->status), g_name, cf_train_status_name(rg->status),
              rg->reason);
        if (strcmp(g_name, "GPU") == 0)
            CHECK(rg->graph_steps == steps - 1, "%s %s: %lld steps ran from a graph, want %d", c.space,
                  cf_dtype_name(dt), (long long)rg->graph_steps, steps - 1);
        const double le = fabs(rg->curve[0].train_loss - rc->curve[0].train_loss) / fabs(rc->curve[0].train_loss);
        *we = cuda_test_norm_err(gpu_m->param, cpu_m->param, cpu_m->n_params);
        printf("%-6s %s %2d steps: loss %.2e  weights %.2e  skipped %lld / %lld\n", c.space, cf_dtype_name(dt), steps,
               le, *we, (long long)rg->scale_skips, (long long)rc->scale_skips);
        CHECK(le <= mb->loss, "%s %s: epoch loss %.6f on the %s, %.6f on the CPU", c.space, cf_dtype_name(dt),
              rg->curve[0].train_loss, g_name, rc->curve[0].train_loss);
        CHECK(rg->scale_skips == rc->scale_skips, "%s %s: %lld steps skipped on the %s, %lld on the CPU", c.space,
              cf_dtype_name(dt), (long long)rg->scale_skips, g_name, (long long)rc->scale_skips);
    }
    free(rc);
    free(rg);
    cf_model_destroy(cpu_m);
    cf_model_destroy(gpu_m);
    cf_dataset_destroy(train);
}

static void mixed_steps(const net_case *nc, const cf_backend *gpu) {
    for (int t = 0; t < 2; t++) {
        const mixed_bound *mb = &mixed_bounds[t];
        double we = 0;
        mixed_run(nc, gpu, mb, 1, &we);
        CHECK(we <= mb->one_step_weights, "%s %s: f32 weights after one step differ by %.3g (bound %.3g)", nc->space,
              cf_dtype_name(mb->dt), we, mb->one_step_weights);
        mixed_run(nc, gpu, mb, nc->steps, &we);
    }
}

int main(int argc, char **argv) {
    if (argc > 1) setenv("CELLFORGE_SPACES", argv[1], 1);
    const char *tmp = argc > 2 ? argv[2] : ".";
    const int fast = argc > 3 && strcmp(argv[3], "fast") == 0;
    const char *name = fast ? "test_fast_train" : "test_cuda_train";
    cf_backend *be = NULL;
    cf_status st;
    if (fast) {
        g_name = "fast CPU";
        st = cf_backend_cpu_fast_create(2, &be);
    } else {
        st = cf_backend_cuda_create(0, 1, &be);
        if (st == CF_ERR_UNSUPPORTED || st == CF_ERR_NO_DEVICE) {
            printf("skipped: %s\n", cf_error_message());
            return CF_TEST_SKIP;
        }
    }
    CHECK_OK(st);
    if (!be) return test_finish(name);
    for (size_t i = 0; i < sizeof k_cases / sizeof k_cases[0]; i++) {
        one_step(&k_cases[i], be);
        sgd_steps(&k_cases[i], be, tmp);
    }
    mixed_steps(&k_cases[0], be); /* nb201: ten steps stay well-conditioned */
    if (fast)
        cf_backend_cpu_fast_destroy(be);
    else
        cf_backend_cuda_destroy(be);
    return test_finish(name);
}
