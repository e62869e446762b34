/* bench_fast_ops.c - forward and backward time of the fast CPU backend's ops
 * on the shapes of the NAS-Bench-201 / DARTS networks on Fashion-MNIST
 * (28x28x1, C = 16, batch 256), one JSON line per (configuration, threads).
 * benchmarks/peer_torch_ops.py --fast runs the same configurations in
 * PyTorch; benchmarks/compare_fast.py pairs the lines into ratios.
 *
 *   build/benchmarks/bench_fast_ops                 # 1 and 2 threads, all ops
 *   build/benchmarks/bench_fast_ops --threads 2     # one thread count
 *   build/benchmarks/bench_fast_ops --quick         # fewer repetitions
 *   build/benchmarks/bench_fast_ops --only conv3x3  # configurations whose name contains it
 *
 * Each figure is the best of `reps` timed calls after one warm-up call (which
 * also grows the backend's workspace, so no timed call allocates).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cellforge/backend.h"
#include "cellforge/rng.h"
#include "cellforge/thread.h"

typedef struct bench_cfg {
    const char *name;
    cf_op_kind kind;
    cf_op_params params;
    int n_inputs;
    int64_t in[3][4];
    int64_t w[2][4]; /* zero: absent */
} bench_cfg;

#define B 256
#define CONV(s, p, d, g) {.conv = {.stride_h = s, .stride_w = s, .pad_h = p, .pad_w = p, .dil_h = d, .dil_w = d, .groups = g}}
#define POOL(k, s, p) {.pool = {.kernel_h = k, .kernel_w = k, .stride_h = s, .stride_w = s, .pad_h = p, .pad_w = p}}
#define BN(train) {.bn = {.eps = 1e-5, .momentum = 0.1, .training = train}}
#define X16 {B, 16, 28, 28}

