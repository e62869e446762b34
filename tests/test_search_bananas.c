/* test_search_bananas.c - the model-based strategy: random archs until `init`
 * results, proposals mutated from the best results, a refit only when
 * results arrived, no repeats in any space, failures, many trials in flight,
 * an exhausted space, determinism, objective 0 only, and the synthetic NB201
 * objective of search_sim.h, on which it must beat random search.
 *
 * The mechanics run with a small ensemble, few steps and few candidates
 * (ensemble=2, steps=20, candidates=20), which changes nothing but the
 * quality of the proposals and keeps the test fast (a DARTS mutation
 * enumerates hundreds of neighbors); the comparison with random search runs
 * the defaults.
 *
 *   ctest --test-dir build -R test_search_bananas --output-on-failure
 *   build/tests/test_search_bananas SPACES_DIR
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

#define CHEAP "ensemble=2,steps=20,candidates=20"


/* Drive bananas by hand: `init` random proposals (parent -1, also with all of
 * them in flight), then proposals whose parent, when they have one, is among
 * the `parents` best results told so far; a fit per ask that follows new
 * results and none otherwise. */
static void rules(const cf_space *s) {
    enum { TRIALS = 60, INIT = 10, PARENTS = 4 };
    cf_strategy_config cfg;
    cf_strategy_config_default(&cfg);
    cfg.seed = 3;
    snprintf(cfg.options, sizeof cfg.options, "%s,init=%d,parents=%d", CHEAP, INIT, PARENTS);
    cf_strategy *st = NULL;
    CHECK_OK(cf_strategy_create("bananas", s, &cfg, &st));
    if (!st) return;
    static cf_candidate c[TRIALS];
    double told[TRIALS];
    int n_told = 0, t = 0, mutants = 0;
    /* Twice init asks before any result: all random. */
    for (; t < 2 * INIT; t++) {
        CHECK(cf_strategy_ask(st, t, &c[t]) == CF_ASK_OK, "ask %d", t);
        CHECK(c[t].parent == -1, "trial %d before any result has parent %lld", t, (long long)c[t].parent);
    }
    CHECK(cf_strategy_bananas_fits(st) == 0, "%zu fits before any result", cf_strategy_bananas_fits(st));
    /* Results of the first init trials: the next ask fits once, and asks
     * without new results in between fit no more. */
    for (; n_told < INIT; n_told++) {
        cf_outcome o = outcome_of(s, &c[n_told].arch, 0);
        told[n_told] = o.objective[0];
        cf_strategy_tell(st, n_told, &c[n_told], &o);
    }
    for (int k = 0; k < 5; k++, t++) CHECK(cf_strategy_ask(st, t, &c[t]) == CF_ASK_OK, "ask %d", t);
    CHECK(cf_strategy_bananas_fits(st) == 1, "%zu fits after 5 asks on the same 10 results",
          cf_strategy_bananas_fits(st));
    /* One at a time: every ask after a tell fits again. */
    for (; t < TRIALS; t++) {
        cf_outcome o = outcome_of(s, &c[n_told].arch, 0);
        told[n_told] = o.objective[0];
        cf_strategy_tell(st, n_told, &c[n_told], &o);
        n_told++;
        size_t fits = cf_strategy_bananas_fits(st);
        CHECK(cf_strategy_ask(st, t, &c[t]) == CF_ASK_OK, "ask %d", t);
        CHECK(cf_strategy_bananas_fits(st) == fits + 1, "trial %d: no fit after a new result", t);
        int64_t p = c[t].parent;
        if (p < 0) continue;
        mutants++;
        int better = 0;
        for (int i = 0; i < n_told; i++) better += told[i] < told[p] || (told[i] == told[p] && i < p);
        CHECK(p < n_told && better < PARENTS, "trial %d: parent %lld is #%d of the results, not one of the %d best",
              t, (long long)p, better, PARENTS);
    }
    CHECK(mutants > (TRIALS - 3 * INIT) / 2, "only %d of %d proposals were mutants", mutants, TRIALS - 3 * INIT);
    CHECK(cf_strategy_bananas_fits(NULL) == 0, "fits of NULL");
    cf_strategy_destroy(st);
}

