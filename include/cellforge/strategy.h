/* strategy.h - search strategies: ask for candidates, tell results.
 *
 * A strategy proposes architectures (with a fidelity) and learns from the
 * results. The controller (sched.h) asks whenever a device has room, applies
 * the hard constraints with the exact cost model, dispatches, and tells each
 * result when it arrives, in any order. Several trials are in flight at once.
 *
 * Determinism: every ask draws from the counter RNG stream (seed, trial id,
 * SAMPLE), so a strategy's proposals depend only on the run seed, the trial
 * ids and the order of asks and tells, never on timing: replaying the same
 * asks and tells (a resumed run) rebuilds the same state. A strategy is not
 * thread-safe; one thread (the controller's) makes every call.
 *
 *   cf_strategy_config cfg;
 *   cf_strategy_config_default(&cfg);
 *   cfg.seed = 7;
 *   cf_strategy *st = NULL;
 *   CF_TRY(cf_strategy_create("evolution", space, &cfg, &st));
 *   cf_candidate c;
 *   if (cf_strategy_ask(st, trial_id, &c) == CF_ASK_OK) { ... run it ...
 *       cf_strategy_tell(st, trial_id, &c, &outcome); }
 *   cf_strategy_destroy(st);
 */
#ifndef CELLFORGE_STRATEGY_H
#define CELLFORGE_STRATEGY_H

#include <stddef.h>
#include <stdint.h>

#include "cellforge/space.h"
#include "cellforge/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CF_MAX_OBJECTIVES 4
#define CF_STRATEGY_OPTIONS_MAX 512

/* What a strategy proposes: an architecture and how much to train it. */
typedef struct cf_candidate {
    cf_arch arch;
    int epochs;          /* fidelity in epochs; 0: the run's default */
    double fraction;     /* share of each epoch's batches; 0 means 1 */
    int64_t parent;      /* a trial this one continues (multi-fidelity promotion) or was
                            derived from; -1 when none */
} cf_candidate;

typedef enum cf_outcome_status {
    CF_OUTCOME_OK = 0,   /* trained; objectives are set */
    CF_OUTCOME_FAILED,   /* NaN, diverged, out of memory after retries, timeout with nothing
                            learned: objectives are not meaningful */
    CF_OUTCOME_REJECTED, /* violated a hard constraint; never dispatched */
} cf_outcome_status;

/* A result as a strategy sees it. Every objective is minimized: objective 0 is
 * the validation error (1 - accuracy); the others are those the run asked for
 * (MACs, parameters, activation bytes, latency), in that order. */
typedef struct cf_outcome {
    cf_outcome_status status;
    int n_objectives;
    double objective[CF_MAX_OBJECTIVES];
    double val_acc;      /* in [0, 1]; -1 when not trained */
    int epochs;          /* fidelity actually trained */
    double seconds;      /* training time (simulated with a table evaluator) */
    const char *metrics; /* what the evaluator reported besides accuracy, a compact JSON object
                            ("" or NULL for none; borrowed for the call): a supernet's trial
                            names the architectures it derived */
} cf_outcome;

/* A zero-cost scorer strategies may rank proposals with before any training
 * (src/score/scorer.c makes one from the proxies). fn writes n_scores values
 * for arch a (borrowed), each higher-is-better; a failure or a value that is
 * not finite ranks the arch last. With n_scores > 1 the candidates are ranked
 * by the mean of their ranks under each score (a vote). fn runs on the
 * controller's thread and must return the same values for the same arch. */
typedef struct cf_strategy_scorer {
    cf_status (*fn)(void *ctx, const cf_arch *a, double *scores);
    void *ctx;
    int n_scores;        /* 1..CF_STRATEGY_MAX_SCORES */
} cf_strategy_scorer;

#define CF_STRATEGY_MAX_SCORES 8

