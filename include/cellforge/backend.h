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

#include "cellforge/ops.h"
#include "cellforge/status.h"
#include "cellforge/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

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

/* Validate, then run on `be`. */
cf_status cf_op_forward(const cf_backend *be, const cf_op_args *a);
cf_status cf_op_backward(const cf_backend *be, const cf_op_args *a);

#ifdef __cplusplus
}
#endif
#endif
