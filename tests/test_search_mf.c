/* test_search_mf.c - the multi-fidelity strategies (sh, hyperband, asha) on
 * the synthetic NB201 objective of search_sim.h, whose low-fidelity results
 * order archs as the full fidelity does (a penalty that only depends on the
 * epochs): the rung ladder, the published Hyperband schedule bracket by
 * bracket, successive halving's promotions, asha's promotion rule checked at
 * every ask against a ledger kept here, the best configurations reaching the
 * top rung, results told for trials never asked (a resumed run), waiting,
 * many trials in flight, failures, other spaces, an exhausted space, and
 * determinism.
 *
 *   ctest --test-dir build -R test_search_mf --output-on-failure
 *   build/tests/test_search_mf SPACES_DIR
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/strategy/fidelity.h"
#include "cellforge/strategy.h"
#include "cellforge/space.h"
#include "check.h"
#include "search_sim.h"


/* ---- the ladder ------------------------------------------------------------------- */

typedef struct ladder_case {
    int min, max, eta;
    int n;
    int epochs[8];
} ladder_case;

static void ladder(const cf_space *s) {
    static const ladder_case cases[] = {
        {1, 27, 3, 4, {1, 3, 9, 27}},
        {1, 81, 3, 5, {1, 3, 9, 27, 81}},
        {2, 16, 2, 4, {2, 4, 8, 16}},
        /* not a power of eta: geometric from min to max, steps a little above eta */
        {1, 20, 3, 3, {1, 4, 20}},
        {1, 100, 4, 4, {1, 5, 22, 100}},
        {1, 27, 2, 5, {1, 2, 5, 12, 27}},
        /* a single rung */
        {1, 1, 3, 1, {1}},
        {3, 8, 3, 1, {8}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const ladder_case *l = &cases[c];
        int epochs[CF_MF_MAX_RUNGS], n = 0;
        CHECK_OK(cf_mf_ladder(l->min, l->max, l->eta, epochs, &n));
        int same = n == l->n;
        for (int k = 0; k < n && same; k++) same = epochs[k] == l->epochs[k];
        CHECK(same, "ladder %d..%d eta %d: %d rungs, first %d, last %d", l->min, l->max, l->eta, n, epochs[0],
              epochs[n - 1]);
    }
    int epochs[CF_MF_MAX_RUNGS], n = 0;
    CHECK_FAILS(cf_mf_ladder(1, 1 << 30, 2, epochs, &n), CF_ERR_INVALID_ARG, "31 rungs", "more than 24");
    cf_strategy_config cfg;
    cf_strategy_config_default(&cfg);
    cfg.max_epochs = 1 << 30;
    snprintf(cfg.options, sizeof cfg.options, "eta=2");
    cf_strategy *st = (cf_strategy *)1;
    CHECK_FAILS(cf_strategy_create("asha", s, &cfg, &st), CF_ERR_INVALID_ARG, "strategy asha: epochs 1..1073741824",
                "31 rungs, more than 24");
    CHECK(st == NULL, "out not cleared on failure");
}

/* ---- sh and hyperband: the published schedule ---------------------------------------- */

/* One bracket: configurations per rung, from the bracket's first rung. */
typedef struct bracket_spec {
    int first_epochs;
    int n_rungs;
    int count[6];
} bracket_spec;

/* Walk the proposals of a one-in-flight run through the brackets: each rung
 * has the expected size and epochs, and every rung after a bracket's first
 * promotes exactly the best of the rung below (ties to the earlier trial), in
 * that order, each the same arch with the promoted trial as parent. */
static int check_brackets(const char *what, const sim_log *log, const bracket_spec *spec, size_t n_spec, int eta) {
    int t = 0;
    for (size_t b = 0; b < n_spec; b++) {
        int epochs = spec[b].first_epochs, prev = -1, prev_n = 0;
        for (int r = 0; r < spec[b].n_rungs; r++, epochs *= eta) {
            int n = spec[b].count[r];
            if (t + n > log->asked) {
                CHECK(0, "%s: %d trials, the schedule needs %d more", what, log->asked, t + n - log->asked);
                return t;
            }
            /* the expected promotions: the best n of the previous rung */
            int order[128];
            for (int i = 0; i < prev_n; i++) order[i] = prev + i;
            for (int i = 1; i < prev_n; i++)
                for (int j = i; j > 0 && log->objective[order[j]][0] < log->objective[order[j - 1]][0]; j--) {
                    int x = order[j];
                    order[j] = order[j - 1];
                    order[j - 1] = x;
                }
            for (int i = 0; i < n; i++, t++) {
                CHECK(log->epochs[t] == epochs, "%s: bracket %zu rung %d: trial %d at %d epochs, expected %d", what,
                      b, r, t, log->epochs[t], epochs);
                if (r == 0) {
                    CHECK(log->parent[t] == -1, "%s: trial %d: a new config with parent %lld", what, t,
                          (long long)log->parent[t]);
                } else {
                    CHECK(log->parent[t] == order[i] && log->hash[t] == log->hash[order[i]],
                          "%s: bracket %zu rung %d: trial %d promotes %lld, expected the rung's #%d, trial %d", what,
                          b, r, t, (long long)log->parent[t], i, order[i]);
                }
            }
            prev = t - n;
            prev_n = n;
        }
    }
    return t;
}

static void schedules(const cf_space *s) {
    static sim_log log;
    /* Li et al. 2018, Table 1: R = 81, eta = 3. */
    static const bracket_spec hb81[] = {
        {1, 5, {81, 27, 9, 3, 1}}, {3, 4, {34, 11, 3, 1}}, {9, 3, {15, 5, 1}}, {27, 2, {8, 2}}, {81, 1, {5}},
        {1, 5, {81, 27, 9, 3, 1}},
    };
    /* The same rule for 27 epochs: n = ceil(4 / (s + 1) * 3^s). */
    static const bracket_spec hb27[] = {
        {1, 4, {27, 9, 3, 1}}, {3, 3, {12, 4, 1}}, {9, 2, {6, 2}}, {27, 1, {4}}, {1, 4, {27, 9, 3, 1}},
    };
    static const bracket_spec sh27[] = {{1, 4, {27, 9, 3, 1}}, {1, 4, {27, 9, 3, 1}}};
    /* n = 10: floor(10 / 3^i) go on, and at least one reaches the top. */
    static const bracket_spec sh10[] = {{1, 4, {10, 3, 1, 1}}, {1, 4, {10, 3, 1, 1}}};
    struct {
        const char *strategy, *options;
        int max_epochs;
        const bracket_spec *spec;
        size_t n_spec;
    } runs[] = {
        {"hyperband", "", 81, hb81, sizeof hb81 / sizeof hb81[0]},
        {"hyperband", "", 27, hb27, sizeof hb27 / sizeof hb27[0]},
        {"sh", "", 27, sh27, 2},
        {"sh", "n=10", 27, sh10, 2},
        {"hyperband", "parallel=0", 27, hb27, sizeof hb27 / sizeof hb27[0]},
    };
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        int total = 0;
        for (size_t b = 0; b < runs[i].n_spec; b++)
            for (int r = 0; r < runs[i].spec[b].n_rungs; r++) total += runs[i].spec[b].count[r];
        sim m = {runs[i].strategy, runs[i].options, 3, total, 1, 0, 0, runs[i].max_epochs, 1, 0};
        run_sim(s, &m, &log);
        char what[96];
        snprintf(what, sizeof what, "%s %s (%d epochs)", runs[i].strategy, runs[i].options, runs[i].max_epochs);
        int walked = check_brackets(what, &log, runs[i].spec, runs[i].n_spec, 3);
        CHECK(walked == total && log.waits == 0, "%s: walked %d of %d trials, %d waits", what, walked, total,
              log.waits);
    }
    printf("hyperband: brackets of 81/34/15/8/5 configurations for 81 epochs, 27/12/6/4 for 27, as published\n");
}

