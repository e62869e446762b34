/* ops.c - the op registry and the validation every backend relies on.
 * Each kind's entry holds its shape rule beside its name and arity, so
 * cf_op_infer_shape runs the checks every op shares and then the kind's rule.
 *
 * Backends receive only calls that passed cf_op_check_forward/backward, so a
 * malformed shape, a wrong arity or a missing tensor is reported here once,
 * with the op's name, and never reaches a kernel. Tests: tests/test_ops_validate.c
 */
#include "cellforge/ops.h"

#include <stdio.h>
#include <string.h>

#include "cellforge/text.h"

int64_t cf_conv_out_size(int64_t in, int k, int stride, int pad, int dil) {
    int64_t span = (int64_t)dil * (k - 1) + 1;
    int64_t room = in + 2 * (int64_t)pad - span;
    if (room < 0 || stride < 1) return 0;
    return room / stride + 1;
}

#define SHAPE_FMT "(%lld, %lld, %lld, %lld)"
#define SHAPE_ARGS(t) (long long)(t)->shape[0], (long long)(t)->shape[1], (long long)(t)->shape[2], (long long)(t)->shape[3]

static int is_float(cf_dtype d) { return d == CF_DTYPE_F32 || d == CF_DTYPE_F64 || cf_dtype_is_half(d); }

cf_dtype cf_op_param_dtype(cf_dtype data) { return cf_dtype_is_half(data) ? CF_DTYPE_F32 : data; }

/* The output's dtype: the loss of a 16-bit call is f32, everything else the data's. */
static cf_dtype out_dtype(const cf_op_args *a, cf_dtype data) {
    return a->kind == CF_OP_SOFTMAX_XENT ? cf_op_param_dtype(data) : data;
}

/* A per-channel vector (C) stored as (C, 1, 1, 1). */
static cf_status check_vector(const char *op, const char *what, const cf_tensor *t, int64_t len,
                              cf_dtype dtype) {
    if (!t) CF_FAIL(CF_ERR_INVALID_ARG, "%s: %s is missing", op, what);
    if (t->shape[0] != len || t->shape[1] != 1 || t->shape[2] != 1 || t->shape[3] != 1)
        CF_FAIL(CF_ERR_SHAPE, "%s: %s has shape " SHAPE_FMT ", expected (%lld, 1, 1, 1)", op, what,
                SHAPE_ARGS(t), (long long)len);
    if (t->dtype != dtype)
        CF_FAIL(CF_ERR_INVALID_ARG, "%s: %s is %s, expected %s", op, what, cf_dtype_name(t->dtype),
                cf_dtype_name(dtype));
    return CF_OK;
}

static cf_status check_window(const char *op, int kh, int kw, int sh, int sw, int ph, int pw, int dh,
                              int dw) {
    if (kh < 1 || kw < 1) CF_FAIL(CF_ERR_INVALID_ARG, "%s: kernel %dx%d, expected >= 1", op, kh, kw);
    if (sh < 1 || sw < 1) CF_FAIL(CF_ERR_INVALID_ARG, "%s: stride %dx%d, expected >= 1", op, sh, sw);
    if (ph < 0 || pw < 0) CF_FAIL(CF_ERR_INVALID_ARG, "%s: padding %dx%d, expected >= 0", op, ph, pw);
    if (dh < 1 || dw < 1) CF_FAIL(CF_ERR_INVALID_ARG, "%s: dilation %dx%d, expected >= 1", op, dh, dw);
    return CF_OK;
}

/* ---- shape rules, one per op kind (the registry's infer_shape) ------------------- */

/* relu, identity: the output is shaped like input 0 */
static cf_status shape_same(const cf_op_args *a, int64_t out[CF_TENSOR_DIMS]) {
    (void)a;
    (void)out;
    return CF_OK;
}

