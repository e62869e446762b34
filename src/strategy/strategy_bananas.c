/* strategy_bananas.c - BANANAS (White et al. 2021, "BANANAS: Bayesian
 * Optimization with Neural Architectures for Neural Architecture Search"):
 * an ensemble of small MLPs predicts the validation error from the path
 * encoding, and each ask proposes the candidate an acquisition function likes
 * best.
 *
 * Until `init` OK results are in, asks return uniform random archs. After
 * that each ask
 *   1. refits the ensemble (surrogate.h: `ensemble` MLPs of 2 x 32 ReLU,
 *      `steps` Adam steps, learning rate 0.01) on the path encodings
 *      (cf_arch_encode, CF_ARCH_ENCODING_PATH) of every OK result and their
 *      objective 0, if results arrived since the last fit: with several
 *      trials in flight and no new result the fit is reused;
 *   2. draws `candidates` archs never proposed nor told: one cf_arch_mutate
 *      step from each of the `parents` best results in turn, every tenth a
 *      uniform sample instead (so the search can leave the incumbents'
 *      neighborhoods); duplicates within the draw are redrawn, up to 4 draws
 *      per candidate;
 *   3. scores each with the ensemble's mean m and spread s (standard
 *      deviation over the members) and proposes the lowest score:
 *        acquisition=its  independent Thompson sampling, the paper's
 *                         choice: m + s * z with z ~ N(0, 1) per candidate;
 *        acquisition=ucb  the lower confidence bound m - kappa * s.
 * The proposal's parent is the result it was mutated from (-1 for uniform
 * draws).
 *
 * Determinism: a fit's weights and mini-batches come from streams keyed by the
 * number of results it fits (surrogate.c), candidates and Thompson draws from
 * the asking trial's stream, so proposals depend only on the seed, the trial
 * ids and the order of asks and tells.
 *
 * Cost: a fit is ensemble * steps mini-batches of 32 through a 32 x 32 layer,
 * 0.02 s (NB201) to 0.05 s (DARTS, more features) with the defaults, once per
 * ask that follows new results; an ask scores `candidates` archs, microseconds
 * each.
 *
 * With a zero-cost scorer (cf_strategy_config) the surrogate's inputs are the
 * path encoding and the arch's scores (score_feature), so it can learn how far
 * to trust them; every candidate is then scored, which costs what the proxies
 * cost (the scorer caches them).
 *
 * FAILED and REJECTED results are not fitted (their objective means nothing)
 * but are never proposed again. Only objective 0 is used.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cellforge/grow.h"
#include "cellforge/log.h"
#include "strategy_impl.h"
#include "surrogate.h"

/* Adam's learning rate for the surrogate, BANANAS' value. */
#define LEARNING_RATE 0.01
/* One candidate in this many is a uniform sample rather than a mutation. */
#define UNIFORM_EVERY 10
/* Draws per candidate before the candidate set is taken as it is. */
#define DRAWS_PER_CANDIDATE 4

enum { OPT_ENSEMBLE, OPT_INIT, OPT_CANDIDATES, OPT_PARENTS, OPT_ACQUISITION, OPT_KAPPA, OPT_STEPS, OPT_COUNT };
enum { ACQ_ITS, ACQ_UCB };

static const cf_strategy_option options[OPT_COUNT] = {
    [OPT_ENSEMBLE] = {"ensemble", 5, 1, CF_SURROGATE_MAX_MEMBERS, 1, "MLPs in the ensemble", NULL},
    [OPT_INIT] = {"init", 10, 1, 100000, 1, "uniform random archs until this many OK results are in", NULL},
    [OPT_CANDIDATES] = {"candidates", 100, 1, 100000, 1, "archs scored per ask", NULL},
    [OPT_PARENTS] = {"parents", 10, 1, 100000, 1, "best results that candidates are mutated from", NULL},
    [OPT_ACQUISITION] = {"acquisition", 0, 0, 1, 1, "its: independent Thompson sampling; ucb: mean - kappa * std",
                         "its|ucb"},
    [OPT_KAPPA] = {"kappa", 1, 0, 100, 0, "acquisition=ucb: weight of the ensemble's spread", NULL},
    [OPT_STEPS] = {"steps", 200, 1, 100000, 1, "Adam steps per member and fit (mini-batches of 32)", NULL},
};

/* An OK result: what to mutate and how good it was (its features are row
 * `i` of the compressed rows for result i). */
typedef struct result {
    int64_t trial;
    double objective;
    cf_arch arch;
} result;

/* Sort key of a result: objective, then trial. */
typedef struct ranked {
    double objective;
    int64_t trial;
    size_t index;
} ranked;

