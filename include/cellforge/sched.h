/* sched.h - the controller and the multi-device scheduler.
 *
 * A search runs as one controller and one worker per device. The controller
 * asks the strategy for candidates, rejects those that break a hard constraint
 * with the exact cost model, places the rest on workers by their planned
 * memory (several trials on a device while they fit, data-parallel over
 * several devices when one is too small or the run asks for it), and tells the
 * strategy each result as it arrives. A trial that runs out of memory is
 * retried with a smaller batch or on a device with more room; a trial that
 * fails for any reason is recorded and the search goes on.
 *
 * Workers come from `--devices auto|cpu|cuda:0,1,...` and `--cpu-workers K`
 * (the CPU split into K workers, threads divided among them), so every
 * scheduling path also runs on a machine without a GPU.
 *
 * Evaluators (what "running a trial" means) sit behind one interface: `train`
 * trains the network on the worker's device; `table:FILE` looks the result up
 * in a benchmark table and advances a simulated clock by the recorded time,
 * so strategies can be compared over many seeds in seconds.
 *
 *   cf_worker_desc w[CF_MAX_WORKERS];
 *   int n;
 *   CF_TRY(cf_workers_plan("auto", 2, 0, &report, w, &n));
 *   cf_evaluator *ev;
 *   CF_TRY(cf_evaluator_table_create("nb201.tsv", space, &ev));
 *   cf_search_config cfg;
 *   cf_search_config_default(&cfg);
 *   cfg.max_trials = 100;
 *   cf_search_summary sum;
 *   CF_TRY(cf_search_run(&cfg, space, strategy, ev, w, n, NULL, NULL, &sum));
 */
#ifndef CELLFORGE_SCHED_H
#define CELLFORGE_SCHED_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cellforge/cost.h"
#include "cellforge/data.h"
#include "cellforge/device.h"
#include "cellforge/journal.h"
#include "cellforge/search.h"
#include "cellforge/space.h"
#include "cellforge/train.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CF_MAX_WORKERS 32

/* ---- workers ---------------------------------------------------------------- */

typedef enum cf_worker_kind { CF_WORKER_CPU = 0, CF_WORKER_CUDA } cf_worker_kind;

/* One device as placement sees it. */
typedef struct cf_worker_desc {
    cf_worker_kind kind;
    int index;             /* GPU ordinal, or the CPU worker's number */
    char name[24];         /* "cpu:0", "cuda:1" */
    int threads;           /* CPU threads of this worker */
    size_t memory;         /* bytes trials may plan on this device */
    int slots;             /* trials that may run on it at once */
} cf_worker_desc;

/* Workers for a device list: "auto" (every usable GPU, else the CPU), "cpu", or
 * "cuda:0,1". The CPU becomes cpu_workers workers (0: one) sharing `threads`
 * threads (0: every core), each with an equal share of cpu_memory bytes (0: half
 * of the machine's RAM). A device that is named but absent or unusable fails
 * with a message naming it. */
cf_status cf_workers_plan(const char *devices, int cpu_workers, int threads, size_t cpu_memory,
                          const cf_device_report *report, cf_worker_desc *out, int *n);

/* 1 when this build trains on GPUs (the CUDA training backend is built in). */
int cf_sched_gpu_training(void);

/* ---- placement (pure; tested with described devices) ------------------------ */

/* A worker's load at the moment of a decision. */
typedef struct cf_place_load {
    size_t used;           /* bytes planned by the trials running on it */
    int running;           /* trials (or data-parallel ranks) running on it */
} cf_place_load;

typedef enum cf_place_verdict {
    CF_PLACE_OK = 0,       /* run now on workers[0..count) */
    CF_PLACE_WAIT,         /* fits once running trials finish */
    CF_PLACE_NEVER,        /* does not fit these devices even when idle */
} cf_place_verdict;

typedef struct cf_place {
    cf_place_verdict verdict;
    int count;             /* replicas: 1, or the data-parallel group size */
    int workers[CF_MAX_WORKERS];
} cf_place;

/* Decide where a trial runs. need[k] is the bytes one replica needs when the
 * trial runs on k replicas (k = 1..n; need[0] unused). replicas: 0 lets
 * placement choose (one device when it fits, else the smallest data-parallel
 * group of one kind whose members fit); k > 1 asks for exactly k.
 * Among devices that fit, the least busy wins, then the tightest fit (so large
 * holes stay free for large trials), then the lowest index. */
cf_place cf_place_decide(const cf_worker_desc *w, const cf_place_load *load, int n,
                         const size_t *need, int replicas);

/* Bytes a trial needs on one device, from the network's memory plan: weights,
 * gradients and momentum, batch-norm state, the activation arena at the batch
 * (the replica's shard), the input batch, and the backend's workspace. */
