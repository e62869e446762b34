/* test_cpu_fast.c - the fast CPU backend against the reference backend.
 *
 * Every case of the table runs forward and backward on the reference backend
 * and on fast instances with 1, 2 and 3 threads, from the same seeded inputs
 * (cf_rng), and compares the output, every input and weight gradient and the
 * batch-norm state by normalized error max|fast - ref| / max|ref|. Then:
 * backward adds (a second call doubles the gradients), instances with 1 and
 * 3 threads agree, two instances run at once on two threads agree with one
 * run alone, f64 and strided calls fall back to the reference exactly.
 *
 *   ./test_cpu_fast            run every case
 *   ./test_cpu_fast -v         also print each case's worst error
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cellforge/backend.h"
#include "cellforge/rng.h"
#include "check.h"

enum init_kind {
    INIT_NORMAL,  /* standard normal */
    INIT_SPACED,  /* distinct values 0.05 apart (max pool: no ties, so the argmax is unique) */
    INIT_OFFSET,  /* normal + 5 (batch norm: the mean large next to the spread) */
};

typedef struct fast_case {
    const char *name;
    cf_op_kind kind;
    cf_op_params params;
    int n_inputs;
    int64_t in[CF_OP_MAX_INPUTS][4];
    int64_t w[CF_OP_MAX_WEIGHTS][4]; /* all zero: absent */
    enum init_kind init;
    double tol;       /* bound on the normalized error of every compared tensor */
    const char *why;  /* the reason for the bound */
} fast_case;

#define CONV(sh, sw, ph, pw, dh, dw, g) \
    {.conv = {.stride_h = sh, .stride_w = sw, .pad_h = ph, .pad_w = pw, .dil_h = dh, .dil_w = dw, .groups = g}}
#define POOL(kh, kw, sh, sw, ph, pw) \
    {.pool = {.kernel_h = kh, .kernel_w = kw, .stride_h = sh, .stride_w = sw, .pad_h = ph, .pad_w = pw}}
#define BN(train) {.bn = {.eps = 1e-5, .momentum = 0.1, .training = train}}
#define BN_RELU(train) {.bn = {.eps = 1e-5, .momentum = 0.1, .training = train, .relu = 1}}

/* The reference sums in double and rounds once; the fast ops sum in float in
 * another order. For sums of K terms of unit size the float error is about
 * K * 6e-8 in the worst case and sqrt(K) * 6e-8 typically, against a result
 * of size sqrt(K): normalized ~1e-6 for K up to a few thousand. */
#define T_ACC 1e-5
#define W_ACC "f32 accumulation order: ~1e-6"
/* Batch-norm input gradients subtract two sums from M dy and may lose a few
 * more bits to cancellation (measured: below 1e-6 on these cases). */
#define T_BN 1e-5
#define W_BN "f32 sums over M = N*H*W, then cancellation in M dy - sum dy - xhat sum dy xhat"
/* Copies, selections and single adds round exactly like the reference. */
#define T_EXACT 1e-7
#define W_EXACT "copies and single adds: same rounding as the reference"

