/* ranks_mpi.c - one search over the ranks of an MPI job (built with CF_MPI).
 *
 * Messages (MPI_COMM_WORLD, text as MPI_CHAR):
 *   rank 0 -> R  tag >= TAG_FIRST  a trial task (ranks_wire.h); R answers with
 *                                  the outcome under the same tag
 *   rank 0 -> R  TAG_STOP          no more trials: R finishes and exits
 *   R -> rank 0  TAG_BEAT          R's serve loop is alive (every BEAT_S)
 * On rank 0 each remote worker is an ordinary worker of the pool whose thread
 * forwards its trial and polls for the answer (MPI_Improbe, short sleeps), so
 * a rank that stops beating is noticed within the timeout and nothing waits
 * forever. Every rank posts sends and receives from several threads at once:
 * MPI_THREAD_MULTIPLE is required. API: include/cellforge/ranks.h.
 * Tests: tests/mpi_table.sh, tests/mpi_train.sh, tests/mpi_faults.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mpi.h>

#include "cellforge/comm.h"
#include "cellforge/file.h"
#include "cellforge/log.h"
#include "cellforge/ranks.h"
#include "cellforge/thread.h"
#include "pool.h"
#include "ranks_wire.h"

enum { TAG_STOP = 1, TAG_BEAT = 2, TAG_FIRST = 100, TAG_SPAN = 30000 };
#define BEAT_S 0.5

struct cf_ranks {
    int rank, size;
    char host[CF_HOST_MAX];
    /* rank 0 */
    char (*hosts)[CF_HOST_MAX];  /* (size) each rank's host */
    double *last_beat;           /* (size) wall time of its last heartbeat */
    int *dead;                   /* (size) 1: stopped answering; no trial goes there */
    double timeout_s;
    cf_mutex mu;
    cf_thread watch;
    volatile int watching;
    int next_tag;
    long long next_group;        /* data-parallel groups over ranks so far */
};

int cf_ranks_built(void) { return 1; }
int cf_ranks_rank(const cf_ranks *rk) { return rk ? rk->rank : 0; }
int cf_ranks_size(const cf_ranks *rk) { return rk ? rk->size : 1; }

static void nap(double s) {
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

cf_status cf_ranks_init(cf_ranks **out) {
    *out = NULL;
    int provided = 0, inited = 0;
    MPI_Initialized(&inited);
    if (!inited && MPI_Init_thread(NULL, NULL, MPI_THREAD_MULTIPLE, &provided) != MPI_SUCCESS)
        CF_FAIL(CF_ERR_DEVICE, "MPI_Init_thread failed");
    if (inited) MPI_Query_thread(&provided);
    cf_ranks *rk = calloc(1, sizeof *rk);
    if (!rk) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "ranks: no memory");
    MPI_Comm_rank(MPI_COMM_WORLD, &rk->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &rk->size);
    if (gethostname(rk->host, sizeof rk->host - 1) != 0) snprintf(rk->host, sizeof rk->host, "localhost");
    *out = rk;
    if (provided < MPI_THREAD_MULTIPLE)
        CF_FAIL(CF_ERR_UNSUPPORTED, "this MPI library offers no MPI_THREAD_MULTIPLE (level %d), which a search over "
                "ranks needs", provided);
    return cf_comm_mpi_setup(); /* every rank, before any trial */
}

/* ---- joining: every rank's workers to rank 0 ------------------------------------- */

typedef struct rank_hello {
    int ok, n;
    char host[CF_HOST_MAX];
    cf_worker_desc w[CF_MAX_WORKERS];
} rank_hello;

