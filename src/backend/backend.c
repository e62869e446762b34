/* backend.c - validated dispatch from an op call to a backend, the
 * backend-memory wrappers with their host loops, and the calls that reach a
 * backend's other entries (backend_impl.h). */
#include "backend_impl.h"

#include <stdlib.h>
#include <string.h>

#include "cellforge/data.h"
#include "cellforge/memlimit.h"
#include "cellforge/rng.h"
#include "../../kernels/step_rule.h"

/* A 16-bit call on a backend without 16-bit kernels: run on widened copies (half.c). */
static int emulated(const cf_backend *be, const cf_op_args *a) {
    return !be->ops->half && cf_dtype_is_half(cf_op_first_input(a)->dtype);
}

cf_status cf_op_forward(const cf_backend *be, const cf_op_args *a) {
    if (!be || !be->ops) CF_FAIL(CF_ERR_INVALID_ARG, "op forward: no backend");
    CF_TRY(cf_op_check_forward(a));
    if (!be->ops->supports(be->ctx, a->kind))
        CF_FAIL(CF_ERR_UNSUPPORTED, "%s: backend %s has no %s", be->ops->name, be->ops->name, cf_op_name(a->kind));
    if (emulated(be, a)) return cf_half_emulate(be, a, 0);
    CF_TRY(be->ops->forward(be->ctx, a));
    return CF_OK;
}

cf_status cf_op_backward(const cf_backend *be, const cf_op_args *a) {
    if (!be || !be->ops) CF_FAIL(CF_ERR_INVALID_ARG, "op backward: no backend");
    CF_TRY(cf_op_check_backward(a));
    if (!be->ops->supports(be->ctx, a->kind))
        CF_FAIL(CF_ERR_UNSUPPORTED, "%s: backend %s has no %s", be->ops->name, be->ops->name, cf_op_name(a->kind));
    for (int k = 0; k < a->n_inputs; k++)
        if (a->din_assign[k] && a->din[k] && !cf_backend_assigns(be, a, k))
            CF_TRY(cf_backend_zero(be, a->din[k]->data, cf_tensor_bytes(a->din[k]), 1));
    if (emulated(be, a)) return cf_half_emulate(be, a, 1);
    CF_TRY(be->ops->backward(be->ctx, a));
    return CF_OK;
}

/* ---- what a backend is and offers ---------------------------------------- */

const char *cf_backend_name(const cf_backend *be) { return be->ops->name; }
cf_device cf_backend_device(const cf_backend *be) { return be->device; }
int cf_backend_supports(const cf_backend *be, cf_op_kind kind) { return be->ops->supports(be->ctx, kind); }
int cf_backend_assigns(const cf_backend *be, const cf_op_args *a, int k) {
    return be->ops->assigns && !emulated(be, a) && be->ops->assigns(be->ctx, a, k);
}
int cf_backend_on_device(const cf_backend *be) { return be->ops->mem_alloc != NULL; }

/* ---- a training step kept on the device ----------------------------------- */

int cf_backend_has_step_stats(const cf_backend *be) { return be->ops->step_stats && be->ops->step_clip; }

cf_status cf_backend_step_stats(const cf_backend *be, const cf_step_stats_args *a) {
    if (!be->ops->step_stats) CF_FAIL(CF_ERR_UNSUPPORTED, "%s: no step statistics on the device", be->ops->name);
    return be->ops->step_stats(be->ctx, a);
}

cf_status cf_backend_step_clip(const cf_backend *be, const float *g, size_t n, double max_norm, cf_step_stats *stats) {
    if (!be->ops->step_clip) CF_FAIL(CF_ERR_UNSUPPORTED, "%s: no gradient clipping on the device", be->ops->name);
    return be->ops->step_clip(be->ctx, g, n, max_norm, stats);
}

cf_status cf_backend_step_seed(const cf_backend *be, float *seeds, double weight0, double weight1,
                               const cf_step_stats *stats) {
    if (!be->ops->step_seed) CF_FAIL(CF_ERR_UNSUPPORTED, "%s: no loss scaling on the device", be->ops->name);
    return be->ops->step_seed(be->ctx, seeds, weight0, weight1, stats);
}

void cf_step_clip_host(cf_step_stats *st, double norm2, double max_norm) { cf_step_rule(st, norm2, max_norm); }

int cf_backend_has_graphs(const cf_backend *be) {
    return be->ops->capture_begin && be->ops->capture_end && be->ops->graph_launch && be->ops->graph_free;
}

cf_status cf_backend_capture_begin(const cf_backend *be) {
    if (!be->ops->capture_begin) CF_FAIL(CF_ERR_UNSUPPORTED, "%s: no graph capture", be->ops->name);
    return be->ops->capture_begin(be->ctx);
}

