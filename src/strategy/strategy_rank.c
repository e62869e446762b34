/* strategy_rank.c - zero-cost ranking of proposals: a scorer (strategy.h,
 * cf_strategy_scorer) orders candidates before any is trained.
 *
 * Three uses, all optional and all off unless a scorer is configured:
 *   - the warm-up (Abdelfattah et al., ICLR 2021, section 5): before the first
 *     proposal, `warmup` distinct uniform archs are scored and the best
 *     `warmup_keep` are proposed first, best first; the strategy is told their
 *     results like any others and goes on from there;
 *   - pools: a strategy's uniform draw or mutation draws `pool` distinct
 *     candidates never proposed and keeps the scorer's best;
 *   - features: bananas appends the scores to its surrogate's inputs.
 *
 * Ranking: with one score, higher is better; with several (a vote), each
 * candidate's ranks under each score (ties share their mean rank) are
 * averaged and the highest mean wins. A failed or non-finite score ranks below
 * every finite one. Ties keep the draw order, so the choice depends only on
 * the scores, which depend only on the arch: proposals stay a function of the
 * seed, the trial ids and the order of asks and tells, and a resumed run
 * replays them (the command line journals every score, so a resume reads them
 * back instead of computing them again).
 *
 * Tests: tests/test_search.c (ctest -R test_search).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cellforge/log.h"
#include "cellforge/thread.h"
#include "strategy_impl.h"

/* The warm-up's draws: a stream no trial reaches, beside the setup stream. */
#define WARMUP_TRIAL (CF_STRATEGY_SETUP_TRIAL - 1)

typedef struct scored {
    double value;
    size_t index;
} scored;

static int by_value(const void *x, const void *y) {
    const scored *a = x, *b = y;
    if (a->value != b->value) return a->value < b->value ? -1 : 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

/* Mean-of-ties ranks (1 = lowest) of n values in v (non-finite lowest) added into rank. */
static void add_ranks(const double *v, size_t stride, size_t n, scored *tmp, double *rank) {
    for (size_t i = 0; i < n; i++) {
        double x = v[i * stride];
        tmp[i] = (scored){isfinite(x) ? x : -INFINITY, i};
    }
    qsort(tmp, n, sizeof *tmp, by_value);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && tmp[j + 1].value == tmp[i].value) j++;
        double mean = 0.5 * (double)(i + j) + 1;
        for (size_t k = i; k <= j; k++) rank[tmp[k].index] += mean;
        i = j + 1;
    }
}

static int by_rank_desc(const void *x, const void *y) {
    const scored *a = x, *b = y;
    if (a->value != b->value) return a->value > b->value ? -1 : 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

cf_status cf_strategy_rank(const cf_strategy_scorer *sc, const cf_arch *archs, size_t n, size_t *order) {
    for (size_t i = 0; i < n; i++) order[i] = i;
    if (!sc || !sc->fn || n <= 1) return CF_OK;
    int k = sc->n_scores;
    CF_ASSERT(k >= 1 && k <= CF_STRATEGY_MAX_SCORES);
    double *v = malloc(n * (size_t)k * sizeof *v), *rank = calloc(n, sizeof *rank);
    scored *tmp = malloc(n * sizeof *tmp);
    if (!v || !rank || !tmp) {
        free(v);
        free(rank);
        free(tmp);
        CF_FAIL(CF_ERR_OUT_OF_MEMORY, "no memory to rank %zu candidates", n);
    }
    for (size_t i = 0; i < n; i++) {
        if (sc->fn(sc->ctx, &archs[i], &v[i * (size_t)k]) != CF_OK) {
            CF_LOG_WARN("zero-cost score failed (the candidate ranks last): %s", cf_error_message());
            cf_error_clear();
            for (int j = 0; j < k; j++) v[i * (size_t)k + (size_t)j] = NAN;
        }
    }
    for (int j = 0; j < k; j++) add_ranks(v + j, (size_t)k, n, tmp, rank);
    for (size_t i = 0; i < n; i++) tmp[i] = (scored){rank[i], i};
    qsort(tmp, n, sizeof *tmp, by_rank_desc);
    for (size_t i = 0; i < n; i++) order[i] = tmp[i].index;
    free(v);
    free(rank);
    free(tmp);
    return CF_OK;
}

cf_status cf_strategy_rank_best(const cf_strategy_scorer *sc, const cf_arch *archs, size_t n, size_t *best) {
    *best = 0;
    if (!sc || !sc->fn || n <= 1) return CF_OK;
    size_t *order = malloc(n * sizeof *order);
    if (!order) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "no memory to rank %zu candidates", n);
    cf_status st = cf_strategy_rank(sc, archs, n, order);
    if (st == CF_OK) *best = order[0];
    free(order);
    return st;
}