cf_status cf_ranks_join(cf_ranks *rk, int ok, cf_worker_desc *workers, int *n, int *n_local) {
    *n_local = *n;
    if (!rk) return CF_OK;
    /* one binary on every node, so the description travels as its bytes */
    rank_hello mine;
    memset(&mine, 0, sizeof mine);
    mine.ok = ok;
    mine.n = ok ? *n : 0;
    snprintf(mine.host, sizeof mine.host, "%s", rk->host);
    if (ok) memcpy(mine.w, workers, (size_t)*n * sizeof *workers);
    rank_hello *all = rk->rank == 0 ? calloc((size_t)rk->size, sizeof *all) : NULL;
    if (rk->rank == 0 && !all) MPI_Abort(MPI_COMM_WORLD, 1); /* the others wait in the gather */
    MPI_Gather(&mine, (int)sizeof mine, MPI_BYTE, all, (int)sizeof mine, MPI_BYTE, 0, MPI_COMM_WORLD);
    int failed = -1, total = 0;
    if (rk->rank == 0) {
        for (int r = 0; r < rk->size; r++) {
            if (!all[r].ok && failed < 0) failed = r;
            total += all[r].n;
        }
        if (failed < 0 && total > CF_MAX_WORKERS) failed = rk->size; /* too many workers */
    }
    MPI_Bcast(&failed, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (failed >= 0) {
        free(all);
        if (failed == rk->size) CF_FAIL(CF_ERR_INVALID_ARG, "the ranks have %d workers in all; at most %d", total, CF_MAX_WORKERS);
        CF_FAIL(CF_ERR_INVALID_ARG, "rank %d could not set up the search (its message is above)", failed);
    }
    if (rk->rank != 0) return CF_OK;
    rk->hosts = calloc((size_t)rk->size, sizeof *rk->hosts);
    rk->last_beat = calloc((size_t)rk->size, sizeof *rk->last_beat);
    rk->dead = calloc((size_t)rk->size, sizeof *rk->dead);
    if (!rk->hosts || !rk->last_beat || !rk->dead) {
        free(all);
        CF_FAIL(CF_ERR_OUT_OF_MEMORY, "ranks: no memory");
    }
    *n = 0;
    for (int r = 0; r < rk->size; r++) {
        snprintf(rk->hosts[r], CF_HOST_MAX, "%s", all[r].host);
        for (int i = 0; i < all[r].n; i++) {
            cf_worker_desc *w = &workers[(*n)++];
            *w = all[r].w[i];
            w->rank = r;
            w->local = i;
            snprintf(w->host, sizeof w->host, "%s", all[r].host);
            if (r > 0) { /* "r2/cuda:1": the rank, then its own name */
                char name[64];
                snprintf(name, sizeof name, "r%d/%s", r, all[r].w[i].name);
                memcpy(w->name, name, sizeof w->name - 1);
                w->name[sizeof w->name - 1] = 0;
            }
        }
    }
    free(all);
    return CF_OK;
}

int cf_ranks_dead(const cf_ranks *rk, char *buf, size_t cap) {
    if (!rk || !rk->dead) return 0;
    for (int r = 1; r < rk->size; r++)
        if (rk->dead[r]) {
            snprintf(buf, cap, "rank %d (host %s)", r, rk->hosts[r]);
            return 1;
        }
    return 0;
}

/* ---- ranks above 0: serving trials -------------------------------------------- */

/* A data-parallel group whose replicas all run on this rank: one in-process
 * communicator (CPU, or NCCL on GPUs) shared by them, as in one process. */
typedef struct local_group {
    long long id;
    cf_comm *comm;
    int refs;                    /* its replicas not yet answered */
    struct local_group *next;
} local_group;

typedef struct server {
    cf_ranks *rk;
    cf_pool *pool;
    const cf_space *space;
    int n;                       /* this rank's workers */
    local_group *groups;
} server;

typedef struct served {
    cf_pool_job job;             /* first: the pool hands back this pointer */
    cf_trial trial;
    char checkpoint[512];
    int tag;
    cf_comm *comm;               /* a replica of a group over ranks: its own communicator ... */
    local_group *group;          /* ... or of a group on this rank: the shared one */
} served;

static void served_free(server *sv, served *j) {
    cf_comm_destroy(j->comm);
    if (j->group && --j->group->refs == 0) {
        local_group **pp = &sv->groups;
        while (*pp != j->group) pp = &(*pp)->next;
        *pp = j->group->next;
        cf_comm_destroy(j->group->comm);
        free(j->group);
    }
    free(j);
}

static void serve_reply(server *sv, cf_pool_job *job) {
    served *j = job->owner;
    char *text = NULL;
    if (cf_wire_outcome_write(&job->out, job->st, job->err, &text) != CF_OK) MPI_Abort(MPI_COMM_WORLD, 1);
    MPI_Send(text, (int)strlen(text) + 1, MPI_CHAR, 0, j->tag, MPI_COMM_WORLD);
    free(text);
    free(job->out.curve);
    served_free(sv, j);
}

/* The communicator of replica g.replica: the group's shared one when every
 * replica runs here (made by its first replica to arrive), else its own
 * communicator over MPI. */
static cf_status join_group(server *sv, const cf_wire_group *g, served *j) {
    int here = 1;
    for (int r = 0; r < g->size; r++) here &= g->procs[r] == sv->rk->rank && g->local[r] < sv->n;
    if (!here) {
        cf_comm_mpi_group cg = {.id = g->id, .size = g->size, .procs = g->procs, .local = g->local,
                                .device = g->device};
        return cf_comm_mpi_create(&cg, &j->comm);
    }
    local_group *lg = sv->groups;
    while (lg && lg->id != g->id) lg = lg->next;
    if (!lg) {
        lg = calloc(1, sizeof *lg);
        if (!lg) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "ranks: no memory");
        cf_status st = cf_pool_group_comm(sv->pool, g->local, g->size, &lg->comm);
        if (st != CF_OK) {
            free(lg);
            return st;
        }
        lg->id = g->id;
        lg->next = sv->groups;
        sv->groups = lg;
    }
    lg->refs++;
    j->group = lg;
    return CF_OK;
}

