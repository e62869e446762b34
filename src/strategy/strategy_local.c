/* strategy_local.c - local search with restarts (steepest descent), the
 * simple method White et al. 2020 found competitive on NAS benchmarks.
 *
 * Start from a uniform random arch (the center), evaluate every neighbor of
 * it (cf_arch_neighbors: one op, input or edge changed), move to the best
 * neighbor if it beats the center, and repeat; at a local optimum, restart
 * from a new random arch. No canonical arch is proposed twice: a neighbor met
 * before (in an earlier neighborhood, or as a duplicate of another neighbor)
 * takes its known result, or is waited for while it is in flight.
 *
 * Asynchronous use: neighbors are asked in an order drawn from the asking
 * trial's stream, also before the center's own result is back, so several
 * trials run at once; when every neighbor is asked but some result is
 * missing, ask answers CF_ASK_WAIT. The move is decided on the first ask
 * after the last of them is told, so the trajectory depends only on the seed,
 * the trial ids and the order of asks and tells.
 *
 * With a zero-cost pool (pool > 1 in cf_strategy_config) a restart starts
 * from the scorer's best of `pool` unproposed draws.
 *
 * Only objective 0 is used; FAILED and REJECTED results count as +inf. No
 * options. CF_ASK_DONE once a restart finds no unproposed arch in
 * CF_STRATEGY_SAMPLE_TRIES draws.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cellforge/grow.h"
#include "cellforge/log.h"
#include "strategy_impl.h"

typedef struct neighbor {
    uint64_t hash;  /* canonical */
    cf_arch arch;
} neighbor;

typedef struct local_state {
    const cf_space *space;   /* borrowed */
    uint64_t seed;
    int done;                /* no unproposed arch left to restart from */
    cf_strategy_map known;   /* canonical hash -> result (NaN while in flight) */
    cf_strategy_scorer scorer;
    cf_strategy_pool pool;   /* zero-cost ranked restarts */
    int have_center;
    cf_arch center;
    uint64_t center_hash;
    int64_t center_trial;
    int built;               /* nb holds the center's neighborhood */
    neighbor *nb;            /* the neighborhood in visiting order */
    cf_arch *archs;          /* cf_arch_neighbors' output, copied into nb */
    size_t n_nb, nb_cap, next; /* neighbors, capacity of nb and archs, first not yet considered */
    size_t moves, restarts;
} local_state;

static cf_status local_create(const cf_space *s, const cf_strategy_config *cfg, void **state) {
    CF_TRY(cf_strategy_options_parse("local", cfg->options, NULL, 0, NULL));
    local_state *l = calloc(1, sizeof *l);
    if (!l) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "strategy local: no memory");
    l->space = s;
    l->seed = cfg->seed;
    l->scorer = cfg->scorer;
    l->pool = (cf_strategy_pool){&l->scorer, cfg->pool};
    *state = l;
    return CF_OK;
}

static void local_destroy(void *state) {
    local_state *l = state;
    if (!l) return;
    cf_strategy_map_free(&l->known);
    free(l->nb);
    free(l->archs);
    free(l);
}

/* The center's neighbors with their hashes, shuffled by rng. */
static cf_status build(local_state *l, cf_rng *rng) {
    size_t n = cf_arch_neighbors(l->space, &l->center, NULL, 0);
    if (n > l->nb_cap) {
        /* two arrays of one capacity: both grow before it moves */
        size_t cap_nb = l->nb_cap, cap_archs = l->nb_cap;
        if (cf_grow((void **)&l->nb, &cap_nb, n, sizeof *l->nb) != CF_OK ||
            cf_grow((void **)&l->archs, &cap_archs, n, sizeof *l->archs) != CF_OK)
            CF_FAIL(CF_ERR_OUT_OF_MEMORY, "no memory for %zu neighbors", n);
        l->nb_cap = cap_nb < cap_archs ? cap_nb : cap_archs;
    }
    cf_arch_neighbors(l->space, &l->center, l->archs, n);
    for (size_t i = 0; i < n; i++) {
        l->nb[i].arch = l->archs[i];
        l->nb[i].hash = cf_arch_hash(l->space, &l->archs[i]);
    }
    for (size_t i = 0; i + 1 < n; i++) {
        size_t j = i + cf_rng_below(rng, (uint32_t)(n - i));
        neighbor t = l->nb[i];
        l->nb[i] = l->nb[j];
        l->nb[j] = t;
    }
    l->n_nb = n;
    l->next = 0;
    l->built = 1;
    return CF_OK;
}

