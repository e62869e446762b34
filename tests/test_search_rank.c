/* test_search_rank.c - zero-cost ranking in the strategies (strategy_rank.c):
 * the rank order of one score and of a vote, the warm-up (the first proposals
 * are the scorer's best of the archs it drew, best first, never proposed
 * again), pools (each proposal is the best of the candidates scored for it,
 * and a pool of one changes nothing), bananas' score features, settings that
 * are refused, determinism, and that a warm-up by a proxy correlated with the
 * objective finds better cells at a small budget than no warm-up.
 *
 *   ctest --test-dir build -R test_search_rank --output-on-failure
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/strategy/strategy_impl.h"
#include "cellforge/strategy.h"
#include "cellforge/space.h"
#include "check.h"
#include "search_sim.h"

/* ---- scorers ------------------------------------------------------------------- */

#define REC_MAX 100000

/* A scorer that records what it scored: the synthetic error's negative (a
 * perfect proxy), or with `noise` plus that much of a hash-drawn uniform term,
 * and a second score (the canonical hash's top bits) for votes. */
typedef struct recorder {
    const cf_space *s;
    double noise;
    int fail_mod;          /* > 0: hash % fail_mod == 0 fails */
    size_t n;
    uint64_t hash[REC_MAX];
    double value[REC_MAX];
} recorder;

static double proxy_of(const recorder *r, const cf_arch *a) {
    uint64_t h = cf_arch_hash(r->s, a);
    return -synthetic(r->s, a) + r->noise * unit_of_hash(h * 0x2545F4914F6CDD1Dull);
}

static cf_status record_fn(void *ctx, const cf_arch *a, double *scores) {
    recorder *r = ctx;
    uint64_t h = cf_arch_hash(r->s, a);
    if (r->fail_mod > 0 && h % (uint64_t)r->fail_mod == 0) CF_FAIL(CF_ERR_INVALID_ARG, "injected failure");
    scores[0] = proxy_of(r, a);
    if (r->n < REC_MAX) {
        r->hash[r->n] = h;
        r->value[r->n++] = scores[0];
    }
    return CF_OK;
}

/* ---- rank order ----------------------------------------------------------------- */

typedef struct table_scorer {
    const double *v;       /* (n, k) scores of the archs, found by their node_op[1] tag */
    int k;
} table_scorer;

static cf_status table_fn(void *ctx, const cf_arch *a, double *scores) {
    const table_scorer *t = ctx;
    int i = a->cell[0].node_op[1];
    if (i < 0) CF_FAIL(CF_ERR_INVALID_ARG, "no such arch");
    for (int j = 0; j < t->k; j++) scores[j] = t->v[i * t->k + j];
    return CF_OK;
}

static void rank_rules(void) {
    cf_arch archs[5];
    memset(archs, 0, sizeof archs);
    for (int i = 0; i < 5; i++) archs[i].cell[0].node_op[1] = (int8_t)i;
    size_t order[5];
    /* one score: highest first, NaN and -inf last, ties in draw order */
    const double one[5] = {3, NAN, 7, 3, -INFINITY};
    table_scorer t1 = {one, 1};
    cf_strategy_scorer sc1 = {table_fn, &t1, 1};
    CHECK_OK(cf_strategy_rank(&sc1, archs, 5, order));
    const size_t expect1[5] = {2, 0, 3, 1, 4};
    for (int i = 0; i < 5; i++) CHECK(order[i] == expect1[i], "one score: order[%d] = %zu, expected %zu", i, order[i], expect1[i]);
    size_t best = 9;
    CHECK_OK(cf_strategy_rank_best(&sc1, archs, 5, &best));
    CHECK(best == 2, "best %zu", best);
    /* a vote: mean ranks. Score a ranks (1..5) 5,4,3,2,1; score b ranks 1,5,4,3,2;
     * means 3, 4.5, 3.5, 2.5, 1.5 -> order 1, 2, 0, 3, 4 */
    const double two[10] = {50, 1, 40, 100, 30, 90, 20, 80, 10, 70};
    table_scorer t2 = {two, 2};
    cf_strategy_scorer sc2 = {table_fn, &t2, 2};
    CHECK_OK(cf_strategy_rank(&sc2, archs, 5, order));
    const size_t expect2[5] = {1, 2, 0, 3, 4};
    for (int i = 0; i < 5; i++) CHECK(order[i] == expect2[i], "vote: order[%d] = %zu, expected %zu", i, order[i], expect2[i]);
    /* a failed score ranks last */
    archs[2].cell[0].node_op[1] = -1;
    CHECK_OK(cf_strategy_rank(&sc1, archs, 5, order));
    CHECK(order[0] == 0 && order[1] == 3, "after a failure: %zu %zu", order[0], order[1]);
    /* no scorer: the identity */
    CHECK_OK(cf_strategy_rank(NULL, archs, 5, order));
    for (int i = 0; i < 5; i++) CHECK(order[i] == (size_t)i, "no scorer: order[%d] = %zu", i, order[i]);
}

