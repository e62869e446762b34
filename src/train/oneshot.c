/* oneshot.c - training a supernet with DARTS, GDAS or SPOS (oneshot.h).
 *
 * A step of every method loads its batches with the trainer's batch entry
 * (normalization from the training split, augmentation keyed by seed, epoch
 * and position, as cf_train does), runs the model forward and backward, and
 * moves the weights with the SGD entry over the first mix_offset parameters
 * only: the mix coefficients at the end of the block are written before each
 * step from alpha (darts: softmax; gdas: the one-hot Gumbel argmax) or from
 * the drawn architecture (spos), and their gradients are read back to move
 * alpha with Adam on the host (rows x cols values: nothing to gain on a
 * device). The validation split's epoch order is drawn from its own seed.
 *
 * Tested by tests/test_oneshot.c (gradients of alpha against finite
 * differences, path draws, learning on Fashion-MNIST, resume after a kill).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cellforge/checkpoint.h"
#include "cellforge/log.h"
#include "cellforge/rng.h"
#include "cellforge/thread.h"
#include "oneshot_impl.h"

#define VAL_SEED_SALT 0x6f6e6573686f7456ull /* the validation order's seed: seed ^ this */
#define DRAW_STREAM0 1                       /* step g draws from stream DRAW_STREAM0 + 2 g (+1) */

static const char *const k_methods[] = {"darts", "gdas", "spos"};

const char *cf_oneshot_method_name(cf_oneshot_method m) {
    return (unsigned)m < sizeof k_methods / sizeof *k_methods ? k_methods[m] : "?";
}

int cf_oneshot_method_parse(const char *name, cf_oneshot_method *out) {
    for (int i = 0; i < (int)(sizeof k_methods / sizeof *k_methods); i++)
        if (strcmp(name, k_methods[i]) == 0) {
            *out = (cf_oneshot_method)i;
            return 1;
        }
    return 0;
}

void cf_oneshot_config_default(cf_oneshot_config *cfg, cf_oneshot_method method) {
    memset(cfg, 0, sizeof *cfg);
    cfg->method = method;
    cfg->order = 1;
    cf_train_config_default(&cfg->train);
    cfg->train.batch = 64;
    cfg->train.lr = 0.025;
    cfg->train.lr_min = 0.001;
    cfg->train.momentum = 0.9;
    cfg->train.nesterov = 0;
    cfg->train.weight_decay = 3e-4;
    cfg->train.grad_clip = 5;
    cfg->arch_lr = 3e-4;
    cfg->arch_beta1 = 0.5;
    cfg->arch_beta2 = 0.999;
    cfg->arch_wd = 1e-3;
    cfg->tau_max = 10;
    cfg->tau_min = 0.1;
    cfg->derive = 1;
    cfg->population = 20;
    cfg->generations = 10;
    cfg->bn_batches = 4;
    cfg->val_images = 1000;
}

/* ---- one step's pieces ------------------------------------------------------------ */

typedef struct step_out {
    double loss;
    int hits, n;
    int bad; /* cf_train_status of a bad step, or 0 */
} step_out;

