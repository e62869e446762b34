/* estimate.c - a trial's seconds estimated from the ok trials before it: the
 * median seconds per unit of work (estimate.h says what work is and why).
 * Tests: tests/test_sched.c (the time budget of table searches).
 */
#include <stdlib.h>
#include <string.h>

#include "cellforge/grow.h"
#include "estimate.h"

double cf_trial_work(const cf_trial *t) {
    double fraction = t->cand.fraction > 0 && t->cand.fraction < 1 ? t->cand.fraction : 1;
    int epochs = t->cand.epochs > 0 ? t->cand.epochs : 1;
    return t->cost.macs > 0 ? (double)t->cost.macs * epochs * fraction : 0;
}

void cf_estimate_init(cf_estimate *e, double first) {
    memset(e, 0, sizeof *e);
    e->first = first > 0 ? first : 0;
}

void cf_estimate_add(cf_estimate *e, const cf_trial *t) {
    double work = cf_trial_work(t);
    if (work <= 0 || !(t->train_seconds > 0)) return;
    if (cf_grow((void **)&e->ratio, &e->cap, e->n + 1, sizeof *e->ratio) != CF_OK) {
        cf_error_clear();
        return;
    }
    /* kept sorted: one insertion per ok trial */
    double r = t->train_seconds / work;
    size_t i = e->n;
    while (i > 0 && e->ratio[i - 1] > r) {
        e->ratio[i] = e->ratio[i - 1];
        i--;
    }
    e->ratio[i] = r;
    e->n++;
}

double cf_estimate_per_work(const cf_estimate *e) {
    if (e->n == 0) return e->first;
    return e->n % 2 ? e->ratio[e->n / 2] : 0.5 * (e->ratio[e->n / 2 - 1] + e->ratio[e->n / 2]);
}

double cf_estimate_seconds(const cf_estimate *e, const cf_trial *t) {
    return cf_estimate_per_work(e) * cf_trial_work(t);
}

void cf_estimate_free(cf_estimate *e) {
    if (!e) return;
    free(e->ratio);
    memset(e, 0, sizeof *e);
}
