/* elementwise.cu - ReLU, scale, add-into, sum, window copy (concat, slice)
 * and global average pooling on the GPU, each a grid-stride loop with a
 * 64-bit index. Where the CPU reference (src/backend/cpu/ref_elementwise.c,
 * ref_pool.c) accumulates in double, so do these, in the same order, so the
 * floats come out the same. The op kernels are templated on the storage (f32,
 * bf16, f16; launch.cuh): 16-bit values are computed in f32 and rounded once
 * when written, which is the CPU reference's 16-bit rule. tests/test_cuda_ops.c
 * (label gpu) tests every kernel here against the CPU reference op. */
#include "elementwise.h"

#include "launch.cuh"

template <typename T> static __global__ void relu_forward_kernel(const T *x, T *y, size_t n) {
    CF_KERNEL_FOR(i, n) {
        float v = cf_ld(x[i]);
        y[i] = cf_st<T>(v > 0.0f ? v : 0.0f);
    }
}

extern "C" cf_status cf_kernel_relu_forward(const void *x, void *y, cf_dtype dt, size_t n, cudaStream_t stream) {
    if (n == 0) return CF_OK;
    CF_KERNEL_DTYPE(dt, "relu_forward",
                    (relu_forward_kernel<T><<<cf_kernel_blocks(n), CF_KERNEL_THREADS, 0, stream>>>((const T *)x,
                                                                                                  (T *)y, n)));
    return CF_KERNEL_LAUNCHED("relu_forward");
}

template <typename T>
static __global__ void relu_backward_kernel(const T *x, const T *dy, T *dx, size_t n, int assign) {
    CF_KERNEL_FOR(i, n) {
        bool pass = cf_ld(x[i]) > 0.0f; /* the gradient at 0 is 0, as in PyTorch */
        if (assign) dx[i] = pass ? dy[i] : cf_st<T>(0.0f);
        else if (pass) dx[i] = cf_st<T>(__fadd_rn(cf_ld(dx[i]), cf_ld(dy[i])));
    }
}

extern "C" cf_status cf_kernel_relu_backward(const void *x, const void *dy, void *dx, cf_dtype dt, size_t n,
                                             int assign, cudaStream_t stream) {
    if (n == 0) return CF_OK;
    CF_KERNEL_DTYPE(dt, "relu_backward",
                    (relu_backward_kernel<T><<<cf_kernel_blocks(n), CF_KERNEL_THREADS, 0, stream>>>(
                        (const T *)x, (const T *)dy, (T *)dx, n, assign)));
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
    const void *x[CF_KERNEL_SUM_MAX];
} sum_inputs;

template <typename T> static __global__ void sum_kernel(T *y, sum_inputs in, int k, size_t n) {
    CF_KERNEL_FOR(i, n) {
        double acc = 0.0;
        for (int j = 0; j < k; j++) acc += (double)cf_ld(((const T *)in.x[j])[i]);
        y[i] = cf_st<T>((float)acc);
    }
}

extern "C" cf_status cf_kernel_sum(void *y, const void *const *x, cf_dtype dt, int k, size_t n, cudaStream_t stream) {
    if (k < 1 || k > CF_KERNEL_SUM_MAX)
        CF_FAIL(CF_ERR_INVALID_ARG, "sum kernel: %d inputs, it takes 1..%d", k, CF_KERNEL_SUM_MAX);
    if (n == 0) return CF_OK;
    sum_inputs in = {};
    for (int j = 0; j < k; j++) in.x[j] = x[j];
    CF_KERNEL_DTYPE(dt, "sum", (sum_kernel<T><<<cf_kernel_blocks(n), CF_KERNEL_THREADS, 0, stream>>>((T *)y, in, k, n)));
    return CF_KERNEL_LAUNCHED("sum");
}

template <typename T>
static __global__ void window_copy_kernel(T *dst, cf_kernel_window dw, const T *src, cf_kernel_window sw, int64_t wc,
                                          int64_t wh, int64_t ww, size_t total, int add) {
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
        dst[d] = add ? cf_st<T>(__fadd_rn(cf_ld(dst[d]), cf_ld(src[s]))) : src[s];
    }
}

extern "C" cf_status cf_kernel_window_copy(void *dst, cf_kernel_window dw, const void *src, cf_kernel_window sw,
                                           cf_dtype dt, int64_t N, int64_t wc, int64_t wh, int64_t ww, int add,
                                           cudaStream_t stream) {
    if (N <= 0 || wc <= 0 || wh <= 0 || ww <= 0) return CF_OK;
    const size_t total = (size_t)N * (size_t)wc * (size_t)wh * (size_t)ww;
    CF_KERNEL_DTYPE(dt, "window_copy",
                    (window_copy_kernel<T><<<cf_kernel_blocks(total), CF_KERNEL_THREADS, 0, stream>>>(
                        (T *)dst, dw, (const T *)src, sw, wc, wh, ww, total, add)));
    return CF_KERNEL_LAUNCHED("window_copy");
}