/* A trial message into a job on its worker's queue (1), or answered at once
 * as a broken evaluator when it cannot be read (0). */
static int serve_task(server *sv, const char *text, int tag) {
    served *j = calloc(1, sizeof *j);
    if (!j) MPI_Abort(MPI_COMM_WORLD, 1); /* rank 0 waits for an answer */
    int worker = -1;
    double limit = 0;
    cf_wire_group g;
    const int n = sv->n;
    cf_status st =
        cf_wire_task_read(sv->space, text, &j->trial, &worker, &limit, j->checkpoint, sizeof j->checkpoint, &g);
    if (st == CF_OK && (worker < 0 || worker >= n))
        st = cf_error_set(CF_ERR_INVALID_ARG, __FILE__, __LINE__, "ranks: a trial for worker %d of %d", worker, n);
    if (st == CF_OK && g.size > 1) st = join_group(sv, &g, j);
    j->tag = tag;
    j->job.owner = j;
    j->job.worker = worker < 0 || worker >= n ? 0 : worker;
    j->job.slot = j->trial.slots[0]; /* the slot rank 0 gave it (its journal names it) */
    if (st != CF_OK) {
        j->job.st = st;
        snprintf(j->job.err, sizeof j->job.err, "%s", cf_error_message());
        serve_reply(sv, &j->job);
        return 0;
    }
    if (j->checkpoint[0]) {
        /* a file system the ranks do not share: the directory is made here */
        char dir[512];
        snprintf(dir, sizeof dir, "%s", j->checkpoint);
        char *slash = strrchr(dir, '/');
        if (slash) *slash = 0;
        if (slash && access(dir, F_OK) != 0) (void)cf_file_make_dir(dir);
    }
    cf_comm *comm = j->group ? j->group->comm : j->comm;
    j->job.task = (cf_trial_task){
        .trial = &j->trial,
        .worker = &sv->pool->w[j->job.worker].desc,
        .slot = j->job.slot,
        .rank = comm ? g.replica : 0,
        .replicas = comm ? g.size : 1,
        .comm = comm,
        .time_limit_s = limit,
        .checkpoint = j->checkpoint[0] ? j->checkpoint : NULL,
    };
    cf_pool_job *jobs[1] = {&j->job};
    cf_pool_submit(sv->pool, jobs, 1);
    return 1;
}

/* Test only: CF_TEST_HANG_RANK=R makes rank R stop (no heartbeat, no answer)
 * when its first trial arrives, as a hung node would. */
static void test_hang(const cf_ranks *rk) {
    const char *h = getenv("CF_TEST_HANG_RANK");
    if (!h || atoi(h) != rk->rank) return;
    for (;;) pause();
}

