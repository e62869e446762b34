/* test_train_resume.c - a training run cut off after an epoch and resumed from
 * its saved state ends bit for bit as one that never stopped.
 *
 *  - cf_train, one replica: 3 epochs straight against 1 epoch, a state file
 *    and a new model (initialized differently) loaded from it that goes on to
 *    epoch 3: the weights, BN statistics, momentum, step and curve are the
 *    same bits. Once on NB-201 with crop, flip and cutout, once on DARTS with
 *    its auxiliary head and drop-path, once on NB-201 in fp16 whose loss
 *    scale falls in epoch 1 (the resumed run goes on from the saved scale).
 *  - two data-parallel replicas: the same, every rank loading rank 0's state;
 *    a failing epoch_end after the last epoch ends both ranks.
 *  - the state file: a flipped byte, a truncation, a model file, a missing
 *    file, another architecture, space option, batch or seed are refused with
 *    the file and the byte or what did not match; the model is left as it was.
 *  - the train evaluator with a checkpoint path: on_epoch once per epoch; run
 *    again on the state after epoch 1 it trains only epoch 2 and returns the
 *    outcome and final state of the run that never stopped; a damaged state
 *    gives a warning and a run from zero; a finished state returns at once.
 *
 *   build/tests/test_train_resume SPACES_DIR   (skipped without Fashion-MNIST)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cellforge/checkpoint.h"
#include "cellforge/comm.h"
#include "cellforge/log.h"
#include "cellforge/sched.h"
#include "cellforge/thread.h"
#include "cellforge/train.h"
#include "check.h"

#define NB201_ARCH "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|skip_connect~0|avg_pool_3x3~1|nor_conv_3x3~2|"
#define NB201_OTHER "|nor_conv_1x1~0|+|nor_conv_1x1~0|skip_connect~1|+|skip_connect~0|avg_pool_3x3~1|nor_conv_3x3~2|"
#define DARTS_ARCH                                                                                              \
    "Genotype(normal=[('sep_conv_3x3', 0), ('dil_conv_3x3', 1), ('skip_connect', 0), ('max_pool_3x3', 2), "    \
    "('avg_pool_3x3', 1), ('sep_conv_3x3', 3), ('skip_connect', 2), ('skip_connect', 4)], normal_concat=[2, "  \
    "3, 4, 5], reduce=[('max_pool_3x3', 0), ('skip_connect', 1), ('sep_conv_3x3', 2), ('avg_pool_3x3', 0), "   \
    "('dil_conv_3x3', 1), ('skip_connect', 3), ('sep_conv_3x3', 0), ('skip_connect', 4)], reduce_concat=[2, " \
    "3, 4, 5])"

static cf_space *space(const char *name, const char *k1, const char *v1, const char *k2, const char *v2) {
    cf_space *s = NULL;
    CHECK_OK(cf_space_load(name, &s));
    if (s) {
        CHECK_OK(cf_space_set(s, k1, v1));
        CHECK_OK(cf_space_set(s, k2, v2));
    }
    return s;
}

static cf_dtype g_precision = CF_DTYPE_F32; /* of the models make_model builds */

static cf_model *make_model(const cf_space *s, const char *arch, const cf_backend *be, int batch, uint64_t seed) {
    cf_arch a;
    cf_net *net = NULL;
    cf_model *m = NULL;
    cf_net_input in = {1, 28, 28, 10};
    CHECK_OK(cf_arch_parse(s, arch, &a));
    CHECK_OK(cf_net_build(s, &a, &in, &net));
    CHECK_OK(cf_model_create_dtype(net, batch, be, cf_space_get_or(s, "auxiliary", 0) != 0, g_precision, &m));
    if (m) cf_model_init(m, seed);
    return m;
}

/* The curves agree in every bit but the wall time. */
static int same_curve(const cf_train_result *a, const cf_train_result *b) {
    if (a->epochs_done != b->epochs_done || memcmp(&a->val_acc, &b->val_acc, sizeof a->val_acc) != 0) return 0;
    for (int e = 0; e < a->epochs_done; e++) {
        cf_epoch_record x = a->curve[e], y = b->curve[e];
        x.seconds = y.seconds = 0;
        if (memcmp(&x, &y, sizeof x) != 0) return 0;
    }
    return 1;
}

/* Weights, BN running statistics and the drop-path step agree in every bit. */
static int same_model(const cf_model *a, const cf_model *b) {
    if (a->n_params != b->n_params || a->step != b->step) return 0;
    if (memcmp(a->param, b->param, a->n_params * sizeof(float)) != 0) return 0;
    for (int i = 0; i < a->net->n; i++) {
        if (a->net->layers[i].kind != CF_OP_BATCHNORM) continue;
        for (int k = 0; k < 2; k++)
            if (memcmp(cf_model_bn_stat(a, i, k), cf_model_bn_stat(b, i, k),
                       (size_t)a->net->layers[i].c * sizeof(float)) != 0)
                return 0;
    }
    return 1;
}

