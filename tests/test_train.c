/* test_train.c - batches, the trainer and checkpoints, on real Fashion-MNIST.
 *
 *  - batches: normalization, crop/flip/cutout geometry, determinism per
 *    (seed, epoch, position), epoch orders are permutations
 *  - the optimizer: one step on a linear model against a hand-computed
 *    Nesterov update with weight decay
 *  - a short real run (a small NB201 network, 1536 images, 6 epochs) learns
 *    (accuracy far above chance), the same seed gives the same curve, and two
 *    trainers running at once in two threads give the same curves as alone
 *  - trials end with a status: NaN (a huge learning rate), time limit
 *  - a checkpoint round trip gives identical logits; damaged files fail with
 *    the file and the offset
 *
 *   build/tests/test_train SPACES_DIR    (skipped when Fashion-MNIST is not installed)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cellforge/checkpoint.h"
#include "cellforge/thread.h"
#include "cellforge/train.h"
#include "check.h"

/* Every channel is normalized with its own mean and std, however many there
 * are (20 here: more than an RGB or grey image has). */
static void test_batch_channels(void) {
    enum { C = 20, HW = 4 * 4 };
    cf_dataset *ds = NULL;
    CHECK_OK(cf_dataset_create("channels", 2, C, 4, 4, 10, &ds));
    for (size_t i = 0; i < 2 * (size_t)C * HW; i++) ds->images[i] = (uint8_t)(i * 37 % 251);
    float mean[C], std[C], x[2 * C * HW];
    for (int c = 0; c < C; c++) {
        mean[c] = 0.01f * (float)c;
        std[c] = 0.5f + 0.1f * (float)c;
    }
    uint32_t idx[2] = {1, 0};
    int32_t y[2];
    cf_data_batch(ds, idx, 2, mean, std, NULL, 0, 0, 0, x, y);
    int bad = 0;
    for (int k = 0; k < 2; k++)
        for (int c = 0; c < C; c++)
            for (int i = 0; i < HW; i++) {
                const uint8_t v = ds->images[((size_t)idx[k] * C + c) * HW + i];
                bad += fabsf(x[(k * C + c) * HW + i] - (v / 255.0f - mean[c]) / std[c]) > 1e-5f;
            }
    CHECK(bad == 0, "%d of %d pixels of a %d-channel batch not normalized by their channel", bad, 2 * C * HW, C);
    cf_dataset_destroy(ds);
}

static void test_erase(const cf_dataset *ds, uint32_t id, const float *mean, const float *std) {
    cf_augment er = {.erase = 0.5};
    uint32_t idx1[1] = {id};
    float plain[784], x[784], again[784];
    int32_t y[1];
    cf_data_batch(ds, idx1, 1, mean, std, NULL, 0, 0, 0, plain, y);
    int erased = 0, bad = 0;
    for (uint64_t pos = 0; pos < 200; pos++) {
        cf_data_batch(ds, idx1, 1, mean, std, &er, 11, 2, pos, x, y);
        cf_data_batch(ds, idx1, 1, mean, std, &er, 11, 2, pos, again, y);
        bad += memcmp(x, again, sizeof x) != 0;
        int y0 = 28, x0 = 28, y1 = -1, x1 = -1, changed = 0;
        for (int i = 0; i < 784; i++)
            if (x[i] != plain[i]) {
                changed++;
                int h = i / 28, w = i % 28;
                bad += x[i] != 0.0f;
                y0 = h < y0 ? h : y0, x0 = w < x0 ? w : x0, y1 = h > y1 ? h : y1, x1 = w > x1 ? w : x1;
            }
        if (!changed) continue;
        erased++;
        /* the changed pixels lie in a rectangle no larger than the largest erasing */
        bad += y1 - y0 + 1 > 14 || x1 - x0 + 1 > 14;
    }
    CHECK(bad == 0, "random erasing: %d images not a rectangle of zeros or not repeatable", bad);
    CHECK(erased > 70 && erased < 130, "random erasing at 1/2 erased %d of 200 images", erased);
    int y0, x0, eh, ew, out = 0;
    for (uint32_t k = 0; k < 5000; k++) {
        cf_data_erase_rect(k * 2654435761u, k * 40503u + 7, k * 2246822519u, 28, 20, &y0, &x0, &eh, &ew);
        out += eh < 3 || eh > 14 || ew < 2 || ew > 10 || y0 < 0 || x0 < 0 || y0 + eh > 28 || x0 + ew > 20;
    }
    CHECK(out == 0, "%d erasing rectangles out of their bounds", out);
    CHECK(cf_data_erase_threshold(0) == 0 && cf_data_erase_threshold(1) == (1ull << 32) &&
              cf_data_erase_threshold(0.5) == (1ull << 31), "erase thresholds");
}

