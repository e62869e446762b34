/* backend.h - the backends compiled into this build and the calls that run on them.
 *
 * A backend runs ops on one kind of device. The CPU reference backend is the
 * specification: plain loops that every faster backend is tested against.
 *
 *   const cf_backend *be = cf_backend_cpu_ref();
 *   CF_TRY(cf_op_forward(be, &args));   // validates, then runs it on be
 */
#ifndef CELLFORGE_BACKEND_H
#define CELLFORGE_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "cellforge/ops.h"
#include "cellforge/status.h"
#include "cellforge/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cf_copy_kind {
    CF_COPY_TO_DEVICE = 0,  /* host -> backend memory */
    CF_COPY_TO_HOST,        /* backend memory -> host */
    CF_COPY_ON_DEVICE       /* backend memory -> backend memory */
} cf_copy_kind;

/* What a device backend keeps of an epoch's steps in its own memory, so that
 * a step needs no copy to the host (step_stats, step_clip below); the
 * trainer reads it at a stated interval. Zeroed (cf_backend_zero) at the
 * start of an epoch. */
typedef enum cf_step_bad {
    CF_STEP_OK = 0,
    CF_STEP_BAD_LOSS,   /* the loss was NaN or infinite */
    CF_STEP_DIVERGED,   /* the loss passed the divergence limit */
    CF_STEP_BAD_GRAD    /* a gradient was NaN or infinite */
} cf_step_bad;

typedef struct cf_step_stats {
    double loss_sum;    /* the losses of the good steps, in step order */
    double hits;        /* rows whose largest logit (the first of equals) is their label */
    double bad_loss;    /* the loss of the first bad step */
    int32_t steps;      /* steps counted, good or bad */
    int32_t bad_step;   /* the first bad step, counted from 0, when bad != CF_STEP_OK */
    int32_t bad;        /* cf_step_bad of the first bad step; sticky */
    float clip;         /* the last step's gradient factor (the loss scale's inverse included) */
    /* Dynamic loss scaling (fp16), cf_step_clip_host's rule; scale 0: off. */
    float scale;        /* the losses' gradients are this many times the true ones */
    int32_t good;       /* steps since the scale last changed */
    int32_t skipped;    /* steps skipped for an overflow */
    int32_t skip;       /* 1: the last step overflowed and is skipped (no update) */
} cf_step_stats;

/* Loss scaling: start at 2^16, halve on an overflow (the step is skipped),
 * double after this many steps without one: PyTorch GradScaler's defaults. */
#define CF_LOSS_SCALE_INIT 65536.0f
#define CF_LOSS_SCALE_GROWTH 2000

/* The clipping and loss-scaling rule of one step, on the host; a device's
 * step_clip does the same. norm2 is the sum of squares of the (scaled)
 * gradients. Unscaled (scale 0): clip = max_norm / |g| when max_norm > 0 and
 * |g| > max_norm, else 1, and a NaN or infinite |g| marks the step
 * CF_STEP_BAD_GRAD. Scaled: |g| / scale is the norm clipped, clip includes
 * 1 / scale; a non-finite |g| skips the step and halves the scale while the
 * scale is above 1 (at 1 it is a bad step as unscaled), and
 * CF_LOSS_SCALE_GROWTH good steps in a row double it. */
void cf_step_clip_host(cf_step_stats *st, double norm2, double max_norm);

/* One step's statistics into `stats`: the loss is main[0] + aux_weight
 * aux[0] (aux NULL: main alone), the hits those of logits (n, k) against
 * labels (n). All pointers are backend memory. */
typedef struct cf_step_stats_args {
    const void *logits;    /* (n, k) of dtype */
    const int32_t *labels; /* (n) */
    int n, k;
    const float *main, *aux;
    double aux_weight;
    double diverge;        /* a loss above this marks the step CF_STEP_DIVERGED */
    cf_step_stats *stats;
    cf_dtype dtype;        /* of logits: f32 (0, the default), bf16 or f16 */
} cf_step_stats_args;

/* One SGD step, PyTorch's rule: g' = clip g + wd w; buf = mu buf + g';
 * w -= lr (g' + mu buf) with Nesterov, w -= lr buf without. All three arrays
 * are n floats of backend memory. */