/* epoch_end of the tests: save the state (at one epoch, or every epoch when
 * save_at < 0), keep the momentum, stop with an error after `stop_after`. */
typedef struct saver {
    const char *path;
    int save_at, stop_after;
    const cf_space *s;
    const char *arch;
    const cf_train_config *cfg;
    float *momentum;       /* (n_params) the last epoch's, when not NULL */
    int calls;
} saver;

static cf_status save_state(void *ctx, const cf_model *m, const float *momentum, const cf_train_result *res,
                            int epoch) {
    saver *sv = ctx;
    sv->calls++;
    CF_ASSERT(res->epochs_done == epoch + 1);
    if (sv->path && (sv->save_at < 0 || sv->save_at == epoch))
        CF_TRY(cf_trainstate_save(sv->path, sv->s, sv->arch, m, momentum, sv->cfg, res));
    if (sv->momentum) memcpy(sv->momentum, momentum, m->n_params * sizeof *momentum);
    if (epoch == sv->stop_after) CF_FAIL(CF_ERR_INTERNAL, "stopped after epoch %d", epoch + 1);
    return CF_OK;
}

static void temp_path(char *path, size_t cap, const char *what) {
    snprintf(path, cap, "/tmp/cf_resume_%s_XXXXXX", what);
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    if (fd >= 0) close(fd);
    unlink(path);
}

/* ---- one replica -------------------------------------------------------------- */

static void check_resume(const char *label, const cf_space *s, const char *arch, cf_train_config cfg,
                         const cf_dataset *train, const cf_dataset *val) {
    const int failed_before = check_failed;
    cf_backend *be = NULL;
    CHECK_OK(cf_backend_cpu_fast_create(1, &be));
    char path[64];
    temp_path(path, sizeof path, "one");
    cf_model *a = make_model(s, arch, be, cfg.batch, 11), *b = make_model(s, arch, be, cfg.batch, 11);
    cf_model *c = make_model(s, arch, be, cfg.batch, 99);
    cf_train_result *ra = calloc(1, sizeof *ra), *rb = calloc(1, sizeof *rb), *rc = calloc(1, sizeof *rc);
    cf_train_result *done = calloc(1, sizeof *done);
    if (!a || !b || !c) goto exit;
    float *mom_a = malloc(a->n_params * sizeof *mom_a), *mom_c = malloc(a->n_params * sizeof *mom_c);
    float *mom = malloc(a->n_params * sizeof *mom);

    /* straight through */
    saver sa = {.save_at = -1, .stop_after = -1, .momentum = mom_a};
    cf_train_config ca = cfg;
    ca.epoch_end = save_state;
    ca.epoch_ctx = &sa;
    CHECK_OK(cf_train(a, train, val, &ca, ra));
    CHECK(ra->status == CF_TRAIN_OK && ra->epochs_done == 3 && sa.calls == 3, "%s: %s after %d epochs, %d calls",
          label, cf_train_status_name(ra->status), ra->epochs_done, sa.calls);

    /* cut off right after the state of epoch 1 is on the disk */
    saver sb = {.path = path, .save_at = -1, .stop_after = 0, .s = s, .arch = arch, .cfg = &cfg};
    cf_train_config cb = cfg;
    cb.epoch_end = save_state;
    cb.epoch_ctx = &sb;
    CHECK_FAILS(cf_train(b, train, val, &cb, rb), CF_ERR_INTERNAL, "stopped after epoch 1", "");

    /* a new model from the file goes on */
    CHECK_OK(cf_trainstate_load(path, s, arch, &cfg, c, mom, done));
    CHECK(done->epochs_done == 1 && c->step == b->step && same_curve(done, rb) &&
              memcmp(done->mean, ra->mean, sizeof done->mean) == 0 && done->seconds > 0,
          "%s: restored %d epochs, step %llu (saved at %llu)", label, done->epochs_done,
          (unsigned long long)c->step, (unsigned long long)b->step);
    saver sc = {.save_at = -1, .stop_after = -1, .momentum = mom_c};
    cf_train_config cc = cfg;
    cc.resume = done;
    cc.resume_momentum = mom;
    cc.epoch_end = save_state;
    cc.epoch_ctx = &sc;
    CHECK_OK(cf_train(c, train, val, &cc, rc));
    CHECK(sc.calls == 2, "%s: epoch_end called %d times after resuming at epoch 1", label, sc.calls);
    CHECK(same_curve(ra, rc), "%s: resumed curve differs (val %.9g vs %.9g, last loss %.17g vs %.17g)", label,
          rc->val_acc, ra->val_acc, rc->curve[2].train_loss, ra->curve[2].train_loss);
    CHECK(same_model(a, c), "%s: resumed weights, BN statistics or step differ (step %llu vs %llu)", label,
          (unsigned long long)c->step, (unsigned long long)a->step);
    CHECK(memcmp(mom_a, mom_c, a->n_params * sizeof *mom_a) == 0, "%s: resumed momentum differs", label);
    if (cfg.loss_scale > 0) /* the case is there to resume a scale that moved */
        CHECK(ra->scale_skips > 0 && rb->loss_scale < cfg.loss_scale,
              "%s: the loss scale did not fall in epoch 1 (%lld skips, %g after it)", label,
              (long long)ra->scale_skips, rb->loss_scale);
    CHECK(ra->loss_scale == rc->loss_scale && ra->scale_good == rc->scale_good,
          "%s: loss scale %g (%d good steps) straight, %g (%d) resumed", label, ra->loss_scale, ra->scale_good,
          rc->loss_scale, rc->scale_good);
    CHECK(rc->status == CF_TRAIN_OK && rc->seconds >= done->seconds && done->seconds >= done->curve[0].seconds,
          "%s: %s, %.3f s in all, %.3f s restored", label, cf_train_status_name(rc->status), rc->seconds,
          done->seconds);
    if (check_failed == failed_before)
        printf("%s: 3 epochs straight and 1 + 2 resumed from %s: the same bits (val %.3f, %lld steps skipped)\n",
               label, path, rc->val_acc, (long long)ra->scale_skips);

    /* the state after the last epoch: nothing left to train, the record comes back as saved */
    saver last = {.path = path, .save_at = cfg.epochs - 1, .stop_after = -1, .s = s, .arch = arch, .cfg = &cfg};
    cf_model *d = make_model(s, arch, be, cfg.batch, 11);
    cf_train_config cd = cfg;
    cd.epoch_end = save_state;
    cd.epoch_ctx = &last;
    if (d) CHECK_OK(cf_train(d, train, val, &cd, rb));
    cf_model_destroy(d);
    d = make_model(s, arch, be, cfg.batch, 5);
    if (d) {
        CHECK_OK(cf_trainstate_load(path, s, arch, &cfg, d, mom, done));
        cd = cfg;
        cd.resume = done;
        cd.resume_momentum = mom;
        CHECK_OK(cf_train(d, train, val, &cd, rc));
        CHECK(rc->status == CF_TRAIN_OK && same_curve(ra, rc) && same_model(a, d),
              "%s: resuming a finished run: %s, %d epochs", label, cf_train_status_name(rc->status),
              rc->epochs_done);
        CHECK_FAILS(cf_train(d, train, val, &cd, done), CF_ERR_INVALID_ARG, "same result", "");
    }
    cf_model_destroy(d);
    free(mom_a);
    free(mom_c);
    free(mom);
exit:
    unlink(path);
    free(ra);
    free(rb);
    free(rc);
    free(done);
    cf_model_destroy(a);
    cf_model_destroy(b);
    cf_model_destroy(c);
    cf_backend_cpu_fast_destroy(be);
}

