/* trial.c - the names of a trial's status, as the journal and tables write them,
 * and a trial's objectives as the strategies are told them.
 * Tests: tests/test_journal.c (round trips through the journal), tests/test_sched.c.
 */
#include <math.h>
#include <string.h>

#include "cellforge/sched.h"
#include "cellforge/trial.h"

static const char *const status_names[] = {"pending", "running", "ok",       "nan", "diverged",
                                           "timeout", "oom",     "error",    "rejected", "cut"};

const char *cf_trial_status_name(cf_trial_status s) {
    return (unsigned)s < sizeof status_names / sizeof status_names[0] ? status_names[s] : "?";
}

cf_trial_status cf_trial_status_of_training(cf_train_status s) {
    switch (s) {
    case CF_TRAIN_OK: return CF_TRIAL_OK;
    case CF_TRAIN_NAN: return CF_TRIAL_NAN;
    case CF_TRAIN_DIVERGED: return CF_TRIAL_DIVERGED;
    case CF_TRAIN_TIMEOUT: return CF_TRIAL_TIMEOUT;
    }
    return CF_TRIAL_ERROR;
}

int cf_trial_status_parse(const char *name, cf_trial_status *out) {
    for (size_t i = 0; i < sizeof status_names / sizeof status_names[0]; i++)
        if (strcmp(name, status_names[i]) == 0) {
            *out = (cf_trial_status)i;
            return 1;
        }
    return 0;
}

uint64_t cf_trial_seed(uint64_t run_seed, int64_t id) {
    uint64_t x = run_seed ^ (0x9E3779B97F4A7C15ull * (uint64_t)(id + 1));
    x ^= x >> 31;
    x *= 0xBF58476D1CE4E5B9ull;
    return x ^ (x >> 29);
}

double cf_trial_objective(const cf_search_config *cfg, const cf_trial *t, int k) {
    if (k == 0) return t->val_acc >= 0 ? 1.0 - t->val_acc : 1.0;
    switch (cfg->objectives[k]) {
    case CF_LIMIT_MACS: return (double)t->cost.macs;
    case CF_LIMIT_PARAMS: return (double)t->cost.params;
    case CF_LIMIT_LATENCY: return t->latency_ms >= 0 ? t->latency_ms : 1e30;
    case CF_OBJECTIVE_PROXY: return isfinite(t->proxy) ? -t->proxy : 1e300;
    default: return (double)t->memory;
    }
}
