/* train.c - the training loop: batches, SGD with momentum, cosine schedule,
 * evaluation, and trials that end with a status instead of a crash.
 *
 * Everything a step needs is allocated before the first step (batch buffers,
 * the momentum buffer, the epoch order); the model owns the rest. With a
 * communicator (comm.h) one call is one replica of a data-parallel run: it
 * trains on its shard of every batch and sums gradients and per-step scalars
 * with the other replicas. Tested by tests/test_train.c (a short real run on
 * Fashion-MNIST, determinism, NaN and time-limit endings, and the optimizer
 * against a hand-computed update), tests/test_dp.c (replicas against one)
 * and tests/test_train_resume.c (a run stopped and resumed from its saved
 * state against one that never stopped).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cellforge/log.h"
#include "cellforge/thread.h"
#include "cellforge/train.h"

void cf_train_config_default(cf_train_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->epochs = 10;
    cfg->batch = 256;
    cfg->lr = 0.1;
    cfg->momentum = 0.9;
    cfg->nesterov = 1;
    cfg->weight_decay = 5e-4;
    cfg->aux_weight = 0.4;
    cfg->diverge_loss = 1e4;
    cfg->max_epoch_fraction = 1.0;
}

const char *cf_train_status_name(cf_train_status s) {
    switch (s) {
    case CF_TRAIN_OK: return "ok";
    case CF_TRAIN_NAN: return "nan";
    case CF_TRAIN_DIVERGED: return "diverged";
    case CF_TRAIN_TIMEOUT: return "timeout";
    }
    return "?";
}

/* Learning rate at step t of T: linear warmup over W steps, then cosine to lr_min. */
static double lr_at(const cf_train_config *cfg, int64_t t, int64_t T, int64_t W) {
    if (t < W) return cfg->lr * (double)(t + 1) / (double)W;
    double p = T > W ? (double)(t - W) / (double)(T - W) : 1.0;
    return cfg->lr_min + 0.5 * (cfg->lr - cfg->lr_min) * (1.0 + cos(M_PI * p));
}

static int argmax(const float *v, int k) {
    int best = 0;
    for (int i = 1; i < k; i++)
        if (v[i] > v[best]) best = i;
    return best;
}

/* One SGD step (PyTorch's rule, cf_sgd_args) on m's backend: gradients are
 * clipped first when asked, and unscaled under fp16 loss scaling (scaler,
 * cf_step_clip_host's rule). Returns 0 in *finite when a gradient is not
 * finite (and the step cannot be skipped); a skipped step moves nothing.
 * With stats (device steps) the factor and the checks are on the device. */
static cf_status sgd_step(cf_model *m, float *buf, const cf_train_config *cfg, double lr,
                          const cf_step_stats *stats, cf_step_stats *scaler, int *finite) {
    *finite = 1;
    if (stats) { /* on the device: the factor and the finiteness are there */
        cf_sgd_args a = {m->dparam, m->grad, buf, m->n_params, (float)lr, (float)cfg->momentum,
                         (float)cfg->weight_decay, 1.0f, cfg->nesterov, m->threads, stats};
        return cf_backend_sgd(m->be, &a);
    }
    double norm2 = 0;
    CF_TRY(cf_backend_norm2(m->be, m->grad, m->n_params, m->threads, &norm2));
    cf_step_clip_host(scaler, norm2, cfg->grad_clip);
    *finite = scaler->bad == CF_STEP_OK;
    if (!*finite || scaler->skip) return CF_OK;
    cf_sgd_args a = {m->dparam, m->grad, buf, m->n_params, (float)lr, (float)cfg->momentum,
                     (float)cfg->weight_decay, scaler->clip, cfg->nesterov, m->threads, NULL};
    return cf_backend_sgd(m->be, &a);
}

/* The batch of images idx[0..n) (backend memory) into the model's input and
 * label slots, on the model's backend. */
static cf_status load_batch(cf_model *m, const cf_dataset *ds, const uint32_t *idx, int n, const float *mean,
                            const float *std, const cf_augment *aug, uint64_t seed, uint64_t epoch, uint64_t pos0) {
    cf_batch_args a = {ds, idx, n, mean, std, aug, seed, epoch, pos0, cf_model_input(m), cf_model_labels(m),
                       m->threads, m->dtype};
    return cf_backend_batch(m->be, &a);
}

