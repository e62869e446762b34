/* strategy_asha.c - asynchronous successive halving (ASHA), Li et al. 2020,
 * "A System for Massively Parallel Hyperparameter Tuning".
 *
 * Rungs of epochs grow by eta from min_epochs to max_epochs (fidelity.h).
 * Every ask looks at the rungs from the highest but one down: a result that
 * is in the top floor(n/eta) of the n results told at its rung so far, and
 * was not promoted yet, is promoted: the same arch at the next rung's
 * epochs, with parent = the promoted trial. The best unpromoted result of a
 * rung is the only one that can qualify (every better one was promoted), so
 * one scan per rung decides. When nothing qualifies a new configuration
 * starts at the bottom rung. ASHA never waits for a rung to fill: with any
 * number of trials in flight an ask proposes something, until the space is
 * exhausted and nothing qualifies (CF_ASK_WAIT while trials are in flight,
 * then CF_ASK_DONE).
 *
 * FAILED and REJECTED results count in their rung's n as its worst results
 * and are never promoted. Ties go to the result told first. A result told for
 * a trial not asked here (a resumed run) joins the rung of its epochs.
 *
 * Options: eta=3, sampler=random|evolution (random), sample=10 (the evolution
 * sampler's tournament, fidelity.h). Only objective 0 is used.
 */
#include <math.h>
#include <stdlib.h>

#include "cellforge/log.h"
#include "fidelity.h"

static const cf_strategy_option options[CF_MF_OPT_COUNT] = {CF_MF_OPTIONS};

static void asha_destroy(void *state) {
    cf_mf *m = state;
    if (!m) return;
    cf_mf_free(m);
    free(m);
}

static cf_status asha_create(const cf_space *s, const cf_strategy_config *cfg, void **state) {
    double v[CF_MF_OPT_COUNT];
    CF_TRY(cf_strategy_options_parse("asha", cfg->options, options, CF_MF_OPT_COUNT, v));
    cf_mf *m = calloc(1, sizeof *m);
    if (!m) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "strategy asha: no memory");
    cf_status st = cf_mf_init(m, "asha", s, cfg, v);
    if (st != CF_OK) {
        asha_destroy(m);
        return st;
    }
    *state = m;
    return CF_OK;
}

/* The result of rung r to promote now, or NULL. */
static cf_mf_result *promotable(cf_mf_rung *g, int eta) {
    size_t quota = g->count / (size_t)eta;
    if (quota == 0) return NULL;
    cf_mf_result *best = NULL;
    size_t best_i = 0;
    for (size_t i = 0; i < g->count; i++) {
        cf_mf_result *e = &g->results[i];
        if (e->promoted || !isfinite(e->objective)) continue;
        if (!best || e->objective < best->objective) best = e, best_i = i;
    }
    if (!best) return NULL;
    /* Its rank: results strictly better, or as good and told earlier. */
    size_t rank = 0;
    for (size_t i = 0; i < g->count; i++)
        rank += g->results[i].objective < best->objective || (g->results[i].objective == best->objective && i < best_i);
    return rank < quota ? best : NULL;
}

static cf_ask_result asha_ask(void *state, int64_t trial, cf_candidate *out) {
    cf_mf *m = state;
    for (int r = m->n_rungs - 2; r >= 0; r--) {
        cf_mf_result *e = promotable(&m->rung[r], m->eta);
        if (!e) continue;
        if (cf_mf_dispatch(m, trial, e->config, r + 1, -1, 0, e->trial, out) != CF_OK)
            return cf_strategy_ask_failed("asha");
        e->promoted = 1;
        return CF_ASK_OK;
    }
    cf_rng rng = cf_strategy_rng(m->seed, trial);
    uint32_t config = 0;
    int64_t parent = -1;
    int found = 0;
    if (cf_mf_new_config(m, &rng, trial, &config, &parent, &found) != CF_OK) return cf_strategy_ask_failed("asha");
    if (!found) return m->n_pending ? CF_ASK_WAIT : CF_ASK_DONE;
    if (cf_mf_dispatch(m, trial, config, 0, -1, 0, parent, out) != CF_OK) return cf_strategy_ask_failed("asha");
    return CF_ASK_OK;
}

static void asha_tell(void *state, int64_t trial, const cf_candidate *c, const cf_outcome *o) {
    cf_mf_pending was;
    double v;
    cf_mf_told(state, trial, c, o, &was, &v);
}

const cf_strategy_ops cf_strategy_asha = {
    .name = "asha",
    .doc = "asynchronous successive halving (Li et al. 2020): rungs of epochs x eta from min to max "
                     "epochs; a result in the top 1/eta of its rung so far is promoted at once, else a new "
                     "config starts at the bottom; never waits (eta=3, sampler=random|evolution, sample=10)",
    .create = asha_create,
    .destroy = asha_destroy,
    .ask = asha_ask,
    .tell = asha_tell,
};
