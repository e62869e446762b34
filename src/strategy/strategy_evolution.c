/* strategy_evolution.c - regularized (aging) evolution, Real et al. 2019,
 * "Regularized Evolution for Image Classifier Architecture Search".
 *
 * The population holds the last `population` OK results in the order they were
 * told. Until it is full, asks return uniform random archs. Then each ask runs
 * a tournament: `sample` distinct members drawn uniformly, the one with the
 * lowest objective 0 is the parent (ties: the older member), and the child is
 * one uniform neighbor of it (what cf_arch_mutate draws), with the child's
 * parent set to the parent's trial id. When a told child joins a full
 * population the oldest member dies, whatever its score: that aging is what
 * keeps a lucky early result from ruling forever.
 *
 * dedup=1 (default) never proposes a canonical arch twice: the child is drawn
 * among the parent's neighbors not proposed yet, and when there are none a
 * random unproposed arch is asked instead (parent -1). Real et al. retrain
 * duplicates, which helps with noisy training; with a table evaluator a
 * duplicate only repeats a known number. dedup=0 is the paper's algorithm.
 *
 * With a zero-cost pool (pool > 1 in cf_strategy_config) a child is the
 * scorer's best of `pool` unproposed neighbors of the parent, and a random
 * member the best of `pool` unproposed draws.
 *
 * Defaults: population=50, sample=10. NAS-Bench-101's tuned REA used a
 * population of 100 with tournaments of 10 over budgets of thousands of
 * trials; a population of 50 leaves most of a few-hundred-trial budget to
 * evolution, and sample=10 (a fifth of it) keeps selection pressure moderate.
 *
 * Only objective 0 is used; with several objectives the others are ignored.
 * FAILED, REJECTED and OK-with-non-finite-objective results never join. The
 * state is a function of the seed, the trial ids asked and the sequence of
 * tells, so a replay of the same tells gives the same proposals.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cellforge/grow.h"
#include "cellforge/log.h"
#include "strategy_impl.h"

enum { OPT_POPULATION, OPT_SAMPLE, OPT_DEDUP, OPT_COUNT };

static const cf_strategy_option options[OPT_COUNT] = {
    [OPT_POPULATION] = {"population", 50, 2, 10000, 1, "members kept; the oldest dies when a child joins"},
    [OPT_SAMPLE] = {"sample", 10, 1, 10000, 1, "tournament size: distinct members drawn to pick a parent"},
    [OPT_DEDUP] = {"dedup", 1, 0, 1, 1, "1: never propose a canonical arch twice; 0: the paper's algorithm"},
};

typedef struct member {
    int64_t trial;
    double objective;
    cf_arch arch;
} member;

typedef struct evolution_state {
    const cf_space *space;   /* borrowed */
    uint64_t seed;
    size_t population, sample;
    int dedup;
    member *pop;             /* ring of `population` slots */
    size_t head, count;      /* the oldest member's slot; members present */
    uint32_t *pick;          /* tournament scratch: population indices */
    cf_arch *nb;             /* neighbor scratch */
    size_t nb_cap;
    cf_strategy_map seen;    /* canonical hashes proposed or told (dedup only) */
    cf_strategy_scorer scorer;
    cf_strategy_pool pool;   /* zero-cost ranked children and draws (dedup only) */
} evolution_state;

static void evolution_destroy(void *state) {
    evolution_state *e = state;
    if (!e) return;
    free(e->pop);
    free(e->pick);
    free(e->nb);
    cf_strategy_map_free(&e->seen);
    free(e);
}

