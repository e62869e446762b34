/* comm_mpi.c - the communicator of a data-parallel trial whose replicas run in
 * several processes of an MPI job (a search over ranks with --span-ranks).
 *
 * Each process holds its own communicator object for the group (one per
 * replica there, or one shared by the replicas of rank 0's process); they
 * find each other by the group's id, unique within the job. An all-reduce:
 *
 *   replica q > 0:  send [head | n values] to replica 0's process  (tag UP, q)
 *                   wait for the sum from it                        (tag DOWN, q)
 *   replica 0:      acc = 0; acc += its own values, then replica 1's, ... in
 *                   replica order, in double; send the sum to every replica
 *
 * which is the in-process CPU communicator's order (comm.c), so a group over
 * ranks computes the same bits as the same group in one process. Every wait
 * polls: for its message, for an abort addressed to its replica, and (on
 * rank 0) for a process that stopped answering, so nothing waits forever.
 * Messages travel on a duplicate of MPI_COMM_WORLD, apart from the search's
 * own; a message's head carries the group id, so one left over from an
 * aborted group is recognized and dropped.
 *
 * Tested through tests/mpi_dp.sh (a real data-parallel training over ranks
 * against the same group in one process).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mpi.h>

#include "comm_impl.h"
#include "cellforge/thread.h"

enum { KIND_UP = 0, KIND_DOWN = 1, KIND_ABORT = 2, MAX_GROUP = 32, ID_SPAN = 300 };

static MPI_Comm g_dp = MPI_COMM_NULL; /* group traffic only */

cf_status cf_comm_mpi_setup(void) {
    if (g_dp != MPI_COMM_NULL) return CF_OK;
    if (MPI_Comm_dup(MPI_COMM_WORLD, &g_dp) != MPI_SUCCESS)
        CF_FAIL(CF_ERR_DEVICE, "comm: MPI_Comm_dup failed");
    return CF_OK;
}

/* Tags stay below 32768, the least upper bound MPI guarantees. */
static int tag_of(long long id, int kind, int replica) {
    return (int)(id % ID_SPAN) * 3 * MAX_GROUP + kind * MAX_GROUP + replica;
}

typedef struct msg_head {
    int64_t id;
    uint64_t n;                /* values that follow */
    int32_t elem;              /* bytes per value: 4 or 8 */
    int32_t status;            /* an abort's status */
    int32_t from;              /* the sending replica */
    int32_t pad;
} msg_head;

typedef struct mpi_state {
    cf_comm_mpi_group g;
    int procs[MAX_GROUP], local[MAX_GROUP];
    cf_mutex mu;
    int aborted_by;            /* -1 while none */
    cf_status why;
} mpi_state;

static void nap(double s) {
    struct timespec ts = {0, (long)(s * 1e9)};
    nanosleep(&ts, NULL);
}

static cf_status aborted_status(mpi_state *s, int rank) {
    return cf_error_set(s->why, __FILE__, __LINE__, "comm: replica %d of group %lld stops: replica %d failed (%s)",
                        rank, s->g.id, s->aborted_by, cf_status_name(s->why));
}

/* Mark the group aborted (once) and tell every other replica. */
static void abort_group(cf_comm *c, int rank, cf_status why, int tell) {
    mpi_state *s = c->ctx;
    cf_mutex_lock(&s->mu);
    int first = s->aborted_by < 0;
    if (first) {
        s->aborted_by = rank;
        s->why = why == CF_OK ? CF_ERR_INTERNAL : why;
    }
    cf_mutex_unlock(&s->mu);
    if (!first || !tell) return;
    msg_head h = {s->g.id, 0, 0, (int32_t)s->why, rank, 0};
    for (int q = 0; q < c->size; q++)
        if (q != rank) /* a few bytes: sent at once, whether or not q still listens */
            MPI_Send(&h, (int)sizeof h, MPI_BYTE, s->procs[q], tag_of(s->g.id, KIND_ABORT, q), g_dp);
}

/* Has the group failed meanwhile (an abort message for `rank`, a local abort,
 * a lost process)? Returns the failure, else CF_OK. */