/* Batch `b` of an epoch order of ds into the model, forward, loss, backward. */
static cf_status pass(os_run *r, const cf_dataset *ds, const uint32_t *order, int b, uint64_t seed, int epoch,
                      step_out *o) {
    cf_model *m = r->m;
    const int B = r->cfg->train.batch, K = m->net->input.classes;
    memcpy(r->idx, order + (size_t)b * B, (size_t)B * sizeof *r->idx);
    CF_TRY(cf_backend_copy(m->be, r->didx, r->idx, (size_t)B * sizeof *r->idx, CF_COPY_TO_DEVICE));
    const cf_augment *aug = r->cfg->train.augment.flip || r->cfg->train.augment.crop_pad > 0 ||
                                    r->cfg->train.augment.cutout > 0 || r->cfg->train.augment.erase > 0
                                ? &r->cfg->train.augment
                                : NULL;
    cf_batch_args a = {ds, r->didx, B, r->mean, r->std, aug, seed, (uint64_t)epoch, (uint64_t)b * B,
                       cf_model_input(m), cf_model_labels(m), m->threads, m->dtype};
    CF_TRY(cf_backend_batch(m->be, &a));
    CF_TRY(cf_model_forward(m, NULL, B, 1));
    CF_TRY(cf_model_loss(m, NULL, r->cfg->train.label_smoothing, &o->loss));
    o->bad = !isfinite(o->loss) ? CF_TRAIN_NAN : o->loss > r->cfg->train.diverge_loss ? CF_TRAIN_DIVERGED : 0;
    if (o->bad) return CF_OK;
    CF_TRY(cf_model_logits_host(m, r->logits)); /* before backward, which reuses their memory */
    CF_TRY(cf_model_backward(m));
    o->hits = 0;
    o->n = B;
    for (int k = 0; k < B; k++) {
        const float *v = r->logits + (size_t)k * K;
        int best = 0;
        for (int c = 1; c < K; c++) best = v[c] > v[best] ? c : best;
        o->hits += best == ds->labels[r->idx[k]];
    }
    return CF_OK;
}

/* SGD on the weights (not the mix coefficients) from the last backward. */
static cf_status weights_update(os_run *r, double lr, int *finite) {
    cf_model *m = r->m;
    const cf_train_config *t = &r->cfg->train;
    double norm2 = 0;
    CF_TRY(cf_backend_norm2(m->be, m->grad, m->mix_offset, m->threads, &norm2));
    *finite = isfinite(norm2);
    if (!*finite) return CF_OK;
    float clip = 1.0f;
    if (t->grad_clip > 0 && sqrt(norm2) > t->grad_clip) clip = (float)(t->grad_clip / sqrt(norm2));
    cf_sgd_args a = {m->dparam, m->grad, r->mom, m->mix_offset, (float)lr, (float)t->momentum,
                     (float)t->weight_decay, clip, t->nesterov, m->threads, NULL};
    return cf_backend_sgd(m->be, &a);
}

/* w += step v over the weights (momentum-free SGD with lr -step into scratch). */
static cf_status weights_axpy(os_run *r, const float *v, double step, double wd) {
    cf_model *m = r->m;
    cf_sgd_args a = {m->dparam, v, r->scratch, m->mix_offset, (float)-step, 0.0f, (float)wd, 1.0f, 0, m->threads,
                     NULL};
    return cf_backend_sgd(m->be, &a);
}

static cf_status weights_copy(os_run *r, float *dst, const float *src) {
    return cf_backend_copy(r->m->be, dst, src, r->m->mix_offset * sizeof(float), CF_COPY_ON_DEVICE);
}

/* Adam on alpha from dL/dalpha in r->grad, with weight decay added to the gradient. */
static void adam(os_run *r) {
    const cf_oneshot_config *c = r->cfg;
    const size_t n = (size_t)r->rows * r->cols;
    r->adam_t++;
    const double b1t = 1 - pow(c->arch_beta1, (double)r->adam_t), b2t = 1 - pow(c->arch_beta2, (double)r->adam_t);
    for (size_t i = 0; i < n; i++) {
        double g = r->grad[i] + c->arch_wd * r->alpha[i];
        r->adam_m[i] = c->arch_beta1 * r->adam_m[i] + (1 - c->arch_beta1) * g;
        r->adam_v[i] = c->arch_beta2 * r->adam_v[i] + (1 - c->arch_beta2) * g * g;
        r->alpha[i] -= c->arch_lr * (r->adam_m[i] / b1t) / (sqrt(r->adam_v[i] / b2t) + 1e-8);
    }
}

/* dL/dalpha from dL/dcoef (in r->grad) through p = softmax(alpha / tau). */
static void softmax_backward(os_run *r, const double *p, double tau) {
    cf_oneshot_softmax_backward(p, r->rows, r->cols, tau, r->grad);
}

