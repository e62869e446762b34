/* ranks_wire.h - a trial task and its outcome as the JSON texts that travel
 * between MPI ranks (private to src/sched; no MPI here, so it is built and
 * tested everywhere).
 *
 * A task carries the trial's spec (id, arch text, fidelity, batch, cost), the
 * worker (its index on the rank that runs it) and the slot of it that runs
 * it, the time limit, the state file and, for one replica of a data-parallel
 * group over ranks, the group; the receiving rank parses the arch text in its
 * own copy of the space.
 * An outcome carries status, reason, accuracy, epochs, seconds, curve and
 * metrics. Numbers are written with 17 digits, so they read back exactly.
 *
 *   char *text = NULL;
 *   CF_TRY(cf_wire_task_write(task, local_worker, NULL, &text));   // caller frees
 *   cf_trial t; char ckpt[512]; double limit; int worker; cf_wire_group g;
 *   CF_TRY(cf_wire_task_read(space, text, &t, &worker, &limit, ckpt, sizeof ckpt, &g));
 *
 * Tests: tests/test_ranks_wire.c.
 */
#ifndef CF_SCHED_RANKS_WIRE_H
#define CF_SCHED_RANKS_WIRE_H

#include <stddef.h>
#include "cellforge/evaluator.h"

/* The replica a task is, when its trial runs data-parallel over processes. */
typedef struct cf_wire_group {
    long long id;                  /* the group's number in the job */
    int replica, size;             /* size 0: the trial runs on one worker */
    int procs[CF_MAX_WORKERS];     /* (size) the MPI rank running each replica */
    int local[CF_MAX_WORKERS];     /* (size) its worker index on that rank */
    int device;                    /* 1: GPU replicas, sums through NCCL */
} cf_wire_group;

/* The task as JSON into *out (malloc'd; caller frees); group NULL for a trial
 * on one worker. */
cf_status cf_wire_task_write(const cf_trial_task *task, int worker, const cf_wire_group *group, char **out);

/* A task's JSON back into *t (zeroed first; t->curve NULL; t->slots[0] the
 * slot, -1 when the message has none), the worker's index on this rank, the
 * time limit (0: none), the state file ("" for none) and the group (size 0
 * for none). */
cf_status cf_wire_task_read(const cf_space *s, const char *text, cf_trial *t, int *worker, double *time_limit,
                            char *checkpoint, size_t cap, cf_wire_group *group);

/* An outcome as JSON into *out (malloc'd; caller frees). st != CF_OK: the
 * evaluator broke with message err, and the text says only that. */
cf_status cf_wire_outcome_write(const cf_trial_outcome *o, cf_status st, const char *err, char **out);

/* An outcome's JSON back into *o (o->curve malloc'd, the caller takes it).
 * *broke: 1 when the sending evaluator broke, its message in err. */
cf_status cf_wire_outcome_read(const char *text, cf_trial_outcome *o, int *broke, char *err, size_t cap);

#endif