typedef struct cf_sgd_args {
    float *w;              /* (n) parameters, updated */
    const float *g;        /* (n) gradients */
    float *buf;            /* (n) momentum buffer, updated */
    size_t n;
    float lr, momentum, weight_decay;
    float clip;            /* gradient factor, 1 when not clipping */
    int nesterov;
    int threads;           /* host loops: threads to use */
    /* device backends: NULL, or the epoch's statistics in backend memory:
     * the factor is then stats->clip, and after a bad step or on a skipped
     * one (stats->skip) nothing moves */
    const cf_step_stats *stats;
} cf_sgd_args;

/* One training or evaluation batch: x[k] = image ds[idx[k]] scaled to [0, 1],
 * normalized per channel and augmented when aug is set, y[k] its label; the
 * draws of image k use the RNG words at (seed, epoch, pos0 + k): exactly
 * cf_data_batch (data.h). idx, x and y are backend memory. */
struct cf_dataset;
struct cf_augment;
typedef struct cf_batch_args {
    const struct cf_dataset *ds;     /* borrowed; a device backend keeps a copy keyed by its
                                        address: it must outlive, unchanged, the backend */
    const uint32_t *idx;             /* (n) image indices */
    int n;
    const float *mean, *std;         /* (ds->c) host arrays */
    const struct cf_augment *aug;    /* NULL: none */
    uint64_t seed, epoch, pos0;
    void *x;                         /* (n, c, h, w) of dtype */
    int32_t *y;                      /* (n) */
    int threads;                     /* host loops: threads to use */
    cf_dtype dtype;                  /* of x: f32 (0, the default), bf16 or f16 (rounded from f32) */
} cf_batch_args;

/* A backend instance: opaque outside src/backend (its vtable is in
 * src/backend/backend_impl.h); code above the backends uses the calls below. */
typedef struct cf_backend cf_backend;

/* The CPU reference backend (static; never freed). Accepts f32 and f64. */
const cf_backend *cf_backend_cpu_ref(void);

/* The fast CPU backend: f32 contiguous tensors through im2col + OpenBLAS GEMMs
 * and OpenMP loops on `threads` threads (threads <= 0: every core); f64,
 * strided views and dropout run the reference ops, so every op is supported.
 * Each instance owns its workspace, which grows on first use and is then
 * reused, so steady-state calls do not allocate. An instance is used by one
 * thread at a time; two trainers each create their own and may run at once.
 * Creating one sets OpenBLAS to one thread process-wide (the parallelism
 * comes from OpenMP). Caller frees with cf_backend_cpu_fast_destroy.
 *
 *   cf_backend *be;
 *   CF_TRY(cf_backend_cpu_fast_create(2, &be));
 *   CF_TRY(cf_op_forward(be, &args));
 *   cf_backend_cpu_fast_destroy(be);
 */
cf_status cf_backend_cpu_fast_create(int threads, cf_backend **out);
/* Frees the instance and its workspace; accepts NULL. */
void cf_backend_cpu_fast_destroy(cf_backend *be);

/* The CUDA backend on GPU `device` (CF_HAVE_CUDA builds): cuDNN for
 * convolution, batch norm and pooling, cuBLAS for linear layers, kernels/ for
 * the rest and for the training loops, all on one stream of its own. Its
 * memory entries hand out device memory; datasets given to its batch entry
 * are uploaded once per device as uint8 and shared by every instance there.
 * deterministic: pin convolution algorithms that give the same bits on every
 * run. Without CUDA in the build, or without the GPU, fails with
 * CF_ERR_UNSUPPORTED or CF_ERR_NO_DEVICE. Caller frees with
 * cf_backend_cuda_destroy (NULL accepted). One thread uses an instance at a
 * time; instances on one GPU may run at once.
 *
 *   cf_backend *gpu;
 *   CF_TRY(cf_backend_cuda_create(0, 0, &gpu));
 *   CF_TRY(cf_model_create(net, 256, gpu, 0, &m));   // memory on GPU 0
 */
cf_status cf_backend_cuda_create(int device, int deterministic, cf_backend **out);
void cf_backend_cuda_destroy(cf_backend *be);
/* Whether this build has the CUDA backend. */
int cf_backend_cuda_built(void);

