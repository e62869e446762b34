/* pool.h - the worker threads of a search behind a queue (private to src/sched).
 *
 * One thread per slot of each worker. A thread opens the evaluator on its
 * device once, at its first job (a slot that never runs one costs the device
 * nothing), then runs the jobs queued for its worker and its slot (job->slot;
 * the controller gives a trial the lowest slot that is free, so the journal
 * can say which slot ran it) and puts each on the done queue; the controller
 * takes finished jobs off that queue. The pool never looks inside a job
 * beyond the task it runs: which trial a job belongs to is the controller's
 * business (owner).
 *
 *   cf_pool *p = calloc(1, sizeof *p);
 *   CF_TRY(cf_pool_start(p, ev, workers, n));
 *   cf_pool_submit(p, jobs, count);          // the pool holds them until done
 *   cf_pool_job *done = cf_pool_take(p, 1);  // a list via ->next; caller frees
 *   cf_pool_stop(p);                         // after every job came back
 *
 * Tests: tests/test_sched.c (searches through the pool with table evaluators).
 */
#ifndef CF_SCHED_POOL_H
#define CF_SCHED_POOL_H

#include "cellforge/comm.h"
#include "cellforge/evaluator.h"
#include "cellforge/thread.h"

#define CF_POOL_MAX_SLOTS CF_MAX_SLOTS

typedef struct cf_pool_job {
    struct cf_pool_job *next;
    void *owner;               /* the caller's; the pool does not touch it */
    int rank, worker;          /* worker: index into the pool's workers */
    int slot;                  /* the thread of the worker that runs it (0 .. slots - 1);
                                  -1: the first one free */
    cf_trial_task task;
    cf_trial_outcome out;      /* filled by the evaluator */
    cf_status st;              /* the evaluator itself failed (or its device did not open) */
    char err[256];             /* ... with this message */
} cf_pool_job;

typedef struct cf_pool_worker {
    cf_worker_desc desc;       /* slots clamped to 1..CF_POOL_MAX_SLOTS */
    cf_pool_job *head, *tail;
    cf_thread threads[CF_POOL_MAX_SLOTS];
    int n_threads;
    unsigned taken;            /* bit k: slot k was given a job (cf_pool_slot_take) */
} cf_pool_worker;

typedef struct cf_pool {
    cf_mutex mu;
    cf_cond work, done;
    cf_pool_worker w[CF_MAX_WORKERS];
    int n;
    cf_pool_job *done_head, *done_tail;
    int stopping;
    cf_evaluator *ev;          /* borrowed */
} cf_pool;

/* Start one thread per slot of each worker. p is zeroed first. On failure the
 * threads already started must still be stopped with cf_pool_stop. */
cf_status cf_pool_start(cf_pool *p, cf_evaluator *ev, const cf_worker_desc *workers, int n);

/* The communicator of a data-parallel group on the pool's workers[0..k)
 * (indices), all in this process: NCCL when they are all GPUs and the
 * evaluator trains, else the CPU communicator. The caller destroys it. */
cf_status cf_pool_group_comm(const cf_pool *p, const int *workers, int k, cf_comm **out);

/* Queue jobs[0..n) on their workers (job->worker) in one step, so the ranks
 * of a data-parallel trial start together. The pool holds them until they come
 * back through cf_pool_take. */
void cf_pool_submit(cf_pool *p, cf_pool_job *const *jobs, int n);

/* Slot `want` of worker w when it is free, else its lowest free slot, now
 * taken for a job; -1 when every slot is taken (a trial replayed onto its
 * recorded worker after a resume with fewer slots): such a job runs on the
 * first thread free. Placement runs no more trials on a worker than it has
 * slots, so one is free otherwise. The controller's thread only. */
int cf_pool_slot_take(cf_pool *p, int w, int want);
/* The slot is free again (-1: nothing to do). */
void cf_pool_slot_give(cf_pool *p, int w, int slot);

/* Take every finished job as a list (in order of completion, via ->next); the
 * caller owns and frees them. wait: block until there is at least one;
 * otherwise NULL when none is done. */
cf_pool_job *cf_pool_take(cf_pool *p, int wait);

/* Let the threads finish the queued jobs, close their devices and join them. */
void cf_pool_stop(cf_pool *p);

#endif
