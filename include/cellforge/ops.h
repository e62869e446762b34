/* ops.h - the op registry and the one argument block every backend takes.
 *
 * Every op of a network (convolution, batch norm, pooling, ...) has a kind, a
 * name in the registry, an arity, a shape rule, and a forward and backward on
 * each backend. The network IR and the trainer only build cf_op_args and call
 * cf_op_forward / cf_op_backward; they never call a backend's kernels directly.
 *
 * Conventions
 *  - Tensors are NCHW (see tensor.h). A matrix (N, K) is (N, K, 1, 1).
 *  - Float tensors of one call share a dtype, f32, f64, bf16 or f16; labels
 *    are i32. A 16-bit call (mixed precision) keeps in f32 what needs the
 *    range or the precision: batch norm's gamma, beta and state, a mix's
 *    coefficients, the softmax_xent loss (out, dout) (cf_op_param_dtype);
 *    convolution and linear weights and biases are 16-bit like the data. A
 *    16-bit op computes in f32 from its 16-bit values and rounds what it
 *    writes once (an added gradient: din = round(din + contribution)); a
 *    backend without 16-bit kernels (the CPU ones) runs its f32 op on
 *    widened copies and rounds the results, which is that rule exactly.
 *  - Forward overwrites `out`. Backward ADDS into din[i], dw[i] (like cuDNN's
 *    beta = 1), so a tensor that fans out gets its gradients summed for free;
 *    the caller zeroes gradient buffers once per step. A NULL din[i] / dw[i]
 *    means that gradient is not wanted.
 *  - Every input is present, except in a mix: there a NULL input is a branch
 *    that was not computed this step and counts as zeros (cf_op_info's
 *    optional_inputs).
 *
 *   cf_op_args a = {.kind = CF_OP_CONV2D, .n_inputs = 1, .in = {&x}, .w = {&wt, &bias}, .out = &y};
 *   a.params.conv = (cf_conv2d_params){.stride_h = 1, .stride_w = 1, .pad_h = 1, .pad_w = 1,
 *                                      .dil_h = 1, .dil_w = 1, .groups = 1};
 *   CF_TRY(cf_op_forward(cf_backend_cpu_ref(), &a));
 *   a.dout = &dy;  a.din[0] = &dx;  a.dw[0] = &dwt;  a.dw[1] = &dbias;
 *   CF_TRY(cf_op_backward(cf_backend_cpu_ref(), &a));
 */
#ifndef CELLFORGE_OPS_H
#define CELLFORGE_OPS_H

#include <stdint.h>

#include "cellforge/status.h"
#include "cellforge/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cf_op_kind {
    CF_OP_CONV2D = 0,      /* in {x}; w {weight (OC, C/groups, KH, KW), bias (OC) or NULL} */
    CF_OP_BATCHNORM,       /* in {x}; w {gamma (C), beta (C)} or both NULL (affine off);
                              state {running_mean, running_var, save_mean, save_invstd} (C);
                              params.bn.relu fuses a ReLU on the output ("batchnorm+relu") */
    CF_OP_RELU,            /* in {x} */
    CF_OP_AVGPOOL2D,       /* in {x}; padding excluded from the count */
    CF_OP_MAXPOOL2D,       /* in {x}; padding never wins */
    CF_OP_GLOBAL_AVGPOOL,  /* in {x} -> (N, C, 1, 1) */
    CF_OP_LINEAR,          /* in {x (N, C, H, W) read as (N, C*H*W)}; w {weight (OUT, IN), bias (OUT) or NULL} */
    CF_OP_SUM,             /* in {x0, ..., xk} of one shape */
    CF_OP_ZERO,            /* in {x} -> zeros (N, C, ceil(H/s), ceil(W/s)) */
    CF_OP_IDENTITY,        /* in {x} */
    CF_OP_CONCAT,          /* in {x0, ..., xk} joined on channels */
    CF_OP_SOFTMAX_XENT,    /* in {logits (N, K), labels i32 (N)} -> mean loss (1) */
    CF_OP_DROPOUT,         /* in {x}; inverted dropout, mask from the counter RNG */
    CF_OP_SLICE,           /* in {x} -> x[:, c0:c0+c, top:top+h, left:left+w] */
    CF_OP_MIX,             /* in {x0, ..., xk} of one shape, any of them NULL (a branch not
                              computed: zeros) but not all; w {coef (k+1, 1, 1, 1)}, required ->
                              sum of coef[i] * xi over the present xi, in increasing i: a one-shot
                              supernet's mixed edge. coef is an architecture parameter, not a
                              network parameter (the cost model does not count it). Backward:
                              din[i] (+)= coef[i] * dout for present xi, dw[0][i] += sum(xi * dout) */
    CF_OP_COUNT
} cf_op_kind;

#define CF_OP_MAX_INPUTS 8
#define CF_OP_MAX_WEIGHTS 2
#define CF_OP_MAX_STATE 4

typedef struct cf_conv2d_params {
    int stride_h, stride_w;
    int pad_h, pad_w;   /* zero padding on each side */
    int dil_h, dil_w;   /* dilation; 1 = dense */
    int groups;         /* C and OC divisible by it; groups == C is depthwise */
} cf_conv2d_params;

typedef struct cf_pool2d_params {
    int kernel_h, kernel_w;
    int stride_h, stride_w;
    int pad_h, pad_w;   /* at most half the kernel, as in PyTorch */
} cf_pool2d_params;

