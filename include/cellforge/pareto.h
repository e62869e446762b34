/* pareto.h - Pareto dominance over points with k minimized objectives: the
 * non-dominated set, non-dominated sorting with crowding distance (NSGA-II),
 * the exact hypervolume of 1-, 2- and 3-objective sets, and a front kept up
 * to date as a search's results arrive.
 *
 * Points are n rows of k doubles, row-major: objective j of point i is
 * points[i * k + j]. Every objective is minimized (cf_outcome's convention:
 * error, MACs, parameters, bytes). a dominates b when a is no worse in every
 * objective and better in at least one, so equal points (duplicates) never
 * dominate each other: all copies of a non-dominated point are in the front.
 * Objectives must not be NaN; +inf is allowed (worse than everything finite).
 * Every array is borrowed for the call; nothing is kept.
 *
 *   double pts[] = {0.10, 5e6,   0.08, 9e6,   0.12, 9e6};   // (error, MACs)
 *   size_t front[3];
 *   size_t m = cf_pareto_front(pts, 3, 2, front);          // m = 2: points 0 and 1
 *   double ref[2] = {1.0, 2e7}, hv;
 *   CF_TRY(cf_pareto_hypervolume(pts, 3, 2, ref, &hv));
 *
 * Reference point of the hypervolume: a point worse than every point that
 * should count, in every objective. The hypervolume is the volume of the
 * region {y : p <= y <= ref for some point p of the set}; a point not
 * strictly below ref in every objective adds nothing. Compare hypervolumes
 * only against the same reference (a fixed worst case such as error 1 and the
 * space's largest MACs, or the nadir of all the sets compared plus a margin).
 */
#ifndef CELLFORGE_PARETO_H
#define CELLFORGE_PARETO_H

#include <stddef.h>
#include <stdint.h>

#include "cellforge/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when a dominates b (k objectives each). */
int cf_pareto_dominates(const double *a, const double *b, int k);

/* The indices of the points no other point dominates, increasing, into out
 * (room for n; NULL to count only). Returns their number. O(k n^2). */
size_t cf_pareto_front(const double *points, size_t n, int k, size_t *out);

/* Non-dominated sorting (Deb et al. 2002): rank[i] = 0 for the front, 1 for
 * the front of what remains without it, and so on. O(k n^2) time, n^2 / 8
 * bytes of scratch. Fails on NaN or for lack of memory. */
cf_status cf_pareto_rank(const double *points, size_t n, int k, int *rank);

/* Crowding distance (NSGA-II) of the m points members[0..m) (indices into
 * points; normally one front) among themselves: distance[t] for members[t] is
 * the sum over objectives of the gap between its two neighbors in that
 * objective, divided by the objective's range among the members; the extremes
 * of each objective get +inf. Objectives with zero range add nothing; equal
 * values are ordered by index. Fails for lack of memory. */
cf_status cf_pareto_crowding(const double *points, int k, const size_t *members, size_t m, double *distance);

/* The hypervolume of the points against ref (k values), k = 1, 2 or 3 (see
 * the reference point convention above). Exact: 2 objectives by a sweep in
 * O(n log n), 3 by slicing along the third in O(n^2). Fails with
 * CF_ERR_UNSUPPORTED for other k, CF_ERR_INVALID_ARG on NaN. */
cf_status cf_pareto_hypervolume(const double *points, size_t n, int k, const double *ref, double *out);

/* A front kept while points arrive one at a time (a running search): every
 * point added is kept with the caller's id, and the front (indices into
 * points) is updated in O(front) per point. A point equal to a member does not
 * join (the earlier one stands for both).
 *
 *   cf_pareto_live f;
 *   cf_pareto_live_init(&f, 2);
 *   int joined;
 *   CF_TRY(cf_pareto_live_add(&f, (double[]){0.1, 5e6}, trial_id, &joined));
 *   for (size_t a = 0; a < f.n_front; a++) ... f.ids[f.front[a]] ...
 *   cf_pareto_live_free(&f);
 */
typedef struct cf_pareto_live {
    int k;          /* objectives per point */
    double *points; /* (n, k) owned */
    int64_t *ids;   /* (n) owned: the caller's id of each point */
    size_t n, cap;
    size_t *front;  /* (n_front) owned: indices into points, in the order they joined */
    size_t n_front;
} cf_pareto_live;

void cf_pareto_live_init(cf_pareto_live *f, int k);
/* Keep point (k values, copied) with its id; *joined (may be NULL) is 1 when
 * it entered the front (the members it dominates leave). Fails with
 * CF_ERR_OUT_OF_MEMORY, the set unchanged. */
cf_status cf_pareto_live_add(cf_pareto_live *f, const double *point, int64_t id, int *joined);
/* Frees the arrays and zeroes f. */
void cf_pareto_live_free(cf_pareto_live *f);

#ifdef __cplusplus
}
#endif
#endif
