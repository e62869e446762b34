/* pareto.c - dominance, non-dominated sorting, crowding distance and exact
 * hypervolume (pareto.h), for multi-objective strategies and reports.
 *
 * Tested by tests/test_search_pareto.c:
 *   ctest --test-dir build -R test_search_pareto --output-on-failure
 */
#include "cellforge/pareto.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cellforge/grow.h"

int cf_pareto_dominates(const double *a, const double *b, int k) {
    int better = 0;
    for (int j = 0; j < k; j++) {
        if (a[j] > b[j]) return 0;
        better |= a[j] < b[j];
    }
    return better;
}

size_t cf_pareto_front(const double *points, size_t n, int k, size_t *out) {
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        int dominated = 0;
        for (size_t q = 0; q < n && !dominated; q++)
            dominated = q != i && cf_pareto_dominates(&points[q * (size_t)k], &points[i * (size_t)k], k);
        if (!dominated) {
            if (out) out[m] = i;
            m++;
        }
    }
    return m;
}

static cf_status check_finite_or_inf(const double *v, size_t count, const char *what) {
    for (size_t i = 0; i < count; i++)
        if (isnan(v[i])) CF_FAIL(CF_ERR_INVALID_ARG, "pareto: %s %zu of %zu is NaN", what, i, count);
    return CF_OK;
}

cf_status cf_pareto_rank(const double *points, size_t n, int k, int *rank) {
    if (k < 1) CF_FAIL(CF_ERR_INVALID_ARG, "pareto: %d objectives", k);
    CF_TRY(check_finite_or_inf(points, n * (size_t)k, "value"));
    if (n == 0) return CF_OK;
    /* dom: bit q of row i set when i dominates q; count[q]: how many dominate q. */
    size_t words = (n + 63) / 64;
    uint64_t *dom = calloc(n * words, sizeof *dom);
    size_t *count = calloc(n, sizeof *count), *current = malloc(n * sizeof *current),
           *next = malloc(n * sizeof *next);
    if (!dom || !count || !current || !next) {
        free(dom), free(count), free(current), free(next);
        CF_FAIL(CF_ERR_OUT_OF_MEMORY, "pareto: no memory to sort %zu points", n);
    }
    for (size_t i = 0; i < n; i++)
        for (size_t q = 0; q < n; q++)
            if (q != i && cf_pareto_dominates(&points[i * (size_t)k], &points[q * (size_t)k], k)) {
                dom[i * words + q / 64] |= UINT64_C(1) << (q % 64);
                count[q]++;
            }
    size_t n_current = 0;
    for (size_t i = 0; i < n; i++)
        if (count[i] == 0) current[n_current++] = i, rank[i] = 0;
    /* Peel: removing a front releases the points only it dominated. */
    for (int r = 1; n_current > 0; r++) {
        size_t n_next = 0;
        for (size_t t = 0; t < n_current; t++) {
            const uint64_t *row = &dom[current[t] * words];
            for (size_t q = 0; q < n; q++)
                if ((row[q / 64] >> (q % 64) & 1) && --count[q] == 0) next[n_next++] = q, rank[q] = r;
        }
        size_t *swap = current;
        current = next;
        next = swap;
        n_current = n_next;
    }
    free(dom), free(count), free(current), free(next);
    return CF_OK;
}

/* A value and where it came from; sorting by both keeps every order deterministic. */
typedef struct keyed {
    double v;
    size_t i;
} keyed;

static int cmp_keyed(const void *a, const void *b) {
    const keyed *x = a, *y = b;
    if (x->v != y->v) return x->v < y->v ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

cf_status cf_pareto_crowding(const double *points, int k, const size_t *members, size_t m, double *distance) {
    for (size_t t = 0; t < m; t++) distance[t] = 0;
    if (m == 0) return CF_OK;
    keyed *order = malloc(m * sizeof *order);
    if (!order) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "pareto: no memory for the crowding of %zu points", m);
    for (int j = 0; j < k; j++) {
        for (size_t t = 0; t < m; t++) order[t] = (keyed){points[members[t] * (size_t)k + (size_t)j], t};
        qsort(order, m, sizeof *order, cmp_keyed);
        distance[order[0].i] = INFINITY;
        distance[order[m - 1].i] = INFINITY;
        double range = order[m - 1].v - order[0].v;
        if (!(range > 0) || !isfinite(range)) continue;
        for (size_t t = 1; t + 1 < m; t++) distance[order[t].i] += (order[t + 1].v - order[t - 1].v) / range;
    }
    free(order);
    return CF_OK;
}

/* Area dominated by the n points (x, y) sorted by x then y, up to (rx, ry);
 * every point is strictly below the reference. */
static double area_sorted(const keyed *x_sorted, const double *y, size_t n, double rx, double ry) {
    double area = 0, low = ry;
    for (size_t t = 0; t < n; t++) {
        double yt = y[x_sorted[t].i];
        if (yt < low) {
            area += (rx - x_sorted[t].v) * (low - yt);
            low = yt;
        }
    }
    return area;
}

