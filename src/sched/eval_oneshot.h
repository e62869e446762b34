/* eval_oneshot.h - the supernet trials of the `train` evaluator (private to src/sched). */
#ifndef CF_SCHED_EVAL_ONESHOT_H
#define CF_SCHED_EVAL_ONESHOT_H

#include "cellforge/evaluator.h"
#include "cellforge/oneshot.h"

/* What the train evaluator hands over; all borrowed. */
typedef struct cf_eval_supernet_args {
    const cf_space *space;
    const cf_dataset *train, *val;
    const cf_train_config *run;        /* the run's training settings (seed, epochs, augment, ...) */
    const cf_oneshot_config *oneshot;  /* the run's one-shot method, or NULL: none */
    const cf_backend *be;
} cf_eval_supernet_args;

/* Run a supernet trial (task->trial->cand.arch.supernet) into *out: the
 * trial's own failures go in *out (CF_OK returned). */
cf_status cf_eval_supernet(const cf_eval_supernet_args *a, const cf_trial_task *task, cf_trial_outcome *out);

#endif