static cf_status evolution_create(const cf_space *s, const cf_strategy_config *cfg, void **state) {
    double v[OPT_COUNT];
    CF_TRY(cf_strategy_options_parse("evolution", cfg->options, options, OPT_COUNT, v));
    if (v[OPT_SAMPLE] > v[OPT_POPULATION])
        CF_FAIL(CF_ERR_INVALID_ARG, "strategy evolution: sample=%g is more than population=%g: a tournament draws "
                "distinct members", v[OPT_SAMPLE], v[OPT_POPULATION]);
    evolution_state *e = calloc(1, sizeof *e);
    if (!e) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "strategy evolution: no memory");
    e->space = s;
    e->seed = cfg->seed;
    e->population = (size_t)v[OPT_POPULATION];
    e->sample = (size_t)v[OPT_SAMPLE];
    e->dedup = (int)v[OPT_DEDUP];
    e->scorer = cfg->scorer;
    e->pool = (cf_strategy_pool){&e->scorer, cfg->pool};
    if (cf_strategy_pool_on(&e->pool) && !e->dedup) {
        free(e);
        CF_FAIL(CF_ERR_INVALID_ARG, "strategy evolution: a zero-cost pool draws unproposed children: it needs dedup=1");
    }
    e->pop = malloc(e->population * sizeof *e->pop);
    e->pick = malloc(e->population * sizeof *e->pick);
    if (!e->pop || !e->pick) {
        evolution_destroy(e);
        CF_FAIL(CF_ERR_OUT_OF_MEMORY, "strategy evolution: no memory for a population of %g", v[OPT_POPULATION]);
    }
    *state = e;
    return CF_OK;
}

static const member *member_at(const evolution_state *e, size_t age_rank) {
    return &e->pop[(e->head + age_rank) % e->population];
}

/* The best of `sample` distinct members drawn uniformly (partial Fisher-Yates). */
static const member *tournament(evolution_state *e, cf_rng *rng) {
    for (size_t i = 0; i < e->count; i++) e->pick[i] = (uint32_t)i;
    size_t best = SIZE_MAX;
    for (size_t i = 0; i < e->sample; i++) {
        size_t j = i + cf_rng_below(rng, (uint32_t)(e->count - i));
        uint32_t t = e->pick[i];
        e->pick[i] = e->pick[j];
        e->pick[j] = t;
        size_t k = e->pick[i];
        if (best == SIZE_MAX || member_at(e, k)->objective < member_at(e, best)->objective ||
            (member_at(e, k)->objective == member_at(e, best)->objective && k < best))
            best = k;
    }
    return member_at(e, best);
}

/* A uniform neighbor of parent not proposed yet, in *child; *found 0 when every one was. */
static cf_status unseen_neighbor(evolution_state *e, cf_rng *rng, const cf_arch *parent, int64_t trial,
                                 cf_arch *child, int *found) {
    *found = 0;
    size_t n = cf_arch_neighbors(e->space, parent, NULL, 0);
    if (cf_grow((void **)&e->nb, &e->nb_cap, n, sizeof *e->nb) != CF_OK)
        CF_FAIL(CF_ERR_OUT_OF_MEMORY, "no memory for %zu neighbors", n);
    cf_arch_neighbors(e->space, parent, e->nb, n);
    /* Visit the neighbors in a random order and take the first unseen one:
     * uniform among the unseen, and each costs one hash. With a pool, the
     * first `pool` unseen ones are gathered at the front and ranked. */
    size_t want = cf_strategy_pool_on(&e->pool) ? (size_t)e->pool.size : 1, got = 0;
    for (size_t i = 0; i < n && got < want; i++) {
        size_t j = i + cf_rng_below(rng, (uint32_t)(n - i));
        cf_arch t = e->nb[i];
        e->nb[i] = e->nb[j];
        e->nb[j] = t;
        if (cf_strategy_map_find(&e->seen, cf_arch_hash(e->space, &e->nb[i]))) continue;
        e->nb[got++] = e->nb[i];
    }
    if (!got) return CF_OK;
    size_t best = 0;
    CF_TRY(cf_strategy_rank_best(&e->scorer, e->nb, got, &best));
    CF_TRY(cf_strategy_map_add(&e->seen, cf_arch_hash(e->space, &e->nb[best]), (cf_strategy_seen){NAN, trial}, NULL));
    *child = e->nb[best];
    *found = 1;
    return CF_OK;
}