/* parallel=0 runs one bracket at a time: with 8 trials in flight and results
 * in a shuffled order the proposals are those of the one-at-a-time run, and
 * asks wait while a rung is incomplete. parallel=1 never waits. */
static void waiting(const cf_space *s) {
    static sim_log one, many;
    const char *names[] = {"sh", "hyperband"};
    for (int i = 0; i < 2; i++) {
        sim m = {names[i], "parallel=0", 5, 150, 1, 0, 0, 27, 1, 0};
        run_sim(s, &m, &one);
        m.in_flight = 8;
        m.tell_seed = 17;
        run_sim(s, &m, &many);
        CHECK(same_log(&one, &many), "%s parallel=0: 8 in flight proposed otherwise than 1 in flight", names[i]);
        CHECK(many.waits > 0 && one.waits == 0, "%s parallel=0: %d waits with 8 in flight, %d with 1", names[i],
              many.waits, one.waits);
        m.options = "";
        run_sim(s, &m, &many);
        CHECK(many.waits == 0 && many.asked == 150, "%s parallel=1: %d waits in %d trials", names[i], many.waits,
              many.asked);
    }
}

/* ---- asha: the promotion rule at every ask ---------------------------------------- */

enum { ASHA_TRIALS = 600 };

typedef struct rung_entry {
    int trial;
    double objective;  /* +inf when not OK */
    int promoted;
} rung_entry;

