/* backend.h - the backend vtable and the backends compiled into this build.
 *
 * A backend runs ops on one kind of device. The CPU reference backend is the
 * specification: plain loops that every faster backend is tested against.
 *
 *   const cf_backend *be = cf_backend_cpu_ref();
 *   CF_TRY(cf_op_forward(be, &args));   // validates, then be->ops->forward(...)
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
    float clip;         /* the last step's gradient factor */
} cf_step_stats;

/* One step's statistics into `stats`: the loss is main[0] + aux_weight
 * aux[0] (aux NULL: main alone), the hits those of logits (n, k) against
 * labels (n). All pointers are backend memory. */
typedef struct cf_step_stats_args {
    const float *logits;   /* (n, k) */
    const int32_t *labels; /* (n) */
    int n, k;
    const float *main, *aux;
    double aux_weight;
    double diverge;        /* a loss above this marks the step CF_STEP_DIVERGED */
    cf_step_stats *stats;
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
     * the factor is then stats->clip, and after a bad step nothing moves */
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
    float *x;                        /* (n, c, h, w) */
    int32_t *y;                      /* (n) */
    int threads;                     /* host loops: threads to use */
} cf_batch_args;

struct cf_backend;

typedef struct cf_backend_ops {
    const char *name;
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
    cf_status (*drop_path)(void *ctx, float *x, int n, size_t per, double p, uint64_t seed,
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

    /* ---- steps without a copy to the host (device backends; NULL: none) ----
     * Add one step's loss and hits to a->stats (cf_step_stats_args). */
    cf_status (*step_stats)(void *ctx, const cf_step_stats_args *a);
    /* stats->clip = max_norm / |g| when max_norm > 0 and |g| > max_norm,
     * else 1 (the host rule in double); a NaN or infinite |g| marks the
     * step CF_STEP_BAD_GRAD. Call after step_stats of the same step. */
    cf_status (*step_clip)(void *ctx, const float *g, size_t n, double max_norm, cf_step_stats *stats);
    /* Record the work queued between capture_begin and capture_end, without
     * running it, as a graph that graph_launch replays on the same memory;
     * free it with graph_free (NULL accepted). NULL: the backend cannot. A
     * failed capture leaves no capture open and *graph NULL. */
    cf_status (*capture_begin)(void *ctx);
    cf_status (*capture_end)(void *ctx, void **graph);
    cf_status (*graph_launch)(void *ctx, void *graph);
    void (*graph_free)(void *ctx, void *graph);
} cf_backend_ops;

typedef struct cf_backend {
    const cf_backend_ops *ops;
    void *ctx;          /* owned by whoever created the backend */
    cf_device device;
} cf_backend;

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
static inline int cf_backend_on_device(const cf_backend *be) { return be->ops->mem_alloc != NULL; }
/* Zeroed memory of `bytes` (64-byte aligned on the host); free with cf_backend_free. */
cf_status cf_backend_alloc(const cf_backend *be, size_t bytes, void **out);
void cf_backend_free(const cf_backend *be, void *p); /* NULL accepted */
cf_status cf_backend_zero(const cf_backend *be, void *p, size_t bytes, int threads);
cf_status cf_backend_copy(const cf_backend *be, void *dst, const void *src, size_t bytes, cf_copy_kind kind);
cf_status cf_backend_sync(const cf_backend *be);
cf_status cf_backend_drop_path(const cf_backend *be, float *x, int n, size_t per, double p, uint64_t seed,
                               uint64_t stream, uint64_t index0);
cf_status cf_backend_scale(const cf_backend *be, float *x, size_t n, float a, int threads);
cf_status cf_backend_norm2(const cf_backend *be, const float *g, size_t n, int threads, double *out);
cf_status cf_backend_sgd(const cf_backend *be, const cf_sgd_args *a);
cf_status cf_backend_batch(const cf_backend *be, const cf_batch_args *a);

/* Validate, then run on `be`. */
cf_status cf_op_forward(const cf_backend *be, const cf_op_args *a);
cf_status cf_op_backward(const cf_backend *be, const cf_op_args *a);

#ifdef __cplusplus
}
#endif
#endif
