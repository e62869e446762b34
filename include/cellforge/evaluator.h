/* evaluator.h - what running a trial means, behind one interface.
 *
 * `train` (src/sched/eval_train.c) trains the network on the worker's device;
 * `table:FILE` (src/sched/eval_table.c) looks the result up in a benchmark
 * table and advances a simulated clock by the recorded time, so strategies can
 * be compared over many seeds in seconds. The controller calls open/close once
 * per worker thread and run once per rank of a trial.
 *
 *   cf_evaluator *ev;
 *   CF_TRY(cf_evaluator_table_create("nb201.tsv", space, &ev));
 *   ...cf_search_run(&cfg, space, strategy, ev, workers, n, NULL, NULL, &sum)...
 *   cf_evaluator_destroy(ev);
 */
#ifndef CELLFORGE_EVALUATOR_H
#define CELLFORGE_EVALUATOR_H

#include <stdio.h>
#include "cellforge/data.h"
#include "cellforge/place.h"
#include "cellforge/space.h"
#include "cellforge/train.h"
#include "cellforge/trial.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- evaluators ------------------------------------------------------------- */

/* What one rank of a trial runs with. */
typedef struct cf_trial_task {
    const cf_trial *trial;
    /* The trial's network as the controller built it for the evaluator's
     * input (borrowed; a model copies it). NULL: the evaluator builds it. */
    const cf_net *net;
    const cf_worker_desc *worker;
    int slot;                      /* which of the worker's slots (0 .. worker->slots - 1) runs it */
    int rank, replicas;
    void *comm;                    /* cf_comm * for data-parallel ranks, else NULL */
    double time_limit_s;           /* 0: none */
    /* Where rank 0 keeps the trial's training state after every epoch (weights,
     * BN statistics, momentum, curve), written atomically; when the file exists
     * at the start, training continues after its last epoch instead of from zero.
     * NULL: no checkpoints. */
    const char *checkpoint;
    /* Called by rank 0 on the worker's thread after each epoch (may be NULL). */
    void (*on_epoch)(void *ctx, const cf_trial *t, const cf_epoch_record *r);
    void *epoch_ctx;
    /* Called by rank 0 on the worker's thread when training ended with status
     * ok, or timeout after at least one whole epoch, before the model is freed
     * (may be NULL): m holds the trained weights
     * and statistics, cfg the configuration it trained with, res its record.
     * All borrowed for the call. A failure fails the trial with its message. */
    cf_status (*on_trained)(void *ctx, const cf_trial *t, cf_model *m, const cf_train_config *cfg,
                            const cf_train_result *res);
    void *trained_ctx;
} cf_trial_task;

/* What a rank returns. Rank 0's result is the trial's. */
typedef struct cf_trial_outcome {
    cf_trial_status status;
    char reason[256];
    double val_acc;
    int epochs_done;
    double seconds;                /* wall, or recorded for a table */
    cf_epoch_record *curve;        /* (epochs_done) malloc'd; the controller takes it */
    char metrics[CF_TRIAL_METRICS_MAX]; /* more results as a compact JSON object, or "" */
} cf_trial_outcome;

typedef struct cf_evaluator_ops {
    const char *name;
    int simulated;                 /* results carry recorded seconds, not wall time */
    /* per device, on the worker's thread, before its first trial */
    cf_status (*open)(void *self, const cf_worker_desc *w, void **device_state);
    void (*close)(void *self, void *device_state);
    /* run one rank of a trial; failures of the trial go in *out (CF_OK returned),
     * a returned error means the evaluator itself broke (the search stops);
     * an error with out->status CF_TRIAL_CUT says the trial's worker was lost
     * mid-trial: it is recorded unfinished, so a resume runs it again */
    cf_status (*run)(void *self, void *device_state, const cf_trial_task *task,
                     cf_trial_outcome *out);
    void (*destroy)(void *self);
    /* Optional: the communicator (a cf_comm *) of a data-parallel group over
     * workers w[0..k) of several MPI ranks, on rank 0; the caller destroys it.
     * NULL: groups stay within one process. */
    cf_status (*group_comm)(void *self, const cf_worker_desc *const *w, int k, void **comm);
} cf_evaluator_ops;

