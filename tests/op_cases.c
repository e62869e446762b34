/* op_cases.c - the op cases of op_harness.h: every op kind, in shapes that
 * reach every code path of every backend (im2col + GEMM, the direct 3x3 and
 * depthwise kernels of the fast CPU backend, cuDNN and our CUDA kernels), each
 * with the bound an f32 CPU backend is held to against the f32 reference, and
 * where small enough, why finite differences hold for it. Every backend runs
 * every case; a case's values come from its name, not its row.
 */
#include <stddef.h>

#include "op_harness.h"

#define CONV(sh, sw, ph, pw, dh, dw, g) \
    {.conv = {.stride_h = sh, .stride_w = sw, .pad_h = ph, .pad_w = pw, .dil_h = dh, .dil_w = dw, .groups = g}}
#define POOL(kh, kw, sh, sw, ph, pw) \
    {.pool = {.kernel_h = kh, .kernel_w = kw, .stride_h = sh, .stride_w = sw, .pad_h = ph, .pad_w = pw}}
#define SQPOOL(k, s, p) POOL(k, k, s, s, p, p)
#define BN(train) {.bn = {.eps = 1e-5, .momentum = 0.1, .training = train}}
#define BN_RELU(train) {.bn = {.eps = 1e-5, .momentum = 0.1, .training = train, .relu = 1}}
#define XENT(e) {.xent = {.label_smoothing = e}}
#define NONE {{0}}

/* ---- bounds of an f32 CPU backend against the f32 reference -----------------
 * The reference sums in double and rounds once; the fast ops sum in float in
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
#define W_SPACED "spaced inputs: selection is exact"
#define W_XENT "double inside, one rounding"
#define W_SUM3 "3 or more terms (or one input twice): float order differs by one rounding"
#define W_DROPOUT "runs the reference op"
/* The mix sums its products in double in the reference's order: out and din
 * are the reference's bits; a coefficient's gradient sums the same products
 * in chunks, so its double may differ in the last bits and round to the next
 * float: an ulp (1.2e-7 of the largest) at most. */
#define T_MIX 1e-6
#define W_MIX "double sums as the reference; dcoef in chunks: an f32 ulp apart at most"

/* ---- why finite differences hold (bound OH_FD_TOL) -------------------------- */
#define NO_FD NULL
#define FD_SMOOTH "smooth in double: FD error ~1e-9"
#define FD_ZERO "gradient is exactly 0"
#define FD_SPACED "spaced inputs: no ties"
#define FD_RELU "inputs kept 0.05 from the kink"
#define FD_BN_RELU "bn(x) kept 1e-3 from the kink (checked in oh_check_fd)"
#define FD_DROPOUT "linear for a fixed mask"
#define FD_MIX "linear in each input and in each coefficient: rounding alone, FD error ~1e-9"

