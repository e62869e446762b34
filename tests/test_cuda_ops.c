/* test_cuda_ops.c - (gpu) every op of the CUDA backend against the CPU reference.
 *
 * Each case of the table draws its inputs, weights, state and output gradient
 * once as f32 from a seeded counter RNG (cf_rng), runs forward and backward on
 * the reference backend in f64 (the f32 values promoted: the most exact answer
 * those inputs have) and on the GPU in f32, and compares every tensor by
 * normalized error max|gpu - ref| / max(1e-6, max|ref|) against the bound of
 * its (op, output) row in `tolerances`, which says why it is that value.
 *
 * Forward starts from an output full of NaN: an element the GPU never writes
 * shows as an infinite error. Backward runs twice:
 *   +  din holds random values, din_assign is 0: the gradient must be ADDED
 *      (compared with the reference run from the same values);
 *   =  din holds NaN, din_assign is 1 (through cf_op_backward, which zeroes
 *      din first where the backend does not assign): the gradient alone.
 * dw holds random values in both runs and must receive the gradient added.
 * Batch norm's four state tensors are compared after forward; dropout's masks
 * must agree element for element. Convolutions run again on a deterministic
 * instance, twice, which must give the same bits both times. Depthwise
 * convolutions run on our kernels (kernels/depthwise.cu) on the first
 * instance and on cuDNN on the deterministic one.
 *
 * Exits 77 (skipped) in a build without CUDA or on a machine without a GPU.
 *
 *   ./test_cuda_ops          every case, one line each with its errors
 *   ./test_cuda_ops conv     only the cases whose name contains "conv"
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cellforge/backend.h"
#include "cellforge/rng.h"
#include "check.h"
#include "cuda_test.h"

/* ---- tolerances: one row per (op, output) ---------------------------------
 * The reference is exact to f64; the GPU rounds to f32 (2^-24 = 6e-8 relative)
 * and sums in its own order. A sum of K unit-size products has an f32 error of
 * about sqrt(K) 6e-8 against a result of size sqrt(K): ~1e-7 normalized, ~1e-6
 * at worst for K up to a thousand. The bounds sit ~10x above what a correct
 * op gives and far below what a mistake gives: a wrong index, a missed
 * element or a gradient assigned instead of added is an error of order 1, and
 * TF32 (operands rounded to 10 mantissa bits) gives 1e-4 to 9e-4 on these
 * cases (measured by rounding the operands of the reference), so every
 * matrix op stays at or below 5e-5 to catch it. */
typedef struct tolerance {
    cf_op_kind kind;
    const char *what; /* "out", "din", "dw0" (weight, gamma), "dw1" (bias, beta), "state" */
    double tol;
    const char *why;
} tolerance;

static const tolerance tolerances[] = {
    {CF_OP_CONV2D, "out", 5e-5, "f32 FMA sums of C/g*KH*KW <= 576 products; cuDNN may pick Winograd or FFT (~1e-5); no TF32"},
    {CF_OP_CONV2D, "din", 5e-5, "f32 sums of OC/g*KH*KW <= 576 products; Winograd/FFT data-gradient algorithms; no TF32"},
    {CF_OP_CONV2D, "dw0", 5e-5, "f32 sums over N*OH*OW <= 980 products; FFT weight-gradient algorithms; no TF32"},
    {CF_OP_CONV2D, "dw1", 1e-5, "bias gradient: f32 sum of N*OH*OW <= 980 values"},
    {CF_OP_BATCHNORM, "out", 2e-5, "f32 batch mean and variance over M = N*H*W <= 980 values, the offset-5 case included"},
    {CF_OP_BATCHNORM, "din", 2e-5, "f32 sums over M, then cancellation in M dy - sum dy - xhat sum(dy xhat)"},
    {CF_OP_BATCHNORM, "dw0", 1e-5, "dgamma: f32 sum of dy * xhat over M <= 980 values"},
    {CF_OP_BATCHNORM, "dw1", 1e-5, "dbeta: f32 sum of dy over M <= 980 values"},
    {CF_OP_BATCHNORM, "state", 2e-5, "running stats blend f32 batch statistics (unbiased variance); invstd = 1/sqrt(var + eps)"},
    {CF_OP_RELU, "out", 0, "a selection of the same f32 values"},
    {CF_OP_RELU, "din", 1e-7, "one f32 add (run +): half an ulp; exact in run ="},
    {CF_OP_AVGPOOL2D, "out", 5e-6, "f32 sum of <= 9 values and a division (or a multiply by 1/count)"},
    {CF_OP_AVGPOOL2D, "din", 5e-6, "each dx gathers <= 9 dy/count in f32"},
    {CF_OP_MAXPOOL2D, "out", 0, "spaced inputs, no ties: the max is one of the same f32 values"},
    {CF_OP_MAXPOOL2D, "din", 5e-6, "overlapping windows route <= 9 dy into one dx, added in f32"},
    {CF_OP_GLOBAL_AVGPOOL, "out", 1e-5, "f32 sum of H*W <= 196 values, then a division"},
    {CF_OP_GLOBAL_AVGPOOL, "din", 1e-6, "dy/(H*W) broadcast, one add: two roundings"},
    {CF_OP_LINEAR, "out", 1e-5, "cuBLAS f32 sums over IN <= 392 products, bias added; no TF32"},
    {CF_OP_LINEAR, "din", 1e-5, "cuBLAS f32 sums over OUT = 10 products; no TF32"},
    {CF_OP_LINEAR, "dw0", 1e-5, "cuBLAS f32 sums over N <= 5 products; no TF32"},
    {CF_OP_LINEAR, "dw1", 1e-5, "f32 sum of N <= 5 values"},
    {CF_OP_SUM, "out", 1e-6, "<= 3 f32 adds of values up to 4x the largest sum"},
    {CF_OP_SUM, "din", 1e-6, "<= 2 f32 adds (an input passed twice gets dy twice) onto din"},
    {CF_OP_ZERO, "out", 0, "zeros"},
    {CF_OP_ZERO, "din", 0, "nothing flows back: din keeps its values (+) or is zero (=)"},
    {CF_OP_IDENTITY, "out", 0, "a copy"},
    {CF_OP_IDENTITY, "din", 1e-7, "one f32 add (run +): half an ulp"},
    {CF_OP_CONCAT, "out", 0, "a copy"},
    {CF_OP_CONCAT, "din", 1e-7, "one f32 add (run +): half an ulp"},
    {CF_OP_SLICE, "out", 0, "a copy"},
    {CF_OP_SLICE, "din", 1e-7, "one f32 add (run +): half an ulp"},
    {CF_OP_SOFTMAX_XENT, "out", 1e-5, "f32 exp and log (a few ulp each), sums over K <= 100 and N <= 8"},
    {CF_OP_SOFTMAX_XENT, "din", 1e-5, "dout (softmax - target) / N from f32 exp: a few ulp per element"},
    {CF_OP_DROPOUT, "out", 5e-7, "x times 1/(1-p) rounded to f32: <= 1.5 ulp (an ulp is <= 1.2e-7 of a value); masks exact"},
    {CF_OP_DROPOUT, "din", 5e-7, "dy times 1/(1-p) rounded to f32, one add: <= 2.5 ulp; masks exact"},
};

