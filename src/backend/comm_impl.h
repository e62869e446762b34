/* comm_impl.h - what a communicator implementation provides (private to
 * src/backend): the in-process CPU communicator in comm.c, NCCL in
 * cuda/comm_nccl.c. The public calls of cellforge/comm.h check ranks and
 * buffers in comm.c, then dispatch here.
 * Tests: tests/test_dp.c, tests/test_cuda_dp.c.
 */
#ifndef CF_COMM_IMPL_H
#define CF_COMM_IMPL_H

#include "cellforge/comm.h"

/* What an implementation provides. The public functions below check the rank
 * and the buffer before calling in, so an implementation sees valid ranks. */
typedef struct cf_comm_ops {
    const char *name;
    int device_f32;              /* allreduce_f32 takes device buffers (NCCL), not host ones */
    cf_status (*allreduce_f32)(cf_comm *c, int rank, float *buf, size_t n);
    cf_status (*allreduce_f64)(cf_comm *c, int rank, double *buf, size_t n);
    void (*abort)(cf_comm *c, int rank, cf_status why);
    void (*destroy)(cf_comm *c); /* frees ctx and c */
    /* optional, a group over MPI ranks: its description (cf_comm_mpi_group_of) ... */
    int (*mpi_group)(const cf_comm *c, cf_comm_mpi_group *g);
    /* ... and, without waiting, whether it failed meanwhile (an abort by a
     * replica anywhere, a process lost): CF_OK while it is whole */
    cf_status (*check)(cf_comm *c, int rank);
} cf_comm_ops;

struct cf_comm {
    const cf_comm_ops *ops;
    int size;                    /* ranks */
    void *ctx;                   /* the implementation's state, owned by the communicator */
};

/* A group over MPI ranks whose replicas are GPUs: f32 sums of device buffers
 * through NCCL, its communicator made at the first sum (the NCCL id travels
 * through host's f64 sum); f64 sums, aborts and failures through host, which
 * it takes (src/backend/cuda/comm_nccl.c; without CUDA, CF_ERR_UNSUPPORTED
 * and host destroyed). */
cf_status cf_comm_nccl_over(cf_comm *host, cf_comm **out);

#endif