/* ---- refused settings ----------------------------------------------------------- */

static void refused(const cf_space *s) {
    static recorder rec;
    rec.s = s;
    cf_strategy_config cfg;
    cf_strategy *st = NULL;
    cf_strategy_config_default(&cfg);
    cfg.warmup = 10;
    CHECK(cf_strategy_create("evolution", s, &cfg, &st) == CF_ERR_INVALID_ARG && !st, "a warm-up without a scorer");
    cfg.warmup = 0;
    cfg.pool = 4;
    CHECK(cf_strategy_create("random", s, &cfg, &st) == CF_ERR_INVALID_ARG && !st, "a pool without a scorer");
    cf_strategy_config_default(&cfg);
    cfg.scorer = (cf_strategy_scorer){record_fn, &rec, 1};
    cfg.warmup = 10;
    const char *const no_warmup[] = {"grid", "sh", "hyperband", "asha"};
    for (int i = 0; i < 4; i++) {
        CHECK(cf_strategy_create(no_warmup[i], s, &cfg, &st) == CF_ERR_INVALID_ARG && !st, "%s took a warm-up",
              no_warmup[i]);
        CHECK(strstr(cf_error_message(), "warm-up") != NULL, "%s: message %s", no_warmup[i], cf_error_message());
    }
    cfg.warmup = 0;
    cfg.warmup_keep = 3;
    CHECK(cf_strategy_create("random", s, &cfg, &st) == CF_ERR_INVALID_ARG && !st, "keep without a warm-up");
    cfg.warmup_keep = 0;
    cfg.scorer.n_scores = CF_STRATEGY_MAX_SCORES + 1;
    CHECK(cf_strategy_create("random", s, &cfg, &st) == CF_ERR_INVALID_ARG && !st, "too many scores");
    cfg.scorer.n_scores = 1;
    cfg.pool = 4;
    snprintf(cfg.options, sizeof cfg.options, "dedup=0");
    CHECK(cf_strategy_create("evolution", s, &cfg, &st) == CF_ERR_INVALID_ARG && !st, "evolution pool with dedup=0");
    cf_error_clear();
}

/* ---- warm-up -------------------------------------------------------------------- */

static int by_desc(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return a > b ? -1 : a < b;
}

static void warmup_rules(const cf_space *s, const char *strategy) {
    static recorder rec;
    memset(&rec, 0, sizeof rec);
    rec.s = s;
    rec.noise = 0.2;
    sim_rank rank = {{record_fn, &rec, 1}, 60, 8, 0};
    sim m = {strategy, "", 5, 200, 3, 11, 0, 1, 0, 0};
    static sim_log log;
    run_sim_ranked(s, &m, &rank, &log);
    CHECK(log.asked == 200, "%s: %d asks", strategy, log.asked);
    /* the first score calls are the warm-up's 60 distinct draws */
    CHECK(rec.n >= 60, "%s: %zu scores", strategy, rec.n);
    uint64_t hashes[60];
    memcpy(hashes, rec.hash, sizeof hashes);
    CHECK(count_distinct(hashes, 60) == 60, "%s: the warm-up drew a cell twice", strategy);
    double top[60];
    memcpy(top, rec.value, sizeof top);
    qsort(top, 60, sizeof *top, by_desc);
    for (int i = 0; i < 8; i++) {
        double v = NAN;
        for (int j = 0; j < 60; j++)
            if (rec.hash[j] == log.hash[i]) v = rec.value[j];
        CHECK(v == top[i], "%s: proposal %d scores %g, the warm-up's %d-th best %g", strategy, i, v, i + 1, top[i]);
        CHECK(log.parent[i] == -1, "%s: warm-up proposal %d has parent %lld", strategy, i, (long long)log.parent[i]);
    }
    uint64_t all[200];
    memcpy(all, log.hash, sizeof all);
    CHECK(count_distinct(all, 200) == 200, "%s: a cell was proposed twice with a warm-up", strategy);
    /* the same run again: the same proposals */
    static sim_log again;
    rec.n = 0;
    run_sim_ranked(s, &m, &rank, &again);
    CHECK(same_log(&log, &again), "%s: a warm-up run is not repeatable", strategy);
}

/* ---- pools ---------------------------------------------------------------------- */