/* ---- the methods' steps ---------------------------------------------------------- */

typedef struct step_ctx {
    int epoch, b, vb;           /* epoch, training batch, validation batch */
    int64_t g;                  /* global step */
    double lr, tau;
} step_ctx;

static uint64_t val_seed(const os_run *r) { return r->cfg->train.seed ^ VAL_SEED_SALT; }

/* darts: coefficients softmax(alpha); an arch step (first or second order), then a weights step. */
static cf_status darts_step(os_run *r, const step_ctx *sc, step_out *o) {
    const uint64_t seed = r->cfg->train.seed;
    cf_oneshot_softmax(r->alpha, r->rows, r->cols, r->coef);
    CF_TRY(os_write_coefs(r, r->coef));
    step_out v;
    if (r->cfg->order == 1) {
        CF_TRY(pass(r, r->val, r->order_va, sc->vb, val_seed(r), sc->epoch, &v));
        if (v.bad) return *o = v, CF_OK;
        CF_TRY(os_read_coef_grad(r, r->grad));
    } else {
        cf_model *m = r->m;
        double *d1 = r->soft, xi = sc->lr, norm2 = 0;
        int finite = 1;
        CF_TRY(weights_copy(r, r->backup, m->dparam));
        CF_TRY(pass(r, r->train, r->order_tr, sc->b, seed, sc->epoch, &v)); /* w' = w - xi grad L_train */
        if (v.bad) return *o = v, CF_OK;
        CF_TRY(weights_axpy(r, m->grad, -xi, r->cfg->train.weight_decay));
        CF_TRY(pass(r, r->val, r->order_va, sc->vb, val_seed(r), sc->epoch, &v));
        if (v.bad) return weights_copy(r, m->dparam, r->backup), *o = v, CF_OK;
        CF_TRY(os_read_coef_grad(r, d1));
        CF_TRY(weights_copy(r, r->vbuf, m->grad));
        CF_TRY(cf_backend_norm2(m->be, r->vbuf, m->mix_offset, m->threads, &norm2));
        finite = isfinite(norm2);
        const double eps = finite && norm2 > 0 ? 0.01 / sqrt(norm2) : 0;
        for (int sign = 1; sign >= -1 && eps > 0; sign -= 2) { /* the Hessian term at w +- eps v */
            CF_TRY(weights_copy(r, m->dparam, r->backup));
            CF_TRY(weights_axpy(r, r->vbuf, sign * eps, 0));
            CF_TRY(pass(r, r->train, r->order_tr, sc->b, seed, sc->epoch, &v));
            if (v.bad) return weights_copy(r, m->dparam, r->backup), *o = v, CF_OK;
            CF_TRY(os_read_coef_grad(r, r->grad));
            for (size_t i = 0; i < (size_t)r->rows * r->cols; i++) d1[i] -= sign * xi * r->grad[i] / (2 * eps);
        }
        CF_TRY(weights_copy(r, m->dparam, r->backup));
        memcpy(r->grad, d1, (size_t)r->rows * r->cols * sizeof *r->grad);
    }
    softmax_backward(r, r->coef, 1.0);
    adam(r);
    cf_oneshot_softmax(r->alpha, r->rows, r->cols, r->coef);
    CF_TRY(os_write_coefs(r, r->coef));
    CF_TRY(pass(r, r->train, r->order_tr, sc->b, seed, sc->epoch, o));
    if (o->bad) return CF_OK;
    int finite = 1;
    CF_TRY(weights_update(r, sc->lr, &finite));
    if (!finite) o->bad = CF_TRAIN_NAN;
    return CF_OK;
}

