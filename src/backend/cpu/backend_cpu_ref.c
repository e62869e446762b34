/* backend_cpu_ref.c - the CPU reference backend: one row per op kind. */
#include "../backend_impl.h"
#include "ref.h"

typedef struct ref_op {
    cf_status (*forward)(const cf_op_args *a);
    cf_status (*backward)(const cf_op_args *a);
} ref_op;

static const ref_op ref_ops[CF_OP_COUNT] = {
    [CF_OP_CONV2D]         = {cf_ref_conv2d_forward, cf_ref_conv2d_backward},
    [CF_OP_BATCHNORM]      = {cf_ref_batchnorm_forward, cf_ref_batchnorm_backward},
    [CF_OP_RELU]           = {cf_ref_relu_forward, cf_ref_relu_backward},
    [CF_OP_AVGPOOL2D]      = {cf_ref_avgpool2d_forward, cf_ref_avgpool2d_backward},
    [CF_OP_MAXPOOL2D]      = {cf_ref_maxpool2d_forward, cf_ref_maxpool2d_backward},
    [CF_OP_GLOBAL_AVGPOOL] = {cf_ref_global_avgpool_forward, cf_ref_global_avgpool_backward},
    [CF_OP_LINEAR]         = {cf_ref_linear_forward, cf_ref_linear_backward},
    [CF_OP_SUM]            = {cf_ref_sum_forward, cf_ref_sum_backward},
    [CF_OP_ZERO]           = {cf_ref_zero_forward, cf_ref_zero_backward},
    [CF_OP_IDENTITY]       = {cf_ref_identity_forward, cf_ref_identity_backward},
    [CF_OP_CONCAT]         = {cf_ref_concat_forward, cf_ref_concat_backward},
    [CF_OP_SLICE]          = {cf_ref_slice_forward, cf_ref_slice_backward},
    [CF_OP_SOFTMAX_XENT]   = {cf_ref_softmax_xent_forward, cf_ref_softmax_xent_backward},
    [CF_OP_DROPOUT]        = {cf_ref_dropout_forward, cf_ref_dropout_backward},
    [CF_OP_MIX]            = {cf_ref_mix_forward, cf_ref_mix_backward},
};

static cf_status check_host(const cf_op_args *a) {
    const cf_tensor *x = cf_op_first_input(a); /* input 0 but in a mix */
    if (x->device.kind != CF_DEVICE_CPU)
        CF_FAIL(CF_ERR_INVALID_ARG, "cpu-ref: %s got tensors on a GPU", cf_op_name(a->kind));
    if (x->dtype != CF_DTYPE_F32 && x->dtype != CF_DTYPE_F64)
        CF_FAIL(CF_ERR_UNSUPPORTED, "cpu-ref: %s in %s is not supported (f32 or f64)", cf_op_name(a->kind),
                cf_dtype_name(x->dtype));
    return CF_OK;
}

static cf_status ref_forward(void *ctx, const cf_op_args *a) {
    (void)ctx;
    CF_TRY(check_host(a));
    return ref_ops[a->kind].forward(a);
}

static cf_status ref_backward(void *ctx, const cf_op_args *a) {
    (void)ctx;
    CF_TRY(check_host(a));
    return ref_ops[a->kind].backward(a);
}

static int ref_supports(void *ctx, cf_op_kind kind) {
    (void)ctx;
    return kind >= 0 && kind < CF_OP_COUNT && ref_ops[kind].forward != NULL;
}

static const cf_backend_ops cpu_ref_ops = {
    .name = "cpu-ref",
    .forward = ref_forward,
    .backward = ref_backward,
    .supports = ref_supports,
    .assigns = NULL,
    /* static, so no destroy entry; host memory: every device entry stays
     * NULL and the cf_backend_* wrappers run the host loops */
};

static const cf_backend cpu_ref_backend = {&cpu_ref_ops, NULL, {CF_DEVICE_CPU, 0}};

const cf_backend *cf_backend_cpu_ref(void) { return &cpu_ref_backend; }
