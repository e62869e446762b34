/* eval_train.c - the `train` evaluator: a trial is trained on its worker's
 * device and scored by validation accuracy.
 *
 * The datasets are loaded once by the caller and shared read-only by every
 * worker. Each worker slot owns its backend (the fast CPU backend's workspace
 * is not shared). A data-parallel trial runs one rank per worker, each with a
 * model holding its shard of the batch, joined by the trial's communicator.
 *
 * With a checkpoint path, rank 0 saves the training state after every epoch
 * (checkpoint.h) and every rank starts from the saved state when the file is
 * there, so a trial cut off by a crash goes on from its last epoch and ends
 * as if it had never stopped. A state that cannot be used (damaged, another
 * architecture or configuration) is reported and training starts from zero.
 *
 * A space that searches training knobs (lr, wd, augment, ...) trains each
 * trial with its arch's values; the controller set its batch and epochs.
 * A supernet's trial (cf_arch.supernet) trains under the run's one-shot
 * method instead (eval_oneshot.c).
 * Tested by tests/test_train_resume.c and tests/test_sched.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cellforge/backend.h"
#include "cellforge/checkpoint.h"
#include "cellforge/comm.h"
#include "cellforge/log.h"
#include "cellforge/sched.h"
#include "eval_oneshot.h"

typedef struct train_eval {
    const cf_space *space;
    const cf_dataset *train, *val;
    cf_train_config cfg;
    int has_oneshot;
    cf_oneshot_config oneshot;  /* a supernet trial's method (has_oneshot) */
} train_eval;

static cf_status train_open(void *self, const cf_worker_desc *w, void **state) {
    (void)self;
    *state = NULL;
    cf_backend *be = NULL;
    const cf_device dev = {w->kind == CF_WORKER_CUDA ? CF_DEVICE_CUDA : CF_DEVICE_CPU, w->index};
    CF_TRY(cf_backend_create(dev, w->threads, 0, &be));
    *state = be;
    return CF_OK;
}

static void train_close(void *self, void *state) {
    (void)self;
    cf_backend_destroy(state);
}

/* A failure of the trial itself (not of the evaluator): recorded, the search goes on.
 * The other ranks of a data-parallel trial are released from their collectives. */
static cf_status trial_failed(const cf_trial_task *task, cf_trial_outcome *out, cf_status st) {
    if (task->comm) cf_comm_abort(task->comm, task->rank, st);
    out->status = (st == CF_ERR_OUT_OF_MEMORY || st == CF_ERR_DEVICE_OOM) ? CF_TRIAL_OOM : CF_TRIAL_ERROR;
    snprintf(out->reason, sizeof out->reason, "%s", cf_error_message());
    return CF_OK;
}

/* What rank 0 does after every epoch: save the state, then tell the controller. */
typedef struct epoch_hook {
    const cf_trial_task *task;
    const cf_space *space;
    const cf_train_config *cfg;
} epoch_hook;

/* A state that cannot be written (a full disk) costs only the ability to
 * resume from this epoch: the previous state, if any, is still whole (the
 * write is atomic) and the trial's result does not depend on the file, so the
 * trial goes on with a warning instead of failing. */
static cf_status epoch_end(void *ctx, const cf_model *m, const float *momentum, const cf_train_result *res,
                           int epoch) {
    const epoch_hook *hook = ctx;
    const cf_trial_task *task = hook->task;
    if (task->checkpoint &&
        cf_trainstate_save(task->checkpoint, hook->space, task->trial->arch, m, momentum, hook->cfg, res) != CF_OK)
        CF_LOG_WARN("trial %lld: state after epoch %d not saved: %s", (long long)task->trial->id, epoch + 1,
                    cf_error_message());
    if (task->on_epoch) task->on_epoch(task->epoch_ctx, task->trial, &res->curve[epoch]);
    return CF_OK;
}

/* When the checkpoint file is there and fits this trial, restore its state
 * into m and set *done and *momentum (malloc'd, the caller frees them) for
 * cf_train's resume; else both stay NULL and m is untouched. Every rank reads
 * the same file: rank 0 saves only after an epoch, which needs every rank to
 * have started. A state that does not fit (damaged, or written for another
 * batch after an out-of-memory retry) is reported once and left for the next
 * save to replace. */