static const fast_case cases[] = {
    /* convolution: im2col + GEMM */
    {"conv3x3_p1_bias_b7_odd", CF_OP_CONV2D, CONV(1, 1, 1, 1, 1, 1, 1), 1, {{7, 3, 9, 11}}, {{5, 3, 3, 3}, {5, 1, 1, 1}}, INIT_NORMAL, T_ACC, W_ACC},
    {"conv3x3_p1_c16_b1", CF_OP_CONV2D, CONV(1, 1, 1, 1, 1, 1, 1), 1, {{1, 16, 12, 12}}, {{16, 16, 3, 3}}, INIT_NORMAL, T_ACC, W_ACC},
    {"conv3x3_p1_c16_b5_28", CF_OP_CONV2D, CONV(1, 1, 1, 1, 1, 1, 1), 1, {{5, 16, 28, 28}}, {{16, 16, 3, 3}}, INIT_NORMAL, T_ACC, W_ACC},
    {"conv3x3_s2_p1_odd", CF_OP_CONV2D, CONV(2, 2, 1, 1, 1, 1, 1), 1, {{7, 4, 9, 9}}, {{6, 4, 3, 3}, {6, 1, 1, 1}}, INIT_NORMAL, T_ACC, W_ACC},
    {"conv3x3_s2_c16to32", CF_OP_CONV2D, CONV(2, 2, 1, 1, 1, 1, 1), 1, {{2, 16, 14, 14}}, {{32, 16, 3, 3}}, INIT_NORMAL, T_ACC, W_ACC},
    {"conv3x3_stem_c1_b1", CF_OP_CONV2D, CONV(1, 1, 1, 1, 1, 1, 1), 1, {{1, 1, 28, 28}}, {{16, 1, 3, 3}, {16, 1, 1, 1}}, INIT_NORMAL, T_ACC, W_ACC},
    {"conv5x5_p2", CF_OP_CONV2D, CONV(1, 1, 2, 2, 1, 1, 1), 1, {{2, 3, 10, 10}}, {{4, 3, 5, 5}}, INIT_NORMAL, T_ACC, W_ACC},
    {"conv7x7_s2_p3", CF_OP_CONV2D, CONV(2, 2, 3, 3, 1, 1, 1), 1, {{2, 3, 15, 15}}, {{4, 3, 7, 7}, {4, 1, 1, 1}}, INIT_NORMAL, T_ACC, W_ACC},
    {"conv3x3_dil2_p2", CF_OP_CONV2D, CONV(1, 1, 2, 2, 2, 2, 1), 1, {{3, 4, 11, 11}}, {{4, 4, 3, 3}}, INIT_NORMAL, T_ACC, W_ACC},
    {"conv5x5_dil2_s2_p4", CF_OP_CONV2D, CONV(2, 2, 4, 4, 2, 2, 1), 1, {{2, 2, 13, 12}}, {{3, 2, 5, 5}}, INIT_NORMAL, T_ACC, W_ACC},
    {"conv_rect_asym", CF_OP_CONV2D, CONV(1, 2, 0, 1, 1, 1, 1), 1, {{2, 2, 5, 6}}, {{2, 2, 1, 3}}, INIT_NORMAL, T_ACC, W_ACC},
    {"conv_groups2_bias", CF_OP_CONV2D, CONV(1, 1, 1, 1, 1, 1, 2), 1, {{2, 4, 7, 7}}, {{6, 2, 3, 3}, {6, 1, 1, 1}}, INIT_NORMAL, T_ACC, W_ACC},
    /* convolution: direct 3x3 kernels (fast_direct.c): 16-channel output vectors,
     * one- and two-vector tiles, row and flat tilings, stride 1 and 2 */
    {"direct_c16_28_b7", CF_OP_CONV2D, CONV(1, 1, 1, 1, 1, 1, 1), 1, {{7, 16, 28, 28}}, {{16, 16, 3, 3}, {16, 1, 1, 1}}, INIT_NORMAL, T_ACC, W_ACC},
    {"direct_c32_14_b1", CF_OP_CONV2D, CONV(1, 1, 1, 1, 1, 1, 1), 1, {{1, 32, 14, 14}}, {{32, 32, 3, 3}}, INIT_NORMAL, T_ACC, W_ACC},
    {"direct_c64_7_bias_b7", CF_OP_CONV2D, CONV(1, 1, 1, 1, 1, 1, 1), 1, {{7, 64, 7, 7}}, {{64, 64, 3, 3}, {64, 1, 1, 1}}, INIT_NORMAL, T_ACC, W_ACC},
    {"direct_s2_c16to32_28", CF_OP_CONV2D, CONV(2, 2, 1, 1, 1, 1, 1), 1, {{3, 16, 28, 28}}, {{32, 16, 3, 3}, {32, 1, 1, 1}}, INIT_NORMAL, T_ACC, W_ACC},
    {"direct_s2_c32to64_14_b1", CF_OP_CONV2D, CONV(2, 2, 1, 1, 1, 1, 1), 1, {{1, 32, 14, 14}}, {{64, 32, 3, 3}}, INIT_NORMAL, T_ACC, W_ACC},
    {"direct_c3_odd_p0", CF_OP_CONV2D, CONV(1, 1, 0, 0, 1, 1, 1), 1, {{7, 3, 11, 9}}, {{16, 3, 3, 3}, {16, 1, 1, 1}}, INIT_NORMAL, T_ACC, W_ACC},
    {"direct_c24_odd_s2_p0", CF_OP_CONV2D, CONV(2, 2, 0, 0, 1, 1, 1), 1, {{2, 24, 13, 10}}, {{32, 24, 3, 3}}, INIT_NORMAL, T_ACC, W_ACC},
    {"direct_c16to48_odd_s2", CF_OP_CONV2D, CONV(2, 2, 1, 1, 1, 1, 1), 1, {{2, 16, 9, 15}}, {{48, 16, 3, 3}, {48, 1, 1, 1}}, INIT_NORMAL, T_ACC, W_ACC},
    {"direct_c32to16_odd_p2", CF_OP_CONV2D, CONV(1, 1, 2, 2, 1, 1, 1), 1, {{3, 32, 5, 17}}, {{16, 32, 3, 3}}, INIT_NORMAL, T_ACC, W_ACC},
    {"direct_c48_3x3_p1", CF_OP_CONV2D, CONV(1, 1, 1, 1, 1, 1, 1), 1, {{2, 48, 3, 3}}, {{48, 48, 3, 3}, {48, 1, 1, 1}}, INIT_NORMAL, T_ACC, W_ACC},
    {"direct_c1_b7_s2", CF_OP_CONV2D, CONV(2, 2, 1, 1, 1, 1, 1), 1, {{7, 1, 28, 28}}, {{16, 1, 3, 3}}, INIT_NORMAL, T_ACC, W_ACC},
    /* convolution: pointwise (no im2col) and 1x1 that needs im2col */
    {"conv1x1_bias_b7", CF_OP_CONV2D, CONV(1, 1, 0, 0, 1, 1, 1), 1, {{7, 6, 5, 7}}, {{4, 6, 1, 1}, {4, 1, 1, 1}}, INIT_NORMAL, T_ACC, W_ACC},
    {"conv1x1_c16to32_b1", CF_OP_CONV2D, CONV(1, 1, 0, 0, 1, 1, 1), 1, {{1, 16, 14, 14}}, {{32, 16, 1, 1}}, INIT_NORMAL, T_ACC, W_ACC},
    {"conv1x1_groups2", CF_OP_CONV2D, CONV(1, 1, 0, 0, 1, 1, 2), 1, {{2, 4, 5, 5}}, {{6, 2, 1, 1}}, INIT_NORMAL, T_ACC, W_ACC},
    {"conv1x1_s2", CF_OP_CONV2D, CONV(2, 2, 0, 0, 1, 1, 1), 1, {{3, 6, 9, 9}}, {{5, 6, 1, 1}}, INIT_NORMAL, T_ACC, W_ACC},
    {"conv1x1_pad1", CF_OP_CONV2D, CONV(1, 1, 1, 1, 1, 1, 1), 1, {{2, 3, 4, 5}}, {{2, 3, 1, 1}, {2, 1, 1, 1}}, INIT_NORMAL, T_ACC, W_ACC},
    /* convolution: depthwise direct loops */
    {"dw3x3_p1_bias_b7", CF_OP_CONV2D, CONV(1, 1, 1, 1, 1, 1, 8), 1, {{7, 8, 9, 9}}, {{8, 1, 3, 3}, {8, 1, 1, 1}}, INIT_NORMAL, T_ACC, W_ACC},
    {"dw3x3_s2_p1", CF_OP_CONV2D, CONV(2, 2, 1, 1, 1, 1, 5), 1, {{3, 5, 10, 10}}, {{5, 1, 3, 3}}, INIT_NORMAL, T_ACC, W_ACC},
    {"dw3x3_dil2_p2", CF_OP_CONV2D, CONV(1, 1, 2, 2, 2, 2, 6), 1, {{2, 6, 11, 13}}, {{6, 1, 3, 3}}, INIT_NORMAL, T_ACC, W_ACC},
    {"dw5x5_dil2_p4_b1", CF_OP_CONV2D, CONV(1, 1, 4, 4, 2, 2, 4), 1, {{1, 4, 12, 12}}, {{4, 1, 5, 5}}, INIT_NORMAL, T_ACC, W_ACC},
    {"dw5x5_p2", CF_OP_CONV2D, CONV(1, 1, 2, 2, 1, 1, 4), 1, {{2, 4, 12, 12}}, {{4, 1, 5, 5}}, INIT_NORMAL, T_ACC, W_ACC},
    {"dw7x7_p3_s2", CF_OP_CONV2D, CONV(2, 2, 3, 3, 1, 1, 3), 1, {{2, 3, 9, 9}}, {{3, 1, 7, 7}}, INIT_NORMAL, T_ACC, W_ACC},
    {"dw9x9_p4_grouped_gemm", CF_OP_CONV2D, CONV(1, 1, 4, 4, 1, 1, 2), 1, {{1, 2, 11, 11}}, {{2, 1, 9, 9}}, INIT_NORMAL, T_ACC, W_ACC},
    {"dw3x3_multiplier2", CF_OP_CONV2D, CONV(1, 1, 1, 1, 1, 1, 3), 1, {{2, 3, 6, 6}}, {{6, 1, 3, 3}, {6, 1, 1, 1}}, INIT_NORMAL, T_ACC, W_ACC},
    {"dw1x7_p0_3", CF_OP_CONV2D, CONV(1, 1, 0, 3, 1, 1, 4), 1, {{2, 4, 7, 9}}, {{4, 1, 1, 7}}, INIT_NORMAL, T_ACC, W_ACC},
    /* stride 1 takes the register-row path: rows of 1 to 4 vectors, "same"
     * and "valid" padding, dilation, channel multiplier, bias */
    {"dw3x3_28_bias_b3", CF_OP_CONV2D, CONV(1, 1, 1, 1, 1, 1, 5), 1, {{3, 5, 28, 28}}, {{5, 1, 3, 3}, {5, 1, 1, 1}}, INIT_NORMAL, T_ACC, W_ACC},
    {"dw5x5_28_p2", CF_OP_CONV2D, CONV(1, 1, 2, 2, 1, 1, 4), 1, {{2, 4, 28, 28}}, {{4, 1, 5, 5}}, INIT_NORMAL, T_ACC, W_ACC},
    {"dw7x7_14_p3", CF_OP_CONV2D, CONV(1, 1, 3, 3, 1, 1, 3), 1, {{3, 3, 14, 14}}, {{3, 1, 7, 7}}, INIT_NORMAL, T_ACC, W_ACC},
    {"dw3x3_wide61_p0", CF_OP_CONV2D, CONV(1, 1, 0, 0, 1, 1, 2), 1, {{2, 2, 5, 61}}, {{2, 1, 3, 3}}, INIT_NORMAL, T_ACC, W_ACC},
    {"dw3x3_40_dil3_p3_mult2", CF_OP_CONV2D, CONV(1, 1, 3, 3, 3, 3, 2), 1, {{2, 2, 9, 40}}, {{4, 1, 3, 3}, {4, 1, 1, 1}}, INIT_NORMAL, T_ACC, W_ACC},
    {"dw3x3_p1_wide70_fallback", CF_OP_CONV2D, CONV(1, 1, 1, 1, 1, 1, 2), 1, {{1, 2, 3, 70}}, {{2, 1, 3, 3}}, INIT_NORMAL, T_ACC, W_ACC},
    /* batch norm */
    {"bn_train_affine_b7", CF_OP_BATCHNORM, BN(1), 1, {{7, 5, 9, 9}}, {{5, 1, 1, 1}, {5, 1, 1, 1}}, INIT_NORMAL, T_BN, W_BN},
    {"bn_train_plain_b1", CF_OP_BATCHNORM, BN(1), 1, {{1, 3, 5, 7}}, {{0}}, INIT_NORMAL, T_BN, W_BN},
    {"bn_train_offset_c16", CF_OP_BATCHNORM, BN(1), 1, {{4, 16, 6, 6}}, {{16, 1, 1, 1}, {16, 1, 1, 1}}, INIT_OFFSET, T_BN, W_BN},
    {"bn_train_c64_7x7", CF_OP_BATCHNORM, BN(1), 1, {{6, 64, 7, 7}}, {{64, 1, 1, 1}, {64, 1, 1, 1}}, INIT_NORMAL, T_BN, W_BN},
    {"bn_eval_affine", CF_OP_BATCHNORM, BN(0), 1, {{3, 4, 5, 5}}, {{4, 1, 1, 1}, {4, 1, 1, 1}}, INIT_NORMAL, T_BN, W_BN},
    {"bn_eval_plain_b7", CF_OP_BATCHNORM, BN(0), 1, {{7, 3, 3, 5}}, {{0}}, INIT_NORMAL, T_BN, W_BN},
    /* batch norm + ReLU: the mask is each backend's own output > 0; an element within
     * float rounding of 0 could fall on either side, none does in these draws */
    {"bn_relu_train_affine_b7", CF_OP_BATCHNORM, BN_RELU(1), 1, {{7, 5, 9, 9}}, {{5, 1, 1, 1}, {5, 1, 1, 1}}, INIT_NORMAL, T_BN, W_BN},
    {"bn_relu_train_plain_b1", CF_OP_BATCHNORM, BN_RELU(1), 1, {{1, 3, 5, 7}}, {{0}}, INIT_NORMAL, T_BN, W_BN},
    {"bn_relu_train_offset_c16", CF_OP_BATCHNORM, BN_RELU(1), 1, {{4, 16, 6, 6}}, {{16, 1, 1, 1}, {16, 1, 1, 1}}, INIT_OFFSET, T_BN, W_BN},
    {"bn_relu_train_c64_7x7", CF_OP_BATCHNORM, BN_RELU(1), 1, {{6, 64, 7, 7}}, {{64, 1, 1, 1}, {64, 1, 1, 1}}, INIT_NORMAL, T_BN, W_BN},
    {"bn_relu_eval_affine", CF_OP_BATCHNORM, BN_RELU(0), 1, {{3, 4, 5, 5}}, {{4, 1, 1, 1}, {4, 1, 1, 1}}, INIT_NORMAL, T_BN, W_BN},
    {"bn_relu_eval_plain_b7", CF_OP_BATCHNORM, BN_RELU(0), 1, {{7, 3, 3, 5}}, {{0}}, INIT_NORMAL, T_BN, W_BN},
    /* pooling */
    {"relu_odd", CF_OP_RELU, {{0}}, 1, {{7, 3, 9, 11}}, {{0}}, INIT_NORMAL, T_EXACT, W_EXACT},
    {"avgpool3x3_s1_p1", CF_OP_AVGPOOL2D, POOL(3, 3, 1, 1, 1, 1), 1, {{7, 3, 9, 11}}, {{0}}, INIT_NORMAL, T_ACC, W_ACC},
    {"avgpool2x2_s2_odd", CF_OP_AVGPOOL2D, POOL(2, 2, 2, 2, 0, 0), 1, {{2, 3, 9, 9}}, {{0}}, INIT_NORMAL, T_ACC, W_ACC},
    {"avgpool3x3_s2_p1", CF_OP_AVGPOOL2D, POOL(3, 3, 2, 2, 1, 1), 1, {{1, 2, 10, 10}}, {{0}}, INIT_NORMAL, T_ACC, W_ACC},
    {"avgpool5x3_s1_p2_1", CF_OP_AVGPOOL2D, POOL(5, 3, 1, 1, 2, 1), 1, {{2, 2, 6, 7}}, {{0}}, INIT_NORMAL, T_ACC, W_ACC},
    {"maxpool3x3_s1_p1", CF_OP_MAXPOOL2D, POOL(3, 3, 1, 1, 1, 1), 1, {{3, 3, 9, 10}}, {{0}}, INIT_SPACED, T_EXACT, "spaced inputs: selection is exact"},
    {"maxpool2x2_s2", CF_OP_MAXPOOL2D, POOL(2, 2, 2, 2, 0, 0), 1, {{2, 2, 8, 8}}, {{0}}, INIT_SPACED, T_EXACT, "spaced inputs: selection is exact"},
    {"maxpool3x3_s2_p1_b7", CF_OP_MAXPOOL2D, POOL(3, 3, 2, 2, 1, 1), 1, {{7, 2, 9, 9}}, {{0}}, INIT_SPACED, T_EXACT, "spaced inputs: selection is exact"},
    {"global_avgpool_b7", CF_OP_GLOBAL_AVGPOOL, {{0}}, 1, {{7, 5, 7, 7}}, {{0}}, INIT_NORMAL, T_ACC, W_ACC},
    {"global_avgpool_1x1", CF_OP_GLOBAL_AVGPOOL, {{0}}, 1, {{1, 3, 1, 1}}, {{0}}, INIT_NORMAL, T_ACC, W_ACC},
    /* linear, loss */
    {"linear_bias_b7", CF_OP_LINEAR, {{0}}, 1, {{7, 13, 1, 1}}, {{10, 13, 1, 1}, {10, 1, 1, 1}}, INIT_NORMAL, T_ACC, W_ACC},
    {"linear_flatten_b1", CF_OP_LINEAR, {{0}}, 1, {{1, 4, 3, 3}}, {{5, 36, 1, 1}}, INIT_NORMAL, T_ACC, W_ACC},
    {"softmax_xent_b7", CF_OP_SOFTMAX_XENT, {.xent = {.label_smoothing = 0.0}}, 2, {{7, 10, 1, 1}, {7, 1, 1, 1}}, {{0}}, INIT_NORMAL, T_ACC, "double inside, one rounding"},
    {"softmax_xent_smooth_b1", CF_OP_SOFTMAX_XENT, {.xent = {.label_smoothing = 0.1}}, 2, {{1, 10, 1, 1}, {1, 1, 1, 1}}, {{0}}, INIT_NORMAL, T_ACC, "double inside, one rounding"},
    /* element-wise and data movement */
    {"sum1", CF_OP_SUM, {{0}}, 1, {{2, 3, 4, 5}}, {{0}}, INIT_NORMAL, T_EXACT, W_EXACT},
    {"sum2_odd", CF_OP_SUM, {{0}}, 2, {{7, 3, 5, 3}, {7, 3, 5, 3}}, {{0}}, INIT_NORMAL, T_EXACT, W_EXACT},
    {"sum3", CF_OP_SUM, {{0}}, 3, {{2, 3, 4, 4}, {2, 3, 4, 4}, {2, 3, 4, 4}}, {{0}}, INIT_NORMAL, T_ACC, "3 terms: float order differs by one rounding"},
    {"zero_s1", CF_OP_ZERO, {.zero = {.stride = 1}}, 1, {{2, 3, 4, 4}}, {{0}}, INIT_NORMAL, T_EXACT, W_EXACT},
    {"zero_s2_odd", CF_OP_ZERO, {.zero = {.stride = 2}}, 1, {{7, 3, 5, 5}}, {{0}}, INIT_NORMAL, T_EXACT, W_EXACT},
    {"identity", CF_OP_IDENTITY, {{0}}, 1, {{7, 3, 5, 4}}, {{0}}, INIT_NORMAL, T_EXACT, W_EXACT},
    {"concat3", CF_OP_CONCAT, {{0}}, 3, {{2, 1, 3, 3}, {2, 3, 3, 3}, {2, 2, 3, 3}}, {{0}}, INIT_NORMAL, T_EXACT, W_EXACT},
    {"concat1_b1", CF_OP_CONCAT, {{0}}, 1, {{1, 4, 5, 5}}, {{0}}, INIT_NORMAL, T_EXACT, W_EXACT},
    {"slice_channels", CF_OP_SLICE, {.slice = {.c0 = 0, .c = 2, .top = 0, .h = 4, .left = 0, .w = 4}}, 1, {{2, 5, 4, 4}}, {{0}}, INIT_NORMAL, T_EXACT, W_EXACT},
    {"slice_shift_b7", CF_OP_SLICE, {.slice = {.c0 = 1, .c = 2, .top = 1, .h = 3, .left = 2, .w = 3}}, 1, {{7, 4, 5, 6}}, {{0}}, INIT_NORMAL, T_EXACT, W_EXACT},
    {"dropout_fallback", CF_OP_DROPOUT, {.dropout = {.p = 0.3, .seed = 7, .stream = 11, .offset = 5}}, 1, {{2, 3, 4, 4}}, {{0}}, INIT_NORMAL, T_EXACT, "runs the reference op"},
};

