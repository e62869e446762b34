/* backend_impl.h - the backend vtable (private to src/backend, and to tests
 * that build a backend of their own).
 *
 * Each backend fills one cf_backend_ops with designated initializers in its
 * own folder (cpu/backend_cpu_ref.c, cpu/backend_cpu_fast.c,
 * cuda/backend_cuda.c); code above the backends calls the functions of
 * cellforge/backend.h, which check and dispatch here (backend.c).
 * Tests: tests/test_cpu_fast.c, tests/test_grad.c, tests/test_cuda_ops.c
 * (one op table against every backend), tests/test_train_device.c.
 */
#ifndef CF_BACKEND_IMPL_H
#define CF_BACKEND_IMPL_H

#include "cellforge/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cf_backend_ops {
    const char *name;
    /* 1: forward and backward take 16-bit calls (ops.h) themselves; 0: the
     * dispatcher runs them on widened copies (half.c; host backends only). */
    int half;
    /* Run one op. The args were validated by cf_op_check_*; a backend may
     * still fail (e.g. CF_ERR_DEVICE_OOM, CF_ERR_UNSUPPORTED for a dtype). */
    cf_status (*forward)(void *ctx, const cf_op_args *a);
    cf_status (*backward)(void *ctx, const cf_op_args *a);
    /* Whether the backend implements this op kind. */
    int (*supports)(void *ctx, cf_op_kind kind);
    /* Whether backward of this call writes din[k] outright when din_assign[k]
     * is set (saving the caller a zeroing pass); NULL: never. */
    int (*assigns)(void *ctx, const cf_op_args *a, int k);
    /* Free the instance (be and its ctx); NULL for a static backend. Called
     * through cf_backend_destroy. */
    void (*destroy)(struct cf_backend *be);

    /* ---- memory and training loops of a device backend -------------------
     * Every entry below is NULL on a host backend: its memory is plain host
     * memory and the cf_backend_* wrappers further down run the host loops.
     * A device backend fills them all; pointers it hands out are device
     * pointers that only its own ops and these entries may touch. Work may
     * be queued asynchronously; a copy to the host returns once the bytes
     * are there. */
    cf_status (*mem_alloc)(void *ctx, size_t bytes, void **out);
    void (*mem_free)(void *ctx, void *p);
    cf_status (*mem_zero)(void *ctx, void *p, size_t bytes);
    cf_status (*mem_copy)(void *ctx, void *dst, const void *src, size_t bytes, cf_copy_kind kind);
    /* Return once every piece of work queued so far has finished. */
    cf_status (*sync)(void *ctx);
    /* Multiply image b of x (n images of `per` floats) by its drop-path
     * factor: 0 or 1/(1-p), kept when (word >> 8) * 2^-24 >= p for word
     * cf_rng_word_at(seed, stream, index0 + b). */
    cf_status (*drop_path)(void *ctx, void *x, cf_dtype dt, int n, size_t per, double p, uint64_t seed,
                           uint64_t stream, uint64_t index0);
    /* x[i] *= a for n floats. */
    cf_status (*scale)(void *ctx, float *x, size_t n, float a);
    /* Sum of squares of g (n floats) as double; NaN or infinity when an
     * element is not finite. */
    cf_status (*norm2)(void *ctx, const float *g, size_t n, double *out);
    /* One SGD step over every parameter (see cf_sgd_args). */
    cf_status (*sgd)(void *ctx, const cf_sgd_args *a);
    /* One batch: images and labels of a dataset, normalized and augmented
     * (see cf_batch_args). */
    cf_status (*batch)(void *ctx, const cf_batch_args *a);
    /* Mixed precision (cf_backend_narrow, cf_backend_widen_add). */
    cf_status (*narrow)(void *ctx, void *dst, cf_dtype dt, const float *src, size_t n);
    cf_status (*widen_add)(void *ctx, float *dst, const void *src, cf_dtype dt, size_t n);

    /* ---- steps without a copy to the host (device backends; NULL: none) ----
     * Add one step's loss and hits to a->stats (cf_step_stats_args). */
    cf_status (*step_stats)(void *ctx, const cf_step_stats_args *a);
    /* cf_step_clip_host's rule on |g|^2 of the n floats g, in double.
     * Call after step_stats of the same step. */
    cf_status (*step_clip)(void *ctx, const float *g, size_t n, double max_norm, cf_step_stats *stats);
    /* cf_backend_step_seed. */
    cf_status (*step_seed)(void *ctx, float *seeds, double weight0, double weight1, const cf_step_stats *stats);
    /* Record the work queued between capture_begin and capture_end, without
     * running it, as a graph that graph_launch replays on the same memory;
     * free it with graph_free (NULL accepted). NULL: the backend cannot. A
     * failed capture leaves no capture open and *graph NULL. */
    cf_status (*capture_begin)(void *ctx);
    cf_status (*capture_end)(void *ctx, void **graph);
    cf_status (*graph_launch)(void *ctx, void *graph);
    void (*graph_free)(void *ctx, void *graph);
} cf_backend_ops;

/* half.c: a 16-bit call on a host backend without 16-bit kernels; images
 * lo..hi of a 16-bit batch on the host. */
cf_status cf_half_emulate(const cf_backend *be, const cf_op_args *a, int backward);
cf_status cf_half_batch(const cf_batch_args *a, int lo, int hi);

struct cf_backend {
    const cf_backend_ops *ops;
    void *ctx;          /* owned by whoever created the backend */
    cf_device device;
};

#ifdef __cplusplus
}
#endif
#endif