/* ---- data-parallel replicas --------------------------------------------------- */

typedef struct replica {
    cf_comm *comm;
    int rank;
    const cf_space *s;
    const cf_dataset *train, *val;
    cf_train_config cfg;
    const char *load;      /* a state to resume from, or NULL */
    saver sv;              /* rank 0's epoch_end */
    int keep_momentum;     /* rank 0 keeps the last epoch's momentum in sv.momentum */
    cf_backend *be;
    cf_model *m;
    float *momentum;
    cf_train_result *res, *done;
    cf_status st;
    char msg[256];
} replica;

static void *replica_run(void *p) {
    replica *r = p;
    r->st = cf_backend_cpu_fast_create(1, &r->be);
    if (r->st == CF_OK) r->m = make_model(r->s, NB201_ARCH, r->be, r->cfg.batch / 2, 11);
    if (!r->m) return NULL;
    r->cfg.comm = r->comm;
    r->cfg.rank = r->rank;
    if (r->load) {
        r->momentum = malloc(r->m->n_params * sizeof *r->momentum);
        r->st = cf_trainstate_load(r->load, r->s, NB201_ARCH, &r->cfg, r->m, r->momentum, r->done);
        r->cfg.resume = r->done;
        r->cfg.resume_momentum = r->momentum;
    }
    if (r->rank == 0) {
        if (r->keep_momentum) r->sv.momentum = malloc(r->m->n_params * sizeof *r->sv.momentum);
        r->sv.cfg = &r->cfg;
        r->cfg.epoch_end = save_state;
        r->cfg.epoch_ctx = &r->sv;
    }
    if (r->st == CF_OK) r->st = cf_train(r->m, r->train, r->rank == 0 ? r->val : NULL, &r->cfg, r->res);
    snprintf(r->msg, sizeof r->msg, "%s", cf_error_message());
    return NULL;
}

/* Two replicas from the same setup: *rep[0..1] hold the results. */
static void run_replicas(replica *rep) {
    cf_comm *comm = NULL;
    CHECK_OK(cf_comm_cpu_create(2, &comm));
    cf_thread t[2];
    for (int r = 0; r < 2; r++) {
        rep[r].comm = comm;
        rep[r].rank = r;
        CHECK_OK(cf_thread_create(&t[r], "replica", replica_run, &rep[r]));
    }
    for (int r = 0; r < 2; r++) CHECK_OK(cf_thread_join(&t[r], NULL));
    cf_comm_destroy(comm);
}