typedef struct cf_batchnorm_params {
    double eps;         /* 1e-5 in PyTorch and cuDNN */
    double momentum;    /* running = (1 - m) * running + m * batch; PyTorch's 0.1 */
    int training;       /* 1: batch statistics, update running stats; 0: use running stats */
    int relu;           /* 1: out = max(0, bn(x)), in training and inference alike. Backward
                         * first masks dy by (out > 0), which is (bn(x) > 0) exactly, so
                         * the fused op gives the bits of batchnorm then relu, forward and
                         * backward (the ReLU gradient at 0 is 0). Backward reads `out`:
                         * it must still hold the forward's result. */
} cf_batchnorm_params;

typedef struct cf_zero_params {
    int stride;         /* output is the input subsampled by stride, times zero */
} cf_zero_params;

typedef struct cf_xent_params {
    double label_smoothing; /* in [0, 1): target = (1 - e) one_hot + e / K */
} cf_xent_params;

typedef struct cf_dropout_params {
    double p;           /* drop probability in [0, 1) */
    uint64_t seed;      /* mask element i is drawn from word (offset + i) of */
    uint64_t stream;    /*   the counter RNG stream (seed, stream), so backward */
    uint64_t offset;    /*   regenerates it without storing it */
} cf_dropout_params;

typedef struct cf_slice_params {
    int c0, c;          /* channels [c0, c0 + c) */
    int top, h;         /* rows [top, top + h) */
    int left, w;        /* columns [left, left + w) */
} cf_slice_params;

typedef struct cf_mix_params {
    int row;            /* supernets: the row of architecture weights this mix reads (one per
                           edge of a cell type, shared by the cells of that type); the op
                           itself reads its coefficients from its weight */
} cf_mix_params;

typedef union cf_op_params {
    cf_conv2d_params conv;
    cf_pool2d_params pool;
    cf_batchnorm_params bn;
    cf_zero_params zero;
    cf_xent_params xent;
    cf_dropout_params dropout;
    cf_slice_params slice;
    cf_mix_params mix;
} cf_op_params;

/* One call of one op. All pointers are borrowed for the duration of the call. */
typedef struct cf_op_args {
    cf_op_kind kind;
    cf_op_params params;
    int n_inputs;
    const cf_tensor *in[CF_OP_MAX_INPUTS]; /* NULL only where the kind allows it (mix) */
    const cf_tensor *w[CF_OP_MAX_WEIGHTS];
    cf_tensor *state[CF_OP_MAX_STATE];
    cf_tensor *out;
    /* backward only */
    const cf_tensor *dout;
    cf_tensor *din[CF_OP_MAX_INPUTS];
    cf_tensor *dw[CF_OP_MAX_WEIGHTS];
    /* backward: din[k] holds no gradient yet (its contents are garbage), so the
     * op may write it instead of adding; cf_op_backward zeroes it first for a
     * backend that cannot (see cf_backend_ops.assigns) */
    unsigned char din_assign[CF_OP_MAX_INPUTS];
} cf_op_args;

/* The shape rule of one op kind. cf_op_infer_shape calls it once the arity,
 * the inputs' presence and the first input's dtype are checked, with
 * out_shape holding the first input's shape (cf_op_first_input: input 0 but in
 * a mix); it checks the kind's weights, state and params and writes the
 * output's shape. */
typedef cf_status (*cf_op_shape_fn)(const cf_op_args *a, int64_t out_shape[CF_TENSOR_DIMS]);

/* What the registry knows about an op kind. */
typedef struct cf_op_info {
    const char *name;   /* "conv2d", "batchnorm", ... */
    int min_inputs, max_inputs;
    int n_weights;      /* weight slots (some may be optional) */
    int n_state;        /* state slots */
    cf_op_shape_fn infer_shape;
    int optional_inputs; /* 1: any input but not all may be NULL, a branch not computed (mix) */
} cf_op_info;

const cf_op_info *cf_op_get_info(cf_op_kind kind); /* NULL for an invalid kind */
const char *cf_op_name(cf_op_kind kind);
/* The name of one call in messages: the kind's, or "batchnorm+relu" for a
 * batch norm with params.bn.relu. Static storage. */
const char *cf_op_call_name(const cf_op_args *a);

/* The input a call's shapes, dtype and device are checked against: input 0,
 * or in a mix the first present one; NULL where no input is present.
 * Borrowed from a. */
const cf_tensor *cf_op_first_input(const cf_op_args *a);

/* Resolve an op name. An unknown name fails with CF_ERR_UNKNOWN_NAME and a
 * message that suggests the closest known name. */
cf_status cf_op_lookup(const char *name, cf_op_kind *out);

/* Shape of the output from the inputs, weights and params, validating arity,
 * dtypes and every shape rule. Never touches data. */
cf_status cf_op_infer_shape(const cf_op_args *a, int64_t out_shape[CF_TENSOR_DIMS]);

/* Validate a forward call (arity, NULLs, shapes, dtypes, devices, params). */
cf_status cf_op_check_forward(const cf_op_args *a);
/* Validate a backward call: the forward checks plus every gradient's shape. */
cf_status cf_op_check_backward(const cf_op_args *a);

/* The dtype of the f32-kept tensors of a call whose data is `data`: f32 for
 * bf16 and f16, else data itself. */
cf_dtype cf_op_param_dtype(cf_dtype data);

/* Output size of a strided window: floor((in + 2 pad - dil (k - 1) - 1) / stride) + 1. */
int64_t cf_conv_out_size(int64_t in, int k, int stride, int pad, int dil);

#ifdef __cplusplus
}
#endif
#endif
