/* half.c - 16-bit (bf16, f16) calls on backends without 16-bit kernels, and
 * the host loops of the mixed-precision entries (cf_backend_narrow,
 * cf_backend_widen_add).
 *
 * ops.h's 16-bit rule is "compute in f32 from the 16-bit values, round what
 * is written once". A host backend has no 16-bit kernels, so the dispatcher
 * (backend.c) runs its f32 op on widened copies of every 16-bit tensor of the
 * call and rounds the results back: exactly the rule, whatever the f32 op's
 * own order of summation. That makes the CPU reference the specification of
 * mixed precision too, which the GPU's 16-bit kernels are tested against
 * (tests/test_half.c, tests/test_cuda_ops.c).
 *
 * The copies live in a scratch area of the calling thread that grows to the
 * largest call and is then reused (freed when the thread ends), so a
 * steady-state step does not allocate. A tensor passed twice (the same data
 * and shape in two slots) is widened once, so its gradient adds up in one
 * place.
 */
#include "backend_impl.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cellforge/data.h"

/* ---- the calling thread's scratch ------------------------------------------ */

typedef struct scratch {
    float *p;
    size_t cap; /* floats */
} scratch;

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *v) {
    scratch *s = v;
    if (s) free(s->p);
    free(s);
}

static void scratch_init(void) { (void)pthread_key_create(&scratch_key, scratch_free); }

/* At least n floats of this thread's scratch (its old contents are lost). */
static cf_status scratch_get(size_t n, float **out) {
    pthread_once(&scratch_once, scratch_init);
    scratch *s = pthread_getspecific(scratch_key);
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s || pthread_setspecific(scratch_key, s) != 0) {
            free(s);
            CF_FAIL(CF_ERR_OUT_OF_MEMORY, "16-bit call: no memory for a scratch area");
        }
    }
    if (s->cap < n) {
        float *p = aligned_alloc(64, (n * sizeof *p + 63) / 64 * 64);
        if (!p) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "16-bit call: no memory for %zu widened values", n);
        free(s->p);
        s->p = p;
        s->cap = n;
    }
    *out = s->p;
    return CF_OK;
}

/* ---- one call on widened copies ---------------------------------------------- */

#define SLOTS (2 * CF_OP_MAX_INPUTS + 2 * CF_OP_MAX_WEIGHTS + 2)

/* The f32 twins of a call's 16-bit tensors, one per distinct data pointer. */
typedef struct twins {
    int n;
    const cf_tensor *src[SLOTS]; /* the 16-bit tensor */
    cf_tensor wide[SLOTS];       /* its f32 twin */
    int written[SLOTS];          /* the op writes it: rounded back afterwards */
    size_t at[SLOTS];            /* offset of its values in the scratch (floats) */
    size_t floats;
} twins;

/* The twin of t (a new one unless t's data was seen); *out its f32 view, or
 * t itself when t is not 16-bit. */
static cf_status twin_of(twins *tw, const cf_tensor *t, int written, const cf_tensor **out) {
    *out = t;
    if (!t || !cf_dtype_is_half(t->dtype)) return CF_OK;
    /* the same data in the same shape is one tensor (an input passed twice); the
     * same data in another shape is memory the plan handed on from a tensor the
     * op does not touch (a backward's dead output): a twin of its own */
    for (int i = 0; i < tw->n; i++)
        if (tw->src[i]->data == t->data && cf_tensor_same_shape(tw->src[i], t)) {
            tw->written[i] |= written;
            *out = &tw->wide[i];
            return CF_OK;
        }
    if (!cf_tensor_is_contiguous(t)) {
        char d[64];
        CF_FAIL(CF_ERR_UNSUPPORTED, "16-bit call: tensor %s is a strided view (contiguous only)",
                cf_tensor_describe(t, d, sizeof d));
    }
    CF_ASSERT(tw->n < SLOTS);
    const int i = tw->n++;
    tw->src[i] = t;
    tw->written[i] = written;
    tw->at[i] = tw->floats;
    tw->floats += ((size_t)cf_tensor_numel(t) + 15) / 16 * 16;
    CF_TRY(cf_tensor_init_shape(&tw->wide[i], CF_DTYPE_F32, t->shape, t->device, NULL));
    *out = &tw->wide[i];
    return CF_OK;
}