cf_status cf_ranks_serve(cf_ranks *rk, cf_evaluator *ev, const cf_space *s, const cf_worker_desc *workers, int n) {
    cf_pool *pool = calloc(1, sizeof *pool);
    if (!pool) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "ranks: no memory");
    server sv = {.rk = rk, .pool = pool, .space = s, .n = n};
    cf_status st = cf_pool_start(pool, ev, workers, n);
    double beat = 0;
    int running = 0, stop = 0;
    while (st == CF_OK && !stop) {
        int busy = 0, flag = 0;
        if (cf_time_now() - beat >= BEAT_S) {
            int one = 1;
            MPI_Send(&one, 1, MPI_INT, 0, TAG_BEAT, MPI_COMM_WORLD);
            beat = cf_time_now();
        }
        MPI_Message msg;
        MPI_Status stat;
        MPI_Improbe(0, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &msg, &stat);
        if (flag) {
            busy = 1;
            int count = 0;
            MPI_Get_count(&stat, MPI_CHAR, &count);
            char *text = malloc((size_t)count + 1);
            if (!text) MPI_Abort(MPI_COMM_WORLD, 1);
            MPI_Mrecv(text, count, MPI_CHAR, &msg, MPI_STATUS_IGNORE);
            text[count] = 0;
            if (stat.MPI_TAG == TAG_STOP) stop = 1;
            else {
                test_hang(rk);
                running += serve_task(&sv, text, stat.MPI_TAG);
            }
            free(text);
        }
        for (cf_pool_job *j = cf_pool_take(pool, 0), *next; j; j = next) {
            next = j->next;
            busy = 1;
            running--;
            serve_reply(&sv, j);
        }
        if (!busy) nap(2e-4);
    }
    /* rank 0 waits for no answer after its stop: what still runs is dropped */
    while (running > 0)
        for (cf_pool_job *j = cf_pool_take(pool, 1), *next; j; j = next) {
            next = j->next;
            running--;
            free(j->out.curve);
            served_free(&sv, j->owner);
        }
    cf_pool_stop(pool);
    free(pool);
    return st;
}

/* ---- rank 0: the forwarding evaluator ---------------------------------------- */

typedef struct fwd {
    cf_evaluator_ops ops;        /* the inner ops with ours in place */
    cf_evaluator *inner;         /* owned */
    cf_ranks *rk;                /* borrowed */
} fwd;

/* Rank 0's heartbeat listener: each rank's last beat. */
static void *watch_main(void *arg) {
    cf_ranks *rk = arg;
    while (rk->watching) {
        int flag = 0, beat = 0;
        MPI_Message msg;
        MPI_Status stat;
        MPI_Improbe(MPI_ANY_SOURCE, TAG_BEAT, MPI_COMM_WORLD, &flag, &msg, &stat);
        if (!flag) {
            nap(0.02);
            continue;
        }
        MPI_Mrecv(&beat, 1, MPI_INT, &msg, MPI_STATUS_IGNORE);
        cf_mutex_lock(&rk->mu);
        rk->last_beat[stat.MPI_SOURCE] = cf_time_now();
        cf_mutex_unlock(&rk->mu);
    }
    return NULL;
}

/* 1 when rank r is dead, or has been silent past the timeout (then it is dead). */
static int rank_lost(cf_ranks *rk, int r) {
    cf_mutex_lock(&rk->mu);
    if (!rk->dead[r] && cf_time_now() - rk->last_beat[r] > rk->timeout_s) {
        rk->dead[r] = 1;
        CF_LOG_ERROR("rank %d (host %s) sent no heartbeat for %.0f s: it is taken as dead, its trials fail and "
                     "the search stops", r, rk->hosts[r], rk->timeout_s);
    }
    int d = rk->dead[r];
    cf_mutex_unlock(&rk->mu);
    return d;
}

/* A group's wait asks whether a process it waits for is gone (rank 0 itself never is). */
static int proc_lost(void *ctx, int proc, char *why, size_t cap) {
    cf_ranks *rk = ctx;
    if (proc <= 0 || proc >= rk->size || !rank_lost(rk, proc)) return 0;
    snprintf(why, cap, "rank %d (host %s) stopped answering (no heartbeat for %.0f s)", proc, rk->hosts[proc],
             rk->timeout_s);
    return 1;
}

/* A data-parallel group over workers of several ranks: a new group id, the
 * ranks in replica order; rank 0's own replicas share this communicator. */