/* gdas: draw one op per row from softmax((alpha + Gumbel) / tau) with stream `stream`. */
static cf_status gdas_draw(os_run *r, double tau, uint64_t stream) {
    cf_rng rng = cf_rng_make(r->cfg->train.seed, cf_rng_stream(stream, CF_RNG_PURPOSE_PATH));
    const size_t n = (size_t)r->rows * r->cols;
    for (size_t i = 0; i < n; i++) {
        double u = cf_rng_uniform_f64(&rng);
        u = u > 1e-300 ? u : 1e-300;
        r->coef[i] = (r->alpha[i] - log(-log(u) + 1e-300)) / tau;
    }
    cf_oneshot_softmax(r->coef, r->rows, r->cols, r->soft);
    for (int i = 0; i < r->rows; i++) {
        const double *h = r->soft + (size_t)i * r->cols;
        int best = 0;
        for (int c = 1; c < r->cols; c++) best = h[c] > h[best] ? c : best;
        r->pick[i] = best;
        r->row_paths[i] = (uint8_t)(1u << best);
        for (int c = 0; c < r->cols; c++) r->coef[(size_t)i * r->cols + c] = c == best;
    }
    CF_TRY(os_write_coefs(r, r->coef));
    return os_set_row_paths(r, r->row_paths);
}

/* gdas: a weights step on a drawn path, then an arch step on another. */
static cf_status gdas_step(os_run *r, const step_ctx *sc, step_out *o) {
    CF_TRY(gdas_draw(r, sc->tau, DRAW_STREAM0 + 2 * (uint64_t)sc->g));
    CF_TRY(pass(r, r->train, r->order_tr, sc->b, r->cfg->train.seed, sc->epoch, o));
    if (o->bad) return CF_OK;
    int finite = 1;
    CF_TRY(weights_update(r, sc->lr, &finite));
    if (!finite) return o->bad = CF_TRAIN_NAN, CF_OK;
    CF_TRY(gdas_draw(r, sc->tau, DRAW_STREAM0 + 2 * (uint64_t)sc->g + 1));
    step_out v;
    CF_TRY(pass(r, r->val, r->order_va, sc->vb, val_seed(r), sc->epoch, &v));
    if (v.bad) return *o = v, CF_OK;
    CF_TRY(os_read_coef_grad(r, r->grad));
    /* straight through: the hard one-hot's gradient goes to the soft sample */
    softmax_backward(r, r->soft, sc->tau);
    adam(r);
    return CF_OK;
}

/* spos: a weights step on an architecture drawn uniformly. */
static cf_status spos_step(os_run *r, const step_ctx *sc, step_out *o) {
    cf_rng rng = cf_rng_make(r->cfg->train.seed, cf_rng_stream(DRAW_STREAM0 + 2 * (uint64_t)sc->g, CF_RNG_PURPOSE_PATH));
    cf_arch a;
    cf_arch_sample(r->s, &rng, &a);
    CF_TRY(os_use_arch(r, &a));
    CF_TRY(pass(r, r->train, r->order_tr, sc->b, r->cfg->train.seed, sc->epoch, o));
    if (o->bad) return CF_OK;
    int finite = 1;
    CF_TRY(weights_update(r, sc->lr, &finite));
    if (!finite) o->bad = CF_TRAIN_NAN;
    return CF_OK;
}

/* ---- the run --------------------------------------------------------------------- */

