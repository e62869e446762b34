/* strategy_nsga2.c - steady-state NSGA-II over every objective of the run
 * (Deb et al. 2002, "A Fast and Elitist Multiobjective Genetic Algorithm").
 *
 * The population holds up to `population` OK results. Until it is full, asks
 * return uniform random archs. Then each ask picks two parents by tournaments
 * of `tournament` distinct members each, the winner being the member of lowest
 * non-domination rank, then largest crowding distance, then the older; the
 * child is cf_arch_crossover of the two, then one cf_arch_mutate step, with
 * parent = the first parent's trial. When a told result makes the population
 * one too many, the member NSGA-II would cut first goes: highest rank, then
 * smallest crowding distance within that front, then the newer. This is the
 * (mu + 1) form of NSGA-II's (mu + mu) selection, which fits a controller
 * that tells one result at a time in any order and never waits for a
 * generation to finish.
 *
 * With a zero-cost pool (pool > 1 in cf_strategy_config) a child is the
 * scorer's best of `pool` distinct unproposed children, and a draw the best of
 * `pool` unproposed uniform archs.
 *
 * No canonical arch is proposed twice: a child seen before is redrawn (new
 * parents, new crossover) up to CHILD_TRIES times, then a uniform unproposed
 * arch is asked instead (parent -1). Objectives 0..n_objectives-1 are used,
 * all minimized (pareto.h); with one objective this is an elitist genetic
 * algorithm. FAILED, REJECTED and results with a NaN objective never join.
 *
 * Options: population=50, tournament=2.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cellforge/log.h"
#include "cellforge/pareto.h"
#include "strategy_impl.h"

/* Parents and crossovers tried per ask before falling back to a random arch:
 * on a population whose children are mostly known already the redraws cost
 * one hash each. */
#define CHILD_TRIES 32

enum { OPT_POPULATION, OPT_TOURNAMENT, OPT_COUNT };

static const cf_strategy_option options[OPT_COUNT] = {
    [OPT_POPULATION] = {"population", 50, 4, 10000, 1, "members kept; the worst by rank and crowding goes", NULL},
    [OPT_TOURNAMENT] = {"tournament", 2, 1, 10000, 1, "members drawn per parent; best rank, then crowding wins",
                        NULL},
};

typedef struct member {
    int64_t trial;
    cf_arch arch;
} member;

typedef struct nsga2_state {
    const cf_space *space;  /* borrowed */
    uint64_t seed;
    int k;                  /* objectives */
    size_t population, tournament;
    member *pop;            /* population + 1 slots, oldest first */
    double *obj;            /* (population + 1, k): objectives of pop */
    size_t count;
    int *rank;              /* of pop, valid when !stale */
    double *crowd;
    size_t *front, *pick;   /* scratch: one front's indices; tournament indices */
    double *dist;           /* scratch: one front's crowding distances */
    int stale;
    cf_strategy_map seen;   /* canonical hashes proposed or told */
    cf_strategy_scorer scorer;
    cf_strategy_pool pool;  /* zero-cost ranked children and draws */
    cf_arch *kids;          /* (pool) scratch: a pool's children */
    int64_t *kid_parent;
} nsga2_state;

static void nsga2_destroy(void *state) {
    nsga2_state *g = state;
    if (!g) return;
    free(g->pop);
    free(g->obj);
    free(g->rank);
    free(g->crowd);
    free(g->front);
    free(g->pick);
    free(g->dist);
    cf_strategy_map_free(&g->seen);
    free(g->kids);
    free(g->kid_parent);
    free(g);
}