typedef struct bananas_state {
    const cf_space *space;   /* borrowed */
    uint64_t seed;
    size_t init, candidates, parents;
    int acquisition, members;
    double kappa;
    cf_strategy_map seen;    /* canonical hashes proposed or told */
    cf_surrogate *model;
    size_t n_fit;            /* results in the last fit; SIZE_MAX before the first */
    size_t fits;
    /* OK results, tell order; their features as compressed rows */
    result *results;
    size_t n_results, results_cap;
    uint32_t *start;         /* n_results + 1 */
    double *target;          /* n_results */
    uint32_t *index;         /* feature ids */
    float *value;
    size_t nnz, nnz_cap;
    /* scratch */
    size_t n_features;       /* the path encoding's, then one per zero-cost score */
    size_t n_path;
    cf_strategy_scorer scorer; /* fn NULL: no zero-cost features */
    float *dense;            /* one encoding, n_features */
    uint32_t *cand_index;    /* one candidate's features */
    float *cand_value;
    cf_arch *cand;           /* candidates of one ask */
    int64_t *cand_parent;
    uint64_t *cand_hash;
    struct ranked *order;    /* results by objective */
    double pred[CF_SURROGATE_MAX_MEMBERS];
} bananas_state;

static void bananas_destroy(void *state) {
    bananas_state *b = state;
    if (!b) return;
    cf_strategy_map_free(&b->seen);
    cf_surrogate_destroy(b->model);
    free(b->results);
    free(b->start);
    free(b->target);
    free(b->index);
    free(b->value);
    free(b->dense);
    free(b->cand_index);
    free(b->cand_value);
    free(b->cand);
    free(b->cand_parent);
    free(b->cand_hash);
    free(b->order);
    free(b);
}

static cf_status bananas_create(const cf_space *s, const cf_strategy_config *cfg, void **state) {
    double v[OPT_COUNT];
    CF_TRY(cf_strategy_options_parse("bananas", cfg->options, options, OPT_COUNT, v));
    bananas_state *b = calloc(1, sizeof *b);
    if (!b) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "strategy bananas: no memory");
    b->space = s;
    b->seed = cfg->seed;
    b->members = (int)v[OPT_ENSEMBLE];
    b->init = (size_t)v[OPT_INIT];
    b->candidates = (size_t)v[OPT_CANDIDATES];
    b->parents = (size_t)v[OPT_PARENTS];
    b->acquisition = (int)v[OPT_ACQUISITION];
    b->kappa = v[OPT_KAPPA];
    b->n_fit = SIZE_MAX;
    b->n_path = cf_arch_encoding_size(s, CF_ARCH_ENCODING_PATH);
    b->scorer = cfg->scorer;
    b->n_features = b->n_path + (b->scorer.fn ? (size_t)b->scorer.n_scores : 0);
    cf_status st = cf_surrogate_create(b->n_features, b->members, (int)v[OPT_STEPS], LEARNING_RATE, cfg->seed,
                                       &b->model);
    b->start = calloc(1, sizeof *b->start);
    b->dense = malloc(b->n_features * sizeof *b->dense);
    b->cand_index = malloc(b->n_features * sizeof *b->cand_index);
    b->cand_value = malloc(b->n_features * sizeof *b->cand_value);
    b->cand = malloc(b->candidates * sizeof *b->cand);
    b->cand_parent = malloc(b->candidates * sizeof *b->cand_parent);
    b->cand_hash = malloc(b->candidates * sizeof *b->cand_hash);
    if (st == CF_OK && (!b->start || !b->dense || !b->cand_index || !b->cand_value || !b->cand || !b->cand_parent ||
                        !b->cand_hash))
        st = cf_error_set(CF_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, "strategy bananas: no memory");
    if (st != CF_OK) {
        bananas_destroy(b);
        cf_error_trace(st, __FILE__, __LINE__, "bananas_create");
        return st;
    }
    *state = b;
    return CF_OK;
}

/* A zero-cost score as a feature: sign(v) log10(1 + |v|) / 10, so that scores
 * of any magnitude (synflow reaches 1e30) land near [-3, 3] without depending
 * on the other results; a failed score reads as 0. */
static float score_feature(double v) {
    if (!isfinite(v)) return 0;
    return (float)(copysign(log10(1 + fabs(v)), v) / 10);
}

/* The features of a (the path encoding, then its zero-cost scores) as nonzero
 * (index, value) pairs; returns their number. */
