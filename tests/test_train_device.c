/* test_train_device.c - the trainer's device path on the CPU: a backend made
 * here from the reference ops whose "device" memory is host memory and whose
 * device entries run the host loops, plus the step entries (step_stats,
 * step_clip) written as the host rule. The trainer then takes the path it
 * takes on a GPU: statistics kept in backend memory and read every few
 * steps, the clipping factor and the stop after a bad step inside the SGD
 * entry. Against the reference backend (the host path), from the same
 * weights and data:
 *
 *   - a normal run: the same curve (loss and accuracy of every epoch) and
 *     the same weights, bit for bit (the same ops and loops in the same order)
 *   - a run that diverges, and one whose loss becomes NaN: the same status and
 *     the same reason (epoch and step of the bad step), whatever step the
 *     trainer happens to read the statistics at
 *   - gradient clipping in force: the same weights
 *
 *   - bf16 and f16 runs (mixed precision), fp16 with its loss scaled on the
 *     device: the same curves, weights and skipped steps
 *
 * What the CUDA kernels of these entries compute is tested against the host
 * rule by tests/test_cuda_loops.c (label gpu).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cellforge/model.h"
#include "cellforge/rng.h"
#include "cellforge/train.h"
#include "check.h"
#include "../kernels/step_rule.h"
#include "../src/backend/backend_impl.h" /* this test builds a backend of its own */
#include "space_kit.h"

/* ---- a device backend over host memory --------------------------------------- */

static const cf_backend *ref(void) { return cf_backend_cpu_ref(); }

/* 16-bit calls reach the reference through its dispatch, which widens them (half.c) */
static cf_status fx_forward(void *ctx, const cf_op_args *a) { return (void)ctx, cf_op_forward(ref(), a); }
static cf_status fx_backward(void *ctx, const cf_op_args *a) { return (void)ctx, cf_op_backward(ref(), a); }
static int fx_supports(void *ctx, cf_op_kind k) { return ref()->ops->supports(ctx, k); }
static cf_status fx_alloc(void *ctx, size_t bytes, void **out) {
    (void)ctx;
    *out = calloc(1, bytes ? bytes : 1);
    return *out ? CF_OK : CF_ERR_OUT_OF_MEMORY;
}
static void fx_free(void *ctx, void *p) { (void)ctx, free(p); }
static cf_status fx_zero(void *ctx, void *p, size_t bytes) { return (void)ctx, memset(p, 0, bytes), CF_OK; }
static cf_status fx_copy(void *ctx, void *dst, const void *src, size_t bytes, cf_copy_kind kind) {
    (void)ctx, (void)kind;
    if (bytes && dst != src) memmove(dst, src, bytes);
    return CF_OK;
}
static cf_status fx_sync(void *ctx) { return (void)ctx, CF_OK; }
static cf_status fx_drop_path(void *ctx, void *x, cf_dtype dt, int n, size_t per, double p, uint64_t seed,
                              uint64_t stream, uint64_t index0) {
    (void)ctx;
    return cf_backend_drop_path(ref(), x, dt, n, per, p, seed, stream, index0);
}
static cf_status fx_scale(void *ctx, float *x, size_t n, float a) { return (void)ctx, cf_backend_scale(ref(), x, n, a, 1); }
static cf_status fx_norm2(void *ctx, const float *g, size_t n, double *out) {
    return (void)ctx, cf_backend_norm2(ref(), g, n, 1, out);
}
static cf_status fx_sgd(void *ctx, const cf_sgd_args *a) {
    (void)ctx;
    cf_sgd_args h = *a;
    h.stats = NULL;
    if (a->stats) {
        if (a->stats->bad != CF_STEP_OK || a->stats->skip) return CF_OK;
        h.clip = a->stats->clip;
    }
    return cf_backend_sgd(ref(), &h);
}
static cf_status fx_batch(void *ctx, const cf_batch_args *a) { return (void)ctx, cf_backend_batch(ref(), a); }
static cf_status fx_narrow(void *ctx, void *dst, cf_dtype dt, const float *src, size_t n) {
    return (void)ctx, cf_backend_narrow(ref(), dst, dt, src, n);
}
static cf_status fx_widen_add(void *ctx, float *dst, const void *src, cf_dtype dt, size_t n) {
    return (void)ctx, cf_backend_widen_add(ref(), dst, src, dt, n);
}

static int steps_read; /* step_stats calls, to see the path was taken */