static cf_status run_alloc(os_run *r) {
    cf_model *m = r->m;
    const int B = r->cfg->train.batch, E = r->cfg->train.epochs;
    const size_t cells = (size_t)r->rows * r->cols;
    r->alpha = calloc(cells, sizeof *r->alpha);
    r->adam_m = calloc(cells, sizeof *r->adam_m);
    r->adam_v = calloc(cells, sizeof *r->adam_v);
    r->grad = calloc(cells, sizeof *r->grad);
    r->coef = calloc(cells, sizeof *r->coef);
    r->soft = calloc(cells, sizeof *r->soft);
    r->hist = calloc(cells * (size_t)E, sizeof *r->hist);
    r->pick = calloc((size_t)r->rows, sizeof *r->pick);
    r->row_paths = calloc((size_t)r->rows, 1);
    r->paths = calloc((size_t)m->net->n, 1);
    r->tail = calloc(m->n_params - m->mix_offset + 1, m->elem);
    r->order_tr = calloc(r->train->n, sizeof *r->order_tr);
    r->order_va = calloc(r->val->n, sizeof *r->order_va);
    r->idx = calloc((size_t)B, sizeof *r->idx);
    r->logits = calloc((size_t)B * m->net->input.classes, sizeof *r->logits);
    if (!r->alpha || !r->adam_m || !r->adam_v || !r->grad || !r->coef || !r->soft || !r->hist || !r->pick ||
        !r->row_paths || !r->paths || !r->tail || !r->order_tr || !r->order_va || !r->idx || !r->logits)
        CF_FAIL(CF_ERR_OUT_OF_MEMORY, "one-shot: no memory for the run's tables");
    CF_TRY(cf_backend_alloc(m->be, (size_t)B * sizeof(uint32_t), &r->didx));
    CF_TRY(cf_backend_alloc(m->be, m->n_params * sizeof(float), (void **)&r->mom));
    if (r->cfg->method == CF_ONESHOT_DARTS && r->cfg->order == 2) {
        const size_t bytes = (m->mix_offset ? m->mix_offset : 1) * sizeof(float);
        CF_TRY(cf_backend_alloc(m->be, bytes, (void **)&r->backup));
        CF_TRY(cf_backend_alloc(m->be, bytes, (void **)&r->vbuf));
    }
    return cf_backend_alloc(m->be, (m->mix_offset ? m->mix_offset : 1) * sizeof(float), (void **)&r->scratch);
}

static void run_free(os_run *r) {
    const cf_backend *be = r->m->be;
    free(r->mix);
    free(r->alpha);
    free(r->adam_m);
    free(r->adam_v);
    free(r->grad);
    free(r->coef);
    free(r->soft);
    free(r->hist);
    free(r->pick);
    free(r->row_paths);
    free(r->paths);
    free(r->tail);
    free(r->order_tr);
    free(r->order_va);
    free(r->idx);
    free(r->logits);
    cf_backend_free(be, r->didx);
    cf_backend_free(be, r->mom);
    cf_backend_free(be, r->backup);
    cf_backend_free(be, r->vbuf);
    cf_backend_free(be, r->scratch);
}

static cf_status check_args(const cf_model *m, const cf_dataset *train, const cf_dataset *val,
                            const cf_oneshot_config *c) {
    const cf_net_input *in = &m->net->input;
    if (m->dtype != CF_DTYPE_F32) CF_FAIL(CF_ERR_UNSUPPORTED, "one-shot: f32 models only");
    if (c->train.epochs < 1 || c->train.epochs > CF_TRAIN_MAX_EPOCHS)
        CF_FAIL(CF_ERR_INVALID_ARG, "one-shot: %d epochs (1..%d)", c->train.epochs, CF_TRAIN_MAX_EPOCHS);
    if (c->train.batch < 1 || c->train.batch > m->batch)
        CF_FAIL(CF_ERR_INVALID_ARG, "one-shot: batch %d, the model holds 1..%d", c->train.batch, m->batch);
    if (c->method == CF_ONESHOT_DARTS && c->order != 1 && c->order != 2)
        CF_FAIL(CF_ERR_INVALID_ARG, "one-shot: darts of order %d (1 or 2)", c->order);
    if (c->derive < 1 || c->derive > CF_ONESHOT_MAX_DERIVED)
        CF_FAIL(CF_ERR_INVALID_ARG, "one-shot: derive %d architectures (1..%d)", c->derive, CF_ONESHOT_MAX_DERIVED);
    if (c->method == CF_ONESHOT_GDAS && !(c->tau_max >= c->tau_min && c->tau_min > 0))
        CF_FAIL(CF_ERR_INVALID_ARG, "one-shot: gdas temperature from %g to %g (need tau_max >= tau_min > 0)",
                c->tau_max, c->tau_min);
    if (c->method == CF_ONESHOT_SPOS && (c->population < 2 || c->generations < 0 || c->bn_batches < 1))
        CF_FAIL(CF_ERR_INVALID_ARG, "one-shot: spos population %d (>= 2), generations %d (>= 0), "
                "BN batches %d (>= 1)", c->population, c->generations, c->bn_batches);
    const cf_dataset *sets[2] = {train, val};
    for (int k = 0; k < 2; k++) {
        if (!sets[k]) CF_FAIL(CF_ERR_INVALID_ARG, "one-shot: no %s split", k ? "validation" : "training");
        if (sets[k]->c != in->c || sets[k]->h != in->h || sets[k]->w != in->w)
            CF_FAIL(CF_ERR_SHAPE, "%s: images are %dx%dx%d, the supernet takes %dx%dx%d", sets[k]->name,
                    sets[k]->h, sets[k]->w, sets[k]->c, in->h, in->w, in->c);
        if (sets[k]->n < (size_t)c->train.batch)
            CF_FAIL(CF_ERR_INVALID_ARG, "%s: %zu images, fewer than one batch of %d", sets[k]->name, sets[k]->n,
                    c->train.batch);
    }
    if (train->c > 4) CF_FAIL(CF_ERR_UNSUPPORTED, "%s: %d channels (at most 4)", train->name, train->c);
    return CF_OK;
}

