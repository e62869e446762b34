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
 * clipped first when asked. Returns 0 in *finite when a gradient is not finite.
 * With stats (device steps) the factor and the check are on the device. */
static cf_status sgd_step(cf_model *m, float *buf, const cf_train_config *cfg, double lr,
                          const cf_step_stats *stats, int *finite) {
    double norm2 = 0;
    if (stats) { /* on the device: the factor and the finiteness are there */
        *finite = 1;
        cf_sgd_args a = {m->dparam, m->grad, buf, m->n_params, (float)lr, (float)cfg->momentum,
                         (float)cfg->weight_decay, 1.0f, cfg->nesterov, m->threads, stats};
        return cf_backend_sgd(m->be, &a);
    }
    CF_TRY(cf_backend_norm2(m->be, m->grad, m->n_params, m->threads, &norm2));
    *finite = isfinite(norm2);
    if (!*finite) return CF_OK;
    float clip = 1.0f;
    if (cfg->grad_clip > 0 && sqrt(norm2) > cfg->grad_clip) clip = (float)(cfg->grad_clip / sqrt(norm2));
    cf_sgd_args a = {m->dparam, m->grad, buf, m->n_params, (float)lr, (float)cfg->momentum,
                     (float)cfg->weight_decay, clip, cfg->nesterov, m->threads, NULL};
    return cf_backend_sgd(m->be, &a);
}

/* The batch of images idx[0..n) (backend memory) into the model's input and
 * label slots, on the model's backend. */
static cf_status load_batch(cf_model *m, const cf_dataset *ds, const uint32_t *idx, int n, const float *mean,
                            const float *std, const cf_augment *aug, uint64_t seed, uint64_t epoch, uint64_t pos0) {
    cf_batch_args a = {ds, idx, n, mean, std, aug, seed, epoch, pos0, cf_model_input(m), cf_model_labels(m),
                       m->threads};
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
    if (m->dtype != CF_DTYPE_F32) CF_FAIL(CF_ERR_UNSUPPORTED, "evaluate: f32 models only");
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
 * On a device backend that keeps step statistics (cf_backend_ops.step_stats)
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
    const cf_backend_ops *ops = m->be->ops;
    if (!ops->capture_begin || !ops->capture_end || !ops->graph_launch || !ops->graph_free) return 0;
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
    CF_TRY(cf_model_loss_queue(m, cfg->label_smoothing, &main, &aux));
    cf_step_stats_args a = {cf_model_logits(m), cf_model_labels(m), nb, m->net->input.classes, main, aux,
                            m->aux_weight, cfg->diverge_loss, stats};
    CF_TRY(m->be->ops->step_stats(m->be->ctx, &a));
    CF_TRY(cf_model_backward(m));
    return m->be->ops->step_clip(m->be->ctx, m->grad, m->n_params, cfg->grad_clip, stats);
}

/* One step's work, replayed from this epoch's graph, captured into it, or eager. */
static cf_status device_step(cf_model *m, const cf_train_config *cfg, int nb, device_steps *d, int warm) {
    const cf_backend_ops *ops = m->be->ops;
    if (d->graph) {
        d->replays++;
        return ops->graph_launch(m->be->ctx, d->graph);
    }
    if (!d->graphs || !warm) return device_step_work(m, cfg, nb, d->stats);
    CF_TRY(ops->capture_begin(m->be->ctx));
    cf_status st = device_step_work(m, cfg, nb, d->stats);
    void *graph = NULL;
    cf_status end = ops->capture_end(m->be->ctx, &graph);
    if (st == CF_OK && end == CF_OK) {
        CF_LOG_DEBUG("train: the step of %d images captured as a graph", nb);
        d->graph = graph;
        d->replays++;
        return ops->graph_launch(m->be->ctx, graph);
    }
    /* nothing ran while capturing: the step runs eagerly, and so do the rest */
    ops->graph_free(m->be->ctx, graph);
    CF_LOG_WARN("train: steps run without graphs: %s", cf_error_message());
    d->graphs = 0;
    return device_step_work(m, cfg, nb, d->stats);
}

/* The whole trial; cf_train adds the abort that keeps a failing replica's
 * peers from waiting for it. */