const oh_case oh_cases[] = {
    /* convolution: im2col + GEMM */
    {"conv3x3_p1_bias_b7_odd", CF_OP_CONV2D, CONV(1, 1, 1, 1, 1, 1, 1), 1, {{7, 3, 9, 11}}, {{5, 3, 3, 3}, {5, 1, 1, 1}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"conv3x3_p1_c16_b1", CF_OP_CONV2D, CONV(1, 1, 1, 1, 1, 1, 1), 1, {{1, 16, 12, 12}}, {{16, 16, 3, 3}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"conv3x3_p1_c16_b5_28", CF_OP_CONV2D, CONV(1, 1, 1, 1, 1, 1, 1), 1, {{5, 16, 28, 28}}, {{16, 16, 3, 3}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"conv3x3_s2_p1_odd", CF_OP_CONV2D, CONV(2, 2, 1, 1, 1, 1, 1), 1, {{7, 4, 9, 9}}, {{6, 4, 3, 3}, {6, 1, 1, 1}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"conv3x3_s2_c16to32", CF_OP_CONV2D, CONV(2, 2, 1, 1, 1, 1, 1), 1, {{2, 16, 14, 14}}, {{32, 16, 3, 3}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"conv3x3_stem_c1_b1", CF_OP_CONV2D, CONV(1, 1, 1, 1, 1, 1, 1), 1, {{1, 1, 28, 28}}, {{16, 1, 3, 3}, {16, 1, 1, 1}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"conv5x5_p2", CF_OP_CONV2D, CONV(1, 1, 2, 2, 1, 1, 1), 1, {{2, 3, 10, 10}}, {{4, 3, 5, 5}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"conv7x7_s2_p3", CF_OP_CONV2D, CONV(2, 2, 3, 3, 1, 1, 1), 1, {{2, 3, 15, 15}}, {{4, 3, 7, 7}, {4, 1, 1, 1}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"conv3x3_dil2_p2", CF_OP_CONV2D, CONV(1, 1, 2, 2, 2, 2, 1), 1, {{3, 4, 11, 11}}, {{4, 4, 3, 3}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"conv5x5_dil2_s2_p4", CF_OP_CONV2D, CONV(2, 2, 4, 4, 2, 2, 1), 1, {{2, 2, 13, 12}}, {{3, 2, 5, 5}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"conv_rect_asym", CF_OP_CONV2D, CONV(1, 2, 0, 1, 1, 1, 1), 1, {{2, 2, 5, 6}}, {{2, 2, 1, 3}}, OH_NORMAL, T_ACC, W_ACC, FD_SMOOTH, 0},
    {"conv_groups2_bias", CF_OP_CONV2D, CONV(1, 1, 1, 1, 1, 1, 2), 1, {{2, 4, 7, 7}}, {{6, 2, 3, 3}, {6, 1, 1, 1}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    /* convolution: direct 3x3 kernels (fast_direct.c): 16-channel output vectors,
     * one- and two-vector tiles, row and flat tilings, stride 1 and 2 */
    {"direct_c16_28_b7", CF_OP_CONV2D, CONV(1, 1, 1, 1, 1, 1, 1), 1, {{7, 16, 28, 28}}, {{16, 16, 3, 3}, {16, 1, 1, 1}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"direct_c32_14_b1", CF_OP_CONV2D, CONV(1, 1, 1, 1, 1, 1, 1), 1, {{1, 32, 14, 14}}, {{32, 32, 3, 3}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"direct_c64_7_bias_b7", CF_OP_CONV2D, CONV(1, 1, 1, 1, 1, 1, 1), 1, {{7, 64, 7, 7}}, {{64, 64, 3, 3}, {64, 1, 1, 1}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"direct_s2_c16to32_28", CF_OP_CONV2D, CONV(2, 2, 1, 1, 1, 1, 1), 1, {{3, 16, 28, 28}}, {{32, 16, 3, 3}, {32, 1, 1, 1}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"direct_s2_c32to64_14_b1", CF_OP_CONV2D, CONV(2, 2, 1, 1, 1, 1, 1), 1, {{1, 32, 14, 14}}, {{64, 32, 3, 3}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"direct_c3_odd_p0", CF_OP_CONV2D, CONV(1, 1, 0, 0, 1, 1, 1), 1, {{7, 3, 11, 9}}, {{16, 3, 3, 3}, {16, 1, 1, 1}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"direct_c24_odd_s2_p0", CF_OP_CONV2D, CONV(2, 2, 0, 0, 1, 1, 1), 1, {{2, 24, 13, 10}}, {{32, 24, 3, 3}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"direct_c16to48_odd_s2", CF_OP_CONV2D, CONV(2, 2, 1, 1, 1, 1, 1), 1, {{2, 16, 9, 15}}, {{48, 16, 3, 3}, {48, 1, 1, 1}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"direct_c32to16_odd_p2", CF_OP_CONV2D, CONV(1, 1, 2, 2, 1, 1, 1), 1, {{3, 32, 5, 17}}, {{16, 32, 3, 3}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"direct_c48_3x3_p1", CF_OP_CONV2D, CONV(1, 1, 1, 1, 1, 1, 1), 1, {{2, 48, 3, 3}}, {{48, 48, 3, 3}, {48, 1, 1, 1}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"direct_c1_b7_s2", CF_OP_CONV2D, CONV(2, 2, 1, 1, 1, 1, 1), 1, {{7, 1, 28, 28}}, {{16, 1, 3, 3}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    /* convolution: pointwise (no im2col) and 1x1 that needs im2col */
    {"conv1x1_bias_b7", CF_OP_CONV2D, CONV(1, 1, 0, 0, 1, 1, 1), 1, {{7, 6, 5, 7}}, {{4, 6, 1, 1}, {4, 1, 1, 1}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"conv1x1_c16to32_b1", CF_OP_CONV2D, CONV(1, 1, 0, 0, 1, 1, 1), 1, {{1, 16, 14, 14}}, {{32, 16, 1, 1}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"conv1x1_groups2", CF_OP_CONV2D, CONV(1, 1, 0, 0, 1, 1, 2), 1, {{2, 4, 5, 5}}, {{6, 2, 1, 1}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"conv1x1_s2", CF_OP_CONV2D, CONV(2, 2, 0, 0, 1, 1, 1), 1, {{3, 6, 9, 9}}, {{5, 6, 1, 1}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"conv1x1_pad1", CF_OP_CONV2D, CONV(1, 1, 1, 1, 1, 1, 1), 1, {{2, 3, 4, 5}}, {{2, 3, 1, 1}, {2, 1, 1, 1}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    /* convolution: depthwise direct loops */
    {"dw3x3_p1_bias_b7", CF_OP_CONV2D, CONV(1, 1, 1, 1, 1, 1, 8), 1, {{7, 8, 9, 9}}, {{8, 1, 3, 3}, {8, 1, 1, 1}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"dw3x3_s2_p1", CF_OP_CONV2D, CONV(2, 2, 1, 1, 1, 1, 5), 1, {{3, 5, 10, 10}}, {{5, 1, 3, 3}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"dw3x3_dil2_p2", CF_OP_CONV2D, CONV(1, 1, 2, 2, 2, 2, 6), 1, {{2, 6, 11, 13}}, {{6, 1, 3, 3}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"dw5x5_dil2_p4_b1", CF_OP_CONV2D, CONV(1, 1, 4, 4, 2, 2, 4), 1, {{1, 4, 12, 12}}, {{4, 1, 5, 5}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"dw5x5_p2", CF_OP_CONV2D, CONV(1, 1, 2, 2, 1, 1, 4), 1, {{2, 4, 12, 12}}, {{4, 1, 5, 5}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"dw7x7_p3_s2", CF_OP_CONV2D, CONV(2, 2, 3, 3, 1, 1, 3), 1, {{2, 3, 9, 9}}, {{3, 1, 7, 7}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"dw9x9_p4_grouped_gemm", CF_OP_CONV2D, CONV(1, 1, 4, 4, 1, 1, 2), 1, {{1, 2, 11, 11}}, {{2, 1, 9, 9}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"dw3x3_multiplier2", CF_OP_CONV2D, CONV(1, 1, 1, 1, 1, 1, 3), 1, {{2, 3, 6, 6}}, {{6, 1, 3, 3}, {6, 1, 1, 1}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"dw1x7_p0_3", CF_OP_CONV2D, CONV(1, 1, 0, 3, 1, 1, 4), 1, {{2, 4, 7, 9}}, {{4, 1, 1, 7}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    /* stride 1 takes the register-row path: rows of 1 to 4 vectors, "same"
     * and "valid" padding, dilation, channel multiplier, bias */
    {"dw3x3_28_bias_b3", CF_OP_CONV2D, CONV(1, 1, 1, 1, 1, 1, 5), 1, {{3, 5, 28, 28}}, {{5, 1, 3, 3}, {5, 1, 1, 1}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"dw5x5_28_p2", CF_OP_CONV2D, CONV(1, 1, 2, 2, 1, 1, 4), 1, {{2, 4, 28, 28}}, {{4, 1, 5, 5}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"dw7x7_14_p3", CF_OP_CONV2D, CONV(1, 1, 3, 3, 1, 1, 3), 1, {{3, 3, 14, 14}}, {{3, 1, 7, 7}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"dw3x3_wide61_p0", CF_OP_CONV2D, CONV(1, 1, 0, 0, 1, 1, 2), 1, {{2, 2, 5, 61}}, {{2, 1, 3, 3}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"dw3x3_40_dil3_p3_mult2", CF_OP_CONV2D, CONV(1, 1, 3, 3, 3, 3, 2), 1, {{2, 2, 9, 40}}, {{4, 1, 3, 3}, {4, 1, 1, 1}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"dw3x3_p1_wide70_fallback", CF_OP_CONV2D, CONV(1, 1, 1, 1, 1, 1, 2), 1, {{1, 2, 3, 70}}, {{2, 1, 3, 3}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    /* batch norm */
    {"bn_train_affine_b7", CF_OP_BATCHNORM, BN(1), 1, {{7, 5, 9, 9}}, {{5, 1, 1, 1}, {5, 1, 1, 1}}, OH_NORMAL, T_BN, W_BN, NO_FD, 0},
    {"bn_train_plain_b1", CF_OP_BATCHNORM, BN(1), 1, {{1, 3, 5, 7}}, {{0}}, OH_NORMAL, T_BN, W_BN, NO_FD, 0},
    {"bn_train_offset_c16", CF_OP_BATCHNORM, BN(1), 1, {{4, 16, 6, 6}}, {{16, 1, 1, 1}, {16, 1, 1, 1}}, OH_OFFSET, T_BN, W_BN, NO_FD, 0},
    {"bn_train_c64_7x7", CF_OP_BATCHNORM, BN(1), 1, {{6, 64, 7, 7}}, {{64, 1, 1, 1}, {64, 1, 1, 1}}, OH_NORMAL, T_BN, W_BN, NO_FD, 0},
    {"bn_eval_affine", CF_OP_BATCHNORM, BN(0), 1, {{3, 4, 5, 5}}, {{4, 1, 1, 1}, {4, 1, 1, 1}}, OH_NORMAL, T_BN, W_BN, NO_FD, 0},
    {"bn_eval_plain_b7", CF_OP_BATCHNORM, BN(0), 1, {{7, 3, 3, 5}}, {{0}}, OH_NORMAL, T_BN, W_BN, NO_FD, 0},
    /* batch norm + ReLU: the mask is each backend's own output > 0; an element within
     * float rounding of 0 could fall on either side, none does in these draws */
    {"bn_relu_train_affine_b7", CF_OP_BATCHNORM, BN_RELU(1), 1, {{7, 5, 9, 9}}, {{5, 1, 1, 1}, {5, 1, 1, 1}}, OH_NORMAL, T_BN, W_BN, NO_FD, 0},
    {"bn_relu_train_plain_b1", CF_OP_BATCHNORM, BN_RELU(1), 1, {{1, 3, 5, 7}}, {{0}}, OH_NORMAL, T_BN, W_BN, NO_FD, 0},
    {"bn_relu_train_offset_c16", CF_OP_BATCHNORM, BN_RELU(1), 1, {{4, 16, 6, 6}}, {{16, 1, 1, 1}, {16, 1, 1, 1}}, OH_OFFSET, T_BN, W_BN, NO_FD, 0},
    {"bn_relu_train_c64_7x7", CF_OP_BATCHNORM, BN_RELU(1), 1, {{6, 64, 7, 7}}, {{64, 1, 1, 1}, {64, 1, 1, 1}}, OH_NORMAL, T_BN, W_BN, NO_FD, 0},
    {"bn_relu_eval_affine", CF_OP_BATCHNORM, BN_RELU(0), 1, {{3, 4, 5, 5}}, {{4, 1, 1, 1}, {4, 1, 1, 1}}, OH_NORMAL, T_BN, W_BN, NO_FD, 0},
    {"bn_relu_eval_plain_b7", CF_OP_BATCHNORM, BN_RELU(0), 1, {{7, 3, 3, 5}}, {{0}}, OH_NORMAL, T_BN, W_BN, NO_FD, 0},
    /* pooling */
    {"relu_odd", CF_OP_RELU, {{0}}, 1, {{7, 3, 9, 11}}, {{0}}, OH_NORMAL, T_EXACT, W_EXACT, NO_FD, 0},
    {"avgpool3x3_s1_p1", CF_OP_AVGPOOL2D, POOL(3, 3, 1, 1, 1, 1), 1, {{7, 3, 9, 11}}, {{0}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"avgpool2x2_s2_odd", CF_OP_AVGPOOL2D, POOL(2, 2, 2, 2, 0, 0), 1, {{2, 3, 9, 9}}, {{0}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"avgpool3x3_s2_p1", CF_OP_AVGPOOL2D, POOL(3, 3, 2, 2, 1, 1), 1, {{1, 2, 10, 10}}, {{0}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"avgpool5x3_s1_p2_1", CF_OP_AVGPOOL2D, POOL(5, 3, 1, 1, 2, 1), 1, {{2, 2, 6, 7}}, {{0}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"maxpool3x3_s1_p1", CF_OP_MAXPOOL2D, POOL(3, 3, 1, 1, 1, 1), 1, {{3, 3, 9, 10}}, {{0}}, OH_SPACED, T_EXACT, W_SPACED, NO_FD, 0},
    {"maxpool2x2_s2", CF_OP_MAXPOOL2D, POOL(2, 2, 2, 2, 0, 0), 1, {{2, 2, 8, 8}}, {{0}}, OH_SPACED, T_EXACT, W_SPACED, NO_FD, 0},
    {"maxpool3x3_s2_p1_b7", CF_OP_MAXPOOL2D, POOL(3, 3, 2, 2, 1, 1), 1, {{7, 2, 9, 9}}, {{0}}, OH_SPACED, T_EXACT, W_SPACED, NO_FD, 0},
    {"global_avgpool_b7", CF_OP_GLOBAL_AVGPOOL, {{0}}, 1, {{7, 5, 7, 7}}, {{0}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"global_avgpool_1x1", CF_OP_GLOBAL_AVGPOOL, {{0}}, 1, {{1, 3, 1, 1}}, {{0}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    /* linear, loss */
    {"linear_bias_b7", CF_OP_LINEAR, {{0}}, 1, {{7, 13, 1, 1}}, {{10, 13, 1, 1}, {10, 1, 1, 1}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"linear_flatten_b1", CF_OP_LINEAR, {{0}}, 1, {{1, 4, 3, 3}}, {{5, 36, 1, 1}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"softmax_xent_b7", CF_OP_SOFTMAX_XENT, {.xent = {.label_smoothing = 0.0}}, 2, {{7, 10, 1, 1}, {7, 1, 1, 1}}, {{0}}, OH_NORMAL, T_ACC, W_XENT, NO_FD, 0},
    {"softmax_xent_smooth_b1", CF_OP_SOFTMAX_XENT, {.xent = {.label_smoothing = 0.1}}, 2, {{1, 10, 1, 1}, {1, 1, 1, 1}}, {{0}}, OH_NORMAL, T_ACC, W_XENT, NO_FD, 0},
    /* element-wise and data movement */
    {"sum1", CF_OP_SUM, {{0}}, 1, {{2, 3, 4, 5}}, {{0}}, OH_NORMAL, T_EXACT, W_EXACT, NO_FD, 0},
    {"sum2_odd", CF_OP_SUM, {{0}}, 2, {{7, 3, 5, 3}, {7, 3, 5, 3}}, {{0}}, OH_NORMAL, T_EXACT, W_EXACT, NO_FD, 0},
    {"sum3", CF_OP_SUM, {{0}}, 3, {{2, 3, 4, 4}, {2, 3, 4, 4}, {2, 3, 4, 4}}, {{0}}, OH_NORMAL, T_ACC, W_SUM3, FD_SMOOTH, 0},
    {"zero_s1", CF_OP_ZERO, {.zero = {.stride = 1}}, 1, {{2, 3, 4, 4}}, {{0}}, OH_NORMAL, T_EXACT, W_EXACT, FD_ZERO, 0},
    {"zero_s2_odd", CF_OP_ZERO, {.zero = {.stride = 2}}, 1, {{7, 3, 5, 5}}, {{0}}, OH_NORMAL, T_EXACT, W_EXACT, NO_FD, 0},
    {"identity", CF_OP_IDENTITY, {{0}}, 1, {{7, 3, 5, 4}}, {{0}}, OH_NORMAL, T_EXACT, W_EXACT, NO_FD, 0},
    {"concat3", CF_OP_CONCAT, {{0}}, 3, {{2, 1, 3, 3}, {2, 3, 3, 3}, {2, 2, 3, 3}}, {{0}}, OH_NORMAL, T_EXACT, W_EXACT, FD_SMOOTH, 0},
    {"concat1_b1", CF_OP_CONCAT, {{0}}, 1, {{1, 4, 5, 5}}, {{0}}, OH_NORMAL, T_EXACT, W_EXACT, NO_FD, 0},
    {"slice_channels", CF_OP_SLICE, {.slice = {.c0 = 0, .c = 2, .top = 0, .h = 4, .left = 0, .w = 4}}, 1, {{2, 5, 4, 4}}, {{0}}, OH_NORMAL, T_EXACT, W_EXACT, FD_SMOOTH, 0},
    {"slice_shift_b7", CF_OP_SLICE, {.slice = {.c0 = 1, .c = 2, .top = 1, .h = 3, .left = 2, .w = 3}}, 1, {{7, 4, 5, 6}}, {{0}}, OH_NORMAL, T_EXACT, W_EXACT, NO_FD, 0},
    {"dropout_fallback", CF_OP_DROPOUT, {.dropout = {.p = 0.3, .seed = 7, .stream = 11, .offset = 5}}, 1, {{2, 3, 4, 4}}, {{0}}, OH_NORMAL, T_EXACT, W_DROPOUT, FD_DROPOUT, 0},
    /* small cases, where finite differences run (2 forwards per element) */
    {"conv3x3_pad1_bias", CF_OP_CONV2D, CONV(1, 1, 1, 1, 1, 1, 1), 1, {{2, 3, 5, 5}}, {{4, 3, 3, 3}, {4, 1, 1, 1}}, OH_NORMAL, T_ACC, W_ACC, FD_SMOOTH, 0},
    {"conv3x3_stride2", CF_OP_CONV2D, CONV(2, 2, 1, 1, 1, 1, 1), 1, {{2, 2, 6, 7}}, {{3, 2, 3, 3}}, OH_NORMAL, T_ACC, W_ACC, FD_SMOOTH, 0},
    {"conv1x1", CF_OP_CONV2D, CONV(1, 1, 0, 0, 1, 1, 1), 1, {{2, 4, 3, 3}}, {{5, 4, 1, 1}, {5, 1, 1, 1}}, OH_NORMAL, T_ACC, W_ACC, FD_SMOOTH, 0},
    {"conv5x5_pad2", CF_OP_CONV2D, CONV(1, 1, 2, 2, 1, 1, 1), 1, {{1, 2, 6, 6}}, {{2, 2, 5, 5}}, OH_NORMAL, T_ACC, W_ACC, FD_SMOOTH, 0},
    {"conv3x3_dil2", CF_OP_CONV2D, CONV(1, 1, 2, 2, 2, 2, 1), 1, {{2, 2, 7, 7}}, {{3, 2, 3, 3}}, OH_NORMAL, T_ACC, W_ACC, FD_SMOOTH, 0},
    {"conv5x5_dil2_stride2", CF_OP_CONV2D, CONV(2, 2, 4, 4, 2, 2, 1), 1, {{1, 2, 9, 9}}, {{2, 2, 5, 5}}, OH_NORMAL, T_ACC, W_ACC, FD_SMOOTH, 0},
    {"conv_groups2", CF_OP_CONV2D, CONV(1, 1, 1, 1, 1, 1, 2), 1, {{2, 4, 5, 5}}, {{6, 2, 3, 3}, {6, 1, 1, 1}}, OH_NORMAL, T_ACC, W_ACC, FD_SMOOTH, 0},
    {"conv_depthwise", CF_OP_CONV2D, CONV(1, 1, 1, 1, 1, 1, 3), 1, {{2, 3, 5, 5}}, {{3, 1, 3, 3}}, OH_NORMAL, T_ACC, W_ACC, FD_SMOOTH, 0},
    {"conv_depthwise_stride2_dil2", CF_OP_CONV2D, CONV(2, 2, 2, 2, 2, 2, 4), 1, {{1, 4, 8, 8}}, {{4, 1, 3, 3}}, OH_NORMAL, T_ACC, W_ACC, FD_SMOOTH, 0},
    {"batchnorm_affine", CF_OP_BATCHNORM, BN(1), 1, {{3, 4, 3, 3}}, {{4, 1, 1, 1}, {4, 1, 1, 1}}, OH_NORMAL, T_BN, W_BN, FD_SMOOTH, 0},
    {"batchnorm_plain", CF_OP_BATCHNORM, BN(1), 1, {{4, 3, 2, 2}}, {{0}}, OH_NORMAL, T_BN, W_BN, FD_SMOOTH, 0},
    {"batchnorm_relu_affine_b3", CF_OP_BATCHNORM, BN_RELU(1), 1, {{3, 4, 3, 3}}, {{4, 1, 1, 1}, {4, 1, 1, 1}}, OH_NORMAL, T_BN, W_BN, FD_BN_RELU, 0},
    {"batchnorm_relu_plain", CF_OP_BATCHNORM, BN_RELU(1), 1, {{4, 3, 2, 2}}, {{0}}, OH_NORMAL, T_BN, W_BN, FD_BN_RELU, 0},
    {"relu", CF_OP_RELU, {{0}}, 1, {{2, 3, 4, 4}}, {{0}}, OH_NONZERO, T_EXACT, W_EXACT, FD_RELU, 0},
    {"avgpool3x3_s1_p1_small", CF_OP_AVGPOOL2D, POOL(3, 3, 1, 1, 1, 1), 1, {{2, 2, 5, 5}}, {{0}}, OH_NORMAL, T_ACC, W_ACC, FD_SMOOTH, 0},
    {"avgpool3x3_s2_p1_small", CF_OP_AVGPOOL2D, POOL(3, 3, 2, 2, 1, 1), 1, {{2, 2, 6, 6}}, {{0}}, OH_NORMAL, T_ACC, W_ACC, FD_SMOOTH, 0},
    {"maxpool3x3_s1_p1_small", CF_OP_MAXPOOL2D, POOL(3, 3, 1, 1, 1, 1), 1, {{2, 2, 5, 5}}, {{0}}, OH_SPACED, T_EXACT, W_SPACED, FD_SPACED, 0},
    {"maxpool2x2_s2_small", CF_OP_MAXPOOL2D, POOL(2, 2, 2, 2, 0, 0), 1, {{2, 3, 6, 6}}, {{0}}, OH_SPACED, T_EXACT, W_SPACED, FD_SPACED, 0},
    {"global_avgpool", CF_OP_GLOBAL_AVGPOOL, {{0}}, 1, {{2, 3, 4, 5}}, {{0}}, OH_NORMAL, T_ACC, W_ACC, FD_SMOOTH, 0},
    {"linear_bias", CF_OP_LINEAR, {{0}}, 1, {{3, 7, 1, 1}}, {{5, 7, 1, 1}, {5, 1, 1, 1}}, OH_NORMAL, T_ACC, W_ACC, FD_SMOOTH, 0},
    {"linear_flatten", CF_OP_LINEAR, {{0}}, 1, {{2, 2, 3, 2}}, {{4, 12, 1, 1}}, OH_NORMAL, T_ACC, W_ACC, FD_SMOOTH, 0},
    {"zero_s2", CF_OP_ZERO, {.zero = {.stride = 2}}, 1, {{2, 3, 5, 5}}, {{0}}, OH_NORMAL, T_EXACT, W_EXACT, FD_ZERO, 0},
    {"identity_small", CF_OP_IDENTITY, {{0}}, 1, {{2, 3, 4, 4}}, {{0}}, OH_NORMAL, T_EXACT, W_EXACT, FD_SMOOTH, 0},
    {"softmax_xent", CF_OP_SOFTMAX_XENT, {.xent = {.label_smoothing = 0.0}}, 2, {{5, 7, 1, 1}, {5, 1, 1, 1}}, {{0}}, OH_NORMAL, T_ACC, W_XENT, FD_SMOOTH, 0},
    {"softmax_xent_smooth", CF_OP_SOFTMAX_XENT, {.xent = {.label_smoothing = 0.1}}, 2, {{4, 10, 1, 1}, {4, 1, 1, 1}}, {{0}}, OH_NORMAL, T_ACC, W_XENT, FD_SMOOTH, 0},
    {"slice_shift", CF_OP_SLICE, {.slice = {.c0 = 1, .c = 2, .top = 1, .h = 4, .left = 1, .w = 3}}, 1, {{2, 3, 5, 4}}, {{0}}, OH_NORMAL, T_EXACT, W_EXACT, FD_SMOOTH, 0},
    /* a supernet's mix: an input of shape {0} is NULL, a branch not computed this step */
    {"mix3", CF_OP_MIX, NONE, 3, {{2, 3, 4, 4}, {2, 3, 4, 4}, {2, 3, 4, 4}}, {{3, 1, 1, 1}}, OH_NORMAL, T_MIX, W_MIX, FD_MIX, 0},
    {"mix1", CF_OP_MIX, NONE, 1, {{2, 3, 3, 3}}, {{1, 1, 1, 1}}, OH_NORMAL, T_MIX, W_MIX, FD_MIX, 0},
    {"mix4_null1_null3", CF_OP_MIX, NONE, 4, {{2, 3, 4, 4}, {0}, {2, 3, 4, 4}, {0}}, {{4, 1, 1, 1}}, OH_NORMAL, T_MIX, W_MIX, FD_MIX, 0},
    {"mix3_null0", CF_OP_MIX, NONE, 3, {{0}, {2, 2, 3, 5}, {2, 2, 3, 5}}, {{3, 1, 1, 1}}, OH_NORMAL, T_MIX, W_MIX, FD_MIX, 0},
    {"mix3_x0_x1_x0", CF_OP_MIX, NONE, 3, {{2, 3, 4, 4}, {2, 3, 4, 4}, {2, 3, 4, 4}}, {{3, 1, 1, 1}}, OH_NORMAL, T_MIX, W_MIX, FD_MIX, 1},
    /* GPU-sized cases: shapes of 7, 14 and 15 pixels, batches of 1 to 8 */
    /* convolution: dense, strided, padded or not, dilated, grouped, depthwise, rectangular */
    {"conv1x1_bias_b5_14", CF_OP_CONV2D, CONV(1, 1, 0, 0, 1, 1, 1), 1, {{5, 8, 14, 14}}, {{16, 8, 1, 1}, {16, 1, 1, 1}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"conv1x1_s2_b1_7", CF_OP_CONV2D, CONV(2, 2, 0, 0, 1, 1, 1), 1, {{1, 16, 7, 7}}, {{8, 16, 1, 1}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"conv3x3_p1_bias_b5_14", CF_OP_CONV2D, CONV(1, 1, 1, 1, 1, 1, 1), 1, {{5, 16, 14, 14}}, {{16, 16, 3, 3}, {16, 1, 1, 1}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"conv3x3_p1_c64_b5_14", CF_OP_CONV2D, CONV(1, 1, 1, 1, 1, 1, 1), 1, {{5, 64, 14, 14}}, {{64, 64, 3, 3}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"conv3x3_p1_b1_7", CF_OP_CONV2D, CONV(1, 1, 1, 1, 1, 1, 1), 1, {{1, 8, 7, 7}}, {{12, 8, 3, 3}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"conv3x3_p0_bias_b5_7", CF_OP_CONV2D, CONV(1, 1, 0, 0, 1, 1, 1), 1, {{5, 3, 7, 7}}, {{4, 3, 3, 3}, {4, 1, 1, 1}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"conv3x3_s2_p1_bias_b5_15", CF_OP_CONV2D, CONV(2, 2, 1, 1, 1, 1, 1), 1, {{5, 8, 15, 15}}, {{16, 8, 3, 3}, {16, 1, 1, 1}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"conv3x3_s2_p0_b1_14", CF_OP_CONV2D, CONV(2, 2, 0, 0, 1, 1, 1), 1, {{1, 4, 14, 14}}, {{8, 4, 3, 3}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"conv3x3_dil2_p2_b2_14", CF_OP_CONV2D, CONV(1, 1, 2, 2, 2, 2, 1), 1, {{2, 8, 14, 14}}, {{8, 8, 3, 3}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"conv3x3_groups2_bias_b2_7", CF_OP_CONV2D, CONV(1, 1, 1, 1, 1, 1, 2), 1, {{2, 8, 7, 7}}, {{12, 4, 3, 3}, {12, 1, 1, 1}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"conv5x5_p2_bias_b2_14", CF_OP_CONV2D, CONV(1, 1, 2, 2, 1, 1, 1), 1, {{2, 3, 14, 14}}, {{8, 3, 5, 5}, {8, 1, 1, 1}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"conv7x7_s2_p3_b5_15", CF_OP_CONV2D, CONV(2, 2, 3, 3, 1, 1, 1), 1, {{5, 3, 15, 15}}, {{8, 3, 7, 7}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"conv1x7_s1x2_p0x3_b2_14", CF_OP_CONV2D, CONV(1, 2, 0, 3, 1, 1, 1), 1, {{2, 8, 14, 14}}, {{8, 8, 1, 7}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"conv7x1_s2x1_p3x0_b1_7", CF_OP_CONV2D, CONV(2, 1, 3, 0, 1, 1, 1), 1, {{1, 8, 7, 7}}, {{8, 8, 7, 1}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"conv_dw3x3_p1_bias_b1_7", CF_OP_CONV2D, CONV(1, 1, 1, 1, 1, 1, 32), 1, {{1, 32, 7, 7}}, {{32, 1, 3, 3}, {32, 1, 1, 1}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"conv_dw3x3_s2_p1_b5_15", CF_OP_CONV2D, CONV(2, 2, 1, 1, 1, 1, 8), 1, {{5, 8, 15, 15}}, {{8, 1, 3, 3}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"conv_dw3x3_dil2_p2_b5_14", CF_OP_CONV2D, CONV(1, 1, 2, 2, 2, 2, 16), 1, {{5, 16, 14, 14}}, {{16, 1, 3, 3}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"conv_dw5x5_p2_b2_14", CF_OP_CONV2D, CONV(1, 1, 2, 2, 1, 1, 8), 1, {{2, 8, 14, 14}}, {{8, 1, 5, 5}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"conv_dw5x5_dil2_s2_p4_b2_14", CF_OP_CONV2D, CONV(2, 2, 4, 4, 2, 2, 4), 1, {{2, 4, 14, 14}}, {{4, 1, 5, 5}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"conv_dw7x7_p3_bias_b2_7", CF_OP_CONV2D, CONV(1, 1, 3, 3, 1, 1, 8), 1, {{2, 8, 7, 7}}, {{8, 1, 7, 7}, {8, 1, 1, 1}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    /* batch norm: training with and without affine, inference */
    {"bn_train_affine_b5_14", CF_OP_BATCHNORM, BN(1), 1, {{5, 16, 14, 14}}, {{16, 1, 1, 1}, {16, 1, 1, 1}}, OH_NORMAL, T_BN, W_BN, NO_FD, 0},
    {"bn_train_affine_offset_b4_7", CF_OP_BATCHNORM, BN(1), 1, {{4, 16, 7, 7}}, {{16, 1, 1, 1}, {16, 1, 1, 1}}, OH_OFFSET, T_BN, W_BN, NO_FD, 0},
    {"bn_train_affine_c64_b5_7", CF_OP_BATCHNORM, BN(1), 1, {{5, 64, 7, 7}}, {{64, 1, 1, 1}, {64, 1, 1, 1}}, OH_NORMAL, T_BN, W_BN, NO_FD, 0},
    {"bn_train_plain_b1_7", CF_OP_BATCHNORM, BN(1), 1, {{1, 8, 7, 7}}, NONE, OH_NORMAL, T_BN, W_BN, NO_FD, 0},
    {"bn_train_plain_b5_14", CF_OP_BATCHNORM, BN(1), 1, {{5, 8, 14, 14}}, NONE, OH_NORMAL, T_BN, W_BN, NO_FD, 0},
    {"bn_eval_affine_b5_7", CF_OP_BATCHNORM, BN(0), 1, {{5, 16, 7, 7}}, {{16, 1, 1, 1}, {16, 1, 1, 1}}, OH_NORMAL, T_BN, W_BN, NO_FD, 0},
    {"bn_eval_plain_b1_14", CF_OP_BATCHNORM, BN(0), 1, {{1, 8, 14, 14}}, NONE, OH_NORMAL, T_BN, W_BN, NO_FD, 0},
    /* batch norm + ReLU (cuDNN, the ReLU kernel in place; backward through the masked dy
     * in the workspace): the batch norm rows of `tolerances`, as each side masks by its
     * own output and no draw here puts bn(x) within float rounding of 0 */
    {"bn_relu_train_affine_b5_14", CF_OP_BATCHNORM, BN_RELU(1), 1, {{5, 16, 14, 14}}, {{16, 1, 1, 1}, {16, 1, 1, 1}}, OH_NORMAL, T_BN, W_BN, NO_FD, 0},
    {"bn_relu_train_affine_offset_b4_7", CF_OP_BATCHNORM, BN_RELU(1), 1, {{4, 16, 7, 7}}, {{16, 1, 1, 1}, {16, 1, 1, 1}}, OH_OFFSET, T_BN, W_BN, NO_FD, 0},
    {"bn_relu_train_plain_b1_7", CF_OP_BATCHNORM, BN_RELU(1), 1, {{1, 8, 7, 7}}, NONE, OH_NORMAL, T_BN, W_BN, NO_FD, 0},
    {"bn_relu_eval_affine_b5_7", CF_OP_BATCHNORM, BN_RELU(0), 1, {{5, 16, 7, 7}}, {{16, 1, 1, 1}, {16, 1, 1, 1}}, OH_NORMAL, T_BN, W_BN, NO_FD, 0},
    {"bn_relu_eval_plain_b1_14", CF_OP_BATCHNORM, BN_RELU(0), 1, {{1, 8, 14, 14}}, NONE, OH_NORMAL, T_BN, W_BN, NO_FD, 0},
    /* ReLU and pooling */
    {"relu_b5_7", CF_OP_RELU, NONE, 1, {{5, 8, 7, 7}}, NONE, OH_NORMAL, T_EXACT, W_EXACT, NO_FD, 0},
    {"avgpool_k3s1p1_b5_14", CF_OP_AVGPOOL2D, SQPOOL(3, 1, 1), 1, {{5, 8, 14, 14}}, NONE, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"avgpool_k3s2p1_b2_15", CF_OP_AVGPOOL2D, SQPOOL(3, 2, 1), 1, {{2, 8, 15, 15}}, NONE, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"avgpool_k3s2p1_b1_14", CF_OP_AVGPOOL2D, SQPOOL(3, 2, 1), 1, {{1, 4, 14, 14}}, NONE, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"avgpool_k2s2p0_b1_7", CF_OP_AVGPOOL2D, SQPOOL(2, 2, 0), 1, {{1, 4, 7, 7}}, NONE, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"maxpool_k3s1p1_b5_14", CF_OP_MAXPOOL2D, SQPOOL(3, 1, 1), 1, {{5, 8, 14, 14}}, NONE, OH_SPACED, T_EXACT, W_SPACED, NO_FD, 0},
    {"maxpool_k3s2p1_b2_15", CF_OP_MAXPOOL2D, SQPOOL(3, 2, 1), 1, {{2, 8, 15, 15}}, NONE, OH_SPACED, T_EXACT, W_SPACED, NO_FD, 0},
    {"maxpool_k3s2p1_b1_14", CF_OP_MAXPOOL2D, SQPOOL(3, 2, 1), 1, {{1, 4, 14, 14}}, NONE, OH_SPACED, T_EXACT, W_SPACED, NO_FD, 0},
    {"maxpool_k2s2p0_b1_7", CF_OP_MAXPOOL2D, SQPOOL(2, 2, 0), 1, {{1, 4, 7, 7}}, NONE, OH_SPACED, T_EXACT, W_SPACED, NO_FD, 0},
    {"global_avgpool_b5_7", CF_OP_GLOBAL_AVGPOOL, NONE, 1, {{5, 16, 7, 7}}, NONE, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"global_avgpool_b1_14", CF_OP_GLOBAL_AVGPOOL, NONE, 1, {{1, 8, 14, 14}}, NONE, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"global_avgpool_1x1_b2", CF_OP_GLOBAL_AVGPOOL, NONE, 1, {{2, 4, 1, 1}}, NONE, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    /* linear layers: (N, C, H, W) read as (N, C*H*W) */
    {"linear_bias_b5_64", CF_OP_LINEAR, NONE, 1, {{5, 64, 1, 1}}, {{10, 64, 1, 1}, {10, 1, 1, 1}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"linear_flat_b1_16x3x3", CF_OP_LINEAR, NONE, 1, {{1, 16, 3, 3}}, {{10, 144, 1, 1}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"linear_flat_bias_b5_8x7x7", CF_OP_LINEAR, NONE, 1, {{5, 8, 7, 7}}, {{10, 392, 1, 1}, {10, 1, 1, 1}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    /* element-wise and data movement */
    {"sum1_b2_7", CF_OP_SUM, NONE, 1, {{2, 4, 7, 7}}, NONE, OH_NORMAL, T_EXACT, W_EXACT, NO_FD, 0},
    {"sum2_b5_14", CF_OP_SUM, NONE, 2, {{5, 8, 14, 14}, {5, 8, 14, 14}}, NONE, OH_NORMAL, T_EXACT, W_EXACT, NO_FD, 0},
    {"sum3_b1_7", CF_OP_SUM, NONE, 3, {{1, 4, 7, 7}, {1, 4, 7, 7}, {1, 4, 7, 7}}, NONE, OH_NORMAL, T_EXACT, W_EXACT, NO_FD, 0},
    {"sum4_b2_7", CF_OP_SUM, NONE, 4, {{2, 3, 7, 7}, {2, 3, 7, 7}, {2, 3, 7, 7}, {2, 3, 7, 7}}, NONE, OH_NORMAL, T_EXACT, W_EXACT, NO_FD, 0},
    {"sum2_same_input_twice", CF_OP_SUM, NONE, 2, {{2, 4, 7, 7}, {2, 4, 7, 7}}, NONE, OH_NORMAL, T_ACC, W_SUM3, NO_FD, 1},
    {"sum3_x0_x1_x0", CF_OP_SUM, NONE, 3, {{5, 3, 7, 7}, {5, 3, 7, 7}, {5, 3, 7, 7}}, NONE, OH_NORMAL, T_ACC, W_SUM3, NO_FD, 1},
    {"mix2_b1_7", CF_OP_MIX, NONE, 2, {{1, 16, 7, 7}, {1, 16, 7, 7}}, {{2, 1, 1, 1}}, OH_NORMAL, T_MIX, W_MIX, NO_FD, 0},
    {"mix8_b5_14", CF_OP_MIX, NONE, 8, {{5, 8, 14, 14}, {5, 8, 14, 14}, {5, 8, 14, 14}, {5, 8, 14, 14}, {5, 8, 14, 14}, {5, 8, 14, 14}, {5, 8, 14, 14}, {5, 8, 14, 14}}, {{8, 1, 1, 1}}, OH_NORMAL, T_MIX, W_MIX, NO_FD, 0},
    {"mix5_null1_null4_b2_15", CF_OP_MIX, NONE, 5, {{2, 8, 15, 15}, {0}, {2, 8, 15, 15}, {2, 8, 15, 15}, {0}}, {{5, 1, 1, 1}}, OH_NORMAL, T_MIX, W_MIX, NO_FD, 0},
    /* 100352 elements: more blocks than the partial sums hold per input, so blocks loop */
    {"mix8_null0_null5_b8_28", CF_OP_MIX, NONE, 8, {{0}, {8, 16, 28, 28}, {8, 16, 28, 28}, {8, 16, 28, 28}, {8, 16, 28, 28}, {0}, {8, 16, 28, 28}, {8, 16, 28, 28}}, {{8, 1, 1, 1}}, OH_NORMAL, T_MIX, W_MIX, NO_FD, 0},
    {"mix3_x0_x1_x0_b5_7", CF_OP_MIX, NONE, 3, {{5, 4, 7, 7}, {5, 4, 7, 7}, {5, 4, 7, 7}}, {{3, 1, 1, 1}}, OH_NORMAL, T_MIX, W_MIX, NO_FD, 1},
    {"zero_s1_b2_7", CF_OP_ZERO, {.zero = {.stride = 1}}, 1, {{2, 4, 7, 7}}, NONE, OH_NORMAL, T_EXACT, W_EXACT, NO_FD, 0},
    {"zero_s2_b5_7", CF_OP_ZERO, {.zero = {.stride = 2}}, 1, {{5, 3, 7, 7}}, NONE, OH_NORMAL, T_EXACT, W_EXACT, NO_FD, 0},
    {"zero_s2_b1_14", CF_OP_ZERO, {.zero = {.stride = 2}}, 1, {{1, 8, 14, 14}}, NONE, OH_NORMAL, T_EXACT, W_EXACT, NO_FD, 0},
    {"zero_s2_b2_15x9", CF_OP_ZERO, {.zero = {.stride = 2}}, 1, {{2, 3, 15, 9}}, NONE, OH_NORMAL, T_EXACT, W_EXACT, NO_FD, 0},
    {"identity_b5_7", CF_OP_IDENTITY, NONE, 1, {{5, 8, 7, 7}}, NONE, OH_NORMAL, T_EXACT, W_EXACT, NO_FD, 0},
    {"concat2_b2_7", CF_OP_CONCAT, NONE, 2, {{2, 4, 7, 7}, {2, 8, 7, 7}}, NONE, OH_NORMAL, T_EXACT, W_EXACT, NO_FD, 0},
    {"concat3_b5_14", CF_OP_CONCAT, NONE, 3, {{5, 3, 14, 14}, {5, 8, 14, 14}, {5, 5, 14, 14}}, NONE, OH_NORMAL, T_EXACT, W_EXACT, NO_FD, 0},
    {"concat3_b1_7", CF_OP_CONCAT, NONE, 3, {{1, 2, 7, 7}, {1, 3, 7, 7}, {1, 4, 7, 7}}, NONE, OH_NORMAL, T_EXACT, W_EXACT, NO_FD, 0},
    {"slice_channels_b2_7", CF_OP_SLICE, {.slice = {.c0 = 2, .c = 4, .top = 0, .h = 7, .left = 0, .w = 7}}, 1, {{2, 8, 7, 7}}, NONE, OH_NORMAL, T_EXACT, W_EXACT, NO_FD, 0},
    {"slice_shift_b5_14", CF_OP_SLICE, {.slice = {.c0 = 1, .c = 2, .top = 1, .h = 13, .left = 1, .w = 13}}, 1, {{5, 4, 14, 14}}, NONE, OH_NORMAL, T_EXACT, W_EXACT, NO_FD, 0},
    {"slice_window_b1_15", CF_OP_SLICE, {.slice = {.c0 = 3, .c = 1, .top = 4, .h = 6, .left = 2, .w = 9}}, 1, {{1, 5, 15, 15}}, NONE, OH_NORMAL, T_EXACT, W_EXACT, NO_FD, 0},
    /* loss: out is a (1) device scalar; dout a device scalar 0.7 */
    {"xent_b7_k10", CF_OP_SOFTMAX_XENT, XENT(0.0), 2, {{7, 10, 1, 1}, {7, 1, 1, 1}}, NONE, OH_NORMAL, T_ACC, W_XENT, NO_FD, 0},
    {"xent_smooth_b5_k10", CF_OP_SOFTMAX_XENT, XENT(0.1), 2, {{5, 10, 1, 1}, {5, 1, 1, 1}}, NONE, OH_NORMAL, T_ACC, W_XENT, NO_FD, 0},
    {"xent_smooth_b1_k100", CF_OP_SOFTMAX_XENT, XENT(0.1), 2, {{1, 100, 1, 1}, {1, 1, 1, 1}}, NONE, OH_NORMAL, T_ACC, W_XENT, NO_FD, 0},
    {"xent_wide_logits_b8_k10", CF_OP_SOFTMAX_XENT, XENT(0.0), 2, {{8, 10, 1, 1}, {8, 1, 1, 1}}, NONE, OH_WIDE, T_ACC, W_XENT, NO_FD, 0},
    {"xent_smooth_wide_b8_k10", CF_OP_SOFTMAX_XENT, XENT(0.1), 2, {{8, 10, 1, 1}, {8, 1, 1, 1}}, NONE, OH_WIDE, T_ACC, W_XENT, NO_FD, 0},
    /* dropout: the mask from the counter RNG, element (offset + i); a far offset and stream
     * exercise 64-bit counters */
    {"dropout_p0.3_b5_7", CF_OP_DROPOUT, {.dropout = {.p = 0.3, .seed = 7, .stream = 11, .offset = 5}}, 1, {{5, 8, 7, 7}}, NONE, OH_NORMAL, T_EXACT, W_DROPOUT, NO_FD, 0},
    {"dropout_p0.3_far_b1_15", CF_OP_DROPOUT,
     {.dropout = {.p = 0.3, .seed = 0x9e3779b97f4a7c15ull, .stream = 0x0000000900000004ull, .offset = (1ull << 33) + 3}},
     1, {{1, 3, 15, 15}}, NONE, OH_NORMAL, T_EXACT, W_DROPOUT, NO_FD, 0},
    /* depthwise convolution (groups == C == OC: kernels/depthwise.cu, not cuDNN), N = 3, C = 5:
     * the 3x3, 5x5 and 7x7 kernels and the general one (3x5), odd and rectangular images */
    {"conv_dw3x3_p1_bias_b3_14", CF_OP_CONV2D, CONV(1, 1, 1, 1, 1, 1, 5), 1, {{3, 5, 14, 14}}, {{5, 1, 3, 3}, {5, 1, 1, 1}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"conv_dw3x3_p1_b3_14", CF_OP_CONV2D, CONV(1, 1, 1, 1, 1, 1, 5), 1, {{3, 5, 14, 14}}, {{5, 1, 3, 3}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"conv_dw5x5_s2_p2_b3_14", CF_OP_CONV2D, CONV(2, 2, 2, 2, 1, 1, 5), 1, {{3, 5, 14, 14}}, {{5, 1, 5, 5}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"conv_dw5x5_s2_p2_bias_b3_15", CF_OP_CONV2D, CONV(2, 2, 2, 2, 1, 1, 5), 1, {{3, 5, 15, 15}}, {{5, 1, 5, 5}, {5, 1, 1, 1}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"conv_dw3x3_dil2_p2_b3_14", CF_OP_CONV2D, CONV(1, 1, 2, 2, 2, 2, 5), 1, {{3, 5, 14, 14}}, {{5, 1, 3, 3}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"conv_dw3x3_dil2_p2_bias_9x7", CF_OP_CONV2D, CONV(1, 1, 2, 2, 2, 2, 5), 1, {{3, 5, 9, 7}}, {{5, 1, 3, 3}, {5, 1, 1, 1}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"conv_dw7x7_p3_b3_14", CF_OP_CONV2D, CONV(1, 1, 3, 3, 1, 1, 5), 1, {{3, 5, 14, 14}}, {{5, 1, 7, 7}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"conv_dw7x7_p3_bias_b3_9x7", CF_OP_CONV2D, CONV(1, 1, 3, 3, 1, 1, 5), 1, {{3, 5, 9, 7}}, {{5, 1, 7, 7}, {5, 1, 1, 1}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"conv_dw3x3_s2_p1_b3_9x7", CF_OP_CONV2D, CONV(2, 2, 1, 1, 1, 1, 5), 1, {{3, 5, 9, 7}}, {{5, 1, 3, 3}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"conv_dw3x3_s2_p1_bias_b3_9x7", CF_OP_CONV2D, CONV(2, 2, 1, 1, 1, 1, 5), 1, {{3, 5, 9, 7}}, {{5, 1, 3, 3}, {5, 1, 1, 1}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"conv_dw3x5_s2x1_p1x4_d1x2_9x7", CF_OP_CONV2D, CONV(2, 1, 1, 4, 1, 2, 5), 1, {{3, 5, 9, 7}}, {{5, 1, 3, 5}, {5, 1, 1, 1}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
    {"conv_dw1x1_b3_7", CF_OP_CONV2D, CONV(1, 1, 0, 0, 1, 1, 5), 1, {{3, 5, 7, 7}}, {{5, 1, 1, 1}}, OH_NORMAL, T_ACC, W_ACC, NO_FD, 0},
};

const size_t oh_n_cases = sizeof oh_cases / sizeof oh_cases[0];