static const tolerance *tolerance_of(cf_op_kind kind, const char *what) {
    for (size_t i = 0; i < sizeof tolerances / sizeof tolerances[0]; i++)
        if (tolerances[i].kind == kind && strcmp(tolerances[i].what, what) == 0) return &tolerances[i];
    return NULL;
}

/* ---- the cases ------------------------------------------------------------ */

enum init_kind {
    INIT_NORMAL,  /* standard normal */
    INIT_SPACED,  /* distinct values 0.05 apart around 0: one argmax per window, and
                     negative windows where a zero-padded max would wrongly win */
    INIT_OFFSET,  /* normal + 5: batch norm with the mean large next to the spread */
    INIT_WIDE,    /* normal * 40: logits whose exp overflows f32 unless the max is subtracted */
};

typedef struct op_case {
    const char *name;
    cf_op_kind kind;
    cf_op_params params;
    int n_inputs;
    int64_t in[CF_OP_MAX_INPUTS][4];
    int64_t w[CF_OP_MAX_WEIGHTS][4]; /* all zero: absent */
    enum init_kind init;
    int repeat; /* 1: the last input is input 0 passed again (one tensor, one gradient) */
} op_case;

#define CONV(sh, sw, ph, pw, dh, dw, g) \
    {.conv = {.stride_h = sh, .stride_w = sw, .pad_h = ph, .pad_w = pw, .dil_h = dh, .dil_w = dw, .groups = g}}
#define POOL(k, s, p) {.pool = {.kernel_h = k, .kernel_w = k, .stride_h = s, .stride_w = s, .pad_h = p, .pad_w = p}}
#define BN(train) {.bn = {.eps = 1e-5, .momentum = 0.1, .training = train}}
#define BN_RELU(train) {.bn = {.eps = 1e-5, .momentum = 0.1, .training = train, .relu = 1}}
#define XENT(e) {.xent = {.label_smoothing = e}}
#define NONE {{0}}
/* the last two fields of a row: how inputs are drawn, and whether one repeats */
#define PLAIN INIT_NORMAL, 0
#define SPACED INIT_SPACED, 0
#define OFFSET INIT_OFFSET, 0
#define WIDE INIT_WIDE, 0
#define REPEAT INIT_NORMAL, 1