static const bench_cfg cfgs[] = {
    {"conv3x3_c16_28", CF_OP_CONV2D, CONV(1, 1, 1, 1), 1, {X16}, {{16, 16, 3, 3}}},
    {"conv3x3_c8_28", CF_OP_CONV2D, CONV(1, 1, 1, 1), 1, {{B, 8, 28, 28}}, {{8, 8, 3, 3}}},
    {"conv3x3_s2_c8to16_28", CF_OP_CONV2D, CONV(2, 1, 1, 1), 1, {{B, 8, 28, 28}}, {{16, 8, 3, 3}}},
    {"conv3x3_c32_14", CF_OP_CONV2D, CONV(1, 1, 1, 1), 1, {{B, 32, 14, 14}}, {{32, 32, 3, 3}}},
    {"conv3x3_c64_7", CF_OP_CONV2D, CONV(1, 1, 1, 1), 1, {{B, 64, 7, 7}}, {{64, 64, 3, 3}}},
    {"conv3x3_s2_c16to32_28", CF_OP_CONV2D, CONV(2, 1, 1, 1), 1, {X16}, {{32, 16, 3, 3}}},
    {"conv3x3_s2_c32to64_14", CF_OP_CONV2D, CONV(2, 1, 1, 1), 1, {{B, 32, 14, 14}}, {{64, 32, 3, 3}}},
    {"conv3x3_stem_c1to16_28", CF_OP_CONV2D, CONV(1, 1, 1, 1), 1, {{B, 1, 28, 28}}, {{16, 1, 3, 3}}},
    {"conv1x1_c16_28", CF_OP_CONV2D, CONV(1, 0, 1, 1), 1, {X16}, {{16, 16, 1, 1}}},
    {"conv1x1_c16to32_14", CF_OP_CONV2D, CONV(1, 0, 1, 1), 1, {{B, 16, 14, 14}}, {{32, 16, 1, 1}}},
    {"conv1x1_c32to64_7", CF_OP_CONV2D, CONV(1, 0, 1, 1), 1, {{B, 32, 7, 7}}, {{64, 32, 1, 1}}},
    {"conv5x5_c16_28", CF_OP_CONV2D, CONV(1, 2, 1, 1), 1, {X16}, {{16, 16, 5, 5}}},
    {"dw3x3_c16_28", CF_OP_CONV2D, CONV(1, 1, 1, 16), 1, {X16}, {{16, 1, 3, 3}}},
    {"dw3x3_dil2_c16_28", CF_OP_CONV2D, CONV(1, 2, 2, 16), 1, {X16}, {{16, 1, 3, 3}}},
    {"dw5x5_c16_28", CF_OP_CONV2D, CONV(1, 2, 1, 16), 1, {X16}, {{16, 1, 5, 5}}},
    {"dw7x7_c16_28", CF_OP_CONV2D, CONV(1, 3, 1, 16), 1, {X16}, {{16, 1, 7, 7}}},
    {"bn_train_c16_28", CF_OP_BATCHNORM, BN(1), 1, {X16}, {{16, 1, 1, 1}, {16, 1, 1, 1}}},
    {"bn_train_c32_14", CF_OP_BATCHNORM, BN(1), 1, {{B, 32, 14, 14}}, {{32, 1, 1, 1}, {32, 1, 1, 1}}},
    {"bn_train_c64_7", CF_OP_BATCHNORM, BN(1), 1, {{B, 64, 7, 7}}, {{64, 1, 1, 1}, {64, 1, 1, 1}}},
    {"bn_eval_c16_28", CF_OP_BATCHNORM, BN(0), 1, {X16}, {{16, 1, 1, 1}, {16, 1, 1, 1}}},
    {"relu_c16_28", CF_OP_RELU, {{0}}, 1, {X16}, {{0}}},
    {"avgpool3x3_c16_28", CF_OP_AVGPOOL2D, POOL(3, 1, 1), 1, {X16}, {{0}}},
    {"maxpool3x3_c16_28", CF_OP_MAXPOOL2D, POOL(3, 1, 1), 1, {X16}, {{0}}},
    {"avgpool2x2_s2_c16_28", CF_OP_AVGPOOL2D, POOL(2, 2, 0), 1, {X16}, {{0}}},
    {"sum2_c16_28", CF_OP_SUM, {{0}}, 2, {X16, X16}, {{0}}},
    {"sum3_c16_28", CF_OP_SUM, {{0}}, 3, {X16, X16, X16}, {{0}}},
    {"concat2_c16_28", CF_OP_CONCAT, {{0}}, 2, {X16, X16}, {{0}}},
    {"global_avgpool_c64_7", CF_OP_GLOBAL_AVGPOOL, {{0}}, 1, {{B, 64, 7, 7}}, {{0}}},
    {"linear_64to10", CF_OP_LINEAR, {{0}}, 1, {{B, 64, 1, 1}}, {{10, 64, 1, 1}, {10, 1, 1, 1}}},
    {"softmax_xent_10", CF_OP_SOFTMAX_XENT, {.xent = {.label_smoothing = 0.0}}, 2, {{B, 10, 1, 1}, {B, 1, 1, 1}}, {{0}}},
};

typedef struct bufs {
    cf_op_args a;
    cf_tensor in[3], w[2], state[4], out, dout, din[3], dw[2];
    void *blocks[32];
    int n;
} bufs;

static void make(bufs *b, cf_tensor *t, cf_dtype dtype, const int64_t s[4], cf_rng *r) {
    cf_tensor_init(t, dtype, s[0], s[1], s[2], s[3], NULL);
    t->data = malloc(cf_tensor_bytes(t));
    if (!t->data) abort();
    b->blocks[b->n++] = t->data;
    const int64_t n = cf_tensor_numel(t);
    if (dtype == CF_DTYPE_F32)
        for (int64_t i = 0; i < n; i++) ((float *)t->data)[i] = cf_rng_normal(r);
}

