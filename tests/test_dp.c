/* test_dp.c - data-parallel training: the CPU communicator and replicas
 * against a single trainer.
 *
 *  - all-reduce on 3 threads: random f32 and f64 vectors of odd lengths (also
 *    fewer elements than ranks, and none) sum exactly, hundreds of times over
 *    the same barriers; different lengths on different ranks and an abort
 *    fail on every rank instead of hanging
 *  - a network without batch norm trained on 2 replicas (and on 3, with a
 *    batch that 3 does not divide) ends with the weights and the curve of one
 *    trainer on the whole batch, up to float summation order; one replica
 *    behind a communicator of one is bit for bit the plain run
 *  - an NB-201 network (batch norm everywhere) trains on 2 replicas with
 *    different thread counts and clipping on: both end with the same bits,
 *    rank 0 alone has a validation accuracy
 *  - a huge learning rate stops both replicas at the same step with the same
 *    reason; a replica that fails makes the other fail too
 *
 *   build/tests/test_dp SPACES_DIR
 *
 * A deadlock would hang the run, so an alarm ends it instead.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/nn/net_build.h"
#include "cellforge/comm.h"
#include "cellforge/thread.h"
#include "cellforge/train.h"
#include "check.h"

static uint64_t mix(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* Element i of rank r's vector in round k: magnitudes from 2^-8 to 2^8, so the
 * order of summation shows in the bits. */
static float value_f32(int k, int r, size_t i) {
    uint64_t h = mix(((uint64_t)k << 40) ^ ((uint64_t)r << 32) ^ i);
    float u = (float)(h >> 40) * 0x1.0p-24f * 2.0f - 1.0f;
    return ldexpf(u, (int)((h >> 8) % 17) - 8);
}

/* f64 values are multiples of 2^-20 below 2^10: their sums are exact. */
static double value_f64(int k, int r, size_t i) {
    uint64_t h = mix(((uint64_t)k << 40) ^ ((uint64_t)r << 32) ^ i ^ 0x5555);
    return ldexp((double)(int64_t)(h >> 34) - (double)(1ll << 29), -20);
}

enum { COMM_RANKS = 3, COMM_ROUNDS = 300 };
static const size_t comm_lengths[] = {1001, 1, 2, 0, 17, 3, 4097};

typedef struct comm_worker {
    cf_comm *c;
    int rank;
    int bad;             /* elements that differ from the exact sum */
    cf_status st;
    char where[160];     /* the first difference or failure */
} comm_worker;

static void *comm_work(void *arg) {
    comm_worker *w = arg;
    float *f = malloc(4097 * sizeof *f);
    double *d = malloc(4097 * sizeof *d);
    for (int k = 0; k < COMM_ROUNDS && w->st == CF_OK; k++) {
        const size_t n = comm_lengths[k % (sizeof comm_lengths / sizeof *comm_lengths)];
        const int f64 = k % 3 == 2;
        for (size_t i = 0; i < n; i++) {
            if (f64)
                d[i] = value_f64(k, w->rank, i);
            else
                f[i] = value_f32(k, w->rank, i);
        }
        w->st = f64 ? cf_comm_allreduce_f64(w->c, w->rank, d, n) : cf_comm_allreduce_f32(w->c, w->rank, f, n);
        if (w->st != CF_OK) {
            snprintf(w->where, sizeof w->where, "round %d: %s", k, cf_error_message());
            break;
        }
        for (size_t i = 0; i < n; i++) {
            /* Three floats within 2^16 of each other add exactly in double:
             * the expected value is the exact sum rounded once. */
            double want = 0;
            for (int r = 0; r < COMM_RANKS; r++) want += f64 ? value_f64(k, r, i) : value_f32(k, r, i);
            int ok = f64 ? d[i] == want : f[i] == (float)want;
            if (!ok && w->bad++ == 0)
                snprintf(w->where, sizeof w->where, "round %d, n %zu, element %zu: %.9g, want %.9g", k, n, i,
                         f64 ? d[i] : (double)f[i], want);
        }
    }
    free(f);
    free(d);
    return NULL;
}

typedef struct mismatch_worker {
    cf_comm *c;
    int rank;
    size_t n;
    cf_status st;
} mismatch_worker;

static void *mismatch_work(void *arg) {
    mismatch_worker *w = arg;
    float buf[8] = {0};
    w->st = cf_comm_allreduce_f32(w->c, w->rank, buf, w->n);
    return NULL;
}