/* Every neighbor is asked or known: move to the best one if it beats the
 * center, else give the center up (a restart follows). 0 while a result is missing. */
static int decide(local_state *l) {
    const cf_strategy_seen *c = cf_strategy_map_find(&l->known, l->center_hash);
    if (!c || isnan(c->objective)) return 0;
    const cf_strategy_seen *best = NULL;
    const neighbor *best_nb = NULL;
    for (size_t i = 0; i < l->n_nb; i++) {
        const cf_strategy_seen *r = cf_strategy_map_find(&l->known, l->nb[i].hash);
        if (!r || isnan(r->objective)) return 0;
        if (!best || r->objective < best->objective) {
            best = r;
            best_nb = &l->nb[i];
        }
    }
    if (best && best->objective < c->objective) {
        l->center = best_nb->arch;
        l->center_hash = best_nb->hash;
        l->center_trial = best->trial;
        l->moves++;
    } else {
        l->have_center = 0;
        l->restarts++;
    }
    l->built = 0;
    return 1;
}

static cf_ask_result local_ask(void *state, int64_t trial, cf_candidate *out) {
    local_state *l = state;
    if (l->done) return CF_ASK_DONE;
    cf_rng rng = cf_strategy_rng(l->seed, trial);
    /* Each pass either returns, moves to a strictly better center or consumes
     * an unproposed arch as a new center, so the loop ends. */
    for (;;) {
        if (!l->have_center) {
            int found = 0;
            if (cf_strategy_sample_ranked(l->space, &l->pool, &rng, &l->known, trial, &l->center, &found) != CF_OK)
                return cf_strategy_ask_failed("local");
            if (!found) {
                CF_LOG_INFO("strategy local: no new architecture to restart from in %d draws after %zu moves and "
                            "%zu restarts; the space looks exhausted",
                            CF_STRATEGY_SAMPLE_TRIES, l->moves, l->restarts);
                l->done = 1;
                return CF_ASK_DONE;
            }
            l->have_center = 1;
            l->center_hash = cf_arch_hash(l->space, &l->center);
            l->center_trial = trial;
            l->built = 0;
            cf_strategy_candidate(out, &l->center, -1);
            return CF_ASK_OK;
        }
        if (!l->built && build(l, &rng) != CF_OK) return cf_strategy_ask_failed("local");
        while (l->next < l->n_nb) {
            const neighbor *n = &l->nb[l->next++];
            int added = 0;
            if (cf_strategy_map_add(&l->known, n->hash, (cf_strategy_seen){NAN, trial}, &added) != CF_OK)
                return cf_strategy_ask_failed("local");
            if (!added) continue; /* proposed before: its result is (or will be) known */
            cf_strategy_candidate(out, &n->arch, l->center_trial);
            return CF_ASK_OK;
        }
        if (!decide(l)) return CF_ASK_WAIT;
    }
}

static void local_tell(void *state, int64_t trial, const cf_candidate *c, const cf_outcome *o) {
    local_state *l = state;
    double v = o->status == CF_OUTCOME_OK && isfinite(o->objective[0]) ? o->objective[0] : INFINITY;
    uint64_t h = cf_arch_hash(l->space, &c->arch);
    cf_strategy_seen *r = cf_strategy_map_find(&l->known, h);
    if (r) {
        if (isnan(r->objective)) r->objective = v; /* a second result of one arch: keep the first */
        return;
    }
    if (cf_strategy_map_add(&l->known, h, (cf_strategy_seen){v, trial}, NULL) != CF_OK)
        CF_LOG_ERROR("strategy local: %s", cf_error_message());
}

static void local_claim(void *state, int64_t trial, const cf_candidate *c) {
    local_state *l = state;
    if (cf_strategy_map_add(&l->known, cf_arch_hash(l->space, &c->arch), (cf_strategy_seen){NAN, trial}, NULL) !=
        CF_OK)
        CF_LOG_ERROR("strategy local: %s", cf_error_message());
}

const cf_strategy_ops cf_strategy_local = {
    .name = "local",
    .doc = "local search: evaluate every neighbor of the incumbent, move to the best improving one, "
                     "restart at random at a local optimum; objective 0 only; no options",
    .create = local_create,
    .destroy = local_destroy,
    .ask = local_ask,
    .tell = local_tell,
    .claim = local_claim,
};
