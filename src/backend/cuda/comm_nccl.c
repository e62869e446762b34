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

/* What both forms share, first in their state: the host communicator and the abort. */
typedef struct nccl_common {
    cf_comm *host;          /* f64 sums and aborts (over MPI ranks: also the others' failures) */
    volatile int aborted;   /* set once by the first abort */
    cf_status why;
} nccl_common;

typedef struct nccl_state {
    nccl_common k;
    int *devices;           /* (size) */
    ncclComm_t *comms;      /* (size) */
    cudaStream_t *streams;  /* (size) */
} nccl_state;

static cf_status stopped(const nccl_common *k, int rank) {
    return cf_error_set(k->why, __FILE__, __LINE__, "comm: rank %d stops: another rank failed", rank);
}

/* Rank `rank`'s f32 sum on its stream, polled until done, an abort, or (over
 * MPI ranks) a failure the host communicator heard of. */
static cf_status nccl_sum(nccl_common *k, int rank, int device, ncclComm_t comm, cudaStream_t stream, float *buf,
                          size_t n) {
    if (k->aborted) return stopped(k, rank);
    CF_CUDA_CHECK(cudaSetDevice(device));
    CF_NCCL_CHECK(ncclAllReduce(buf, buf, n, ncclFloat, ncclSum, comm, stream));
    for (;;) {
        cudaError_t e = cudaStreamQuery(stream);
        if (e == cudaSuccess) return CF_OK;
        if (e != cudaErrorNotReady) CF_CUDA_CHECK(e);
        ncclResult_t async = ncclSuccess;
        CF_NCCL_CHECK(ncclCommGetAsyncError(comm, &async));
        CF_NCCL_CHECK(async);
        cf_status st = k->host->ops->check ? k->host->ops->check(k->host, rank) : CF_OK;
        if (st != CF_OK) {
            k->why = st;
            __atomic_store_n(&k->aborted, 1, __ATOMIC_SEQ_CST);
            return st;
        }
        if (k->aborted) return stopped(k, rank);
        struct timespec pause = {0, 20000}; /* 20 us */
        nanosleep(&pause, NULL);
    }
}

static cf_status nccl_allreduce_f32(cf_comm *c, int rank, float *buf, size_t n) {
    nccl_state *s = c->ctx;
    return nccl_sum(&s->k, rank, s->devices[rank], s->comms[rank], s->streams[rank], buf, n);
}

/* Both forms: the state starts with its nccl_common. */
static cf_status common_allreduce_f64(cf_comm *c, int rank, double *buf, size_t n) {
    nccl_common *k = c->ctx;
    return cf_comm_allreduce_f64(k->host, rank, buf, n);
}

static void common_abort(cf_comm *c, int rank, cf_status why) {
    nccl_common *k = c->ctx;
    if (!k->aborted) {
        k->why = why;
        __atomic_store_n(&k->aborted, 1, __ATOMIC_SEQ_CST);
    }
    cf_comm_abort(k->host, rank, why);
}

static void nccl_free(nccl_state *s, int size) {
    if (!s) return;
    for (int r = 0; r < size; r++) {
        if (s->comms && s->comms[r]) {
            if (s->k.aborted) ncclCommAbort(s->comms[r]);
            else ncclCommDestroy(s->comms[r]);
        }
        if (s->streams && s->streams[r]) {
            cudaSetDevice(s->devices[r]);
            cudaStreamDestroy(s->streams[r]);
        }
    }
    cf_comm_destroy(s->k.host);
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
    .allreduce_f64 = common_allreduce_f64,
    .abort = common_abort,
    .destroy = nccl_destroy,
};

static cf_status nccl_init(nccl_state *s, const int *devices, int size) {
    for (int r = 0; r < size; r++) {
        s->devices[r] = devices[r];
        for (int q = 0; q < r; q++)
            if (devices[q] == devices[r])
                CF_FAIL(CF_ERR_INVALID_ARG, "comm: GPU %d named twice (NCCL takes one rank per GPU)", devices[r]);
    }
    CF_TRY(cf_comm_cpu_create(size, &s->k.host));
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
    nccl_common k;                   /* host: the group over MPI (the NCCL id travels through it); owned */
    ncclComm_t comms[OVER_MAX];      /* per replica of this process, made at its first f32 sum */
    cudaStream_t streams[OVER_MAX];
    int devices[OVER_MAX];
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
    CF_TRY(cf_comm_allreduce_f64(s->k.host, rank, v, NCCL_UNIQUE_ID_BYTES));
    for (int i = 0; i < NCCL_UNIQUE_ID_BYTES; i++) id.internal[i] = (char)(unsigned char)v[i];
    CF_CUDA_CHECK(cudaGetDevice(&s->devices[rank]));
    CF_NCCL_CHECK(ncclCommInitRank(&s->comms[rank], c->size, id, rank));
    CF_CUDA_CHECK(cudaStreamCreateWithFlags(&s->streams[rank], cudaStreamNonBlocking));
    return CF_OK;
}

static cf_status over_allreduce_f32(cf_comm *c, int rank, float *buf, size_t n) {
    over_state *s = c->ctx;
    if (s->k.aborted) return stopped(&s->k, rank);
    if (!s->comms[rank]) CF_TRY(over_join(c, s, rank));
    return nccl_sum(&s->k, rank, s->devices[rank], s->comms[rank], s->streams[rank], buf, n);
}

static int over_group(const cf_comm *c, cf_comm_mpi_group *g) {
    const over_state *s = c->ctx;
    return cf_comm_mpi_group_of(s->k.host, g);
}

static cf_status over_check(cf_comm *c, int rank) {
    over_state *s = c->ctx;
    return s->k.host->ops->check(s->k.host, rank);
}

static void over_destroy(cf_comm *c) {
    over_state *s = c->ctx;
    for (int r = 0; r < c->size && r < OVER_MAX; r++) {
        if (s->comms[r]) {
            if (s->k.aborted) ncclCommAbort(s->comms[r]);
            else ncclCommDestroy(s->comms[r]);
        }
        if (s->streams[r]) {
            cudaSetDevice(s->devices[r]);
            cudaStreamDestroy(s->streams[r]);
        }
    }
    cf_comm_destroy(s->k.host);
    free(s);
    free(c);
}

static const cf_comm_ops over_ops = {
    .name = "nccl-mpi",
    .device_f32 = 1,
    .allreduce_f32 = over_allreduce_f32,
    .allreduce_f64 = common_allreduce_f64,
    .abort = common_abort,
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
    s->k.host = host;
    c->ops = &over_ops;
    c->size = host->size;
    c->ctx = s;
    *out = c;
    return CF_OK;
}