static cf_status shape_conv2d(const cf_op_args *a, int64_t out[CF_TENSOR_DIMS]) {
    const char *op = cf_op_call_name(a);
    const cf_tensor *x = a->in[0];
    const int64_t C = x->shape[1], H = x->shape[2], W = x->shape[3];
    const cf_conv2d_params *p = &a->params.conv;
    const cf_tensor *wt = a->w[0];
    if (!wt) CF_FAIL(CF_ERR_INVALID_ARG, "conv2d: weight is missing");
    if (wt->dtype != x->dtype)
        CF_FAIL(CF_ERR_INVALID_ARG, "conv2d: weight is %s but input is %s", cf_dtype_name(wt->dtype),
                cf_dtype_name(x->dtype));
    CF_TRY(check_window(op, (int)wt->shape[2], (int)wt->shape[3], p->stride_h, p->stride_w, p->pad_h,
                        p->pad_w, p->dil_h, p->dil_w));
    if (p->groups < 1) CF_FAIL(CF_ERR_INVALID_ARG, "conv2d: groups is %d, expected >= 1", p->groups);
    const int64_t OC = wt->shape[0];
    if (C % p->groups || OC % p->groups)
        CF_FAIL(CF_ERR_SHAPE, "conv2d: %lld input and %lld output channels are not divisible by %d groups",
                (long long)C, (long long)OC, p->groups);
    if (wt->shape[1] != C / p->groups)
        CF_FAIL(CF_ERR_SHAPE, "conv2d: weight " SHAPE_FMT " expects %lld input channels per group, "
                "input " SHAPE_FMT " with %d groups has %lld", SHAPE_ARGS(wt),
                (long long)wt->shape[1], SHAPE_ARGS(x), p->groups, (long long)(C / p->groups));
    if (a->w[1]) CF_TRY(check_vector(op, "bias", a->w[1], OC, x->dtype));
    int64_t OH = cf_conv_out_size(H, (int)wt->shape[2], p->stride_h, p->pad_h, p->dil_h);
    int64_t OW = cf_conv_out_size(W, (int)wt->shape[3], p->stride_w, p->pad_w, p->dil_w);
    if (OH < 1 || OW < 1)
        CF_FAIL(CF_ERR_SHAPE, "conv2d: a %lldx%lld kernel (dilation %dx%d) does not fit input " SHAPE_FMT
                " with padding %dx%d", (long long)wt->shape[2], (long long)wt->shape[3], p->dil_h,
                p->dil_w, SHAPE_ARGS(x), p->pad_h, p->pad_w);
    out[1] = OC;
    out[2] = OH;
    out[3] = OW;
    return CF_OK;
}

static cf_status shape_batchnorm(const cf_op_args *a, int64_t out[CF_TENSOR_DIMS]) {
    (void)out;
    const char *op = cf_op_call_name(a);
    const cf_tensor *x = a->in[0];
    const int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
    const cf_batchnorm_params *p = &a->params.bn;
    if (!(p->eps > 0)) CF_FAIL(CF_ERR_INVALID_ARG, "%s: eps is %g, expected > 0", op, p->eps);
    if (p->relu != 0 && p->relu != 1)
        CF_FAIL(CF_ERR_INVALID_ARG, "%s: relu is %d, expected 0 or 1", op, p->relu);
    if (p->momentum < 0 || p->momentum > 1)
        CF_FAIL(CF_ERR_INVALID_ARG, "%s: momentum is %g, expected in [0, 1]", op, p->momentum);
    if ((a->w[0] == NULL) != (a->w[1] == NULL))
        CF_FAIL(CF_ERR_INVALID_ARG, "%s: gamma and beta must both be given (affine) or both be NULL", op);
    const cf_dtype pd = cf_op_param_dtype(x->dtype);
    if (a->w[0]) {
        CF_TRY(check_vector(op, "gamma", a->w[0], C, pd));
        CF_TRY(check_vector(op, "beta", a->w[1], C, pd));
    }
    CF_TRY(check_vector(op, "running_mean", a->state[0], C, pd));
    CF_TRY(check_vector(op, "running_var", a->state[1], C, pd));
    if (p->training) {
        CF_TRY(check_vector(op, "save_mean", a->state[2], C, pd));
        CF_TRY(check_vector(op, "save_invstd", a->state[3], C, pd));
        if (N * H * W < 2)
            CF_FAIL(CF_ERR_SHAPE, "%s: training needs more than one value per channel, input is " SHAPE_FMT,
                    op, SHAPE_ARGS(x));
    }
    return CF_OK;
}

