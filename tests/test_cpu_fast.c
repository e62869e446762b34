/* test_cpu_fast.c - the fast CPU backend against the reference backend.
 *
 * Every case of the shared op table (op_cases.c, run by op_harness.c) runs on
 * fast instances with 1, 2 and 3 threads and on the reference in f32, from the
 * same seeded inputs, and every output, gradient (added into pre-filled din
 * and assigned over NaN) and batch-norm state is compared by normalized error
 * against the case's bound. Then: instances with 1 and 3 threads agree, a
 * second backward doubles the gradients, f64 calls fall back to the reference
 * bit for bit, and the fast backend's own cases: a strided view, max pooling
 * with NaN and ties, two instances running at once on two threads.
 *
 *   ./test_cpu_fast            run every case
 *   ./test_cpu_fast -v         also print each case's errors
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cellforge/backend.h"
#include "cellforge/rng.h"
#include "check.h"
#include "op_harness.h"

static cf_backend *fast1, *fast2, *fast3;

/* f64 tensors take the reference ops: results equal bit for bit. */
static oh_bound bit_exact(const oh_case *c, const char *what) {
    (void)c, (void)what;
    return (oh_bound){0.0, "f64 runs the reference op: the same bits"};
}

static void check_case(const oh_case *c, int verbose) {
    const oh_target t[3] = {
        {"1 thread", fast1, CF_DTYPE_F32, CF_DTYPE_F32, oh_case_bound},
        {"2 threads", fast2, CF_DTYPE_F32, CF_DTYPE_F32, oh_case_bound},
        {"3 threads", fast3, CF_DTYPE_F32, CF_DTYPE_F32, oh_case_bound},
    };
    oh_data d;
    oh_result got[3];
    oh_data_make(&d, c);
    if (oh_check_case(c, &d, t, 3, got, verbose) == 3) /* instances with different thread counts agree */
        oh_compare(c, "1 vs 3 threads", &got[0], &got[2], oh_case_bound, NULL, 0);
    for (int k = 0; k < 3; k++) oh_result_free(&got[k]);
    oh_check_accumulates(c, fast2, CF_DTYPE_F32, 1e-6);
    oh_data_free(&d);
}

static void check_f64_fallback(const char *name) {
    const oh_case *c = oh_find_case(name);
    const oh_target t = {"f64", fast2, CF_DTYPE_F64, CF_DTYPE_F64, bit_exact};
    oh_data d;
    CF_ASSERT(c != NULL);
    oh_data_make(&d, c);
    oh_check_case(c, &d, &t, 1, NULL, 0);
    oh_data_free(&d);
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
    oh_side s;
    const oh_data *d;
    oh_result r;
    cf_status st;
} job;

static void *job_run(void *arg) {
    job *j = arg;
    for (int k = 0; k < 20 && j->st == CF_OK; k++) {
        oh_result_free(&j->r);
        j->st = oh_side_run(&j->s, oh_find_case("conv3x3_p1_c16_b5_28"), j->d, &j->r);
    }
    return NULL;
}

static void check_concurrent(void) {
    const oh_case *c = oh_find_case("conv3x3_p1_c16_b5_28"); /* the GEMM path with workspaces */
    cf_backend *b[2] = {NULL, NULL};
    CHECK_OK(cf_backend_cpu_fast_create(1, &b[0]));
    CHECK_OK(cf_backend_cpu_fast_create(2, &b[1]));
    if (!b[0] || !b[1]) return;
    oh_data d;
    oh_data_make(&d, c);
    job j[2];
    pthread_t t[2];
    for (int k = 0; k < 2; k++) {
        memset(&j[k], 0, sizeof j[k]);
        j[k].d = &d;
        j[k].st = oh_side_setup(&j[k].s, c, b[k], CF_DTYPE_F32);
        CHECK(pthread_create(&t[k], NULL, job_run, &j[k]) == 0, "pthread_create");
    }
    for (int k = 0; k < 2; k++) pthread_join(t[k], NULL);
    oh_result want = {0};
    CHECK_OK(oh_run_on(fast1, CF_DTYPE_F32, c, &d, &want));
    for (int k = 0; k < 2; k++) {
        CHECK(j[k].st == CF_OK, "concurrent run %d failed: %s", k, cf_error_message());
        oh_compare(c, k ? "concurrent, 2 threads" : "concurrent, 1 thread", &j[k].r, &want, oh_case_bound, NULL, 0);
        oh_result_free(&j[k].r);
        oh_side_free(&j[k].s);
    }
    oh_result_free(&want);
    oh_data_free(&d);
    cf_backend_cpu_fast_destroy(b[0]);
    cf_backend_cpu_fast_destroy(b[1]);
}

int main(int argc, char **argv) {
    const int verbose = argc > 1 && strcmp(argv[1], "-v") == 0;
    CHECK_OK(cf_backend_cpu_fast_create(1, &fast1));
    CHECK_OK(cf_backend_cpu_fast_create(2, &fast2));
    CHECK_OK(cf_backend_cpu_fast_create(3, &fast3));
    if (!fast1 || !fast2 || !fast3) return test_finish("test_cpu_fast");
    CHECK(strcmp(cf_backend_name(fast1), "cpu-fast") == 0, "backend name is %s", cf_backend_name(fast1));

    oh_check_table();
    for (size_t i = 0; i < oh_n_cases; i++) check_case(&oh_cases[i], verbose);
    check_f64_fallback("conv3x3_p1_bias_b7_odd");
    check_f64_fallback("bn_train_affine_b7");
    check_strided_fallback();
    check_maxpool_nan();
    check_concurrent();
    printf("%zu table cases on 3 instances, 2 f64 fallbacks, 3 backend cases\n", oh_n_cases);

    /* the backend supports every kind */
    for (int k = 0; k < CF_OP_COUNT; k++)
        CHECK(cf_backend_supports(fast1, (cf_op_kind)k), "cpu-fast does not support %s", cf_op_name((cf_op_kind)k));
    cf_backend_cpu_fast_destroy(fast1);
    cf_backend_cpu_fast_destroy(fast2);
    cf_backend_cpu_fast_destroy(fast3);
    cf_backend_cpu_fast_destroy(NULL);
    return test_finish("test_cpu_fast");
}
