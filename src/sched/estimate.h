/* estimate.h - how long a trial will take, learned from the trials that ran
 * (private to src/sched).
 *
 * A trial's work is its MACs per image times its epochs times its fraction of
 * each epoch; the seconds per unit of work are the median over the ok trials so
 * far of train_seconds / work, or a first guess (a pre-flight measurement) until
 * one ends ok. The median, so that one trial slowed by a busy device does not
 * move it; recorded seconds only, so a simulated run stays deterministic and a
 * resume rebuilds the same estimate from the journal.
 *
 *   cf_estimate e;
 *   cf_estimate_init(&e, cfg->est_s_per_work);
 *   cf_estimate_add(&e, finished_ok_trial);
 *   double s = cf_estimate_seconds(&e, t);   // 0: not known
 *   cf_estimate_free(&e);
 *
 * Tests: tests/test_sched.c (the time budget of table searches).
 */
#ifndef CF_SCHED_ESTIMATE_H
#define CF_SCHED_ESTIMATE_H

#include <stddef.h>

#include "cellforge/trial.h"

typedef struct cf_estimate {
    double first;              /* seconds per unit of work before any ok trial; 0: none */
    double *ratio;             /* (n) the ok trials' seconds per unit of work, sorted; owned */
    size_t n, cap;
} cf_estimate;

/* MACs per image x epochs x fraction; 0 when the cost is not known. */
double cf_trial_work(const cf_trial *t);

void cf_estimate_init(cf_estimate *e, double first);
/* Learn from a trial that ended ok; one without work or seconds teaches nothing,
 * and a ratio that finds no memory is left out (the estimate is only a guide). */
void cf_estimate_add(cf_estimate *e, const cf_trial *t);
/* Seconds per unit of work: the median of the ratios, else the first guess; 0: not known. */
double cf_estimate_per_work(const cf_estimate *e);
/* Estimated training seconds of t; 0 when not known. */
double cf_estimate_seconds(const cf_estimate *e, const cf_trial *t);
void cf_estimate_free(cf_estimate *e);

#endif