static cf_status restore(const cf_trial_task *task, const cf_space *s, const cf_train_config *cfg, cf_model *m,
                         cf_train_result **done, float **momentum) {
    *done = NULL;
    *momentum = NULL;
    struct stat sb;
    if (stat(task->checkpoint, &sb) != 0 && errno == ENOENT) return CF_OK;
    cf_train_result *d = calloc(1, sizeof *d);
    float *mom = malloc((m->n_params ? m->n_params : 1) * sizeof *mom);
    cf_status st = d && mom ? cf_trainstate_load(task->checkpoint, s, task->trial->arch, cfg, m, mom, d)
                            : cf_error_set(CF_ERR_OUT_OF_MEMORY, __FILE__, __LINE__,
                                           "%s: no memory to restore the state", task->checkpoint);
    if (st == CF_OK) {
        if (task->rank == 0)
            CF_LOG_INFO("trial %lld: resuming after epoch %d of %d from %s", (long long)task->trial->id,
                        d->epochs_done, cfg->epochs, task->checkpoint);
        *done = d;
        *momentum = mom;
        return CF_OK;
    }
    free(d);
    free(mom);
    /* Out of memory on one rank only would split the ranks between two starting points. */
    if (st == CF_ERR_OUT_OF_MEMORY) return st;
    if (task->rank == 0)
        CF_LOG_WARN("trial %lld: cannot resume: %s; training starts from epoch 0", (long long)task->trial->id,
                    cf_error_message());
    return CF_OK;
}

/* The training knobs a space searches, from the arch's values: each replaces
 * the run's setting (crop pads 2 pixels on images of 28 rows or fewer, 4
 * otherwise, as --augment crop does). */
static void apply_hparams(const cf_space *s, const cf_arch *a, int height, cf_train_config *cfg) {
    if (s->n_hparams == 0) return;
    cfg->lr = cf_arch_hparam(s, a, "lr", cfg->lr);
    cfg->weight_decay = cf_arch_hparam(s, a, "wd", cfg->weight_decay);
    cfg->momentum = cf_arch_hparam(s, a, "momentum", cfg->momentum);
    cfg->label_smoothing = cf_arch_hparam(s, a, "label_smoothing", cfg->label_smoothing);
    cfg->augment.erase = cf_arch_hparam(s, a, "erase", cfg->augment.erase);
    cfg->augment.cutout = (int)cf_arch_hparam(s, a, "cutout", cfg->augment.cutout);
    const char *aug = cf_arch_hparam_choice(s, a, "augment");
    if (aug) {
        cfg->augment.crop_pad = strstr(aug, "crop") ? (height <= 28 ? 2 : 4) : 0;
        cfg->augment.flip = strstr(aug, "flip") != NULL;
    }
}