static cf_status fx_step_stats(void *ctx, const cf_step_stats_args *a) {
    (void)ctx;
    cf_step_stats *st = a->stats;
    steps_read++;
    int hits = 0;
    float v[64];
    CF_ASSERT(a->k <= 64);
    for (int r = 0; r < a->n; r++) {
        const size_t row = (size_t)r * a->k;
        if (a->dtype == CF_DTYPE_F32) memcpy(v, (const float *)a->logits + row, (size_t)a->k * sizeof *v);
        else cf_half_to_f32(a->dtype, v, (const uint16_t *)a->logits + row, (size_t)a->k);
        int best = 0;
        for (int j = 1; j < a->k; j++)
            if (v[j] > v[best]) best = j;
        hits += best == a->labels[r];
    }
    double loss = (double)a->main[0];
    if (a->aux) loss += a->aux_weight * (double)a->aux[0];
    const int step = st->steps++;
    if (st->bad != CF_STEP_OK) return CF_OK;
    if (!isfinite(loss) || loss > a->diverge) {
        st->bad = isfinite(loss) ? CF_STEP_DIVERGED : CF_STEP_BAD_LOSS;
        st->bad_step = step;
        st->bad_loss = loss;
        return CF_OK;
    }
    st->loss_sum += loss;
    st->hits += hits;
    return CF_OK;
}

static cf_status fx_step_clip(void *ctx, const float *g, size_t n, double max_norm, cf_step_stats *st) {
    (void)ctx;
    double norm2 = 0;
    CF_TRY(cf_backend_norm2(ref(), g, n, 1, &norm2));
    cf_step_clip_host(st, norm2, max_norm);
    return CF_OK;
}

static cf_status fx_step_seed(void *ctx, float *seeds, double w0, double w1, const cf_step_stats *st) {
    (void)ctx;
    seeds[0] = cf_step_seed_rule(st, w0);
    seeds[1] = cf_step_seed_rule(st, w1);
    return CF_OK;
}

static const cf_backend_ops fx_ops = {
    .name = "host-as-device",
    .half = 1,
    .forward = fx_forward,
    .backward = fx_backward,
    .supports = fx_supports,
    .assigns = NULL,
    .mem_alloc = fx_alloc,
    .mem_free = fx_free,
    .mem_zero = fx_zero,
    .mem_copy = fx_copy,
    .sync = fx_sync,
    .drop_path = fx_drop_path,
    .scale = fx_scale,
    .norm2 = fx_norm2,
    .sgd = fx_sgd,
    .batch = fx_batch,
    .narrow = fx_narrow,
    .widen_add = fx_widen_add,
    .step_stats = fx_step_stats,
    .step_clip = fx_step_clip,
    .step_seed = fx_step_seed,
};
static const cf_backend fx_backend = {&fx_ops, NULL, {CF_DEVICE_CPU, 0}};

/* ---- runs on both paths ------------------------------------------------------ */

#define ARCH "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|none~2|"

static cf_model *build(const cf_backend *be, cf_dtype dt) {
    const cf_net_input in = {1, 12, 12, 10};
    cf_net *net = kit_net("nb201", "C=4,N=1", ARCH, &in);
    cf_model *m = NULL;
    if (net) CHECK_OK(cf_model_create_dtype(net, 16, be, 0, dt, &m));
    if (m) cf_model_init(m, 77);
    return m;
}

static cf_dataset *synthetic(size_t n, uint64_t seed) {
    cf_dataset *ds = NULL;
    if (cf_dataset_create("synthetic", n, 1, 12, 12, 10, &ds) != CF_OK) return NULL;
    cf_rng r = cf_rng_make(seed, cf_rng_stream(3, CF_RNG_PURPOSE_TEST));
    /* learnable: class k brightens row k */
    for (size_t i = 0; i < n; i++) {
        const int k = (int)cf_rng_below(&r, 10);
        ds->labels[i] = k;
        uint8_t *img = ds->images + i * 144;
        for (int p = 0; p < 144; p++) img[p] = (uint8_t)cf_rng_below(&r, 128) + (p / 12 == k ? 120 : 0);
    }
    return ds;
}