size_t cf_trial_memory(const cf_net *net, int batch, int with_aux);
/* The same with the activation arena at this batch already known (e.g. the
 * cost model's activation_bytes), which saves planning it again. */
size_t cf_trial_memory_act(const cf_net *net, int batch, int with_aux, size_t activation_bytes);

/* ---- trials ----------------------------------------------------------------- */

typedef enum cf_trial_status {
    CF_TRIAL_PENDING = 0,
    CF_TRIAL_RUNNING,
    CF_TRIAL_OK,
    CF_TRIAL_NAN,          /* loss or gradient not finite */
    CF_TRIAL_DIVERGED,
    CF_TRIAL_TIMEOUT,      /* hit its time limit; the curve holds what it learned */
    CF_TRIAL_OOM,          /* out of memory after every retry */
    CF_TRIAL_ERROR,        /* any other failure, with its message */
    CF_TRIAL_REJECTED,     /* broke a hard constraint; never dispatched */
} cf_trial_status;

const char *cf_trial_status_name(cf_trial_status s);

/* One trial as the controller records it. */
typedef struct cf_trial {
    int64_t id;
    cf_candidate cand;
    char arch[CF_ARCH_TEXT_MAX];   /* the candidate in its space's text form */
    cf_cost cost;                  /* at the trial's batch */
    double latency_ms;             /* measured inference latency of one image on the CPU, when
                                      the run asks for it (objective or limit); -1 otherwise */
    size_t memory;                 /* planned bytes per replica */
    int batch;                     /* global batch it ran with (smaller after OOM) */
    int replicas;
    int workers[CF_MAX_WORKERS];   /* where it ran, `replicas` entries */
    int attempts;                  /* 1 + retries */
    cf_trial_status status;
    char reason[256];
    double val_acc;                /* -1 when not trained */
    int epochs_done;
    double train_seconds;          /* training time (recorded time with a table) */
    double start, end;             /* run clock, seconds since the search began
                                      (simulated with a table evaluator) */
    cf_epoch_record *curve;        /* (epochs_done) owned by the controller */
} cf_trial;

/* ---- evaluators ------------------------------------------------------------- */

/* What one rank of a trial runs with. */
typedef struct cf_trial_task {
    const cf_trial *trial;
    const cf_worker_desc *worker;
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
     * ok, before the model is freed (may be NULL): m holds the trained weights
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
} cf_trial_outcome;