static cf_status train_run(cf_model *m, const cf_dataset *train, const cf_dataset *val,
                           const cf_train_config *cfg, cf_train_result *res) {
    const cf_train_result *resume = cfg->resume;
    if (resume == res) CF_FAIL(CF_ERR_INVALID_ARG, "train: cfg->resume and res are the same result");
    memset(res, 0, sizeof *res);
    res->val_acc = -1;
    const cf_net_input *in = &m->net->input;
    cf_comm *comm = cfg->comm;
    const int replicas = comm ? cf_comm_size(comm) : 1, rank = comm ? cfg->rank : 0;
    if (m->dtype != CF_DTYPE_F32) CF_FAIL(CF_ERR_UNSUPPORTED, "train: f32 models only");
    if (cfg->epochs < 1 || cfg->epochs > CF_TRAIN_MAX_EPOCHS)
        CF_FAIL(CF_ERR_INVALID_ARG, "train: %d epochs (1..%d)", cfg->epochs, CF_TRAIN_MAX_EPOCHS);
    const int B = cfg->batch;
    if (!comm && (B < 1 || B > m->batch))
        CF_FAIL(CF_ERR_INVALID_ARG, "train: batch %d, the model holds 1..%d", B, m->batch);
    if (comm && (rank < 0 || rank >= replicas))
        CF_FAIL(CF_ERR_INVALID_ARG, "train: rank %d of %d replicas", rank, replicas);
    if (comm && B < replicas)
        CF_FAIL(CF_ERR_INVALID_ARG, "train: batch %d over %d replicas leaves a replica without images", B,
                replicas);
    /* This replica's rows of every batch: [lo, lo + nb). */
    const int lo = (int)((int64_t)B * rank / replicas), nb = (int)((int64_t)B * (rank + 1) / replicas) - lo;
    if (comm && nb > m->batch)
        CF_FAIL(CF_ERR_INVALID_ARG, "train: batch %d gives replica %d of %d %d images, the model holds 1..%d",
                B, rank, replicas, nb, m->batch);
    if (train->c != in->c || train->h != in->h || train->w != in->w)
        CF_FAIL(CF_ERR_SHAPE, "%s: images are %dx%dx%d, the network takes %dx%dx%d", train->name,
                train->h, train->w, train->c, in->h, in->w, in->c);
    if (train->classes > in->classes)
        CF_FAIL(CF_ERR_SHAPE, "%s: %d classes, the network has %d outputs", train->name, train->classes,
                in->classes);
    if ((size_t)B > train->n)
        CF_FAIL(CF_ERR_INVALID_ARG, "train: batch %d is larger than %s (%zu images)", B, train->name,
                train->n);
    CF_TRY(norm_stats(train, res->mean, res->std));
    const int e0 = resume ? resume->epochs_done : 0;
    if (resume) {
        if (e0 < 0 || e0 > cfg->epochs)
            CF_FAIL(CF_ERR_INVALID_ARG, "train: resuming after %d epochs of a %d-epoch run", e0, cfg->epochs);
        if (!cfg->resume_momentum) CF_FAIL(CF_ERR_INVALID_ARG, "train: resuming without the momentum buffer");
        for (int c = 0; c < in->c; c++)
            if (resume->mean[c] != res->mean[c] || resume->std[c] != res->std[c])
                CF_FAIL(CF_ERR_INVALID_ARG,
                        "train: the resumed run normalized channel %d with mean %.9g, std %.9g; %s gives "
                        "%.9g, %.9g: not the same training set", c, resume->mean[c], resume->std[c],
                        train->name, res->mean[c], res->std[c]);
    }

    const int K = in->classes;
    const int64_t full = (int64_t)(train->n / (size_t)B); /* whole batches only, as drop_last */
    double frac = cfg->max_epoch_fraction > 0 && cfg->max_epoch_fraction < 1 ? cfg->max_epoch_fraction : 1.0;
    int64_t steps = (int64_t)ceil((double)full * frac);
    if (steps < 1) steps = 1;
    const int64_t total = steps * cfg->epochs, warm = steps * cfg->warmup_epochs;

    /* Host arrays and their backend-memory twins (the same arrays on a host
     * backend): the epoch order, the momentum buffer, and on a device the
     * gradients' host copy that a host communicator sums. */
    const size_t pbytes = (m->n_params ? m->n_params : 1) * sizeof(float);
    float *logits = malloc((size_t)nb * (size_t)K * sizeof *logits);
    uint32_t *order = malloc(train->n * sizeof *order);
    float *buf = calloc(m->n_params ? m->n_params : 1, sizeof *buf);
    const int staged = comm && m->on_device && !cf_comm_device_f32(comm);
    if (comm && cf_comm_device_f32(comm) && !m->on_device)
        CF_FAIL(CF_ERR_INVALID_ARG, "train: a GPU communicator (%s) for a model in host memory", comm->ops->name);
    float *host_grad = staged ? malloc(pbytes) : NULL;
    void *dorder = NULL, *dbuf = NULL;
    device_steps dev = {0};
    cf_status st = CF_OK;
    if (!logits || !order || !buf || (staged && !host_grad)) {
        st = cf_error_set(CF_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, "train: no memory for batch buffers");
        goto exit;
    }
    CF_TRY_GOTO(st, device_twin(m, order, train->n * sizeof *order, &dorder), exit);
    CF_TRY_GOTO(st, device_twin(m, buf, pbytes, &dbuf), exit);
    m->aux_weight = cfg->aux_weight;
    /* Independent drop-path masks per replica: with one stream, row k of
     * every shard would share its mask. */
    m->seed = cfg->seed + 0x9E3779B97F4A7C15ull * (uint64_t)rank;
    if (resume) {
        memcpy(res->curve, resume->curve, (size_t)e0 * sizeof *res->curve);
        /* Only rank 0 evaluates: the others' records say so, as if they had never stopped. */
        if (rank != 0)
            for (int e = 0; e < e0; e++) res->curve[e].val_acc = -1;
        res->epochs_done = e0;
        if (e0 > 0) res->val_acc = res->curve[e0 - 1].val_acc;
        memcpy(buf, cfg->resume_momentum, m->n_params * sizeof *buf);
        CF_TRY_GOTO(st, cf_backend_copy(m->be, dbuf, buf, m->n_params * sizeof *buf, CF_COPY_TO_DEVICE), exit);
    }
    CF_TRY_GOTO(st, cf_model_to_device(m), exit);
    if (!comm && m->on_device && m->be->ops->step_stats && m->be->ops->step_clip) {
        CF_TRY_GOTO(st, cf_backend_alloc(m->be, sizeof *dev.stats, (void **)&dev.stats), exit);
        dev.on = 1;
        dev.graphs = graphs_wanted(m, cfg);
    }
    /* The time limit counts this call; the reported seconds every epoch done. */
    const double t0 = cf_time_now(), before = resume ? resume->seconds : 0;
    int64_t images = 0;
    double step_seconds = 0;
    for (int epoch = e0; epoch < cfg->epochs; epoch++) {
        const double te = cf_time_now();
        m->drop_path = cfg->drop_path * (double)epoch / (double)cfg->epochs;
        cf_data_epoch_order(train->n, cfg->seed, (uint64_t)epoch, order);
        CF_TRY_GOTO(st, cf_backend_copy(m->be, dorder, order, train->n * sizeof *order, CF_COPY_TO_DEVICE), exit);
        double loss_sum = 0;
        int64_t correct = 0, seen = 0;
        double lr = cfg->lr;
        if (dev.on) {
            if (dev.graph) m->be->ops->graph_free(m->be->ctx, dev.graph);
            dev.graph = NULL;
            CF_TRY_GOTO(st, cf_backend_zero(m->be, dev.stats, sizeof *dev.stats, 1), exit);
        }
        for (int64_t s = 0; s < steps; s++) {
            int64_t t = (int64_t)epoch * steps + s;
            lr = lr_at(cfg, t, total, warm);
            const double ts = cf_time_now();
            const uint32_t *rows = order + s * B + lo;
            CF_TRY_GOTO(st, load_batch(m, train, (const uint32_t *)dorder + s * B + lo, nb, res->mean, res->std,
                                       &cfg->augment, cfg->seed, (uint64_t)epoch, (uint64_t)(s * B + lo)), exit);
            if (dev.on) {
                CF_TRY_GOTO(st, device_step(m, cfg, nb, &dev, s > 0), exit);
                int finite = 1;
                CF_TRY_GOTO(st, sgd_step(m, dbuf, cfg, lr, dev.stats, &finite), exit);
                m->host_stale = m->on_device;
                double now = cf_time_now();
                const int check = (s + 1) % CHECK_STEPS == 0 || s + 1 == steps;
                if (check) {
                    cf_step_stats h;
                    CF_TRY_GOTO(st, cf_backend_copy(m->be, &h, dev.stats, sizeof h, CF_COPY_TO_HOST), exit);
                    now = cf_time_now();
                    loss_sum = h.loss_sum;
                    correct = (int64_t)h.hits;
                    if (h.bad != CF_STEP_OK) {
                        res->status = h.bad == CF_STEP_DIVERGED ? CF_TRAIN_DIVERGED : CF_TRAIN_NAN;
                        if (h.bad == CF_STEP_BAD_GRAD)
                            snprintf(res->reason, sizeof res->reason,
                                     "a gradient became NaN or infinite at epoch %d, step %d", epoch, h.bad_step);
                        else if (h.bad == CF_STEP_DIVERGED)
                            snprintf(res->reason, sizeof res->reason,
                                     "loss %.4g above the divergence limit %.4g at epoch %d, step %d", h.bad_loss,
                                     cfg->diverge_loss, epoch, h.bad_step);
                        else
                            snprintf(res->reason, sizeof res->reason, "loss became %g at epoch %d, step %d",
                                     h.bad_loss, epoch, h.bad_step);
                        step_seconds += now - ts;
                        goto finish;
                    }
                }
                seen += B;
                images += B;
                step_seconds += now - ts;
                if (check && cfg->progress) {
                    cf_train_progress p = {epoch, cfg->epochs, s + 1, steps, loss_sum / (double)(s + 1),
                                           (double)correct / (double)seen, lr, (double)seen / (now - te),
                                           before + now - t0};
                    cfg->progress(cfg->progress_ctx, &p);
                }
                if (cfg->time_limit_s > 0 && now - t0 > cfg->time_limit_s) {
                    res->status = CF_TRAIN_TIMEOUT;
                    snprintf(res->reason, sizeof res->reason,
                             "time limit of %.0f s reached in epoch %d after %lld of %lld steps",
                             cfg->time_limit_s, epoch, (long long)(s + 1), (long long)steps);
                    goto finish;
                }
                continue;
            }
            double loss;
            CF_TRY_GOTO(st, cf_model_forward(m, NULL, nb, 1), exit);
            CF_TRY_GOTO(st, cf_model_loss(m, NULL, cfg->label_smoothing, &loss), exit);
            CF_TRY_GOTO(st, cf_model_logits_host(m, logits), exit);
            int64_t hits = 0;
            for (int k = 0; k < nb; k++) hits += argmax(logits + (size_t)k * K, K) == train->labels[rows[k]];
            int nonfinite = !isfinite(loss), out_of_time = 0;
            if (comm) {
                /* The whole batch's mean loss and hits, and whether any replica
                 * saw a non-finite loss or passed the time limit: every replica
                 * decides from the same values and takes the same path. */
                double v[4] = {loss * (double)nb / (double)B, (double)hits, (double)nonfinite,
                               cfg->time_limit_s > 0 && cf_time_now() - t0 > cfg->time_limit_s};
                CF_TRY_GOTO(st, cf_comm_allreduce_f64(comm, rank, v, 4), exit);
                loss = v[0];
                hits = (int64_t)v[1];
                nonfinite = v[2] > 0 || !isfinite(loss);
                out_of_time = v[3] > 0;
            }
            if (nonfinite) {
                res->status = CF_TRAIN_NAN;
                snprintf(res->reason, sizeof res->reason, "loss became %g at epoch %d, step %lld", loss,
                         epoch, (long long)s);
                goto finish;
            }
            if (loss > cfg->diverge_loss) {
                res->status = CF_TRAIN_DIVERGED;
                snprintf(res->reason, sizeof res->reason,
                         "loss %.4g above the divergence limit %.4g at epoch %d, step %lld", loss,
                         cfg->diverge_loss, epoch, (long long)s);
                goto finish;
            }
            correct += hits;
            CF_TRY_GOTO(st, cf_model_backward(m), exit);
            if (comm) {
                /* cf_model_loss means over this replica's nb rows; weighted by
                 * nb / B and summed, the gradients make the whole batch's mean. */
                if (nb != B)
                    CF_TRY_GOTO(st, cf_backend_scale(m->be, m->grad, m->n_params, (float)((double)nb / (double)B),
                                                     m->threads), exit);
                if (host_grad) { /* a host communicator sums host arrays */
                    CF_TRY_GOTO(st, cf_backend_copy(m->be, host_grad, m->grad, pbytes, CF_COPY_TO_HOST), exit);
                    CF_TRY_GOTO(st, cf_comm_allreduce_f32(comm, rank, host_grad, m->n_params), exit);
                    CF_TRY_GOTO(st, cf_backend_copy(m->be, m->grad, host_grad, pbytes, CF_COPY_TO_DEVICE), exit);
                } else {
                    /* a device communicator reads the gradients once they are written */
                    CF_TRY_GOTO(st, cf_backend_sync(m->be), exit);
                    CF_TRY_GOTO(st, cf_comm_allreduce_f32(comm, rank, m->grad, m->n_params), exit);
                }
            }
            int finite = 1;
            CF_TRY_GOTO(st, sgd_step(m, dbuf, cfg, lr, NULL, &finite), exit);
            m->host_stale = m->on_device;
            if (!finite) {
                res->status = CF_TRAIN_NAN;
                snprintf(res->reason, sizeof res->reason, "a gradient became NaN or infinite at epoch %d, step %lld",
                         epoch, (long long)s);
                goto finish;
            }
            loss_sum += loss;
            seen += B;
            images += B;
            double now = cf_time_now();
            step_seconds += now - ts;
            if (cfg->progress && rank == 0) {
                cf_train_progress p = {epoch, cfg->epochs, s + 1, steps, loss_sum / (double)(s + 1),
                                       (double)correct / (double)seen, lr, (double)seen / (now - te),
                                       before + now - t0};
                cfg->progress(cfg->progress_ctx, &p);
            }
            if (!comm) out_of_time = cfg->time_limit_s > 0 && now - t0 > cfg->time_limit_s;
            if (out_of_time) {
                res->status = CF_TRAIN_TIMEOUT;
                snprintf(res->reason, sizeof res->reason,
                         "time limit of %.0f s reached in epoch %d after %lld of %lld steps",
                         cfg->time_limit_s, epoch, (long long)(s + 1), (long long)steps);
                goto finish;
            }
        }
        cf_epoch_record *r = &res->curve[epoch];
        r->epoch = epoch;
        r->train_loss = loss_sum / (double)steps;
        r->train_acc = (double)correct / (double)seen;
        r->lr = lr;
        r->val_acc = -1;
        /* The other replicas go on to the next step's collective and wait there. */
        if (val && rank == 0)
            CF_TRY_GOTO(st, cf_evaluate(m, val, res->mean, res->std, &r->val_acc, NULL), exit);
        r->seconds = cf_time_now() - te;
        res->epochs_done = epoch + 1;
        res->val_acc = r->val_acc;
        if (cfg->epoch_end && rank == 0) {
            res->seconds = before + cf_time_now() - t0;
            res->images_per_s = step_seconds > 0 ? (double)images / step_seconds : 0;
            CF_TRY_GOTO(st, cf_backend_copy(m->be, buf, dbuf, m->n_params * sizeof *buf, CF_COPY_TO_HOST), exit);
            CF_TRY_GOTO(st, cf_model_to_host(m), exit);
            CF_TRY_GOTO(st, cfg->epoch_end(cfg->epoch_ctx, m, buf, res, epoch), exit);
        }
    }
    if (comm) {
        /* Rank 0's last evaluation and epoch_end come after the loop's last
         * collective: without this meeting the other ranks would return CF_OK
         * even when those fail. */
        double meet = 0;
        CF_TRY_GOTO(st, cf_comm_allreduce_f64(comm, rank, &meet, 1), exit);
    }
finish:
    res->graph_steps = dev.replays;
    res->seconds = before + cf_time_now() - t0;
    res->images_per_s = step_seconds > 0 ? (double)images / step_seconds : resume ? resume->images_per_s : 0;
    /* the caller reads the trained weights on the host (checkpoints, export) */
    CF_TRY_GOTO(st, cf_model_to_host(m), exit);
exit:
    /* a replay still running after a failure mid-epoch is freed by CUDA on completion */
    if (dev.graph) m->be->ops->graph_free(m->be->ctx, dev.graph);
    if (dev.stats) cf_backend_free(m->be, dev.stats);
    device_twin_free(m, order, dorder);
    device_twin_free(m, buf, dbuf);
    free(logits);
    free(order);
    free(buf);
    free(host_grad);
    return st;
}

cf_status cf_train(cf_model *m, const cf_dataset *train, const cf_dataset *val,
                   const cf_train_config *cfg, cf_train_result *res) {
    cf_status st = train_run(m, train, val, cfg, res);
    if (st != CF_OK && cfg->comm) cf_comm_abort(cfg->comm, cfg->rank, st);
    return st;
}