static int verbose;

static const fast_case *find_case(const char *name) {
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (strcmp(cases[i].name, name) == 0) return &cases[i];
    CF_ASSERT(!"no such case");
    return NULL;
}

/* ---- one op call with all its tensors, in f32 or f64 ---------------------- */

#define MAX_T 32

typedef struct harness {
    cf_op_args a;
    cf_tensor in[CF_OP_MAX_INPUTS], w[CF_OP_MAX_WEIGHTS], state[CF_OP_MAX_STATE], out, dout;
    cf_tensor din[CF_OP_MAX_INPUTS], dw[CF_OP_MAX_WEIGHTS];
    double state0[CF_OP_MAX_STATE][64]; /* initial batch-norm state, restored before each run */
    void *blocks[64];
    int nblocks;
} harness;

/* The tensors a run produces, in a fixed order: out, din[], dw[], state[]. */
typedef struct result {
    int n;
    const char *what[MAX_T];
    double *v[MAX_T];
    int64_t len[MAX_T];
} result;

static double get(const cf_tensor *t, int64_t i) {
    return t->dtype == CF_DTYPE_F64 ? ((double *)t->data)[i] : ((float *)t->data)[i];
}
static void set(cf_tensor *t, int64_t i, double v) {
    if (t->dtype == CF_DTYPE_F64) ((double *)t->data)[i] = v;
    else ((float *)t->data)[i] = (float)v;
}