static cf_status shape_dropout(const cf_op_args *a, int64_t out[CF_TENSOR_DIMS]) {
    (void)out;
    if (!(a->params.dropout.p >= 0 && a->params.dropout.p < 1))
        CF_FAIL(CF_ERR_INVALID_ARG, "dropout: p is %g, expected in [0, 1)", a->params.dropout.p);
    return CF_OK;
}

/* avgpool2d, maxpool2d */
static cf_status shape_pool2d(const cf_op_args *a, int64_t out[CF_TENSOR_DIMS]) {
    const char *op = cf_op_call_name(a);
    const cf_tensor *x = a->in[0];
    const cf_pool2d_params *p = &a->params.pool;
    CF_TRY(check_window(op, p->kernel_h, p->kernel_w, p->stride_h, p->stride_w, p->pad_h, p->pad_w, 1, 1));
    if (2 * p->pad_h > p->kernel_h || 2 * p->pad_w > p->kernel_w)
        CF_FAIL(CF_ERR_INVALID_ARG, "%s: padding %dx%d is more than half the %dx%d kernel", op, p->pad_h,
                p->pad_w, p->kernel_h, p->kernel_w);
    int64_t OH = cf_conv_out_size(x->shape[2], p->kernel_h, p->stride_h, p->pad_h, 1);
    int64_t OW = cf_conv_out_size(x->shape[3], p->kernel_w, p->stride_w, p->pad_w, 1);
    if (OH < 1 || OW < 1)
        CF_FAIL(CF_ERR_SHAPE, "%s: a %dx%d window does not fit input " SHAPE_FMT, op, p->kernel_h,
                p->kernel_w, SHAPE_ARGS(x));
    out[2] = OH;
    out[3] = OW;
    return CF_OK;
}

static cf_status shape_global_avgpool(const cf_op_args *a, int64_t out[CF_TENSOR_DIMS]) {
    (void)a;
    out[2] = 1;
    out[3] = 1;
    return CF_OK;
}

static cf_status shape_linear(const cf_op_args *a, int64_t out[CF_TENSOR_DIMS]) {
    const char *op = cf_op_call_name(a);
    const cf_tensor *x = a->in[0];
    const cf_tensor *wt = a->w[0];
    if (!wt) CF_FAIL(CF_ERR_INVALID_ARG, "linear: weight is missing");
    if (wt->dtype != x->dtype)
        CF_FAIL(CF_ERR_INVALID_ARG, "linear: weight is %s but input is %s", cf_dtype_name(wt->dtype),
                cf_dtype_name(x->dtype));
    const int64_t IN = x->shape[1] * x->shape[2] * x->shape[3];
    if (wt->shape[1] != IN || wt->shape[2] != 1 || wt->shape[3] != 1)
        CF_FAIL(CF_ERR_SHAPE, "linear: weight " SHAPE_FMT " does not take input " SHAPE_FMT
                " (%lld features); expected (OUT, %lld, 1, 1)", SHAPE_ARGS(wt), SHAPE_ARGS(x),
                (long long)IN, (long long)IN);
    if (a->w[1]) CF_TRY(check_vector(op, "bias", a->w[1], wt->shape[0], x->dtype));
    out[1] = wt->shape[0];
    out[2] = 1;
    out[3] = 1;
    return CF_OK;
}