static size_t encode_sparse(bananas_state *b, const cf_arch *a, uint32_t *index, float *value) {
    cf_arch_encode(b->space, a, CF_ARCH_ENCODING_PATH, b->dense);
    if (b->scorer.fn) {
        double v[CF_STRATEGY_MAX_SCORES];
        if (b->scorer.fn(b->scorer.ctx, a, v) != CF_OK) {
            CF_LOG_WARN("strategy bananas: zero-cost score failed (read as 0): %s", cf_error_message());
            cf_error_clear();
            for (int k = 0; k < b->scorer.n_scores; k++) v[k] = NAN;
        }
        for (int k = 0; k < b->scorer.n_scores; k++) b->dense[b->n_path + (size_t)k] = score_feature(v[k]);
    }
    size_t n = 0;
    for (size_t f = 0; f < b->n_features; f++)
        if (b->dense[f] != 0) index[n] = (uint32_t)f, value[n++] = b->dense[f];
    return n;
}

static cf_status add_result(bananas_state *b, int64_t trial, const cf_arch *a, double objective) {
    if (b->n_results == b->results_cap) {
        /* four arrays of one capacity (start one more): all grow before it moves */
        size_t need = b->n_results + 1, c_r = b->results_cap, c_s = b->results_cap + 1, c_t = b->results_cap,
               c_o = b->results_cap;
        if (cf_grow((void **)&b->results, &c_r, need, sizeof *b->results) != CF_OK ||
            cf_grow((void **)&b->start, &c_s, need + 1, sizeof *b->start) != CF_OK ||
            cf_grow((void **)&b->target, &c_t, need, sizeof *b->target) != CF_OK ||
            cf_grow((void **)&b->order, &c_o, need, sizeof *b->order) != CF_OK)
            CF_FAIL(CF_ERR_OUT_OF_MEMORY, "no memory for %zu results", need);
        size_t cap = c_r < c_s - 1 ? c_r : c_s - 1;
        if (c_t < cap) cap = c_t;
        if (c_o < cap) cap = c_o;
        b->results_cap = cap;
    }
    if (b->nnz + b->n_features > b->nnz_cap) {
        size_t need = b->nnz + b->n_features, c_i = b->nnz_cap, c_v = b->nnz_cap;
        if (cf_grow((void **)&b->index, &c_i, need, sizeof *b->index) != CF_OK ||
            cf_grow((void **)&b->value, &c_v, need, sizeof *b->value) != CF_OK)
            CF_FAIL(CF_ERR_OUT_OF_MEMORY, "no memory for %zu features", need);
        b->nnz_cap = c_i < c_v ? c_i : c_v;
    }
    b->nnz += encode_sparse(b, a, &b->index[b->nnz], &b->value[b->nnz]);
    b->results[b->n_results] = (result){trial, objective, *a};
    b->target[b->n_results] = objective;
    b->start[++b->n_results] = (uint32_t)b->nnz;
    return CF_OK;
}

static int cmp_ranked(const void *x, const void *y) {
    const ranked *a = x, *c = y;
    if (a->objective != c->objective) return a->objective < c->objective ? -1 : 1;
    return a->trial < c->trial ? -1 : a->trial > c->trial;
}

/* Candidates for one ask into b->cand; returns how many. */
static size_t draw_candidates(bananas_state *b, cf_rng *rng) {
    for (size_t i = 0; i < b->n_results; i++)
        b->order[i] = (ranked){b->results[i].objective, b->results[i].trial, i};
    qsort(b->order, b->n_results, sizeof *b->order, cmp_ranked);
    size_t n_par = b->parents < b->n_results ? b->parents : b->n_results, n = 0, mutants = 0;
    for (size_t t = 0; n < b->candidates && t < DRAWS_PER_CANDIDATE * b->candidates; t++) {
        cf_arch a;
        int64_t parent = -1;
        if (t % UNIFORM_EVERY == UNIFORM_EVERY - 1) {
            cf_arch_sample(b->space, rng, &a);
        } else {
            const result *p = &b->results[b->order[mutants++ % n_par].index];
            if (cf_arch_mutate(b->space, rng, &p->arch, &a) != CF_OK) {
                cf_error_clear(); /* an arch without neighbors: a uniform draw instead */
                cf_arch_sample(b->space, rng, &a);
            } else {
                parent = p->trial;
            }
        }
        uint64_t h = cf_arch_hash(b->space, &a);
        if (cf_strategy_map_find(&b->seen, h)) continue;
        int dup = 0;
        for (size_t i = 0; i < n && !dup; i++) dup = b->cand_hash[i] == h;
        if (dup) continue;
        b->cand[n] = a;
        b->cand_parent[n] = parent;
        b->cand_hash[n++] = h;
    }
    return n;
}