static void test_comm(void) {
    cf_comm *c = NULL;
    CHECK_OK(cf_comm_cpu_create(COMM_RANKS, &c));
    if (!c) return;
    CHECK(cf_comm_size(c) == COMM_RANKS, "size %d", cf_comm_size(c));
    comm_worker w[COMM_RANKS];
    cf_thread t[COMM_RANKS];
    for (int r = 0; r < COMM_RANKS; r++) {
        w[r] = (comm_worker){.c = c, .rank = r};
        CHECK_OK(cf_thread_create(&t[r], "comm-rank", comm_work, &w[r]));
    }
    for (int r = 0; r < COMM_RANKS; r++) CHECK_OK(cf_thread_join(&t[r], NULL));
    for (int r = 0; r < COMM_RANKS; r++) {
        CHECK(w[r].st == CF_OK, "rank %d: %s", r, w[r].where);
        CHECK(w[r].bad == 0, "rank %d: %d elements differ from the exact sum; first at %s", r, w[r].bad,
              w[r].where);
    }
    cf_comm_destroy(c);

    /* Different lengths: every rank fails, none waits. */
    c = NULL;
    CHECK_OK(cf_comm_cpu_create(2, &c));
    if (!c) return;
    mismatch_worker m[2] = {{c, 0, 5, CF_OK}, {c, 1, 6, CF_OK}};
    for (int r = 0; r < 2; r++) CHECK_OK(cf_thread_create(&t[r], "comm-mismatch", mismatch_work, &m[r]));
    for (int r = 0; r < 2; r++) CHECK_OK(cf_thread_join(&t[r], NULL));
    CHECK(m[0].st == CF_ERR_INVALID_ARG && m[1].st == CF_ERR_INVALID_ARG, "mismatched lengths: %s, %s",
          cf_status_name(m[0].st), cf_status_name(m[1].st));
    cf_comm_destroy(c);

    /* A rank that aborts releases one waiting for it, with the abort's status. */
    c = NULL;
    CHECK_OK(cf_comm_cpu_create(2, &c));
    if (!c) return;
    m[0] = (mismatch_worker){c, 0, 8, CF_OK};
    CHECK_OK(cf_thread_create(&t[0], "comm-abort", mismatch_work, &m[0]));
    usleep(20000);
    cf_comm_abort(c, 1, CF_ERR_DEVICE_OOM);
    CHECK_OK(cf_thread_join(&t[0], NULL));
    CHECK(m[0].st == CF_ERR_DEVICE_OOM, "after an abort: %s", cf_status_name(m[0].st));
    float one = 1;
    CHECK(cf_comm_allreduce_f32(c, 0, &one, 1) == CF_ERR_DEVICE_OOM, "an aborted communicator still reduces");
    cf_comm_destroy(c);

    /* One rank has nobody to sum with, but an abort still stops it (the
     * NCCL communicator's f64 sums go through such a one-rank communicator). */
    c = NULL;
    CHECK_OK(cf_comm_cpu_create(1, &c));
    if (!c) return;
    double v = 1;
    CHECK_OK(cf_comm_allreduce_f64(c, 0, &v, 1));
    cf_comm_abort(c, 0, CF_ERR_DEVICE_OOM);
    CHECK(cf_comm_allreduce_f64(c, 0, &v, 1) == CF_ERR_DEVICE_OOM, "an aborted one-rank communicator still sums");
    CHECK(cf_comm_allreduce_f32(c, 0, &one, 1) == CF_ERR_DEVICE_OOM, "an aborted one-rank communicator still sums");
    cf_comm_destroy(c);
    CHECK(cf_comm_cpu_create(0, &c) == CF_ERR_INVALID_ARG && c == NULL, "a communicator of 0 ranks");
}

/* ---- replicas against one trainer ----------------------------------------- */

enum { IMG = 16, CLASSES = 10 };

/* A learnable toy set: images of class k carry a few copies of glyph k, a
 * fixed 3x3 binary pattern, on noise; a 3x3 convolution finds them. */