static void test_batches(const cf_dataset *ds) {
    float mean[1] = {0.25f}, std[1] = {0.5f};
    uint32_t idx[3] = {5, 0, 77};
    float x[3 * 784], x2[3 * 784];
    int32_t y[3];
    cf_data_batch(ds, idx, 3, mean, std, NULL, 0, 0, 0, x, y);
    for (int k = 0; k < 3; k++) {
        CHECK(y[k] == ds->labels[idx[k]], "label %d", k);
        const uint8_t *img = cf_dataset_image(ds, idx[k]);
        for (int i = 0; i < 784; i += 37) {
            float want = (img[i] / 255.0f - 0.25f) / 0.5f;
            CHECK(fabsf(x[k * 784 + i] - want) < 1e-5f, "normalized pixel %d of image %d: %g vs %g", i, k,
                  x[k * 784 + i], want);
        }
    }
    /* crop + flip: every output pixel is the source pixel shifted (or padding) */
    cf_augment aug = {.crop_pad = 2, .flip = 1};
    int shifted = 0, flipped = 0;
    for (uint64_t epoch = 0; epoch < 8; epoch++) {
        cf_data_batch(ds, idx, 3, mean, std, &aug, 42, epoch, 100, x, y);
        cf_data_batch(ds, idx, 3, mean, std, &aug, 42, epoch, 100, x2, y);
        CHECK(memcmp(x, x2, sizeof x) == 0, "augmentation not deterministic");
        const uint8_t *img = cf_dataset_image(ds, idx[0]);
        int found = 0;
        for (int dy = -2; dy <= 2 && !found; dy++)
            for (int dx = -2; dx <= 2 && !found; dx++)
                for (int f = 0; f < 2 && !found; f++) {
                    int ok = 1;
                    for (int h = 0; h < 28 && ok; h++)
                        for (int w = 0; w < 28 && ok; w++) {
                            int sh = h + dy, sw = (f ? 27 - w : w) + dx;
                            float v = sh < 0 || sh >= 28 || sw < 0 || sw >= 28 ? 0.0f : img[sh * 28 + sw] / 255.0f;
                            ok = fabsf(x[h * 28 + w] - (v - 0.25f) / 0.5f) < 1e-5f;
                        }
                    if (ok) {
                        found = 1;
                        shifted += dy != 0 || dx != 0;
                        flipped += f;
                    }
                }
        CHECK(found, "epoch %llu: the augmented image is no crop/flip of the original", (unsigned long long)epoch);
    }
    CHECK(shifted > 0 && flipped > 0 && flipped < 8, "8 epochs: %d shifted, %d flipped", shifted, flipped);
    /* cutout: a square of exact zeros */
    cf_augment cut = {.cutout = 8};
    cf_data_batch(ds, idx, 1, mean, std, &cut, 3, 1, 0, x, y);
    int zeros = 0;
    for (int i = 0; i < 784; i++) zeros += x[i] == 0.0f;
    CHECK(zeros >= 16, "cutout zeroed only %d pixels", zeros);
    /* random erasing: with probability 1/2 a rectangle of 3..14 x 3..14 zeros inside
     * the image, the rest the plain image; the same draws give the same images */
    test_erase(ds, idx[0], mean, std);
    /* epoch order: a permutation, different per epoch */
    uint32_t o1[1000], o2[1000];
    cf_data_epoch_order(1000, 9, 0, o1);
    cf_data_epoch_order(1000, 9, 1, o2);
    int seen[1000] = {0}, same = 0;
    for (int i = 0; i < 1000; i++) {
        seen[o1[i]]++;
        same += o1[i] == o2[i];
    }
    int perm = 1;
    for (int i = 0; i < 1000; i++) perm &= seen[i] == 1;
    CHECK(perm && same < 20, "epoch order: permutation %d, %d equal positions across epochs", perm, same);
}

