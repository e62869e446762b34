/* backend.c - validated dispatch from an op call to a backend. */
#include "cellforge/backend.h"

#include <string.h>

cf_status cf_op_forward(const cf_backend *be, const cf_op_args *a) {
    if (!be || !be->ops) CF_FAIL(CF_ERR_INVALID_ARG, "op forward: no backend");
    CF_TRY(cf_op_check_forward(a));
    if (!be->ops->supports(be->ctx, a->kind))
        CF_FAIL(CF_ERR_UNSUPPORTED, "%s: backend %s has no %s", be->ops->name, be->ops->name, cf_op_name(a->kind));
    CF_TRY(be->ops->forward(be->ctx, a));
    return CF_OK;
}

cf_status cf_op_backward(const cf_backend *be, const cf_op_args *a) {
    if (!be || !be->ops) CF_FAIL(CF_ERR_INVALID_ARG, "op backward: no backend");
    CF_TRY(cf_op_check_backward(a));
    if (!be->ops->supports(be->ctx, a->kind))
        CF_FAIL(CF_ERR_UNSUPPORTED, "%s: backend %s has no %s", be->ops->name, be->ops->name, cf_op_name(a->kind));
    for (int k = 0; k < a->n_inputs; k++)
        if (a->din_assign[k] && a->din[k] && !(be->ops->assigns && be->ops->assigns(be->ctx, a, k)))
            memset(a->din[k]->data, 0, cf_tensor_bytes(a->din[k]));
    CF_TRY(be->ops->backward(be->ctx, a));
    return CF_OK;
}