static const op_case cases[] = {
    /* convolution: dense, strided, padded or not, dilated, grouped, depthwise, rectangular */
    {"conv1x1_bias_b5_14", CF_OP_CONV2D, CONV(1, 1, 0, 0, 1, 1, 1), 1, {{5, 8, 14, 14}}, {{16, 8, 1, 1}, {16, 1, 1, 1}}, PLAIN},
    {"conv1x1_s2_b1_7", CF_OP_CONV2D, CONV(2, 2, 0, 0, 1, 1, 1), 1, {{1, 16, 7, 7}}, {{8, 16, 1, 1}}, PLAIN},
    {"conv3x3_p1_bias_b5_14", CF_OP_CONV2D, CONV(1, 1, 1, 1, 1, 1, 1), 1, {{5, 16, 14, 14}}, {{16, 16, 3, 3}, {16, 1, 1, 1}}, PLAIN},
    {"conv3x3_p1_c64_b5_14", CF_OP_CONV2D, CONV(1, 1, 1, 1, 1, 1, 1), 1, {{5, 64, 14, 14}}, {{64, 64, 3, 3}}, PLAIN},
    {"conv3x3_p1_b1_7", CF_OP_CONV2D, CONV(1, 1, 1, 1, 1, 1, 1), 1, {{1, 8, 7, 7}}, {{12, 8, 3, 3}}, PLAIN},
    {"conv3x3_p0_bias_b5_7", CF_OP_CONV2D, CONV(1, 1, 0, 0, 1, 1, 1), 1, {{5, 3, 7, 7}}, {{4, 3, 3, 3}, {4, 1, 1, 1}}, PLAIN},
    {"conv3x3_s2_p1_bias_b5_15", CF_OP_CONV2D, CONV(2, 2, 1, 1, 1, 1, 1), 1, {{5, 8, 15, 15}}, {{16, 8, 3, 3}, {16, 1, 1, 1}}, PLAIN},
    {"conv3x3_s2_p0_b1_14", CF_OP_CONV2D, CONV(2, 2, 0, 0, 1, 1, 1), 1, {{1, 4, 14, 14}}, {{8, 4, 3, 3}}, PLAIN},
    {"conv3x3_dil2_p2_b2_14", CF_OP_CONV2D, CONV(1, 1, 2, 2, 2, 2, 1), 1, {{2, 8, 14, 14}}, {{8, 8, 3, 3}}, PLAIN},
    {"conv3x3_groups2_bias_b2_7", CF_OP_CONV2D, CONV(1, 1, 1, 1, 1, 1, 2), 1, {{2, 8, 7, 7}}, {{12, 4, 3, 3}, {12, 1, 1, 1}}, PLAIN},
    {"conv5x5_p2_bias_b2_14", CF_OP_CONV2D, CONV(1, 1, 2, 2, 1, 1, 1), 1, {{2, 3, 14, 14}}, {{8, 3, 5, 5}, {8, 1, 1, 1}}, PLAIN},
    {"conv7x7_s2_p3_b5_15", CF_OP_CONV2D, CONV(2, 2, 3, 3, 1, 1, 1), 1, {{5, 3, 15, 15}}, {{8, 3, 7, 7}}, PLAIN},
    {"conv1x7_s1x2_p0x3_b2_14", CF_OP_CONV2D, CONV(1, 2, 0, 3, 1, 1, 1), 1, {{2, 8, 14, 14}}, {{8, 8, 1, 7}}, PLAIN},
    {"conv7x1_s2x1_p3x0_b1_7", CF_OP_CONV2D, CONV(2, 1, 3, 0, 1, 1, 1), 1, {{1, 8, 7, 7}}, {{8, 8, 7, 1}}, PLAIN},
    {"conv_dw3x3_p1_bias_b1_7", CF_OP_CONV2D, CONV(1, 1, 1, 1, 1, 1, 32), 1, {{1, 32, 7, 7}}, {{32, 1, 3, 3}, {32, 1, 1, 1}}, PLAIN},
    {"conv_dw3x3_s2_p1_b5_15", CF_OP_CONV2D, CONV(2, 2, 1, 1, 1, 1, 8), 1, {{5, 8, 15, 15}}, {{8, 1, 3, 3}}, PLAIN},
    {"conv_dw3x3_dil2_p2_b5_14", CF_OP_CONV2D, CONV(1, 1, 2, 2, 2, 2, 16), 1, {{5, 16, 14, 14}}, {{16, 1, 3, 3}}, PLAIN},
    {"conv_dw5x5_p2_b2_14", CF_OP_CONV2D, CONV(1, 1, 2, 2, 1, 1, 8), 1, {{2, 8, 14, 14}}, {{8, 1, 5, 5}}, PLAIN},
    {"conv_dw5x5_dil2_s2_p4_b2_14", CF_OP_CONV2D, CONV(2, 2, 4, 4, 2, 2, 4), 1, {{2, 4, 14, 14}}, {{4, 1, 5, 5}}, PLAIN},
    {"conv_dw7x7_p3_bias_b2_7", CF_OP_CONV2D, CONV(1, 1, 3, 3, 1, 1, 8), 1, {{2, 8, 7, 7}}, {{8, 1, 7, 7}, {8, 1, 1, 1}}, PLAIN},
    /* batch norm: training with and without affine, inference */
    {"bn_train_affine_b5_14", CF_OP_BATCHNORM, BN(1), 1, {{5, 16, 14, 14}}, {{16, 1, 1, 1}, {16, 1, 1, 1}}, PLAIN},
    {"bn_train_affine_offset_b4_7", CF_OP_BATCHNORM, BN(1), 1, {{4, 16, 7, 7}}, {{16, 1, 1, 1}, {16, 1, 1, 1}}, OFFSET},
    {"bn_train_affine_c64_b5_7", CF_OP_BATCHNORM, BN(1), 1, {{5, 64, 7, 7}}, {{64, 1, 1, 1}, {64, 1, 1, 1}}, PLAIN},
    {"bn_train_plain_b1_7", CF_OP_BATCHNORM, BN(1), 1, {{1, 8, 7, 7}}, NONE, PLAIN},
    {"bn_train_plain_b5_14", CF_OP_BATCHNORM, BN(1), 1, {{5, 8, 14, 14}}, NONE, PLAIN},
    {"bn_eval_affine_b5_7", CF_OP_BATCHNORM, BN(0), 1, {{5, 16, 7, 7}}, {{16, 1, 1, 1}, {16, 1, 1, 1}}, PLAIN},
    {"bn_eval_plain_b1_14", CF_OP_BATCHNORM, BN(0), 1, {{1, 8, 14, 14}}, NONE, PLAIN},
    /* batch norm + ReLU (cuDNN, the ReLU kernel in place; backward through the masked dy
     * in the workspace): the batch norm rows of `tolerances`, as each side masks by its
     * own output and no draw here puts bn(x) within float rounding of 0 */
    {"bn_relu_train_affine_b5_14", CF_OP_BATCHNORM, BN_RELU(1), 1, {{5, 16, 14, 14}}, {{16, 1, 1, 1}, {16, 1, 1, 1}}, PLAIN},
    {"bn_relu_train_affine_offset_b4_7", CF_OP_BATCHNORM, BN_RELU(1), 1, {{4, 16, 7, 7}}, {{16, 1, 1, 1}, {16, 1, 1, 1}}, OFFSET},
    {"bn_relu_train_plain_b1_7", CF_OP_BATCHNORM, BN_RELU(1), 1, {{1, 8, 7, 7}}, NONE, PLAIN},
    {"bn_relu_eval_affine_b5_7", CF_OP_BATCHNORM, BN_RELU(0), 1, {{5, 16, 7, 7}}, {{16, 1, 1, 1}, {16, 1, 1, 1}}, PLAIN},
    {"bn_relu_eval_plain_b1_14", CF_OP_BATCHNORM, BN_RELU(0), 1, {{1, 8, 14, 14}}, NONE, PLAIN},
    /* ReLU and pooling */
    {"relu_b5_7", CF_OP_RELU, NONE, 1, {{5, 8, 7, 7}}, NONE, PLAIN},
    {"avgpool_k3s1p1_b5_14", CF_OP_AVGPOOL2D, POOL(3, 1, 1), 1, {{5, 8, 14, 14}}, NONE, PLAIN},
    {"avgpool_k3s2p1_b2_15", CF_OP_AVGPOOL2D, POOL(3, 2, 1), 1, {{2, 8, 15, 15}}, NONE, PLAIN},
    {"avgpool_k3s2p1_b1_14", CF_OP_AVGPOOL2D, POOL(3, 2, 1), 1, {{1, 4, 14, 14}}, NONE, PLAIN},
    {"avgpool_k2s2p0_b1_7", CF_OP_AVGPOOL2D, POOL(2, 2, 0), 1, {{1, 4, 7, 7}}, NONE, PLAIN},
    {"maxpool_k3s1p1_b5_14", CF_OP_MAXPOOL2D, POOL(3, 1, 1), 1, {{5, 8, 14, 14}}, NONE, SPACED},
    {"maxpool_k3s2p1_b2_15", CF_OP_MAXPOOL2D, POOL(3, 2, 1), 1, {{2, 8, 15, 15}}, NONE, SPACED},
    {"maxpool_k3s2p1_b1_14", CF_OP_MAXPOOL2D, POOL(3, 2, 1), 1, {{1, 4, 14, 14}}, NONE, SPACED},
    {"maxpool_k2s2p0_b1_7", CF_OP_MAXPOOL2D, POOL(2, 2, 0), 1, {{1, 4, 7, 7}}, NONE, SPACED},
    {"global_avgpool_b5_7", CF_OP_GLOBAL_AVGPOOL, NONE, 1, {{5, 16, 7, 7}}, NONE, PLAIN},
    {"global_avgpool_b1_14", CF_OP_GLOBAL_AVGPOOL, NONE, 1, {{1, 8, 14, 14}}, NONE, PLAIN},
    {"global_avgpool_1x1_b2", CF_OP_GLOBAL_AVGPOOL, NONE, 1, {{2, 4, 1, 1}}, NONE, PLAIN},
    /* linear layers: (N, C, H, W) read as (N, C*H*W) */
    {"linear_bias_b5_64", CF_OP_LINEAR, NONE, 1, {{5, 64, 1, 1}}, {{10, 64, 1, 1}, {10, 1, 1, 1}}, PLAIN},
    {"linear_flat_b1_16x3x3", CF_OP_LINEAR, NONE, 1, {{1, 16, 3, 3}}, {{10, 144, 1, 1}}, PLAIN},
    {"linear_flat_bias_b5_8x7x7", CF_OP_LINEAR, NONE, 1, {{5, 8, 7, 7}}, {{10, 392, 1, 1}, {10, 1, 1, 1}}, PLAIN},
    /* element-wise and data movement */
    {"sum1_b2_7", CF_OP_SUM, NONE, 1, {{2, 4, 7, 7}}, NONE, PLAIN},
    {"sum2_b5_14", CF_OP_SUM, NONE, 2, {{5, 8, 14, 14}, {5, 8, 14, 14}}, NONE, PLAIN},
    {"sum3_b1_7", CF_OP_SUM, NONE, 3, {{1, 4, 7, 7}, {1, 4, 7, 7}, {1, 4, 7, 7}}, NONE, PLAIN},
    {"sum4_b2_7", CF_OP_SUM, NONE, 4, {{2, 3, 7, 7}, {2, 3, 7, 7}, {2, 3, 7, 7}, {2, 3, 7, 7}}, NONE, PLAIN},
    {"sum2_same_input_twice", CF_OP_SUM, NONE, 2, {{2, 4, 7, 7}, {2, 4, 7, 7}}, NONE, REPEAT},
    {"sum3_x0_x1_x0", CF_OP_SUM, NONE, 3, {{5, 3, 7, 7}, {5, 3, 7, 7}, {5, 3, 7, 7}}, NONE, REPEAT},
    {"zero_s1_b2_7", CF_OP_ZERO, {.zero = {.stride = 1}}, 1, {{2, 4, 7, 7}}, NONE, PLAIN},
    {"zero_s2_b5_7", CF_OP_ZERO, {.zero = {.stride = 2}}, 1, {{5, 3, 7, 7}}, NONE, PLAIN},
    {"zero_s2_b1_14", CF_OP_ZERO, {.zero = {.stride = 2}}, 1, {{1, 8, 14, 14}}, NONE, PLAIN},
    {"zero_s2_b2_15x9", CF_OP_ZERO, {.zero = {.stride = 2}}, 1, {{2, 3, 15, 9}}, NONE, PLAIN},
    {"identity_b5_7", CF_OP_IDENTITY, NONE, 1, {{5, 8, 7, 7}}, NONE, PLAIN},
    {"concat2_b2_7", CF_OP_CONCAT, NONE, 2, {{2, 4, 7, 7}, {2, 8, 7, 7}}, NONE, PLAIN},
    {"concat3_b5_14", CF_OP_CONCAT, NONE, 3, {{5, 3, 14, 14}, {5, 8, 14, 14}, {5, 5, 14, 14}}, NONE, PLAIN},
    {"concat3_b1_7", CF_OP_CONCAT, NONE, 3, {{1, 2, 7, 7}, {1, 3, 7, 7}, {1, 4, 7, 7}}, NONE, PLAIN},
    {"slice_channels_b2_7", CF_OP_SLICE, {.slice = {.c0 = 2, .c = 4, .top = 0, .h = 7, .left = 0, .w = 7}}, 1, {{2, 8, 7, 7}}, NONE, PLAIN},
    {"slice_shift_b5_14", CF_OP_SLICE, {.slice = {.c0 = 1, .c = 2, .top = 1, .h = 13, .left = 1, .w = 13}}, 1, {{5, 4, 14, 14}}, NONE, PLAIN},
    {"slice_window_b1_15", CF_OP_SLICE, {.slice = {.c0 = 3, .c = 1, .top = 4, .h = 6, .left = 2, .w = 9}}, 1, {{1, 5, 15, 15}}, NONE, PLAIN},
    /* loss: out is a (1) device scalar; dout a device scalar 0.7 */
    {"xent_b7_k10", CF_OP_SOFTMAX_XENT, XENT(0.0), 2, {{7, 10, 1, 1}, {7, 1, 1, 1}}, NONE, PLAIN},
    {"xent_smooth_b5_k10", CF_OP_SOFTMAX_XENT, XENT(0.1), 2, {{5, 10, 1, 1}, {5, 1, 1, 1}}, NONE, PLAIN},
    {"xent_smooth_b1_k100", CF_OP_SOFTMAX_XENT, XENT(0.1), 2, {{1, 100, 1, 1}, {1, 1, 1, 1}}, NONE, PLAIN},
    {"xent_wide_logits_b8_k10", CF_OP_SOFTMAX_XENT, XENT(0.0), 2, {{8, 10, 1, 1}, {8, 1, 1, 1}}, NONE, WIDE},
    {"xent_smooth_wide_b8_k10", CF_OP_SOFTMAX_XENT, XENT(0.1), 2, {{8, 10, 1, 1}, {8, 1, 1, 1}}, NONE, WIDE},
    /* dropout: the mask from the counter RNG, element (offset + i); a far offset and stream
     * exercise 64-bit counters */
    {"dropout_p0.3_b5_7", CF_OP_DROPOUT, {.dropout = {.p = 0.3, .seed = 7, .stream = 11, .offset = 5}}, 1, {{5, 8, 7, 7}}, NONE, PLAIN},
    {"dropout_p0.3_far_b1_15", CF_OP_DROPOUT,
     {.dropout = {.p = 0.3, .seed = 0x9e3779b97f4a7c15ull, .stream = 0x0000000900000004ull, .offset = (1ull << 33) + 3}},
     1, {{1, 3, 15, 15}}, NONE, PLAIN},
    /* depthwise convolution (groups == C == OC: kernels/depthwise.cu, not cuDNN), N = 3, C = 5:
     * the 3x3, 5x5 and 7x7 kernels and the general one (3x5), odd and rectangular images.
     * Here at the end so the cases above keep their draws (a case's seed is its index). */
    {"conv_dw3x3_p1_bias_b3_14", CF_OP_CONV2D, CONV(1, 1, 1, 1, 1, 1, 5), 1, {{3, 5, 14, 14}}, {{5, 1, 3, 3}, {5, 1, 1, 1}}, PLAIN},
    {"conv_dw3x3_p1_b3_14", CF_OP_CONV2D, CONV(1, 1, 1, 1, 1, 1, 5), 1, {{3, 5, 14, 14}}, {{5, 1, 3, 3}}, PLAIN},
    {"conv_dw5x5_s2_p2_b3_14", CF_OP_CONV2D, CONV(2, 2, 2, 2, 1, 1, 5), 1, {{3, 5, 14, 14}}, {{5, 1, 5, 5}}, PLAIN},
    {"conv_dw5x5_s2_p2_bias_b3_15", CF_OP_CONV2D, CONV(2, 2, 2, 2, 1, 1, 5), 1, {{3, 5, 15, 15}}, {{5, 1, 5, 5}, {5, 1, 1, 1}}, PLAIN},
    {"conv_dw3x3_dil2_p2_b3_14", CF_OP_CONV2D, CONV(1, 1, 2, 2, 2, 2, 5), 1, {{3, 5, 14, 14}}, {{5, 1, 3, 3}}, PLAIN},
    {"conv_dw3x3_dil2_p2_bias_9x7", CF_OP_CONV2D, CONV(1, 1, 2, 2, 2, 2, 5), 1, {{3, 5, 9, 7}}, {{5, 1, 3, 3}, {5, 1, 1, 1}}, PLAIN},
    {"conv_dw7x7_p3_b3_14", CF_OP_CONV2D, CONV(1, 1, 3, 3, 1, 1, 5), 1, {{3, 5, 14, 14}}, {{5, 1, 7, 7}}, PLAIN},
    {"conv_dw7x7_p3_bias_b3_9x7", CF_OP_CONV2D, CONV(1, 1, 3, 3, 1, 1, 5), 1, {{3, 5, 9, 7}}, {{5, 1, 7, 7}, {5, 1, 1, 1}}, PLAIN},
    {"conv_dw3x3_s2_p1_b3_9x7", CF_OP_CONV2D, CONV(2, 2, 1, 1, 1, 1, 5), 1, {{3, 5, 9, 7}}, {{5, 1, 3, 3}}, PLAIN},
    {"conv_dw3x3_s2_p1_bias_b3_9x7", CF_OP_CONV2D, CONV(2, 2, 1, 1, 1, 1, 5), 1, {{3, 5, 9, 7}}, {{5, 1, 3, 3}, {5, 1, 1, 1}}, PLAIN},
    {"conv_dw3x5_s2x1_p1x4_d1x2_9x7", CF_OP_CONV2D, CONV(2, 1, 1, 4, 1, 2, 5), 1, {{3, 5, 9, 7}}, {{5, 1, 3, 5}, {5, 1, 1, 1}}, PLAIN},
    {"conv_dw1x1_b3_7", CF_OP_CONV2D, CONV(1, 1, 0, 0, 1, 1, 5), 1, {{3, 5, 7, 7}}, {{5, 1, 1, 1}}, PLAIN},
};