static cf_space *nb201_space(const char *C, const char *N) {
    cf_space *s = NULL;
    CHECK_OK(cf_space_load("nb201", &s));
    if (s) {
        CHECK_OK(cf_space_set(s, "C", C));
        CHECK_OK(cf_space_set(s, "N", N));
    }
    return s;
}

#define ARCH "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|skip_connect~0|avg_pool_3x3~1|nor_conv_3x3~2|"

static cf_model *small_model(const cf_space *s, const cf_backend *be, int batch) {
    cf_arch a;
    cf_net *net = NULL;
    cf_model *m = NULL;
    cf_net_input in = {1, 28, 28, 10};
    CHECK_OK(cf_arch_parse(s, ARCH, &a));
    CHECK_OK(cf_net_build(s, &a, &in, &net));
    CHECK_OK(cf_model_create(net, batch, be, 0, &m));
    if (m) cf_model_init(m, 11);
    return m;
}

/* One SGD step against the formula, on the real model's parameter block. */
static void test_sgd(const cf_space *s, const cf_dataset *train) {
    cf_model *m = small_model(s, cf_backend_cpu_ref(), 16);
    if (!m) return;
    size_t n = m->n_params;
    float *w0 = malloc(n * sizeof *w0), *g = malloc(n * sizeof *g);
    memcpy(w0, m->param, n * sizeof *w0);
    cf_train_config cfg;
    cf_train_config_default(&cfg);
    cfg.epochs = 1;
    cfg.batch = 16;
    cfg.lr = 0.05;
    cfg.max_epoch_fraction = 1e-9; /* one step */
    cf_dataset *tiny = NULL;
    CHECK_OK(cf_dataset_create("tiny", 16, 1, 28, 28, 10, &tiny));
    memcpy(tiny->images, train->images, 16 * 784);
    memcpy(tiny->labels, train->labels, 16 * sizeof(int32_t));
    /* the gradient of that step: the same forward/backward by hand */
    cf_train_result *res = calloc(1, sizeof *res);
    float mean[1], std[1];
    {
        double dm, ds;
        CHECK_OK(cf_dataset_channel_stats(tiny, &dm, &ds));
        mean[0] = (float)dm;
        std[0] = (float)ds;
        uint32_t order[16];
        cf_data_epoch_order(16, 0, 0, order);
        float x[16 * 784];
        int32_t y[16];
        cf_data_batch(tiny, order, 16, mean, std, NULL, 0, 0, 0, x, y);
        double loss;
        CHECK_OK(cf_model_forward(m, x, 16, 1));
        CHECK_OK(cf_model_loss(m, y, 0, &loss));
        CHECK_OK(cf_model_backward(m));
        memcpy(g, m->grad, n * sizeof *g);
        memcpy(m->param, w0, n * sizeof *w0);
        m->step = 0;
    }
    CHECK_OK(cf_train(m, tiny, NULL, &cfg, res));
    /* first step: buf = g + wd w; w1 = w0 - lr (buf + mu buf); lr of step 0 of 1 is cfg.lr */
    double worst = 0;
    const float *w1 = m->param;
    for (size_t i = 0; i < n; i++) {
        double gi = g[i] + cfg.weight_decay * w0[i];
        double want = w0[i] - cfg.lr * (gi + cfg.momentum * gi);
        double err = fabs(w1[i] - want);
        if (err > worst) worst = err;
    }
    CHECK(worst < 1e-6, "SGD step differs from the Nesterov formula by %g", worst);
    CHECK(res->epochs_done == 1 && res->status == CF_TRAIN_OK, "one-step run: %d epochs, %s", res->epochs_done,
          cf_train_status_name(res->status));
    free(res);
    free(w0);
    free(g);
    cf_dataset_destroy(tiny);
    cf_model_destroy(m);
}

typedef struct run {
    const cf_space *s;
    const cf_dataset *train, *val;
    cf_train_config cfg;
    cf_train_result *res;
    cf_status st;
    int threads;
} run;

static void *run_training(void *p) {
    run *r = p;
    cf_backend *be = NULL;
    r->st = cf_backend_cpu_fast_create(r->threads, &be);
    if (r->st != CF_OK) return NULL;
    cf_model *m = small_model(r->s, be, r->cfg.batch);
    r->st = m ? cf_train(m, r->train, r->val, &r->cfg, r->res) : CF_ERR_INTERNAL;
    cf_model_destroy(m);
    cf_backend_cpu_fast_destroy(be);
    return NULL;
}

