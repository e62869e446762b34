/* search_sim.h - the kit the search tests share (test_search*.c): a synthetic
 * NB201 objective with a known order, and a simulated controller that asks,
 * keeps up to K trials in flight and tells results in a seeded order, as
 * cf_search_run does, but in microseconds.
 *
 * Included by each test executable after check.h, whose counters its CHECKs
 * update, so its functions are static inline like check.h's.
 */
#ifndef CF_TESTS_SEARCH_SIM_H
#define CF_TESTS_SEARCH_SIM_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cellforge/strategy.h"
#include "cellforge/space.h"
#include "check.h"

#define SIM_MAX_TRIALS 4096

static inline cf_space *sim_load(const char *name, const char *test) {
    cf_space *s = NULL;
    CHECK_OK(cf_space_load(name, &s));
    if (!s) {
        test_finish(test);
        exit(1);
    }
    return s;
}

/* The four shipped spaces and the 15-cell test space (tests/data/tiny201.json),
 * found through argv[1] (the search_spaces directory) as ctest passes it. */
typedef struct sim_spaces {
    cf_space *all[4];   /* nb201, darts, nb101, mobile */
    cf_space *tiny;
} sim_spaces;

static inline void sim_spaces_load(int argc, char **argv, const char *test, sim_spaces *sp) {
    static const char *const names[4] = {"nb201", "darts", "nb101", "mobile"};
    if (argc > 1) setenv("CELLFORGE_SPACES", argv[1], 1);
    for (int i = 0; i < 4; i++) sp->all[i] = sim_load(names[i], test);
    char tiny_path[1024];
    snprintf(tiny_path, sizeof tiny_path, "%s/../tests/data/tiny201.json", argc > 1 ? argv[1] : "search_spaces");
    sp->tiny = sim_load(tiny_path, test);
}

static inline void sim_spaces_free(sim_spaces *sp) {
    for (int i = 0; i < 4; i++) cf_space_destroy(sp->all[i]);
    cf_space_destroy(sp->tiny);
}

static inline int sim_cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static inline int sim_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Distinct values among v[0..n) (sorts v). */
static inline size_t count_distinct(uint64_t *v, size_t n) {
    qsort(v, n, sizeof *v, sim_cmp_u64);
    size_t d = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || v[i] != v[i - 1]) d++;
    return d;
}

static inline double unit_of_hash(uint64_t h) { return (double)(h >> 11) / 9007199254740992.0; }

/* Of the canonical NB201 cell's edges: how many, how many nor_conv_3x3, and
 * how many are any convolution (1x1 or 3x3). */
static inline void nb201_edges(const cf_space *s, const cf_arch *a, int *edges, int *conv3, int *convs) {
    cf_arch c;
    cf_arch_canonical(s, a, &c);
    int c3 = cf_space_op_index(s, "nor_conv_3x3"), c1 = cf_space_op_index(s, "nor_conv_1x1");
    *edges = *conv3 = *convs = 0;
    for (int j = 1; j < s->nodes; j++)
        for (int i = 0; i < j; i++, (*edges)++) {
            int op = c.cell[0].in[j][i].op;
            *conv3 += op == c3;
            *convs += op == c3 || op == c1;
        }
}

/* The synthetic NB201 error: the share of the 6 canonical edges that are not
 * nor_conv_3x3 (so 0 for the all-conv cell, steps of 1/6), plus up to 0.05 from
 * the arch's hash, which orders cells with equal conv counts without ever
 * crossing a step. A function of the canonical form, as a trained network's
 * error would be. Other spaces: the hash term alone. */
static inline double synthetic(const cf_space *s, const cf_arch *a) {
    double noise = 0.05 * unit_of_hash(cf_arch_hash(s, a));
    if (s->family != CF_SPACE_FAMILY_NB201) return noise;
    int edges, conv3, convs;
    nb201_edges(s, a, &edges, &conv3, &convs);
    return (double)(edges - conv3) / edges + noise;
}

/* The cost objective of the two-objective problem: the share of edges that
 * are convolutions (1x1 or 3x3), what MACs grow with. */
static inline double synthetic_cost(const cf_space *s, const cf_arch *a) {
    if (s->family != CF_SPACE_FAMILY_NB201) return unit_of_hash(cf_arch_hash(s, a) * 31);
    int edges, conv3, convs;
    nb201_edges(s, a, &edges, &conv3, &convs);
    return (double)convs / edges;
}