static cf_status check_failed(cf_comm *c, int rank) {
    mpi_state *s = c->ctx;
    int flag = 0;
    MPI_Message msg;
    MPI_Status stat;
    MPI_Improbe(MPI_ANY_SOURCE, tag_of(s->g.id, KIND_ABORT, rank), g_dp, &flag, &msg, &stat);
    if (flag) {
        msg_head h;
        memset(&h, 0, sizeof h);
        MPI_Mrecv(&h, (int)sizeof h, MPI_BYTE, &msg, MPI_STATUS_IGNORE);
        if (h.id == s->g.id) abort_group(c, h.from, (cf_status)h.status, 0);
    }
    cf_mutex_lock(&s->mu);
    int aborted = s->aborted_by >= 0;
    cf_mutex_unlock(&s->mu);
    if (aborted) return aborted_status(s, rank);
    for (int q = 0; s->g.lost && q < c->size; q++) {
        char why[160];
        if (q != rank && s->g.lost(s->g.lost_ctx, s->procs[q], why, sizeof why)) {
            abort_group(c, rank, CF_ERR_DEVICE, 0);
            return cf_error_set(CF_ERR_DEVICE, __FILE__, __LINE__, "comm: replica %d of group %lld: %s", q,
                                s->g.id, why);
        }
    }
    return CF_OK;
}

/* Wait for replica `from`'s message with this tag (a head, then n values of
 * elem bytes); *out is malloc'd. */
static cf_status wait_msg(cf_comm *c, int rank, int from, int tag, size_t n, int elem, char **out) {
    mpi_state *s = c->ctx;
    double pause = 20e-6;
    *out = NULL;
    for (;;) {
        int flag = 0;
        MPI_Message msg;
        MPI_Status stat;
        MPI_Improbe(s->procs[from], tag, g_dp, &flag, &msg, &stat);
        if (flag) {
            int count = 0;
            MPI_Get_count(&stat, MPI_BYTE, &count);
            char *buf = malloc(count > 0 ? (size_t)count : 1);
            if (!buf) MPI_Abort(MPI_COMM_WORLD, 1); /* a matched message must be received */
            MPI_Mrecv(buf, count, MPI_BYTE, &msg, MPI_STATUS_IGNORE);
            msg_head h;
            if ((size_t)count >= sizeof h) memcpy(&h, buf, sizeof h);
            if ((size_t)count < sizeof h || h.id != s->g.id) { /* an older group's leftover */
                free(buf);
                continue;
            }
            if (h.n != n || h.elem != elem || (size_t)count != sizeof h + n * (size_t)elem) {
                free(buf);
                abort_group(c, rank, CF_ERR_INVALID_ARG, 1);
                return cf_error_set(CF_ERR_INVALID_ARG, __FILE__, __LINE__,
                                    "comm: all-reduce of %zu values of %d bytes on replica %d but %llu of %d on "
                                    "replica %d", n, elem, rank, (unsigned long long)h.n, (int)h.elem, from);
            }
            *out = buf;
            return CF_OK;
        }
        CF_TRY(check_failed(c, rank));
        nap(pause);
        if (pause < 2e-4) pause *= 2;
    }
}

/* Finish sends under way; on a failure meanwhile the requests are let go and
 * their buffer is kept alive for them (returned 0: the caller must not free). */
static int finish_sends(cf_comm *c, int rank, MPI_Request *req, int k, cf_status *st) {
    double pause = 20e-6;
    for (;;) {
        int done = 0;
        MPI_Testall(k, req, &done, MPI_STATUSES_IGNORE);
        if (done) return 1;
        *st = check_failed(c, rank);
        if (*st != CF_OK) {
            for (int i = 0; i < k; i++)
                if (req[i] != MPI_REQUEST_NULL) MPI_Request_free(&req[i]);
            return 0;
        }
        nap(pause);
        if (pause < 2e-4) pause *= 2;
    }
}