static void init_alpha(os_run *r) {
    cf_rng rng = cf_rng_make(r->cfg->train.seed, cf_rng_stream(0, CF_RNG_PURPOSE_PATH));
    for (size_t i = 0; i < (size_t)r->rows * r->cols; i++) r->alpha[i] = 1e-3 * cf_rng_normal_f64(&rng);
}

/* The supernet's validation accuracy after an epoch (oneshot.h's curve). */
static cf_status epoch_accuracy(os_run *r, int epoch, double *acc) {
    switch (r->cfg->method) {
    case CF_ONESHOT_DARTS:
        cf_oneshot_softmax(r->alpha, r->rows, r->cols, r->coef);
        CF_TRY(os_write_coefs(r, r->coef));
        CF_TRY(os_set_row_paths(r, NULL));
        return os_evaluate(r, r->val, 0, acc);
    case CF_ONESHOT_GDAS: { /* the architecture derived now, alone, BN recalibrated */
        cf_arch a;
        int n = 0;
        CF_TRY(cf_oneshot_derive(r->s, r->alpha, r->rows, r->cols, 1, &a, NULL, &n));
        if (n < 1) CF_FAIL(CF_ERR_INTERNAL, "gdas: no architecture derived");
        return os_score_arch(r, &a, acc);
    }
    case CF_ONESHOT_SPOS: {
        cf_rng rng = cf_rng_make(r->cfg->train.seed, cf_rng_stream((uint64_t)epoch, CF_RNG_PURPOSE_SAMPLE));
        cf_arch a;
        cf_arch_sample(r->s, &rng, &a);
        return os_score_arch(r, &a, acc);
    }
    }
    return CF_OK;
}

/* The state after epoch e: the sidecar first, then the trainer's state (a
 * crash between them leaves a sidecar that still holds epoch e - 1). */
static cf_status save_state(os_run *r, int e, const cf_oneshot_result *res, cf_train_result *tr, float *mom_host) {
    const cf_oneshot_config *c = r->cfg;
    if (!c->state_path) return CF_OK;
    cf_model *m = r->m;
    CF_TRY(os_state_save(r, e));
    CF_TRY(cf_model_to_host(m));
    CF_TRY(cf_backend_copy(m->be, mom_host, r->mom, m->n_params * sizeof(float), CF_COPY_TO_HOST));
    tr->status = CF_TRAIN_OK;
    tr->epochs_done = e + 1;
    memcpy(tr->curve, res->curve, sizeof res->curve);
    tr->val_acc = res->curve[e].val_acc;
    tr->seconds = res->seconds;
    memcpy(tr->mean, r->mean, sizeof r->mean);
    memcpy(tr->std, r->std, sizeof r->std);
    return cf_trainstate_save(c->state_path, r->s, "supernet", m, mom_host, &c->train, tr);
}

