/* strategy_impl.h - what the search strategies share (private to src/search).
 *
 * strategy.c holds the registry and these helpers; each strategy lives in its
 * own strategy_<name>.c and exports one cf_strategy_ops. The helpers:
 *   - an option parser for the "key=value,key=value" strings of
 *     cf_strategy_config.options, driven by a table per strategy (numbers,
 *     or one of a few names: "sampler=evolution");
 *   - a hash map keyed by canonical-arch hashes, for "proposed before?" and
 *     "what did it score?";
 *   - drawing a uniform arch whose canonical form was never proposed;
 *   - the per-trial RNG stream every ask draws from.
 */
#ifndef CF_SEARCH_STRATEGY_IMPL_H
#define CF_SEARCH_STRATEGY_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "cellforge/rng.h"
#include "cellforge/strategy.h"
#include "cellforge/space.h"
#include "cellforge/status.h"

/* Consecutive duplicate draws after which a deduplicating sampler declares the
 * space exhausted. On NB201 (15625 texts, 8765 canonical cells) this stops
 * once the few unproposed cells left are reached by a single text each; a draw
 * costs one canonicalization, so the worst ask costs milliseconds. */
#define CF_STRATEGY_SAMPLE_TRIES 10000

/* Stream for randomness a strategy needs at create, before any trial (the
 * grid's shuffle): the largest trial id cf_rng_stream can hold, which no
 * controller reaches. */
#define CF_STRATEGY_SETUP_TRIAL ((UINT64_C(1) << 48) - 1)

/* A created strategy: its implementation and that implementation's state
 * (owned; freed by ops->destroy). */
struct cf_strategy {
    const cf_strategy_ops *ops;
    void *state;
    /* the zero-cost warm-up (strategy_rank.c) */
    const cf_space *space;   /* borrowed */
    uint64_t seed;
    cf_strategy_scorer scorer;
    int warmup, warmup_keep;
    int warm_ready;          /* the warm-up archs were scored (at the first ask) */
    cf_arch *warm;           /* (n_warm) best first; owned */
    size_t n_warm, next_warm;
};

/* The implementations, in registry order (strategy.c). */
extern const cf_strategy_ops cf_strategy_random;
extern const cf_strategy_ops cf_strategy_grid;
extern const cf_strategy_ops cf_strategy_evolution;
extern const cf_strategy_ops cf_strategy_local;
extern const cf_strategy_ops cf_strategy_sh;
extern const cf_strategy_ops cf_strategy_hyperband;
extern const cf_strategy_ops cf_strategy_asha;
extern const cf_strategy_ops cf_strategy_bananas;
extern const cf_strategy_ops cf_strategy_nsga2;
extern const cf_strategy_ops cf_strategy_darts;
extern const cf_strategy_ops cf_strategy_gdas;
extern const cf_strategy_ops cf_strategy_spos;

/* The stream of trial `trial`: (seed, trial, SAMPLE). */
cf_rng cf_strategy_rng(uint64_t seed, int64_t trial);

/* Fill a single-fidelity candidate: the run's epochs, whole epochs. */
void cf_strategy_candidate(cf_candidate *out, const cf_arch *a, int64_t parent);

/* An ask that cannot go on (no memory for its bookkeeping) cannot return a
 * cf_status: log the recorded message naming the strategy and end the search
 * with CF_ASK_DONE rather than propose something it cannot track. */
cf_ask_result cf_strategy_ask_failed(const char *strategy);

/* ---- options ---------------------------------------------------------------- */

/* One option key of a strategy. Values are numbers; `integer` rejects fractions.
 * A key with `choices` ("random|evolution") takes one of those names instead,
 * and its value is the index of the name given (def, min and max then count
 * choices: {"sampler", 0, 0, 1, 1, "doc", "random|evolution"}). */
typedef struct cf_strategy_option {
    const char *key;
    double def;
    double min, max;  /* accepted range, inclusive */
    int integer;
    const char *doc;
    const char *choices; /* NULL: a number */
} cf_strategy_option;

/* Parse `text` ("population=50, sample=10"; "" for all defaults) against the
 * n entries of table into values[0..n), which start at the defaults. Unknown
 * keys fail naming the key and the closest one; malformed items, bad numbers,
 * fractions for integer keys, values out of range, names that are not among
 * a key's choices (with the closest one) and keys given twice fail naming the
 * key and the value. `strategy` names the strategy in messages. */
