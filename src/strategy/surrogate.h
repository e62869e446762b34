/* surrogate.h - an ensemble of small MLPs that predicts one number from a
 * sparse feature vector (private to src/search; strategy_bananas.c uses it to
 * predict the validation error of an arch from its path encoding).
 *
 * Each member: features -> 32 ReLU -> 32 ReLU -> 1, weights drawn uniformly
 * in +-1/sqrt(fan_in) (PyTorch's default for linear layers) from a stream keyed
 * by the fit's key and the member, trained by Adam on the mean squared error
 * of the standardized targets. Members differ only in their initialization
 * and mini-batches, which is what makes their spread an uncertainty (Lakshmi-
 * narayanan et al. 2017; White et al. 2021 for BANANAS).
 *
 * Sparse inputs: a path encoding has thousands of features (DARTS: 11200) of
 * which an arch sets a few dozen. Only the first-layer rows of features that
 * occur in the training set get gradients, so only those rows are stored and
 * trained; the row of any other feature keeps its initial value, computed on
 * demand from the same stateless stream (cf_rng_word_at). The result is the
 * dense network, trained exactly as a dense Adam would train it, at the cost
 * of the features present.
 *
 * Tested through the bananas strategy in tests/test_search_bananas.c.
 */
#ifndef CF_SEARCH_SURROGATE_H
#define CF_SEARCH_SURROGATE_H

#include <stddef.h>
#include <stdint.h>

#include "cellforge/status.h"

#define CF_SURROGATE_HIDDEN 32
#define CF_SURROGATE_MAX_MEMBERS 32

/* n examples in compressed-row form: example i has the features
 * index[start[i] .. start[i+1]) with the values value[...] and target[i].
 * Borrowed for the call. */
typedef struct cf_surrogate_data {
    size_t n;
    const uint32_t *start;   /* n + 1 */
    const uint32_t *index;   /* each < n_features */
    const float *value;
    const double *target;    /* n */
} cf_surrogate_data;

typedef struct cf_surrogate cf_surrogate;

/* An unfitted ensemble of `members` (1..CF_SURROGATE_MAX_MEMBERS) over
 * n_features inputs, trained `steps` Adam steps of learning rate lr on
 * mini-batches of up to 32 examples per fit. The caller frees it with
 * cf_surrogate_destroy. */
cf_status cf_surrogate_create(size_t n_features, int members, int steps, double lr, uint64_t seed,
                              cf_surrogate **out);
void cf_surrogate_destroy(cf_surrogate *m); /* NULL is accepted */

/* Fit every member from scratch on d (n >= 1). All randomness comes from
 * (seed, key, member): the same data and key give the same ensemble. key
 * must be below 2^40. Fails only for lack of memory (the previous fit is
 * then gone: predictions use the initial weights). */
cf_status cf_surrogate_fit(cf_surrogate *m, const cf_surrogate_data *d, uint64_t key);

/* Every member's prediction for one example (nnz features), out[members]. */
void cf_surrogate_predict(const cf_surrogate *m, size_t nnz, const uint32_t *index, const float *value, double *out);

#endif