/* random with a pool: each proposal is the best of what was scored for it. */
static void pool_rules(const cf_space *s) {
    static recorder rec;
    memset(&rec, 0, sizeof rec);
    rec.s = s;
    rec.noise = 0.5;
    cf_strategy_config cfg;
    cf_strategy_config_default(&cfg);
    cfg.seed = 3;
    cfg.scorer = (cf_strategy_scorer){record_fn, &rec, 1};
    cfg.pool = 6;
    cf_strategy *st = NULL;
    CHECK_OK(cf_strategy_create("random", s, &cfg, &st));
    for (int64_t t = 0; st && t < 50; t++) {
        size_t before = rec.n;
        cf_candidate c;
        CHECK(cf_strategy_ask(st, t, &c) == CF_ASK_OK, "random pool ask %lld", (long long)t);
        CHECK(rec.n - before == 6, "ask %lld scored %zu candidates", (long long)t, rec.n - before);
        double best = -INFINITY, mine = proxy_of(&rec, &c.arch);
        for (size_t i = before; i < rec.n; i++) best = rec.value[i] > best ? rec.value[i] : best;
        CHECK(mine == best, "ask %lld: proposal scores %g, best of its pool %g", (long long)t, mine, best);
    }
    cf_strategy_destroy(st);
    /* a pool of one ranks nothing: the proposals without a scorer */
    static sim_log plain, one;
    const char *const names[] = {"random", "evolution", "local", "nsga2"};
    for (int i = 0; i < 4; i++) {
        sim m = {names[i], "", 9, 120, 2, 5, 0, 1, 0, 0};
        run_sim(s, &m, &plain);
        sim_rank rank = {{record_fn, &rec, 1}, 0, 0, 1};
        rec.n = 0;
        run_sim_ranked(s, &m, &rank, &one);
        CHECK(same_log(&plain, &one), "%s: a pool of one changed the proposals", names[i]);
        CHECK(rec.n == 0, "%s: a pool of one scored %zu archs", names[i], rec.n);
        /* a real pool: no repeats, repeatable, scores were used */
        sim_rank pool = {{record_fn, &rec, 1}, 0, 0, 5};
        rec.n = 0;
        run_sim_ranked(s, &m, &pool, &one);
        CHECK(rec.n > 0, "%s: a pool of 5 scored nothing", names[i]);
        uint64_t h[120];
        memcpy(h, one.hash, sizeof h);
        CHECK(count_distinct(h, (size_t)one.asked) == (size_t)one.asked, "%s: a pool proposed a cell twice", names[i]);
        run_sim_ranked(s, &m, &pool, &plain);
        CHECK(same_log(&plain, &one), "%s: a pool run is not repeatable", names[i]);
    }
    /* failures rank last but do not stop the search */
    rec.fail_mod = 3;
    sim m = {"evolution", "population=10,sample=3", 4, 80, 1, 0, 0, 1, 0, 0};
    sim_rank pool = {{record_fn, &rec, 1}, 30, 5, 4};
    run_sim_ranked(s, &m, &pool, &one);
    CHECK(one.asked == 80, "evolution with failing scores: %d asks", one.asked);
    cf_error_clear();
}

/* bananas with score features: it fits and proposes as usual. */
static void bananas_features(const cf_space *s) {
    static recorder rec;
    memset(&rec, 0, sizeof rec);
    rec.s = s;
    rec.noise = 0.1;
    sim m = {"bananas", "init=10,candidates=20,steps=50", 2, 60, 1, 0, 0, 1, 0, 0};
    sim_rank rank = {{record_fn, &rec, 1}, 0, 0, 0};
    static sim_log log;
    run_sim_ranked(s, &m, &rank, &log);
    CHECK(log.asked == 60, "bananas with features: %d asks", log.asked);
    CHECK(rec.n > 60, "bananas scored only %zu archs", rec.n);
    uint64_t h[60];
    memcpy(h, log.hash, sizeof h);
    CHECK(count_distinct(h, 60) == 60, "bananas with features proposed a cell twice");
}

/* A warm-up by a noisy proxy of the objective: better cells at 30 trials,
 * over 20 seeds (the synthetic error has steps of 1/6; the proxy's noise is
 * 0.3, so it misorders many cells). */
static void warmup_helps(const cf_space *s) {
    static recorder rec;
    double with = 0, without = 0;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        memset(&rec, 0, sizeof rec);
        rec.s = s;
        rec.noise = 0.3;
        sim m = {"evolution", "population=10,sample=3", seed, 30, 1, 0, 0, 1, 0, 0};
        static sim_log a, b;
        run_sim(s, &m, &a);
        sim_rank rank = {{record_fn, &rec, 1}, 300, 10, 0};
        run_sim_ranked(s, &m, &rank, &b);
        without += a.best / 20;
        with += b.best / 20;
    }
    printf("evolution, 30 trials, mean best synthetic error over 20 seeds: %.4f without, %.4f with a warm-up\n",
           without, with);
    CHECK(with < without - 1.0 / 12, "a warm-up did not help: %.4f with, %.4f without", with, without);
}

int main(int argc, char **argv) {
    sim_spaces sp;
    sim_spaces_load(argc, argv, "test_search_rank", &sp);
    cf_space *nb201 = sp.all[0];
    rank_rules();
    refused(nb201);
    const char *const warm[] = {"evolution", "random", "local", "bananas", "nsga2"};
    for (int i = 0; i < 5; i++) warmup_rules(nb201, warm[i]);
    pool_rules(nb201);
    bananas_features(nb201);
    warmup_helps(nb201);
    sim_spaces_free(&sp);
    return test_finish("test_search_rank");
}