static cf_status fwd_group_comm(void *self, const cf_worker_desc *const *w, int k, void **comm) {
    fwd *f = self;
    cf_ranks *rk = f->rk;
    int procs[CF_MAX_WORKERS], local[CF_MAX_WORKERS], gpus = 0;
    for (int r = 0; r < k; r++) {
        procs[r] = w[r]->rank;
        local[r] = w[r]->local;
        gpus += w[r]->kind == CF_WORKER_CUDA;
    }
    cf_mutex_lock(&rk->mu);
    long long id = rk->next_group++;
    cf_mutex_unlock(&rk->mu);
    /* GPU replicas sum on their devices, by NCCL over the ranks */
    const int device = gpus == k && cf_sched_gpu_training() && !f->inner->ops->simulated;
    cf_comm_mpi_group g = {.id = id, .size = k, .procs = procs, .local = local, .device = device,
                           .lost = proc_lost, .lost_ctx = rk};
    cf_comm *c = NULL;
    CF_TRY(cf_comm_mpi_create(&g, &c));
    *comm = c;
    return CF_OK;
}

static cf_status fwd_open(void *self, const cf_worker_desc *w, void **state) {
    fwd *f = self;
    *state = NULL;
    return w->rank == 0 ? f->inner->ops->open(f->inner->self, w, state) : CF_OK;
}

static void fwd_close(void *self, void *state) {
    fwd *f = self;
    if (state) f->inner->ops->close(f->inner->self, state);
}

/* The trial's rank is gone: the call fails (the search stops) and the trial
 * is marked cut, unfinished, so a resume runs it again. */
static cf_status lost_trial(cf_ranks *rk, int r, const cf_trial_task *task, cf_trial_outcome *out) {
    memset(out, 0, sizeof *out);
    out->status = CF_TRIAL_CUT;
    out->val_acc = -1;
    snprintf(out->reason, sizeof out->reason, "rank %d (host %s) stopped answering", r, rk->hosts[r]);
    CF_FAIL(CF_ERR_DEVICE, "rank %d (host %s) stopped answering during trial %lld (no heartbeat for %.0f s)", r,
            rk->hosts[r], (long long)task->trial->id, rk->timeout_s);
}

/* Send the task to its rank and wait for the outcome; the rank's silence past
 * the timeout fails the call (lost_trial). */
static cf_status fwd_remote(fwd *f, const cf_trial_task *task, cf_trial_outcome *out) {
    cf_ranks *rk = f->rk;
    const int r = task->worker->rank;
    if (rank_lost(rk, r)) return lost_trial(rk, r, task, out);
    char *text = NULL;
    cf_wire_group g;
    memset(&g, 0, sizeof g);
    cf_comm_mpi_group cg;
    if (task->replicas > 1 && cf_comm_mpi_group_of(task->comm, &cg)) {
        g.id = cg.id;
        g.replica = task->rank;
        g.size = cg.size;
        memcpy(g.procs, cg.procs, (size_t)cg.size * sizeof *g.procs);
        memcpy(g.local, cg.local, (size_t)cg.size * sizeof *g.local);
        g.device = cg.device;
    }
    CF_TRY(cf_wire_task_write(task, task->worker->local, g.size ? &g : NULL, &text));
    cf_mutex_lock(&rk->mu);
    int tag = TAG_FIRST + rk->next_tag++ % TAG_SPAN;
    cf_mutex_unlock(&rk->mu);
    MPI_Request req;
    MPI_Isend(text, (int)strlen(text) + 1, MPI_CHAR, r, tag, MPI_COMM_WORLD, &req);
    double pause = 20e-6;
    for (;;) {
        int flag = 0;
        MPI_Message msg;
        MPI_Status stat;
        MPI_Improbe(r, tag, MPI_COMM_WORLD, &flag, &msg, &stat);
        if (flag) {
            int count = 0;
            MPI_Get_count(&stat, MPI_CHAR, &count);
            char *reply = malloc((size_t)count + 1);
            if (!reply) MPI_Abort(MPI_COMM_WORLD, 1); /* the message must be received to go on */
            MPI_Mrecv(reply, count, MPI_CHAR, &msg, MPI_STATUS_IGNORE);
            reply[count] = 0;
            MPI_Wait(&req, MPI_STATUS_IGNORE); /* answered, so received */
            free(text);
            int broke = 0;
            char err[256];
            cf_status st = cf_wire_outcome_read(reply, out, &broke, err, sizeof err);
            free(reply);
            CF_TRY(st);
            if (broke) CF_FAIL(CF_ERR_DEVICE, "rank %d (host %s): %s", r, rk->hosts[r], err);
            /* the epochs are heard when the result arrives (as trial_epoch
             * events), from a group's replica 0 only, as in one process */
            for (int e = 0; task->rank == 0 && task->on_epoch && out->curve && e < out->epochs_done; e++)
                task->on_epoch(task->epoch_ctx, task->trial, &out->curve[e]);
            return CF_OK;
        }
        if (rank_lost(rk, r)) /* the send may never complete: its buffer stays (the job aborts) */
            return lost_trial(rk, r, task, out);
        nap(pause);
        if (pause < 2e-4) pause *= 2;
    }
}