static cf_status shape_sum(const cf_op_args *a, int64_t out[CF_TENSOR_DIMS]) {
    (void)out;
    const cf_tensor *x = a->in[0];
    for (int i = 1; i < a->n_inputs; i++) {
        const cf_tensor *t = a->in[i];
        if (!cf_tensor_same_shape(t, x) || t->dtype != x->dtype)
            CF_FAIL(CF_ERR_SHAPE, "sum: input %d is " SHAPE_FMT " %s, input 0 is " SHAPE_FMT " %s", i,
                    SHAPE_ARGS(t), cf_dtype_name(t->dtype), SHAPE_ARGS(x), cf_dtype_name(x->dtype));
    }
    return CF_OK;
}

static cf_status shape_zero(const cf_op_args *a, int64_t out[CF_TENSOR_DIMS]) {
    const int64_t H = a->in[0]->shape[2], W = a->in[0]->shape[3];
    int s = a->params.zero.stride;
    if (s < 1) CF_FAIL(CF_ERR_INVALID_ARG, "zero: stride is %d, expected >= 1", s);
    out[2] = (H + s - 1) / s;
    out[3] = (W + s - 1) / s;
    return CF_OK;
}

static cf_status shape_concat(const cf_op_args *a, int64_t out[CF_TENSOR_DIMS]) {
    const cf_tensor *x = a->in[0];
    const int64_t N = x->shape[0], H = x->shape[2], W = x->shape[3];
    int64_t total = 0;
    for (int i = 0; i < a->n_inputs; i++) {
        const cf_tensor *t = a->in[i];
        if (t->shape[0] != N || t->shape[2] != H || t->shape[3] != W || t->dtype != x->dtype)
            CF_FAIL(CF_ERR_SHAPE, "concat: input %d is " SHAPE_FMT " %s; every input needs N, H, W of input 0 "
                    SHAPE_FMT " and dtype %s", i, SHAPE_ARGS(t), cf_dtype_name(t->dtype), SHAPE_ARGS(x),
                    cf_dtype_name(x->dtype));
        total += t->shape[1];
    }
    out[1] = total;
    return CF_OK;
}

static cf_status shape_slice(const cf_op_args *a, int64_t out[CF_TENSOR_DIMS]) {
    const cf_tensor *x = a->in[0];
    const int64_t C = x->shape[1], H = x->shape[2], W = x->shape[3];
    const cf_slice_params *p = &a->params.slice;
    if (p->c0 < 0 || p->top < 0 || p->left < 0 || p->c < 1 || p->h < 1 || p->w < 1 ||
        p->c0 + p->c > C || p->top + p->h > H || p->left + p->w > W)
        CF_FAIL(CF_ERR_SHAPE, "slice: channels [%d, %d), rows [%d, %d), columns [%d, %d) do not "
                "lie inside input " SHAPE_FMT, p->c0, p->c0 + p->c, p->top, p->top + p->h,
                p->left, p->left + p->w, SHAPE_ARGS(x));
    out[1] = p->c;
    out[2] = p->h;
    out[3] = p->w;
    return CF_OK;
}

/* Every present input shaped and typed like the first present one; one
 * coefficient per input slot, present or not. */
static cf_status shape_mix(const cf_op_args *a, int64_t out[CF_TENSOR_DIMS]) {
    (void)out;
    const cf_tensor *x = cf_op_first_input(a);
    int first = 0;
    while (a->in[first] != x) first++;
    for (int i = first + 1; i < a->n_inputs; i++) {
        const cf_tensor *t = a->in[i];
        if (!t) continue;
        if (!cf_tensor_same_shape(t, x))
            CF_FAIL(CF_ERR_SHAPE, "mix: input %d is " SHAPE_FMT ", input %d is " SHAPE_FMT "; every computed "
                    "branch has one shape", i, SHAPE_ARGS(t), first, SHAPE_ARGS(x));
        if (t->dtype != x->dtype)
            CF_FAIL(CF_ERR_INVALID_ARG, "mix: input %d is %s, input %d is %s", i, cf_dtype_name(t->dtype), first,
                    cf_dtype_name(x->dtype));
    }
    return check_vector("mix", "coef (one per input)", a->w[0], a->n_inputs, cf_op_param_dtype(x->dtype));
}