/* ---- one case's values, drawn once as f32 --------------------------------- */

typedef struct host_data {
    float *in[CF_OP_MAX_INPUTS];    /* inputs (NULL: labels, or a repeated input) */
    float *din0[CF_OP_MAX_INPUTS];  /* din's contents before backward run + */
    int32_t *labels;                /* softmax_xent's input 1 */
    float *w[CF_OP_MAX_WEIGHTS];    /* weights */
    float *dw0[CF_OP_MAX_WEIGHTS];  /* dw's contents before each backward run */
    float *state[CF_OP_MAX_STATE];  /* batch norm's state before forward */
    float *dout;                    /* the output gradient */
} host_data;

static int is_label(const op_case *c, int i) { return c->kind == CF_OP_SOFTMAX_XENT && i == 1; }
static int is_repeat(const op_case *c, int i) { return c->repeat && i > 0 && i == c->n_inputs - 1; }
static int has_backward(const op_case *c) { return !(c->kind == CF_OP_BATCHNORM && !c->params.bn.training); }
static int64_t numel4(const int64_t s[4]) { return s[0] * s[1] * s[2] * s[3]; }

static float *draw(int64_t n, enum init_kind init, cf_rng *r) {
    float *v = malloc((size_t)n * sizeof *v);
    CF_ASSERT(v != NULL);
    if (init == INIT_SPACED) {
        uint32_t *perm = malloc((size_t)n * sizeof *perm);
        CF_ASSERT(perm != NULL);
        cf_rng_permutation(r, perm, (size_t)n);
        for (int64_t i = 0; i < n; i++) v[i] = (float)(((double)perm[i] - (double)n / 2) * 0.05);
        free(perm);
        return v;
    }
    for (int64_t i = 0; i < n; i++) {
        const float z = cf_rng_normal(r);
        v[i] = init == INIT_OFFSET ? z + 5.0f : init == INIT_WIDE ? z * 40.0f : z;
    }
    return v;
}