static void replica_free(replica *r) {
    cf_model_destroy(r->m);
    cf_backend_cpu_fast_destroy(r->be);
    free(r->momentum);
    free(r->res);
    free(r->done);
    free(r->sv.momentum);
}

static void replica_init(replica *r, const cf_space *s, const cf_dataset *train, const cf_dataset *val,
                         const cf_train_config *cfg) {
    memset(r, 0, sizeof *r);
    r->s = s;
    r->train = train;
    r->val = val;
    r->cfg = *cfg;
    r->res = calloc(1, sizeof *r->res);
    r->done = calloc(1, sizeof *r->done);
    r->sv.save_at = r->sv.stop_after = -1;
    r->sv.s = s;
    r->sv.arch = NB201_ARCH;
}

static void check_resume_dp(const cf_space *s, const cf_train_config *cfg, const cf_dataset *train,
                            const cf_dataset *val) {
    char path[64];
    temp_path(path, sizeof path, "dp");
    replica a[2], c[2], f[2];
    for (int r = 0; r < 2; r++) {
        replica_init(&a[r], s, train, val, cfg);
        replica_init(&c[r], s, train, val, cfg);
        replica_init(&f[r], s, train, val, cfg);
        c[r].load = path;
    }
    /* straight through, rank 0 saving the state of epoch 1 on the way */
    a[0].sv.path = path;
    a[0].sv.save_at = 0;
    a[0].keep_momentum = 1;
    run_replicas(a);
    CHECK(a[0].st == CF_OK && a[1].st == CF_OK && a[0].res->epochs_done == 3, "2 replicas: %s / %s: %s",
          cf_status_name(a[0].st), cf_status_name(a[1].st), a[0].msg);
    /* both ranks resume from rank 0's state */
    c[0].keep_momentum = 1;
    run_replicas(c);
    CHECK(c[0].st == CF_OK && c[1].st == CF_OK, "2 replicas resumed: %s / %s: %s %s", cf_status_name(c[0].st),
          cf_status_name(c[1].st), c[0].msg, c[1].msg);
    if (a[0].m && c[0].m && c[1].m && a[0].sv.momentum && c[0].sv.momentum && a[0].st == CF_OK &&
        c[0].st == CF_OK) {
        const int same = c[0].sv.calls == 2 && same_curve(a[0].res, c[0].res) && same_model(a[0].m, c[0].m) &&
                         memcmp(a[0].sv.momentum, c[0].sv.momentum, a[0].m->n_params * sizeof(float)) == 0;
        CHECK(same, "2 replicas: rank 0 resumed differs from rank 0 straight through");
        CHECK(memcmp(c[0].m->param, c[1].m->param, c[0].m->n_params * sizeof(float)) == 0 &&
                  c[1].res->curve[0].val_acc == -1 && c[1].res->val_acc == -1 &&
                  c[1].res->curve[2].train_loss == c[0].res->curve[2].train_loss,
              "2 replicas: rank 1 resumed with other weights or rank 0's validation");
        if (same) printf("2 replicas: 3 epochs straight and 1 + 2 resumed by both ranks: the same bits\n");
    }
    /* rank 0's epoch_end fails after the last epoch: rank 1 fails too */
    f[0].cfg.epochs = f[1].cfg.epochs = 1;
    f[0].cfg.max_epoch_fraction = f[1].cfg.max_epoch_fraction = 0.25;
    f[0].sv.stop_after = 0;
    run_replicas(f);
    CHECK(f[0].st == CF_ERR_INTERNAL && strstr(f[0].msg, "stopped after epoch 1"), "rank 0: %s: %s",
          cf_status_name(f[0].st), f[0].msg);
    CHECK(f[1].st == CF_ERR_INTERNAL && strstr(f[1].msg, "rank 0 failed"), "rank 1: %s: %s",
          cf_status_name(f[1].st), f[1].msg);
    for (int r = 0; r < 2; r++) {
        replica_free(&a[r]);
        replica_free(&c[r]);
        replica_free(&f[r]);
    }
    unlink(path);
}

/* ---- the state file ----------------------------------------------------------- */

/* Every weight and BN statistic of b equals a's. */
static int same_tensors(const cf_model *a, const cf_model *b) {
    if (a->net->n != b->net->n) return 0;
    for (int i = 0; i < a->net->n; i++) {
        const cf_net_layer *l = &a->net->layers[i];
        for (int k = 0; k < l->n_w; k++)
            if (memcmp(cf_model_weight(a, i, k), cf_model_weight(b, i, k),
                       (size_t)cf_net_weight_numel(l, k) * sizeof(float)) != 0)
                return 0;
        for (int k = 0; l->kind == CF_OP_BATCHNORM && k < 2; k++)
            if (memcmp(cf_model_bn_stat(a, i, k), cf_model_bn_stat(b, i, k), (size_t)l->c * sizeof(float)) != 0)
                return 0;
    }
    return 1;
}