cf_status cf_backend_capture_end(const cf_backend *be, void **graph) {
    *graph = NULL;
    if (!be->ops->capture_end) CF_FAIL(CF_ERR_UNSUPPORTED, "%s: no graph capture", be->ops->name);
    return be->ops->capture_end(be->ctx, graph);
}

cf_status cf_backend_graph_launch(const cf_backend *be, void *graph) {
    if (!be->ops->graph_launch) CF_FAIL(CF_ERR_UNSUPPORTED, "%s: no graph replay", be->ops->name);
    return be->ops->graph_launch(be->ctx, graph);
}

void cf_backend_graph_free(const cf_backend *be, void *graph) {
    if (graph && be->ops->graph_free) be->ops->graph_free(be->ctx, graph);
}

/* ---- backend memory and the training loops -------------------------------
 * A host backend leaves the memory and loop entries NULL; these wrappers then
 * run the host code below (the loops the trainer and model ran before there
 * were device backends), so model.c and train.c never ask where memory is. */

cf_status cf_backend_create(cf_device device, int threads, int deterministic, cf_backend **out) {
    *out = NULL;
    switch (device.kind) {
    case CF_DEVICE_CPU: return cf_backend_cpu_fast_create(threads, out);
    case CF_DEVICE_CUDA: return cf_backend_cuda_create(device.index, deterministic, out);
    }
    CF_FAIL(CF_ERR_INVALID_ARG, "backend: unknown device kind %d", (int)device.kind);
}

void cf_backend_destroy(cf_backend *be) {
    if (be && be->ops->destroy) be->ops->destroy(be);
}

cf_status cf_backend_alloc(const cf_backend *be, size_t bytes, void **out) {
    *out = NULL;
    if (be->ops->mem_alloc) return be->ops->mem_alloc(be->ctx, bytes ? bytes : 1, out);
    size_t rounded = (bytes + 63) / 64 * 64;
    CF_TRY(cf_mem_check(be->ops->name, rounded));
    void *p = aligned_alloc(64, rounded ? rounded : 64);
    if (!p) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "%s: no memory for %zu bytes", be->ops->name, bytes);
    memset(p, 0, rounded ? rounded : 64);
    *out = p;
    return CF_OK;
}

void cf_backend_free(const cf_backend *be, void *p) {
    if (!p) return;
    if (be->ops->mem_free) be->ops->mem_free(be->ctx, p);
    else free(p);
}

cf_status cf_backend_zero(const cf_backend *be, void *p, size_t bytes, int threads) {
    if (be->ops->mem_zero) return be->ops->mem_zero(be->ctx, p, bytes);
    /* memset split across threads: gradient buffers are megabytes */
    const int T = threads > 1 && bytes >= (1u << 20) ? threads : 1;
    const size_t chunk = (bytes / (size_t)T + 63) / 64 * 64;
#pragma omp parallel for num_threads(T) schedule(static)
    for (int t = 0; t < T; t++) {
        size_t lo = (size_t)t * chunk, hi = lo + chunk < bytes ? lo + chunk : bytes;
        if (lo < hi) memset((char *)p + lo, 0, hi - lo);
    }
    return CF_OK;
}

cf_status cf_backend_copy(const cf_backend *be, void *dst, const void *src, size_t bytes, cf_copy_kind kind) {
    if (be->ops->mem_copy) return be->ops->mem_copy(be->ctx, dst, src, bytes, kind);
    if (dst != src && bytes) memmove(dst, src, bytes);
    return CF_OK;
}

cf_status cf_backend_sync(const cf_backend *be) {
    return be->ops->sync ? be->ops->sync(be->ctx) : CF_OK;
}

cf_status cf_backend_drop_path(const cf_backend *be, void *x, cf_dtype dt, int n, size_t per, double p, uint64_t seed,
                               uint64_t stream, uint64_t index0) {
    if (be->ops->drop_path) return be->ops->drop_path(be->ctx, x, dt, n, per, p, seed, stream, index0);
    const double keep = 1.0 - p;
    for (int b = 0; b < n; b++) {
        uint32_t word = cf_rng_word_at(seed, stream, index0 + (uint64_t)b);
        float scale = (double)(word >> 8) * 0x1.0p-24 >= p ? (float)(1.0 / keep) : 0.0f;
        if (dt == CF_DTYPE_F32) {
            float *v = (float *)x + (size_t)b * per;
            for (size_t j = 0; j < per; j++) v[j] *= scale;
            continue;
        }
        uint16_t *h = (uint16_t *)x + (size_t)b * per; /* f32 product, rounded once */
        for (size_t j = 0; j < per; j++)
            h[j] = dt == CF_DTYPE_BF16 ? cf_bf16_from_f32(cf_bf16_to_f32(h[j]) * scale)
                                       : cf_f16_from_f32(cf_f16_to_f32(h[j]) * scale);
    }
    return CF_OK;
}

