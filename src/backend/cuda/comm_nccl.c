/* comm_nccl.c - the communicator of a data-parallel trial over GPUs of this
 * process: one NCCL rank per GPU (ncclCommInitAll), each rank's sums on its
 * own stream. f64 sums of host scalars go through an inner CPU communicator,
 * which also carries aborts between the ranks' threads.
 *
 * A rank waits for its all-reduce by polling its stream rather than blocking
 * in cudaStreamSynchronize, so that an abort by another rank (whose part of
 * the collective will never come) releases it: it returns the abort's status
 * and leaves the communicator broken, as comm.h promises; destroying it then
 * aborts the NCCL communicators instead of finishing them.
 *
 * A group whose replicas are GPUs in several processes of an MPI job
 * (cf_comm_nccl_over) makes one NCCL rank per replica with ncclCommInitRank,
 * the id drawn by replica 0 and carried by the group's MPI communicator,
 * which also does its f64 sums and carries aborts.
 *
 * Tested by tests/test_cuda_dp.c (label gpu); the group over MPI ranks has
 * not run on GPUs (tests/mpi_dp.sh runs its CPU form).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../comm_impl.h"
#include "cellforge/thread.h"
#include "cuda_check.h"

typedef struct nccl_state {
    int *devices;           /* (size) */
    ncclComm_t *comms;      /* (size) */
    cudaStream_t *streams;  /* (size) */
    cf_comm *host;          /* f64 sums and aborts */
    volatile int aborted;   /* set once by the first abort */
    cf_status why;
} nccl_state;

static cf_status nccl_allreduce_f32(cf_comm *c, int rank, float *buf, size_t n) {
    nccl_state *s = c->ctx;
    if (s->aborted) return cf_error_set(s->why, __FILE__, __LINE__, "comm: rank %d stops: another rank failed", rank);
    CF_CUDA_CHECK(cudaSetDevice(s->devices[rank]));
    CF_NCCL_CHECK(ncclAllReduce(buf, buf, n, ncclFloat, ncclSum, s->comms[rank], s->streams[rank]));
    for (;;) {
        cudaError_t e = cudaStreamQuery(s->streams[rank]);
        if (e == cudaSuccess) return CF_OK;
        if (e != cudaErrorNotReady) CF_CUDA_CHECK(e);
        ncclResult_t async = ncclSuccess;
        CF_NCCL_CHECK(ncclCommGetAsyncError(s->comms[rank], &async));
        CF_NCCL_CHECK(async);
        if (s->aborted)
            return cf_error_set(s->why, __FILE__, __LINE__, "comm: rank %d stops: another rank failed", rank);
        struct timespec pause = {0, 20000}; /* 20 us */
        nanosleep(&pause, NULL);
    }
}

static cf_status nccl_allreduce_f64(cf_comm *c, int rank, double *buf, size_t n) {
    nccl_state *s = c->ctx;
    return cf_comm_allreduce_f64(s->host, rank, buf, n);
}

static void nccl_abort(cf_comm *c, int rank, cf_status why) {
    nccl_state *s = c->ctx;
    if (!s->aborted) {
        s->why = why;
        __atomic_store_n(&s->aborted, 1, __ATOMIC_SEQ_CST);
    }
    cf_comm_abort(s->host, rank, why);
}

static void nccl_free(nccl_state *s, int size) {
    if (!s) return;
    for (int r = 0; r < size; r++) {
        if (s->comms && s->comms[r]) {
            if (s->aborted) ncclCommAbort(s->comms[r]);
            else ncclCommDestroy(s->comms[r]);
        }
        if (s->streams && s->streams[r]) {
            cudaSetDevice(s->devices[r]);
            cudaStreamDestroy(s->streams[r]);
        }
    }
    cf_comm_destroy(s->host);
    free(s->devices);
    free(s->comms);
    free(s->streams);
    free(s);
}

static void nccl_destroy(cf_comm *c) {
    nccl_free(c->ctx, c->size);
    free(c);
}