/* Fewer epochs: a higher error, by the same amount for every arch, so every
 * rung orders archs as the full fidelity does (0.2 at no training). */
static inline double fidelity_penalty(int epochs, int max_epochs) {
    return 0.2 * (1.0 - (double)epochs / max_epochs);
}

/* ---- a simulated controller ----------------------------------------------------- */

typedef struct sim {
    const char *strategy;
    const char *options;
    uint64_t seed;
    int trials;          /* candidates to ask for */
    int in_flight;       /* most trials running at once */
    uint64_t tell_seed;  /* 0: results arrive oldest first; else in an order drawn from it */
    int fail_mod;        /* >0: hash % fail_mod == 0 fails, == 1 is rejected */
    int max_epochs;      /* the run's epochs (cfg.max_epochs); 0 means 1 */
    int n_objectives;    /* 0 means 1; 2 adds synthetic_cost */
    int batch;           /* 1: tell every result once in_flight are running (synchronous batches) */
} sim;

/* Zero-cost ranking for run_sim_ranked: cf_strategy_config's settings. */
typedef struct sim_rank {
    cf_strategy_scorer scorer;
    int warmup, warmup_keep, pool;
} sim_rank;

typedef struct sim_log {
    int asked, waits, done;
    double best;                      /* lowest synthetic error among OK results at full fidelity */
    uint64_t hash[SIM_MAX_TRIALS];    /* canonical hash of each proposal, in ask order */
    int64_t parent[SIM_MAX_TRIALS];
    int epochs[SIM_MAX_TRIALS];       /* as proposed (0: the run's) */
    int ok[SIM_MAX_TRIALS];           /* told CF_OUTCOME_OK */
    double objective[SIM_MAX_TRIALS][2];
    double value[SIM_MAX_TRIALS];     /* synthetic error at full fidelity */
} sim_log;

typedef struct sim_running {
    int64_t trial;
    cf_candidate cand;
} sim_running;

/* The outcome of a at `epochs` of max_epochs, with n objectives. */
static inline cf_outcome outcome_at(const cf_space *s, const cf_arch *a, int fail_mod, int epochs, int max_epochs,
                                    int n_objectives) {
    cf_outcome o;
    memset(&o, 0, sizeof o);
    o.n_objectives = n_objectives;
    o.val_acc = -1;
    uint64_t h = cf_arch_hash(s, a);
    if (fail_mod > 0 && h % (uint64_t)fail_mod == 0) {
        o.status = CF_OUTCOME_FAILED;
        for (int k = 0; k < n_objectives; k++) o.objective[k] = NAN;
    } else if (fail_mod > 0 && h % (uint64_t)fail_mod == 1) {
        o.status = CF_OUTCOME_REJECTED;
    } else {
        o.status = CF_OUTCOME_OK;
        o.objective[0] = synthetic(s, a) + fidelity_penalty(epochs, max_epochs);
        if (n_objectives > 1) o.objective[1] = synthetic_cost(s, a);
        o.val_acc = 1 - o.objective[0];
        o.epochs = epochs;
    }
    return o;
}

static inline cf_outcome outcome_of(const cf_space *s, const cf_arch *a, int fail_mod) {
    return outcome_at(s, a, fail_mod, 1, 1, 1);
}

/* Ask while there is room, tell one result (or, with m->batch, every result
 * once the room is used up), repeat; trial ids count the candidates (an
 * answered WAIT does not use one up). */