static cf_status nsga2_create(const cf_space *s, const cf_strategy_config *cfg, void **state) {
    double v[OPT_COUNT];
    CF_TRY(cf_strategy_options_parse("nsga2", cfg->options, options, OPT_COUNT, v));
    if (v[OPT_TOURNAMENT] > v[OPT_POPULATION])
        CF_FAIL(CF_ERR_INVALID_ARG, "strategy nsga2: tournament=%g is more than population=%g: a tournament draws "
                "distinct members", v[OPT_TOURNAMENT], v[OPT_POPULATION]);
    nsga2_state *g = calloc(1, sizeof *g);
    if (!g) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "strategy nsga2: no memory");
    g->space = s;
    g->seed = cfg->seed;
    g->k = cfg->n_objectives;
    g->population = (size_t)v[OPT_POPULATION];
    g->tournament = (size_t)v[OPT_TOURNAMENT];
    size_t cap = g->population + 1;
    g->pop = malloc(cap * sizeof *g->pop);
    g->obj = malloc(cap * (size_t)g->k * sizeof *g->obj);
    g->rank = malloc(cap * sizeof *g->rank);
    g->crowd = malloc(cap * sizeof *g->crowd);
    g->front = malloc(cap * sizeof *g->front);
    g->pick = malloc(cap * sizeof *g->pick);
    g->dist = malloc(cap * sizeof *g->dist);
    g->scorer = cfg->scorer;
    g->pool = (cf_strategy_pool){&g->scorer, cfg->pool};
    size_t kids = cfg->pool > 1 ? (size_t)cfg->pool : 1;
    g->kids = malloc(kids * sizeof *g->kids);
    g->kid_parent = malloc(kids * sizeof *g->kid_parent);
    if (!g->pop || !g->obj || !g->rank || !g->crowd || !g->front || !g->pick || !g->dist || !g->kids ||
        !g->kid_parent) {
        nsga2_destroy(g);
        CF_FAIL(CF_ERR_OUT_OF_MEMORY, "strategy nsga2: no memory for a population of %g", v[OPT_POPULATION]);
    }
    *state = g;
    return CF_OK;
}

/* Ranks and, front by front, crowding distances of the current members. */
static cf_status sort_population(nsga2_state *g) {
    if (!g->stale) return CF_OK;
    CF_TRY(cf_pareto_rank(g->obj, g->count, g->k, g->rank));
    for (int r = 0;; r++) {
        size_t m = 0;
        for (size_t i = 0; i < g->count; i++)
            if (g->rank[i] == r) g->front[m++] = i;
        if (m == 0) break;
        CF_TRY(cf_pareto_crowding(g->obj, g->k, g->front, m, g->dist));
        for (size_t t = 0; t < m; t++) g->crowd[g->front[t]] = g->dist[t];
    }
    g->stale = 0;
    return CF_OK;
}

/* 1 when member a goes before member b: lower rank, then more crowding, then older. */
static int better(const nsga2_state *g, size_t a, size_t b) {
    if (g->rank[a] != g->rank[b]) return g->rank[a] < g->rank[b];
    if (g->crowd[a] != g->crowd[b]) return g->crowd[a] > g->crowd[b];
    return a < b;
}

static size_t tournament(nsga2_state *g, cf_rng *rng) {
    for (size_t i = 0; i < g->count; i++) g->pick[i] = i;
    size_t best = SIZE_MAX;
    for (size_t i = 0; i < g->tournament; i++) {
        size_t j = i + cf_rng_below(rng, (uint32_t)(g->count - i));
        size_t t = g->pick[i];
        g->pick[i] = g->pick[j];
        g->pick[j] = t;
        if (best == SIZE_MAX || better(g, g->pick[i], best)) best = g->pick[i];
    }
    return best;
}