static cf_status train_run(void *self, void *state, const cf_trial_task *task, cf_trial_outcome *out) {
    train_eval *te = self;
    const cf_trial *t = task->trial;
    memset(out, 0, sizeof *out);
    out->val_acc = -1;
    const cf_backend *be = state;
    if (t->cand.arch.supernet) {
        cf_eval_supernet_args sa = {te->space, te->train, te->val, &te->cfg, te->has_oneshot ? &te->oneshot : NULL, be};
        return cf_eval_supernet(&sa, task, out);
    }
    cf_net_input in = {te->train->c, te->train->h, te->train->w, te->train->classes};
    cf_net *net = NULL;
    cf_status st = task->net ? cf_net_clone(task->net, &net) : cf_net_build(te->space, &t->cand.arch, &in, &net);
    if (st != CF_OK) return trial_failed(task, out, st);
    const int K = task->replicas > 0 ? task->replicas : 1;
    const int shard = (t->batch + K - 1) / K;
    const int with_aux = cf_space_get_or(te->space, "auxiliary", 0) != 0;
    cf_model *m = NULL;
    st = cf_model_create_dtype(net, shard, be, with_aux, te->cfg.precision, &m); /* takes net */
    if (st != CF_OK) return trial_failed(task, out, st);
    m->threads = task->worker->threads;
    cf_train_config cfg = te->cfg;
    cfg.seed = cf_trial_seed(cfg.seed, t->id);
    cfg.batch = t->batch;
    apply_hparams(te->space, &t->cand.arch, te->train->h, &cfg);
    if (t->cand.epochs > 0) cfg.epochs = t->cand.epochs;
    if (t->cand.fraction > 0) cfg.max_epoch_fraction = t->cand.fraction;
    if (task->time_limit_s > 0 && (cfg.time_limit_s <= 0 || task->time_limit_s < cfg.time_limit_s))
        cfg.time_limit_s = task->time_limit_s;
    cfg.comm = task->comm;
    cfg.rank = task->rank;
    cfg.progress = NULL;
    epoch_hook hook = {task, te->space, &cfg};
    cfg.epoch_end = task->checkpoint || task->on_epoch ? epoch_end : NULL;
    cfg.epoch_ctx = &hook;
    cf_model_init(m, cfg.seed);
    cf_train_result *res = calloc(1, sizeof *res), *done = NULL;
    if (!res) {
        cf_model_destroy(m);
        CF_FAIL(CF_ERR_OUT_OF_MEMORY, "train evaluator: no memory for a result");
    }
    float *momentum = NULL;
    if (task->checkpoint) st = restore(task, te->space, &cfg, m, &done, &momentum);
    cfg.resume = done;
    cfg.resume_momentum = momentum;
    if (st == CF_OK) st = cf_train(m, te->train, task->rank == 0 ? te->val : NULL, &cfg, res);
    /* a model its time limit stopped after whole epochs is a model too */
    if (st == CF_OK && task->rank == 0 && task->on_trained &&
        (res->status == CF_TRAIN_OK || (res->status == CF_TRAIN_TIMEOUT && res->epochs_done > 0)))
        st = task->on_trained(task->trained_ctx, t, m, &cfg, res);
    cf_model_destroy(m);
    free(done);
    free(momentum);
    if (st != CF_OK) {
        free(res);
        return trial_failed(task, out, st);
    }
    out->status = cf_trial_status_of_training(res->status);
    snprintf(out->reason, sizeof out->reason, "%s", res->reason);
    out->val_acc = res->val_acc;
    out->epochs_done = res->epochs_done;
    out->seconds = res->seconds;
    if (res->epochs_done > 0) {
        out->curve = malloc((size_t)res->epochs_done * sizeof *out->curve);
        if (out->curve) memcpy(out->curve, res->curve, (size_t)res->epochs_done * sizeof *out->curve);
    }
    free(res);
    return CF_OK;
}

static void train_destroy(void *self) {
    free(self);
}

static const cf_evaluator_ops train_ops = {
    .name = "train",
    .simulated = 0,
    .open = train_open,
    .close = train_close,
    .run = train_run,
    .destroy = train_destroy,
};

cf_status cf_evaluator_train_create(const cf_space *s, const cf_dataset *train, const cf_dataset *val,
                                    const cf_train_config *cfg, cf_evaluator **out) {
    *out = NULL;
    cf_evaluator *ev = calloc(1, sizeof *ev);
    train_eval *te = calloc(1, sizeof *te);
    if (!ev || !te) {
        free(ev);
        free(te);
        CF_FAIL(CF_ERR_OUT_OF_MEMORY, "train evaluator: no memory");
    }
    te->space = s;
    te->train = train;
    te->val = val;
    te->cfg = *cfg;
    ev->ops = &train_ops;
    ev->self = te;
    ev->input = (cf_net_input){train->c, train->h, train->w, train->classes};
    ev->with_aux = cf_space_get_or(s, "auxiliary", 0) != 0;
    *out = ev;
    return CF_OK;
}

cf_status cf_evaluator_train_set_oneshot(cf_evaluator *ev, const cf_oneshot_config *cfg) {
    if (!ev || ev->ops != &train_ops) CF_FAIL(CF_ERR_INVALID_ARG, "one-shot search trains supernets with the train evaluator");
    train_eval *te = ev->self;
    te->oneshot = *cfg;
    te->has_oneshot = 1;
    return CF_OK;
}

void cf_evaluator_destroy(cf_evaluator *ev) {
    if (!ev) return;
    if (ev->ops && ev->ops->destroy) ev->ops->destroy(ev->self);
    free(ev);
}