static void check_state_as_model(const char *state, const char *model_path, const cf_model *m) {
    cf_model *back = NULL;
    cf_checkpoint_info info;
    CHECK_OK(cf_checkpoint_load(state, cf_backend_cpu_ref(), 4, &back, &info));
    if (back) {
        CHECK(same_tensors(m, back), "a state read as a model has other weights");
        CHECK(info.is_state && info.test_acc == -1 && info.epochs_done == 1 && strcmp(info.arch, NB201_ARCH) == 0,
              "state as a model: is_state %d, test_acc %g, %d epochs, arch %s", info.is_state, info.test_acc,
              info.epochs_done, info.arch);
    }
    cf_model_destroy(back);
    back = NULL;
    CHECK_OK(cf_checkpoint_convert(state, model_path));
    CHECK_OK(cf_checkpoint_load(model_path, cf_backend_cpu_ref(), 4, &back, &info));
    if (back) {
        CHECK(same_tensors(m, back), "the converted model has other weights");
        CHECK(!info.is_state && info.test_acc == -1 && info.epochs_done == 1 && info.mean[0] > 0.2f,
              "converted: is_state %d, test_acc %g, %d epochs, mean %g", info.is_state, info.test_acc,
              info.epochs_done, info.mean[0]);
    }
    cf_model_destroy(back);
    FILE *f = fopen(model_path, "rb");
    unsigned char pre[16] = {0};
    size_t hl = 0;
    CHECK(f && fread(pre, 1, 16, f) == 16 && memcmp(pre, "CFMODEL1", 8) == 0, "%s is no model file", model_path);
    for (int i = 0; i < 8; i++) hl |= (size_t)pre[8 + i] << (8 * i);
    char *text = hl < 1000000 ? calloc(hl + 1, 1) : NULL;
    CHECK(f && text && fread(text, 1, hl, f) == hl, "read the header of %s", model_path);
    if (f) fclose(f);
    if (text)
        CHECK(strstr(text, "\"train\":{") && strstr(text, "\"curve\":[") && !strstr(text, "\"resume\"") &&
                  strstr(text, ".weight\"") && !strstr(text, ".momentum\""),
              "converted header: %.300s", text);
    free(text);
}

