/* ref.h - private to the CPU reference backend: element access and the op
 * functions the dispatch table in backend_cpu_ref.c points at.
 *
 * The reference ops are the specification of every op: plain loops over
 * logical (n, c, h, w) indices, any strides, f32 or f64 storage, accumulation
 * in double. They are meant to be read, not to be fast.
 */
#ifndef CF_BACKEND_CPU_REF_H
#define CF_BACKEND_CPU_REF_H

#include "cellforge/ops.h"
#include "cellforge/tensor.h"

static inline double ref_get(const cf_tensor *t, int64_t off) {
    return t->dtype == CF_DTYPE_F64 ? ((const double *)t->data)[off] : (double)((const float *)t->data)[off];
}

static inline void ref_set(cf_tensor *t, int64_t off, double v) {
    if (t->dtype == CF_DTYPE_F64) ((double *)t->data)[off] = v;
    else ((float *)t->data)[off] = (float)v;
}

static inline void ref_add(cf_tensor *t, int64_t off, double v) {
    if (t->dtype == CF_DTYPE_F64) ((double *)t->data)[off] += v;
    else ((float *)t->data)[off] += (float)v;
}

#define AT(t, n, c, h, w) cf_tensor_offset((t), (n), (c), (h), (w))
/* Element k of a per-channel vector stored as (K, 1, 1, 1). */
#define VEC(t, k) ((k) * (t)->stride[0])

cf_status cf_ref_conv2d_forward(const cf_op_args *a);
cf_status cf_ref_conv2d_backward(const cf_op_args *a);
cf_status cf_ref_batchnorm_forward(const cf_op_args *a);
cf_status cf_ref_batchnorm_backward(const cf_op_args *a);
cf_status cf_ref_avgpool2d_forward(const cf_op_args *a);
cf_status cf_ref_avgpool2d_backward(const cf_op_args *a);
cf_status cf_ref_maxpool2d_forward(const cf_op_args *a);
cf_status cf_ref_maxpool2d_backward(const cf_op_args *a);
cf_status cf_ref_global_avgpool_forward(const cf_op_args *a);
cf_status cf_ref_global_avgpool_backward(const cf_op_args *a);
cf_status cf_ref_linear_forward(const cf_op_args *a);
cf_status cf_ref_linear_backward(const cf_op_args *a);
cf_status cf_ref_relu_forward(const cf_op_args *a);
cf_status cf_ref_relu_backward(const cf_op_args *a);
cf_status cf_ref_sum_forward(const cf_op_args *a);
cf_status cf_ref_sum_backward(const cf_op_args *a);
cf_status cf_ref_mix_forward(const cf_op_args *a);
cf_status cf_ref_mix_backward(const cf_op_args *a);
cf_status cf_ref_zero_forward(const cf_op_args *a);
cf_status cf_ref_zero_backward(const cf_op_args *a);
cf_status cf_ref_identity_forward(const cf_op_args *a);
cf_status cf_ref_identity_backward(const cf_op_args *a);
cf_status cf_ref_concat_forward(const cf_op_args *a);
cf_status cf_ref_concat_backward(const cf_op_args *a);
cf_status cf_ref_slice_forward(const cf_op_args *a);
cf_status cf_ref_slice_backward(const cf_op_args *a);
cf_status cf_ref_softmax_xent_forward(const cf_op_args *a);
cf_status cf_ref_softmax_xent_backward(const cf_op_args *a);
cf_status cf_ref_dropout_forward(const cf_op_args *a);
cf_status cf_ref_dropout_backward(const cf_op_args *a);

#endif