static const cf_comm_ops nccl_ops = {
    .name = "nccl",
    .device_f32 = 1,
    .allreduce_f32 = nccl_allreduce_f32,
    .allreduce_f64 = nccl_allreduce_f64,
    .abort = nccl_abort,
    .destroy = nccl_destroy,
};

static cf_status nccl_init(nccl_state *s, const int *devices, int size) {
    for (int r = 0; r < size; r++) {
        s->devices[r] = devices[r];
        for (int q = 0; q < r; q++)
            if (devices[q] == devices[r])
                CF_FAIL(CF_ERR_INVALID_ARG, "comm: GPU %d named twice (NCCL takes one rank per GPU)", devices[r]);
    }
    CF_TRY(cf_comm_cpu_create(size, &s->host));
    CF_NCCL_CHECK(ncclCommInitAll(s->comms, size, s->devices));
    for (int r = 0; r < size; r++) {
        CF_CUDA_CHECK(cudaSetDevice(s->devices[r]));
        CF_CUDA_CHECK(cudaStreamCreateWithFlags(&s->streams[r], cudaStreamNonBlocking));
    }
    return CF_OK;
}

cf_status cf_comm_nccl_create(const int *devices, int size, cf_comm **out) {
    *out = NULL;
    if (size < 1) CF_FAIL(CF_ERR_INVALID_ARG, "comm: %d ranks (at least 1)", size);
    cf_comm *c = calloc(1, sizeof *c);
    nccl_state *s = calloc(1, sizeof *s);
    if (s) {
        s->devices = calloc((size_t)size, sizeof *s->devices);
        s->comms = calloc((size_t)size, sizeof *s->comms);
        s->streams = calloc((size_t)size, sizeof *s->streams);
    }
    if (!c || !s || !s->devices || !s->comms || !s->streams) {
        nccl_free(s, size);
        free(c);
        CF_FAIL(CF_ERR_OUT_OF_MEMORY, "comm: no memory for %d ranks", size);
    }
    cf_status st = nccl_init(s, devices, size);
    if (st != CF_OK) {
        nccl_free(s, size);
        free(c);
        return st;
    }
    c->ops = &nccl_ops;
    c->size = size;
    c->ctx = s;
    *out = c;
    return CF_OK;
}

/* ---- a group over MPI ranks: NCCL bootstrapped through the group's host communicator ---- */

enum { OVER_MAX = 32 };

typedef struct over_state {
    cf_comm *host;                   /* the group over MPI: f64 sums, aborts, the NCCL id; owned */
    ncclComm_t comms[OVER_MAX];      /* per replica of this process, made at its first f32 sum */
    cudaStream_t streams[OVER_MAX];
    int devices[OVER_MAX];
    volatile int aborted;
    cf_status why;
} over_state;

/* Replica `rank`'s NCCL communicator: replica 0 draws the id, every replica
 * receives it through an f64 sum (byte i as value i; the others add zeros,
 * so each byte comes back exact), then joins on its thread's current GPU. */
static cf_status over_join(cf_comm *c, over_state *s, int rank) {
    double v[NCCL_UNIQUE_ID_BYTES];
    ncclUniqueId id;
    memset(&id, 0, sizeof id);
    if (rank == 0) CF_NCCL_CHECK(ncclGetUniqueId(&id));
    for (int i = 0; i < NCCL_UNIQUE_ID_BYTES; i++) v[i] = rank == 0 ? (double)(unsigned char)id.internal[i] : 0.0;
    CF_TRY(cf_comm_allreduce_f64(s->host, rank, v, NCCL_UNIQUE_ID_BYTES));
    for (int i = 0; i < NCCL_UNIQUE_ID_BYTES; i++) id.internal[i] = (char)(unsigned char)v[i];
    CF_CUDA_CHECK(cudaGetDevice(&s->devices[rank]));
    CF_NCCL_CHECK(ncclCommInitRank(&s->comms[rank], c->size, id, rank));
    CF_CUDA_CHECK(cudaStreamCreateWithFlags(&s->streams[rank], cudaStreamNonBlocking));
    return CF_OK;
}

