/* trial.c - the names of a trial's status, as the journal and tables write them.
 * Tests: tests/test_journal.c (round trips through the journal), tests/test_sched.c.
 */
#include <string.h>

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
