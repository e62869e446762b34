/* fidelity.c - the rung ladder, configuration ledger and new-configuration
 * sampler that successive halving, Hyperband and ASHA share (fidelity.h).
 *
 * Tested by tests/test_search_mf.c:
 *   ctest --test-dir build -R test_search_mf --output-on-failure
 */
#include "fidelity.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cellforge/grow.h"
#include "cellforge/log.h"

/* Draws of cf_arch_mutate from one tournament winner before the sampler gives
 * up on it (its neighbors were mostly started already) and draws uniformly. */
#define MUTATE_TRIES 32

cf_status cf_mf_ladder(int min_epochs, int max_epochs, int eta, int epochs[CF_MF_MAX_RUNGS], int *n_rungs) {
    if (min_epochs < 1 || max_epochs < min_epochs || eta < 2)
        CF_FAIL(CF_ERR_INVALID_ARG, "rungs for epochs %d..%d and eta %d: expected 1 <= min <= max and eta >= 2",
                min_epochs, max_epochs, eta);
    int k = 1;
    for (int64_t e = (int64_t)min_epochs * eta; e <= max_epochs; e *= eta) k++;
    if (k > CF_MF_MAX_RUNGS)
        CF_FAIL(CF_ERR_INVALID_ARG, "epochs %d..%d with eta %d make %d rungs, more than %d", min_epochs, max_epochs,
                eta, k, CF_MF_MAX_RUNGS);
    /* Geometric from min to max: each step is a factor of at least eta, and
     * the rounded values stay strictly increasing. */
    double ratio = (double)max_epochs / min_epochs;
    for (int r = 0; r < k; r++)
        epochs[r] = k == 1 ? max_epochs : (int)llround(min_epochs * pow(ratio, (double)r / (k - 1)));
    *n_rungs = k;
    return CF_OK;
}

cf_status cf_mf_init(cf_mf *m, const char *name, const cf_space *s, const cf_strategy_config *cfg, const double *v) {
    memset(m, 0, sizeof *m);
    m->space = s;
    m->name = name;
    m->seed = cfg->seed;
    m->eta = (int)v[CF_MF_OPT_ETA];
    m->sampler = (int)v[CF_MF_OPT_SAMPLER];
    m->sample = (size_t)v[CF_MF_OPT_SAMPLE];
    int epochs[CF_MF_MAX_RUNGS];
    cf_status st = cf_mf_ladder(cfg->min_epochs, cfg->max_epochs, m->eta, epochs, &m->n_rungs);
    if (st != CF_OK) {
        char why[256]; /* the message is rewritten in place: copy it first */
        snprintf(why, sizeof why, "%s", cf_error_message());
        CF_FAIL(st, "strategy %s: %s", name, why);
    }
    for (int r = 0; r < m->n_rungs; r++) m->rung[r].epochs = epochs[r];
    if (m->n_rungs == 1)
        CF_LOG_INFO("strategy %s: epochs %d..%d hold a single rung at eta=%d: every trial trains %d epochs and "
                    "nothing is promoted", name, cfg->min_epochs, cfg->max_epochs, m->eta, cfg->max_epochs);
    return CF_OK;
}

void cf_mf_free(cf_mf *m) {
    if (!m) return;
    for (int r = 0; r < CF_MF_MAX_RUNGS; r++) free(m->rung[r].results);
    free(m->configs);
    free(m->pending);
    free(m->pick);
    cf_strategy_map_free(&m->seen);
    memset(m, 0, sizeof *m);
}

static cf_status add_config(cf_mf *m, const cf_arch *a, uint32_t *config) {
    CF_TRY(cf_grow((void **)&m->configs, &m->configs_cap, m->n_configs + 1, sizeof *m->configs));
    m->configs[m->n_configs] = *a;
    *config = (uint32_t)m->n_configs++;
    return CF_OK;
}

static cf_status add_result(cf_mf *m, int rung, cf_mf_result res) {
    cf_mf_rung *r = &m->rung[rung];
    CF_TRY(cf_grow((void **)&r->results, &r->cap, r->count + 1, sizeof *r->results));
    r->results[r->count++] = res;
    if (isfinite(res.objective)) r->ok++;
    return CF_OK;
}

/* The winner of a tournament of m->sample distinct OK results of rung r
 * (partial Fisher-Yates; ties go to the earlier told). */