static void test_learning(const cf_space *s, const cf_dataset *train, const cf_dataset *val) {
    run a = {.s = s, .train = train, .val = val, .threads = 1};
    cf_train_config_default(&a.cfg);
    a.cfg.epochs = 6;
    a.cfg.batch = 64;
    a.cfg.lr = 0.1;
    a.cfg.seed = 5;
    a.cfg.augment.flip = 1;
    run b = a, c = a;
    a.res = calloc(1, sizeof *a.res);
    b.res = calloc(1, sizeof *b.res);
    c.res = calloc(1, sizeof *c.res);
    double t0 = cf_time_now();
    run_training(&a);
    double alone = cf_time_now() - t0;
    CHECK_OK(a.st);
    for (int e = 0; e < a.res->epochs_done; e++)
        printf("epoch %d: loss %.4f train acc %.3f val acc %.3f (%.2f s)\n", e, a.res->curve[e].train_loss,
               a.res->curve[e].train_acc, a.res->curve[e].val_acc, a.res->curve[e].seconds);
    CHECK(a.res->status == CF_TRAIN_OK && a.res->epochs_done == 6, "run ended %s after %d epochs",
          cf_train_status_name(a.res->status), a.res->epochs_done);
    CHECK(a.res->val_acc > 0.7, "validation accuracy %.3f after 6 epochs on 1536 images", a.res->val_acc);
    CHECK(a.res->curve[5].train_loss < a.res->curve[0].train_loss, "loss did not fall: %.4f -> %.4f",
          a.res->curve[0].train_loss, a.res->curve[5].train_loss);
    /* two trainers at once, in two threads: each gives the lone run's curve */
    cf_thread tb, tc;
    CHECK_OK(cf_thread_create(&tb, "trainer-b", run_training, &b));
    CHECK_OK(cf_thread_create(&tc, "trainer-c", run_training, &c));
    CHECK_OK(cf_thread_join(&tb, NULL));
    CHECK_OK(cf_thread_join(&tc, NULL));
    CHECK_OK(b.st);
    CHECK_OK(c.st);
    for (int e = 0; e < 6; e++) {
        CHECK(b.res->curve[e].train_loss == a.res->curve[e].train_loss &&
                  c.res->curve[e].train_loss == a.res->curve[e].train_loss &&
                  b.res->curve[e].val_acc == a.res->curve[e].val_acc,
              "epoch %d: concurrent runs differ from the lone run (%.9g, %.9g vs %.9g)", e,
              b.res->curve[e].train_loss, c.res->curve[e].train_loss, a.res->curve[e].train_loss);
    }
    printf("one run %.2f s; the same seed twice at once in two threads: identical curves\n", alone);
    free(a.res);
    free(b.res);
    free(c.res);
}

static void test_endings(const cf_space *s, const cf_dataset *train) {
    cf_model *m = small_model(s, cf_backend_cpu_ref(), 32);
    if (!m) return;
    cf_train_config cfg;
    cf_train_config_default(&cfg);
    cfg.epochs = 2;
    cfg.batch = 32;
    cfg.lr = 1e30;
    cfg.weight_decay = 0;
    cfg.max_epoch_fraction = 0.05;
    cf_train_result *res = calloc(1, sizeof *res);
    CHECK_OK(cf_train(m, train, NULL, &cfg, res));
    CHECK(res->status == CF_TRAIN_NAN || res->status == CF_TRAIN_DIVERGED, "lr 1e30 ended %s",
          cf_train_status_name(res->status));
    CHECK(strstr(res->reason, "epoch") != NULL, "reason '%s'", res->reason);
    printf("lr 1e30: %s (%s)\n", cf_train_status_name(res->status), res->reason);
    cf_model_init(m, 1);
    cfg.lr = 0.1;
    cfg.time_limit_s = 1e-9;
    CHECK_OK(cf_train(m, train, NULL, &cfg, res));
    CHECK(res->status == CF_TRAIN_TIMEOUT && strstr(res->reason, "time limit"), "time limit ended %s: %s",
          cf_train_status_name(res->status), res->reason);
    free(res);
    cf_model_destroy(m);
}

