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
} cf_backend_ops;

typedef struct cf_backend {
    const cf_backend_ops *ops;
    void *ctx;          /* owned by whoever created the backend */
    cf_device device;
} cf_backend;

/* The CPU reference backend (static; never freed). Accepts f32 and f64. */
const cf_backend *cf_backend_cpu_ref(void);

/* Validate, then run on `be`. */
cf_status cf_op_forward(const cf_backend *be, const cf_op_args *a);
cf_status cf_op_backward(const cf_backend *be, const cf_op_args *a);

#ifdef __cplusplus
}
#endif
#endif