typedef struct cf_strategy_config {
    uint64_t seed;
    int n_objectives;    /* 1: accuracy only; more: multi-objective */
    int max_epochs;      /* the highest fidelity (multi-fidelity strategies); the run's epochs */
    int min_epochs;      /* the lowest rung (successive halving, ASHA); 1 */
    /* Strategy options, "key=value,key=value" (e.g. "population=50,sample=10"); each
     * strategy documents its keys and rejects unknown ones with a suggestion. */
    char options[CF_STRATEGY_OPTIONS_MAX];
    /* Zero-cost ranking (scorer.fn NULL: none; the rest must then be 0):
     *   warmup       before the first proposal, score this many distinct uniform
     *                archs and propose the best warmup_keep of them first, best
     *                first (evolution, local, random, bananas, nsga2);
     *   warmup_keep  0: a tenth of warmup, at least 1;
     *   pool         > 1: each uniform draw and each mutation draws this many
     *                distinct candidates never proposed and keeps the best by
     *                the scorer (evolution, local, random, nsga2);
     * and bananas adds the scores to its surrogate's features. */
    cf_strategy_scorer scorer;
    int warmup, warmup_keep, pool;
} cf_strategy_config;

void cf_strategy_config_default(cf_strategy_config *cfg);

typedef enum cf_ask_result {
    CF_ASK_OK = 0,       /* *out is a candidate */
    CF_ASK_WAIT,         /* nothing to propose until more results are told */
    CF_ASK_DONE,         /* the strategy has nothing more to propose (grid exhausted) */
} cf_ask_result;

/* One strategy implementation (src/strategy/strategy_*.c); a table of these is the
 * registry, looked up by name. */
typedef struct cf_strategy_ops {
    const char *name;
    const char *doc;     /* one line for --help, with its option keys and defaults */
    cf_status (*create)(const cf_space *s, const cf_strategy_config *cfg, void **state);
    void (*destroy)(void *state);
    cf_ask_result (*ask)(void *state, int64_t trial, cf_candidate *out);
    void (*tell)(void *state, int64_t trial, const cf_candidate *c, const cf_outcome *o);
    /* A candidate proposed for trial on the strategy's behalf (the zero-cost
     * warm-up): count it as proposed, so it is not proposed again. NULL: the
     * strategy does not take part in a warm-up. */
    void (*claim)(void *state, int64_t trial, const cf_candidate *c);
} cf_strategy_ops;

typedef struct cf_strategy cf_strategy;

/* Create strategy `name` over s (borrowed; must outlive the strategy). An unknown
 * name or option fails with a message naming it and the closest valid one. */
cf_status cf_strategy_create(const char *name, const cf_space *s, const cf_strategy_config *cfg,
                             cf_strategy **out);
void cf_strategy_destroy(cf_strategy *st); /* NULL is accepted */
/* Propose a candidate for trial id `trial` (>= 0). *out is filled completely
 * (epochs 0 and parent -1 unless the strategy sets them). A trial id answered
 * CF_ASK_WAIT or CF_ASK_DONE was not used and may be asked again. */
cf_ask_result cf_strategy_ask(cf_strategy *st, int64_t trial, cf_candidate *out);
/* Report the outcome of trial `trial` run as *c (both borrowed for the call).
 * Results may come in any order, including for candidates this strategy never
 * proposed (a resumed run). Unless its options allow repeats, a strategy does
 * not propose a told arch again, a FAILED or REJECTED one included. */
void cf_strategy_tell(cf_strategy *st, int64_t trial, const cf_candidate *c, const cf_outcome *o);
const char *cf_strategy_name(const cf_strategy *st);

/* The one-shot strategies (darts, gdas, spos) train a supernet through the
 * evaluator: for one of them (*is_oneshot 1), *out is the method's
 * configuration from its options text (oneshot.h; the caller then sets the
 * run's seed, augmentation and constraints); for any other name *is_oneshot
 * is 0 and *out untouched. Option errors as cf_strategy_create's. */
struct cf_oneshot_config;
cf_status cf_strategy_oneshot_config(const char *name, const char *options, struct cf_oneshot_config *out,
                                     int *is_oneshot);

/* The registered strategies, in --help order; *count receives their number. */
const cf_strategy_ops *const *cf_strategy_list(size_t *count);

#ifdef __cplusplus
}
#endif
#endif