static cf_status shape_softmax_xent(const cf_op_args *a, int64_t out[CF_TENSOR_DIMS]) {
    const cf_tensor *x = a->in[0], *labels = a->in[1];
    const int64_t N = x->shape[0], H = x->shape[2], W = x->shape[3];
    double e = a->params.xent.label_smoothing;
    if (!(e >= 0 && e < 1))
        CF_FAIL(CF_ERR_INVALID_ARG, "softmax_xent: label_smoothing is %g, expected in [0, 1)", e);
    if (H != 1 || W != 1)
        CF_FAIL(CF_ERR_SHAPE, "softmax_xent: logits are " SHAPE_FMT ", expected (N, K, 1, 1)", SHAPE_ARGS(x));
    if (labels->dtype != CF_DTYPE_I32)
        CF_FAIL(CF_ERR_INVALID_ARG, "softmax_xent: labels are %s, expected i32", cf_dtype_name(labels->dtype));
    if (labels->shape[0] != N || labels->shape[1] != 1 || labels->shape[2] != 1 || labels->shape[3] != 1)
        CF_FAIL(CF_ERR_SHAPE, "softmax_xent: labels are " SHAPE_FMT ", expected (%lld, 1, 1, 1)",
                SHAPE_ARGS(labels), (long long)N);
    out[0] = out[1] = out[2] = out[3] = 1;
    return CF_OK;
}

/* ---- the registry ------------------------------------------------------------------ */

/* name, min inputs, max inputs, weight slots, state slots, shape rule, inputs may be NULL */
static const cf_op_info op_table[CF_OP_COUNT] = {
    [CF_OP_CONV2D]         = {"conv2d", 1, 1, 2, 0, shape_conv2d},
    [CF_OP_BATCHNORM]      = {"batchnorm", 1, 1, 2, 4, shape_batchnorm},
    [CF_OP_RELU]           = {"relu", 1, 1, 0, 0, shape_same},
    [CF_OP_AVGPOOL2D]      = {"avgpool2d", 1, 1, 0, 0, shape_pool2d},
    [CF_OP_MAXPOOL2D]      = {"maxpool2d", 1, 1, 0, 0, shape_pool2d},
    [CF_OP_GLOBAL_AVGPOOL] = {"global_avgpool", 1, 1, 0, 0, shape_global_avgpool},
    [CF_OP_LINEAR]         = {"linear", 1, 1, 2, 0, shape_linear},
    [CF_OP_SUM]            = {"sum", 1, CF_OP_MAX_INPUTS, 0, 0, shape_sum},
    [CF_OP_ZERO]           = {"zero", 1, 1, 0, 0, shape_zero},
    [CF_OP_IDENTITY]       = {"identity", 1, 1, 0, 0, shape_same},
    [CF_OP_CONCAT]         = {"concat", 1, CF_OP_MAX_INPUTS, 0, 0, shape_concat},
    [CF_OP_SOFTMAX_XENT]   = {"softmax_xent", 2, 2, 0, 0, shape_softmax_xent},
    [CF_OP_DROPOUT]        = {"dropout", 1, 1, 0, 0, shape_dropout},
    [CF_OP_SLICE]          = {"slice", 1, 1, 0, 0, shape_slice},
    [CF_OP_MIX]            = {"mix", 1, CF_OP_MAX_INPUTS, 1, 0, shape_mix, 1},
};

const cf_op_info *cf_op_get_info(cf_op_kind kind) {
    if ((int)kind < 0 || kind >= CF_OP_COUNT) return NULL;
    return &op_table[kind];
}

const char *cf_op_name(cf_op_kind kind) {
    const cf_op_info *info = cf_op_get_info(kind);
    return info ? info->name : "?";
}

const char *cf_op_call_name(const cf_op_args *a) {
    if (a->kind == CF_OP_BATCHNORM && a->params.bn.relu) return "batchnorm+relu";
    return cf_op_name(a->kind);
}