cf_status cf_backend_scale(const cf_backend *be, float *x, size_t n, float a, int threads) {
    if (be->ops->scale) return be->ops->scale(be->ctx, x, n, a);
    const int T = threads > 1 ? threads : 1;
#pragma omp parallel for num_threads(T) schedule(static)
    for (size_t i = 0; i < n; i++) x[i] *= a;
    return CF_OK;
}

/* Sum of squares as NORM_CHUNKS partial sums added in a fixed order: the same
 * bits whatever the thread count, so the replicas of a data-parallel run
 * (each with its own threads) clip by the same factor. */
#define NORM_CHUNKS 64
cf_status cf_backend_norm2(const cf_backend *be, const float *g, size_t n, int threads, double *out) {
    if (be->ops->norm2) return be->ops->norm2(be->ctx, g, n, out);
    double part[NORM_CHUNKS];
    const int T = threads > 1 ? threads : 1;
#pragma omp parallel for num_threads(T) schedule(static)
    for (int c = 0; c < NORM_CHUNKS; c++) {
        const size_t lo = n * (size_t)c / NORM_CHUNKS, hi = n * (size_t)(c + 1) / NORM_CHUNKS;
        double sum = 0;
        for (size_t i = lo; i < hi; i++) sum += (double)g[i] * g[i];
        part[c] = sum;
    }
    double norm2 = 0;
    for (int c = 0; c < NORM_CHUNKS; c++) norm2 += part[c];
    *out = norm2;
    return CF_OK;
}

cf_status cf_backend_sgd(const cf_backend *be, const cf_sgd_args *a) {
    if (be->ops->sgd) return be->ops->sgd(be->ctx, a);
    float *w = a->w, *buf = a->buf;
    const float *g = a->g;
    const float mu = a->momentum, wd = a->weight_decay, eta = a->lr, clip = a->clip;
    const size_t n = a->n;
    const int T = a->threads > 1 ? a->threads : 1;
    if (a->nesterov) {
#pragma omp parallel for num_threads(T) schedule(static)
        for (size_t i = 0; i < n; i++) {
            float gi = g[i] * clip + wd * w[i];
            buf[i] = mu * buf[i] + gi;
            w[i] -= eta * (gi + mu * buf[i]);
        }
    } else {
#pragma omp parallel for num_threads(T) schedule(static)
        for (size_t i = 0; i < n; i++) {
            float gi = g[i] * clip + wd * w[i];
            buf[i] = mu * buf[i] + gi;
            w[i] -= eta * buf[i];
        }
    }
    return CF_OK;
}

/* cf_data_batch over slices of the batch on T threads; the same images
 * whatever T, since every draw is keyed by the image's position. */
cf_status cf_backend_batch(const cf_backend *be, const cf_batch_args *a) {
    if (be->ops->batch) return be->ops->batch(be->ctx, a);
    if (a->dtype != CF_DTYPE_F32 && !cf_dtype_is_half(a->dtype))
        CF_FAIL(CF_ERR_INVALID_ARG, "batch: images of %s (f32, bf16 or f16)", cf_dtype_name(a->dtype));
    const int T = a->threads > 1 ? (a->threads < 64 ? a->threads : 64) : 1, n = a->n;
    const size_t image = cf_dataset_image_bytes(a->ds);
    cf_status st[64] = {CF_OK};
#pragma omp parallel for num_threads(T) schedule(static)
    for (int t = 0; t < T; t++) {
        int lo = n * t / T, hi = n * (t + 1) / T;
        if (hi > lo && a->dtype != CF_DTYPE_F32)
            st[t] = cf_half_batch(a, lo, hi);
        else if (hi > lo)
            cf_data_batch(a->ds, a->idx + lo, hi - lo, a->mean, a->std, a->aug, a->seed, a->epoch,
                          a->pos0 + (uint64_t)lo, (float *)a->x + (size_t)lo * image, a->y + lo);
    }
    for (int t = 0; t < T; t++) CF_TRY(st[t]);
    return CF_OK;
}

#ifndef CF_HAVE_CUDA
cf_status cf_backend_cuda_create(int device, int deterministic, cf_backend **out) {
    (void)device;
    (void)deterministic;
    *out = NULL;
    CF_FAIL(CF_ERR_UNSUPPORTED, "this build has no CUDA backend (configure with the CUDA toolkit present)");
}
void cf_backend_cuda_destroy(cf_backend *be) { (void)be; }
int cf_backend_cuda_built(void) { return 0; }
#endif