static void data_make(host_data *d, const op_case *c, size_t index, const int64_t out_shape[4]) {
    memset(d, 0, sizeof *d);
    cf_rng r = cf_rng_make(2024, cf_rng_stream(index, CF_RNG_PURPOSE_TEST));
    for (int i = 0; i < c->n_inputs; i++) {
        const int64_t n = numel4(c->in[i]);
        if (is_repeat(c, i)) continue;
        if (is_label(c, i)) {
            d->labels = malloc((size_t)n * sizeof *d->labels);
            CF_ASSERT(d->labels != NULL);
            for (int64_t k = 0; k < n; k++) d->labels[k] = (int32_t)cf_rng_below(&r, (uint32_t)c->in[0][1]);
            continue;
        }
        d->in[i] = draw(n, c->init, &r);
        d->din0[i] = draw(n, INIT_NORMAL, &r);
    }
    for (int i = 0; i < CF_OP_MAX_WEIGHTS; i++) {
        if (c->w[i][0] == 0) continue;
        d->w[i] = draw(numel4(c->w[i]), INIT_NORMAL, &r);
        d->dw0[i] = draw(numel4(c->w[i]), INIT_NORMAL, &r);
    }
    if (c->kind == CF_OP_BATCHNORM) {
        /* running mean/var to blend into (and to normalize with in inference);
         * saved statistics that inference must leave alone */
        const int64_t C = c->in[0][1];
        for (int i = 0; i < CF_OP_MAX_STATE; i++) d->state[i] = draw(C, INIT_NORMAL, &r);
        for (int64_t k = 0; k < C; k++) {
            const float var = 0.5f + cf_rng_uniform(&r);
            d->state[0][k] *= 0.2f;
            d->state[1][k] = var;
            d->state[2][k] *= 0.2f;
            d->state[3][k] = 1.0f / sqrtf(var);
        }
    }
    if (c->kind == CF_OP_SOFTMAX_XENT) {
        d->dout = malloc(sizeof *d->dout);
        CF_ASSERT(d->dout != NULL);
        d->dout[0] = 0.7f; /* not 1: a backward that ignores dout shows */
    } else {
        d->dout = draw(numel4(out_shape), INIT_NORMAL, &r);
    }
}