typedef struct ledger {
    int n_rungs, epochs[CF_MF_MAX_RUNGS];
    rung_entry e[CF_MF_MAX_RUNGS][ASHA_TRIALS];
    int count[CF_MF_MAX_RUNGS];
} ledger;

/* Rank of entry i in rung k: entries better, or as good and told earlier. */
static int rank_in(const ledger *l, int k, int i) {
    int r = 0;
    for (int j = 0; j < l->count[k]; j++)
        r += l->e[k][j].objective < l->e[k][i].objective || (l->e[k][j].objective == l->e[k][i].objective && j < i);
    return r;
}

/* The highest rung below the top with a result in its top floor(n/eta) that
 * was not promoted and is OK; -1 when none. */
static int promotable_rung(const ledger *l, int eta) {
    for (int k = l->n_rungs - 2; k >= 0; k--)
        for (int i = 0; i < l->count[k]; i++)
            if (!l->e[k][i].promoted && isfinite(l->e[k][i].objective) && rank_in(l, k, i) < l->count[k] / eta)
                return k;
    return -1;
}

typedef struct asha_stats {
    int per_rung[CF_MF_MAX_RUNGS];
    double mean_value[CF_MF_MAX_RUNGS]; /* full-fidelity synthetic error of the configs at each rung */
    int best_reached_top;               /* the best config of rung 0 was proposed at the top rung */
} asha_stats;

static void asha_rules(const cf_space *s, const char *options, int eta, int in_flight, uint64_t tell_seed,
                       int fail_mod, asha_stats *stats) {
    const int max_epochs = 27;
    static ledger l;
    memset(&l, 0, sizeof l);
    memset(stats, 0, sizeof *stats);
    CHECK_OK(cf_mf_ladder(1, max_epochs, eta, l.epochs, &l.n_rungs));
    cf_strategy_config cfg;
    cf_strategy_config_default(&cfg);
    cfg.seed = 9;
    cfg.max_epochs = max_epochs;
    snprintf(cfg.options, sizeof cfg.options, "%s", options);
    cf_strategy *st = NULL;
    CHECK_OK(cf_strategy_create("asha", s, &cfg, &st));
    if (!st) return;
    static cf_candidate cand[ASHA_TRIALS];
    static int rung_of[ASHA_TRIALS], told_at[ASHA_TRIALS];
    static uint64_t hash[ASHA_TRIALS], started[ASHA_TRIALS];
    int running[64], n_run = 0, asked = 0, n_started = 0, n_told = 0, violations = 0;
    cf_rng order = cf_rng_make(tell_seed, cf_rng_stream(1, CF_RNG_PURPOSE_TEST));
    while (asked < ASHA_TRIALS || n_run > 0) {
        while (n_run < in_flight && asked < ASHA_TRIALS) {
            int want = promotable_rung(&l, eta);
            cf_candidate *c = &cand[asked];
            cf_ask_result r = cf_strategy_ask(st, asked, c);
            CHECK(r == CF_ASK_OK, "asha: ask %d with %d in flight -> %d", asked, n_run, (int)r);
            if (r != CF_ASK_OK) break;
            hash[asked] = cf_arch_hash(s, &c->arch);
            int64_t p = c->parent;
            int promotion = p >= 0 && hash[p] == hash[asked];
            if (promotion) {
                int k = rung_of[p], i = told_at[p];
                int ok = k + 1 < l.n_rungs && c->epochs == l.epochs[k + 1] && k == want && i >= 0 &&
                         !l.e[k][i].promoted && isfinite(l.e[k][i].objective) && rank_in(&l, k, i) < l.count[k] / eta;
                violations += !ok;
                CHECK(ok, "asha: trial %d promotes trial %lld of rung %d (expected rung %d) to %d epochs: rank %d of "
                      "%d told", asked, (long long)p, k, want, c->epochs, i >= 0 ? rank_in(&l, k, i) : -1, l.count[k]);
                if (i >= 0) l.e[k][i].promoted = 1;
                rung_of[asked] = k + 1;
            } else {
                CHECK(want < 0 && c->epochs == l.epochs[0], "asha: trial %d starts a config at %d epochs while rung "
                      "%d has a result to promote", asked, c->epochs, want);
                violations += want >= 0;
                started[n_started++] = hash[asked];
                rung_of[asked] = 0;
            }
            told_at[asked] = -1;
            running[n_run++] = asked++;
        }
        if (n_run == 0) break;
        int k = tell_seed ? (int)cf_rng_below(&order, (uint32_t)n_run) : 0;
        int t = running[k];
        memmove(&running[k], &running[k + 1], (size_t)(n_run - k - 1) * sizeof *running);
        n_run--;
        cf_outcome o = outcome_at(s, &cand[t].arch, fail_mod, cand[t].epochs, max_epochs, 1);
        int g = rung_of[t];
        told_at[t] = l.count[g];
        l.e[g][l.count[g]++] = (rung_entry){t, o.status == CF_OUTCOME_OK ? o.objective[0] : INFINITY, 0};
        n_told++;
        cf_strategy_tell(st, t, &cand[t], &o);
    }
    CHECK(violations == 0, "asha (%s, %d in flight): %d proposals broke the promotion rule", options, in_flight,
          violations);
    CHECK(count_distinct(started, (size_t)n_started) == (size_t)n_started, "asha: a config was started twice");
    /* Where the configs went, by their true (full-fidelity) error. */
    int best = -1;
    for (int g = 0; g < l.n_rungs; g++) {
        double sum = 0;
        for (int i = 0; i < l.count[g]; i++) sum += synthetic(s, &cand[l.e[g][i].trial].arch);
        stats->per_rung[g] = l.count[g];
        stats->mean_value[g] = l.count[g] ? sum / l.count[g] : NAN;
    }
    for (int i = 0; i < l.count[0]; i++)
        if (isfinite(l.e[0][i].objective) && (best < 0 || l.e[0][i].objective < l.e[0][best].objective)) best = i;
    const int top = l.n_rungs - 1;
    for (int i = 0; i < l.count[top] && best >= 0; i++)
        stats->best_reached_top |= hash[l.e[top][i].trial] == hash[l.e[0][best].trial];
    cf_strategy_destroy(st);
}