/* Both paths over the same data with cfg; checks they agree. */
static void both(const char *what, cf_train_config cfg, const cf_dataset *train, const cf_dataset *val) {
    cf_model *h = build(ref(), cfg.precision), *d = build(&fx_backend, cfg.precision);
    cf_train_result *rh = calloc(1, sizeof *rh), *rd = calloc(1, sizeof *rd);
    if (!h || !d || !rh || !rd) goto exit;
    CHECK(d->on_device, "%s: the fixture backend is not taken for a device", what);
    steps_read = 0;
    CHECK_OK(cf_train(h, train, val, &cfg, rh));
    CHECK(steps_read == 0, "%s: the host path used the step entries", what);
    CHECK_OK(cf_train(d, train, val, &cfg, rd));
    CHECK(steps_read > 0, "%s: the device path was not taken", what);
    CHECK(rh->status == rd->status, "%s: status %s on the host path, %s on the device path", what,
          cf_train_status_name(rh->status), cf_train_status_name(rd->status));
    CHECK(strcmp(rh->reason, rd->reason) == 0, "%s: reason \"%s\" on the host path, \"%s\" on the device path", what,
          rh->reason, rd->reason);
    CHECK(rh->epochs_done == rd->epochs_done, "%s: %d epochs on the host path, %d on the device path", what,
          rh->epochs_done, rd->epochs_done);
    for (int e = 0; e < rh->epochs_done && e < rd->epochs_done; e++) {
        CHECK(rh->curve[e].train_loss == rd->curve[e].train_loss, "%s: epoch %d loss %.17g vs %.17g", what, e,
              rh->curve[e].train_loss, rd->curve[e].train_loss);
        CHECK(rh->curve[e].train_acc == rd->curve[e].train_acc, "%s: epoch %d accuracy %.17g vs %.17g", what, e,
              rh->curve[e].train_acc, rd->curve[e].train_acc);
        CHECK(rh->curve[e].val_acc == rd->curve[e].val_acc, "%s: epoch %d val accuracy %g vs %g", what, e,
              rh->curve[e].val_acc, rd->curve[e].val_acc);
    }
    CHECK(memcmp(h->param, d->param, h->n_params * sizeof(float)) == 0, "%s: the weights differ", what);
    CHECK(rh->scale_skips == rd->scale_skips, "%s: %lld steps skipped on the host path, %lld on the device path",
          what, (long long)rh->scale_skips, (long long)rd->scale_skips);
    printf("%-10s %s (%s), %d epochs, loss %.4f, val %.3f, %lld skipped\n", what, cf_train_status_name(rd->status),
           rd->reason, rd->epochs_done, rd->epochs_done ? rd->curve[rd->epochs_done - 1].train_loss : NAN,
           rd->val_acc, (long long)rd->scale_skips);
exit:
    cf_model_destroy(h);
    cf_model_destroy(d);
    free(rh);
    free(rd);
}

int main(int argc, char **argv) {
    if (argc > 1) setenv("CELLFORGE_SPACES", argv[1], 1);
    /* 61 steps an epoch: checks fall on steps 25, 50 and the last */
    cf_dataset *train = synthetic(61 * 16 + 5, 1), *val = synthetic(40, 2);
    if (!train || !val) return test_finish("test_train_device");
    cf_train_config cfg;
    cf_train_config_default(&cfg);
    cfg.epochs = 2;
    cfg.batch = 16;
    cfg.lr = 0.05;
    cfg.seed = 9;
    both("normal", cfg, train, val);
    cf_train_config clip = cfg;
    clip.grad_clip = 0.5;
    both("clipped", clip, train, val);
    cf_train_config diverge = cfg;
    diverge.lr = 40;
    diverge.diverge_loss = 30;
    both("diverging", diverge, train, val);
    cf_train_config nan = cfg;
    nan.lr = 1e30;
    nan.diverge_loss = HUGE_VAL; /* only a loss that is not finite stops it */
    both("nan", nan, train, val);
    cf_train_config late = cfg;
    late.lr = 0.8;
    late.diverge_loss = 4; /* step 34: past the first read of the statistics (step 25) */ /* past the first read of the statistics */
    both("late", late, train, val);
    /* mixed precision: the same ops widened on both paths; fp16 scales its
     * loss on the device (step_seed, step_clip) as the host path does */
    cf_train_config bf16 = cfg;
    bf16.precision = CF_DTYPE_BF16;
    both("bf16", bf16, train, val);
    cf_train_config f16 = cfg;
    f16.precision = CF_DTYPE_F16;
    both("f16", f16, train, val);
    f16.grad_clip = 0.5;
    both("f16 clip", f16, train, val);
    cf_dataset_destroy(train);
    cf_dataset_destroy(val);
    return test_finish("test_train_device");
}