static cf_dataset *toy_dataset(const char *name, size_t n, uint64_t seed) {
    cf_dataset *ds = NULL;
    CHECK_OK(cf_dataset_create(name, n, 1, IMG, IMG, CLASSES, &ds));
    if (!ds) return NULL;
    for (size_t i = 0; i < n; i++) {
        const uint64_t h = mix(seed ^ (i * 2 + 1));
        const int k = (int)(h % CLASSES);
        const uint64_t glyph = mix((uint64_t)k + 1000);
        ds->labels[i] = k;
        uint8_t *img = ds->images + i * IMG * IMG;
        for (int p = 0; p < IMG * IMG; p++) img[p] = (uint8_t)(mix(seed ^ (i << 16) ^ (uint64_t)p) % 64);
        for (int copy = 0; copy < 4; copy++) {
            const uint64_t where = mix(h ^ (uint64_t)copy);
            const int top = (int)(where % (IMG - 2)), left = (int)((where >> 8) % (IMG - 2));
            for (int b = 0; b < 9; b++)
                if (glyph >> b & 1) img[(top + b / 3) * IMG + left + b % 3] = 255;
        }
    }
    return ds;
}

/* conv3x3(1->8) [bn] relu avgpool conv3x3(8->16) relu global-avgpool linear(16->10),
 * initialized with seed 5. */
static cf_model *plain_model(const cf_backend *be, int batch, int with_bn) {
    cf_net *net = calloc(1, sizeof *net);
    if (!net) return NULL;
    net->input = (cf_net_input){1, IMG, IMG, CLASSES};
    net->logits = -1;
    net->aux_logits = -1;
    int x = cf_netb_conv(net, CF_NET_INPUT, 8, 3, 1, 1, 1, 1, 1, "conv1");
    if (with_bn) x = cf_netb_bn(net, x, 1, "bn1");
    x = cf_netb_relu(net, x, "relu1");
    x = cf_netb_pool(net, x, CF_OP_AVGPOOL2D, 2, 2, 0, "pool1");
    x = cf_netb_conv(net, x, 16, 3, 1, 1, 1, 1, 1, "conv2");
    x = cf_netb_relu(net, x, "relu2");
    x = cf_netb_global_avgpool(net, x, "gap");
    net->logits = cf_netb_linear(net, x, CLASSES, 1, "fc");
    CHECK(net->err == CF_OK && net->logits >= 0, "hand-built network: %s", cf_status_name(net->err));
    if (net->err != CF_OK) {
        cf_net_destroy(net);
        return NULL;
    }
    cf_model *m = NULL;
    CHECK_OK(cf_model_create(net, batch, be, 0, &m));
    if (m) cf_model_init(m, 5);
    return m;
}

#define NB201_ARCH "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|skip_connect~0|avg_pool_3x3~1|nor_conv_3x3~2|"

static cf_model *nb201_model(const cf_backend *be, int batch) {
    cf_space *s = NULL;
    cf_arch a;
    cf_net *net = NULL;
    cf_model *m = NULL;
    CHECK_OK(cf_space_load("nb201", &s));
    if (!s) return NULL;
    CHECK_OK(cf_space_set(s, "C", "8"));
    CHECK_OK(cf_space_set(s, "N", "1"));
    cf_net_input in = {1, IMG, IMG, CLASSES};
    CHECK_OK(cf_arch_parse(s, NB201_ARCH, &a));
    CHECK_OK(cf_net_build(s, &a, &in, &net));
    cf_space_destroy(s);
    if (!net) return NULL;
    CHECK_OK(cf_model_create(net, batch, be, 0, &m));
    if (m) cf_model_init(m, 5);
    return m;
}

typedef struct replica {
    cf_model *m;
    const cf_dataset *train, *val;
    cf_train_config cfg;
    cf_train_result *res;
    cf_status st;
    char err[256];
} replica;

static void *run_replica(void *arg) {
    replica *r = arg;
    r->st = cf_train(r->m, r->train, r->val, &r->cfg, r->res);
    snprintf(r->err, sizeof r->err, "%s", r->st == CF_OK ? "" : cf_error_message());
    return NULL;
}

/* Train models[0..K) as the K replicas of one run (each on its own thread)
 * with cfg; rank 0 validates on val. Each rank's error message goes to err[k],
 * or to stderr when err is NULL. */