static void asha(const cf_space *s) {
    struct {
        const char *options;
        int eta, in_flight;
        uint64_t tell_seed;
        int fail_mod;
    } runs[] = {
        {"", 3, 1, 0, 0}, {"", 3, 8, 21, 0}, {"", 3, 32, 22, 5}, {"sampler=evolution", 3, 8, 23, 7},
        {"eta=2", 2, 4, 24, 0},
    };
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        asha_stats st;
        asha_rules(s, runs[i].options, runs[i].eta, runs[i].in_flight, runs[i].tell_seed, runs[i].fail_mod, &st);
        printf("asha %-18s %2d in flight%s: configs per rung %d/%d/%d/%d, their mean true error %.3f/%.3f/%.3f/%.3f, "
               "best of rung 0 at the top: %s\n", runs[i].options, runs[i].in_flight,
               runs[i].fail_mod ? ", failures" : "", st.per_rung[0], st.per_rung[1], st.per_rung[2], st.per_rung[3],
               st.mean_value[0], st.mean_value[1], st.mean_value[2], st.mean_value[3],
               st.best_reached_top ? "yes" : "no");
        if (strcmp(runs[i].options, "eta=2") == 0) continue; /* a 5-rung ladder: the figures differ */
        /* Rungs shrink by about eta: ASHA promotes a third of each rung. */
        CHECK(st.per_rung[1] * 2 > st.per_rung[2] * 3 && st.per_rung[0] > st.per_rung[1] * 2,
              "asha %s: rungs %d/%d/%d", runs[i].options, st.per_rung[0], st.per_rung[1], st.per_rung[2]);
        /* The order is the same at every rung, so the top rung holds the best
         * configurations: at least one step (1/6) better on average than the
         * bottom one, and the best of the bottom one among them. */
        CHECK(st.mean_value[3] < st.mean_value[0] - 1.0 / 6, "asha %s: top rung mean %.3f, bottom %.3f",
              runs[i].options, st.mean_value[3], st.mean_value[0]);
        CHECK(st.best_reached_top, "asha %s (%d in flight): the best config of rung 0 never reached the top",
              runs[i].options, runs[i].in_flight);
    }
}

/* Results told for trials never asked (a resumed run) join the rung of their
 * epochs: the next ask promotes the best of them, and never starts one of
 * their archs again. */
