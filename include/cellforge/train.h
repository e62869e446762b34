/* train.h - training and evaluating one network on a dataset.
 *
 * SGD with momentum (optionally Nesterov) and weight decay, a cosine learning
 * rate with optional linear warmup, label smoothing, gradient clipping by the
 * global norm, per-epoch learning curve, evaluation on a held-out split, and a
 * trial that ends with a status and a reason (NaN or diverging loss, time
 * limit) instead of a crash. No globals: two trainers may run at once, each
 * with its own model and backend.
 *
 *   cf_train_config cfg;
 *   cf_train_config_default(&cfg);
 *   cfg.epochs = 10;
 *   cf_train_result res;
 *   CF_TRY(cf_train(model, train_set, val_set, &cfg, &res));
 *   if (res.status != CF_TRAIN_OK) printf("stopped: %s\n", res.reason);
 *
 * Data-parallel training over K replicas in one process: K threads, each with
 * its own model (the same network, initialized with the same seed) and its own
 * backend, call cf_train with the same config except for `rank`:
 *
 *   cfg.comm = comm;          // cf_comm_cpu_create(K, &comm), shared by all K
 *   cfg.rank = r;             // on the thread of replica r
 *   CF_TRY(cf_train(model_r, train_set, r == 0 ? val_set : NULL, &cfg, &res_r));
 *
 * Resuming an interrupted run: epoch_end hands rank 0 the state after every
 * epoch (cf_trainstate_save in checkpoint.h writes it to a file); a later call
 * on a model with that state restored continues after the last saved epoch and
 * ends exactly as the uninterrupted run would have (same thread count):
 *
 *   cf_train_result *done = ...;  float *momentum = ...;  // m->n_params floats
 *   CF_TRY(cf_trainstate_load(path, space, arch_text, &cfg, m, momentum, done));
 *   cfg.resume = done;
 *   cfg.resume_momentum = momentum;
 *   CF_TRY(cf_train(m, train_set, val_set, &cfg, &res));  // res->curve: every epoch
 */
#ifndef CELLFORGE_TRAIN_H
#define CELLFORGE_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "cellforge/comm.h"
#include "cellforge/data.h"
#include "cellforge/model.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CF_TRAIN_MAX_EPOCHS 1024

typedef struct cf_train_progress {
    int epoch, epochs;        /* 0-based epoch, total */
    int64_t step, steps;      /* steps done in this epoch, steps per epoch */
    double loss, acc;         /* running means over the epoch so far */
    double lr;
    double images_per_s;      /* over the epoch so far */
    double elapsed_s;         /* since training started (restored epochs included) */
} cf_train_progress;

typedef enum cf_train_status {
    CF_TRAIN_OK = 0,
    CF_TRAIN_NAN,             /* a loss or gradient became NaN or infinite */
    CF_TRAIN_DIVERGED,        /* the loss rose above diverge_loss */
    CF_TRAIN_TIMEOUT,         /* time_limit_s passed; the curve holds the epochs done */
} cf_train_status;

const char *cf_train_status_name(cf_train_status s);

typedef struct cf_epoch_record {
    int epoch;
    double train_loss, train_acc; /* means over the epoch's batches */
    double val_acc;               /* -1 without a validation set */
    double lr;                    /* at the end of the epoch */
    double seconds;               /* wall time of the epoch, evaluation included */
} cf_epoch_record;

typedef struct cf_train_result {
    cf_train_status status;
    char reason[256];
    int epochs_done;
    cf_epoch_record curve[CF_TRAIN_MAX_EPOCHS];
    double val_acc;               /* after the last epoch, -1 without a validation set */
    double images_per_s;          /* training images per second: batch assembly, forward,
                                     backward and update (evaluation excluded) */
    double seconds;
    float mean[4], std[4];        /* the normalization used (from the training set) */
    int64_t graph_steps;          /* steps of this call replayed from a captured CUDA graph */
    int64_t scale_skips;          /* fp16: steps of this call skipped because the scaled
                                     gradients overflowed (the loss scale was halved) */
    float loss_scale;             /* fp16: the loss scale after the epochs done, and the */
    int32_t scale_good;           /*   good steps since it last changed; 0 otherwise. A
                                     resumed run goes on from them. */
} cf_train_result;