/* The candidate with the lowest acquisition score. */
static size_t pick(bananas_state *b, cf_rng *rng, size_t n) {
    size_t best = 0;
    double best_score = INFINITY;
    for (size_t i = 0; i < n; i++) {
        size_t nnz = encode_sparse(b, &b->cand[i], b->cand_index, b->cand_value);
        cf_surrogate_predict(b->model, nnz, b->cand_index, b->cand_value, b->pred);
        double mean = 0, var = 0;
        for (int k = 0; k < b->members; k++) mean += b->pred[k];
        mean /= b->members;
        for (int k = 0; k < b->members; k++) var += (b->pred[k] - mean) * (b->pred[k] - mean);
        double spread = sqrt(var / b->members);
        double score = b->acquisition == ACQ_ITS ? mean + spread * cf_rng_normal_f64(rng) : mean - b->kappa * spread;
        if (score < best_score || i == 0) best_score = score, best = i;
    }
    return best;
}

static cf_ask_result random_unseen(bananas_state *b, cf_rng *rng, int64_t trial, cf_candidate *out) {
    cf_arch a;
    int found = 0;
    if (cf_strategy_sample_unseen(b->space, rng, &b->seen, trial, &a, &found) != CF_OK)
        return cf_strategy_ask_failed("bananas");
    if (!found) {
        CF_LOG_INFO("strategy bananas: no new architecture in %d draws; the space looks exhausted",
                    CF_STRATEGY_SAMPLE_TRIES);
        return CF_ASK_DONE;
    }
    cf_strategy_candidate(out, &a, -1);
    return CF_ASK_OK;
}

static cf_ask_result bananas_ask(void *state, int64_t trial, cf_candidate *out) {
    bananas_state *b = state;
    cf_rng rng = cf_strategy_rng(b->seed, trial);
    if (b->n_results < b->init) return random_unseen(b, &rng, trial, out);
    if (b->n_fit != b->n_results) {
        cf_surrogate_data d = {b->n_results, b->start, b->index, b->value, b->target};
        if (cf_surrogate_fit(b->model, &d, b->n_results) != CF_OK) return cf_strategy_ask_failed("bananas");
        b->n_fit = b->n_results;
        b->fits++;
    }
    size_t n = draw_candidates(b, &rng);
    if (n == 0) return random_unseen(b, &rng, trial, out);
    size_t i = pick(b, &rng, n);
    if (cf_strategy_map_add(&b->seen, b->cand_hash[i], (cf_strategy_seen){NAN, trial}, NULL) != CF_OK)
        return cf_strategy_ask_failed("bananas");
    cf_strategy_candidate(out, &b->cand[i], b->cand_parent[i]);
    return CF_ASK_OK;
}

static void bananas_tell(void *state, int64_t trial, const cf_candidate *c, const cf_outcome *o) {
    bananas_state *b = state;
    int ok = o->status == CF_OUTCOME_OK && isfinite(o->objective[0]);
    cf_status st = cf_strategy_map_add(&b->seen, cf_arch_hash(b->space, &c->arch),
                                       (cf_strategy_seen){ok ? o->objective[0] : INFINITY, trial}, NULL);
    if (st == CF_OK && ok) st = add_result(b, trial, &c->arch, o->objective[0]);
    if (st != CF_OK) CF_LOG_ERROR("strategy bananas: dropping the result of trial %lld: %s", (long long)trial,
                                  cf_error_message());
}

static void bananas_claim(void *state, int64_t trial, const cf_candidate *c) {
    bananas_state *b = state;
    if (cf_strategy_map_add(&b->seen, cf_arch_hash(b->space, &c->arch), (cf_strategy_seen){NAN, trial}, NULL) != CF_OK)
        CF_LOG_ERROR("strategy bananas: %s", cf_error_message());
}

size_t cf_strategy_bananas_fits(const cf_strategy *st) {
    if (!st || st->ops != &cf_strategy_bananas) return 0;
    return ((const bananas_state *)st->state)->fits;
}

const cf_strategy_ops cf_strategy_bananas = {
    .name = "bananas",
    .doc = "BANANAS (White et al. 2021): an ensemble=5 of MLPs on the path encoding predicts the error; "
                     "after init=10 random results each ask scores candidates=100 mutants of the parents=10 best "
                     "(a tenth uniform) by acquisition=its|ucb (kappa=1) and proposes the best; steps=200",
    .create = bananas_create,
    .destroy = bananas_destroy,
    .ask = bananas_ask,
    .tell = bananas_tell,
    .claim = bananas_claim,
};