/* A 16-bit call on a backend without 16-bit kernels: the f32 op on widened
 * copies, its results rounded back. */
cf_status cf_half_emulate(const cf_backend *be, const cf_op_args *a, int backward) {
    if (be->ops->mem_alloc)
        CF_FAIL(CF_ERR_UNSUPPORTED, "%s: %s in %s is not supported on this device", be->ops->name,
                cf_op_call_name(a), cf_dtype_name(cf_op_first_input(a)->dtype));
    twins tw;
    memset(&tw, 0, sizeof tw);
    cf_op_args w = *a;
    memset(w.din_assign, 0, sizeof w.din_assign); /* din was zeroed where it had to be */
    for (int k = 0; k < a->n_inputs; k++) {
        CF_TRY(twin_of(&tw, a->in[k], 0, &w.in[k]));
        if (backward) CF_TRY(twin_of(&tw, a->din[k], 1, (const cf_tensor **)&w.din[k]));
    }
    for (int k = 0; k < CF_OP_MAX_WEIGHTS; k++) {
        CF_TRY(twin_of(&tw, a->w[k], 0, &w.w[k]));
        if (backward) CF_TRY(twin_of(&tw, a->dw[k], 1, (const cf_tensor **)&w.dw[k]));
    }
    CF_TRY(twin_of(&tw, a->out, !backward, (const cf_tensor **)&w.out));
    if (backward) CF_TRY(twin_of(&tw, a->dout, 0, &w.dout));
    float *base;
    CF_TRY(scratch_get(tw.floats ? tw.floats : 1, &base));
    for (int i = 0; i < tw.n; i++) {
        tw.wide[i].data = base + tw.at[i];
        /* an added gradient and a read output need their values; forward's output does not */
        if (!(tw.src[i] == a->out && !backward))
            cf_half_to_f32(tw.src[i]->dtype, tw.wide[i].data, tw.src[i]->data, (size_t)cf_tensor_numel(tw.src[i]));
    }
    CF_TRY(backward ? be->ops->backward(be->ctx, &w) : be->ops->forward(be->ctx, &w));
    for (int i = 0; i < tw.n; i++)
        if (tw.written[i])
            cf_half_from_f32(tw.src[i]->dtype, tw.src[i]->data, tw.wide[i].data, (size_t)cf_tensor_numel(tw.src[i]));
    return CF_OK;
}

/* ---- the host loops of the mixed-precision entries --------------------------- */

cf_status cf_backend_narrow(const cf_backend *be, void *dst, cf_dtype dt, const float *src, size_t n) {
    if (!cf_dtype_is_half(dt)) CF_FAIL(CF_ERR_INVALID_ARG, "narrow: %s is not a 16-bit dtype", cf_dtype_name(dt));
    if (be->ops->narrow) return be->ops->narrow(be->ctx, dst, dt, src, n);
    cf_half_from_f32(dt, dst, src, n);
    return CF_OK;
}

cf_status cf_backend_widen_add(const cf_backend *be, float *dst, const void *src, cf_dtype dt, size_t n) {
    if (!cf_dtype_is_half(dt)) CF_FAIL(CF_ERR_INVALID_ARG, "widen: %s is not a 16-bit dtype", cf_dtype_name(dt));
    if (be->ops->widen_add) return be->ops->widen_add(be->ctx, dst, src, dt, n);
    const uint16_t *h = src;
    if (dt == CF_DTYPE_BF16)
        for (size_t i = 0; i < n; i++) dst[i] += cf_bf16_to_f32(h[i]);
    else
        for (size_t i = 0; i < n; i++) dst[i] += cf_f16_to_f32(h[i]);
    return CF_OK;
}

/* cf_data_batch into 16-bit images: each image assembled in f32, then rounded. */
cf_status cf_half_batch(const cf_batch_args *a, int lo, int hi) {
    const size_t image = cf_dataset_image_bytes(a->ds); /* one byte per value */
    float *f;
    CF_TRY(scratch_get(image, &f));
    for (int k = lo; k < hi; k++) {
        cf_data_batch(a->ds, a->idx + k, 1, a->mean, a->std, a->aug, a->seed, a->epoch, a->pos0 + (uint64_t)k, f,
                      a->y + k);
        cf_half_from_f32(a->dtype, (uint16_t *)a->x + (size_t)k * image, f, image);
    }
    return CF_OK;
}