static void test_checkpoint(const cf_space *s, const cf_dataset *val) {
    cf_model *m = small_model(s, cf_backend_cpu_ref(), 8);
    if (!m) return;
    /* move the BN statistics off their initial values */
    float x[8 * 784];
    int32_t y[8];
    float mean[1] = {0.3f}, std[1] = {0.35f};
    uint32_t idx[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    cf_data_batch(val, idx, 8, mean, std, NULL, 0, 0, 0, x, y);
    CHECK_OK(cf_model_forward(m, x, 8, 1));
    CHECK_OK(cf_model_forward(m, x, 8, 0));
    float before[80];
    memcpy(before, cf_model_logits(m), sizeof before);
    char path[] = "/tmp/cf_test_ckpt_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    close(fd);
    cf_train_result *res = calloc(1, sizeof *res);
    res->mean[0] = mean[0];
    res->std[0] = std[0];
    CHECK_OK(cf_checkpoint_save(path, s, ARCH, m, NULL, res, 0.5));
    cf_model *back = NULL;
    cf_checkpoint_info info;
    CHECK_OK(cf_checkpoint_load(path, cf_backend_cpu_ref(), 8, &back, &info));
    if (back) {
        CHECK_OK(cf_model_forward(back, x, 8, 0));
        CHECK(memcmp(before, cf_model_logits(back), sizeof before) == 0, "logits differ after a round trip");
        CHECK(strcmp(info.arch, ARCH) == 0 && info.test_acc == 0.5 && fabsf(info.mean[0] - 0.3f) < 1e-7f,
              "info: arch %s, test acc %g, mean %g", info.arch, info.test_acc, info.mean[0]);
        cf_model_destroy(back);
    }
    /* damage: a flipped byte in the data, a truncation, a foreign file */
    FILE *f = fopen(path, "r+b");
    fseek(f, -100, SEEK_END);
    int ch = fgetc(f);
    fseek(f, -100, SEEK_END);
    fputc(ch ^ 0x40, f);
    fclose(f);
    CHECK(cf_checkpoint_load(path, cf_backend_cpu_ref(), 8, &back, &info) == CF_ERR_PARSE &&
              strstr(cf_error_message(), "CRC-32") && strstr(cf_error_message(), path),
          "damaged file: %s", cf_error_message());
    CHECK(truncate(path, 30) == 0, "truncate");
    CHECK(cf_checkpoint_load(path, cf_backend_cpu_ref(), 8, &back, &info) == CF_ERR_PARSE &&
              strstr(cf_error_message(), "byte 8"),
          "truncated file: %s", cf_error_message());
    f = fopen(path, "wb");
    fputs("not a model at all, just some text", f);
    fclose(f);
    CHECK(cf_checkpoint_load(path, cf_backend_cpu_ref(), 8, &back, &info) == CF_ERR_PARSE &&
              strstr(cf_error_message(), "byte 0: not a cellforge model"),
          "foreign file: %s", cf_error_message());
    CHECK(cf_checkpoint_load("/nonexistent/m.cfm", cf_backend_cpu_ref(), 8, &back, &info) == CF_ERR_IO,
          "missing file");
    unlink(path);
    free(res);
    cf_model_destroy(m);
}

int main(int argc, char **argv) {
    if (argc > 1) setenv("CELLFORGE_SPACES", argv[1], 1);
    cf_dataset *all = NULL;
    if (cf_dataset_load("fashion-mnist", NULL, "train", &all) != CF_OK) {
        printf("skipped: %s\n", cf_error_message());
        return CF_TEST_SKIP;
    }
    /* 1536 training and 512 validation images keep the run short */
    cf_dataset *train = NULL, *val = NULL, *rest = NULL, *part = NULL;
    CHECK_OK(cf_dataset_split(all, 1.0 - 2048.0 / 60000.0, 1, &part, &rest));
    CHECK_OK(cf_dataset_split(part, 0.25, 2, &train, &val));
    cf_space *s = nb201_space("4", "1");
    CHECK(train && val && train->n == 1536 && val->n == 512, "split sizes");
    if (s && train && val) {
        test_batches(train);
        test_batch_channels();
        test_sgd(s, train);
        test_learning(s, train, val);
        test_endings(s, train);
        test_checkpoint(s, val);
    }
    cf_space_destroy(s);
    cf_dataset_destroy(all);
    cf_dataset_destroy(rest);
    cf_dataset_destroy(part);
    cf_dataset_destroy(train);
    cf_dataset_destroy(val);
    return test_finish("test_train");
}
