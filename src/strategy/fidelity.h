/* fidelity.h - what the multi-fidelity strategies share (private to src/search):
 * sh and hyperband (strategy_hyperband.c), asha (strategy_asha.c).
 *
 * A configuration is an arch trained at increasing fidelities, the rungs of a
 * ladder of epochs that grows by a factor eta up to the run's max_epochs.
 * cf_mf keeps
 *   - the ladder;
 *   - every configuration started, by index;
 *   - per rung, every result told, in tell order (the ledger): what
 *     promotions and the evolution sampler choose from;
 *   - the trials in flight, so a tell finds its configuration and rung;
 *   - where new configurations come from (sampler=random|evolution).
 * A promotion proposes the same arch again at a higher rung: the one exception
 * to "never propose an arch twice", since a longer training is a new result.
 *
 * Tested by tests/test_search_mf.c:
 *   ctest --test-dir build -R test_search_mf --output-on-failure
 */
#ifndef CF_SEARCH_FIDELITY_H
#define CF_SEARCH_FIDELITY_H

#include <stddef.h>
#include <stdint.h>

#include "strategy_impl.h"

/* Rungs at most: eta >= 2 doubles the epochs per rung at least. */
#define CF_MF_MAX_RUNGS 24

/* The option entries every multi-fidelity strategy takes, in this order at the
 * start of its table (indices CF_MF_OPT_*). */
#define CF_MF_OPTIONS                                                                                            \
    {"eta", 3, 2, 100, 1, "growth of the epochs from rung to rung; the top 1/eta of a rung is promoted", NULL},  \
    {"sampler", 0, 0, 1, 1, "where new configurations come from: random, or evolution (tournament of `sample` " \
     "at the highest rung with that many results, winner mutated)", "random|evolution"},                       \
    {"sample", 10, 1, 10000, 1, "sampler=evolution: tournament size", NULL}
enum { CF_MF_OPT_ETA, CF_MF_OPT_SAMPLER, CF_MF_OPT_SAMPLE, CF_MF_OPT_COUNT };

enum { CF_MF_SAMPLER_RANDOM, CF_MF_SAMPLER_EVOLUTION };

/* One told result in a rung's ledger. */
typedef struct cf_mf_result {
    double objective;   /* objective 0; +inf for FAILED, REJECTED and non-finite results */
    int64_t trial;
    uint32_t config;    /* index into cf_mf.configs */
    uint8_t promoted;   /* asha: already proposed at the next rung */
} cf_mf_result;

typedef struct cf_mf_rung {
    int epochs;
    cf_mf_result *results;  /* tell order */
    size_t count, cap;
    size_t ok;              /* results with a finite objective */
} cf_mf_rung;

/* A trial in flight. `bracket` and `slot` are the strategy's own bookkeeping
 * (hyperband: which bracket and which entry of its rung; asha: -1 and 0). */
typedef struct cf_mf_pending {
    int64_t trial;
    uint32_t config;
    int rung;
    int64_t bracket;
    size_t slot;
} cf_mf_pending;

typedef struct cf_mf {
    const cf_space *space;  /* borrowed */
    const char *name;       /* the strategy, for messages (static text) */
    uint64_t seed;
    int eta, sampler;
    size_t sample;
    int n_rungs;
    cf_mf_rung rung[CF_MF_MAX_RUNGS];
    cf_arch *configs;       /* every configuration started or told */
    size_t n_configs, configs_cap;
    cf_mf_pending *pending; /* trials in flight, ask order */
    size_t n_pending, pending_cap;
    cf_strategy_map seen;   /* canonical hashes started or told */
    int exhausted;          /* the sampler found no new arch: only promotions are left */
    uint32_t *pick;         /* tournament scratch */
    size_t pick_cap;
} cf_mf;

/* The rungs for min..max epochs and factor eta: K = floor(log_eta(max/min)) + 1
 * rungs, rung k at round(min * (max/min)^(k/(K-1))) epochs (max alone when
 * K = 1). When max/min is a power of eta these are exactly min*eta^k;
 * otherwise the bottom rung is still min_epochs and the top the run's full
 * fidelity, each step a factor a little above eta (1..20 epochs, eta 3: 1, 4,
 * 20). *n_rungs receives K; fails above CF_MF_MAX_RUNGS. */
cf_status cf_mf_ladder(int min_epochs, int max_epochs, int eta, int epochs[CF_MF_MAX_RUNGS], int *n_rungs);

/* Parse nothing: set up m from cfg and the shared option values v[CF_MF_OPT_*].
 * Free with cf_mf_free (also after a failed init). */
cf_status cf_mf_init(cf_mf *m, const char *name, const cf_space *s, const cf_strategy_config *cfg, const double *v);
void cf_mf_free(cf_mf *m);

/* A new configuration, never started or told before: uniform (sampler=random,
 * or evolution before any rung has `sample` OK results), or a mutation of the
 * winner of a tournament of `sample` OK results at the highest rung that has
 * that many (evolution). *found 0: none found, and m->exhausted is set.
 * *parent is the tournament winner's trial, or -1. */
cf_status cf_mf_new_config(cf_mf *m, cf_rng *rng, int64_t trial, uint32_t *config, int64_t *parent, int *found);

/* Record trial `trial` as configuration `config` at `rung` in flight and fill
 * *out (epochs = the rung's). Fails only for lack of memory. */
cf_status cf_mf_dispatch(cf_mf *m, int64_t trial, uint32_t config, int rung, int64_t bracket, size_t slot,
                         int64_t parent, cf_candidate *out);

/* Record a told result in its rung's ledger and return 1 with *was set to what
 * was in flight; 0 for a trial not asked here (a resumed run): its arch is
 * remembered as seen and, when its epochs match a rung, it joins that rung as
 * a configuration of its own. *value is the objective recorded (+inf when not
 * OK). Lack of memory is logged, and the result dropped. */
int cf_mf_told(cf_mf *m, int64_t trial, const cf_candidate *c, const cf_outcome *o, cf_mf_pending *was,
               double *value);

#endif
