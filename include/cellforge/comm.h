/* comm.h - collectives among the replicas of one data-parallel training.
 *
 * A communicator joins `size` replicas, ranks 0..size-1, each driven by its
 * own thread. Every rank makes the same collective calls in the same order
 * with the same element counts; a call returns once every rank has made it.
 * The in-process CPU communicator is built here; other implementations (NCCL
 * across GPUs) fill the same ops table.
 *
 *   cf_comm *comm = NULL;
 *   CF_TRY(cf_comm_cpu_create(2, &comm));
 *   // on the thread of rank r, with its own float g[n]:
 *   CF_TRY(cf_comm_allreduce_f32(comm, r, g, n));   // g = sum over ranks
 *   // after every thread has joined:
 *   cf_comm_destroy(comm);
 *
 * Sums are taken in rank order, so every rank receives the same bits and a
 * run is reproducible. A rank that cannot go on calls cf_comm_abort; the
 * others' collectives then fail instead of waiting for it forever.
 */
#ifndef CELLFORGE_COMM_H
#define CELLFORGE_COMM_H

#include <stddef.h>

#include "cellforge/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cf_comm cf_comm;

/* The name of the communicator's implementation: "cpu" or "nccl". */
const char *cf_comm_name(const cf_comm *c);

/* A communicator of `size` (>= 1) ranks in this process, each rank on its own
 * thread. The caller frees *out with cf_comm_destroy once no rank uses it. */
cf_status cf_comm_cpu_create(int size, cf_comm **out);

/* A communicator of one rank per GPU in devices[0..size) (distinct
 * ordinals), for data-parallel training on GPUs in this process: f32 sums run
 * through NCCL on device buffers (the gradients stay on their GPUs), f64 sums
 * (a step's loss and counts) on host buffers as the CPU communicator does.
 * Rank r's buffers live on devices[r], and the caller has finished writing
 * them (cf_backend_sync) before the call; every rank receives the same bits.
 * Without CUDA in the build fails with CF_ERR_UNSUPPORTED. Created on one
 * thread for all ranks; the caller frees it with cf_comm_destroy. */
cf_status cf_comm_nccl_create(const int *devices, int size, cf_comm **out);

/* A data-parallel group whose replicas run in several processes of an MPI
 * job (src/backend/comm_mpi.c, built with CF_MPI). Every process that runs
 * replicas of the group makes its own communicator from the same group; a
 * replica r there calls the collectives with rank r. Host buffers (f32 and
 * f64) in the CPU communicator's summation order, so the same bits as the
 * group in one process; or, with `device`, f32 sums of device buffers by
 * NCCL (one rank per replica, each on its thread's current GPU). */
typedef struct cf_comm_mpi_group {
    long long id;          /* the group's number, unique within the job (>= 0) */
    int size;              /* replicas (1 to 32) */
    const int *procs;      /* (size) the MPI rank of the process running each replica */
    const int *local;      /* (size) each replica's worker index within its process */
    int device;            /* 1: the replicas are GPUs; f32 sums of device buffers go
                              through NCCL, bootstrapped over MPI (a CUDA build) */
    /* Optional: 1 when process `proc` stopped answering, its description in
     * why; a replica waiting on the group then fails instead of waiting. */
    int (*lost)(void *ctx, int proc, char *why, size_t cap);
    void *lost_ctx;
} cf_comm_mpi_group;

/* Collective over MPI_COMM_WORLD, once per process after MPI is initialized:
 * a communication space of the groups' own. */
cf_status cf_comm_mpi_setup(void);

/* This process's communicator of group g (copied); free with cf_comm_destroy.
 * CF_ERR_UNSUPPORTED in a build without MPI. */
cf_status cf_comm_mpi_create(const cf_comm_mpi_group *g, cf_comm **out);

/* 1 with *g filled (procs borrowed from c) when c is such a communicator. */
int cf_comm_mpi_group_of(const cf_comm *c, cf_comm_mpi_group *g);

/* Whether allreduce_f32 takes device buffers. */
int cf_comm_device_f32(const cf_comm *c);

/* NULL is accepted. No rank may be inside a collective. */
void cf_comm_destroy(cf_comm *c);

int cf_comm_size(const cf_comm *c);

/* Every rank passes its own buf of n elements (borrowed for the call); on
 * return each holds the element-wise sum over the ranks, the same bits on
 * every rank. Different n on different ranks fails on all of them (and aborts
 * the communicator). */
cf_status cf_comm_allreduce_f32(cf_comm *c, int rank, float *buf, size_t n);
cf_status cf_comm_allreduce_f64(cf_comm *c, int rank, double *buf, size_t n);

/* Rank `rank` stops for `why` (a failure status): every collective under way
 * or started later, on any rank, returns `why` at once. The first abort wins
 * and the communicator stays broken; destroy it. */
void cf_comm_abort(cf_comm *c, int rank, cf_status why);

#ifdef __cplusplus
}
#endif
#endif
