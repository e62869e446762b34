/* sched.h - the search loop: the controller over the workers.
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
 * The pieces have their own headers: workers and placement in place.h, the
 * trial record in trial.h, evaluators in evaluator.h; a search's journal
 * (events as lines, and the replay that resumes a run) in journal.h.
 *
 *   cf_worker_desc w[CF_MAX_WORKERS];
 *   int n;
 *   CF_TRY(cf_workers_plan("auto", 0, 0, 0, &report, w, &n));
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
#include "cellforge/evaluator.h"
#include "cellforge/place.h"
#include "cellforge/strategy.h"
#include "cellforge/space.h"
#include "cellforge/trial.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the search loop -------------------------------------------------------- */

typedef enum cf_constraint_kind {
    CF_LIMIT_MACS = 0, CF_LIMIT_PARAMS, CF_LIMIT_MEMORY,
    CF_LIMIT_LATENCY,              /* measured inference latency, in microseconds */
    CF_LIMIT_COUNT
} cf_constraint_kind;

/* An objective after accuracy that is no constraint: a zero-cost proxy's
 * score (higher is better, so the strategies minimize its negative), from
 * cf_search_config.proxy when the trial is proposed. */
#define CF_OBJECTIVE_PROXY CF_LIMIT_COUNT

typedef struct cf_search_config {
    int64_t max_trials;            /* stop proposing after this many dispatched; 0: none */
    double time_budget_s;          /* run clock budget (simulated with a table); 0: none */
    int epochs;                    /* default fidelity: epochs ... */
    double fraction;               /* ... and share of each epoch's batches (0 means 1) */
    int batch;                     /* global batch of a trial, 256 */
    int min_batch;                 /* out-of-memory retries halve the batch down to this, 16 */
    int oom_retries;               /* at most this many retries after an out of memory, 3 */
    int replicas;                  /* 0: placement decides; k > 1: every trial data-parallel */
    int span_ranks;                /* a data-parallel group may take workers of several MPI ranks */
    int slots;                     /* trials at once on a GPU: 0 sized by measurement (cf_slot_tuner),
                                      k > 0 at most k */
    int64_t limit[CF_LIMIT_COUNT]; /* hard constraints; 0: none */
    int objectives[CF_MAX_OBJECTIVES]; /* objectives after accuracy: CF_LIMIT_MACS, ...,
                                          CF_OBJECTIVE_PROXY */
    cf_strategy_scorer proxy;      /* one score (n_scores 1): the CF_OBJECTIVE_PROXY objective;
                                      fn NULL when the run has none */
    int latency_reps;              /* forward passes per latency measurement, 20 */
    int n_objectives;              /* 1 + extra objectives */
    int max_rejects;               /* consecutive rejected proposals before giving up, 10000 */
    uint64_t seed;
    /* The seconds one unit of work takes, where a trial's work is its cost's MACs
     * per image (t->cost.macs) times its epochs times its fraction; 0 = not known
     * before a trial finishes (the command line fills it from a measured
     * pre-flight). Only a first guess: once a trial ends ok, the
     * controller uses the median over its ok trials of train_seconds / work. */
    double est_s_per_work;
} cf_search_config;

/* A trial that finished ok at chance level (validation accuracy below 1.5 /
 * classes): 1 with its likely cause in buf ("chance level: ..."), else 0
 * (src/sched/chance.c). The search puts it in the trial's reason. */
int cf_trial_chance_cause(const cf_space *s, int classes, const cf_trial *t, char *buf, size_t cap);

void cf_search_config_default(cf_search_config *cfg);

/* Objective k of a trial as strategies are told it (minimized): 0 is the
 * validation error, k >= 1 the run's cfg->objectives[k]. */
double cf_trial_objective(const cf_search_config *cfg, const cf_trial *t, int k);

/* The hard constraint of cfg that t breaks, in words, into why ("" when
 * none): exact, from the cost model (and the latency as measured when the
 * trial was proposed). */
void cf_trial_constraint_broken(const cf_search_config *cfg, const cf_trial *t, char *why, size_t cap);

typedef enum cf_search_event_kind {
    CF_EVENT_PROPOSED = 0,         /* the strategy proposed the trial (an ask) */
    CF_EVENT_STARTED,              /* dispatched to t->workers (again after a retry) */
    CF_EVENT_RETRY,                /* out of memory: back in the queue with t->batch */
    CF_EVENT_FINISHED,             /* ended with t->status (a tell) */
    CF_EVENT_REJECTED,             /* broke a hard constraint (a tell) */
    CF_EVENT_CUT,                  /* status cut: stopped by the end of the time budget
                                      (t->attempts > 0) or not started; no tell: the
                                      trial stays asked and a resume runs it again */
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
    int *started;                  /* (n) 1: was running when the journal ends (or when the
                                      budget cut it); owned */
    double clock;                  /* run clock of the last recorded event */
    int64_t retries;
} cf_search_replay;

typedef struct cf_search_summary {
    int64_t proposed, dispatched, finished, ok, failed, rejected, retries;
    int64_t cut;                   /* cut by the time budget (not in finished or failed) */
    double est_s_per_work;         /* the estimate at the end (see cf_search_config); 0: none */
    int64_t best_trial;            /* -1 when none finished ok */
    double best_val_acc;
    double clock_s;                /* run clock at the end (simulated with a table) */
    double wall_s;
    double controller_s;           /* wall time the controller spent in ask, cost, placement,
                                      dispatch and tell (its overhead) */
    int workers;
    double busy_s[CF_MAX_WORKERS]; /* run-clock seconds each worker had a trial */
    int slots[CF_MAX_WORKERS];     /* trials at once each worker ended with */
} cf_search_summary;

/* Run a search to its budget (trials, time, or the strategy running out).
 *
 * The time budget (cfg->time_budget_s, on the run clock) holds: a trial still
 * running when it ends is stopped there (a simulated one ends at the budget)
 * and recorded as cut, and a trial that cannot finish in the time left is not
 * started: when its estimated seconds (the estimate per unit of work above
 * times its work) would take the run clock past the budget, or no time is left
 * at all, it is recorded as cut ("not started: about N s needed, M s left")
 * and no new trial is proposed after it. A cut trial is counted apart (sum->cut),
 * never told to the strategy, and runs again first when the run is resumed with
 * more time. So the search ends within the budget plus the time it takes to
 * stop the trials running at its end.
 *
 * With replay (may be NULL), first bring the new strategy st to where the
 * recorded run was by repeating its asks and tells (every replayed proposal must
 * match the record, else the spec or the version changed and the call fails),
 * then restart the trials that had not finished or were cut (with a simulated
 * clock, those that had started on their recorded workers at their recorded
 * start) and go on. Nothing replayed is
 * reported again through hooks. Borrowed: everything. */
cf_status cf_search_run(const cf_search_config *cfg, const cf_space *s, cf_strategy *st,
                        cf_evaluator *ev, const cf_worker_desc *workers, int n_workers,
                        const cf_search_hooks *hooks, const cf_search_replay *replay,
                        cf_search_summary *sum);

#ifdef __cplusplus
}
#endif
#endif
