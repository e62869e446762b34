/* strategy_random.c - uniform random search, the baseline every other strategy
 * must beat (Li & Talwalkar 2019 found it hard to beat on NAS benchmarks).
 *
 * Each ask draws cf_arch_sample from its trial's stream. With dedup on, a
 * draw whose canonical form was proposed before is redrawn, so no network is
 * trained twice; after CF_STRATEGY_SAMPLE_TRIES duplicates in a row the space
 * counts as exhausted and every later ask answers CF_ASK_DONE. Results are
 * not used: tell only records the arch so a told-but-never-asked one (a
 * resumed run) is not proposed again. With a zero-cost pool (pool > 1 in
 * cf_strategy_config) each ask draws that many distinct candidates and
 * proposes the scorer's best: proxy-ranked random search.
 */
#include <math.h>
#include <stdlib.h>

#include "cellforge/log.h"
#include "strategy_impl.h"

enum { OPT_DEDUP, OPT_COUNT };

static const cf_strategy_option options[OPT_COUNT] = {
    [OPT_DEDUP] = {"dedup", 1, 0, 1, 1, "1: never propose a canonical arch twice; 0: independent draws"},
};

typedef struct random_state {
    const cf_space *space;  /* borrowed */
    uint64_t seed;
    int dedup;
    int done;               /* the space looked exhausted: answer DONE from now on */
    size_t proposed;
    cf_strategy_map seen;   /* canonical hashes proposed or told */
    cf_strategy_scorer scorer;
    cf_strategy_pool pool;  /* zero-cost ranked draws (strategy_impl.h) */
} random_state;

static cf_status random_create(const cf_space *s, const cf_strategy_config *cfg, void **state) {
    double v[OPT_COUNT];
    CF_TRY(cf_strategy_options_parse("random", cfg->options, options, OPT_COUNT, v));
    random_state *r = calloc(1, sizeof *r);
    if (!r) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "strategy random: no memory");
    r->space = s;
    r->seed = cfg->seed;
    r->dedup = (int)v[OPT_DEDUP];
    r->scorer = cfg->scorer;
    r->pool = (cf_strategy_pool){&r->scorer, cfg->pool};
    *state = r;
    return CF_OK;
}

static void random_destroy(void *state) {
    random_state *r = state;
    if (!r) return;
    cf_strategy_map_free(&r->seen);
    free(r);
}

static cf_ask_result random_ask(void *state, int64_t trial, cf_candidate *out) {
    random_state *r = state;
    if (r->done) return CF_ASK_DONE;
    cf_rng rng = cf_strategy_rng(r->seed, trial);
    cf_arch a;
    if (!r->dedup && !cf_strategy_pool_on(&r->pool)) {
        cf_arch_sample(r->space, &rng, &a);
    } else {
        /* without dedup a pool only has to be distinct within itself */
        cf_strategy_map fresh = {0}, *seen = r->dedup ? &r->seen : &fresh;
        int found = 0;
        cf_status st = cf_strategy_sample_ranked(r->space, &r->pool, &rng, seen, trial, &a, &found);
        cf_strategy_map_free(&fresh);
        if (st != CF_OK) return cf_strategy_ask_failed("random");
        if (!found) {
            CF_LOG_INFO("strategy random: no new architecture in %d draws after %zu proposals; the space looks "
                        "exhausted",
                        CF_STRATEGY_SAMPLE_TRIES, r->proposed);
            r->done = 1;
            return CF_ASK_DONE;
        }
    }
    r->proposed++;
    cf_strategy_candidate(out, &a, -1);
    return CF_ASK_OK;
}

static void random_tell(void *state, int64_t trial, const cf_candidate *c, const cf_outcome *o) {
    random_state *r = state;
    if (!r->dedup) return;
    double objective = o->status == CF_OUTCOME_OK ? o->objective[0] : INFINITY;
    if (cf_strategy_map_add(&r->seen, cf_arch_hash(r->space, &c->arch), (cf_strategy_seen){objective, trial}, NULL) !=
        CF_OK)
        CF_LOG_ERROR("strategy random: %s", cf_error_message());
}

static void random_claim(void *state, int64_t trial, const cf_candidate *c) {
    random_state *r = state;
    if (r->dedup &&
        cf_strategy_map_add(&r->seen, cf_arch_hash(r->space, &c->arch), (cf_strategy_seen){NAN, trial}, NULL) != CF_OK)
        CF_LOG_ERROR("strategy random: %s", cf_error_message());
}

const cf_strategy_ops cf_strategy_random = {
    .name = "random",
    .doc = "uniform samples, each canonical arch at most once (dedup=1); ignores results",
    .create = random_create,
    .destroy = random_destroy,
    .ask = random_ask,
    .tell = random_tell,
    .claim = random_claim,
};
