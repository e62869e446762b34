/* comm.c - the communicator front (rank and buffer checks, dispatch) and the
 * in-process CPU communicator: ranks are threads sharing one address space.
 *
 * An all-reduce is two barriers. Each rank posts its buffer and count, the
 * first barrier makes every buffer visible; then rank r owns the slice
 * [n*r/K, n*(r+1)/K): it sums that slice over all buffers in rank order and
 * writes the sum back into every buffer. No two ranks touch the same element,
 * so no locking is needed in between; the second barrier keeps every rank
 * from returning (and reusing its buffer) before all slices are written.
 * Tested by tests/test_dp.c.
 */
#include <stdlib.h>

#include "comm_impl.h"
#include "cellforge/thread.h"

typedef enum elem_kind { ELEM_F32, ELEM_F64 } elem_kind;

typedef struct cpu_state {
    cf_mutex mu;
    cf_cond cv;
    int arrived;              /* ranks waiting at the current barrier */
    unsigned long generation; /* barriers completed: tells this round's wake-up from the next one */
    int aborted_by;           /* the rank that aborted, or -1 */
    cf_status abort_status;
    void **bufs;              /* (size) each rank's buffer in the collective under way, borrowed */
    size_t *counts;           /* (size) each rank's element count */
    elem_kind *kinds;         /* (size) each rank's element type */
} cpu_state;

/* The status every rank returns once the communicator was aborted. Called with mu held. */
static cf_status aborted_locked(const cf_comm *c, const cpu_state *s, int rank) {
    return cf_error_set(s->abort_status, __FILE__, __LINE__,
                        "comm: rank %d of %d stops: rank %d failed (%s)", rank, c->size, s->aborted_by,
                        cf_status_name(s->abort_status));
}

/* A reusable barrier over all ranks. Called and returns with mu held. Fails
 * when a rank aborts before every rank has arrived. */
static cf_status barrier_locked(cf_comm *c, cpu_state *s, int rank) {
    if (s->aborted_by >= 0) return aborted_locked(c, s, rank);
    const unsigned long gen = s->generation;
    if (++s->arrived == c->size) {
        s->arrived = 0;
        s->generation++;
        cf_cond_broadcast(&s->cv);
        return CF_OK;
    }
    while (gen == s->generation && s->aborted_by < 0) cf_cond_wait(&s->cv, &s->mu);
    if (gen == s->generation) return aborted_locked(c, s, rank);
    return CF_OK;
}

static void abort_locked(cpu_state *s, int rank, cf_status why) {
    if (s->aborted_by >= 0) return;
    s->aborted_by = rank;
    s->abort_status = why == CF_OK ? CF_ERR_INTERNAL : why;
    cf_cond_broadcast(&s->cv);
}

/* Element i of the result is written by exactly one rank, from a sum in rank
 * order accumulated in double: one rounding, the same bits on every rank. */
static void reduce_slice_f32(float *const *bufs, int K, size_t lo, size_t hi) {
    for (size_t i = lo; i < hi; i++) {
        double sum = 0;
        for (int q = 0; q < K; q++) sum += bufs[q][i];
        const float v = (float)sum;
        for (int q = 0; q < K; q++) bufs[q][i] = v;
    }
}

static void reduce_slice_f64(double *const *bufs, int K, size_t lo, size_t hi) {
    for (size_t i = lo; i < hi; i++) {
        double sum = 0;
        for (int q = 0; q < K; q++) sum += bufs[q][i];
        for (int q = 0; q < K; q++) bufs[q][i] = sum;
    }
}