/* One thread per (n, c) row: the reference's sequential double sum, bit for bit. */
template <typename T> static __global__ void global_avgpool_forward_kernel(const T *x, T *y, size_t rows, size_t hw) {
    CF_KERNEL_FOR(r, rows) {
        const T *v = x + r * hw;
        double sum = 0.0;
        for (size_t j = 0; j < hw; j++) sum += (double)cf_ld(v[j]);
        y[r] = cf_st<T>((float)(sum / (double)hw));
    }
}

extern "C" cf_status cf_kernel_global_avgpool_forward(const void *x, void *y, cf_dtype dt, size_t rows, size_t hw,
                                                      cudaStream_t stream) {
    if (rows == 0 || hw == 0) return CF_OK;
    CF_KERNEL_DTYPE(dt, "global_avgpool_forward",
                    (global_avgpool_forward_kernel<T><<<cf_kernel_blocks(rows), CF_KERNEL_THREADS, 0, stream>>>(
                        (const T *)x, (T *)y, rows, hw)));
    return CF_KERNEL_LAUNCHED("global_avgpool_forward");
}

template <typename T>
static __global__ void global_avgpool_backward_kernel(const T *dy, T *dx, size_t rows, size_t hw) {
    CF_KERNEL_FOR(i, rows * hw) {
        const float share = (float)((double)cf_ld(dy[i / hw]) / (double)hw);
        dx[i] = cf_st<T>(__fadd_rn(cf_ld(dx[i]), share));
    }
}

extern "C" cf_status cf_kernel_global_avgpool_backward(const void *dy, void *dx, cf_dtype dt, size_t rows, size_t hw,
                                                       cudaStream_t stream) {
    if (rows == 0 || hw == 0) return CF_OK;
    CF_KERNEL_DTYPE(dt, "global_avgpool_backward",
                    (global_avgpool_backward_kernel<T><<<cf_kernel_blocks(rows * hw), CF_KERNEL_THREADS, 0, stream>>>(
                        (const T *)dy, (T *)dx, rows, hw)));
    return CF_KERNEL_LAUNCHED("global_avgpool_backward");
}

/* ---- mixed precision: the weights' 16-bit copy, its gradients, the linear bias ---- */

template <typename T> static __global__ void narrow_kernel(T *dst, const float *src, size_t n) {
    CF_KERNEL_FOR(i, n) dst[i] = cf_st<T>(src[i]);
}

extern "C" cf_status cf_kernel_narrow(void *dst, cf_dtype dt, const float *src, size_t n, cudaStream_t stream) {
    if (n == 0) return CF_OK;
    CF_KERNEL_DTYPE(dt, "narrow",
                    (narrow_kernel<T><<<cf_kernel_blocks(n), CF_KERNEL_THREADS, 0, stream>>>((T *)dst, src, n)));
    return CF_KERNEL_LAUNCHED("narrow");
}

template <typename T> static __global__ void widen_add_kernel(float *dst, const T *src, size_t n) {
    CF_KERNEL_FOR(i, n) dst[i] = __fadd_rn(dst[i], cf_ld(src[i]));
}

extern "C" cf_status cf_kernel_widen_add(float *dst, const void *src, cf_dtype dt, size_t n, cudaStream_t stream) {
    if (n == 0) return CF_OK;
    CF_KERNEL_DTYPE(dt, "widen_add",
                    (widen_add_kernel<T><<<cf_kernel_blocks(n), CF_KERNEL_THREADS, 0, stream>>>(dst, (const T *)src,
                                                                                              n)));
    return CF_KERNEL_LAUNCHED("widen_add");
}

template <typename T> static __global__ void rows_fill_kernel(T *y, const T *b, size_t rows, size_t cols) {
    CF_KERNEL_FOR(i, rows * cols) y[i] = b[i % cols];
}

extern "C" cf_status cf_kernel_rows_fill(void *y, const void *b, cf_dtype dt, size_t rows, size_t cols,
                                         cudaStream_t stream) {
    if (rows == 0 || cols == 0) return CF_OK;
    CF_KERNEL_DTYPE(dt, "rows_fill",
                    (rows_fill_kernel<T><<<cf_kernel_blocks(rows * cols), CF_KERNEL_THREADS, 0, stream>>>(
                        (T *)y, (const T *)b, rows, cols)));
    return CF_KERNEL_LAUNCHED("rows_fill");
}

/* One thread per column: the rows in order, in double, as the reference's bias gradient. */
template <typename T> static __global__ void cols_add_kernel(T *db, const T *dy, size_t rows, size_t cols) {
    CF_KERNEL_FOR(c, cols) {
        double sum = 0.0;
        for (size_t r = 0; r < rows; r++) sum += (double)cf_ld(dy[r * cols + c]);
        db[c] = cf_st<T>(__fadd_rn(cf_ld(db[c]), (float)sum));
    }
}

extern "C" cf_status cf_kernel_cols_add(void *db, const void *dy, cf_dtype dt, size_t rows, size_t cols,
                                        cudaStream_t stream) {
    if (rows == 0 || cols == 0) return CF_OK;
    CF_KERNEL_DTYPE(dt, "cols_add",
                    (cols_add_kernel<T><<<cf_kernel_blocks(cols), CF_KERNEL_THREADS, 0, stream>>>(
                        (T *)db, (const T *)dy, rows, cols)));
    return CF_KERNEL_LAUNCHED("cols_add");
}