static void make(harness *h, cf_tensor *t, cf_dtype dtype, const int64_t shape[4]) {
    cf_device cpu = {CF_DEVICE_CPU, 0};
    CF_ASSERT(cf_tensor_init_shape(t, dtype, shape, cpu, NULL) == CF_OK);
    t->data = calloc(1, cf_tensor_bytes(t));
    CF_ASSERT(t->data != NULL);
    h->blocks[h->nblocks++] = t->data;
}

static void fill(cf_tensor *t, enum init_kind init, cf_rng *r) {
    const int64_t n = cf_tensor_numel(t);
    if (init == INIT_SPACED) {
        uint32_t *perm = malloc((size_t)n * sizeof *perm);
        CF_ASSERT(perm != NULL);
        cf_rng_permutation(r, perm, (size_t)n);
        for (int64_t i = 0; i < n; i++) set(t, i, ((double)perm[i] - (double)n / 2) * 0.05);
        free(perm);
        return;
    }
    for (int64_t i = 0; i < n; i++) set(t, i, cf_rng_normal_f64(r) + (init == INIT_OFFSET ? 5.0 : 0.0));
}

static void setup(harness *h, const fast_case *c, cf_dtype dtype) {
    memset(h, 0, sizeof *h);
    cf_rng r = cf_rng_make(2024, cf_rng_stream((uint64_t)(c - cases), CF_RNG_PURPOSE_TEST));
    cf_op_args *a = &h->a;
    a->kind = c->kind;
    a->params = c->params;
    a->n_inputs = c->n_inputs;
    for (int i = 0; i < c->n_inputs; i++) {
        const int is_label = c->kind == CF_OP_SOFTMAX_XENT && i == 1;
        make(h, &h->in[i], is_label ? CF_DTYPE_I32 : dtype, c->in[i]);
        if (is_label) {
            int32_t *lab = h->in[i].data;
            for (int64_t k = 0; k < c->in[i][0]; k++) lab[k] = (int32_t)cf_rng_below(&r, (uint32_t)c->in[0][1]);
        } else {
            fill(&h->in[i], c->init, &r);
            make(h, &h->din[i], dtype, c->in[i]);
            a->din[i] = &h->din[i];
        }
        a->in[i] = &h->in[i];
    }
    for (int i = 0; i < CF_OP_MAX_WEIGHTS; i++) {
        if (c->w[i][0] == 0) continue;
        make(h, &h->w[i], dtype, c->w[i]);
        fill(&h->w[i], INIT_NORMAL, &r);
        make(h, &h->dw[i], dtype, c->w[i]);
        a->w[i] = &h->w[i];
        a->dw[i] = &h->dw[i];
    }
    if (c->kind == CF_OP_BATCHNORM) {
        const int64_t C = c->in[0][1], vec[4] = {C, 1, 1, 1};
        CF_ASSERT(C <= 64);
        for (int i = 0; i < 4; i++) {
            make(h, &h->state[i], dtype, vec);
            a->state[i] = &h->state[i];
        }
        /* running mean/var, and saved statistics for an inference-mode backward */
        for (int64_t k = 0; k < C; k++) {
            double var = 0.5 + cf_rng_uniform_f64(&r);
            h->state0[0][k] = 0.2 * cf_rng_normal_f64(&r);
            h->state0[1][k] = var;
            h->state0[2][k] = 0.2 * cf_rng_normal_f64(&r);
            h->state0[3][k] = 1.0 / sqrt(var);
        }
    }
    int64_t out_shape[4];
    CF_ASSERT(cf_op_infer_shape(a, out_shape) == CF_OK);
    make(h, &h->out, dtype, out_shape);
    make(h, &h->dout, dtype, out_shape);
    fill(&h->dout, INIT_NORMAL, &r);
    a->out = &h->out;
    a->dout = &h->dout;
}