static void setup(bufs *b, const bench_cfg *c, cf_rng *r) {
    memset(b, 0, sizeof *b);
    cf_op_args *a = &b->a;
    a->kind = c->kind;
    a->params = c->params;
    a->n_inputs = c->n_inputs;
    for (int i = 0; i < c->n_inputs; i++) {
        if (c->kind == CF_OP_SOFTMAX_XENT && i == 1) {
            make(b, &b->in[i], CF_DTYPE_I32, c->in[i], r);
            for (int64_t k = 0; k < c->in[i][0]; k++) ((int32_t *)b->in[i].data)[k] = (int32_t)cf_rng_below(r, 10);
        } else {
            make(b, &b->in[i], CF_DTYPE_F32, c->in[i], r);
            make(b, &b->din[i], CF_DTYPE_F32, c->in[i], r);
            a->din[i] = &b->din[i];
        }
        a->in[i] = &b->in[i];
    }
    for (int i = 0; i < 2; i++) {
        if (!c->w[i][0]) continue;
        make(b, &b->w[i], CF_DTYPE_F32, c->w[i], r);
        make(b, &b->dw[i], CF_DTYPE_F32, c->w[i], r);
        a->w[i] = &b->w[i];
        a->dw[i] = &b->dw[i];
    }
    if (c->kind == CF_OP_BATCHNORM) {
        const int64_t v[4] = {c->in[0][1], 1, 1, 1};
        for (int i = 0; i < 4; i++) {
            make(b, &b->state[i], CF_DTYPE_F32, v, r);
            for (int64_t k = 0; k < v[0]; k++) ((float *)b->state[i].data)[k] = i % 2 ? 1.0f : 0.0f;
            a->state[i] = &b->state[i];
        }
    }
    int64_t os[4];
    if (cf_op_infer_shape(a, os) != CF_OK) {
        fprintf(stderr, "%s: %s\n", c->name, cf_error_message());
        exit(1);
    }
    make(b, &b->out, CF_DTYPE_F32, os, r);
    make(b, &b->dout, CF_DTYPE_F32, os, r);
    a->out = &b->out;
    a->dout = &b->dout;
}

static void teardown(bufs *b) {
    for (int i = 0; i < b->n; i++) free(b->blocks[i]);
}

int main(int argc, char **argv) {
    int reps = 10, only_threads = 0;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) reps = 3;
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) only_threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) only = argv[++i];
        else {
            fprintf(stderr, "usage: bench_fast_ops [--quick] [--threads T] [--only NAME]\n");
            return 2;
        }
    }
    cf_rng r = cf_rng_make(1, 0);
    for (int threads = 1; threads <= 2; threads++) {
        if (only_threads && threads != only_threads) continue;
        cf_backend *be;
        if (cf_backend_cpu_fast_create(threads, &be) != CF_OK) {
            fprintf(stderr, "cpu-fast: %s\n", cf_error_message());
            return 1;
        }
        for (size_t s = 0; s < sizeof cfgs / sizeof cfgs[0]; s++) {
            const bench_cfg *c = &cfgs[s];
            if (only && !strstr(c->name, only)) continue;
            bufs b;
            setup(&b, c, &r);
            const int has_bwd = !(c->kind == CF_OP_BATCHNORM && !c->params.bn.training);
            double best_f = 1e30, best_b = has_bwd ? 1e30 : 0.0;
            for (int k = 0; k <= reps; k++) {
                double t0 = cf_time_now();
                if (cf_op_forward(be, &b.a) != CF_OK) goto fail;
                double t1 = cf_time_now();
                if (has_bwd && cf_op_backward(be, &b.a) != CF_OK) goto fail;
                double t2 = cf_time_now();
                if (k == 0) continue; /* warm-up: workspace growth, page faults */
                if (t1 - t0 < best_f) best_f = t1 - t0;
                if (has_bwd && t2 - t1 < best_b) best_b = t2 - t1;
            }
            printf("{\"bench\":\"fast_op\",\"op\":\"%s\",\"config\":\"%s\",\"shape\":[%lld,%lld,%lld,%lld],"
                   "\"threads\":%d,\"forward_ms\":%.3f,\"backward_ms\":%.3f}\n",
                   cf_op_name(c->kind), c->name, (long long)c->in[0][0], (long long)c->in[0][1],
                   (long long)c->in[0][2], (long long)c->in[0][3], threads, best_f * 1e3, best_b * 1e3);
            fflush(stdout);
            teardown(&b);
            continue;
        fail:
            fprintf(stderr, "%s: %s\n", c->name, cf_error_message());
            return 1;
        }
        cf_backend_cpu_fast_destroy(be);
    }
    return 0;
}