static cf_ask_result nsga2_ask(void *state, int64_t trial, cf_candidate *out) {
    nsga2_state *g = state;
    cf_rng rng = cf_strategy_rng(g->seed, trial);
    cf_arch a;
    if (g->count == g->population) {
        if (sort_population(g) != CF_OK) return cf_strategy_ask_failed("nsga2");
        /* one unproposed child, or with a pool the scorer's best of `pool` */
        size_t want = cf_strategy_pool_on(&g->pool) ? (size_t)g->pool.size : 1, got = 0;
        for (size_t t = 0; t < CHILD_TRIES * want && got < want; t++) {
            size_t p = tournament(g, &rng), q = tournament(g, &rng);
            cf_arch mixed;
            cf_arch_crossover(g->space, &rng, &g->pop[p].arch, &g->pop[q].arch, &mixed);
            if (cf_arch_mutate(g->space, &rng, &mixed, &a) != CF_OK) {
                cf_error_clear(); /* no neighbors: the crossover alone is the child */
                a = mixed;
            }
            uint64_t h = cf_arch_hash(g->space, &a);
            int dup = cf_strategy_map_find(&g->seen, h) != NULL;
            for (size_t i = 0; i < got && !dup; i++) dup = cf_arch_hash(g->space, &g->kids[i]) == h;
            if (dup) continue;
            g->kids[got] = a;
            g->kid_parent[got++] = g->pop[p].trial;
        }
        size_t best = 0;
        if (got && (cf_strategy_rank_best(&g->scorer, g->kids, got, &best) != CF_OK ||
                    cf_strategy_map_add(&g->seen, cf_arch_hash(g->space, &g->kids[best]), (cf_strategy_seen){NAN, trial},
                                        NULL) != CF_OK))
            return cf_strategy_ask_failed("nsga2");
        if (got) {
            cf_strategy_candidate(out, &g->kids[best], g->kid_parent[best]);
            return CF_ASK_OK;
        }
    }
    int found = 0;
    if (cf_strategy_sample_ranked(g->space, &g->pool, &rng, &g->seen, trial, &a, &found) != CF_OK)
        return cf_strategy_ask_failed("nsga2");
    if (!found) {
        CF_LOG_INFO("strategy nsga2: no new architecture in %d draws; the space looks exhausted",
                    CF_STRATEGY_SAMPLE_TRIES);
        return CF_ASK_DONE;
    }
    cf_strategy_candidate(out, &a, -1);
    return CF_ASK_OK;
}

static void nsga2_tell(void *state, int64_t trial, const cf_candidate *c, const cf_outcome *o) {
    nsga2_state *g = state;
    int ok = o->status == CF_OUTCOME_OK;
    for (int j = 0; j < g->k; j++) ok &= !isnan(o->objective[j]);
    if (cf_strategy_map_add(&g->seen, cf_arch_hash(g->space, &c->arch),
                            (cf_strategy_seen){ok ? o->objective[0] : INFINITY, trial}, NULL) != CF_OK)
        CF_LOG_ERROR("strategy nsga2: %s", cf_error_message());
    if (!ok) return;
    g->pop[g->count] = (member){trial, c->arch};
    memcpy(&g->obj[g->count * (size_t)g->k], o->objective, (size_t)g->k * sizeof *g->obj);
    g->count++;
    g->stale = 1;
    if (g->count <= g->population) return;
    if (sort_population(g) != CF_OK) {
        /* Cannot rank: drop the newcomer rather than keep too many. */
        CF_LOG_ERROR("strategy nsga2: %s", cf_error_message());
        g->count--;
        return;
    }
    size_t worst = 0;
    for (size_t i = 1; i < g->count; i++)
        if (better(g, worst, i)) worst = i;
    memmove(&g->pop[worst], &g->pop[worst + 1], (g->count - worst - 1) * sizeof *g->pop);
    memmove(&g->obj[worst * (size_t)g->k], &g->obj[(worst + 1) * (size_t)g->k],
            (g->count - worst - 1) * (size_t)g->k * sizeof *g->obj);
    g->count--;
    g->stale = 1;
}

static void nsga2_claim(void *state, int64_t trial, const cf_candidate *c) {
    nsga2_state *g = state;
    if (cf_strategy_map_add(&g->seen, cf_arch_hash(g->space, &c->arch), (cf_strategy_seen){NAN, trial}, NULL) != CF_OK)
        CF_LOG_ERROR("strategy nsga2: %s", cf_error_message());
}

const cf_strategy_ops cf_strategy_nsga2 = {
    .name = "nsga2",
    .doc = "steady-state NSGA-II over every objective: tournaments of tournament=2 by rank then "
                     "crowding among population=50, child = crossover + mutation, the worst by rank and crowding "
                     "goes",
    .create = nsga2_create,
    .destroy = nsga2_destroy,
    .ask = nsga2_ask,
    .tell = nsga2_tell,
    .claim = nsga2_claim,
};