/* Resume from the state when its file exists: *start = the epochs done. */
static cf_status load_state(os_run *r, cf_oneshot_result *res, cf_train_result *tr, float *mom_host, int *start) {
    const cf_oneshot_config *c = r->cfg;
    struct stat sb;
    *start = 0;
    if (!c->state_path || stat(c->state_path, &sb) != 0) return CF_OK;
    cf_model *m = r->m;
    cf_status st = cf_trainstate_load(c->state_path, r->s, "supernet", &c->train, m, mom_host, tr);
    if (st == CF_ERR_PARSE || st == CF_ERR_INVALID_ARG) { /* damaged, or another run's: m is untouched */
        CF_LOG_WARN("one-shot: cannot resume: %s; the supernet trains from epoch 1", cf_error_message());
        return CF_OK;
    }
    CF_TRY(st);
    for (int k = 0; k < r->train->c; k++)
        if (tr->mean[k] != r->mean[k] || tr->std[k] != r->std[k])
            CF_FAIL(CF_ERR_INVALID_ARG, "%s: a state of another training set (its normalization differs)",
                    c->state_path);
    if (tr->epochs_done < 1) return CF_OK;
    CF_TRY(os_state_load(r, tr->epochs_done - 1));
    CF_TRY(cf_backend_copy(m->be, r->mom, mom_host, m->n_params * sizeof(float), CF_COPY_TO_DEVICE));
    res->epochs_done = *start = tr->epochs_done;
    memcpy(res->curve, tr->curve, sizeof res->curve);
    res->seconds = tr->seconds;
    return CF_OK;
}

static cf_status run_epochs(os_run *r, cf_oneshot_result *res, cf_train_result *tr, float *mom_host, int start) {
    const cf_oneshot_config *c = r->cfg;
    const int B = c->train.batch, E = c->train.epochs;
    const double fraction = c->train.max_epoch_fraction > 0 ? c->train.max_epoch_fraction : 1;
    int nb = (int)((double)(r->train->n / (size_t)B) * fraction);
    nb = nb < 1 ? 1 : nb;
    const int nvb = (int)(r->val->n / (size_t)B);
    const double t0 = cf_time_now(), restored = res->seconds;
    for (int e = start; e < E; e++) {
        const double te = cf_time_now();
        cf_data_epoch_order(r->train->n, c->train.seed, (uint64_t)e, r->order_tr);
        cf_data_epoch_order(r->val->n, val_seed(r), (uint64_t)e, r->order_va);
        double loss = 0, lr = c->train.lr;
        int64_t hits = 0, seen = 0;
        for (int b = 0; b < nb; b++) {
            step_ctx sc = {e, b, b % nvb, (int64_t)e * nb + b, 0, 1};
            const int64_t T = (int64_t)E * nb;
            lr = sc.lr = c->train.lr_min + 0.5 * (c->train.lr - c->train.lr_min) * (1 + cos(M_PI * (double)sc.g / (double)T));
            sc.tau = E > 1 ? c->tau_max - (c->tau_max - c->tau_min) * e / (E - 1) : c->tau_min;
            step_out o = {0};
            if (c->method == CF_ONESHOT_DARTS) CF_TRY(darts_step(r, &sc, &o));
            else if (c->method == CF_ONESHOT_GDAS) CF_TRY(gdas_step(r, &sc, &o));
            else CF_TRY(spos_step(r, &sc, &o));
            if (o.bad) {
                res->status = (cf_train_status)o.bad;
                snprintf(res->reason, sizeof res->reason, "epoch %d step %d: loss %g", e + 1, b + 1, o.loss);
                return CF_OK;
            }
            loss += o.loss;
            hits += o.hits;
            seen += o.n;
            if (c->train.progress) {
                cf_train_progress p = {e, E, b + 1, nb, loss / (b + 1), (double)hits / (double)seen, lr,
                                       (double)seen / (cf_time_now() - te), restored + cf_time_now() - t0};
                c->train.progress(c->train.progress_ctx, &p);
            }
            if (c->train.time_limit_s > 0 && cf_time_now() - t0 > c->train.time_limit_s) {
                res->status = CF_TRAIN_TIMEOUT;
                snprintf(res->reason, sizeof res->reason, "time limit %gs in epoch %d", c->train.time_limit_s, e + 1);
                return CF_OK;
            }
        }
        cf_epoch_record *rec = &res->curve[e];
        *rec = (cf_epoch_record){e, loss / nb, (double)hits / (double)seen, -1, lr, 0};
        CF_TRY(epoch_accuracy(r, e, &rec->val_acc));
        CF_TRY(os_set_row_paths(r, NULL));
        rec->seconds = cf_time_now() - te;
        res->epochs_done = e + 1;
        res->seconds = restored + cf_time_now() - t0;
        memcpy(r->hist + (size_t)e * r->rows * r->cols, r->alpha, (size_t)r->rows * r->cols * sizeof *r->alpha);
        CF_TRY(save_state(r, e, res, tr, mom_host));
        if (c->alphas_path) CF_TRY(os_alphas_write(r, e + 1));
        if (c->on_epoch) c->on_epoch(c->epoch_ctx, rec);
    }
    return CF_OK;
}