typedef struct cf_evaluator {
    const cf_evaluator_ops *ops;
    void *self;
    cf_net_input input;            /* the data's geometry: what networks are built for */
    int with_aux;                  /* the space trains an auxiliary head */
} cf_evaluator;

/* Training on the workers' devices. Borrowed: s, train, val (the split the
 * strategy sees). cfg is copied; cfg->epochs is the default fidelity and each
 * candidate's epochs/fraction override it. */
cf_status cf_evaluator_train_create(const cf_space *s, const cf_dataset *train,
                                    const cf_dataset *val, const cf_train_config *cfg,
                                    cf_evaluator **out);

/* The one-shot method (copied) that trains a supernet's trial (an arch with
 * `supernet` set, oneshot.h) under the train evaluator ev; without it such a
 * trial fails. CF_ERR_INVALID_ARG for another evaluator. */
struct cf_oneshot_config;
cf_status cf_evaluator_train_set_oneshot(cf_evaluator *ev, const struct cf_oneshot_config *cfg);

/* Any program as the trainer (src/sched/eval_cmd.c): `command` runs under
 * /bin/sh -c once per trial with the trial as JSON on stdin and answers with
 * a JSON line {"acc": ...} on stdout; whatever it does wrong fails only its
 * trial. in is the data's geometry (what the cost model counts); dataset, lr
 * and seed are passed on to it. s is borrowed. */
cf_status cf_evaluator_cmd_create(const char *command, const cf_space *s, const cf_net_input *in,
                                  const char *dataset, double lr, uint64_t seed, cf_evaluator **out);

/* What a function evaluator answers. */
enum {
    CF_EVAL_FN_OK = 0,      /* result holds the result line ({"acc": ...}) */
    CF_EVAL_FN_FAILED = 1,  /* result holds why: the trial failed with that reason */
    CF_EVAL_FN_CUT = 2,     /* not run (the caller is stopping): recorded as cut,
                               run again by a resume */
};
/* A function as the trainer: the trial as the cmd evaluator's JSON in
 * trial_json, the answer (at most cap bytes with the NUL) in result. Called
 * on the workers' threads, several calls at once with several workers. */
typedef int (*cf_eval_fn)(void *ctx, const char *trial_json, char *result, size_t cap);
/* The "callback" evaluator over fn (ctx passed back); otherwise as
 * cf_evaluator_cmd_create. */
cf_status cf_evaluator_fn_create(cf_eval_fn fn, void *ctx, const cf_space *s, const cf_net_input *in,
                                 const char *dataset, double lr, uint64_t seed, cf_evaluator **out);

/* A benchmark table (format: docs in src/sched/eval_table.c and the README): rows of
 * (arch, epochs) with validation accuracy and training seconds. A candidate
 * without a row at its fidelity ends as CF_TRIAL_ERROR "not in the table".
 * The file is at most CF_TABLE_MAX_BYTES, each line at most CF_TABLE_LINE_MAX
 * bytes; a larger file, a longer line, a FIFO or a device fails with an error
 * naming the file (and the limit). */
#define CF_TABLE_MAX_BYTES ((size_t)4 << 30)
#define CF_TABLE_LINE_MAX ((size_t)64 << 10)
cf_status cf_evaluator_table_create(const char *path, const cf_space *s, cf_evaluator **out);

/* Refuse a search whose fidelity the table cannot answer, before any trial:
 * no row at `fraction`, or (epochs > 0) none at (epochs, fraction). The
 * message names the table and the values it holds. CF_OK for any other
 * evaluator. */
cf_status cf_evaluator_table_check_fidelity(const cf_evaluator *ev, int epochs, double fraction);

void cf_evaluator_destroy(cf_evaluator *ev); /* NULL is accepted */

/* Write a table (the format cf_evaluator_table_create reads): the metadata and
 * column header once, then one row per finished trial. */
void cf_table_write_header(FILE *f, const cf_space *s, const char *dataset, const cf_net_input *in);
void cf_table_write_row(FILE *f, const cf_trial *t);

#ifdef __cplusplus
}
#endif
#endif