/* A host array's copy in backend memory, or the array itself on a host backend. */
static cf_status device_twin(const cf_model *m, void *host, size_t bytes, void **out) {
    if (!m->on_device) {
        *out = host;
        return CF_OK;
    }
    return cf_backend_alloc(m->be, bytes, out);
}

static void device_twin_free(const cf_model *m, void *host, void *dev) {
    if (dev && dev != host) cf_backend_free(m->be, dev);
}

/* Per-channel mean and std of the training set, as floats. */
static cf_status norm_stats(const cf_dataset *ds, float *mean, float *std) {
    double m[4], s[4];
    if (ds->c > 4) CF_FAIL(CF_ERR_UNSUPPORTED, "%s: %d channels (at most 4)", ds->name, ds->c);
    CF_TRY(cf_dataset_channel_stats(ds, m, s));
    for (int c = 0; c < ds->c; c++) {
        mean[c] = (float)m[c];
        std[c] = (float)(s[c] > 1e-12 ? s[c] : 1.0);
    }
    return CF_OK;
}

cf_status cf_evaluate(cf_model *m, const cf_dataset *ds, const float *mean, const float *std,
                      double *accuracy, int64_t *confusion) {
    return cf_evaluate_logits(m, ds, mean, std, accuracy, confusion, NULL);
}

cf_status cf_evaluate_logits(cf_model *m, const cf_dataset *ds, const float *mean, const float *std,
                             double *accuracy, int64_t *confusion, float *logits_out) {
    const cf_net_input *in = &m->net->input;
    if (ds->c != in->c || ds->h != in->h || ds->w != in->w)
        CF_FAIL(CF_ERR_SHAPE, "%s: images are %dx%dx%d, the network takes %dx%dx%d", ds->name, ds->h,
                ds->w, ds->c, in->h, in->w, in->c);
    if (m->dtype != CF_DTYPE_F32 && !cf_dtype_is_half(m->dtype))
        CF_FAIL(CF_ERR_UNSUPPORTED, "evaluate: f32, bf16 or f16 models only");
    const int B = m->batch, K = in->classes;
    float *logits = malloc((size_t)B * (size_t)K * sizeof *logits);
    uint32_t *idx = malloc((size_t)B * sizeof *idx);
    void *didx = NULL;
    cf_status st = CF_OK;
    if (!logits || !idx) {
        st = cf_error_set(CF_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, "evaluate: no memory for a batch of %d", B);
        goto exit;
    }
    CF_TRY_GOTO(st, device_twin(m, idx, (size_t)B * sizeof *idx, &didx), exit);
    if (confusion) memset(confusion, 0, (size_t)K * K * sizeof *confusion);
    size_t correct = 0;
    for (size_t start = 0; start < ds->n; start += (size_t)B) {
        int n = (int)(ds->n - start < (size_t)B ? ds->n - start : (size_t)B);
        for (int k = 0; k < n; k++) idx[k] = (uint32_t)(start + (size_t)k);
        CF_TRY_GOTO(st, cf_backend_copy(m->be, didx, idx, (size_t)n * sizeof *idx, CF_COPY_TO_DEVICE), exit);
        CF_TRY_GOTO(st, load_batch(m, ds, didx, n, mean, std, NULL, 0, 0, 0), exit);
        CF_TRY_GOTO(st, cf_model_forward(m, NULL, n, 0), exit);
        CF_TRY_GOTO(st, cf_model_logits_host(m, logits), exit);
        if (logits_out) memcpy(logits_out + start * (size_t)K, logits, (size_t)n * (size_t)K * sizeof *logits);
        for (int k = 0; k < n; k++) {
            const int32_t y = ds->labels[start + (size_t)k];
            int p = argmax(logits + (size_t)k * K, K);
            correct += p == y;
            if (confusion && y >= 0 && y < K) confusion[(size_t)y * K + p]++;
        }
    }
    *accuracy = ds->n ? (double)correct / (double)ds->n : 0.0;
exit:
    device_twin_free(m, idx, didx);
    free(logits);
    free(idx);
    return st;
}