static cf_status mpi_allreduce(cf_comm *c, int rank, void *buf, size_t n, int elem) {
    mpi_state *s = c->ctx;
    const int K = c->size;
    cf_mutex_lock(&s->mu);
    int aborted = s->aborted_by >= 0;
    cf_mutex_unlock(&s->mu);
    if (aborted) return aborted_status(s, rank);
    if (K == 1) return CF_OK;
    const size_t bytes = sizeof(msg_head) + n * (size_t)elem;
    char *pack = malloc(bytes);
    if (!pack) {
        abort_group(c, rank, CF_ERR_OUT_OF_MEMORY, 1);
        CF_FAIL(CF_ERR_OUT_OF_MEMORY, "comm: no memory for a message of %zu bytes", bytes);
    }
    msg_head h = {s->g.id, n, elem, 0, rank, 0};
    memcpy(pack, &h, sizeof h);
    cf_status st = CF_OK;
    char *in = NULL;
    if (rank > 0) {
        MPI_Request req;
        memcpy(pack + sizeof h, buf, n * (size_t)elem);
        MPI_Isend(pack, (int)bytes, MPI_BYTE, s->procs[0], tag_of(s->g.id, KIND_UP, rank), g_dp, &req);
        st = wait_msg(c, rank, 0, tag_of(s->g.id, KIND_DOWN, rank), n, elem, &in);
        if (st == CF_OK) memcpy(buf, in + sizeof h, n * (size_t)elem);
        free(in);
        int sent = 0;
        if (st == CF_OK) { /* answered, so received */
            MPI_Wait(&req, MPI_STATUS_IGNORE);
            sent = 1;
        } else {
            MPI_Test(&req, &sent, MPI_STATUS_IGNORE);
            if (!sent) MPI_Request_free(&req); /* pack stays lent to MPI */
        }
        if (sent) free(pack);
        return st;
    }
    double *acc = calloc(n ? n : 1, sizeof *acc);
    if (!acc) {
        free(pack);
        abort_group(c, rank, CF_ERR_OUT_OF_MEMORY, 1);
        CF_FAIL(CF_ERR_OUT_OF_MEMORY, "comm: no memory for a sum of %zu values", n);
    }
    for (int q = 0; q < K && st == CF_OK; q++) {
        const char *from = buf;
        if (q > 0) {
            st = wait_msg(c, rank, q, tag_of(s->g.id, KIND_UP, q), n, elem, &in);
            if (st != CF_OK) break;
            from = in + sizeof h;
        }
        /* replica order, in double: the CPU communicator's sum */
        if (elem == 4) {
            const float *v = (const float *)from;
            for (size_t i = 0; i < n; i++) acc[i] += v[i];
        } else {
            const double *v = (const double *)from;
            for (size_t i = 0; i < n; i++) acc[i] += v[i];
        }
        free(in);
        in = NULL;
    }
    if (st == CF_OK) {
        if (elem == 4) {
            float *out = buf;
            for (size_t i = 0; i < n; i++) out[i] = (float)acc[i];
        } else {
            memcpy(buf, acc, n * sizeof *acc);
        }
        memcpy(pack + sizeof h, buf, n * (size_t)elem);
        MPI_Request req[MAX_GROUP];
        for (int q = 1; q < K; q++)
            MPI_Isend(pack, (int)bytes, MPI_BYTE, s->procs[q], tag_of(s->g.id, KIND_DOWN, q), g_dp, &req[q - 1]);
        if (!finish_sends(c, rank, req, K - 1, &st)) pack = NULL; /* still lent to MPI */
    }
    free(acc);
    free(pack);
    return st;
}

static cf_status mpi_allreduce_f32(cf_comm *c, int rank, float *buf, size_t n) {
    return mpi_allreduce(c, rank, buf, n, 4);
}

static cf_status mpi_allreduce_f64(cf_comm *c, int rank, double *buf, size_t n) {
    return mpi_allreduce(c, rank, buf, n, 8);
}

static void mpi_abort(cf_comm *c, int rank, cf_status why) { abort_group(c, rank, why, 1); }

static void mpi_destroy(cf_comm *c) {
    mpi_state *s = c->ctx;
    if (s) cf_mutex_destroy(&s->mu);
    free(s);
    free(c);
}

static int mpi_group(const cf_comm *c, cf_comm_mpi_group *g) {
    *g = ((const mpi_state *)c->ctx)->g;
    return 1;
}

static const cf_comm_ops mpi_ops = {
    .name = "mpi",
    .device_f32 = 0,
    .allreduce_f32 = mpi_allreduce_f32,
    .allreduce_f64 = mpi_allreduce_f64,
    .abort = mpi_abort,
    .destroy = mpi_destroy,
    .mpi_group = mpi_group,
    .check = check_failed,
};

cf_status cf_comm_mpi_create(const cf_comm_mpi_group *g, cf_comm **out) {
    *out = NULL;
    if (g_dp == MPI_COMM_NULL) CF_FAIL(CF_ERR_INVALID_ARG, "comm: cf_comm_mpi_setup was not called");
    if (g->size < 1 || g->size > MAX_GROUP || !g->procs || !g->local || g->id < 0)
        CF_FAIL(CF_ERR_INVALID_ARG, "comm: a group over MPI ranks of %d replicas (1 to %d)", g->size, MAX_GROUP);
    cf_comm *c = calloc(1, sizeof *c);
    mpi_state *s = calloc(1, sizeof *s);
    if (!c || !s) {
        free(c);
        free(s);
        CF_FAIL(CF_ERR_OUT_OF_MEMORY, "comm: no memory");
    }
    s->g = *g;
    memcpy(s->procs, g->procs, (size_t)g->size * sizeof *s->procs);
    memcpy(s->local, g->local, (size_t)g->size * sizeof *s->local);
    s->g.procs = s->procs;
    s->g.local = s->local;
    s->aborted_by = -1;
    cf_status st = cf_mutex_init(&s->mu);
    if (st != CF_OK) {
        free(c);
        free(s);
        return st;
    }
    c->ops = &mpi_ops;
    c->size = g->size;
    c->ctx = s;
    if (g->device) return cf_comm_nccl_over(c, out); /* takes c */
    *out = c;
    return CF_OK;
}

