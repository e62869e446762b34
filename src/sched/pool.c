/* pool.c - worker threads that run trial ranks through the evaluator.
 * API and ownership: pool.h. Tests: tests/test_sched.c, tests/test_train_resume.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cellforge/backend.h"
#include "cellforge/comm.h"
#include "pool.h"

typedef struct slot_arg {
    cf_pool *p;
    int worker, slot;
} slot_arg;

/* The first job queued on w for this slot (or for any), unlinked; NULL when none. */
static cf_pool_job *take_for(cf_pool_worker *w, int slot) {
    cf_pool_job *prev = NULL, *j = w->head;
    while (j && j->slot >= 0 && j->slot != slot) {
        prev = j;
        j = j->next;
    }
    if (!j) return NULL;
    if (prev) prev->next = j->next;
    else w->head = j->next;
    if (w->tail == j) w->tail = prev;
    return j;
}

/* The next job for slot `slot` of worker w, or NULL once the pool stops and
 * none is queued for it. */
static cf_pool_job *next_job(cf_pool *p, cf_pool_worker *w, int slot) {
    cf_mutex_lock(&p->mu);
    cf_pool_job *j;
    while (!(j = take_for(w, slot)) && !p->stopping) cf_cond_wait(&p->work, &p->mu);
    cf_mutex_unlock(&p->mu);
    return j;
}

static void put_done(cf_pool *p, cf_pool_job *j) {
    cf_mutex_lock(&p->mu);
    j->next = NULL;
    if (p->done_tail) p->done_tail->next = j;
    else p->done_head = j;
    p->done_tail = j;
    cf_cond_signal(&p->done);
    cf_mutex_unlock(&p->mu);
}

static int is_oom(cf_status st) { return st == CF_ERR_OUT_OF_MEMORY || st == CF_ERR_DEVICE_OOM; }

/* One slot's thread: open the evaluator on the device at its first job (a
 * slot that never runs one costs the device nothing), then run the jobs
 * queued for the worker. An open that fails for want of memory (e.g. under
 * an address-space limit) makes each job an out-of-memory trial, trying the
 * open again first; any other failed open breaks the evaluator, and the
 * controller stops the search with its message. */
static void *slot_main(void *arg) {
    slot_arg *a = arg;
    cf_pool *p = a->p;
    cf_pool_worker *w = &p->w[a->worker];
    const int slot = a->slot;
    free(a);
    void *state = NULL;
    cf_status open_st = CF_OK;
    int opened = 0;
    char open_err[256] = "";
    cf_pool_job *j;
    while ((j = next_job(p, w, slot)) != NULL) {
        if (!opened || is_oom(open_st)) { /* the first job; after an out of memory, try again */
            opened = 1;
            open_st = p->ev->ops->open(p->ev->self, &w->desc, &state);
            if (open_st != CF_OK) snprintf(open_err, sizeof open_err, "%s", cf_error_message());
        }
        if (is_oom(open_st)) {
            /* the device's evaluator does not fit: the trial is out of memory,
             * retried and recorded as such, and the search goes on */
            if (j->task.comm) cf_comm_abort(j->task.comm, j->rank, open_st);
            memset(&j->out, 0, sizeof j->out);
            j->out.status = CF_TRIAL_OOM;
            j->out.val_acc = -1;
            snprintf(j->out.reason, sizeof j->out.reason, "%s: %.200s", w->desc.name, open_err);
            j->st = CF_OK;
        } else if (open_st != CF_OK) {
            /* the other ranks of a data-parallel trial must not wait for this one */
            if (j->task.comm) cf_comm_abort(j->task.comm, j->rank, open_st);
            j->st = open_st;
            snprintf(j->err, sizeof j->err, "%s", open_err);
        } else {
            j->st = p->ev->ops->run(p->ev->self, state, &j->task, &j->out);
            if (j->st != CF_OK) snprintf(j->err, sizeof j->err, "%s", cf_error_message());
        }
        put_done(p, j);
    }
    if (opened && open_st == CF_OK) p->ev->ops->close(p->ev->self, state);
    return NULL;
}