cf_status cf_pareto_hypervolume(const double *points, size_t n, int k, const double *ref, double *out) {
    *out = 0;
    if (k < 1 || k > 3) CF_FAIL(CF_ERR_UNSUPPORTED, "pareto: hypervolume of %d objectives: 1, 2 or 3 supported", k);
    CF_TRY(check_finite_or_inf(ref, (size_t)k, "reference value"));
    CF_TRY(check_finite_or_inf(points, n * (size_t)k, "value"));
    /* Only points strictly below the reference in every objective count. */
    size_t m = 0;
    double *in = malloc((n ? n : 1) * 3 * sizeof *in);
    keyed *order = malloc((n ? n : 1) * sizeof *order);
    double *ys = malloc((n ? n : 1) * sizeof *ys);
    if (!in || !order || !ys) {
        free(in), free(order), free(ys);
        CF_FAIL(CF_ERR_OUT_OF_MEMORY, "pareto: no memory for the hypervolume of %zu points", n);
    }
    for (size_t i = 0; i < n; i++) {
        const double *p = &points[i * (size_t)k];
        int below = 1;
        for (int j = 0; j < k; j++) below &= p[j] < ref[j];
        if (!below) continue;
        for (int j = 0; j < 3; j++) in[m * 3 + (size_t)j] = j < k ? p[j] : 0;
        m++;
    }
    double hv = 0;
    if (k == 1) {
        for (size_t i = 0; i < m; i++) hv = fmax(hv, ref[0] - in[i * 3]);
    } else if (k == 2) {
        for (size_t i = 0; i < m; i++) order[i] = (keyed){in[i * 3], i}, ys[i] = in[i * 3 + 1];
        qsort(order, m, sizeof *order, cmp_keyed);
        hv = area_sorted(order, ys, m, ref[0], ref[1]);
    } else {
        /* Slices along z: between the t-th and (t+1)-th smallest z, the section
         * is the 2-D set of the points with the t+1 smallest z. The x order of
         * that set grows by one insertion per slice. */
        keyed *by_z = malloc((m ? m : 1) * sizeof *by_z);
        if (!by_z) {
            free(in), free(order), free(ys);
            CF_FAIL(CF_ERR_OUT_OF_MEMORY, "pareto: no memory for the hypervolume of %zu points", n);
        }
        for (size_t i = 0; i < m; i++) by_z[i] = (keyed){in[i * 3 + 2], i}, ys[i] = in[i * 3 + 1];
        qsort(by_z, m, sizeof *by_z, cmp_keyed);
        for (size_t t = 0; t < m; t++) {
            keyed add = {in[by_z[t].i * 3], by_z[t].i};
            size_t at = t;
            while (at > 0 && cmp_keyed(&order[at - 1], &add) > 0) {
                order[at] = order[at - 1];
                at--;
            }
            order[at] = add;
            double z_next = t + 1 < m ? by_z[t + 1].v : ref[2];
            if (z_next > by_z[t].v) hv += area_sorted(order, ys, t + 1, ref[0], ref[1]) * (z_next - by_z[t].v);
        }
        free(by_z);
    }
    free(in), free(order), free(ys);
    *out = hv;
    return CF_OK;
}

/* ---- the live front -------------------------------------------------------- */

void cf_pareto_live_init(cf_pareto_live *f, int k) {
    memset(f, 0, sizeof *f);
    f->k = k;
}

void cf_pareto_live_free(cf_pareto_live *f) {
    free(f->points);
    free(f->ids);
    free(f->front);
    memset(f, 0, sizeof *f);
}

/* Point i enters the front unless a member dominates it or equals it; the
 * members it dominates leave. */
static int live_update(cf_pareto_live *f, size_t i) {
    const int k = f->k;
    const double *p = f->points + i * (size_t)k;
    for (size_t a = 0; a < f->n_front; a++) {
        const double *q = f->points + f->front[a] * (size_t)k;
        if (cf_pareto_dominates(q, p, k) || memcmp(q, p, (size_t)k * sizeof *p) == 0) return 0;
    }
    size_t w = 0;
    for (size_t a = 0; a < f->n_front; a++)
        if (!cf_pareto_dominates(p, f->points + f->front[a] * (size_t)k, k)) f->front[w++] = f->front[a];
    f->front[w++] = i;
    f->n_front = w;
    return 1;
}

cf_status cf_pareto_live_add(cf_pareto_live *f, const double *point, int64_t id, int *joined) {
    if (joined) *joined = 0;
    if (f->n == f->cap) {
        /* three arrays, one capacity: each grows to the same size before cap moves */
        if (f->k < 1) CF_FAIL(CF_ERR_INVALID_ARG, "pareto: %d objectives", f->k);
        size_t cp = f->cap * (size_t)f->k, ci = f->cap, cf = f->cap, want = f->n + 1;
        CF_TRY(cf_grow((void **)&f->points, &cp, want * (size_t)f->k, sizeof *f->points));
        CF_TRY(cf_grow((void **)&f->ids, &ci, want, sizeof *f->ids));
        CF_TRY(cf_grow((void **)&f->front, &cf, want, sizeof *f->front));
        size_t cap = cp / (size_t)f->k;
        if (ci < cap) cap = ci;
        if (cf < cap) cap = cf;
        f->cap = cap;
    }
    memcpy(f->points + f->n * (size_t)f->k, point, (size_t)f->k * sizeof *point);
    f->ids[f->n++] = id;
    int in = live_update(f, f->n - 1);
    if (joined) *joined = in;
    return CF_OK;
}
