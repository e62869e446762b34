/* cuda_data.c - training batches on the GPU, and the device copies of the
 * datasets they come from.
 *
 * A dataset goes to a device once, as uint8 images and int32 labels, and is
 * shared by every backend instance on that device: a process-wide registry
 * (one mutex) holds one entry per (device, dataset), keyed by the dataset's
 * address, its arrays' addresses and its shape, and counts the instances
 * holding it. Each instance keeps its holds in ctx->data, so a batch after the
 * first finds its entry without the lock; cf_cuda_data_release (at the
 * instance's end) drops them, and the last one out frees the device copy.
 * A dataset must therefore stay alive and unchanged while an instance that
 * used it lives.
 *
 * cf_cuda_batch then builds the batch on the GPU (kernels/batch.cu) exactly
 * as cf_data_batch (src/data/batch.c) builds it on the CPU.
 * tests/test_cuda_ops.c (label gpu) tests it against cf_data_batch.
 */
#include <pthread.h>
#include <stdlib.h>

#include "cellforge/data.h"
#include "cellforge/rng.h"
#include "cuda_ops.h"
#include "kernels/batch.h"

/* One dataset on one device, shared by the instances there. */
typedef struct data_entry {
    /* the key: where the host dataset is and what it holds */
    int device;
    const cf_dataset *ds;
    const uint8_t *host_images;
    const int32_t *host_labels;
    size_t n;
    int c, h, w;
    /* the copy */
    uint8_t *images;            /* (n, c, h, w) device memory, owned */
    int32_t *labels;            /* (n) device memory, owned */
    int refs;                   /* instances holding it; under registry_lock */
    struct data_entry *next;    /* the registry's list; under registry_lock */
} data_entry;

/* One instance's hold on an entry: a node of ctx->data, owned by the instance. */
struct cf_cuda_data {
    data_entry *entry;
    cf_cuda_data *next;
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static data_entry *registry; /* under registry_lock */

/* The key fields never change once an entry exists, so an instance may
 * compare its own entries without the lock. */
static int entry_is(const data_entry *e, int device, const cf_dataset *ds) {
    return e->device == device && e->ds == ds && e->host_images == ds->images && e->host_labels == ds->labels &&
           e->n == ds->n && e->c == ds->c && e->h == ds->h && e->w == ds->w;
}

static void entry_free(data_entry *e) {
    if (!e) return;
    cudaSetDevice(e->device);
    cudaFree(e->images);
    cudaFree(e->labels);
    free(e);
}

/* A new entry with the dataset copied to ctx's device. The copy runs on
 * ctx->stream and is waited for, so the entry is complete before any other
 * instance (another stream) can find it. */
static cf_status entry_upload(cf_cuda_ctx *ctx, const cf_dataset *ds, data_entry **out) {
    *out = NULL;
    const size_t image_bytes = ds->n * cf_dataset_image_bytes(ds), label_bytes = ds->n * sizeof(int32_t);
    data_entry *e = calloc(1, sizeof *e);
    if (!e) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "cuda:%d: no host memory for the entry of dataset %s", ctx->device, ds->name);
    e->device = ctx->device;
    e->ds = ds;
    e->host_images = ds->images;
    e->host_labels = ds->labels;
    e->n = ds->n;
    e->c = ds->c;
    e->h = ds->h;
    e->w = ds->w;
    /* at least one byte each: an empty dataset still gets real pointers */
    cudaError_t err = cudaMalloc((void **)&e->images, image_bytes ? image_bytes : 1);
    if (err == cudaSuccess) err = cudaMalloc((void **)&e->labels, label_bytes ? label_bytes : 1);
    if (err == cudaSuccess && image_bytes)
        err = cudaMemcpyAsync(e->images, ds->images, image_bytes, cudaMemcpyHostToDevice, ctx->stream);
    if (err == cudaSuccess && label_bytes)
        err = cudaMemcpyAsync(e->labels, ds->labels, label_bytes, cudaMemcpyHostToDevice, ctx->stream);
    if (err == cudaSuccess) err = cudaStreamSynchronize(ctx->stream);
    if (err != cudaSuccess) {
        cudaGetLastError();
        entry_free(e);
        return cf_error_set(cf_status_from_cuda(err), __FILE__, __LINE__,
                            "cuda:%d: cannot upload dataset %s (%zu bytes of images, %zu bytes of labels): %s",
                            ctx->device, ds->name, image_bytes, label_bytes, cudaGetErrorString(err));
    }
    *out = e;
    return CF_OK;
}

/* The entry of ds on ctx's device: one this instance holds already, else the
 * registry's (held from now on), else a new upload. */