static cf_status over_allreduce_f32(cf_comm *c, int rank, float *buf, size_t n) {
    over_state *s = c->ctx;
    if (s->aborted) return cf_error_set(s->why, __FILE__, __LINE__, "comm: replica %d stops: another failed", rank);
    if (!s->comms[rank]) CF_TRY(over_join(c, s, rank));
    CF_CUDA_CHECK(cudaSetDevice(s->devices[rank]));
    CF_NCCL_CHECK(ncclAllReduce(buf, buf, n, ncclFloat, ncclSum, s->comms[rank], s->streams[rank]));
    /* poll, so that a replica failing in another process (the host group
     * hears of it) or a lost process releases this one */
    for (;;) {
        cudaError_t e = cudaStreamQuery(s->streams[rank]);
        if (e == cudaSuccess) return CF_OK;
        if (e != cudaErrorNotReady) CF_CUDA_CHECK(e);
        ncclResult_t async = ncclSuccess;
        CF_NCCL_CHECK(ncclCommGetAsyncError(s->comms[rank], &async));
        CF_NCCL_CHECK(async);
        cf_status st = s->host->ops->check(s->host, rank);
        if (st != CF_OK) {
            s->why = st;
            __atomic_store_n(&s->aborted, 1, __ATOMIC_SEQ_CST);
            return st;
        }
        if (s->aborted)
            return cf_error_set(s->why, __FILE__, __LINE__, "comm: replica %d stops: another failed", rank);
        struct timespec pause = {0, 20000}; /* 20 us */
        nanosleep(&pause, NULL);
    }
}

static cf_status over_allreduce_f64(cf_comm *c, int rank, double *buf, size_t n) {
    over_state *s = c->ctx;
    return cf_comm_allreduce_f64(s->host, rank, buf, n);
}

static void over_abort(cf_comm *c, int rank, cf_status why) {
    over_state *s = c->ctx;
    if (!s->aborted) {
        s->why = why;
        __atomic_store_n(&s->aborted, 1, __ATOMIC_SEQ_CST);
    }
    cf_comm_abort(s->host, rank, why);
}

static int over_group(const cf_comm *c, cf_comm_mpi_group *g) {
    const over_state *s = c->ctx;
    return cf_comm_mpi_group_of(s->host, g);
}

static cf_status over_check(cf_comm *c, int rank) {
    over_state *s = c->ctx;
    return s->host->ops->check(s->host, rank);
}

static void over_destroy(cf_comm *c) {
    over_state *s = c->ctx;
    for (int r = 0; r < c->size && r < OVER_MAX; r++) {
        if (s->comms[r]) {
            if (s->aborted) ncclCommAbort(s->comms[r]);
            else ncclCommDestroy(s->comms[r]);
        }
        if (s->streams[r]) {
            cudaSetDevice(s->devices[r]);
            cudaStreamDestroy(s->streams[r]);
        }
    }
    cf_comm_destroy(s->host);
    free(s);
    free(c);
}

static const cf_comm_ops over_ops = {
    .name = "nccl-mpi",
    .device_f32 = 1,
    .allreduce_f32 = over_allreduce_f32,
    .allreduce_f64 = over_allreduce_f64,
    .abort = over_abort,
    .destroy = over_destroy,
    .mpi_group = over_group,
    .check = over_check,
};

cf_status cf_comm_nccl_over(cf_comm *host, cf_comm **out) {
    *out = NULL;
    if (host->size > OVER_MAX) {
        cf_comm_destroy(host);
        CF_FAIL(CF_ERR_INVALID_ARG, "comm: a GPU group of %d over MPI ranks (at most %d)", host->size, OVER_MAX);
    }
    cf_comm *c = calloc(1, sizeof *c);
    over_state *s = calloc(1, sizeof *s);
    if (!c || !s) {
        free(c);
        free(s);
        cf_comm_destroy(host);
        CF_FAIL(CF_ERR_OUT_OF_MEMORY, "comm: no memory");
    }
    s->host = host;
    c->ops = &over_ops;
    c->size = host->size;
    c->ctx = s;
    *out = c;
    return CF_OK;
}