static void told_not_asked(const cf_space *s) {
    cf_strategy_config cfg;
    cf_strategy_config_default(&cfg);
    cfg.max_epochs = 9;
    cf_strategy *st = NULL;
    CHECK_OK(cf_strategy_create("asha", s, &cfg, &st));
    if (!st) return;
    cf_rng rng = cf_rng_make(2, cf_rng_stream(3, CF_RNG_PURPOSE_TEST));
    int best = -1;
    double best_v = INFINITY;
    uint64_t hashes[6];
    for (int t = 0; t < 6; t++) {
        cf_candidate c;
        memset(&c, 0, sizeof c);
        cf_arch_sample(s, &rng, &c.arch);
        c.epochs = 1;
        c.parent = -1;
        cf_outcome o = outcome_at(s, &c.arch, 0, 1, 9, 1);
        if (t == 4) o.status = CF_OUTCOME_FAILED; /* never promoted */
        else if (o.objective[0] < best_v) best_v = o.objective[0], best = t;
        hashes[t] = cf_arch_hash(s, &c.arch);
        cf_strategy_tell(st, t, &c, &o);
    }
    cf_candidate next;
    CHECK(cf_strategy_ask(st, 6, &next) == CF_ASK_OK, "asha: no proposal after told results");
    CHECK(next.parent == best && next.epochs == 3 && cf_arch_hash(s, &next.arch) == hashes[best],
          "asha: after 6 results told at 1 epoch, trial 6 has parent %lld at %d epochs, expected a promotion of %d",
          (long long)next.parent, next.epochs, best);
    for (int t = 7; t < 40; t++) {
        CHECK(cf_strategy_ask(st, t, &next) == CF_ASK_OK, "asha: ask %d", t);
        if (next.parent >= 0 && next.parent < 6) continue; /* a promotion of a told result */
        for (int k = 0; k < 6; k++)
            CHECK(cf_arch_hash(s, &next.arch) != hashes[k], "asha: trial %d starts told trial %d's arch again", t, k);
    }
    cf_strategy_destroy(st);
}

/* ---- everything: in flight, failures, other spaces, exhaustion, determinism --------- */

/* No configuration started twice; a promotion is its parent's arch one rung up. */
static void check_starts(const char *what, const sim_log *log, int max_epochs) {
    static uint64_t started[SIM_MAX_TRIALS];
    size_t n = 0;
    int bad = 0;
    for (int t = 0; t < log->asked; t++) {
        int64_t p = log->parent[t];
        if (p >= 0 && log->hash[p] == log->hash[t]) {
            int from = log->epochs[p] ? log->epochs[p] : max_epochs, to = log->epochs[t] ? log->epochs[t] : max_epochs;
            bad += !(to > from && log->ok[p]);
        } else {
            started[n++] = log->hash[t];
        }
    }
    CHECK(bad == 0, "%s: %d promotions of a failed trial or to fewer epochs", what, bad);
    CHECK(count_distinct(started, n) == n, "%s: a configuration was started twice", what);
}

static void everywhere(const cf_space *const *spaces, size_t n_spaces, const cf_space *tiny) {
    static const char *const names[] = {"sh", "hyperband", "asha"};
    static const char *const options[] = {"", "parallel=0", "sampler=evolution,sample=3", "eta=2"};
    static sim_log log;
    char what[128];
    for (size_t i = 0; i < 3; i++) {
        for (size_t o = 0; o < 4; o++) {
            if (strcmp(names[i], "asha") == 0 && strcmp(options[o], "parallel=0") == 0) continue;
            sim m = {names[i], options[o], 5, 300, 8, 3, 5, 9, 1, 0};
            for (size_t k = 0; k < n_spaces; k++) {
                run_sim(spaces[k], &m, &log);
                snprintf(what, sizeof what, "%s %s on %s", names[i], options[o], spaces[k]->name);
                CHECK(log.asked == 300, "%s: %d trials", what, log.asked);
                check_starts(what, &log, 9);
            }
            /* A space of 15 cells: each started once, promotions, then DONE and never a wait with nothing in
             * flight (run_sim checks that). */
            m.trials = 200;
            run_sim(tiny, &m, &log);
            snprintf(what, sizeof what, "%s %s on %s", names[i], options[o], tiny->name);
            CHECK(log.done && log.asked > 15 && log.asked < 60, "%s: %d proposals, done %d", what, log.asked,
                  log.done);
            check_starts(what, &log, 9);
            check_determinism(spaces[0], (sim){names[i], options[o], 11, 200, 6, 5, 7, 27, 1, 0});
        }
    }
}

int main(int argc, char **argv) {
    sim_spaces sp;
    sim_spaces_load(argc, argv, "test_search_mf", &sp);
    cf_space *nb201 = sp.all[0];
    ladder(nb201);
    schedules(nb201);
    waiting(nb201);
    asha(nb201);
    told_not_asked(nb201);
    everywhere((const cf_space *const *)sp.all, 4, sp.tiny);
    sim_spaces_free(&sp);
    return test_finish("test_search_mf");
}