static cf_status fwd_run(void *self, void *state, const cf_trial_task *task, cf_trial_outcome *out) {
    fwd *f = self;
    if (task->worker->rank == 0) return f->inner->ops->run(f->inner->self, state, task, out);
    cf_comm_mpi_group g;
    if (task->replicas > 1 && !cf_comm_mpi_group_of(task->comm, &g)) {
        /* a group within one remote rank would need that rank's own communicator */
        memset(out, 0, sizeof *out);
        out->status = CF_TRIAL_ERROR;
        out->val_acc = -1;
        snprintf(out->reason, sizeof out->reason, "a data-parallel group on another rank runs over MPI only");
        return CF_OK;
    }
    return fwd_remote(f, task, out);
}

static void fwd_destroy(void *self) {
    fwd *f = self;
    cf_ranks *rk = f->rk;
    if (rk->watching) {
        rk->watching = 0;
        cf_thread_join(&rk->watch, NULL);
    }
    cf_evaluator_destroy(f->inner);
    free(f);
}

cf_status cf_ranks_wrap(cf_ranks *rk, cf_evaluator *ev, double timeout_s, cf_evaluator **out) {
    *out = ev;
    if (!rk || rk->rank != 0 || rk->size < 2) return CF_OK;
    fwd *f = calloc(1, sizeof *f);
    cf_evaluator *w = calloc(1, sizeof *w);
    if (!f || !w) {
        free(f);
        free(w);
        CF_FAIL(CF_ERR_OUT_OF_MEMORY, "ranks: no memory");
    }
    f->ops = *ev->ops;
    f->ops.open = fwd_open;
    f->ops.close = fwd_close;
    f->ops.run = fwd_run;
    f->ops.destroy = fwd_destroy;
    f->ops.group_comm = fwd_group_comm;
    f->inner = ev;
    f->rk = rk;
    *w = *ev; /* input and with_aux as the inner one's */
    w->ops = &f->ops;
    w->self = f;
    rk->timeout_s = timeout_s > 0 ? timeout_s : 120;
    for (int r = 0; r < rk->size; r++) rk->last_beat[r] = cf_time_now();
    CF_TRY(cf_mutex_init(&rk->mu));
    rk->watching = 1;
    cf_status st = cf_thread_create(&rk->watch, "rank-watch", watch_main, rk);
    if (st != CF_OK) {
        rk->watching = 0;
        free(f);
        free(w);
        return st;
    }
    *out = w;
    return CF_OK;
}

void cf_ranks_finish(cf_ranks *rk, int code) {
    if (!rk) return;
    char who[128];
    int dead = cf_ranks_dead(rk, who, sizeof who);
    if (rk->rank == 0 && rk->size > 1) {
        for (int r = 1; r < rk->size; r++)
            if (!rk->dead || !rk->dead[r]) MPI_Send(NULL, 0, MPI_CHAR, r, TAG_STOP, MPI_COMM_WORLD);
    }
    free(rk->hosts);
    free(rk->last_beat);
    free(rk->dead);
    free(rk);
    if (dead) {
        /* the dead rank would never reach MPI_Finalize: end the job */
        fprintf(stderr, "cellforge: %s is not answering; ending the MPI job\n", who);
        fflush(NULL);
        MPI_Abort(MPI_COMM_WORLD, code ? code : 1);
    }
    MPI_Finalize();
}