static cf_status tournament(cf_mf *m, cf_rng *rng, int r, const cf_mf_result **winner) {
    const cf_mf_rung *g = &m->rung[r];
    if (cf_grow((void **)&m->pick, &m->pick_cap, g->ok, sizeof *m->pick) != CF_OK)
        CF_FAIL(CF_ERR_OUT_OF_MEMORY, "no memory for a tournament over %zu results", g->ok);
    size_t n = 0;
    for (size_t i = 0; i < g->count; i++)
        if (isfinite(g->results[i].objective)) m->pick[n++] = (uint32_t)i;
    size_t best = SIZE_MAX;
    for (size_t i = 0; i < m->sample; i++) {
        size_t j = i + cf_rng_below(rng, (uint32_t)(n - i));
        uint32_t t = m->pick[i];
        m->pick[i] = m->pick[j];
        m->pick[j] = t;
        size_t k = m->pick[i];
        if (best == SIZE_MAX || g->results[k].objective < g->results[best].objective ||
            (g->results[k].objective == g->results[best].objective && k < best))
            best = k;
    }
    *winner = &g->results[best];
    return CF_OK;
}

cf_status cf_mf_new_config(cf_mf *m, cf_rng *rng, int64_t trial, uint32_t *config, int64_t *parent, int *found) {
    *found = 0;
    *parent = -1;
    if (m->exhausted) return CF_OK;
    cf_arch a;
    int pool = -1;
    if (m->sampler == CF_MF_SAMPLER_EVOLUTION)
        for (int r = m->n_rungs - 1; r >= 0 && pool < 0; r--)
            if (m->rung[r].ok >= m->sample) pool = r;
    if (pool >= 0) {
        const cf_mf_result *w = NULL;
        CF_TRY(tournament(m, rng, pool, &w));
        const cf_arch *from = &m->configs[w->config];
        for (int t = 0; t < MUTATE_TRIES && !*found; t++) {
            if (cf_arch_mutate(m->space, rng, from, &a) != CF_OK) {
                cf_error_clear(); /* an arch without neighbors: sample uniformly instead */
                break;
            }
            int added = 0;
            CF_TRY(cf_strategy_map_add(&m->seen, cf_arch_hash(m->space, &a), (cf_strategy_seen){NAN, trial}, &added));
            if (added) {
                *found = 1;
                *parent = w->trial;
            }
        }
    }
    if (!*found) CF_TRY(cf_strategy_sample_unseen(m->space, rng, &m->seen, trial, &a, found));
    if (!*found) {
        CF_LOG_INFO("strategy %s: no new architecture in %d draws after %zu configurations; the space looks "
                    "exhausted: only promotions are left", m->name, CF_STRATEGY_SAMPLE_TRIES, m->n_configs);
        m->exhausted = 1;
        return CF_OK;
    }
    return add_config(m, &a, config);
}

cf_status cf_mf_dispatch(cf_mf *m, int64_t trial, uint32_t config, int rung, int64_t bracket, size_t slot,
                         int64_t parent, cf_candidate *out) {
    CF_TRY(cf_grow((void **)&m->pending, &m->pending_cap, m->n_pending + 1, sizeof *m->pending));
    m->pending[m->n_pending++] = (cf_mf_pending){trial, config, rung, bracket, slot};
    cf_strategy_candidate(out, &m->configs[config], parent);
    out->epochs = m->rung[rung].epochs;
    return CF_OK;
}

int cf_mf_told(cf_mf *m, int64_t trial, const cf_candidate *c, const cf_outcome *o, cf_mf_pending *was,
               double *value) {
    double v = o->status == CF_OUTCOME_OK && isfinite(o->objective[0]) ? o->objective[0] : INFINITY;
    *value = v;
    for (size_t i = 0; i < m->n_pending; i++) {
        if (m->pending[i].trial != trial) continue;
        *was = m->pending[i];
        memmove(&m->pending[i], &m->pending[i + 1], (m->n_pending - i - 1) * sizeof *m->pending);
        m->n_pending--;
        if (add_result(m, was->rung, (cf_mf_result){v, trial, was->config, 0}) != CF_OK)
            CF_LOG_ERROR("strategy %s: dropping the result of trial %lld: %s", m->name, (long long)trial,
                         cf_error_message());
        return 1;
    }
    /* Not asked here: remember the arch, and let a result at a rung's fidelity
     * compete in that rung like any other. */
    uint64_t h = cf_arch_hash(m->space, &c->arch);
    cf_status st = cf_strategy_map_add(&m->seen, h, (cf_strategy_seen){v, trial}, NULL);
    int epochs = c->epochs > 0 ? c->epochs : m->rung[m->n_rungs - 1].epochs;
    for (int r = 0; r < m->n_rungs && st == CF_OK; r++) {
        if (m->rung[r].epochs != epochs) continue;
        uint32_t config = 0;
        st = add_config(m, &c->arch, &config);
        if (st == CF_OK) st = add_result(m, r, (cf_mf_result){v, trial, config, 0});
    }
    if (st != CF_OK)
        CF_LOG_ERROR("strategy %s: dropping the result of trial %lld: %s", m->name, (long long)trial,
                     cf_error_message());
    return 0;
}
