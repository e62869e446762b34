/* trial.h - one trial of a search as the controller records it.
 *
 * The journal writes trials, the report and `status` read them back, the
 * evaluators fill in their outcome. Status names (implemented in
 * src/sched/trial.c) are the words the journal and the tables use.
 *
 *   cf_trial_status s;
 *   if (cf_trial_status_parse("oom", &s)) printf("%s\n", cf_trial_status_name(s));
 */
#ifndef CELLFORGE_TRIAL_H
#define CELLFORGE_TRIAL_H

#include <stddef.h>
#include <stdint.h>
#include "cellforge/cost.h"
#include "cellforge/place.h"
#include "cellforge/strategy.h"
#include "cellforge/space.h"
#include "cellforge/train.h"

#ifdef __cplusplus
extern "C" {
#endif

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
    CF_TRIAL_CUT,          /* stopped by the end of the search's time budget, or not
                              started because it could not finish in the time left:
                              no result, not told to the strategy, run again by a
                              resume with more time */
} cf_trial_status;

/* "pending", "running", "ok", "nan", "diverged", "timeout", "oom", "error",
 * "rejected", "cut"; "?" for a value out of range. */
const char *cf_trial_status_name(cf_trial_status s);
/* The status a name stands for: 1 and *out set, or 0 for an unknown name. */
int cf_trial_status_parse(const char *name, cf_trial_status *out);
/* The trial status of a training's end: ok, nan, diverged, timeout. */
cf_trial_status cf_trial_status_of_training(cf_train_status s);

/* A trial's seed: weights, data order and augmentation differ between the
 * trials of one run and repeat exactly for the same (run seed, trial id); the
 * evaluators hand it to the trainer (train) or the command (cmd). */
uint64_t cf_trial_seed(uint64_t run_seed, int64_t id);

/* Bytes of a trial's metrics text with its NUL: room for the architectures a
 * supernet derives. */
#define CF_TRIAL_METRICS_MAX 2048

/* One trial as the controller records it. */
typedef struct cf_trial {
    int64_t id;
    cf_candidate cand;
    char arch[CF_ARCH_TEXT_MAX];   /* the candidate in its space's text form */
    cf_cost cost;                  /* at the trial's batch */
    double latency_ms;             /* measured inference latency of one image on the CPU, when
                                      the run asks for it (objective or limit); -1 otherwise */
    double proxy;                  /* the zero-cost proxy objective's score when the run has
                                      one (non-finite: worst); NaN otherwise */
    size_t memory;                 /* planned bytes per replica */
    int batch;                     /* global batch it ran with (smaller after OOM) */
    int replicas;
    int workers[CF_MAX_WORKERS];   /* where it ran, `replicas` entries */
    int slots[CF_MAX_WORKERS];     /* ... and in which of each one's slots (0 .. its slots - 1) */
    int rank;                      /* the MPI rank of its first worker (0 in one process) ... */
    char host[CF_HOST_MAX];        /* ... and that process's host name; "" before a dispatch */
    int attempts;                  /* runs started (a retry after a run adds one) */
    int retries;                   /* out-of-memory retries so far, at placement or after a run */
    cf_trial_status status;
    char reason[256];
    double val_acc;                /* -1 when not trained */
    int epochs_done;
    double train_seconds;          /* training time (recorded time with a table) */
    double start, end;             /* run clock, seconds since the search began
                                      (simulated with a table evaluator) */
    cf_epoch_record *curve;        /* (epochs_done) owned by the controller */
    char metrics[CF_TRIAL_METRICS_MAX]; /* more results an evaluator reported, as a compact JSON
                                      object ("" for none): the cmd evaluator's extra keys */
} cf_trial;

#ifdef __cplusplus
}
#endif
#endif