static cf_status cpu_allreduce(cf_comm *c, int rank, void *buf, size_t n, elem_kind kind) {
    cpu_state *s = c->ctx;
    const int K = c->size;
    cf_mutex_lock(&s->mu);
    /* before the one-rank shortcut: an aborted communicator fails at any size */
    if (s->aborted_by >= 0) {
        cf_status st = aborted_locked(c, s, rank);
        cf_mutex_unlock(&s->mu);
        return st;
    }
    if (K == 1) {
        cf_mutex_unlock(&s->mu);
        return CF_OK;
    }
    s->bufs[rank] = buf;
    s->counts[rank] = n;
    s->kinds[rank] = kind;
    cf_status st = barrier_locked(c, s, rank);
    /* Every rank sees the same posted counts and fails alike on a mismatch;
     * the abort keeps a fast rank's next call from overwriting them. */
    for (int q = 0; st == CF_OK && q < K; q++) {
        if (s->counts[q] != n || s->kinds[q] != kind) {
            st = cf_error_set(CF_ERR_INVALID_ARG, __FILE__, __LINE__,
                              "comm: all-reduce of %zu %s on rank %d but %zu %s on rank %d", n,
                              kind == ELEM_F32 ? "f32" : "f64", rank, s->counts[q],
                              s->kinds[q] == ELEM_F32 ? "f32" : "f64", q);
            abort_locked(s, rank, CF_ERR_INVALID_ARG);
        }
    }
    cf_mutex_unlock(&s->mu);
    if (st != CF_OK) return st;

    const size_t lo = n * (size_t)rank / (size_t)K, hi = n * (size_t)(rank + 1) / (size_t)K;
    if (kind == ELEM_F32)
        reduce_slice_f32((float *const *)s->bufs, K, lo, hi);
    else
        reduce_slice_f64((double *const *)s->bufs, K, lo, hi);

    cf_mutex_lock(&s->mu);
    st = barrier_locked(c, s, rank);
    cf_mutex_unlock(&s->mu);
    return st;
}

static cf_status cpu_allreduce_f32(cf_comm *c, int rank, float *buf, size_t n) {
    return cpu_allreduce(c, rank, buf, n, ELEM_F32);
}

static cf_status cpu_allreduce_f64(cf_comm *c, int rank, double *buf, size_t n) {
    return cpu_allreduce(c, rank, buf, n, ELEM_F64);
}

static void cpu_abort(cf_comm *c, int rank, cf_status why) {
    cpu_state *s = c->ctx;
    cf_mutex_lock(&s->mu);
    abort_locked(s, rank, why);
    cf_mutex_unlock(&s->mu);
}

static void cpu_destroy(cf_comm *c) {
    cpu_state *s = c->ctx;
    if (s) {
        cf_cond_destroy(&s->cv);
        cf_mutex_destroy(&s->mu);
        free(s->bufs);
        free(s->counts);
        free(s->kinds);
        free(s);
    }
    free(c);
}

static const cf_comm_ops cpu_ops = {
    .name = "cpu",
    .device_f32 = 0,
    .allreduce_f32 = cpu_allreduce_f32,
    .allreduce_f64 = cpu_allreduce_f64,
    .abort = cpu_abort,
    .destroy = cpu_destroy,
};

cf_status cf_comm_cpu_create(int size, cf_comm **out) {
    *out = NULL;
    if (size < 1) CF_FAIL(CF_ERR_INVALID_ARG, "comm: %d ranks (at least 1)", size);
    cf_status st = CF_OK;
    int have_mutex = 0;
    cf_comm *c = calloc(1, sizeof *c);
    cpu_state *s = calloc(1, sizeof *s);
    if (!c || !s) goto oom;
    s->bufs = calloc((size_t)size, sizeof *s->bufs);
    s->counts = calloc((size_t)size, sizeof *s->counts);
    s->kinds = calloc((size_t)size, sizeof *s->kinds);
    if (!s->bufs || !s->counts || !s->kinds) goto oom;
    CF_TRY_GOTO(st, cf_mutex_init(&s->mu), fail);
    have_mutex = 1;
    CF_TRY_GOTO(st, cf_cond_init(&s->cv), fail);
    s->aborted_by = -1;
    c->ops = &cpu_ops;
    c->size = size;
    c->ctx = s;
    *out = c;
    return CF_OK;
oom:
    st = cf_error_set(CF_ERR_OUT_OF_MEMORY, __FILE__, __LINE__, "comm: no memory for %d ranks", size);
fail:
    if (have_mutex) cf_mutex_destroy(&s->mu);
    if (s) {
        free(s->bufs);
        free(s->counts);
        free(s->kinds);
    }
    free(s);
    free(c);
    return st;
}

