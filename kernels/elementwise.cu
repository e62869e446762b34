/* elementwise.cu - ReLU, scale, add-into, sum, window copy (concat, slice)
 * and global average pooling on the GPU, each a grid-stride loop with a
 * 64-bit index. Where the CPU reference (src/backend/cpu/ref_elementwise.c,
 * ref_pool.c) accumulates in double, so do these, in the same order, so the
 * floats come out the same. tests/test_cuda_ops.c (label gpu) tests every
 * kernel here against the CPU reference op. */
#include "elementwise.h"

#include "launch.cuh"

static __global__ void relu_forward_kernel(const float *x, float *y, size_t n) {
    CF_KERNEL_FOR(i, n) {
        float v = x[i];
        y[i] = v > 0.0f ? v : 0.0f;
    }
}

extern "C" cf_status cf_kernel_relu_forward(const float *x, float *y, size_t n, cudaStream_t stream) {
    if (n == 0) return CF_OK;
    relu_forward_kernel<<<cf_kernel_blocks(n), CF_KERNEL_THREADS, 0, stream>>>(x, y, n);
    return CF_KERNEL_LAUNCHED("relu_forward");
}

static __global__ void relu_backward_kernel(const float *x, const float *dy, float *dx, size_t n, int assign) {
    CF_KERNEL_FOR(i, n) {
        bool pass = x[i] > 0.0f; /* the gradient at 0 is 0, as in PyTorch */
        if (assign) dx[i] = pass ? dy[i] : 0.0f;
        else if (pass) dx[i] = __fadd_rn(dx[i], dy[i]);
    }
}

extern "C" cf_status cf_kernel_relu_backward(const float *x, const float *dy, float *dx, size_t n, int assign,
                                             cudaStream_t stream) {
    if (n == 0) return CF_OK;
    relu_backward_kernel<<<cf_kernel_blocks(n), CF_KERNEL_THREADS, 0, stream>>>(x, dy, dx, n, assign);
    return CF_KERNEL_LAUNCHED("relu_backward");
}

static __global__ void scale_kernel(float *x, size_t n, float a) {
    CF_KERNEL_FOR(i, n) x[i] = __fmul_rn(x[i], a);
}

extern "C" cf_status cf_kernel_scale(float *x, size_t n, float a, cudaStream_t stream) {
    if (n == 0) return CF_OK;
    scale_kernel<<<cf_kernel_blocks(n), CF_KERNEL_THREADS, 0, stream>>>(x, n, a);
    return CF_KERNEL_LAUNCHED("scale");
}

static __global__ void add_kernel(float *y, const float *x, size_t n) {
    CF_KERNEL_FOR(i, n) y[i] = __fadd_rn(y[i], x[i]);
}

extern "C" cf_status cf_kernel_add(float *y, const float *x, size_t n, cudaStream_t stream) {
    if (n == 0) return CF_OK;
    add_kernel<<<cf_kernel_blocks(n), CF_KERNEL_THREADS, 0, stream>>>(y, x, n);
    return CF_KERNEL_LAUNCHED("add");
}

/* The input pointers travel by value in the kernel's parameters. */
typedef struct sum_inputs {
    const float *x[CF_KERNEL_SUM_MAX];
} sum_inputs;

static __global__ void sum_kernel(float *y, sum_inputs in, int k, size_t n) {
    CF_KERNEL_FOR(i, n) {
        double acc = 0.0;
        for (int j = 0; j < k; j++) acc += (double)in.x[j][i];
        y[i] = (float)acc;
    }
}

extern "C" cf_status cf_kernel_sum(float *y, const float *const *x, int k, size_t n, cudaStream_t stream) {
    if (k < 1 || k > CF_KERNEL_SUM_MAX)
        CF_FAIL(CF_ERR_INVALID_ARG, "sum kernel: %d inputs, it takes 1..%d", k, CF_KERNEL_SUM_MAX);
    if (n == 0) return CF_OK;
    sum_inputs in = {};
    for (int j = 0; j < k; j++) in.x[j] = x[j];
    sum_kernel<<<cf_kernel_blocks(n), CF_KERNEL_THREADS, 0, stream>>>(y, in, k, n);
    return CF_KERNEL_LAUNCHED("sum");
}

static __global__ void window_copy_kernel(float *dst, cf_kernel_window dw, const float *src, cf_kernel_window sw,
                                          int64_t wc, int64_t wh, int64_t ww, size_t total, int add) {
    CF_KERNEL_FOR(i, total) {
        int64_t r = (int64_t)i;
        const int64_t w = r % ww;
        r /= ww;
        const int64_t h = r % wh;
        r /= wh;
        const int64_t c = r % wc;
        const int64_t n = r / wc;
        const int64_t s = ((n * sw.c + sw.c0 + c) * sw.h + sw.top + h) * sw.w + sw.left + w;
        const int64_t d = ((n * dw.c + dw.c0 + c) * dw.h + dw.top + h) * dw.w + dw.left + w;
        dst[d] = add ? __fadd_rn(dst[d], src[s]) : src[s];
    }
}

extern "C" cf_status cf_kernel_window_copy(float *dst, cf_kernel_window dw, const float *src, cf_kernel_window sw,
                                           int64_t N, int64_t wc, int64_t wh, int64_t ww, int add,
                                           cudaStream_t stream) {
    if (N <= 0 || wc <= 0 || wh <= 0 || ww <= 0) return CF_OK;
    const size_t total = (size_t)N * (size_t)wc * (size_t)wh * (size_t)ww;
    window_copy_kernel<<<cf_kernel_blocks(total), CF_KERNEL_THREADS, 0, stream>>>(dst, dw, src, sw, wc, wh, ww,
                                                                                  total, add);
    return CF_KERNEL_LAUNCHED("window_copy");
}

/* One thread per (n, c) row: the reference's sequential double sum, bit for bit. */
static __global__ void global_avgpool_forward_kernel(const float *x, float *y, size_t rows, size_t hw) {
    CF_KERNEL_FOR(r, rows) {
        const float *v = x + r * hw;
        double sum = 0.0;
        for (size_t j = 0; j < hw; j++) sum += (double)v[j];
        y[r] = (float)(sum / (double)hw);
    }
}

extern "C" cf_status cf_kernel_global_avgpool_forward(const float *x, float *y, size_t rows, size_t hw,
                                                      cudaStream_t stream) {
    if (rows == 0 || hw == 0) return CF_OK;
    global_avgpool_forward_kernel<<<cf_kernel_blocks(rows), CF_KERNEL_THREADS, 0, stream>>>(x, y, rows, hw);
    return CF_KERNEL_LAUNCHED("global_avgpool_forward");
}

static __global__ void global_avgpool_backward_kernel(const float *dy, float *dx, size_t rows, size_t hw) {
    CF_KERNEL_FOR(i, rows * hw) {
        const float share = (float)((double)dy[i / hw] / (double)hw);
        dx[i] = __fadd_rn(dx[i], share);
    }
}

extern "C" cf_status cf_kernel_global_avgpool_backward(const float *dy, float *dx, size_t rows, size_t hw,
                                                       cudaStream_t stream) {
    if (rows == 0 || hw == 0) return CF_OK;
    global_avgpool_backward_kernel<<<cf_kernel_blocks(rows * hw), CF_KERNEL_THREADS, 0, stream>>>(dy, dx, rows,
                                                                                                 hw);
    return CF_KERNEL_LAUNCHED("global_avgpool_backward");
}