static void check_refusals(const cf_space *s, const cf_train_config *cfg, const cf_dataset *train) {
    char path[64], other[64];
    temp_path(path, sizeof path, "bad");
    temp_path(other, sizeof other, "cfm");
    cf_model *m = make_model(s, NB201_ARCH, cf_backend_cpu_ref(), cfg->batch, 3);
    cf_train_result *res = calloc(1, sizeof *res), *done = calloc(1, sizeof *done);
    if (!m) goto exit;
    float *mom = malloc(m->n_params * sizeof *mom), *before = malloc(m->n_params * sizeof *before);
    cf_train_config c1 = *cfg;
    c1.epochs = 1;
    c1.max_epoch_fraction = 0.25;
    saver sv = {.path = path, .save_at = -1, .stop_after = -1, .s = s, .arch = NB201_ARCH, .cfg = &c1};
    c1.epoch_end = save_state;
    c1.epoch_ctx = &sv;
    CHECK_OK(cf_train(m, train, NULL, &c1, res));
    memcpy(before, m->param, m->n_params * sizeof *before);

    /* the header is one JSON object after the 16-byte preamble */
    FILE *f = fopen(path, "rb");
    unsigned char pre[16] = {0};
    CHECK(f && fread(pre, 1, 16, f) == 16, "read %s", path);
    size_t hl = 0;
    for (int i = 0; i < 8; i++) hl |= (size_t)pre[8 + i] << (8 * i);
    char *text = calloc(hl + 1, 1);
    CHECK(f && text && hl < 1000000 && fread(text, 1, hl, f) == hl, "read the header of %s", path);
    if (f) fclose(f);
    CHECK(memcmp(pre, "CFSTATE1", 8) == 0 && text[0] == '{' && text[hl - 1] == '}' &&
              strstr(text, "\"resume\":{\"epochs_done\":1,") && strstr(text, ".weight.momentum\""),
          "state header: %.200s", text);
    free(text);

    /* another architecture, space option, batch, seed */
    CHECK_FAILS(cf_trainstate_load(path, s, NB201_OTHER, &c1, m, mom, done), CF_ERR_INVALID_ARG, path,
                "$.arch: the file holds");
    cf_space *s8 = space("nb201", "C", "8", "N", "1");
    cf_model *m8 = s8 ? make_model(s8, NB201_ARCH, cf_backend_cpu_ref(), cfg->batch, 3) : NULL;
    if (m8) CHECK_FAILS(cf_trainstate_load(path, s8, NB201_ARCH, &c1, m8, mom, done), CF_ERR_INVALID_ARG,
                        path, "$.space.options.C: 4 in the file, 8 in this run");
    cf_model_destroy(m8);
    cf_space_destroy(s8);
    /* another batch, seed, fidelity or precision than the state's run */
    cf_train_config c2[4] = {c1, c1, c1, c1};
    c2[0].batch = 32;
    c2[1].seed = 0xFFFFFFFFFFFFFFF1ull;
    c2[2].max_epoch_fraction = 0.5;
    c2[3].precision = CF_DTYPE_BF16;
    static const char *const why[4] = {"$.train.batch: 64 in the file, 32 in this run",
                                       "$.resume.seed: 7 in the file, 18446744073709551601 in this run",
                                       "$.resume.max_epoch_fraction",
                                       "$.train: the state was trained in f32, this run is bf16"};
    for (int k = 0; k < 4; k++)
        CHECK_FAILS(cf_trainstate_load(path, s, NB201_ARCH, &c2[k], m, mom, done), CF_ERR_INVALID_ARG, path, why[k]);
    /* the time limit may change */
    c2[0] = c1;
    c2[0].time_limit_s = 100;
    CHECK_OK(cf_trainstate_load(path, s, NB201_ARCH, &c2[0], m, mom, done));
    CHECK(memcmp(before, m->param, m->n_params * sizeof *before) == 0, "loading a state changed the weights");

    /* a state reads as a model (its momentum left out), and converts to a model file */
    check_state_as_model(path, other, m);

    /* damage: a flipped byte in the momentum, a cut in the data, in the preamble */
    f = fopen(path, "r+b");
    fseek(f, -100, SEEK_END);
    int ch = fgetc(f);
    fseek(f, -100, SEEK_END);
    fputc(ch ^ 0x10, f);
    fclose(f);
    memset(m->param, 0, m->n_params * sizeof(float));
    CHECK_FAILS(cf_trainstate_load(path, s, NB201_ARCH, &c1, m, mom, done), CF_ERR_PARSE, path, ": byte ");
    CHECK(strstr(cf_error_message(), "CRC-32"), "flipped byte: %s", cf_error_message());
    int untouched = 1;
    for (size_t i = 0; i < m->n_params; i++) untouched &= ((float *)m->param)[i] == 0.0f;
    CHECK(untouched, "a refused state wrote into the model");
    long size = 0;
    f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fclose(f);
    CHECK(truncate(path, size - 1000) == 0, "truncate");
    CHECK_FAILS(cf_trainstate_load(path, s, NB201_ARCH, &c1, m, mom, done), CF_ERR_PARSE, path, "CRC-32");
    CHECK(truncate(path, 30) == 0, "truncate");
    CHECK_FAILS(cf_trainstate_load(path, s, NB201_ARCH, &c1, m, mom, done), CF_ERR_PARSE, path,
                "byte 8: header of");
    /* a model file is no state, and the other way round */
    CHECK_OK(cf_checkpoint_save(other, s, NB201_ARCH, m, &c1, res, -1));
    CHECK_FAILS(cf_trainstate_load(other, s, NB201_ARCH, &c1, m, mom, done), CF_ERR_PARSE, other,
                "byte 0: not a cellforge training state");
    CHECK_FAILS(cf_trainstate_load("/nonexistent/trial.state", s, NB201_ARCH, &c1, m, mom, done), CF_ERR_IO,
                "/nonexistent/trial.state", "cannot open");
    free(mom);
    free(before);
exit:
    unlink(path);
    unlink(other);
    free(res);
    free(done);
    cf_model_destroy(m);
}

/* ---- the train evaluator ------------------------------------------------------ */

typedef struct epochs_seen {
    int calls, first, last;
    const char *path, *copy_to; /* after epoch 1, copy the state file here */
} epochs_seen;

static int copy_file(const char *from, const char *to) {
    FILE *a = fopen(from, "rb"), *b = a ? fopen(to, "wb") : NULL;
    char buf[65536];
    size_t n;
    int ok = a && b;
    while (ok && (n = fread(buf, 1, sizeof buf, a)) > 0) ok = fwrite(buf, 1, n, b) == n;
    if (a) fclose(a);
    if (b) ok = fclose(b) == 0 && ok;
    return ok;
}

static void on_epoch(void *ctx, const cf_trial *t, const cf_epoch_record *r) {
    epochs_seen *e = ctx;
    if (e->calls++ == 0) e->first = r->epoch;
    e->last = r->epoch;
    if (r->epoch == 0 && e->copy_to) CF_ASSERT(copy_file(e->path, e->copy_to));
    (void)t;
}

static int same_outcome(const cf_trial_outcome *a, const cf_trial_outcome *b) {
    if (a->status != b->status || a->epochs_done != b->epochs_done || a->val_acc != b->val_acc) return 0;
    for (int e = 0; e < a->epochs_done; e++) {
        cf_epoch_record x = a->curve[e], y = b->curve[e];
        x.seconds = y.seconds = 0;
        if (memcmp(&x, &y, sizeof x) != 0) return 0;
    }
    return 1;
}