static void train_replicas(int K, cf_model **models, const cf_dataset *train, const cf_dataset *val,
                           const cf_train_config *cfg, cf_train_result **res, cf_status *st,
                           char (*err)[256]) {
    cf_comm *comm = NULL;
    CHECK_OK(cf_comm_cpu_create(K, &comm));
    replica r[4];
    cf_thread t[4];
    for (int k = 0; k < K; k++) {
        r[k] = (replica){.m = models[k], .train = train, .val = k == 0 ? val : NULL, .cfg = *cfg, .res = res[k]};
        r[k].cfg.comm = comm;
        r[k].cfg.rank = k;
        CHECK_OK(cf_thread_create(&t[k], "replica", run_replica, &r[k]));
    }
    for (int k = 0; k < K; k++) CHECK_OK(cf_thread_join(&t[k], NULL));
    for (int k = 0; k < K; k++) {
        st[k] = r[k].st;
        if (err)
            memcpy(err[k], r[k].err, sizeof r[k].err);
        else if (r[k].st != CF_OK)
            fprintf(stderr, "replica %d of %d: %s\n", k, K, r[k].err);
    }
    cf_comm_destroy(comm);
}

/* max |a - b| / max |a| */
static double rel_diff(const float *a, const float *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num = fmax(num, fabs((double)a[i] - (double)b[i]));
        den = fmax(den, fabs((double)a[i]));
    }
    return den > 0 ? num / den : num;
}

static void base_config(cf_train_config *cfg, int batch) {
    cf_train_config_default(cfg);
    cfg->epochs = 4;
    cfg->batch = batch;
    cfg->lr = 1.0;
    cfg->momentum = 0.9;
    cfg->nesterov = 1;
    cfg->weight_decay = 5e-4;
    cfg->label_smoothing = 0.1;
    cfg->augment = (cf_augment){.crop_pad = 2, .flip = 1};
    cfg->seed = 17;
}

/* Replicas and one trainer start from the same weights and see the same
 * images; the gradients differ only in how the batch's float sums are
 * grouped (per shard, then across shards) and in the rounding of the n/B
 * scale: about 1e-7 relative after the 48 steps here (lr 1, momentum 0.9).
 * 1e-4 leaves room for other compilers, vector widths and longer chaotic
 * stretches, while a wrong shard, scale or augmentation draw gives errors
 * of order 1e-2 and above. */
static const double WEIGHT_TOL = 1e-4;
static const double LOSS_TOL = 1e-4;
/* Logits that differ in the last bits can flip the argmax of a near-tie. */
static const double ACC_TOL_IMAGES = 2;

static void test_equivalence(const cf_dataset *train, const cf_dataset *val, int K, int B) {
    const cf_backend *be = cf_backend_cpu_ref();
    cf_train_config cfg;
    base_config(&cfg, B);
    cf_train_result *one = calloc(1, sizeof *one);
    cf_model *single = plain_model(be, B, 0);
    cf_model *models[4] = {0};
    cf_train_result *res[4] = {0};
    cf_status st[4];
    int ok = single != NULL;
    for (int k = 0; k < K; k++) {
        models[k] = plain_model(be, (B + K - 1) / K, 0);
        res[k] = calloc(1, sizeof *res[k]);
        ok &= models[k] != NULL;
    }
    if (!ok) goto exit;
    const size_t seen = train->n / (size_t)B * (size_t)B; /* images per epoch */
    CHECK_OK(cf_train(single, train, val, &cfg, one));
    train_replicas(K, models, train, val, &cfg, res, st, NULL);
    double worst = 0, worst_loss = 0;
    for (int k = 0; k < K; k++) {
        CHECK(st[k] == CF_OK && res[k]->status == CF_TRAIN_OK, "K %d B %d rank %d: %s, %s", K, B, k,
              cf_status_name(st[k]), cf_train_status_name(res[k]->status));
        double d = rel_diff((const float *)single->param, (const float *)models[k]->param, single->n_params);
        worst = fmax(worst, d);
        CHECK(d <= WEIGHT_TOL, "K %d B %d rank %d: weights differ from one trainer's by %.3g (tolerance %.1g)",
              K, B, k, d, WEIGHT_TOL);
        CHECK(res[k]->epochs_done == one->epochs_done, "epochs %d vs %d", res[k]->epochs_done, one->epochs_done);
        for (int e = 0; e < one->epochs_done; e++) {
            double dl = fabs(res[k]->curve[e].train_loss - one->curve[e].train_loss) / one->curve[e].train_loss;
            worst_loss = fmax(worst_loss, dl);
            CHECK(dl <= LOSS_TOL, "K %d B %d rank %d epoch %d: loss %.8f vs %.8f", K, B, k, e,
                  res[k]->curve[e].train_loss, one->curve[e].train_loss);
            CHECK(fabs(res[k]->curve[e].train_acc - one->curve[e].train_acc) <= ACC_TOL_IMAGES / (double)seen,
                  "K %d rank %d epoch %d: accuracy %.4f vs %.4f", K, k, e, res[k]->curve[e].train_acc,
                  one->curve[e].train_acc);
        }
        if (k > 0)
            CHECK(memcmp(models[k]->param, models[0]->param, single->n_params * sizeof(float)) == 0,
                  "K %d: rank %d's weights are not rank 0's", K, k);
    }
    CHECK(res[0]->val_acc >= 0 && res[0]->val_acc <= 1, "rank 0's val accuracy %g", res[0]->val_acc);
    for (int k = 1; k < K; k++) CHECK(res[k]->val_acc == -1, "rank %d has val accuracy %g", k, res[k]->val_acc);
    /* Chance is 0.1: the runs compared are really learning. */
    CHECK(one->curve[one->epochs_done - 1].train_acc > 0.2, "the toy set is not learned: accuracy %g",
          one->curve[one->epochs_done - 1].train_acc);
    printf("%d replicas, batch %d: weights within %.3g of one trainer's (tolerance %.1g), losses within %.3g; "
           "val accuracy %.3f vs %.3f\n",
           K, B, worst, WEIGHT_TOL, worst_loss, res[0]->val_acc, one->val_acc);
exit:
    cf_model_destroy(single);
    free(one);
    for (int k = 0; k < K; k++) {
        cf_model_destroy(models[k]);
        free(res[k]);
    }
}

