/* ranks_wire.h - a trial task and its outcome as the JSON texts that travel
 * between MPI ranks (private to src/sched; no MPI here, so it is built and
 * tested everywhere).
 *
 * A task carries the trial's spec (id, arch text, fidelity, batch, cost), the
 * worker (its index on the rank that runs it) and the slot of it that runs
 * it, the time limit and the state file; the receiving rank parses the arch text in its own copy of the space.
 * An outcome carries status, reason, accuracy, epochs, seconds, curve and
 * metrics. Numbers are written with 17 digits, so they read back exactly.
 *
 *   char *text = NULL;
 *   CF_TRY(cf_wire_task_write(task, local_worker, &text));   // caller frees
 *   cf_trial t; char ckpt[512]; double limit; int worker;
 *   CF_TRY(cf_wire_task_read(space, text, &t, &worker, &limit, ckpt, sizeof ckpt));
 *
 * Tests: tests/test_ranks_wire.c.
 */
#ifndef CF_SCHED_RANKS_WIRE_H
#define CF_SCHED_RANKS_WIRE_H

#include <stddef.h>
#include "cellforge/evaluator.h"

/* The task as JSON into *out (malloc'd; caller frees). */
cf_status cf_wire_task_write(const cf_trial_task *task, int worker, char **out);

/* A task's JSON back into *t (zeroed first; t->curve NULL; t->slots[0] the
 * slot, -1 when the message has none), the worker's index on this rank, the
 * time limit (0: none) and the state file ("" for none). */
cf_status cf_wire_task_read(const cf_space *s, const char *text, cf_trial *t, int *worker, double *time_limit,
                            char *checkpoint, size_t cap);

/* An outcome as JSON into *out (malloc'd; caller frees). st != CF_OK: the
 * evaluator broke with message err, and the text says only that. */
cf_status cf_wire_outcome_write(const cf_trial_outcome *o, cf_status st, const char *err, char **out);

/* An outcome's JSON back into *o (o->curve malloc'd, the caller takes it).
 * *broke: 1 when the sending evaluator broke, its message in err. */
cf_status cf_wire_outcome_read(const char *text, cf_trial_outcome *o, int *broke, char *err, size_t cap);

#endif