static cf_ask_result evolution_ask(void *state, int64_t trial, cf_candidate *out) {
    evolution_state *e = state;
    cf_rng rng = cf_strategy_rng(e->seed, trial);
    cf_arch a;
    if (e->count == e->population) {
        const member *parent = tournament(e, &rng);
        if (!e->dedup) {
            if (cf_arch_mutate(e->space, &rng, &parent->arch, &a) == CF_OK) {
                cf_strategy_candidate(out, &a, parent->trial);
                return CF_ASK_OK;
            }
            cf_error_clear(); /* an arch without neighbors: fall back to a random one */
        } else {
            int found = 0;
            if (unseen_neighbor(e, &rng, &parent->arch, trial, &a, &found) != CF_OK)
                return cf_strategy_ask_failed("evolution");
            if (found) {
                cf_strategy_candidate(out, &a, parent->trial);
                return CF_ASK_OK;
            }
        }
    }
    if (!e->dedup) {
        cf_arch_sample(e->space, &rng, &a);
    } else {
        int found = 0;
        if (cf_strategy_sample_ranked(e->space, &e->pool, &rng, &e->seen, trial, &a, &found) != CF_OK)
            return cf_strategy_ask_failed("evolution");
        if (!found) {
            CF_LOG_INFO("strategy evolution: no new architecture in %d draws; the space looks exhausted",
                        CF_STRATEGY_SAMPLE_TRIES);
            return CF_ASK_DONE;
        }
    }
    cf_strategy_candidate(out, &a, -1);
    return CF_ASK_OK;
}

static void evolution_tell(void *state, int64_t trial, const cf_candidate *c, const cf_outcome *o) {
    evolution_state *e = state;
    int ok = o->status == CF_OUTCOME_OK && isfinite(o->objective[0]);
    /* Remember every told arch, also those never asked here (a resumed run). */
    if (e->dedup &&
        cf_strategy_map_add(&e->seen, cf_arch_hash(e->space, &c->arch),
                            (cf_strategy_seen){ok ? o->objective[0] : INFINITY, trial}, NULL) != CF_OK)
        CF_LOG_ERROR("strategy evolution: %s", cf_error_message());
    if (!ok) return;
    member m = {trial, o->objective[0], c->arch};
    if (e->count < e->population) {
        e->pop[(e->head + e->count++) % e->population] = m;
    } else {
        e->pop[e->head] = m; /* the oldest dies */
        e->head = (e->head + 1) % e->population;
    }
}

static void evolution_claim(void *state, int64_t trial, const cf_candidate *c) {
    evolution_state *e = state;
    if (e->dedup &&
        cf_strategy_map_add(&e->seen, cf_arch_hash(e->space, &c->arch), (cf_strategy_seen){NAN, trial}, NULL) != CF_OK)
        CF_LOG_ERROR("strategy evolution: %s", cf_error_message());
}

size_t cf_strategy_evolution_population(const cf_strategy *st, int64_t *trials, double *objective, size_t cap) {
    if (!st || st->ops != &cf_strategy_evolution) return 0;
    const evolution_state *e = st->state;
    for (size_t i = 0; i < e->count && i < cap; i++) {
        if (trials) trials[i] = member_at(e, i)->trial;
        if (objective) objective[i] = member_at(e, i)->objective;
    }
    return e->count;
}

const cf_strategy_ops cf_strategy_evolution = {
    .name = "evolution",
    .doc = "regularized evolution (Real et al. 2019): tournament of sample=10 from the last "
                     "population=50 results, child = mutated winner, oldest dies; dedup=1; objective 0 only",
    .create = evolution_create,
    .destroy = evolution_destroy,
    .ask = evolution_ask,
    .tell = evolution_tell,
    .claim = evolution_claim,
};