/* No repeats in any space, with failures, rejections and results in any
 * order; an exhausted space ends with DONE; the same seed and tell order give
 * the same proposals; a second objective changes nothing. */
static void mechanics(const cf_space *const *spaces, size_t n_spaces, const cf_space *tiny) {
    static sim_log log, other;
    for (size_t k = 0; k < n_spaces; k++) {
        sim m = {"bananas", CHEAP, 5, 120, 8, 3, 5, 1, 1, 0};
        run_sim(spaces[k], &m, &log);
        CHECK(log.asked == 120, "bananas on %s: %d trials", spaces[k]->name, log.asked);
        CHECK(count_distinct(log.hash, (size_t)log.asked) == (size_t)log.asked, "bananas on %s repeated an arch",
              spaces[k]->name);
    }
    sim m = {"bananas", CHEAP ",init=5", 5, 100, 3, 4, 0, 1, 1, 0};
    run_sim(tiny, &m, &log);
    CHECK(log.done && log.asked == 15, "bananas on %s: %d proposals of 15 cells, done %d", tiny->name, log.asked,
          log.done);
    check_determinism(spaces[0], (sim){"bananas", CHEAP, 11, 80, 6, 5, 7, 1, 1, 0});
    check_determinism(spaces[0], (sim){"bananas", CHEAP ",acquisition=ucb", 11, 80, 6, 5, 7, 1, 1, 0});
    sim two = {"bananas", CHEAP, 4, 80, 4, 9, 7, 1, 1, 0};
    run_sim(spaces[0], &two, &log);
    two.n_objectives = 2;
    run_sim(spaces[0], &two, &other);
    CHECK(same_log(&log, &other), "bananas: a second objective changed the proposals");
}

/* Mean best-so-far over seeds 1..SEEDS after BUDGET trials. Bananas runs in
 * batches of 10 (all asked, then all told), as in White et al.: one fit per
 * batch keeps the ten runs near a second. */
enum { SEEDS = 10, BUDGET = 100 };

static double mean_best(const cf_space *s, const char *strategy, const char *options, int batch) {
    static sim_log log;
    double sum = 0;
    for (int k = 0; k < SEEDS; k++) {
        sim m = {strategy, options, (uint64_t)k + 1, BUDGET, batch, batch > 1 ? (uint64_t)k + 100 : 0, 0, 1, 1,
                 batch > 1};
        run_sim(s, &m, &log);
        sum += log.best;
    }
    return sum / SEEDS;
}

static void synthetic_objective(const cf_space *s) {
    double random = mean_best(s, "random", "", 1);
    double its = mean_best(s, "bananas", "", 10), ucb = mean_best(s, "bananas", "acquisition=ucb", 10);
    printf("synthetic nb201, %d trials, mean best over %d seeds: random %.4f, bananas its %.4f, bananas ucb %.4f\n",
           BUDGET, SEEDS, random, its, ucb);
    /* Random search over 100 of 8765 cells stops at 3 or 4 conv edges of 6
     * (error 1/3 to 1/2); one step is 1/6, which the hash term (at most 0.05)
     * cannot fake. The model must gain at least a whole step on the mean. */
    CHECK(its < random - 1.0 / 6, "bananas its: mean best %.4f, random %.4f", its, random);
    CHECK(ucb < random - 1.0 / 6, "bananas ucb: mean best %.4f, random %.4f", ucb, random);
}

int main(int argc, char **argv) {
    sim_spaces sp;
    sim_spaces_load(argc, argv, "test_search_bananas", &sp);
    rules(sp.all[0]);
    mechanics((const cf_space *const *)sp.all, 4, sp.tiny);
    synthetic_objective(sp.all[0]);
    sim_spaces_free(&sp);
    return test_finish("test_search_bananas");
}
