/* linalg.h - dense linear algebra on small f64 matrices, for the scores that
 * need a determinant or a spectrum of an n x n matrix, n a minibatch size.
 *
 *   double a[3 * 3] = {2, 1, 0, 1, 2, 0, 0, 0, 5}, v[3];
 *   cf_linalg_sym_eigenvalues(a, 3, v);   // v = {1, 3, 5}; a is overwritten
 */
#ifndef CELLFORGE_LINALG_H
#define CELLFORGE_LINALG_H

#ifdef __cplusplus
extern "C" {
#endif

/* Eigenvalues of the symmetric matrix a (n x n, row-major; only its upper
 * triangle is trusted, and it is overwritten) in ascending order into v (n),
 * by cyclic Jacobi rotations until the off-diagonal part is below rounding. */
void cf_linalg_sym_eigenvalues(double *a, int n, double *v);

/* log |det a| of a (n x n, row-major; overwritten by its elimination),
 * -INFINITY when a is singular. */
double cf_linalg_log_abs_det(double *a, int n);

#ifdef __cplusplus
}
#endif
#endif