/* The tensor data of a state file (weights, statistics, momentum: what comes
 * after the header, CRC aside) in *data; returns its size, 0 on failure. */
static size_t tensor_bytes(const char *path, unsigned char **data) {
    FILE *f = fopen(path, "rb");
    unsigned char pre[16];
    size_t n = 0;
    *data = NULL;
    if (f && fread(pre, 1, 16, f) == 16) {
        uint64_t hl = 0;
        for (int i = 0; i < 8; i++) hl |= (uint64_t)pre[8 + i] << (8 * i);
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        if (size > (long)(20 + hl) && fseek(f, (long)(16 + hl), SEEK_SET) == 0) {
            n = (size_t)size - 20 - hl;
            *data = malloc(n);
            if (!*data || fread(*data, 1, n, f) != n) n = 0;
        }
    }
    if (f) fclose(f);
    return n;
}

/* The crash after epoch 1: the file holds that epoch; only epoch 2 is trained,
 * and the trial ends as the one that never stopped. */
static void evaluator_resumed(cf_evaluator *ev, void *dev, cf_trial_task *task, const cf_trial_outcome *straight,
                              const char *path, const char *after1, const char *final, epochs_seen *seen) {
    cf_trial_outcome resumed;
    const int failed_before = check_failed;
    CHECK(rename(after1, path) == 0, "rename");
    *seen = (epochs_seen){.path = path}; /* task->epoch_ctx */
    CHECK_OK(ev->ops->run(ev->self, dev, task, &resumed));
    CHECK(seen->calls == 1 && seen->first == 1, "resumed trial: on_epoch %d times, first epoch %d", seen->calls,
          seen->first);
    CHECK(same_outcome(straight, &resumed), "resumed trial: %s, %d epochs, val %.9g vs %.9g",
          cf_trial_status_name(resumed.status), resumed.epochs_done, resumed.val_acc, straight->val_acc);
    CHECK(resumed.epochs_done == 2 && resumed.seconds >= resumed.curve[0].seconds + resumed.curve[1].seconds,
          "resumed trial: %.3f s for epochs of %.3f + %.3f s", resumed.seconds, resumed.curve[0].seconds,
          resumed.curve[1].seconds);
    unsigned char *d1 = NULL, *d2 = NULL;
    size_t n1 = tensor_bytes(path, &d1), n2 = tensor_bytes(final, &d2);
    CHECK(n1 > 0 && n1 == n2 && memcmp(d1, d2, n1) == 0,
          "the resumed trial's final weights or momentum differ from the straight one's (%zu, %zu bytes)", n1, n2);
    free(d1);
    free(d2);
    if (check_failed == failed_before)
        printf("evaluator: trial resumed after epoch 1 ends as the one that never stopped (val %.3f)\n",
               resumed.val_acc);
    free(resumed.curve);
}

static void check_evaluator(const cf_space *s, const cf_dataset *train, const cf_dataset *val) {
    char path[64], after1[80], final[80], logpath[64];
    temp_path(path, sizeof path, "trial");
    snprintf(after1, sizeof after1, "%s.epoch1", path);
    snprintf(final, sizeof final, "%s.final", path);
    temp_path(logpath, sizeof logpath, "log");
    cf_train_config tc;
    cf_train_config_default(&tc);
    tc.batch = 64;
    tc.epochs = 2;
    tc.seed = 3;
    tc.augment.flip = 1;
    cf_evaluator *ev = NULL;
    CHECK_OK(cf_evaluator_train_create(s, train, val, &tc, &ev));
    if (!ev) return;
    cf_worker_desc w = {.kind = CF_WORKER_CPU, .name = "cpu:0", .threads = 1, .slots = 1};
    cf_trial *t = calloc(1, sizeof *t);
    t->id = 17;
    t->batch = 64;
    t->replicas = 1;
    t->cand.epochs = 2;
    t->cand.parent = -1;
    snprintf(t->arch, sizeof t->arch, "%s", NB201_ARCH);
    CHECK_OK(cf_arch_parse(s, NB201_ARCH, &t->cand.arch));
    void *dev = NULL;
    CHECK_OK(ev->ops->open(ev->self, &w, &dev));
    cf_trial_task task = {.trial = t, .worker = &w, .rank = 0, .replicas = 1};
    cf_trial_outcome straight, first, damaged, finished;

    /* straight through without a checkpoint */
    CHECK_OK(ev->ops->run(ev->self, dev, &task, &straight));
    CHECK(straight.status == CF_TRIAL_OK && straight.epochs_done == 2, "trial: %s, %d epochs: %s",
          cf_trial_status_name(straight.status), straight.epochs_done, straight.reason);

    /* with a checkpoint: the same outcome, on_epoch twice, the state of epoch 1 kept aside */
    epochs_seen seen = {.path = path, .copy_to = after1};
    task.checkpoint = path;
    task.on_epoch = on_epoch;
    task.epoch_ctx = &seen;
    CHECK_OK(ev->ops->run(ev->self, dev, &task, &first));
    CHECK(same_outcome(&straight, &first) && seen.calls == 2 && seen.first == 0 && seen.last == 1,
          "checkpointed trial: on_epoch %d times (epochs %d..%d), outcome %s", seen.calls, seen.first, seen.last,
          same_outcome(&straight, &first) ? "same" : "differs");
    CHECK(copy_file(path, final), "copy %s", path);

    evaluator_resumed(ev, dev, &task, &straight, path, after1, final, &seen);

    /* a finished state: nothing to train, the outcome at once */
    seen = (epochs_seen){.path = path};
    CHECK_OK(ev->ops->run(ev->self, dev, &task, &finished));
    CHECK(seen.calls == 0 && same_outcome(&straight, &finished), "finished state: on_epoch %d times, %s",
          seen.calls, same_outcome(&straight, &finished) ? "same outcome" : "other outcome");

    /* a damaged state: a warning naming the file, then a run from zero */
    FILE *f = fopen(path, "wb");
    if (f) {
        fputs("CFSTATE1 but nothing after it", f);
        fclose(f);
    }
    FILE *log = fopen(logpath, "w+");
    cf_log_set_stream(log);
    seen = (epochs_seen){.path = path};
    CHECK_OK(ev->ops->run(ev->self, dev, &task, &damaged));
    cf_log_set_stream(NULL);
    char line[1024] = {0};
    if (log) {
        rewind(log);
        CHECK(fread(line, 1, sizeof line - 1, log) > 0, "no warning logged");
        fclose(log);
    }
    CHECK(strstr(line, "trial 17: cannot resume") && strstr(line, path) && strstr(line, "from epoch 0"),
          "warning: %s", line);
    CHECK(seen.calls == 2 && same_outcome(&straight, &damaged), "damaged state: on_epoch %d times, %s", seen.calls,
          same_outcome(&straight, &damaged) ? "same outcome" : "other outcome");

    free(straight.curve);
    free(first.curve);
    free(damaged.curve);
    free(finished.curve);
    ev->ops->close(ev->self, dev);
    cf_evaluator_destroy(ev);
    free(t);
    unlink(path);
    unlink(final);
    unlink(after1);
    unlink(logpath);
}