/* A communicator of one is the plain run, bit for bit. */
static void test_one_replica(const cf_dataset *train) {
    const cf_backend *be = cf_backend_cpu_ref();
    cf_train_config cfg;
    base_config(&cfg, 32);
    cfg.epochs = 1;
    cf_model *a = plain_model(be, 32, 1), *b = plain_model(be, 32, 1);
    cf_train_result *ra = calloc(1, sizeof *ra), *rb = calloc(1, sizeof *rb);
    cf_status st;
    if (a && b) {
        CHECK_OK(cf_train(a, train, NULL, &cfg, ra));
        train_replicas(1, &b, train, NULL, &cfg, &rb, &st, NULL);
        CHECK(st == CF_OK, "one replica: %s", cf_status_name(st));
        CHECK(memcmp(a->param, b->param, a->n_params * sizeof(float)) == 0, "one replica differs from the plain run");
        CHECK(memcmp(a->state, b->state, a->n_state * sizeof(float)) == 0, "one replica's BN statistics differ");
        CHECK(ra->curve[0].train_loss == rb->curve[0].train_loss, "loss %.17g vs %.17g", ra->curve[0].train_loss,
              rb->curve[0].train_loss);
    }
    cf_model_destroy(a);
    cf_model_destroy(b);
    free(ra);
    free(rb);
}

/* Batch norm: replicas normalize per shard, so no single-trainer twin; they
 * must still apply identical updates, whatever their thread counts. */
static void test_batch_norm(const cf_dataset *train, const cf_dataset *val) {
    cf_backend *be[2] = {0};
    cf_model *models[2] = {0};
    cf_train_result *res[2] = {calloc(1, sizeof **res), calloc(1, sizeof **res)};
    cf_status st[2];
    for (int k = 0; k < 2; k++) {
        CHECK_OK(cf_backend_cpu_fast_create(1, &be[k]));
        if (be[k]) models[k] = nb201_model(be[k], 16);
    }
    if (models[0] && models[1]) {
        models[0]->threads = 2;
        models[1]->threads = 1;
        float *w0 = malloc(models[0]->n_params * sizeof *w0);
        memcpy(w0, models[0]->param, models[0]->n_params * sizeof *w0);
        cf_train_config cfg;
        base_config(&cfg, 32);
        cfg.epochs = 2;
        cfg.max_epoch_fraction = 0.5;
        cfg.grad_clip = 0.5;
        train_replicas(2, models, train, val, &cfg, res, st, NULL);
        for (int k = 0; k < 2; k++)
            CHECK(st[k] == CF_OK && res[k]->status == CF_TRAIN_OK && res[k]->epochs_done == 2,
                  "nb201 rank %d: %s, %s, %d epochs", k, cf_status_name(st[k]),
                  cf_train_status_name(res[k]->status), res[k]->epochs_done);
        const size_t n = models[0]->n_params;
        CHECK(memcmp(models[0]->param, models[1]->param, n * sizeof(float)) == 0,
              "nb201: the replicas' weights differ by %.3g", rel_diff(models[0]->param, models[1]->param, n));
        CHECK(rel_diff(w0, models[0]->param, n) > 1e-3, "nb201: the weights did not move");
        CHECK(res[0]->val_acc >= 0 && res[0]->val_acc <= 1, "nb201 rank 0 val accuracy %g", res[0]->val_acc);
        CHECK(res[1]->val_acc == -1, "nb201 rank 1 val accuracy %g", res[1]->val_acc);
        CHECK(res[0]->curve[1].train_loss == res[1]->curve[1].train_loss, "nb201: curves differ across ranks");
        printf("nb201 on 2 replicas: identical weights, val accuracy %.3f\n", res[0]->val_acc);
        free(w0);
    }
    for (int k = 0; k < 2; k++) {
        cf_model_destroy(models[k]);
        cf_backend_cpu_fast_destroy(be[k]);
        free(res[k]);
    }
}