static void teardown(harness *h) {
    for (int i = 0; i < h->nblocks; i++) free(h->blocks[i]);
    h->nblocks = 0;
}

static void zero(cf_tensor *t) { memset(t->data, 0, cf_tensor_bytes(t)); }

/* Reset outputs, gradients and state; forward then `backwards` backward calls. */
static cf_status run(const cf_backend *be, harness *h, int backwards) {
    zero(&h->out);
    for (int i = 0; i < h->a.n_inputs; i++)
        if (h->a.din[i]) zero(h->a.din[i]);
    for (int i = 0; i < CF_OP_MAX_WEIGHTS; i++)
        if (h->a.dw[i]) zero(h->a.dw[i]);
    for (int i = 0; i < CF_OP_MAX_STATE; i++)
        if (h->a.state[i])
            for (int64_t k = 0; k < h->a.state[i]->shape[0]; k++) set(h->a.state[i], k, h->state0[i][k]);
    CF_TRY(cf_op_forward(be, &h->a));
    /* batch norm in inference mode has no backward (cf_op_check_backward) */
    if (h->a.kind == CF_OP_BATCHNORM && !h->a.params.bn.training) return CF_OK;
    for (int k = 0; k < backwards; k++) CF_TRY(cf_op_backward(be, &h->a));
    return CF_OK;
}