typedef struct cf_train_config {
    int epochs;               /* 10 */
    int batch;                /* 256 */
    double lr;                /* peak learning rate, 0.1 */
    double lr_min;            /* end of the cosine, 0 */
    int warmup_epochs;        /* linear warmup from lr/steps over these epochs, 0 */
    double momentum;          /* 0.9 */
    int nesterov;             /* 1 */
    double weight_decay;      /* 5e-4 on every parameter, as NAS-Bench-201 trains */
    double label_smoothing;   /* 0 */
    double grad_clip;         /* clip the global gradient norm to this; 0: off */
    double drop_path;         /* DARTS drop-path probability (ramped linearly over epochs); 0 */
    double aux_weight;        /* weight of the auxiliary head's loss, 0.4 */
    cf_augment augment;       /* off by default */
    double time_limit_s;      /* stop with CF_TRAIN_TIMEOUT past this; 0: none */
    double diverge_loss;      /* a loss above this ends the trial as diverged, 1e4 */
    uint64_t seed;            /* data order, augmentation, drop-path; 0 */
    double max_epoch_fraction;/* train on this fraction of each epoch's batches (fidelity), 1 */
    /* The model's activations: CF_DTYPE_F32 (0, the default), or mixed
       precision in CF_DTYPE_BF16 or CF_DTYPE_F16 (f32 weights, gradients,
       BN statistics and loss; fp16 with dynamic loss scaling, backend.h's
       CF_LOSS_SCALE_*). The caller creates the model in it
       (cf_model_create_dtype); cf_train checks that it did. */
    cf_dtype precision;
    double loss_scale;        /* fp16: the first loss scale; 0: CF_LOSS_SCALE_INIT (2^16) */
    /* called after every step and at the end of every epoch (may be NULL); with
       comm set, on rank 0 only */
    void (*progress)(void *ctx, const cf_train_progress *p);
    void *progress_ctx;
    cf_comm *comm;            /* borrowed; NULL: one replica (see cf_train) */
    int rank;                 /* this replica, 0..size-1 of comm; 0 without comm */
    /* Called after every completed epoch, its evaluation included (may be
       NULL); with comm set, on rank 0 only. res_so_far holds the epochs done
       (epochs_done = epoch + 1) and the seconds so far; momentum is the
       optimizer's buffer (m->n_params floats). All three are borrowed for the
       call: together with m->step they are what a resumed run needs. A
       failure ends cf_train with that status, on every rank. */
    cf_status (*epoch_end)(void *ctx, const cf_model *m, const float *momentum,
                           const cf_train_result *res_so_far, int epoch);
    void *epoch_ctx;
    /* Continue a run after its first resume->epochs_done epochs (0..epochs)
       instead of starting at epoch 0; NULL: from the start. Borrowed: the
       curve, val_acc, seconds and normalization of the epochs done, and
       resume_momentum (m->n_params floats), the momentum buffer after them.
       The caller restores m's weights, BN statistics and m->step as they were
       at that point (cf_trainstate_load does all of it). resume may not be
       the res of the call. */
    const cf_train_result *resume;
    const float *resume_momentum;
} cf_train_config;

void cf_train_config_default(cf_train_config *cfg);

/* Train m (created with a batch of at least cfg->batch) on `train`, evaluating
 * on `val` (may be NULL) after each epoch. Normalization statistics come from
 * `train`. Returns CF_OK with res->status saying how the trial ended; a
 * cf_status failure only for bad arguments, a backend error or a failing
 * epoch_end.
 *
 * With cfg->resume, training starts at epoch e = resume->epochs_done: the data
 * order and augmentation are keyed by (seed, epoch, position), the learning
 * rate by the global step and drop-path masks by m->step, so with the state
 * restored the run goes on bit for bit as if it had never stopped. res->curve
 * holds all epochs, the restored ones first; res->seconds and the progress's
 * elapsed_s count the restored seconds too, while the time limit and
 * images_per_s count this call only (images_per_s is the restored one when
 * no epoch was left). The restored normalization must be the one `train`
 * gives (else CF_ERR_INVALID_ARG: a different training set).
 *
 * With cfg->comm of K ranks, the call is one replica of a data-parallel run
 * and every rank must make it (see the example at the top):
 *  - cfg->batch B stays the global batch, and the data order, the seed and
 *    the augmentation are those of the single-replica run. Rank r takes rows
 *    [B*r/K, B*(r+1)/K) of each batch, the same images with the same
 *    augmentation draws that a single replica would have at those rows, so m
 *    need only hold that shard (B >= K, so that no shard is empty).
 *  - Each rank's gradient is weighted by its share of the batch and summed
 *    over the ranks, giving the full batch's mean gradient; every rank then
 *    applies the same update (clipping uses that gradient's norm), so the
 *    weights stay identical on every rank. Without batch norm and drop-path
 *    they are those of the single-replica run up to float summation order.
 *  - The loss, the accuracy count, non-finite losses and the time limit are
 *    summed over the ranks once per step, so every rank ends the trial the
 *    same way at the same step, and the curve's train_loss and train_acc are
 *    those of the whole batch on every rank.
 *  - Batch-norm statistics are per replica: in training each rank normalizes
 *    with its own shard's batch statistics and keeps its own running
 *    statistics (PyTorch's DistributedDataParallel without SyncBatchNorm).
 *  - Drop-path masks are drawn per replica from independent streams (rank 0
 *    keeps the single-replica stream), so a run with drop_path is not the
 *    single-replica run.
 *  - Only rank 0 evaluates on `val` (the other ranks wait for it at the next
 *    step) and only rank 0 calls progress: rank 0's result is the trial's.
 *    Other ranks give NULL for val or have it ignored; their val_acc is -1.
 *  - images_per_s counts the whole global batch.
 *  - To resume, every rank restores the same state (rank 0's save): the same
 *    weights, momentum, step and curve. The other ranks' BN running statistics
 *    become rank 0's, which changes nothing, since they are only read in
 *    evaluation and only rank 0 evaluates.
 *  - When a rank fails with a cf_status it aborts comm, and the other ranks
 *    return that status too instead of waiting; comm is then unusable. The
 *    ranks meet once more after the last epoch, so that a failure in rank 0's
 *    last evaluation or epoch_end reaches them as well. */
cf_status cf_train(cf_model *m, const cf_dataset *train, const cf_dataset *val,
                   const cf_train_config *cfg, cf_train_result *res);

/* Accuracy of m on ds in inference mode, normalized with mean/std. When
 * confusion is not NULL it receives classes x classes counts (true row,
 * predicted column). */
cf_status cf_evaluate(cf_model *m, const cf_dataset *ds, const float *mean, const float *std,
                      double *accuracy, int64_t *confusion);

/* cf_evaluate, also writing every image's logits in ds's order into
 * logits (ds->n x classes floats, borrowed; NULL: none). */
cf_status cf_evaluate_logits(cf_model *m, const cf_dataset *ds, const float *mean, const float *std,
                             double *accuracy, int64_t *confusion, float *logits);

#ifdef __cplusplus
}
#endif
#endif