cf_status cf_pool_group_comm(const cf_pool *p, const int *workers, int k, cf_comm **out) {
    /* replicas on GPUs sum their gradients with NCCL, on the devices */
    int devices[CF_MAX_WORKERS], gpus = 0;
    for (int r = 0; r < k; r++) {
        const cf_worker_desc *d = &p->w[workers[r]].desc;
        if (d->kind == CF_WORKER_CUDA) devices[gpus++] = d->index;
    }
    if (gpus == k && cf_backend_cuda_built() && !p->ev->ops->simulated) return cf_comm_nccl_create(devices, gpus, out);
    return cf_comm_cpu_create(k, out);
}

cf_status cf_pool_start(cf_pool *p, cf_evaluator *ev, const cf_worker_desc *workers, int n) {
    memset(p, 0, sizeof *p);
    p->ev = ev;
    p->n = n;
    CF_TRY(cf_mutex_init(&p->mu));
    CF_TRY(cf_cond_init(&p->work));
    CF_TRY(cf_cond_init(&p->done));
    for (int i = 0; i < n; i++) {
        cf_pool_worker *w = &p->w[i];
        w->desc = workers[i];
        int slots = workers[i].slots;
        w->desc.slots = slots < 1 ? 1 : slots > CF_POOL_MAX_SLOTS ? CF_POOL_MAX_SLOTS : slots;
        for (int k = 0; k < w->desc.slots; k++) {
            slot_arg *a = malloc(sizeof *a);
            if (!a) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "scheduler: no memory for worker threads");
            *a = (slot_arg){.p = p, .worker = i, .slot = k};
            char name[32];
            snprintf(name, sizeof name, "%.10s/%d", w->desc.name, k);
            cf_status st = cf_thread_create(&w->threads[k], name, slot_main, a);
            if (st != CF_OK) {
                free(a);
                return st;
            }
            w->n_threads++;
        }
    }
    return CF_OK;
}

void cf_pool_submit(cf_pool *p, cf_pool_job *const *jobs, int n) {
    cf_mutex_lock(&p->mu);
    for (int r = 0; r < n; r++) {
        cf_pool_worker *w = &p->w[jobs[r]->worker];
        jobs[r]->next = NULL;
        if (jobs[r]->slot >= w->desc.slots) jobs[r]->slot = -1; /* no such thread: any one */
        if (w->tail) w->tail->next = jobs[r];
        else w->head = jobs[r];
        w->tail = jobs[r];
    }
    cf_cond_broadcast(&p->work);
    cf_mutex_unlock(&p->mu);
}

int cf_pool_slot_take(cf_pool *p, int w, int want) {
    cf_pool_worker *pw = &p->w[w];
    const int n = pw->desc.slots;
    if (want >= 0 && want < n && !(pw->taken >> want & 1u)) {
        pw->taken |= 1u << want;
        return want;
    }
    for (int k = 0; k < n; k++)
        if (!(pw->taken >> k & 1u)) {
            pw->taken |= 1u << k;
            return k;
        }
    return -1;
}

void cf_pool_slot_give(cf_pool *p, int w, int slot) {
    if (slot >= 0 && slot < CF_POOL_MAX_SLOTS) p->w[w].taken &= ~(1u << slot);
}

cf_pool_job *cf_pool_take(cf_pool *p, int wait) {
    cf_mutex_lock(&p->mu);
    while (wait && !p->done_head) cf_cond_wait(&p->done, &p->mu);
    cf_pool_job *list = p->done_head;
    p->done_head = p->done_tail = NULL;
    cf_mutex_unlock(&p->mu);
    return list;
}

void cf_pool_stop(cf_pool *p) {
    cf_mutex_lock(&p->mu);
    p->stopping = 1;
    cf_cond_broadcast(&p->work);
    cf_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n; i++)
        for (int k = 0; k < p->w[i].n_threads; k++) cf_thread_join(&p->w[i].threads[k], NULL);
    cf_cond_destroy(&p->work);
    cf_cond_destroy(&p->done);
    cf_mutex_destroy(&p->mu);
}