/* A huge learning rate: both replicas stop at the same step, the same way. */
static void test_nan(const cf_dataset *train) {
    const cf_backend *be = cf_backend_cpu_ref();
    cf_model *models[2] = {plain_model(be, 16, 0), plain_model(be, 16, 0)};
    cf_train_result *res[2] = {calloc(1, sizeof **res), calloc(1, sizeof **res)};
    cf_status st[2];
    if (models[0] && models[1]) {
        cf_train_config cfg;
        base_config(&cfg, 32);
        cfg.lr = 1e6;
        train_replicas(2, models, train, NULL, &cfg, res, st, NULL);
        for (int k = 0; k < 2; k++)
            CHECK(st[k] == CF_OK && (res[k]->status == CF_TRAIN_NAN || res[k]->status == CF_TRAIN_DIVERGED),
                  "lr 1e6 rank %d: %s, %s", k, cf_status_name(st[k]), cf_train_status_name(res[k]->status));
        CHECK(res[0]->status == res[1]->status && strcmp(res[0]->reason, res[1]->reason) == 0 &&
                  res[0]->epochs_done == res[1]->epochs_done,
              "the replicas stopped differently: '%s' / '%s'", res[0]->reason, res[1]->reason);
        printf("lr 1e6 on 2 replicas: both stopped: %s\n", res[0]->reason);
    }
    for (int k = 0; k < 2; k++) {
        cf_model_destroy(models[k]);
        free(res[k]);
    }
}

/* A replica whose model cannot hold its shard fails; its peer fails with it. */
static void test_failure(const cf_dataset *train) {
    const cf_backend *be = cf_backend_cpu_ref();
    cf_model *models[2] = {plain_model(be, 16, 0), plain_model(be, 4, 0)};
    cf_train_result *res[2] = {calloc(1, sizeof **res), calloc(1, sizeof **res)};
    cf_status st[2];
    char err[2][256];
    if (models[0] && models[1]) {
        cf_train_config cfg;
        base_config(&cfg, 32);
        train_replicas(2, models, train, NULL, &cfg, res, st, err);
        CHECK(st[1] == CF_ERR_INVALID_ARG && strstr(err[1], "the model holds 1..4"),
              "rank 1 with a small model: %s: %s", cf_status_name(st[1]), err[1]);
        CHECK(st[0] == CF_ERR_INVALID_ARG && strstr(err[0], "rank 1 failed"), "rank 0 beside a failed rank: %s: %s",
              cf_status_name(st[0]), err[0]);
    }
    for (int k = 0; k < 2; k++) {
        cf_model_destroy(models[k]);
        free(res[k]);
    }
}

int main(int argc, char **argv) {
    if (argc > 1) setenv("CELLFORGE_SPACES", argv[1], 1);
    alarm(600);
    test_comm();
    cf_dataset *train = toy_dataset("toy/train", 384, 1), *val = toy_dataset("toy/val", 128, 2);
    if (train && val) {
        test_one_replica(train);
        test_equivalence(train, val, 2, 32);
        test_equivalence(train, val, 3, 31);
        test_batch_norm(train, val);
        test_nan(train);
        test_failure(train);
    }
    cf_dataset_destroy(train);
    cf_dataset_destroy(val);
    return test_finish("test_dp");
}
