/* test_search_pareto.c - pareto.h on hand-checked points (duplicates,
 * dominated points, points beyond the reference), the exact hypervolume
 * against inclusion-exclusion on random sets, and the nsga2 strategy: no
 * repeats in any space, many trials in flight, an exhausted space,
 * determinism, and a larger hypervolume than random search on a
 * two-objective NB201 problem (synthetic error against the share of
 * convolution edges, search_sim.h).
 *
 *   ctest --test-dir build -R test_search_pareto --output-on-failure
 *   build/tests/test_search_pareto SPACES_DIR
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cellforge/pareto.h"
#include "cellforge/strategy.h"
#include "cellforge/space.h"
#include "check.h"
#include "search_sim.h"

/* Hypervolumes are sums of a few products of exact binary fractions here, or
 * of random doubles in [0, 1): 1e-12 is rounding, nothing else. */
#define HV_TOL 1e-12


/* ---- two objectives, by hand ------------------------------------------------------ */

static void two_objectives(void) {
    /* (1,5) (2,3) (2,3) (4,1) (6,0.5) are the front, the duplicate included;
     * (3,4) (5,1) (1,6) are dominated by one of them, (5,5) by (3,4);
     * (8,0) is beyond the reference (7,7) in x, (7,0) on its boundary. */
    static const double pts[][2] = {{1, 5}, {2, 3}, {2, 3}, {3, 4}, {4, 1}, {5, 1},
                                    {1, 6}, {6, 0.5}, {5, 5}, {8, 0}, {7, 0}};
    const size_t n = sizeof pts / sizeof pts[0];
    const double *p = &pts[0][0];
    CHECK(cf_pareto_dominates(pts[1], pts[3], 2) && !cf_pareto_dominates(pts[1], pts[2], 2) &&
              !cf_pareto_dominates(pts[0], pts[1], 2) && cf_pareto_dominates(pts[0], pts[6], 2),
          "dominance");

    /* The first nine points, then all: (7,0) dominates (8,0) and, with the
     * lowest y, joins the front. */
    size_t front[16];
    size_t m = cf_pareto_front(p, 9, 2, front);
    static const size_t want_front[] = {0, 1, 2, 4, 7};
    CHECK(m == 5 && memcmp(front, want_front, sizeof want_front) == 0, "front of 9: %zu points", m);
    CHECK(cf_pareto_front(p, 9, 2, NULL) == 5, "front count");
    m = cf_pareto_front(p, n, 2, front);
    CHECK(m == 6 && front[5] == 10, "front of %zu: %zu points, last %zu", n, m, front[m - 1]);

    int rank[16];
    CHECK_OK(cf_pareto_rank(p, 9, 2, rank));
    static const int want_rank[] = {0, 0, 0, 1, 0, 1, 1, 0, 2};
    CHECK(memcmp(rank, want_rank, sizeof want_rank) == 0, "ranks %d %d %d %d %d %d %d %d %d", rank[0], rank[1],
          rank[2], rank[3], rank[4], rank[5], rank[6], rank[7], rank[8]);

    /* Crowding in the front without the duplicate: extremes +inf, then the
     * neighbors' gaps over each objective's range (5 in x, 4.5 in y). */
    static const size_t members[] = {0, 1, 4, 7};
    double d[4];
    CHECK_OK(cf_pareto_crowding(p, 2, members, 4, d));
    double d1 = 3.0 / 5 + 4.0 / 4.5, d2 = 4.0 / 5 + 2.5 / 4.5;
    CHECK(isinf(d[0]) && isinf(d[3]) && fabs(d[1] - d1) < 1e-12 && fabs(d[2] - d2) < 1e-12,
          "crowding %g %g %g %g, expected inf %g %g inf", d[0], d[1], d[2], d[3], d1, d2);

    /* Boxes up to (7,7) by hand: 6*2 + 5*2 + 3*2 + 1*0.5; the duplicate, the
     * dominated points and those not below the reference add nothing. */
    const double ref[2] = {7, 7};
    double hv = 0;
    CHECK_OK(cf_pareto_hypervolume(p, n, 2, ref, &hv));
    CHECK(fabs(hv - 28.5) < HV_TOL, "2-D hypervolume %.15g, expected 28.5", hv);
    CHECK_OK(cf_pareto_hypervolume(pts[1], 1, 2, ref, &hv));
    CHECK(fabs(hv - 20) < HV_TOL, "one point: %.15g, expected 20", hv);
    CHECK_OK(cf_pareto_hypervolume(p, 0, 2, ref, &hv));
    CHECK(hv == 0, "no points: %g", hv);
    const double r1[1] = {3};
    CHECK_OK(cf_pareto_hypervolume(p, 9, 1, r1, &hv)); /* first objective alone: 3 - 1 */
    CHECK(fabs(hv - 2) < HV_TOL, "1-D hypervolume %g", hv);

    double bad[4] = {1, NAN, 2, 2};
    CHECK_FAILS(cf_pareto_rank(bad, 2, 2, rank), CF_ERR_INVALID_ARG, "pareto", "NaN");
    CHECK_FAILS(cf_pareto_hypervolume(bad, 2, 2, ref, &hv), CF_ERR_INVALID_ARG, "value 1 of 4", "NaN");
    CHECK_FAILS(cf_pareto_hypervolume(bad, 1, 4, ref, &hv), CF_ERR_UNSUPPORTED, "4 objectives", "1, 2 or 3");
}