typedef struct cf_evaluator_ops {
    const char *name;
    int simulated;                 /* results carry recorded seconds, not wall time */
    /* per device, on the worker's thread, before its first trial */
    cf_status (*open)(void *self, const cf_worker_desc *w, void **device_state);
    void (*close)(void *self, void *device_state);
    /* run one rank of a trial; failures of the trial go in *out (CF_OK returned),
     * a returned error means the evaluator itself broke */
    cf_status (*run)(void *self, void *device_state, const cf_trial_task *task,
                     cf_trial_outcome *out);
    void (*destroy)(void *self);
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

/* A benchmark table (format: docs in src/sched/table.c and the README): rows of
 * (arch, epochs) with validation accuracy and training seconds. A candidate
 * without a row at its fidelity ends as CF_TRIAL_ERROR "not in the table". */
cf_status cf_evaluator_table_create(const char *path, const cf_space *s, cf_evaluator **out);

void cf_evaluator_destroy(cf_evaluator *ev); /* NULL is accepted */

/* Write a table (the format cf_evaluator_table_create reads): the metadata and
 * column header once, then one row per finished trial. */
void cf_table_write_header(FILE *f, const cf_space *s, const char *dataset, const cf_net_input *in);
void cf_table_write_row(FILE *f, const cf_trial *t);

/* ---- the search loop -------------------------------------------------------- */

typedef enum cf_constraint_kind {
    CF_LIMIT_MACS = 0, CF_LIMIT_PARAMS, CF_LIMIT_MEMORY,
    CF_LIMIT_LATENCY,              /* measured inference latency, in microseconds */
    CF_LIMIT_COUNT
} cf_constraint_kind;

typedef struct cf_search_config {
    int64_t max_trials;            /* stop proposing after this many dispatched; 0: none */
    double time_budget_s;          /* run clock budget (simulated with a table); 0: none */
    int epochs;                    /* default fidelity: epochs ... */
    double fraction;               /* ... and share of each epoch's batches (0 means 1) */
    int batch;                     /* global batch of a trial, 256 */
    int min_batch;                 /* out-of-memory retries halve the batch down to this, 16 */
    int oom_retries;               /* at most this many retries after an out of memory, 3 */
    int replicas;                  /* 0: placement decides; k > 1: every trial data-parallel */
    int64_t limit[CF_LIMIT_COUNT]; /* hard constraints; 0: none */
    int objectives[CF_MAX_OBJECTIVES]; /* objectives after accuracy: CF_LIMIT_MACS, ... */
    int latency_reps;              /* forward passes per latency measurement, 20 */
    int n_objectives;              /* 1 + extra objectives */
    int max_rejects;               /* consecutive rejected proposals before giving up, 10000 */
    uint64_t seed;
} cf_search_config;

void cf_search_config_default(cf_search_config *cfg);

/* Objective k of a trial as strategies are told it (minimized): 0 is the
 * validation error, k >= 1 the run's cfg->objectives[k]. */
double cf_trial_objective(const cf_search_config *cfg, const cf_trial *t, int k);

typedef enum cf_search_event_kind {
    CF_EVENT_PROPOSED = 0,         /* the strategy proposed the trial (an ask) */
    CF_EVENT_STARTED,              /* dispatched to t->workers (again after a retry) */
    CF_EVENT_RETRY,                /* out of memory: back in the queue with t->batch */
    CF_EVENT_FINISHED,             /* ended with t->status (a tell) */
    CF_EVENT_REJECTED,             /* broke a hard constraint (a tell) */
} cf_search_event_kind;

/* What the caller hears of a search. Every member may be NULL. */
typedef struct cf_search_hooks {
    /* On the controller's thread for each event, in the order they happen; the
     * trial is borrowed for the call and clock is the run clock. Returning
     * nonzero stops the search gracefully: nothing new is dispatched, running
     * trials finish. */
    int (*on_event)(void *ctx, cf_search_event_kind kind, const cf_trial *t, double clock);
    /* On a worker's thread after each epoch of a trained trial (rank 0). */
    void (*on_epoch)(void *ctx, const cf_trial *t, const cf_epoch_record *r);
    void *ctx;
    /* A directory for trials' training state: DIR/ID/train.cfs after every epoch,
     * so a resumed trial continues from its last epoch. NULL: none. */
    const char *state_dir;
} cf_search_hooks;

/* A search as its journal recorded it, to resume from (journal.h, cf_search_replay_load). */
typedef struct cf_replay_step {
    int tell;                      /* 0: an ask (the trial was proposed); 1: a tell */
    int64_t trial;                 /* index into trials */
} cf_replay_step;

typedef struct cf_search_replay {
    cf_trial *trials;              /* (n) every recorded trial, trials[i].id == i; owned */
    int64_t n;
    cf_replay_step *steps;         /* (n_steps) asks and tells in the order they happened; owned */
    int64_t n_steps;
    int *started;                  /* (n) 1: was running when the journal ends; owned */
    double clock;                  /* run clock of the last recorded event */
    int64_t retries;
} cf_search_replay;

/* Read a journal (journal.h) into *out for cf_search_run, checking every line;
 * scan receives where the valid part ends, to reopen the journal for appending.
 * The caller frees *out with cf_search_replay_free. */
cf_status cf_search_replay_load(const char *journal, const cf_space *s, cf_search_replay *out,
                                cf_journal_scan *scan);
void cf_search_replay_free(cf_search_replay *r);

/* A search's events as journal lines (journal.h): hook these into cf_search_hooks. */
cf_status cf_journal_event(cf_journal *j, cf_search_event_kind kind, const cf_trial *t, double clock);
cf_status cf_journal_epoch(cf_journal *j, const cf_trial *t, const cf_epoch_record *r, double clock);

typedef struct cf_search_summary {
    int64_t proposed, dispatched, finished, ok, failed, rejected, retries;
    int64_t best_trial;            /* -1 when none finished ok */
    double best_val_acc;
    double clock_s;                /* run clock at the end (simulated with a table) */
    double wall_s;
    double controller_s;           /* wall time the controller spent in ask, cost, placement,
                                      dispatch and tell (its overhead) */
    int workers;
    double busy_s[CF_MAX_WORKERS]; /* run-clock seconds each worker had a trial */
} cf_search_summary;

/* Run a search to its budget (trials, time, or the strategy running out).
 * With replay (may be NULL), first bring the new strategy st to where the
 * recorded run was by repeating its asks and tells (every replayed proposal must
 * match the record, else the spec or the version changed and the call fails),
 * then restart the trials that had not finished (with a simulated clock, on
 * their recorded workers at their recorded start) and go on. Nothing replayed is
 * reported again through hooks. Borrowed: everything. */
cf_status cf_search_run(const cf_search_config *cfg, const cf_space *s, cf_strategy *st,
                        cf_evaluator *ev, const cf_worker_desc *workers, int n_workers,
                        const cf_search_hooks *hooks, const cf_search_replay *replay,
                        cf_search_summary *sum);

#ifdef __cplusplus
}
#endif
#endif