static void data_free(host_data *d) {
    for (int i = 0; i < CF_OP_MAX_INPUTS; i++) free(d->in[i]), free(d->din0[i]);
    for (int i = 0; i < CF_OP_MAX_WEIGHTS; i++) free(d->w[i]), free(d->dw0[i]);
    for (int i = 0; i < CF_OP_MAX_STATE; i++) free(d->state[i]);
    free(d->labels);
    free(d->dout);
    memset(d, 0, sizeof *d);
}

/* ---- one backend's copy of a case: tensors in its memory and dtype --------- */

#define MAX_MEM 40

typedef struct side {
    const cf_backend *be;
    cf_dtype dt; /* f64 on the reference, f32 on the GPU */
    cf_op_args a;
    cf_tensor in[CF_OP_MAX_INPUTS], w[CF_OP_MAX_WEIGHTS], state[CF_OP_MAX_STATE], out, dout;
    cf_tensor din[CF_OP_MAX_INPUTS], dw[CF_OP_MAX_WEIGHTS];
    void *mem[MAX_MEM]; /* backend memory, freed with cf_backend_free */
    int nmem;
} side;

static cf_status side_tensor(side *s, cf_tensor *t, cf_dtype dt, const int64_t shape[4]) {
    CF_TRY(cf_tensor_init_shape(t, dt, shape, s->be->device, NULL));
    CF_ASSERT(s->nmem < MAX_MEM);
    CF_TRY(cf_backend_alloc(s->be, cf_tensor_bytes(t), &t->data));
    s->mem[s->nmem++] = t->data;
    return CF_OK;
}

static void side_free(side *s) {
    for (int i = 0; i < s->nmem; i++) cf_backend_free(s->be, s->mem[i]);
    s->nmem = 0;
}

static cf_status side_setup(side *s, const op_case *c, const cf_backend *be, cf_dtype dt) {
    memset(s, 0, sizeof *s);
    s->be = be;
    s->dt = dt;
    cf_op_args *a = &s->a;
    a->kind = c->kind;
    a->params = c->params;
    a->n_inputs = c->n_inputs;
    for (int i = 0; i < c->n_inputs; i++) {
        if (is_repeat(c, i)) { /* the same tensor and the same gradient buffer as input 0 */
            a->in[i] = &s->in[0];
            a->din[i] = &s->din[0];
            continue;
        }
        CF_TRY(side_tensor(s, &s->in[i], is_label(c, i) ? CF_DTYPE_I32 : dt, c->in[i]));
        a->in[i] = &s->in[i];
        if (is_label(c, i)) continue;
        CF_TRY(side_tensor(s, &s->din[i], dt, c->in[i]));
        a->din[i] = &s->din[i];
    }
    for (int i = 0; i < CF_OP_MAX_WEIGHTS; i++) {
        if (c->w[i][0] == 0) continue;
        CF_TRY(side_tensor(s, &s->w[i], dt, c->w[i]));
        CF_TRY(side_tensor(s, &s->dw[i], dt, c->w[i]));
        a->w[i] = &s->w[i];
        a->dw[i] = &s->dw[i];
    }
    if (c->kind == CF_OP_BATCHNORM) {
        const int64_t vec[4] = {c->in[0][1], 1, 1, 1};
        for (int i = 0; i < CF_OP_MAX_STATE; i++) {
            CF_TRY(side_tensor(s, &s->state[i], dt, vec));
            a->state[i] = &s->state[i];
        }
    }
    int64_t out_shape[4];
    CF_TRY(cf_op_infer_shape(a, out_shape));
    CF_TRY(side_tensor(s, &s->out, dt, out_shape));
    CF_TRY(side_tensor(s, &s->dout, dt, out_shape));
    a->out = &s->out;
    a->dout = &s->dout;
    return CF_OK;
}

/* Host values (NULL: NaN everywhere) into t, converted to the side's dtype. */
static cf_status put(const side *s, cf_tensor *t, const float *v) {
    const int64_t n = cf_tensor_numel(t);
    void *stage = malloc(cf_tensor_bytes(t));
    if (!stage) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "test: staging %zu bytes", cf_tensor_bytes(t));
    for (int64_t i = 0; i < n; i++) {
        if (t->dtype == CF_DTYPE_F64) ((double *)stage)[i] = v ? (double)v[i] : NAN;
        else ((float *)stage)[i] = v ? v[i] : NAN;
    }
    const cf_status st = cf_backend_copy(s->be, t->data, stage, cf_tensor_bytes(t), CF_COPY_TO_DEVICE);
    free(stage);
    return st;
}