void cf_comm_destroy(cf_comm *c) {
    if (c) c->ops->destroy(c);
}

int cf_comm_size(const cf_comm *c) { return c->size; }

const char *cf_comm_name(const cf_comm *c) { return c->ops->name; }

int cf_comm_device_f32(const cf_comm *c) { return c && c->ops->device_f32; }

#ifndef CF_HAVE_CUDA
cf_status cf_comm_nccl_create(const int *devices, int size, cf_comm **out) {
    (void)devices;
    (void)size;
    *out = NULL;
    CF_FAIL(CF_ERR_UNSUPPORTED, "comm: this build has no NCCL (configure with the CUDA toolkit present)");
}
#endif

#ifndef CF_HAVE_MPI
cf_status cf_comm_mpi_setup(void) {
    CF_FAIL(CF_ERR_UNSUPPORTED, "comm: this build has no MPI (apt-get install libopenmpi-dev openmpi-bin)");
}

cf_status cf_comm_mpi_create(const cf_comm_mpi_group *g, cf_comm **out) {
    (void)g;
    *out = NULL;
    CF_FAIL(CF_ERR_UNSUPPORTED, "comm: this build has no MPI (apt-get install libopenmpi-dev openmpi-bin)");
}

#endif

#ifndef CF_HAVE_CUDA
cf_status cf_comm_nccl_over(cf_comm *host, cf_comm **out) {
    cf_comm_destroy(host);
    *out = NULL;
    CF_FAIL(CF_ERR_UNSUPPORTED, "comm: a GPU group over MPI ranks needs NCCL (a build with the CUDA toolkit)");
}
#endif

int cf_comm_mpi_group_of(const cf_comm *c, cf_comm_mpi_group *g) {
    return c && c->ops->mpi_group && c->ops->mpi_group(c, g);
}

/* A bad rank or buffer is a caller's bug on one rank; aborting lets the other
 * ranks fail too instead of waiting for a collective that never completes. */
static cf_status check_call(cf_comm *c, int rank, const void *buf, size_t n, const char *what) {
    if (!c) CF_FAIL(CF_ERR_INVALID_ARG, "comm: %s on a NULL communicator", what);
    if (rank < 0 || rank >= c->size) {
        c->ops->abort(c, rank, CF_ERR_INVALID_ARG);
        CF_FAIL(CF_ERR_INVALID_ARG, "comm: %s on rank %d of a communicator of %d", what, rank, c->size);
    }
    if (!buf && n > 0) {
        c->ops->abort(c, rank, CF_ERR_INVALID_ARG);
        CF_FAIL(CF_ERR_INVALID_ARG, "comm: %s of %zu elements from a NULL buffer on rank %d", what, n, rank);
    }
    return CF_OK;
}

cf_status cf_comm_allreduce_f32(cf_comm *c, int rank, float *buf, size_t n) {
    CF_TRY(check_call(c, rank, buf, n, "all-reduce"));
    return c->ops->allreduce_f32(c, rank, buf, n);
}

cf_status cf_comm_allreduce_f64(cf_comm *c, int rank, double *buf, size_t n) {
    CF_TRY(check_call(c, rank, buf, n, "all-reduce"));
    return c->ops->allreduce_f64(c, rank, buf, n);
}

void cf_comm_abort(cf_comm *c, int rank, cf_status why) {
    if (c) c->ops->abort(c, rank, why);
}