/* ---- three objectives, by hand and against inclusion-exclusion -------------------- */

/* The volume dominated by the points, by inclusion-exclusion over every
 * subset: exact, and independent of the sweep and the slices. n <= 10. */
static double hv_brute(const double *p, int n, int k, const double *ref) {
    double total = 0;
    for (unsigned set = 1; set < 1u << n; set++) {
        double corner[3] = {-INFINITY, -INFINITY, -INFINITY}, vol = 1;
        int bits = 0;
        for (int i = 0; i < n; i++)
            if (set >> i & 1) {
                bits++;
                for (int j = 0; j < k; j++) corner[j] = fmax(corner[j], p[i * k + j]);
            }
        for (int j = 0; j < k; j++) vol *= fmax(0, ref[j] - corner[j]);
        total += bits % 2 ? vol : -vol;
    }
    return total;
}

static void three_objectives(void) {
    /* Unit boxes up to (2,2,2): A = (0,1,1) and B = (1,0,1) have volume 2
     * each, C = (1,1,0) too; every pair and the triple overlap in [1,2]^3:
     * 2 + 2 + 2 - 1 - 1 - 1 + 1 = 4. A duplicate of C, a dominated point and
     * one beyond the reference change nothing. */
    static const double pts[][3] = {{0, 1, 1}, {1, 0, 1}, {1, 1, 0}, {1, 1, 0}, {1.5, 1.5, 1.5}, {3, 0, 0}};
    const double ref[3] = {2, 2, 2};
    double hv = 0;
    CHECK_OK(cf_pareto_hypervolume(&pts[0][0], 6, 3, ref, &hv));
    CHECK(fabs(hv - 4) < HV_TOL, "3-D hypervolume %.15g, expected 4", hv);
    CHECK_OK(cf_pareto_hypervolume(&pts[0][0], 2, 3, ref, &hv));
    CHECK(fabs(hv - 3) < HV_TOL, "3-D hypervolume of A and B %.15g, expected 3", hv);
    size_t front[8];
    size_t m = cf_pareto_front(&pts[0][0], 6, 3, front);
    CHECK(m == 5 && front[3] == 3 && front[4] == 5, "3-D front: %zu points", m);

    /* Random sets: slices and sweep against inclusion-exclusion; a flat set in
     * 3-D is its 2-D area times the depth. */
    cf_rng rng = cf_rng_make(5, cf_rng_stream(0, CF_RNG_PURPOSE_TEST));
    double worst = 0;
    for (int t = 0; t < 40; t++) {
        int k = 2 + t % 2, n = 1 + t % 9;
        double p[30], flat[30];
        for (int i = 0; i < n * k; i++) p[i] = cf_rng_uniform_f64(&rng);
        if (t % 5 == 0 && n > 1) p[k] = p[0], p[k + 1] = p[1], p[k + k - 1] = p[k - 1]; /* a duplicate */
        const double r[3] = {1, 1, 1};
        CHECK_OK(cf_pareto_hypervolume(p, (size_t)n, k, r, &hv));
        double want = hv_brute(p, n, k, r);
        worst = fmax(worst, fabs(hv - want));
        CHECK(fabs(hv - want) < HV_TOL, "random set %d (%d points, %d objectives): %.15g, expected %.15g", t, n, k,
              hv, want);
        if (k == 2) {
            for (int i = 0; i < n; i++) flat[i * 3] = p[i * 2], flat[i * 3 + 1] = p[i * 2 + 1], flat[i * 3 + 2] = 0.25;
            double hv3 = 0;
            CHECK_OK(cf_pareto_hypervolume(flat, (size_t)n, 3, r, &hv3));
            CHECK(fabs(hv3 - hv * 0.75) < HV_TOL, "flat set %d: %.15g, expected %.15g", t, hv3, hv * 0.75);
        }
    }
    printf("hypervolume: hand-checked 28.5 (2-D) and 4 (3-D); 40 random sets within %.1e of inclusion-exclusion\n",
           worst);
}