/* ---- steps that stay on the device ----------------------------------------------
 * On a device backend that keeps step statistics (cf_backend_step_stats)
 * a step queues its work and returns: the loss and hits are added up in
 * backend memory, the clipping factor is computed there and read by the SGD
 * kernel, and a NaN or divergent step stops every later update on the device.
 * The host reads the statistics every CHECK_STEPS steps and at the end of the
 * epoch, and ends the trial there as the host path would have at the bad
 * step: the weights are those before it (BN running statistics may have moved
 * in the steps up to the check, which end the trial anyway). Where the backend
 * can, the forward, loss, statistics, backward and clipping of a step are
 * captured as one graph after an eager step has sized every workspace, and
 * replayed; the graph is made anew every epoch (evaluation may grow the
 * workspaces it points into). CELLFORGE_GRAPHS=0 turns graphs off. */
#define CHECK_STEPS 25

typedef struct device_steps {
    int on;                 /* this run keeps its statistics on the device */
    int graphs;             /* capture steps as graphs */
    void *graph;            /* this epoch's captured step, or NULL */
    int64_t replays;        /* steps run from a graph */
    cf_step_stats *stats;   /* backend memory */
} device_steps;

static int graphs_wanted(const cf_model *m, const cf_train_config *cfg) {
    const char *env = getenv("CELLFORGE_GRAPHS");
    if (env && strcmp(env, "0") == 0) return 0;
    if (!cf_backend_has_graphs(m->be)) return 0;
    /* masks keyed by the step number are kernel arguments that change every step */
    if (cfg->drop_path > 0) return 0;
    for (int i = 0; i < m->net->n; i++)
        if (m->net->layers[i].kind == CF_OP_DROPOUT) return 0;
    return 1;
}

/* Forward, loss, statistics, backward and clipping of the batch in the model's input slots. */
static cf_status device_step_work(cf_model *m, const cf_train_config *cfg, int nb, cf_step_stats *stats) {
    const void *main = NULL, *aux = NULL;
    CF_TRY(cf_model_forward(m, NULL, nb, 1));
    if (m->seeds_external) /* fp16: the loss gradients start from the scale on the device */
        CF_TRY(cf_backend_step_seed(m->be, (float *)m->scalars + 2, 1.0, m->aux_weight, stats));
    CF_TRY(cf_model_loss_queue(m, cfg->label_smoothing, &main, &aux));
    cf_step_stats_args a = {cf_model_logits(m), cf_model_labels(m), nb, m->net->input.classes, main, aux,
                            m->aux_weight, cfg->diverge_loss, stats, m->dtype};
    CF_TRY(cf_backend_step_stats(m->be, &a));
    CF_TRY(cf_model_backward(m));
    return cf_backend_step_clip(m->be, m->grad, m->n_params, cfg->grad_clip, stats);
}

/* One step's work, replayed from this epoch's graph, captured into it, or eager. */
static cf_status device_step(cf_model *m, const cf_train_config *cfg, int nb, device_steps *d, int warm) {
    if (d->graph) {
        d->replays++;
        return cf_backend_graph_launch(m->be, d->graph);
    }
    if (!d->graphs || !warm) return device_step_work(m, cfg, nb, d->stats);
    CF_TRY(cf_backend_capture_begin(m->be));
    cf_status st = device_step_work(m, cfg, nb, d->stats);
    void *graph = NULL;
    cf_status end = cf_backend_capture_end(m->be, &graph);
    if (st == CF_OK && end == CF_OK) {
        CF_LOG_DEBUG("train: the step of %d images captured as a graph", nb);
        d->graph = graph;
        d->replays++;
        return cf_backend_graph_launch(m->be, graph);
    }
    /* nothing ran while capturing: the step runs eagerly, and so do the rest */
    cf_backend_graph_free(m->be, graph);
    CF_LOG_WARN("train: steps run without graphs: %s", cf_error_message());
    d->graphs = 0;
    return device_step_work(m, cfg, nb, d->stats);
}

/* ---- one trial -------------------------------------------------------------------- */

/* What every step of a trial's loop shares. */
typedef struct run {
    cf_model *m;
    const cf_dataset *train, *val;
    const cf_train_config *cfg;
    cf_train_result *res;
    cf_comm *comm;
    int rank, B, lo, nb, K;    /* this replica's rows of every batch: [lo, lo + nb) of B */
    int64_t steps, total, warm; /* steps per epoch, in all, of warmup */
    /* Host arrays and their backend-memory twins (the same arrays on a host
     * backend): the epoch order, the momentum buffer, and on a device the
     * gradients' host copy that a host communicator sums. */
    float *logits;             /* (nb, K) */
    uint32_t *order;           /* (train->n) */
    float *buf;                /* (n_params) */
    float *host_grad;          /* (n_params) or NULL */
    void *dorder, *dbuf;
    device_steps dev;
    cf_step_stats scaler;      /* the clipping and fp16 loss-scale state between steps (host
                                  path; the device path's copy as last read) */
    double t0, before;         /* when this call started; seconds of the restored epochs */
    int64_t images;
    double step_seconds;
} run;