int cf_strategy_pool_on(const cf_strategy_pool *p) {
    return p && p->scorer && p->scorer->fn && p->size > 1;
}

cf_status cf_strategy_sample_ranked(const cf_space *s, const cf_strategy_pool *pool, cf_rng *rng,
                                    cf_strategy_map *seen, int64_t trial, cf_arch *out, int *found) {
    if (!cf_strategy_pool_on(pool)) return cf_strategy_sample_unseen(s, rng, seen, trial, out, found);
    *found = 0;
    size_t n = 0, cap = (size_t)pool->size;
    cf_arch *cand = malloc(cap * sizeof *cand);
    uint64_t *hash = malloc(cap * sizeof *hash);
    if (!cand || !hash) {
        free(cand);
        free(hash);
        CF_FAIL(CF_ERR_OUT_OF_MEMORY, "no memory for a pool of %zu", cap);
    }
    /* distinct unproposed archs; a run of duplicates as long as the plain
     * sampler's means the space has no more */
    for (int misses = 0; n < cap && misses < CF_STRATEGY_SAMPLE_TRIES;) {
        cf_arch_sample(s, rng, &cand[n]);
        uint64_t h = cf_arch_hash(s, &cand[n]);
        int dup = cf_strategy_map_find(seen, h) != NULL;
        for (size_t i = 0; i < n && !dup; i++) dup = hash[i] == h;
        if (dup) {
            misses++;
            continue;
        }
        misses = 0;
        hash[n++] = h;
    }
    size_t best = 0;
    cf_status st = n ? cf_strategy_rank_best(pool->scorer, cand, n, &best) : CF_OK;
    if (st == CF_OK && n) st = cf_strategy_map_add(seen, hash[best], (cf_strategy_seen){NAN, trial}, NULL);
    if (st == CF_OK && n) {
        *out = cand[best];
        *found = 1;
    }
    free(cand);
    free(hash);
    return st;
}

/* ---- the warm-up -------------------------------------------------------------- */

void cf_strategy_warmup_free(cf_strategy *st) {
    free(st->warm);
    st->warm = NULL;
    st->n_warm = st->next_warm = 0;
}

/* Score `warmup` distinct uniform archs and keep the best warmup_keep, best first. */
static cf_status warmup_prepare(cf_strategy *st) {
    size_t want = (size_t)st->warmup, n = 0;
    cf_arch *pool = malloc(want * sizeof *pool);
    size_t *order = malloc(want * sizeof *order);
    cf_strategy_map drawn = {0};
    cf_status status = pool && order ? CF_OK : CF_ERR_OUT_OF_MEMORY;
    if (status != CF_OK) cf_error_set(status, __FILE__, __LINE__, "warm-up: no memory for %zu archs", want);
    cf_rng rng = cf_strategy_rng(st->seed, WARMUP_TRIAL);
    for (int misses = 0; status == CF_OK && n < want && misses < CF_STRATEGY_SAMPLE_TRIES;) {
        cf_arch_sample(st->space, &rng, &pool[n]);
        int added = 0;
        status = cf_strategy_map_add(&drawn, cf_arch_hash(st->space, &pool[n]), (cf_strategy_seen){NAN, 0}, &added);
        if (added) {
            n++;
            misses = 0;
        } else {
            misses++;
        }
    }
    if (status == CF_OK) {
        double t0 = cf_time_now();
        status = cf_strategy_rank(&st->scorer, pool, n, order);
        if (status == CF_OK)
            CF_LOG_INFO("zero-cost warm-up: scored %zu archs in %.1f s; the best %d are proposed first", n,
                        cf_time_now() - t0, st->warmup_keep < (int)n ? st->warmup_keep : (int)n);
    }
    size_t keep = (size_t)st->warmup_keep < n ? (size_t)st->warmup_keep : n;
    if (status == CF_OK) {
        st->warm = malloc((keep ? keep : 1) * sizeof *st->warm);
        if (!st->warm) status = cf_error_set(CF_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, "warm-up: no memory");
    }
    for (size_t i = 0; status == CF_OK && i < keep; i++) st->warm[i] = pool[order[i]];
    if (status == CF_OK) st->n_warm = keep;
    cf_strategy_map_free(&drawn);
    free(pool);
    free(order);
    return status;
}

int cf_strategy_warmup_next(cf_strategy *st, int64_t trial, cf_candidate *out) {
    if (st->warmup <= 0) return 0;
    if (!st->warm_ready) {
        st->warm_ready = 1;
        if (warmup_prepare(st) != CF_OK) {
            CF_LOG_ERROR("zero-cost warm-up skipped: %s", cf_error_message());
            cf_error_clear();
            return 0;
        }
    }
    if (st->next_warm >= st->n_warm) return 0;
    cf_strategy_candidate(out, &st->warm[st->next_warm++], -1);
    st->ops->claim(st->state, trial, out);
    return 1;
}