static cf_status derive(os_run *r, cf_oneshot_result *res) {
    const cf_oneshot_config *c = r->cfg;
    if (c->method == CF_ONESHOT_SPOS) CF_TRY(os_spos_search(r, res));
    else
        CF_TRY(cf_oneshot_derive(r->s, r->alpha, r->rows, r->cols, c->derive, res->derived, res->derived_score,
                                 &res->n_derived));
    for (int k = 0; k < res->n_derived; k++) {
        if (c->method == CF_ONESHOT_SPOS) res->derived_acc[k] = res->derived_score[k];
        else CF_TRY(os_score_arch(r, &res->derived[k], &res->derived_acc[k]));
    }
    return os_set_row_paths(r, NULL);
}

cf_status cf_oneshot_run(cf_model *m, const cf_space *s, const cf_dataset *train, const cf_dataset *val,
                         const cf_oneshot_config *cfg, cf_oneshot_result *res) {
    memset(res, 0, sizeof *res);
    CF_TRY(check_args(m, train, val, cfg));
    os_run r = {.m = m, .s = s, .train = train, .val = val, .cfg = cfg};
    cf_train_result *tr = calloc(1, sizeof *tr);
    float *mom_host = calloc(m->n_params + 1, sizeof *mom_host);
    cf_status st = CF_OK;
    if (!tr || !mom_host) {
        st = cf_error_set(CF_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, "one-shot: no memory");
        goto exit;
    }
    CF_TRY_GOTO(st, os_mix_table(&r), exit);
    CF_TRY_GOTO(st, run_alloc(&r), exit);
    double mean[4], sd[4];
    CF_TRY_GOTO(st, cf_dataset_channel_stats(train, mean, sd), exit);
    for (int k = 0; k < train->c; k++) {
        r.mean[k] = (float)mean[k];
        r.std[k] = (float)(sd[k] > 1e-12 ? sd[k] : 1.0);
    }
    init_alpha(&r);
    int start = 0;
    CF_TRY_GOTO(st, load_state(&r, res, tr, mom_host, &start), exit);
    CF_TRY_GOTO(st, run_epochs(&r, res, tr, mom_host, start), exit);
    if (res->status == CF_TRAIN_OK || (res->status == CF_TRAIN_TIMEOUT && res->epochs_done > 0)) {
        const double t0 = cf_time_now();
        CF_TRY_GOTO(st, derive(&r, res), exit);
        res->seconds += cf_time_now() - t0; /* the derivation (spos: its whole search) is the trial's time too */
    }
exit:
    if (r.paths) cf_model_set_paths(m, NULL);
    run_free(&r);
    free(tr);
    free(mom_host);
    return st;
}