static void snap_one(result *r, const char *what, const cf_tensor *t) {
    const int64_t n = cf_tensor_numel(t);
    r->what[r->n] = what;
    r->len[r->n] = n;
    r->v[r->n] = malloc((size_t)n * sizeof(double));
    CF_ASSERT(r->v[r->n] != NULL);
    for (int64_t i = 0; i < n; i++) r->v[r->n][i] = get(t, i);
    r->n++;
}

static const char *const din_names[] = {"din[0]", "din[1]", "din[2]", "din[3]", "din[4]", "din[5]", "din[6]", "din[7]"};
static const char *const dw_names[] = {"dw[0]", "dw[1]"};
static const char *const state_names[] = {"running_mean", "running_var", "save_mean", "save_invstd"};

static result snapshot(const harness *h) {
    result r = {0};
    snap_one(&r, "out", &h->out);
    for (int i = 0; i < h->a.n_inputs; i++)
        if (h->a.din[i]) snap_one(&r, din_names[i], h->a.din[i]);
    for (int i = 0; i < CF_OP_MAX_WEIGHTS; i++)
        if (h->a.dw[i]) snap_one(&r, dw_names[i], h->a.dw[i]);
    for (int i = 0; i < CF_OP_MAX_STATE; i++)
        if (h->a.state[i]) snap_one(&r, state_names[i], h->a.state[i]);
    return r;
}

static void result_free(result *r) {
    for (int i = 0; i < r->n; i++) free(r->v[i]);
    r->n = 0;
}

/* max |a - b| / max |b|, with b = 0 everywhere read as a scale of 1. */
static double norm_err(const double *a, const double *b, int64_t n) {
    double worst = 0.0, scale = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]);
        if (d > worst || d != d) worst = d != d ? INFINITY : d;
        if (fabs(b[i]) > scale) scale = fabs(b[i]);
    }
    return worst / (scale > 0 ? scale : 1.0);
}