cf_status cf_strategy_options_parse(const char *strategy, const char *text,
                                    const cf_strategy_option *table, size_t n, double *values);

/* ---- canonical-arch map ------------------------------------------------------- */

/* What is known of one canonical arch. */
typedef struct cf_strategy_seen {
    double objective;  /* NaN: proposed, no result yet; +inf: failed or rejected */
    int64_t trial;     /* the trial that proposed it (or was told about it) */
} cf_strategy_seen;

/* Open-addressing map from cf_arch_hash values to cf_strategy_seen. Zero it to
 * initialize; free with cf_strategy_map_free. Keys are 64-bit hashes of
 * canonical forms: two different canonical archs share one with odds about
 * n^2 / 2^65, negligible for the millions of archs a search can propose. */
typedef struct cf_strategy_map {
    uint64_t *keys;
    cf_strategy_seen *values;
    uint8_t *used;
    size_t cap;     /* slots, a power of two, or 0 before the first insert */
    size_t count;
} cf_strategy_map;

void cf_strategy_map_free(cf_strategy_map *m);
/* The entry for key, or NULL. Borrowed: valid until the next insert. */
cf_strategy_seen *cf_strategy_map_find(const cf_strategy_map *m, uint64_t key);
/* Insert key with value v unless present; *added (may be NULL) says which.
 * Fails only for lack of memory, leaving the map as it was. */
cf_status cf_strategy_map_add(cf_strategy_map *m, uint64_t key, cf_strategy_seen v, int *added);

/* Draw uniform archs from rng until one whose canonical hash is not in seen,
 * at most CF_STRATEGY_SAMPLE_TRIES times. Found: *out is it, it is added to
 * seen with {NaN, trial} and *found is 1. Not found (the space looks
 * exhausted): *found is 0. */
cf_status cf_strategy_sample_unseen(const cf_space *s, cf_rng *rng, cf_strategy_map *seen,
                                    int64_t trial, cf_arch *out, int *found);

/* ---- zero-cost ranking (strategy_rank.c) ---------------------------------------- */

/* A strategy's pool: each uniform draw or mutation draws `size` distinct
 * candidates never proposed and keeps the scorer's best. */
typedef struct cf_strategy_pool {
    const cf_strategy_scorer *scorer; /* borrowed; NULL or fn NULL: no ranking */
    int size;                         /* <= 1: no ranking */
} cf_strategy_pool;

/* 1 when p ranks (a scorer and a size above 1). */
int cf_strategy_pool_on(const cf_strategy_pool *p);

/* The indices of archs[0..n) best first by sc (see strategy_rank.c) into
 * order (n entries); the identity without a scorer. Fails only for memory. */
cf_status cf_strategy_rank(const cf_strategy_scorer *sc, const cf_arch *archs, size_t n, size_t *order);
/* The index of the best of archs[0..n) into *best (0 without a scorer). */
cf_status cf_strategy_rank_best(const cf_strategy_scorer *sc, const cf_arch *archs, size_t n, size_t *best);

/* cf_strategy_sample_unseen, drawing up to pool->size distinct unseen archs
 * and keeping the best; exactly cf_strategy_sample_unseen (the same draws)
 * when the pool does not rank. Only the kept arch is added to seen. */
cf_status cf_strategy_sample_ranked(const cf_space *s, const cf_strategy_pool *pool, cf_rng *rng,
                                    cf_strategy_map *seen, int64_t trial, cf_arch *out, int *found);

/* The next warm-up candidate for trial into *out (claimed by the strategy):
 * 1, or 0 when there is none (no warm-up, or all were proposed). The archs are
 * scored at the first call. */
int cf_strategy_warmup_next(cf_strategy *st, int64_t trial, cf_candidate *out);
void cf_strategy_warmup_free(cf_strategy *st);

/* ---- inspection for tests ----------------------------------------------------- */

/* The members of an evolution strategy's population, oldest first: up to cap
 * trial ids and objectives (either array may be NULL). Returns the population
 * size; 0 for a strategy that is not "evolution". */
size_t cf_strategy_evolution_population(const cf_strategy *st, int64_t *trials, double *objective,
                                        size_t cap);

/* How many times a bananas strategy has fitted its ensemble; 0 for a strategy
 * that is not "bananas". */
size_t cf_strategy_bananas_fits(const cf_strategy *st);

#endif