/* t's values, as double, into out (numel values). */
static cf_status get(const side *s, const cf_tensor *t, double *out) {
    const int64_t n = cf_tensor_numel(t);
    void *stage = malloc(cf_tensor_bytes(t));
    if (!stage) CF_FAIL(CF_ERR_OUT_OF_MEMORY, "test: staging %zu bytes", cf_tensor_bytes(t));
    const cf_status st = cf_backend_copy(s->be, stage, t->data, cf_tensor_bytes(t), CF_COPY_TO_HOST);
    for (int64_t i = 0; st == CF_OK && i < n; i++)
        out[i] = t->dtype == CF_DTYPE_F64 ? ((double *)stage)[i] : (double)((float *)stage)[i];
    free(stage);
    return st;
}

/* ---- results: every tensor a run produces, in a fixed order ---------------- */

#define MAX_RESULTS 24

typedef struct result {
    int n;
    struct {
        char name[16];    /* "out", "din0+", "dw1=", "running_var" */
        const char *what; /* its tolerance row: "out", "din", "dw0", "dw1", "state" */
        int64_t len;
        double *v;
    } t[MAX_RESULTS];
} result;

static void result_free(result *r) {
    for (int i = 0; i < r->n; i++) free(r->t[i].v);
    r->n = 0;
}

static cf_status snap(const side *s, result *r, const cf_tensor *t, const char *name, const char *what) {
    CF_ASSERT(r->n < MAX_RESULTS);
    const int64_t n = cf_tensor_numel(t);
    double *v = malloc((size_t)n * sizeof *v);
    CF_ASSERT(v != NULL);
    r->t[r->n].v = v;
    r->t[r->n].len = n;
    r->t[r->n].what = what;
    snprintf(r->t[r->n].name, sizeof r->t[r->n].name, "%s", name);
    r->n++;
    return get(s, t, v);
}

static const char *const state_names[CF_OP_MAX_STATE] = {"running_mean", "running_var", "save_mean", "save_invstd"};

/* Inputs, weights and dout come out of forward and backward as they went in:
 * a kernel that writes through the wrong pointer shows here. */
static cf_status check_unchanged(const side *s, const op_case *c, const host_data *d) {
    typedef struct kept_tensor {
        const cf_tensor *t;
        const float *v;
        const char *what;
    } kept_tensor;
    kept_tensor kept[CF_OP_MAX_INPUTS + CF_OP_MAX_WEIGHTS + 1];
    int n = 0;
    for (int i = 0; i < c->n_inputs; i++)
        if (d->in[i]) kept[n++] = (kept_tensor){&s->in[i], d->in[i], "an input"};
    for (int i = 0; i < CF_OP_MAX_WEIGHTS; i++)
        if (d->w[i]) kept[n++] = (kept_tensor){&s->w[i], d->w[i], "a weight"};
    kept[n++] = (kept_tensor){&s->dout, d->dout, "dout"};
    for (int k = 0; k < n; k++) {
        const int64_t len = cf_tensor_numel(kept[k].t);
        double *back = malloc((size_t)len * sizeof *back);
        CF_ASSERT(back != NULL);
        const cf_status st = get(s, kept[k].t, back);
        int64_t changed = 0;
        for (int64_t i = 0; st == CF_OK && i < len; i++) changed += back[i] != (double)kept[k].v[i];
        free(back);
        CF_TRY(st);
        CHECK(changed == 0, "%s: %s changed %lld of %lld elements of %s", c->name, s->be->ops->name,
              (long long)changed, (long long)len, kept[k].what);
    }
    return CF_OK;
}

/* Forward, then (where the op has one) backward run + and run =; see the file comment. */
static cf_status run_side(side *s, const op_case *c, const host_data *d, result *r) {
    cf_op_args *a = &s->a;
    for (int i = 0; i < c->n_inputs; i++) {
        if (is_repeat(c, i)) continue;
        if (is_label(c, i))
            CF_TRY(cf_backend_copy(s->be, s->in[i].data, d->labels, cf_tensor_bytes(&s->in[i]), CF_COPY_TO_DEVICE));
        else
            CF_TRY(put(s, &s->in[i], d->in[i]));
    }
    for (int i = 0; i < CF_OP_MAX_WEIGHTS; i++)
        if (a->w[i]) CF_TRY(put(s, &s->w[i], d->w[i]));
    for (int i = 0; i < CF_OP_MAX_STATE; i++)
        if (a->state[i]) CF_TRY(put(s, &s->state[i], d->state[i]));
    CF_TRY(put(s, &s->out, NULL)); /* NaN: every element must be written */
    CF_TRY(put(s, &s->dout, d->dout));
    memset(a->din_assign, 0, sizeof a->din_assign);

    CF_TRY(cf_op_forward(s->be, a));
    CF_TRY(snap(s, r, &s->out, "out", "out"));
    for (int i = 0; i < CF_OP_MAX_STATE; i++)
        if (a->state[i]) CF_TRY(snap(s, r, &s->state[i], state_names[i], "state"));
    if (!has_backward(c)) return check_unchanged(s, c, d);

    char name[16];
    static const char *const dw_what[CF_OP_MAX_WEIGHTS] = {"dw0", "dw1"};
    for (int assign = 0; assign < 2; assign++) {
        const char mark = assign ? '=' : '+';
        for (int i = 0; i < c->n_inputs; i++) {
            if (!a->din[i] || is_repeat(c, i)) continue;
            CF_TRY(put(s, &s->din[i], assign ? NULL : d->din0[i]));
            a->din_assign[i] = (unsigned char)assign; /* a repeated input's second use adds */
        }
        for (int i = 0; i < CF_OP_MAX_WEIGHTS; i++)
            if (a->dw[i]) CF_TRY(put(s, &s->dw[i], d->dw0[i]));
        CF_TRY(cf_op_backward(s->be, a));
        for (int i = 0; i < c->n_inputs; i++) {
            if (!a->din[i] || is_repeat(c, i)) continue;
            snprintf(name, sizeof name, "din%d%c", i, mark);
            CF_TRY(snap(s, r, &s->din[i], name, "din"));
        }
        for (int i = 0; i < CF_OP_MAX_WEIGHTS; i++) {
            if (!a->dw[i]) continue;
            snprintf(name, sizeof name, "dw%d%c", i, mark);
            CF_TRY(snap(s, r, &s->dw[i], name, dw_what[i]));
        }
    }
    memset(a->din_assign, 0, sizeof a->din_assign);
    return check_unchanged(s, c, d);
}