cf_status cf_op_lookup(const char *name, cf_op_kind *out) {
    const char *names[CF_OP_COUNT];
    for (int k = 0; k < CF_OP_COUNT; k++) {
        names[k] = op_table[k].name;
        if (name && strcmp(name, op_table[k].name) == 0) {
            *out = (cf_op_kind)k;
            return CF_OK;
        }
    }
    if (!name) CF_FAIL(CF_ERR_UNKNOWN_NAME, "op name is missing");
    const char *near = cf_text_closest(name, names, CF_OP_COUNT);
    if (near) CF_FAIL(CF_ERR_UNKNOWN_NAME, "unknown op '%s'; did you mean '%s'?", name, near);
    CF_FAIL(CF_ERR_UNKNOWN_NAME, "unknown op '%s' (known: conv2d, batchnorm, relu, avgpool2d, maxpool2d, "
            "global_avgpool, linear, sum, zero, identity, concat, softmax_xent, dropout, slice, mix)", name);
}

const cf_tensor *cf_op_first_input(const cf_op_args *a) {
    for (int i = 0; i < a->n_inputs && i < CF_OP_MAX_INPUTS; i++)
        if (a->in[i]) return a->in[i];
    return NULL;
}

/* The checks every op shares (arity, inputs present, a float first input),
 * then the kind's own shape rule from the registry. */
cf_status cf_op_infer_shape(const cf_op_args *a, int64_t out[CF_TENSOR_DIMS]) {
    if (!a) CF_FAIL(CF_ERR_INVALID_ARG, "op call is NULL");
    const cf_op_info *info = cf_op_get_info(a->kind);
    if (!info) CF_FAIL(CF_ERR_UNKNOWN_NAME, "unknown op kind %d", (int)a->kind);
    const char *op = cf_op_call_name(a);
    if (a->n_inputs < info->min_inputs || a->n_inputs > info->max_inputs) {
        if (info->min_inputs == info->max_inputs)
            CF_FAIL(CF_ERR_ARITY, "%s: takes %d input%s, got %d", op, info->min_inputs,
                    info->min_inputs == 1 ? "" : "s", a->n_inputs);
        CF_FAIL(CF_ERR_ARITY, "%s: takes %d to %d inputs, got %d", op, info->min_inputs,
                info->max_inputs, a->n_inputs);
    }
    for (int i = 0; i < a->n_inputs; i++)
        if (!a->in[i] && !info->optional_inputs) CF_FAIL(CF_ERR_INVALID_ARG, "%s: input %d is missing", op, i);

    const cf_tensor *x = cf_op_first_input(a);
    if (!x)
        CF_FAIL(CF_ERR_INVALID_ARG, "%s: all %d inputs are NULL; at least one branch must be computed", op,
                a->n_inputs);
    int first = 0;
    while (a->in[first] != x) first++;
    if (!is_float(x->dtype))
        CF_FAIL(CF_ERR_INVALID_ARG, "%s: input %d is %s, expected f32, f64, bf16 or f16", op, first,
                cf_dtype_name(x->dtype));
    for (int i = 0; i < CF_TENSOR_DIMS; i++) out[i] = x->shape[i];
    return info->infer_shape(a, out);
}

static cf_status check_same(const char *op, const char *what, const cf_tensor *t,
                            const int64_t shape[CF_TENSOR_DIMS], cf_dtype dtype, cf_device dev) {
    if (t->shape[0] != shape[0] || t->shape[1] != shape[1] || t->shape[2] != shape[2] || t->shape[3] != shape[3])
        CF_FAIL(CF_ERR_SHAPE, "%s: %s has shape " SHAPE_FMT ", expected (%lld, %lld, %lld, %lld)", op, what,
                SHAPE_ARGS(t), (long long)shape[0], (long long)shape[1], (long long)shape[2], (long long)shape[3]);
    if (t->dtype != dtype)
        CF_FAIL(CF_ERR_INVALID_ARG, "%s: %s is %s, expected %s", op, what, cf_dtype_name(t->dtype), cf_dtype_name(dtype));
    if (t->device.kind != dev.kind || t->device.index != dev.index)
        CF_FAIL(CF_ERR_INVALID_ARG, "%s: %s lives on another device than input 0", op, what);
    if (!t->data) CF_FAIL(CF_ERR_INVALID_ARG, "%s: %s has no data", op, what);
    return CF_OK;
}