/* One epoch's running sums. */
typedef struct epoch_sums {
    double loss_sum, lr;
    int64_t correct, seen;
} epoch_sums;

static void stop(cf_train_result *res, cf_train_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void stop(cf_train_result *res, cf_train_status status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    res->status = status;
    vsnprintf(res->reason, sizeof res->reason, fmt, ap);
    va_end(ap);
}

/* The arguments, and the normalization of the training set into res. */
static cf_status train_check(run *r) {
    const cf_model *m = r->m;
    const cf_dataset *train = r->train;
    const cf_train_config *cfg = r->cfg;
    const cf_train_result *resume = cfg->resume;
    const cf_net_input *in = &m->net->input;
    const int replicas = r->comm ? cf_comm_size(r->comm) : 1, rank = r->rank, B = cfg->batch;
    if (resume == r->res) CF_FAIL(CF_ERR_INVALID_ARG, "train: cfg->resume and res are the same result");
    if (m->dtype != cfg->precision)
        CF_FAIL(CF_ERR_INVALID_ARG, "train: the model computes in %s, the configuration asks for %s",
                cf_dtype_name(m->dtype), cf_dtype_name(cfg->precision));
    if (m->dtype != CF_DTYPE_F32 && !cf_dtype_is_half(m->dtype))
        CF_FAIL(CF_ERR_UNSUPPORTED, "train: f32, bf16 or f16 models only");
    if (cfg->epochs < 1 || cfg->epochs > CF_TRAIN_MAX_EPOCHS)
        CF_FAIL(CF_ERR_INVALID_ARG, "train: %d epochs (1..%d)", cfg->epochs, CF_TRAIN_MAX_EPOCHS);
    if (!r->comm && (B < 1 || B > m->batch))
        CF_FAIL(CF_ERR_INVALID_ARG, "train: batch %d, the model holds 1..%d", B, m->batch);
    if (r->comm && (rank < 0 || rank >= replicas))
        CF_FAIL(CF_ERR_INVALID_ARG, "train: rank %d of %d replicas", rank, replicas);
    if (r->comm && B < replicas)
        CF_FAIL(CF_ERR_INVALID_ARG, "train: batch %d over %d replicas leaves a replica without images", B,
                replicas);
    r->B = B;
    r->lo = (int)((int64_t)B * rank / replicas);
    r->nb = (int)((int64_t)B * (rank + 1) / replicas) - r->lo;
    if (r->comm && r->nb > m->batch)
        CF_FAIL(CF_ERR_INVALID_ARG, "train: batch %d gives replica %d of %d %d images, the model holds 1..%d",
                B, rank, replicas, r->nb, m->batch);
    if (train->c != in->c || train->h != in->h || train->w != in->w)
        CF_FAIL(CF_ERR_SHAPE, "%s: images are %dx%dx%d, the network takes %dx%dx%d", train->name,
                train->h, train->w, train->c, in->h, in->w, in->c);
    if (train->classes > in->classes)
        CF_FAIL(CF_ERR_SHAPE, "%s: %d classes, the network has %d outputs", train->name, train->classes,
                in->classes);
    if ((size_t)B > train->n)
        CF_FAIL(CF_ERR_INVALID_ARG, "train: batch %d is larger than %s (%zu images)", B, train->name,
                train->n);
    CF_TRY(norm_stats(train, r->res->mean, r->res->std));
    if (resume) {
        const int e0 = resume->epochs_done;
        if (e0 < 0 || e0 > cfg->epochs)
            CF_FAIL(CF_ERR_INVALID_ARG, "train: resuming after %d epochs of a %d-epoch run", e0, cfg->epochs);
        if (!cfg->resume_momentum) CF_FAIL(CF_ERR_INVALID_ARG, "train: resuming without the momentum buffer");
        for (int c = 0; c < in->c; c++)
            if (resume->mean[c] != r->res->mean[c] || resume->std[c] != r->res->std[c])
                CF_FAIL(CF_ERR_INVALID_ARG,
                        "train: the resumed run normalized channel %d with mean %.9g, std %.9g; %s gives "
                        "%.9g, %.9g: not the same training set", c, resume->mean[c], resume->std[c],
                        train->name, r->res->mean[c], r->res->std[c]);
    }
    if (r->comm && cf_comm_device_f32(r->comm) && !m->on_device)
        CF_FAIL(CF_ERR_INVALID_ARG, "train: a GPU communicator (%s) for a model in host memory",
                cf_comm_name(r->comm));
    r->K = in->classes;
    const int64_t full = (int64_t)(train->n / (size_t)B); /* whole batches only, as drop_last */
    double frac = cfg->max_epoch_fraction > 0 && cfg->max_epoch_fraction < 1 ? cfg->max_epoch_fraction : 1.0;
    r->steps = (int64_t)ceil((double)full * frac);
    if (r->steps < 1) r->steps = 1;
    r->total = r->steps * cfg->epochs;
    r->warm = r->steps * cfg->warmup_epochs;
    return CF_OK;
}

/* The buffers, the restored epochs and momentum, the model on its device. */
static cf_status run_open(run *r) {
    cf_model *m = r->m;
    const cf_train_config *cfg = r->cfg;
    const cf_train_result *resume = cfg->resume;
    const size_t pbytes = (m->n_params ? m->n_params : 1) * sizeof(float);
    const int staged = r->comm && m->on_device && !cf_comm_device_f32(r->comm);
    r->logits = malloc((size_t)r->nb * (size_t)r->K * sizeof *r->logits);
    r->order = malloc(r->train->n * sizeof *r->order);
    r->buf = calloc(m->n_params ? m->n_params : 1, sizeof *r->buf);
    r->host_grad = staged ? malloc(pbytes) : NULL;
    if (!r->logits || !r->order || !r->buf || (staged && !r->host_grad))
        CF_FAIL(CF_ERR_OUT_OF_MEMORY, "train: no memory for batch buffers");
    CF_TRY(device_twin(m, r->order, r->train->n * sizeof *r->order, &r->dorder));
    CF_TRY(device_twin(m, r->buf, pbytes, &r->dbuf));
    m->aux_weight = cfg->aux_weight;
    /* Independent drop-path masks per replica: with one stream, row k of
     * every shard would share its mask. */
    m->seed = cfg->seed + 0x9E3779B97F4A7C15ull * (uint64_t)r->rank;
    if (resume) {
        cf_train_result *res = r->res;
        const int e0 = resume->epochs_done;
        memcpy(res->curve, resume->curve, (size_t)e0 * sizeof *res->curve);
        /* Only rank 0 evaluates: the others' records say so, as if they had never stopped. */
        if (r->rank != 0)
            for (int e = 0; e < e0; e++) res->curve[e].val_acc = -1;
        res->epochs_done = e0;
        if (e0 > 0) res->val_acc = res->curve[e0 - 1].val_acc;
        memcpy(r->buf, cfg->resume_momentum, m->n_params * sizeof *r->buf);
        CF_TRY(cf_backend_copy(m->be, r->dbuf, r->buf, m->n_params * sizeof *r->buf, CF_COPY_TO_DEVICE));
    }
    CF_TRY(cf_model_to_device(m));
    if (m->dtype == CF_DTYPE_F16) { /* the resumed run's scale, else the first */
        r->scaler.scale = cfg->loss_scale > 0 ? (float)cfg->loss_scale : CF_LOSS_SCALE_INIT;
        if (resume && resume->loss_scale > 0) {
            r->scaler.scale = resume->loss_scale;
            r->scaler.good = resume->scale_good;
        }
    }
    if (!r->comm && m->on_device && cf_backend_has_step_stats(m->be)) {
        CF_TRY(cf_backend_alloc(m->be, sizeof *r->dev.stats, (void **)&r->dev.stats));
        r->dev.on = 1;
        r->dev.graphs = graphs_wanted(m, cfg);
        m->seeds_external = r->scaler.scale > 0;
    }
    return CF_OK;
}

static void run_close(run *r) {
    cf_model *m = r->m;
    /* the device wrote the seeds behind the model's cache of them: the next loss uploads again */
    if (m->seeds_external) m->loss_weight[0] = m->loss_weight[1] = -1;
    m->seeds_external = 0;
    m->loss_scale = 1.0;
    /* a replay still running after a failure mid-epoch is freed by CUDA on completion */
    cf_backend_graph_free(m->be, r->dev.graph);
    if (r->dev.stats) cf_backend_free(m->be, r->dev.stats);
    device_twin_free(m, r->order, r->dorder);
    device_twin_free(m, r->buf, r->dbuf);
    free(r->logits);
    free(r->order);
    free(r->buf);
    free(r->host_grad);
}

/* One step on the host path: every value is read back as it is made. Sets
 * *done when the trial ends here (res says why), *late when the replicas
 * agree that the time limit has passed. */
static cf_status host_step(run *r, int epoch, int64_t s, epoch_sums *e, int *done, int *late) {
    cf_model *m = r->m;
    const cf_train_config *cfg = r->cfg;
    cf_train_result *res = r->res;
    const uint32_t *rows = r->order + s * r->B + r->lo;
    double loss;
    m->loss_scale = r->scaler.scale > 0 ? r->scaler.scale : 1.0;
    CF_TRY(cf_model_forward(m, NULL, r->nb, 1));
    CF_TRY(cf_model_loss(m, NULL, cfg->label_smoothing, &loss));
    CF_TRY(cf_model_logits_host(m, r->logits));
    int64_t hits = 0;
    for (int k = 0; k < r->nb; k++) hits += argmax(r->logits + (size_t)k * r->K, r->K) == r->train->labels[rows[k]];
    int nonfinite = !isfinite(loss);
    if (r->comm) {
        /* The whole batch's mean loss and hits, and whether any replica
         * saw a non-finite loss or passed the time limit: every replica
         * decides from the same values and takes the same path. */
        double v[4] = {loss * (double)r->nb / (double)r->B, (double)hits, (double)nonfinite,
                       cfg->time_limit_s > 0 && cf_time_now() - r->t0 > cfg->time_limit_s};
        CF_TRY(cf_comm_allreduce_f64(r->comm, r->rank, v, 4));
        loss = v[0];
        hits = (int64_t)v[1];
        nonfinite = v[2] > 0 || !isfinite(loss);
        *late = v[3] > 0;
    }
    if (nonfinite) {
        stop(res, CF_TRAIN_NAN, "loss became %g at epoch %d, step %lld", loss, epoch, (long long)s);
        *done = 1;
        return CF_OK;
    }
    if (loss > cfg->diverge_loss) {
        stop(res, CF_TRAIN_DIVERGED, "loss %.4g above the divergence limit %.4g at epoch %d, step %lld", loss,
             cfg->diverge_loss, epoch, (long long)s);
        *done = 1;
        return CF_OK;
    }
    e->correct += hits;
    CF_TRY(cf_model_backward(m));
    if (r->comm) {
        /* cf_model_loss means over this replica's nb rows; weighted by
         * nb / B and summed, the gradients make the whole batch's mean. */
        if (r->nb != r->B)
            CF_TRY(cf_backend_scale(m->be, m->grad, m->n_params, (float)((double)r->nb / (double)r->B), m->threads));
        const size_t pbytes = m->n_params * sizeof(float);
        if (r->host_grad) { /* a host communicator sums host arrays */
            CF_TRY(cf_backend_copy(m->be, r->host_grad, m->grad, pbytes, CF_COPY_TO_HOST));
            CF_TRY(cf_comm_allreduce_f32(r->comm, r->rank, r->host_grad, m->n_params));
            CF_TRY(cf_backend_copy(m->be, m->grad, r->host_grad, pbytes, CF_COPY_TO_DEVICE));
        } else {
            /* a device communicator reads the gradients once they are written */
            CF_TRY(cf_backend_sync(m->be));
            CF_TRY(cf_comm_allreduce_f32(r->comm, r->rank, m->grad, m->n_params));
        }
    }
    int finite = 1;
    CF_TRY(sgd_step(m, r->dbuf, cfg, e->lr, NULL, &r->scaler, &finite));
    r->res->scale_skips += r->scaler.skip;
    m->host_stale = m->on_device;
    if (!finite) {
        stop(res, CF_TRAIN_NAN, "a gradient became NaN or infinite at epoch %d, step %lld", epoch, (long long)s);
        *done = 1;
        return CF_OK;
    }
    e->loss_sum += loss;
    return CF_OK;
}

/* One step on the device path: queued, and every CHECK_STEPS steps (and at
 * the end of the epoch) the statistics read back. Sets *read when it read
 * them, *done when the trial ends at a bad step found there. */
static cf_status device_run_step(run *r, int epoch, int64_t s, epoch_sums *e, int *done, int *read) {
    cf_model *m = r->m;
    CF_TRY(device_step(m, r->cfg, r->nb, &r->dev, s > 0));
    int finite = 1;
    CF_TRY(sgd_step(m, r->dbuf, r->cfg, e->lr, r->dev.stats, NULL, &finite));
    m->host_stale = m->on_device;
    *read = (s + 1) % CHECK_STEPS == 0 || s + 1 == r->steps;
    if (!*read) return CF_OK;
    cf_step_stats h;
    CF_TRY(cf_backend_copy(m->be, &h, r->dev.stats, sizeof h, CF_COPY_TO_HOST));
    e->loss_sum = h.loss_sum;
    e->correct = (int64_t)h.hits;
    /* the epoch's skips so far: the statistics restart every epoch */
    r->res->scale_skips += h.skipped - r->scaler.skipped;
    r->scaler = h;
    if (h.bad == CF_STEP_OK) return CF_OK;
    *done = 1;
    if (h.bad == CF_STEP_BAD_GRAD)
        stop(r->res, CF_TRAIN_NAN, "a gradient became NaN or infinite at epoch %d, step %d", epoch, h.bad_step);
    else if (h.bad == CF_STEP_DIVERGED)
        stop(r->res, CF_TRAIN_DIVERGED, "loss %.4g above the divergence limit %.4g at epoch %d, step %d",
             h.bad_loss, r->cfg->diverge_loss, epoch, h.bad_step);
    else
        stop(r->res, CF_TRAIN_NAN, "loss became %g at epoch %d, step %d", h.bad_loss, epoch, h.bad_step);
    return CF_OK;
}

/* The epoch's order to the backend; a fresh graph and statistics for the device path. */
static cf_status epoch_begin(run *r, int epoch) {
    cf_model *m = r->m;
    m->drop_path = r->cfg->drop_path * (double)epoch / (double)r->cfg->epochs;
    cf_data_epoch_order(r->train->n, r->cfg->seed, (uint64_t)epoch, r->order);
    CF_TRY(cf_backend_copy(m->be, r->dorder, r->order, r->train->n * sizeof *r->order, CF_COPY_TO_DEVICE));
    if (!r->dev.on) return CF_OK;
    cf_backend_graph_free(m->be, r->dev.graph);
    r->dev.graph = NULL;
    /* fresh sums; the loss scale carries over from the last read */
    cf_step_stats fresh = {0};
    fresh.scale = r->scaler.scale;
    fresh.good = r->scaler.good;
    r->scaler = fresh;
    return cf_backend_copy(m->be, r->dev.stats, &fresh, sizeof fresh, CF_COPY_TO_DEVICE);
}

/* The epoch's record, the evaluation (rank 0) and the epoch_end callback. */
static cf_status epoch_finish(run *r, int epoch, const epoch_sums *e, double te) {
    cf_model *m = r->m;
    const cf_train_config *cfg = r->cfg;
    cf_train_result *res = r->res;
    cf_epoch_record *rec = &res->curve[epoch];
    rec->epoch = epoch;
    rec->train_loss = e->loss_sum / (double)r->steps;
    rec->train_acc = (double)e->correct / (double)e->seen;
    rec->lr = e->lr;
    rec->val_acc = -1;
    /* The other replicas go on to the next step's collective and wait there. */
    if (r->val && r->rank == 0) CF_TRY(cf_evaluate(m, r->val, res->mean, res->std, &rec->val_acc, NULL));
    rec->seconds = cf_time_now() - te;
    res->epochs_done = epoch + 1;
    res->val_acc = rec->val_acc;
    res->loss_scale = r->scaler.scale; /* after the epoch's last read on the device path */
    res->scale_good = r->scaler.good;
    if (cfg->epoch_end && r->rank == 0) {
        res->seconds = r->before + cf_time_now() - r->t0;
        res->images_per_s = r->step_seconds > 0 ? (double)r->images / r->step_seconds : 0;
        CF_TRY(cf_backend_copy(m->be, r->buf, r->dbuf, m->n_params * sizeof *r->buf, CF_COPY_TO_HOST));
        CF_TRY(cf_model_to_host(m));
        CF_TRY(cfg->epoch_end(cfg->epoch_ctx, m, r->buf, res, epoch));
    }
    return CF_OK;
}

/* The epochs; *done when the trial ended before the last (res says why). */
static cf_status run_epochs(run *r, int *done) {
    const cf_train_config *cfg = r->cfg;
    const int e0 = cfg->resume ? cfg->resume->epochs_done : 0;
    for (int epoch = e0; epoch < cfg->epochs; epoch++) {
        const double te = cf_time_now();
        CF_TRY(epoch_begin(r, epoch));
        epoch_sums e = {0, cfg->lr, 0, 0};
        for (int64_t s = 0; s < r->steps; s++) {
            e.lr = lr_at(cfg, (int64_t)epoch * r->steps + s, r->total, r->warm);
            const double ts = cf_time_now();
            CF_TRY(load_batch(r->m, r->train, (const uint32_t *)r->dorder + s * r->B + r->lo, r->nb, r->res->mean,
                              r->res->std, &cfg->augment, cfg->seed, (uint64_t)epoch, (uint64_t)(s * r->B + r->lo)));
            int late = 0, show = 1;
            if (r->dev.on)
                CF_TRY(device_run_step(r, epoch, s, &e, done, &show));
            else
                CF_TRY(host_step(r, epoch, s, &e, done, &late));
            if (*done) return CF_OK;
            e.seen += r->B;
            r->images += r->B;
            const double now = cf_time_now();
            r->step_seconds += now - ts;
            if (show && cfg->progress && r->rank == 0) {
                cf_train_progress p = {epoch, cfg->epochs, s + 1, r->steps, e.loss_sum / (double)(s + 1),
                                       (double)e.correct / (double)e.seen, e.lr, (double)e.seen / (now - te),
                                       r->before + now - r->t0};
                cfg->progress(cfg->progress_ctx, &p);
            }
            if (!r->comm) late = cfg->time_limit_s > 0 && now - r->t0 > cfg->time_limit_s;
            if (late) {
                stop(r->res, CF_TRAIN_TIMEOUT, "time limit of %.0f s reached in epoch %d after %lld of %lld steps",
                     cfg->time_limit_s, epoch, (long long)(s + 1), (long long)r->steps);
                *done = 1;
                return CF_OK;
            }
        }
        CF_TRY(epoch_finish(r, epoch, &e, te));
    }
    return CF_OK;
}

/* The whole trial; cf_train adds the abort that keeps a failing replica's
 * peers from waiting for it. */
static cf_status train_run(cf_model *m, const cf_dataset *train, const cf_dataset *val,
                           const cf_train_config *cfg, cf_train_result *res) {
    if (cfg->resume == res) CF_FAIL(CF_ERR_INVALID_ARG, "train: cfg->resume and res are the same result");
    memset(res, 0, sizeof *res);
    res->val_acc = -1;
    run r = {.m = m, .train = train, .val = val, .cfg = cfg, .res = res, .comm = cfg->comm,
             .rank = cfg->comm ? cfg->rank : 0};
    CF_TRY(train_check(&r));
    cf_status st = run_open(&r);
    int done = 0;
    /* The time limit counts this call; the reported seconds every epoch done. */
    r.t0 = cf_time_now();
    r.before = cfg->resume ? cfg->resume->seconds : 0;
    if (st == CF_OK) st = run_epochs(&r, &done);
    if (st == CF_OK && !done && r.comm) {
        /* Rank 0's last evaluation and epoch_end come after the loop's last
         * collective: without this meeting the other ranks would return CF_OK
         * even when those fail. */
        double meet = 0;
        st = cf_comm_allreduce_f64(r.comm, r.rank, &meet, 1);
    }
    if (st == CF_OK) {
        res->graph_steps = r.dev.replays;
        res->seconds = r.before + cf_time_now() - r.t0;
        res->images_per_s = r.step_seconds > 0 ? (double)r.images / r.step_seconds
                            : cfg->resume ? cfg->resume->images_per_s : 0;
        /* the caller reads the trained weights on the host (checkpoints, export) */
        st = cf_model_to_host(m);
    }
    run_close(&r);
    return st;
}

cf_status cf_train(cf_model *m, const cf_dataset *train, const cf_dataset *val,
                   const cf_train_config *cfg, cf_train_result *res) {
    cf_status st = train_run(m, train, val, cfg, res);
    if (st != CF_OK && cfg->comm) cf_comm_abort(cfg->comm, cfg->rank, st);
    return st;
}