/* Compare every tensor of `got` with `want`; returns the worst error. */
static double compare(const fast_case *c, const char *label, const result *got, const result *want, double tol) {
    double worst = 0.0;
    CHECK(got->n == want->n, "%s: %s: %d tensors, expected %d", c->name, label, got->n, want->n);
    for (int i = 0; i < got->n && i < want->n; i++) {
        const double e = norm_err(got->v[i], want->v[i], want->len[i]);
        if (e > worst) worst = e;
        CHECK(e <= tol, "%s: %s: %s normalized error %.3g > %.1g (%s)", c->name, label, got->what[i], e, tol, c->why);
    }
    return worst;
}

/* ---- the checks ---------------------------------------------------------- */

static cf_backend *fast1, *fast2, *fast3;

static void check_case(const fast_case *c) {
    harness h;
    setup(&h, c, CF_DTYPE_F32);
    CHECK_OK(run(cf_backend_cpu_ref(), &h, 1));
    result ref = snapshot(&h);

    const cf_backend *fast[3] = {fast1, fast2, fast3};
    const char *labels[3] = {"1 thread", "2 threads", "3 threads"};
    result got[3];
    double worst = 0.0;
    for (int k = 0; k < 3; k++) {
        CHECK_OK(run(fast[k], &h, 1));
        got[k] = snapshot(&h);
        double e = compare(c, labels[k], &got[k], &ref, c->tol);
        if (e > worst) worst = e;
    }
    /* instances with different thread counts agree with each other */
    compare(c, "1 vs 3 threads", &got[0], &got[2], c->tol);

    /* backward adds: a second call doubles every gradient (state and out unchanged) */
    CHECK_OK(run(fast2, &h, 2));
    result twice = snapshot(&h);
    for (int i = 1; i < twice.n && i < got[1].n; i++) {
        if (strncmp(twice.what[i], "d", 1) != 0) continue;
        for (int64_t k = 0; k < twice.len[i]; k++) got[1].v[i][k] *= 2.0;
        const double e = norm_err(twice.v[i], got[1].v[i], twice.len[i]);
        CHECK(e <= 1e-6, "%s: %s: a second backward did not add (error %.3g)", c->name, twice.what[i], e);
    }
    if (verbose) printf("%-28s worst normalized error %.3g (tol %.0e)\n", c->name, worst, c->tol);
    result_free(&twice);
    for (int k = 0; k < 3; k++) result_free(&got[k]);
    result_free(&ref);
    teardown(&h);
}

/* f64 tensors take the reference ops: results equal bit for bit. */
static void check_f64_fallback(const fast_case *c) {
    harness h;
    setup(&h, c, CF_DTYPE_F64);
    CHECK_OK(run(cf_backend_cpu_ref(), &h, 1));
    result ref = snapshot(&h);
    CHECK_OK(run(fast2, &h, 1));
    result got = snapshot(&h);
    compare(c, "f64 fallback", &got, &ref, 0.0);
    result_free(&ref);
    result_free(&got);
    teardown(&h);
}

/* A strided view (every other column of a wider buffer) takes the reference op. */
static void check_strided_fallback(void) {
    enum { N = 2, C = 3, H = 5, W = 4 };
    static float xbuf[N * C * H * 2 * W], ybuf[N * C * H * W], yref[N * C * H * W];
    cf_rng r = cf_rng_make(5, 0);
    for (size_t i = 0; i < sizeof xbuf / sizeof xbuf[0]; i++) xbuf[i] = cf_rng_normal(&r);
    cf_tensor x, y;
    CHECK_OK(cf_tensor_init(&x, CF_DTYPE_F32, N, C, H, W, xbuf));
    x.stride[3] = 2;
    x.stride[2] = 2 * W;
    x.stride[1] = 2 * W * H;
    x.stride[0] = 2 * W * H * C;
    CHECK_OK(cf_tensor_init(&y, CF_DTYPE_F32, N, C, H, W, ybuf));
    cf_op_args a = {.kind = CF_OP_RELU, .n_inputs = 1, .in = {&x}, .out = &y};
    CHECK_OK(cf_op_forward(fast2, &a));
    y.data = yref;
    CHECK_OK(cf_op_forward(cf_backend_cpu_ref(), &a));
    CHECK(memcmp(ybuf, yref, sizeof ybuf) == 0, "strided relu: fast backend differs from the reference");
}

/* Max pooling with NaN in some windows and ties in others: the same output
 * bits (a window with a NaN gives NaN) and the gradient at the same element
 * (the first maximum, or the first NaN, in row-major order) as the reference,
 * at stride 1 (the vector loops) and 2. */
