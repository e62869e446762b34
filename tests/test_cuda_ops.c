/* test_cuda_ops.c - (gpu) every case of the shared op table on the CUDA
 * backend against the CPU reference.
 *
 * Each case of op_cases.c draws its inputs, weights, state and output gradient
 * once as f32, runs on the reference in f64 (the f32 values promoted: the most
 * exact answer those inputs have) and on the GPU in f32 through op_harness.c
 * (forward into NaN, backward added into pre-filled din and assigned over
 * NaN, state, dropout masks, inputs unchanged), and compares every tensor by
 * normalized error max|gpu - ref| / max(1e-6, max|ref|) against the bound of
 * its (op, output) row in `tolerances`, which says why it is that value.
 * Convolutions run again on a deterministic instance, twice, which must give
 * the same bits both times; so does a mix on the first instance (its
 * coefficient gradients are block reductions in a fixed order). Depthwise
 * convolutions run on our kernels (kernels/depthwise.cu) on the first
 * instance and on cuDNN on the deterministic one.
 *
 * Every case runs again in bf16 and in f16 on the first instance against
 * the reference in the same dtype (gpu_bound_bf16 says why the bounds).
 *
 * Exits 77 (skipped) in a build without CUDA or on a machine without a GPU.
 *
 *   ./test_cuda_ops          every case, one line each with its errors
 *   ./test_cuda_ops conv     only the cases whose name contains "conv"
 */
#include <stdlib.h>
#include <string.h>

#include "cellforge/backend.h"
#include "check.h"
#include "cuda_test.h"
#include "op_harness.h"

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
    {CF_OP_MIX, "out", 1e-7, "the reference's double sum in its order, rounded once to f32: half an ulp"},
    {CF_OP_MIX, "din", 5e-7, "coef * dy rounded to f32, then one f32 add (run +): two roundings of values up to "
                             "the result's size"},
    {CF_OP_MIX, "dw0", 1e-6, "a double sum of <= 100352 products in block order, rounded to f32 and added onto "
                             "dw: two roundings"},
};

static oh_bound gpu_bound(const oh_case *c, const char *what) {
    for (size_t i = 0; i < sizeof tolerances / sizeof tolerances[0]; i++)
        if (tolerances[i].kind == c->kind && strcmp(tolerances[i].what, what) == 0)
            return (oh_bound){tolerances[i].tol, tolerances[i].why};
    return (oh_bound){-1.0, "no row"};
}

/* 16-bit runs (mixed precision) are held to the reference in the same dtype,
 * which widens the 16-bit values, runs the f32 op and rounds what it writes
 * once (ops.h): the GPU computes in f32 from the same 16-bit values and rounds
 * once too, so its f32-level difference (the row's bound) can move a rounding
 * by one 16-bit unit at the largest value, 2^-7 (bf16) or 2^-10 (f16). */
static oh_bound gpu_bound_bf16(const oh_case *c, const char *what) {
    oh_bound b = gpu_bound(c, what);
    if (b.tol >= 0) b = (oh_bound){b.tol + 0x1p-7, "bf16: the f32 row plus one unit in the last place"};
    return b;
}

static oh_bound gpu_bound_f16(const oh_case *c, const char *what) {
    oh_bound b = gpu_bound(c, what);
    if (b.tol >= 0) b = (oh_bound){b.tol + 0x1p-10, "f16: the f32 row plus one unit in the last place"};
    return b;
}

static cf_backend *gpu, *gpu_det;

/* The same bits in two runs of one instance. */
static void check_same_bits(const oh_case *c, const char *label, const oh_result *r1, const oh_result *r2) {
    for (int i = 0; i < r1->n && i < r2->n; i++)
        CHECK(memcmp(r1->t[i].v, r2->t[i].v, (size_t)r1->t[i].len * sizeof(double)) == 0,
              "%s: %s: %s differs between two runs", c->name, label, r1->t[i].name);
}

static void check_case(const oh_case *c) {
    const oh_target t[2] = {
        {"cuda", gpu, CF_DTYPE_F32, CF_DTYPE_F64, gpu_bound},
        {"cuda det", gpu_det, CF_DTYPE_F32, CF_DTYPE_F64, gpu_bound},
    };
    /* convolution algorithms are where determinism is chosen: they run on both
     * instances and again on the deterministic one; a mix's coefficient
     * gradients are reduced in a fixed order on any instance: again on the first */
    const int n = c->kind == CF_OP_CONV2D && gpu_det ? 2 : 1;
    const cf_backend *twice = c->kind == CF_OP_CONV2D ? gpu_det : c->kind == CF_OP_MIX ? gpu : NULL;
    oh_data d;
    oh_result got[2], again = {0};
    oh_data_make(&d, c);
    if (oh_check_case(c, &d, t, n, got, 1) == n && twice) {
        const cf_status st = oh_run_on(twice, CF_DTYPE_F32, c, &d, &again);
        CHECK(st == CF_OK, "%s: second GPU run: %s: %s", c->name, cf_status_name(st), cf_error_message());
        if (st == CF_OK) check_same_bits(c, t[n - 1].label, &got[n - 1], &again);
    }
    for (int k = 0; k < n; k++) oh_result_free(&got[k]);
    oh_result_free(&again);
    const oh_target half[2] = {
        {"cuda bf16", gpu, CF_DTYPE_BF16, CF_DTYPE_BF16, gpu_bound_bf16},
        {"cuda f16", gpu, CF_DTYPE_F16, CF_DTYPE_F16, gpu_bound_f16},
    };
    oh_check_case(c, &d, half, 2, NULL, 1);
    oh_data_free(&d);
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
    CHECK(strcmp(cf_backend_name(gpu), "cuda") == 0, "backend name is %s", cf_backend_name(gpu));
    CHECK(cf_backend_device(gpu).kind == CF_DEVICE_CUDA && cf_backend_device(gpu).index == 0,
          "backend device is %d:%d", (int)cf_backend_device(gpu).kind, cf_backend_device(gpu).index);

    printf("normalized error max|gpu - ref| / max|ref| per tensor; +: backward added into pre-filled din, "
           "=: din_assign over NaN (dw adds in both)\n");
    oh_check_table();
    size_t ran = 0;
    for (size_t i = 0; i < oh_n_cases; i++)
        if (!only || strstr(oh_cases[i].name, only)) check_case(&oh_cases[i]), ran++;
    printf("%zu of %zu table cases\n", ran, oh_n_cases);

    /* the GPU runs every kind */
    for (int k = 0; k < CF_OP_COUNT; k++)
        CHECK(cf_backend_supports(gpu, (cf_op_kind)k), "cuda does not support %s", cf_op_name((cf_op_kind)k));
    cf_backend_cuda_destroy(gpu_det);
    cf_backend_cuda_destroy(gpu);
    return test_finish("test_cuda_ops");
}