static inline void run_sim_ranked(const cf_space *s, const sim *m, const sim_rank *rank, sim_log *log) {
    memset(log, 0, sizeof *log);
    log->best = INFINITY;
    int max_epochs = m->max_epochs > 0 ? m->max_epochs : 1, k_obj = m->n_objectives > 0 ? m->n_objectives : 1;
    cf_strategy_config cfg;
    cf_strategy_config_default(&cfg);
    cfg.seed = m->seed;
    cfg.max_epochs = max_epochs;
    cfg.n_objectives = k_obj;
    snprintf(cfg.options, sizeof cfg.options, "%s", m->options ? m->options : "");
    if (rank) {
        cfg.scorer = rank->scorer;
        cfg.warmup = rank->warmup;
        cfg.warmup_keep = rank->warmup_keep;
        cfg.pool = rank->pool;
    }
    cf_strategy *st = NULL;
    CHECK_OK(cf_strategy_create(m->strategy, s, &cfg, &st));
    if (!st) return;
    sim_running *run = malloc((size_t)m->in_flight * sizeof *run);
    int n_run = 0;
    cf_rng order = cf_rng_make(m->tell_seed, cf_rng_stream(0, CF_RNG_PURPOSE_TEST));
    CHECK(m->trials <= SIM_MAX_TRIALS, "sim of %d trials", m->trials);
    for (;;) {
        while (n_run < m->in_flight && log->asked < m->trials && !log->done) {
            cf_candidate c;
            cf_ask_result r = cf_strategy_ask(st, log->asked, &c);
            if (r == CF_ASK_DONE) log->done = 1;
            if (r != CF_ASK_OK) {
                log->waits += r == CF_ASK_WAIT;
                break;
            }
            CHECK(cf_arch_validate(s, &c.arch) == CF_OK, "%s: invalid proposal: %s", m->strategy,
                  cf_error_message());
            CHECK(c.parent < log->asked, "%s: parent %lld of trial %d", m->strategy, (long long)c.parent,
                  log->asked);
            CHECK(c.epochs >= 0 && c.epochs <= max_epochs, "%s: %d epochs of %d", m->strategy, c.epochs, max_epochs);
            log->hash[log->asked] = cf_arch_hash(s, &c.arch);
            log->parent[log->asked] = c.parent;
            log->epochs[log->asked] = c.epochs;
            log->value[log->asked] = synthetic(s, &c.arch);
            run[n_run++] = (sim_running){log->asked++, c};
        }
        if (n_run == 0) break;
        int tells = m->batch && (n_run == m->in_flight || log->asked == m->trials || log->done) ? n_run : 1;
        while (tells-- > 0) {
            int k = m->tell_seed ? (int)cf_rng_below(&order, (uint32_t)n_run) : 0;
            sim_running done = run[k];
            memmove(&run[k], &run[k + 1], (size_t)(n_run - k - 1) * sizeof *run);
            n_run--;
            int epochs = done.cand.epochs > 0 ? done.cand.epochs : max_epochs;
            /* As the controller does: the candidate told back carries the epochs it ran. */
            done.cand.epochs = epochs;
            cf_outcome o = outcome_at(s, &done.cand.arch, m->fail_mod, epochs, max_epochs, k_obj);
            int64_t t = done.trial;
            log->ok[t] = o.status == CF_OUTCOME_OK;
            log->objective[t][0] = o.objective[0];
            log->objective[t][1] = k_obj > 1 ? o.objective[1] : 0;
            if (log->ok[t] && epochs == max_epochs && log->value[t] < log->best) log->best = log->value[t];
            cf_strategy_tell(st, done.trial, &done.cand, &o);
        }
    }
    CHECK(log->done || log->asked == m->trials, "%s: stopped after %d of %d trials without DONE (waiting with "
          "nothing in flight)", m->strategy, log->asked, m->trials);
    free(run);
    cf_strategy_destroy(st);
}

static inline void run_sim(const cf_space *s, const sim *m, sim_log *log) {
    run_sim_ranked(s, m, NULL, log);
}

static inline int same_log(const sim_log *a, const sim_log *b) {
    return a->asked == b->asked && memcmp(a->hash, b->hash, (size_t)a->asked * sizeof a->hash[0]) == 0 &&
           memcmp(a->parent, b->parent, (size_t)a->asked * sizeof a->parent[0]) == 0 &&
           memcmp(a->epochs, b->epochs, (size_t)a->asked * sizeof a->epochs[0]) == 0;
}

/* Determinism of one strategy on s: the same seed and tell order give the
 * same proposals (also with another tell order), another seed others. */
static inline void check_determinism(const cf_space *s, sim m) {
    static sim_log a, b;
    run_sim(s, &m, &a);
    run_sim(s, &m, &b);
    CHECK(same_log(&a, &b), "%s: same seed and tell order, different proposals", m.strategy);
    uint64_t seed = m.seed;
    m.seed = seed + 1;
    run_sim(s, &m, &b);
    CHECK(!same_log(&a, &b), "%s: seeds %llu and %llu give the same proposals", m.strategy,
          (unsigned long long)seed, (unsigned long long)m.seed);
    /* Another tell order may change the trajectory, but it must stay reproducible. */
    m.seed = seed;
    m.tell_seed = m.tell_seed * 7 + 99;
    run_sim(s, &m, &a);
    run_sim(s, &m, &b);
    CHECK(same_log(&a, &b), "%s: same seed and tell order %llu, different proposals", m.strategy,
          (unsigned long long)m.tell_seed);
}

#endif