int main(int argc, char **argv) {
    if (argc > 1) setenv("CELLFORGE_SPACES", argv[1], 1);
    cf_log_set_level(CF_LOG_LEVEL_WARN);
    cf_dataset *all = NULL;
    if (cf_dataset_load("fashion-mnist", NULL, "train", &all) != CF_OK) {
        printf("skipped: %s\n", cf_error_message());
        return CF_TEST_SKIP;
    }
    /* 512 training and 256 validation images: 8 steps of 64 per epoch */
    cf_dataset *train = NULL, *val = NULL, *rest = NULL, *part = NULL;
    CHECK_OK(cf_dataset_split(all, 768.0 / 60000.0, 1, &rest, &part));
    CHECK_OK(cf_dataset_split(part, 1.0 / 3.0, 2, &train, &val));
    cf_space *nb201 = space("nb201", "C", "4", "N", "1");
    cf_space *darts = space("darts", "C", "4", "layers", "3");
    CHECK(train && val && train->n == 512 && val->n == 256, "split sizes");
    if (nb201 && darts && train && val) {
        cf_train_config cfg;
        cf_train_config_default(&cfg);
        cfg.epochs = 3;
        cfg.batch = 64;
        cfg.seed = 7;
        cfg.augment = (cf_augment){.crop_pad = 2, .flip = 1, .cutout = 8};
        double t0 = cf_time_now();
        check_resume("nb201 with augmentation", nb201, NB201_ARCH, cfg, train, val);
        cf_train_config dcfg = cfg;
        dcfg.drop_path = 0.3;
        dcfg.grad_clip = 5;
        dcfg.max_epoch_fraction = 0.5;
        check_resume("darts with drop-path and auxiliary head", darts, DARTS_ARCH, dcfg, train, val);
        /* fp16 from a loss scale so high that the first steps overflow: the scale
         * halves through epoch 1 and the resumed run must go on from where it was */
        cf_train_config hcfg = cfg;
        hcfg.precision = CF_DTYPE_F16;
        hcfg.loss_scale = 0x1p28;
        g_precision = CF_DTYPE_F16;
        check_resume("nb201 in fp16 with a falling loss scale", nb201, NB201_ARCH, hcfg, train, val);
        g_precision = CF_DTYPE_F32;
        cfg.augment = (cf_augment){.flip = 1};
        check_resume_dp(nb201, &cfg, train, val);
        check_refusals(nb201, &cfg, train);
        check_evaluator(nb201, train, val);
        printf("%.1f s\n", cf_time_now() - t0);
    }
    cf_space_destroy(nb201);
    cf_space_destroy(darts);
    cf_dataset_destroy(all);
    cf_dataset_destroy(rest);
    cf_dataset_destroy(part);
    cf_dataset_destroy(train);
    cf_dataset_destroy(val);
    return test_finish("test_train_resume");
}