/* The training backend of a device: the fast CPU backend on `threads`
 * threads (<= 0: every core) for CF_DEVICE_CPU, the CUDA backend on GPU
 * device.index for CF_DEVICE_CUDA (deterministic as in
 * cf_backend_cuda_create). Free with cf_backend_destroy. */
cf_status cf_backend_create(cf_device device, int threads, int deterministic, cf_backend **out);
/* Frees any backend through its destroy entry; NULL and static backends are accepted. */
void cf_backend_destroy(cf_backend *be);

/* ---- backend memory and loops: the device entries, or host code when NULL ---- */
/* 1 when the backend's memory is device memory (its buffers are not host pointers). */
int cf_backend_on_device(const cf_backend *be);
/* Zeroed memory of `bytes` (64-byte aligned on the host); free with cf_backend_free. */
cf_status cf_backend_alloc(const cf_backend *be, size_t bytes, void **out);
void cf_backend_free(const cf_backend *be, void *p); /* NULL accepted */
cf_status cf_backend_zero(const cf_backend *be, void *p, size_t bytes, int threads);
cf_status cf_backend_copy(const cf_backend *be, void *dst, const void *src, size_t bytes, cf_copy_kind kind);
cf_status cf_backend_sync(const cf_backend *be);
/* x: n images of `per` values of dtype dt (f32, bf16 or f16). */
cf_status cf_backend_drop_path(const cf_backend *be, void *x, cf_dtype dt, int n, size_t per, double p, uint64_t seed,
                               uint64_t stream, uint64_t index0);
cf_status cf_backend_scale(const cf_backend *be, float *x, size_t n, float a, int threads);
cf_status cf_backend_norm2(const cf_backend *be, const float *g, size_t n, int threads, double *out);
cf_status cf_backend_sgd(const cf_backend *be, const cf_sgd_args *a);
cf_status cf_backend_batch(const cf_backend *be, const cf_batch_args *a);
/* Mixed precision: dst (n values of the 16-bit dtype dt) = src rounded
 * (the compute copy of the f32 weights); dst (n f32) += src widened (the
 * 16-bit weight gradients into the f32 ones). */
cf_status cf_backend_narrow(const cf_backend *be, void *dst, cf_dtype dt, const float *src, size_t n);
cf_status cf_backend_widen_add(const cf_backend *be, float *dst, const void *src, cf_dtype dt, size_t n);

/* ---- what a backend is and offers ---- */
const char *cf_backend_name(const cf_backend *be); /* "cpu-ref", "cpu-fast", "cuda" */
cf_device cf_backend_device(const cf_backend *be);
int cf_backend_supports(const cf_backend *be, cf_op_kind kind);
/* 1 when backward of these args assigns (rather than adds) input gradient k. */
int cf_backend_assigns(const cf_backend *be, const cf_op_args *a, int k);

/* ---- a training step kept on the device (device backends that offer it) ---- */
/* 1 when the backend keeps step statistics and clips on the device. */
int cf_backend_has_step_stats(const cf_backend *be);
cf_status cf_backend_step_stats(const cf_backend *be, const cf_step_stats_args *a);
cf_status cf_backend_step_clip(const cf_backend *be, const float *g, size_t n, double max_norm,
                               cf_step_stats *stats);
/* seeds[k] = weight[k] x stats->scale for k < 2 (the loss gradients a
 * scaled step starts from; backend memory). */
cf_status cf_backend_step_seed(const cf_backend *be, float *seeds, double weight0, double weight1,
                               const cf_step_stats *stats);
/* Capture the work queued between begin and end as a graph, replay it, free
 * it (CF_ERR_UNSUPPORTED where the backend cannot). */
int cf_backend_has_graphs(const cf_backend *be);
cf_status cf_backend_capture_begin(const cf_backend *be);
cf_status cf_backend_capture_end(const cf_backend *be, void **graph);
cf_status cf_backend_graph_launch(const cf_backend *be, void *graph);
void cf_backend_graph_free(const cf_backend *be, void *graph); /* NULL accepted */

/* Validate, then run on `be`. */
cf_status cf_op_forward(const cf_backend *be, const cf_op_args *a);
cf_status cf_op_backward(const cf_backend *be, const cf_op_args *a);

#ifdef __cplusplus
}
#endif
#endif
