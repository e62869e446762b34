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