static cf_status data_acquire(cf_cuda_ctx *ctx, const cf_dataset *ds, const data_entry **out) {
    for (const cf_cuda_data *h = ctx->data; h; h = h->next)
        if (entry_is(h->entry, ctx->device, ds)) {
            *out = h->entry;
            return CF_OK;
        }
    cf_cuda_data *hold = calloc(1, sizeof *hold);
    if (!hold) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "cuda:%d: no host memory to hold dataset %s", ctx->device, ds->name);
    cf_status st = CF_OK;
    pthread_mutex_lock(&registry_lock);
    data_entry *e = registry;
    while (e && !entry_is(e, ctx->device, ds)) e = e->next;
    if (!e) {
        /* under the lock: two instances never upload the same dataset twice */
        st = entry_upload(ctx, ds, &e);
        if (st == CF_OK) {
            e->next = registry;
            registry = e;
        }
    }
    if (st == CF_OK) e->refs++;
    pthread_mutex_unlock(&registry_lock);
    if (st != CF_OK) {
        free(hold);
        return st;
    }
    hold->entry = e;
    hold->next = ctx->data;
    ctx->data = hold;
    *out = e;
    return CF_OK;
}

void cf_cuda_data_release(cf_cuda_ctx *ctx) {
    if (!ctx || !ctx->data) return;
    /* batches still queued on this instance read the copies */
    cudaSetDevice(ctx->device);
    if (ctx->stream) cudaStreamSynchronize(ctx->stream);
    cf_cuda_data *h = ctx->data;
    ctx->data = NULL;
    while (h) {
        cf_cuda_data *next = h->next;
        data_entry *last = NULL;
        pthread_mutex_lock(&registry_lock);
        if (--h->entry->refs == 0) {
            data_entry **link = &registry;
            while (*link && *link != h->entry) link = &(*link)->next;
            if (*link) *link = h->entry->next;
            last = h->entry;
        }
        pthread_mutex_unlock(&registry_lock);
        entry_free(last); /* unlinked: nobody else can reach it */
        free(h);
        h = next;
    }
}

cf_status cf_cuda_batch(cf_cuda_ctx *ctx, const cf_batch_args *a) {
    const cf_dataset *ds = a->ds;
    if (!ds || !a->mean || !a->std) CF_FAIL(CF_ERR_INVALID_ARG, "cuda:%d: batch: no dataset, mean or std", ctx->device);
    if (ds->c < 1 || ds->c > CF_KERNEL_BATCH_MAX_C)
        CF_FAIL(CF_ERR_UNSUPPORTED, "cuda:%d: batch: dataset %s has %d channels, the GPU batch takes 1..%d",
                ctx->device, ds->name, ds->c, CF_KERNEL_BATCH_MAX_C);
    if (a->n <= 0) return CF_OK;
    if (!a->idx || !a->x || !a->y) CF_FAIL(CF_ERR_INVALID_ARG, "cuda:%d: batch: no idx, x or y", ctx->device);
    CF_CUDA_CHECK(cudaSetDevice(ctx->device));
    const data_entry *e = NULL;
    CF_TRY(data_acquire(ctx, ds, &e));
    /* cf_data_batch's constants, the same expressions: (v/255 - mean) / std = v * scale + shift */
    const float *mean = a->mean, *std = a->std;
    float scale[CF_KERNEL_BATCH_MAX_C], shift[CF_KERNEL_BATCH_MAX_C];
    for (int c = 0; c < ds->c; c++) {
        scale[c] = (float)(1.0 / (255.0 * std[c]));
        shift[c] = (float)(-mean[c] / std[c]);
    }
    const cf_kernel_dataset kd = {
        .images = e->images, .labels = e->labels, .n = e->n, .c = e->c, .h = e->h, .w = e->w};
    cf_kernel_augment aug = {0, 0, 0, 0, 0};
    if (a->aug)
        aug = (cf_kernel_augment){.crop_pad = a->aug->crop_pad, .flip = a->aug->flip, .cutout = a->aug->cutout,
                                  .erase_threshold = cf_data_erase_threshold(a->aug->erase),
                                  .erase_stream = cf_data_erase_stream(a->epoch)};
    /* cf_data_batch's augmentation stream of the epoch (see draw() in batch.c) */
    const uint64_t rng_stream = cf_rng_stream(a->epoch | (1ull << 40), CF_RNG_PURPOSE_DATA);
    return cf_kernel_batch(kd, a->idx, a->n, scale, shift, aug, a->seed, rng_stream, a->pos0, a->x, a->dtype, a->y,
                           ctx->stream);
}