/* Set up a side on `be`, run the case, free the side; *r keeps the values. */
static cf_status run_on(const cf_backend *be, cf_dtype dt, const op_case *c, const host_data *d, result *r) {
    side s;
    cf_status st = side_setup(&s, c, be, dt);
    if (st == CF_OK) st = run_side(&s, c, d, r);
    side_free(&s);
    return st;
}

/* ---- comparison ----------------------------------------------------------- */

/* Elements that are zero on one side and not on the other: dropout's masks. */
static int64_t mask_mismatches(const double *got, const double *want, int64_t n) {
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++) bad += (got[i] == 0.0) != (want[i] == 0.0);
    return bad;
}

/* Check every tensor of got against want and print the case's line. */
static void report(const op_case *c, const char *label, const result *got, const result *want) {
    char line[512];
    int len = snprintf(line, sizeof line, "%-30s%s", c->name, label);
    int failed = 0;
    CHECK(got->n == want->n, "%s%s: %d tensors, the reference has %d", c->name, label, got->n, want->n);
    for (int i = 0; i < got->n && i < want->n; i++) {
        const tolerance *tol = tolerance_of(c->kind, want->t[i].what);
        const double e = cuda_test_norm_err(got->t[i].v, want->t[i].v, want->t[i].len);
        CHECK(tol != NULL, "%s: no tolerance for %s %s", c->name, cf_op_name(c->kind), want->t[i].what);
        if (tol && !(e <= tol->tol)) failed = 1;
        CHECK(!tol || e <= tol->tol, "%s%s: %s normalized error %.3g > %.1g (%s)", c->name, label, want->t[i].name, e,
              tol ? tol->tol : 0.0, tol ? tol->why : "");
        if (len < (int)sizeof line)
            len += snprintf(line + len, sizeof line - (size_t)len, "  %s %.1e", want->t[i].name, e);
        const int masked = strcmp(want->t[i].name, "out") == 0 || strcmp(want->t[i].name, "din0=") == 0;
        if (c->kind == CF_OP_DROPOUT && masked) {
            const int64_t bad = mask_mismatches(got->t[i].v, want->t[i].v, want->t[i].len);
            failed |= bad != 0;
            CHECK(bad == 0, "%s%s: %s: %lld of %lld elements dropped on one side only", c->name, label,
                  want->t[i].name, (long long)bad, (long long)want->t[i].len);
        }
    }
    printf("%s%s\n", line, failed ? "  FAIL" : "");
}

/* The same bits in two runs of the deterministic instance. */
static void check_same_bits(const op_case *c, const result *r1, const result *r2) {
    for (int i = 0; i < r1->n && i < r2->n; i++)
        CHECK(memcmp(r1->t[i].v, r2->t[i].v, (size_t)r1->t[i].len * sizeof(double)) == 0,
              "%s: deterministic instance: %s differs between two runs", c->name, r1->t[i].name);
}

static cf_backend *gpu, *gpu_det;

static void check_case(const op_case *c, size_t index) {
    side ref;
    host_data d = {0};
    result want = {0}, got = {0}, again = {0};
    cf_status st = side_setup(&ref, c, cf_backend_cpu_ref(), CF_DTYPE_F64);
    CHECK(st == CF_OK, "%s: reference setup: %s", c->name, cf_error_message());
    if (st == CF_OK) {
        data_make(&d, c, index, ref.out.shape);
        st = run_side(&ref, c, &d, &want);
        CHECK(st == CF_OK, "%s: reference run: %s", c->name, cf_error_message());
    }
    side_free(&ref);
    if (st != CF_OK) goto done;

    st = run_on(gpu, CF_DTYPE_F32, c, &d, &got);
    CHECK(st == CF_OK, "%s: GPU run: %s: %s", c->name, cf_status_name(st), cf_error_message());
    if (st == CF_OK) report(c, "", &got, &want);
    else printf("%-30s FAIL (%s)\n", c->name, cf_status_name(st));

    /* convolution algorithms are where determinism is chosen */
    if (c->kind == CF_OP_CONV2D && gpu_det) {
        result_free(&got);
        st = run_on(gpu_det, CF_DTYPE_F32, c, &d, &got);
        if (st == CF_OK) st = run_on(gpu_det, CF_DTYPE_F32, c, &d, &again);
        CHECK(st == CF_OK, "%s: deterministic GPU run: %s: %s", c->name, cf_status_name(st), cf_error_message());
        if (st == CF_OK) {
            report(c, " (det)", &got, &want);
            check_same_bits(c, &got, &again);
        }
    }
done:
    result_free(&want);
    result_free(&got);
    result_free(&again);
    data_free(&d);
}

int main(int argc, char **argv) {
    const char *only = argc > 1 ? argv[1] : NULL;
    int skip = 0;
    /* depthwise convolutions: our kernels on the first instance, cuDNN's
     * deterministic algorithms on the second */
    setenv("CELLFORGE_DEPTHWISE", "ours", 1);
    gpu = cuda_test_open(0, &skip);
    unsetenv("CELLFORGE_DEPTHWISE");
    if (!gpu) return skip ? CF_TEST_SKIP : test_finish("test_cuda_ops");
    gpu_det = cuda_test_open(1, &skip);
    CHECK(strcmp(gpu->ops->name, "cuda") == 0, "backend name is %s", gpu->ops->name);
    CHECK(gpu->device.kind == CF_DEVICE_CUDA && gpu->device.index == 0, "backend device is %d:%d",
          (int)gpu->device.kind, gpu->device.index);

    printf("normalized error max|gpu - ref| / max|ref| per tensor; +: backward added into pre-filled din, "
           "=: din_assign over NaN (dw adds in both)\n");
    const size_t n_cases = sizeof cases / sizeof cases[0];
    for (size_t i = 0; i < n_cases; i++)
        if (!only || strstr(cases[i].name, only)) check_case(&cases[i], i);

    /* every op kind has a case, and the GPU runs every kind */
    for (int k = 0; k < CF_OP_COUNT; k++) {
        int found = 0;
        for (size_t i = 0; i < n_cases; i++) found |= cases[i].kind == (cf_op_kind)k;
        CHECK(found, "op %s has no case", cf_op_name((cf_op_kind)k));
        CHECK(gpu->ops->supports(gpu->ctx, (cf_op_kind)k), "cuda does not support %s", cf_op_name((cf_op_kind)k));
    }
    cf_backend_cuda_destroy(gpu_det);
    cf_backend_cuda_destroy(gpu);
    return test_finish("test_cuda_ops");
}
