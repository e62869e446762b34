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
 * Tested by tests/test_cuda_dp.c (label gpu).
 */
#include <stdlib.h>
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
