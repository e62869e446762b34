/* linalg.c - eigenvalues of a small symmetric matrix (cyclic Jacobi) and a
 * log-determinant (partial pivoting), in f64. Jacobi rather than a
 * tridiagonal QR: n is a minibatch size (64, at most a few hundred), where
 * O(n^3) per sweep costs milliseconds, the code is short, and on a positive
 * definite matrix (a correlation matrix) it finds the small eigenvalues, which
 * dominate jacob_cov's 1 / (v + 1e-5), at least as accurately as QR.
 * Tested by tests/test_proxy.c (known spectra and determinants).
 */
#include <math.h>
#include <stdlib.h>

#include "cellforge/linalg.h"

/* One rotation in the (p, q) plane that zeroes a[p][q]: a = J^T a J. */
static void rotate(double *a, int n, int p, int q) {
    double apq = a[p * n + q];
    double theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
    double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1));
    double c = 1 / sqrt(t * t + 1), s = t * c;
    for (int k = 0; k < n; k++) { /* columns p and q */
        double akp = a[k * n + p], akq = a[k * n + q];
        a[k * n + p] = c * akp - s * akq;
        a[k * n + q] = s * akp + c * akq;
    }
    for (int k = 0; k < n; k++) { /* rows p and q */
        double apk = a[p * n + k], aqk = a[q * n + k];
        a[p * n + k] = c * apk - s * aqk;
        a[q * n + k] = s * apk + c * aqk;
    }
    a[p * n + q] = a[q * n + p] = 0; /* zero by construction; rounding aside */
}

static int by_value(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

void cf_linalg_sym_eigenvalues(double *a, int n, double *v) {
    for (int r = 0; r < n; r++) /* the lower triangle from the upper */
        for (int c = 0; c < r; c++) a[r * n + c] = a[c * n + r];
    double total = 0;
    for (int k = 0; k < n * n; k++) total += a[k] * a[k];
    for (int sweep = 0; sweep < 100; sweep++) {
        double off = 0;
        for (int p = 0; p < n; p++)
            for (int q = p + 1; q < n; q++) off += a[p * n + q] * a[p * n + q];
        if (off <= 1e-32 * total) break; /* off-diagonal norm 1e-16 of the whole */
        for (int p = 0; p < n; p++)
            for (int q = p + 1; q < n; q++)
                if (a[p * n + q] != 0) rotate(a, n, p, q);
    }
    for (int k = 0; k < n; k++) v[k] = a[k * n + k];
    qsort(v, (size_t)n, sizeof *v, by_value);
}

double cf_linalg_log_abs_det(double *a, int n) {
    double logdet = 0;
    for (int c = 0; c < n; c++) {
        int p = c;
        for (int r = c + 1; r < n; r++)
            if (fabs(a[r * n + c]) > fabs(a[p * n + c])) p = r;
        if (a[p * n + c] == 0) return -INFINITY;
        if (p != c)
            for (int k = 0; k < n; k++) {
                double t = a[c * n + k];
                a[c * n + k] = a[p * n + k];
                a[p * n + k] = t;
            }
        double d = a[c * n + c];
        logdet += log(fabs(d));
        for (int r = c + 1; r < n; r++) {
            double f = a[r * n + c] / d;
            if (f == 0) continue;
            for (int k = c; k < n; k++) a[r * n + k] -= f * a[c * n + k];
        }
    }
    return logdet;
}