static void check_maxpool_nan(void) {
    enum { N = 2, C = 3, H = 9, W = 21 };
    static float x[N * C * H * W], y[N * C * H * W], yref[N * C * H * W];
    static float dy[N * C * H * W], dx[N * C * H * W], dxref[N * C * H * W];
    cf_rng r = cf_rng_make(9, 0);
    for (int i = 0; i < N * C * H * W; i++) {
        x[i] = (float)(cf_rng_u32(&r) % 7); /* small integers: many ties */
        dy[i] = cf_rng_normal(&r);
    }
    for (int i = 5; i < N * C * H * W; i += 97) x[i] = NAN;
    for (int stride = 1; stride <= 2; stride++) {
        const int OH = (H + 2 - 3) / stride + 1, OW = (W + 2 - 3) / stride + 1;
        cf_tensor tx, ty, tdy, tdx;
        CHECK_OK(cf_tensor_init(&tx, CF_DTYPE_F32, N, C, H, W, x));
        CHECK_OK(cf_tensor_init(&ty, CF_DTYPE_F32, N, C, OH, OW, y));
        CHECK_OK(cf_tensor_init(&tdy, CF_DTYPE_F32, N, C, OH, OW, dy));
        CHECK_OK(cf_tensor_init(&tdx, CF_DTYPE_F32, N, C, H, W, dx));
        cf_op_args a = {.kind = CF_OP_MAXPOOL2D,
                        .params.pool = {3, 3, stride, stride, 1, 1},
                        .n_inputs = 1,
                        .in = {&tx},
                        .out = &ty,
                        .dout = &tdy,
                        .din = {&tdx}};
        const size_t ny = (size_t)(N * C * OH * OW), nx = (size_t)(N * C * H * W);
        memset(dx, 0, sizeof dx);
        CHECK_OK(cf_op_forward(fast2, &a));
        CHECK_OK(cf_op_backward(fast2, &a));
        memcpy(yref, y, ny * sizeof(float));
        memcpy(dxref, dx, nx * sizeof(float));
        memset(dx, 0, sizeof dx);
        CHECK_OK(cf_op_forward(cf_backend_cpu_ref(), &a));
        CHECK_OK(cf_op_backward(cf_backend_cpu_ref(), &a));
        int nans = 0;
        for (size_t i = 0; i < ny; i++) nans += isnan(y[i]);
        CHECK(nans > 0, "stride %d: no window holds a NaN", stride);
        CHECK(memcmp(y, yref, ny * sizeof(float)) == 0, "stride %d: max pool output differs from the reference", stride);
        CHECK(memcmp(dx, dxref, nx * sizeof(float)) == 0, "stride %d: max pool gradient differs from the reference",
              stride);
    }
}

/* Two instances used at the same time from two threads give what each gives
 * alone: nothing mutable is shared between instances. */
typedef struct job {
    const cf_backend *be;
    harness h;
    cf_status st;
} job;

static void *job_run(void *arg) {
    job *j = arg;
    for (int k = 0; k < 20 && j->st == CF_OK; k++) j->st = run(j->be, &j->h, 1);
    return NULL;
}

static void check_concurrent(void) {
    const fast_case *c = find_case("conv3x3_p1_c16_b5_28"); /* the GEMM path with workspaces */
    cf_backend *b1 = NULL, *b2 = NULL;
    CHECK_OK(cf_backend_cpu_fast_create(1, &b1));
    CHECK_OK(cf_backend_cpu_fast_create(2, &b2));
    if (!b1 || !b2) return;
    job *j[2];
    pthread_t t[2];
    for (int k = 0; k < 2; k++) {
        j[k] = calloc(1, sizeof *j[k]);
        CF_ASSERT(j[k] != NULL);
        j[k]->be = k ? b2 : b1;
        setup(&j[k]->h, c, CF_DTYPE_F32);
        CHECK(pthread_create(&t[k], NULL, job_run, j[k]) == 0, "pthread_create");
    }
    for (int k = 0; k < 2; k++) pthread_join(t[k], NULL);
    harness alone;
    setup(&alone, c, CF_DTYPE_F32);
    CHECK_OK(run(fast1, &alone, 1));
    result want = snapshot(&alone);
    for (int k = 0; k < 2; k++) {
        CHECK(j[k]->st == CF_OK, "concurrent run %d failed: %s", k, cf_error_message());
        result got = snapshot(&j[k]->h);
        compare(c, k ? "concurrent, 2 threads" : "concurrent, 1 thread", &got, &want, c->tol);
        result_free(&got);
        teardown(&j[k]->h);
        free(j[k]);
    }
    result_free(&want);
    teardown(&alone);
    cf_backend_cpu_fast_destroy(b1);
    cf_backend_cpu_fast_destroy(b2);
}

int main(int argc, char **argv) {
    verbose = argc > 1 && strcmp(argv[1], "-v") == 0;
    CHECK_OK(cf_backend_cpu_fast_create(1, &fast1));
    CHECK_OK(cf_backend_cpu_fast_create(2, &fast2));
    CHECK_OK(cf_backend_cpu_fast_create(3, &fast3));
    if (!fast1 || !fast2 || !fast3) return test_finish("test_cpu_fast");
    CHECK(strcmp(fast1->ops->name, "cpu-fast") == 0, "backend name is %s", fast1->ops->name);

    const size_t n_cases = sizeof cases / sizeof cases[0];
    for (size_t i = 0; i < n_cases; i++) check_case(&cases[i]);
    check_f64_fallback(find_case("conv3x3_p1_bias_b7_odd"));
    check_f64_fallback(find_case("bn_train_affine_b7"));
    check_strided_fallback();
    check_maxpool_nan();
    check_concurrent();

    /* every op kind has a case, and the backend supports every kind */
    for (int k = 0; k < CF_OP_COUNT; k++) {
        int found = 0;
        for (size_t i = 0; i < n_cases; i++) found |= cases[i].kind == (cf_op_kind)k;
        CHECK(found, "op %s has no case", cf_op_name((cf_op_kind)k));
        CHECK(fast1->ops->supports(fast1->ctx, (cf_op_kind)k), "cpu-fast does not support %s", cf_op_name((cf_op_kind)k));
    }
    cf_backend_cpu_fast_destroy(fast1);
    cf_backend_cpu_fast_destroy(fast2);
    cf_backend_cpu_fast_destroy(fast3);
    cf_backend_cpu_fast_destroy(NULL);
    return test_finish("test_cpu_fast");
}