/* ---- nsga2 ------------------------------------------------------------------------ */

static void nsga2_mechanics(const cf_space *const *spaces, size_t n_spaces, const cf_space *tiny) {
    static sim_log log;
    for (size_t k = 0; k < n_spaces; k++) {
        sim m = {"nsga2", "population=10", 5, 150, 8, 3, 5, 1, 2, 0};
        run_sim(spaces[k], &m, &log);
        CHECK(log.asked == 150, "nsga2 on %s: %d trials", spaces[k]->name, log.asked);
        CHECK(count_distinct(log.hash, (size_t)log.asked) == (size_t)log.asked, "nsga2 on %s repeated an arch",
              spaces[k]->name);
        int children = 0;
        for (int t = 0; t < log.asked; t++) children += log.parent[t] >= 0;
        CHECK(children > log.asked / 2, "nsga2 on %s: %d children in %d trials", spaces[k]->name, children,
              log.asked);
    }
    sim m = {"nsga2", "population=4", 5, 100, 3, 4, 0, 1, 2, 0};
    run_sim(tiny, &m, &log);
    CHECK(log.done && log.asked == 15, "nsga2 on %s: %d proposals of 15 cells, done %d", tiny->name, log.asked,
          log.done);
    check_determinism(spaces[0], (sim){"nsga2", "population=20,tournament=3", 11, 200, 6, 5, 7, 1, 2, 0});
    check_determinism(spaces[0], (sim){"nsga2", "", 11, 200, 6, 5, 7, 1, 3, 0});
    check_determinism(spaces[0], (sim){"nsga2", "", 11, 200, 6, 5, 7, 1, 1, 0});
}

enum { SEEDS = 10, BUDGET = 200 };

/* Hypervolume of the OK results of a run against (1.1, 1.1): both objectives
 * are shares in [0, 1], plus the hash term below 0.05 in the error. */
static double run_hypervolume(const sim_log *log) {
    static double pts[SIM_MAX_TRIALS][2];
    size_t n = 0;
    for (int t = 0; t < log->asked; t++)
        if (log->ok[t]) pts[n][0] = log->objective[t][0], pts[n][1] = log->objective[t][1], n++;
    const double ref[2] = {1.1, 1.1};
    double hv = 0;
    CHECK_OK(cf_pareto_hypervolume(&pts[0][0], n, 2, ref, &hv));
    return hv;
}

static void nsga2_vs_random(const cf_space *s) {
    static sim_log log;
    const char *names[] = {"random", "nsga2"};
    double mean[2], low[2];
    for (int i = 0; i < 2; i++) {
        double sum = 0;
        low[i] = INFINITY;
        for (int k = 0; k < SEEDS; k++) {
            sim m = {names[i], "", (uint64_t)k + 1, BUDGET, 4, (uint64_t)k + 50, 0, 1, 2, 0};
            run_sim(s, &m, &log);
            double hv = run_hypervolume(&log);
            sum += hv;
            low[i] = fmin(low[i], hv);
        }
        mean[i] = sum / SEEDS;
    }
    /* The true front: c = 0..6 conv 3x3 edges and nothing else, at (error
     * (6 - c)/6 + hash term, cost c/6), a staircase with steps 1/6 wide;
     * without the hash term its hypervolume bounds what any run reaches. */
    double ideal = 0, prev = 1.1;
    for (int c = 6; c >= 0; c--) ideal += (1.1 - (6.0 - c) / 6) * (prev - c / 6.0), prev = c / 6.0;
    printf("two objectives on nb201, %d trials, 4 in flight, over %d seeds: hypervolume mean random %.4f, nsga2 "
           "%.4f (lowest %.4f, %.4f; the true front %.4f)\n", BUDGET, SEEDS, mean[0], mean[1], low[0], low[1],
           ideal);
    /* Missing one middle step of the staircase costs about 1/36 = 0.028:
     * nsga2 must be that much ahead on the mean, and its worst seed ahead of
     * random's mean. */
    CHECK(mean[1] > mean[0] + 1.0 / 36, "nsga2: mean hypervolume %.4f, random %.4f", mean[1], mean[0]);
    CHECK(low[1] > mean[0], "nsga2: lowest hypervolume %.4f, random's mean %.4f", low[1], mean[0]);
}

int main(int argc, char **argv) {
    sim_spaces sp;
    two_objectives();
    three_objectives();
    sim_spaces_load(argc, argv, "test_search_pareto", &sp);
    nsga2_mechanics((const cf_space *const *)sp.all, 4, sp.tiny);
    nsga2_vs_random(sp.all[0]);
    sim_spaces_free(&sp);
    return test_finish("test_search_pareto");
}