cf_status cf_op_check_forward(const cf_op_args *a) {
    int64_t shape[CF_TENSOR_DIMS];
    CF_TRY(cf_op_infer_shape(a, shape));
    const char *op = cf_op_call_name(a);
    const cf_tensor *x = cf_op_first_input(a);
    for (int i = 0; i < a->n_inputs; i++) {
        if (!a->in[i]) continue; /* a mix's branch not computed */
        if (!a->in[i]->data) CF_FAIL(CF_ERR_INVALID_ARG, "%s: input %d has no data", op, i);
        if (a->in[i]->device.kind != x->device.kind || a->in[i]->device.index != x->device.index)
            CF_FAIL(CF_ERR_INVALID_ARG, "%s: input %d lives on another device than the first input", op, i);
    }
    for (int i = 0; i < CF_OP_MAX_WEIGHTS; i++)
        if (a->w[i] && !a->w[i]->data) CF_FAIL(CF_ERR_INVALID_ARG, "%s: weight %d has no data", op, i);
    for (int i = 0; i < CF_OP_MAX_STATE; i++)
        if (a->state[i] && !a->state[i]->data) CF_FAIL(CF_ERR_INVALID_ARG, "%s: state %d has no data", op, i);
    if (!a->out) CF_FAIL(CF_ERR_INVALID_ARG, "%s: output is missing", op);
    CF_TRY(check_same(op, "output", a->out, shape, out_dtype(a, x->dtype), x->device));
    return CF_OK;
}

cf_status cf_op_check_backward(const cf_op_args *a) {
    /* checked before the forward's "output is missing" to say why it is needed */
    if (a && a->kind == CF_OP_BATCHNORM && a->params.bn.relu && !a->out)
        CF_FAIL(CF_ERR_INVALID_ARG, "batchnorm+relu: backward needs the forward output (its ReLU mask)");
    CF_TRY(cf_op_check_forward(a));
    const char *op = cf_op_call_name(a);
    const cf_tensor *x = cf_op_first_input(a);
    if (!a->dout) CF_FAIL(CF_ERR_INVALID_ARG, "%s: output gradient is missing", op);
    CF_TRY(check_same(op, "output gradient", a->dout, a->out->shape, a->out->dtype, x->device));
    char what[32];
    for (int i = 0; i < a->n_inputs; i++) {
        if (!a->din[i]) continue;
        if (a->kind == CF_OP_SOFTMAX_XENT && i == 1)
            CF_FAIL(CF_ERR_INVALID_ARG, "softmax_xent: labels have no gradient; din[1] must be NULL");
        /* a mix's NULL input is shaped like the output; its gradient receives nothing */
        const cf_tensor *like = a->in[i] ? a->in[i] : a->out;
        snprintf(what, sizeof what, "input %d gradient", i);
        CF_TRY(check_same(op, what, a->din[i], like->shape, x->dtype, x->device));
    }
    for (int i = 0; i < CF_OP_MAX_WEIGHTS; i++) {
        if (!a->dw[i]) continue;
        if (!a->w[i]) CF_FAIL(CF_ERR_INVALID_ARG, "%s: gradient for weight %d, which is absent", op, i);
        snprintf(what, sizeof what, "weight %d gradient", i);
        CF_TRY(check_same(op, what, a->dw[i], a->w[i]->shape, a->w[i]->dtype, x->device));
    }
    if (a->kind == CF_OP_BATCHNORM && !a->params.bn.training)
        CF_FAIL(CF_ERR_UNSUPPORTED, "%s: backward needs a forward in training mode (batch statistics)", op);
    return CF_OK;
}
